package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// MailFlags configure sending. Without an SMTP URL, messages wait in the
// outbox (and the API still queues them).
type MailFlags struct {
	SMTPURL           string `name:"smtp-url" env:"NURTURE_SMTP_URL" help:"SMTP relay: smtp://user:pass@host:port?tls=none|starttls (default starttls, port 587) or smtps://… (port 465); optional per_second, per_hour, connections."`
	PublicURL         string `name:"public-url" env:"NURTURE_PUBLIC_URL" help:"Where recipients reach this server (https://nurture.example.com): tracked links, unsubscribe and preference pages. Default: http://<addr>."`
	From              string `name:"mail-from" env:"NURTURE_MAIL_FROM" help:"From of marketing email: 'Acme <news@acme.com>'."`
	FromTransactional string `name:"mail-from-transactional" env:"NURTURE_MAIL_FROM_TRANSACTIONAL" help:"From of transactional email (default: --mail-from)."`
	ReturnPath        string `name:"return-path" env:"NURTURE_RETURN_PATH" help:"Envelope sender, where bounces go (default: the From address)."`
	UnsubscribeMailto string `name:"unsubscribe-mailto" env:"NURTURE_UNSUBSCRIBE_MAILTO" help:"Address for the mailto: of List-Unsubscribe (optional; the https one is always there)."`
	DKIMSelector      string `name:"dkim-selector" env:"NURTURE_DKIM_SELECTOR" help:"DKIM selector of the From domain (with --dkim-key)."`
	DKIMKey           string `name:"dkim-key" env:"NURTURE_DKIM_KEY_FILE" type:"path" help:"PEM file of the DKIM private key (RSA or Ed25519) of the From domain."`
	NoTracking        bool   `name:"no-tracking" env:"NURTURE_NO_TRACKING" help:"Do not add open pixels and click redirects."`

	keys []email.DKIM // the flags' keys, kept for the routes
	tag  string       // the Message-ID tag
}

