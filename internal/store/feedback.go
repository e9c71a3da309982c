package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// Report kinds: what a provider or a mail server said about a message.
const (
	ReportBounce    = "bounce"
	ReportComplaint = "complaint"
	ReportDelivery  = "delivery"
)

// Report is one delivery report to apply.
type Report struct {
	Kind       string // bounce, complaint or delivery
	Channel    string // email (SMS statuses come through the same path)
	Address    string // the recipient as reported
	Hard       bool   // bounces: permanent
	Status     string // enhanced status code ("5.1.1"), if known
	Diagnostic string // the server's words, bounded
	Message    int64  // our outbox id, when the report names it; 0 if not
	Source     string // ses, dsn, generic, twilio…
	At         time.Time
}

// ApplyReports applies delivery reports: a hard bounce suppresses the
// address at once, soft bounces after SoftBounceLimit in a row, a complaint
// suppresses it and withdraws marketing consent; a delivery clears the soft
// bounce count. Each becomes an event of the contact, when there is one
// (email_bounced, email_complained, email_delivered). Reports for unknown
// addresses still suppress them.
func (s *Store) ApplyReports(ctx context.Context, reports []Report) error {
	reqs := make([]*request, 0, len(reports))
	for _, r := range reports {
		reqs = append(reqs, newRequest("", func(t *tx) error { return t.applyReport(r) }))
	}
	for _, err := range s.writer.submitAll(reqs) {
		if err != nil {
			return s.dbErr("apply delivery reports", err)
		}
	}
	return nil
}

func (t *tx) applyReport(r Report) error {
	now := t.s.now()
	if r.Channel == "" {
		r.Channel = ChannelEmail
	}
	addr := normalizeAddress(r.Channel, r.Address)
	contactID, err := t.reportContact(r.Channel, addr, r.Message)
	if err != nil {
		return err
	}
	if addr == "" && contactID == 0 {
		return nil
	}
	props := map[string]any{}
	if r.Message > 0 {
		props["message"] = r.Message
	}
	if r.Status != "" {
		props["status"] = bound(r.Status, 20)
	}
	if r.Diagnostic != "" {
		props["diagnostic"] = bound(r.Diagnostic, 300)
	}
	var typ string
	switch r.Kind {
	case ReportDelivery:
		typ = r.Channel + "_delivered"
		if _, err := t.exec("DELETE FROM soft_bounces WHERE address = ?", addr); err != nil {
			return err
		}
	case ReportComplaint:
		typ = r.Channel + "_complained"
		if _, err := t.suppress(SuppressInput{Channel: r.Channel, Address: addr, Reason: SuppressComplaint,
			Detail: r.Diagnostic, Source: r.Source}, now); err != nil {
			return err
		}
		if contactID != 0 {
			if err := t.recordConsents(contactID, []contact.ConsentInput{{Channel: r.Channel, Purpose: KindMarketing,
				Status: contact.ConsentWithdrawn, Source: "complaint"}}, r.Source, now); err != nil {
				return err
			}
		}
	case ReportBounce:
		typ = r.Channel + "_bounced"
		props["hard"] = r.Hard
		reason := ""
		if r.Hard {
			reason = SuppressHardBounce
		} else {
			var n int
			err := t.queryRow(`INSERT INTO soft_bounces (address, bounces, updated_at) VALUES (?, 1, ?)
				ON CONFLICT (address) DO UPDATE SET bounces = soft_bounces.bounces + 1, updated_at = excluded.updated_at
				RETURNING bounces`, addr, ms(now)).Scan(&n)
			if err != nil {
				return err
			}
			props["soft_bounces"] = n
			if n >= SoftBounceLimit {
				reason = SuppressSoftBounce
			}
		}
		if reason != "" {
			if _, err := t.suppress(SuppressInput{Channel: r.Channel, Address: addr, Reason: reason,
				Detail: r.Diagnostic, Source: r.Source}, now); err != nil {
				return err
			}
			if _, err := t.exec("DELETE FROM soft_bounces WHERE address = ?", addr); err != nil {
				return err
			}
			props["suppressed"] = true
		}
	default:
		return nil
	}
	if contactID == 0 {
		return nil
	}
	return t.appendSystemEvent(contactID, typ, r.Source, now, props)
}

