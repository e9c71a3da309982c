package store

import (
	"context"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
)

// RecordConsents appends consent statements to a live contact's ledger.
func (s *Store) RecordConsents(ctx context.Context, contactID int64, in []contact.ConsentInput, source string) ([]contact.Consent, error) {
	var out []contact.Consent
	err := s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		if _, err := t.lockContact(contactID); err != nil {
			return err
		}
		now := t.s.now()
		if err := t.recordConsents(contactID, in, source, now); err != nil {
			return err
		}
		var err error
		out, err = t.consentLedger(contactID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return contact.CurrentConsents(out), nil
}

// recordConsents appends the statements that change the current state (a
// repeated identical statement adds nothing), each with a consent_changed event.
func (t *tx) recordConsents(contactID int64, in []contact.ConsentInput, source string, now time.Time) error {
	if len(in) == 0 {
		return nil
	}
	ledger, err := t.consentLedger(contactID)
	if err != nil {
		return err
	}
	for _, c := range in {
		if c.Source == "" {
			c.Source = source
		}
		at := c.OccurredAt
		if at.IsZero() {
			at = now
		}
		current := contact.CurrentConsents(ledger)
		same := false
		for _, cur := range current {
			if cur.Channel == c.Channel && cur.Purpose == c.Purpose && cur.Status == c.Status && cur.WordingVersion == c.WordingVersion {
				same = true
			}
		}
		if same {
			continue
		}
		var id int64
		err := t.queryRow(`INSERT INTO consents (contact_id, channel, purpose, status, source, wording_version, ip, occurred_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			contactID, c.Channel, c.Purpose, c.Status, c.Source, null(c.WordingVersion), null(c.IP), ms(at)).Scan(&id)
		if err != nil {
			return err
		}
		ledger = append(ledger, contact.Consent{ID: id, Channel: c.Channel, Purpose: c.Purpose, Status: c.Status,
			Source: c.Source, WordingVersion: c.WordingVersion, IP: c.IP, OccurredAt: fromMS(ms(at))})
		props := map[string]string{"channel": c.Channel, "purpose": c.Purpose, "status": c.Status}
		if err := t.appendSystemEvent(contactID, event.ConsentChanged, source, now, props); err != nil {
			return err
		}
		if c.Channel == ChannelEmail && c.Purpose == KindMarketing && c.Status == contact.ConsentPending {
			if err := t.queueConfirmation(contactID, id, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tx) consentLedger(contactID int64) ([]contact.Consent, error) {
	rows, err := t.query(consentQuery, contactID)
	if err != nil {
		return nil, err
	}
	return scanConsents(rows)
}

const consentQuery = `SELECT id, channel, purpose, status, source, wording_version, ip, occurred_at
	FROM consents WHERE contact_id = ? ORDER BY id`

type rowsScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

func scanConsents(rows rowsScanner) ([]contact.Consent, error) {
	defer rows.Close()
	var out []contact.Consent
	for rows.Next() {
		var c contact.Consent
		var wording, ip nullString
		var at int64
		if err := rows.Scan(&c.ID, &c.Channel, &c.Purpose, &c.Status, &c.Source, &wording, &ip, &at); err != nil {
			return nil, err
		}
		c.WordingVersion, c.IP, c.OccurredAt = string(wording), string(ip), fromMS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Consents returns a live contact's consent ledger (oldest first) and the
// current state derived from it.
func (s *Store) Consents(ctx context.Context, contactID int64) (current, ledger []contact.Consent, err error) {
	if _, err := s.GetContact(ctx, contactID); err != nil {
		return nil, nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(consentQuery), contactID)
	if err != nil {
		return nil, nil, s.dbErr("read consents", err)
	}
	ledger, err = scanConsents(rows)
	if err != nil {
		return nil, nil, s.dbErr("read consents", err)
	}
	if ledger == nil {
		ledger = []contact.Consent{}
	}
	return contact.CurrentConsents(ledger), ledger, nil
}

// nullString scans a nullable text column as "" when NULL.
type nullString string

func (n *nullString) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*n = ""
	case string:
		*n = nullString(v)
	case []byte:
		*n = nullString(v)
	}
	return nil
}