// routes keeps the dispatcher's routes for the sending domains and relays
// saved through the API, reloading them when they change (checked every
// few seconds, so a change on another node arrives too).
func (f *MailFlags) routes(ctx context.Context, st *store.Store, d *dispatch.Dispatcher, log *slog.Logger) {
	var last int64 = -1
	pools := map[string]*email.Pool{}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for {
		v, err := st.MailConfigVersion(ctx)
		if err == nil && v != last {
			var next map[string]*email.Pool
			next, err = f.loadRoutes(ctx, st, d)
			if err == nil {
				for name, p := range pools {
					if next[name] != p {
						p.Close()
					}
				}
				pools, last = next, v
				log.Info("sending domains and relays loaded", "relays", len(pools))
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Error("load sending domains and relays", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// loadRoutes builds the routes from the store: a pool per relay, the
// sending domains' keys beside the flags'.
func (f *MailFlags) loadRoutes(ctx context.Context, st *store.Store, d *dispatch.Dispatcher) (map[string]*email.Pool, error) {
	relays, err := st.Relays(ctx)
	if err != nil {
		return nil, err
	}
	domains, err := st.SendingDomains(ctx)
	if err != nil {
		return nil, err
	}
	pools := map[string]*email.Pool{}
	for _, r := range relays {
		rel, err := email.ParseRelayURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("relay %s: %w", r.Name, err)
		}
		rel.Name = r.Name
		if pools[r.Name], err = email.NewPool(rel, nil); err != nil {
			return nil, fmt.Errorf("relay %s: %w", r.Name, err)
		}
	}
	keys := append([]email.DKIM(nil), f.keys...)
	byDomain := map[string]dispatch.Relay{}
	for _, dom := range domains {
		k, err := email.ParseKey([]byte(dom.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("sending domain %s: %w", dom.Domain, err)
		}
		keys = append(keys, email.DKIM{Domain: dom.Domain, Selector: dom.Selector, Key: k})
		if p := pools[dom.Relay]; p != nil {
			byDomain[dom.Domain] = p
		}
	}
	b, err := email.NewBuilder(f.tag, keys...)
	if err != nil {
		return nil, err
	}
	d.SetRoutes(&dispatch.Routes{Builder: b, ByDomain: byDomain})
	return pools, nil
}

// publicURL is --public-url checked, or http://addr.
func (f *MailFlags) publicURL(addr string) (string, error) {
	public := f.PublicURL
	if public == "" {
		public = "http://" + addr
	}
	if u, err := url.Parse(public); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("--public-url %q is not an http(s) URL", public)
	}
	return strings.TrimSuffix(public, "/"), nil
}

// mailer builds the email channel from the flags; nil when no relay is set.
func (f *MailFlags) mailer(st *store.Store, public string) (*dispatch.Email, *email.Pool, *track.Signer, error) {
	signer, err := track.NewSigner(st.Key("tracking"))
	if err != nil {
		return nil, nil, nil, err
	}
	if f.SMTPURL == "" {
		return nil, nil, signer, nil
	}
	relay, err := email.ParseRelayURL(f.SMTPURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--smtp-url: %w", err)
	}
	if f.From == "" {
		return nil, nil, nil, errors.New("--mail-from (NURTURE_MAIL_FROM) is needed to send email")
	}
	from, err := email.ParseAddress(f.From)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--mail-from: %w", err)
	}
	trans := from
	if f.FromTransactional != "" {
		if trans, err = email.ParseAddress(f.FromTransactional); err != nil {
			return nil, nil, nil, fmt.Errorf("--mail-from-transactional: %w", err)
		}
	}
	var keys []email.DKIM
	if f.DKIMKey != "" || f.DKIMSelector != "" {
		if f.DKIMKey == "" || f.DKIMSelector == "" {
			return nil, nil, nil, errors.New("DKIM needs both --dkim-selector and --dkim-key")
		}
		pem, err := os.ReadFile(f.DKIMKey)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--dkim-key: %w", err)
		}
		var key crypto.Signer
		if key, err = gomail.PrivKeyFromPEM(pem); err != nil {
			return nil, nil, nil, fmt.Errorf("--dkim-key: %w", err)
		}
		keys = append(keys, email.DKIM{Domain: from.Domain(), Selector: f.DKIMSelector, Key: key})
		if trans.Domain() != from.Domain() {
			keys = append(keys, email.DKIM{Domain: trans.Domain(), Selector: f.DKIMSelector, Key: key})
		}
	}
	f.keys, f.tag = keys, hex.EncodeToString(st.Key("message-id")[:6])
	b, err := email.NewBuilder(f.tag, keys...)
	if err != nil {
		return nil, nil, nil, err
	}
	pool, err := email.NewPool(relay, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return &dispatch.Email{
		Relay: pool, Builder: b, Marketing: from, Transactional: trans, ReturnPath: f.ReturnPath,
		PublicURL: strings.TrimSuffix(public, "/"), Signer: signer, UnsubscribeMailto: f.UnsubscribeMailto,
		Tracking: !f.NoTracking,
	}, pool, signer, nil
}

// SMSFlags configure texts through a Twilio-compatible API.
type SMSFlags struct {
	TwilioSID    string `name:"twilio-account-sid" env:"NURTURE_TWILIO_ACCOUNT_SID" help:"Twilio account SID; with the auth token, turns SMS and WhatsApp on."`
	TwilioToken  string `name:"twilio-auth-token" env:"NURTURE_TWILIO_AUTH_TOKEN" help:"Twilio auth token (also checks the signatures of Twilio's callbacks)."`
	TwilioURL    string `name:"twilio-url" env:"NURTURE_TWILIO_URL" help:"Base URL of the Twilio-compatible API (default https://api.twilio.com)."`
	SMSFrom      string `name:"sms-from" env:"NURTURE_SMS_FROM" help:"Sender of SMS: an E.164 number, a short code or a sender id."`
	WhatsAppFrom string `name:"whatsapp-from" env:"NURTURE_WHATSAPP_FROM" help:"WhatsApp sender number (E.164)."`
	SMSHelp      string `name:"sms-help" env:"NURTURE_SMS_HELP" default:"Reply STOP to unsubscribe." help:"Answer to a HELP text."`
}

// texter builds the SMS channel; nil when Twilio is not configured.
func (f *SMSFlags) texter(public string) (*dispatch.SMS, error) {
	if f.TwilioSID == "" && f.TwilioToken == "" {
		return nil, nil
	}
	if f.TwilioSID == "" || f.TwilioToken == "" {
		return nil, errors.New("SMS needs both --twilio-account-sid and --twilio-auth-token")
	}
	if f.SMSFrom == "" && f.WhatsAppFrom == "" {
		return nil, errors.New("SMS needs --sms-from or --whatsapp-from")
	}
	return &dispatch.SMS{
		Sender: &sms.Twilio{BaseURL: f.TwilioURL, AccountSID: f.TwilioSID, AuthToken: f.TwilioToken},
		From:   f.SMSFrom, WhatsAppFrom: f.WhatsAppFrom,
		StatusURL: strings.TrimSuffix(public, "/") + "/hooks/twilio/status",
	}, nil
}

// HooksSecretCmd prints the inbound hooks' signing secret.
type HooksSecretCmd struct{}

// Run prints the secret, hex-encoded, alone on a line.
func (HooksSecretCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		fmt.Fprintln(g.stdout, hex.EncodeToString(st.Key("hooks")))
		return nil
	})
}