// reportContact finds whom a report is about: the message's contact when
// the report names one of ours for that address, else the contact with
// the address.
func (t *tx) reportContact(channel, addr string, message int64) (int64, error) {
	if message > 0 {
		var id int64
		var email, phone sql.NullString
		err := t.queryRow(`SELECT c.id, c.email, c.phone FROM outbox o JOIN contacts c ON c.id = o.contact_id
			WHERE o.id = ? AND c.erased_at IS NULL`, message).Scan(&id, &email, &phone)
		if err == nil && (addr == "" || addr == email.String || addr == phone.String) {
			return id, nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	if addr == "" {
		return 0, nil
	}
	return t.contactByAddress(channel, addr)
}

// Reply is an answer from a contact to one of our messages.
type Reply struct {
	Channel string // email, sms, whatsapp
	From    string // the address it came from
	Message int64  // our outbox id it answers, when known
	Subject string
	Source  string
}

// ApplyReply records a reply as <channel>_replied, which scores and counts
// as an answer from the lead. It returns the contact, 0 when the sender is
// not a contact (the reply is then dropped).
func (s *Store) ApplyReply(ctx context.Context, r Reply) (int64, error) {
	var id int64
	err := s.writer.do1(func(t *tx) error {
		var err error
		addr := normalizeAddress(r.Channel, r.From)
		id, err = t.reportContact(r.Channel, addr, r.Message)
		if err != nil || id == 0 {
			return err
		}
		props := map[string]any{}
		if r.Message > 0 {
			props["message"] = r.Message
		}
		if r.Subject != "" {
			props["subject"] = bound(r.Subject, 200)
		}
		return t.appendSystemEvent(id, r.Channel+"_replied", r.Source, t.s.now(), props)
	})
	return id, s.dbErr("apply reply", err)
}

// Text keywords (see sms.Keyword).
const (
	KeywordStop  = "stop"
	KeywordStart = "start"
	KeywordHelp  = "help"
)

// InboundText is a text (SMS or WhatsApp) a contact sent.
type InboundText struct {
	Channel string // sms or whatsapp
	From    string // E.164
	Keyword string // stop, start, help, or "" for a plain message
	Source  string
}

// ApplyInboundText applies what a contact texted: STOP withdraws consent
// for that channel only (every purpose) and suppresses the number for it;
// START grants marketing consent again and lifts that suppression; HELP is
// only recorded (the caller answers); anything else is a reply
// (<channel>_replied). It returns the contact, 0 for an unknown number.
func (s *Store) ApplyInboundText(ctx context.Context, in InboundText) (int64, error) {
	var id int64
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		var err error
		id, err = t.contactByAddress(in.Channel, in.From)
		if err != nil {
			return err
		}
		switch in.Keyword {
		case KeywordStop:
			if _, err := t.suppress(SuppressInput{Channel: in.Channel, Address: in.From, Reason: SuppressUnsubscribed,
				Detail: "STOP", Source: in.Source}, now); err != nil {
				return err
			}
			if id == 0 {
				return nil
			}
			var cs []contact.ConsentInput
			for _, p := range contact.ConsentPurposes {
				cs = append(cs, contact.ConsentInput{Channel: in.Channel, Purpose: p, Status: contact.ConsentWithdrawn, Source: in.Source})
			}
			if err := t.recordConsents(id, cs, in.Source, now); err != nil {
				return err
			}
			return t.appendSystemEvent(id, "unsubscribed", in.Source, now, map[string]any{"channel": in.Channel})
		case KeywordStart:
			if _, err := t.exec("DELETE FROM suppressions WHERE channel = ? AND address = ? AND reason = ?",
				in.Channel, in.From, SuppressUnsubscribed); err != nil {
				return err
			}
			if id == 0 {
				return nil
			}
			return t.recordConsents(id, []contact.ConsentInput{{Channel: in.Channel, Purpose: KindMarketing,
				Status: contact.ConsentGranted, Source: in.Source}}, in.Source, now)
		case KeywordHelp:
			if id == 0 {
				return nil
			}
			return t.appendSystemEvent(id, in.Channel+"_help", in.Source, now, nil)
		}
		if id == 0 {
			return nil
		}
		return t.appendSystemEvent(id, in.Channel+"_replied", in.Source, now, nil)
	})
	return id, s.dbErr("apply inbound text", err)
}
