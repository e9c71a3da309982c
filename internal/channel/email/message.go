package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Address is a mailbox with an optional display name.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"address"`
}

// ParseAddress reads "Name <addr@example.com>" or a bare address.
func ParseAddress(s string) (Address, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return Address{}, fmt.Errorf("%q is not an email address", s)
	}
	if _, domain, ok := strings.Cut(a.Address, "@"); !ok || domain == "" {
		return Address{}, fmt.Errorf("%q has no domain", s)
	}
	return Address{Name: a.Name, Addr: a.Address}, nil
}

// Domain is the part of the address after the @.
func (a Address) Domain() string {
	_, d, _ := strings.Cut(a.Addr, "@")
	return strings.ToLower(d)
}

func (a Address) String() string { return (&mail.Address{Name: a.Name, Address: a.Addr}).String() }

// Message is one email to one recipient, rendered.
type Message struct {
	// ID is Nurture's id for the message ("m-42"): the X-Nurture-Message
	// header and the start of the Message-ID, so bounces and replies find it.
	ID      string
	From    Address
	ReplyTo string
	To      Address
	Subject string
	HTML    string
	Text    string
	Date    time.Time
	// ListID is the List-Id header value ("Warm leads <warm-leads.example.com>"), if any.
	ListID string
	// UnsubscribeURL and UnsubscribeMailto make List-Unsubscribe (https
	// first) and, with the URL, List-Unsubscribe-Post for one-click (RFC 8058).
	UnsubscribeURL    string
	UnsubscribeMailto string
	// Calendar, when set, is an iCalendar object (text/calendar, RFC 5545)
	// sent with the message (RFC 6047): as a part of the
	// multipart/alternative with its method (Content-Type: text/calendar;
	// charset=UTF-8; method=REQUEST), which mail clients show as an
	// invitation, and again as an attachment invite.ics (application/ics)
	// for those that do not.
	Calendar []byte
	// CalendarMethod is REQUEST or CANCEL, the same as the calendar's
	// METHOD; required with Calendar.
	CalendarMethod string
}

// HeaderMessage carries Message.ID.
const HeaderMessage = "X-Nurture-Message"

// DKIM signs messages for a sending domain.
type DKIM struct {
	Domain   string
	Selector string
	Key      crypto.Signer
}

// signedHeaders are what the signature covers. Headers a message lacks are
// signed as absent, so nobody can add them on the way (RFC 6376 §5.4).
var signedHeaders = []string{
	"From", "Reply-To", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", HeaderMessage,
}

// Builder turns Messages into MIME, signed when the From domain has a key.
// MIME comes from go-mail; signatures from signer (dkim.go), verified in
// the tests by go-msgauth.
type Builder struct {
	keys map[string]*signer
	tag  string
}

// NewBuilder checks the DKIM keys and returns a Builder. tag is unique to
// the installation: Message-IDs are <ID.tag@from-domain>, the same on every
// attempt of one message, so a receiver can tell a retry from a new message.
func NewBuilder(tag string, keys ...DKIM) (*Builder, error) {
	if tag == "" || strings.ContainsAny(tag, "<>@ \r\n\"") {
		return nil, errors.New("message id tag is missing or malformed")
	}
	b := &Builder{keys: map[string]*signer{}, tag: tag}
	for _, k := range keys {
		s, err := newSigner(k)
		if err != nil {
			return nil, fmt.Errorf("DKIM for %q: %w", k.Domain, err)
		}
		b.keys[s.domain] = s
	}
	return b, nil
}

// Build makes the message as it goes on the wire: multipart/alternative
// with the text part first and the HTML part last (the one clients prefer),
// DKIM-signed when the From domain has a key. With a Calendar it is
// multipart/mixed: that alternative with the calendar as its last part,
// then the calendar again as the attachment invite.ics.
func (b *Builder) Build(m *Message) ([]byte, error) {
	var body bytes.Buffer
	sig, err := b.BuildInto(&body, m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sig)+body.Len())
	return append(append(out, sig...), body.Bytes()...), nil
}

// BuildInto is Build writing into body (reset first), and returning the
// DKIM-Signature header field apart ("" when unsigned): the message is
// the signature then body. A sender that reuses its buffers allocates
// little per message.
func (b *Builder) BuildInto(body *bytes.Buffer, m *Message) (sig string, err error) {
	body.Reset()
	if m.ID == "" || strings.ContainsAny(m.ID, "<>@ \r\n") {
		return "", errors.New("message id is missing or malformed")
	}
	if m.HTML == "" && m.Text == "" {
		return "", errors.New("message has no body")
	}
	for _, a := range []Address{m.From, m.To} {
		if _, err := mail.ParseAddress(a.Addr); err != nil || strings.ContainsAny(a.Addr, "<>") {
			return "", fmt.Errorf("%q is not an email address", a.Addr)
		}
	}
	if m.ReplyTo != "" {
		if _, err := mail.ParseAddress(m.ReplyTo); err != nil {
			return "", fmt.Errorf("reply-to %q is not an email address", m.ReplyTo)
		}
	}
	if err := checkCalendar(m.Calendar, m.CalendarMethod); err != nil {
		return "", err
	}
	// Quoted-printable grows HTML by about a tenth; headers take a few KB;
	// a calendar goes twice in base64, a third larger each time.
	body.Grow(len(m.HTML) + len(m.Text) + (len(m.HTML)+len(m.Text))/4 + 4096 + len(m.Calendar)*8/3)
	writeMIME(body, m, m.ID+"."+b.tag+"@"+m.From.Domain())
	k := b.keys[m.From.Domain()]
	if k == nil {
		return "", nil
	}
	at := m.Date
	if at.IsZero() {
		at = time.Now()
	}
	sig, err = k.sign(body.Bytes(), signedHeaders, at)
	if err != nil {
		return "", fmt.Errorf("DKIM: %w", err)
	}
	return sig, nil
}

// Write builds m and writes it (for previews and golden tests).
func (b *Builder) Write(w io.Writer, m *Message) error {
	data, err := b.Build(m)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// ParseKey reads a DKIM private key: PEM, PKCS#1 or PKCS#8, RSA (at least
// 1024 bits, RFC 8301) or Ed25519.
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	k, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("not a PEM RSA or Ed25519 private key: %w", err)
	}
	if r, ok := k.(*rsa.PrivateKey); ok && r.N.BitLen() < 1024 {
		return nil, fmt.Errorf("an RSA key of %d bits is too short: DKIM needs at least 1024 (2048 recommended)", r.N.BitLen())
	}
	return k, nil
}

// TXTRecord is the DNS record that publishes key's public half for a
// selector: name and value.
func TXTRecord(domain, selector string, key crypto.Signer) (name, value string, err error) {
	name = selector + "._domainkey." + domain
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", "", err
		}
		return name, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return name, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", "", errors.New("unsupported key type")
}
