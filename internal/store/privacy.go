package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/pipeline"
)

// identityHash is the keyed hash of an erased email or phone: enough to
// recognise the address again (to suppress it), useless to recover it.
func (s *Store) identityHash(v string) any {
	if v == "" {
		return nil
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// EraseContact carries out a GDPR erasure: the contact's personal data is
// removed (what remains is non-personal: source, offer, stage, values, for
// reports), event properties and idempotency keys are cleared, consent IPs
// dropped, and a keyed hash of the email and phone kept as a tombstone.
func (s *Store) EraseContact(ctx context.Context, id int64, source string) error {
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		c, err := t.lockContactWith(id, t.s.d.forErase)
		if err != nil {
			return err
		}
		now := t.s.now()
		if _, err := t.exec("INSERT INTO erasures (contact_id, email_hash, phone_hash, erased_at) VALUES (?, ?, ?, ?)",
			id, s.identityHash(c.Email), s.identityHash(c.Phone), ms(now)); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE contacts SET email = NULL, email_display = NULL, phone = NULL, first_name = NULL,
			last_name = NULL, company = NULL, role = NULL, time_zone = NULL, next_step = NULL, tags = NULL,
			custom_fields = NULL, updated_at = ?, erased_at = ? WHERE id = ?`, ms(now), ms(now), id); err != nil {
			return err
		}
		if err := t.flushScores(); err != nil {
			return err
		}
		t.forgetScores(id)
		for _, q := range []string{
			"DELETE FROM contact_tags WHERE contact_id = ?",
			"UPDATE events SET properties = NULL, idempotency_key = NULL WHERE contact_id = ?",
			"UPDATE consents SET ip = NULL WHERE contact_id = ?",
			// Scores and qualification describe the person; tasks stay for the
			// reports, without what the salesperson wrote.
			"DELETE FROM score_ledger WHERE contact_id = ?",
			"DELETE FROM score_state WHERE contact_id = ?",
			"DELETE FROM segment_state WHERE contact_id = ?",
			"DELETE FROM segment_members WHERE contact_id = ?",
			"DELETE FROM timers WHERE contact_id = ?",
			"DELETE FROM bant WHERE contact_id = ?",
			"UPDATE tasks SET outcome = NULL, title = kind WHERE contact_id = ?",
			"UPDATE outbox SET reply = NULL WHERE contact_id = ?",
			// Meetings stay for the reports, without what was written about
			// them; the invitations queued name the person.
			"UPDATE meetings SET notes = NULL, outcome_notes = NULL WHERE contact_id = ?",
			"UPDATE outbox SET calendar = NULL, data = NULL WHERE contact_id = ? AND calendar IS NOT NULL",
		} {
			if _, err := t.exec(q, id); err != nil {
				return err
			}
		}
		// The suppression list keeps the addresses, as keyed hashes only:
		// a new contact with the same address is still never written to.
		for _, a := range []struct {
			channels []string
			addr     string
		}{
			{[]string{ChannelEmail}, c.Email}, {[]string{ChannelSMS, ChannelWhatsApp}, c.Phone}} {
			if a.addr == "" {
				continue
			}
			if _, err := t.exec("DELETE FROM soft_bounces WHERE address = ?", a.addr); err != nil {
				return err
			}
			for _, ch := range a.channels {
				if _, err := t.exec("DELETE FROM suppressions WHERE channel = ? AND address = ?", ch, a.addr); err != nil {
					return err
				}
				if _, err := t.suppress(SuppressInput{Channel: ch, Address: a.addr, Reason: SuppressErased, Source: source}, now); err != nil {
					return err
				}
			}
		}
		return t.appendSystemEvent(id, event.ContactErased, source, now, nil)
	})
	if err != nil || s.d.name != "sqlite" {
		return err // PostgreSQL keeps dead row versions until VACUUM (see docs/privacy.md)
	}
	// The WAL still holds the pages as they were before the erasure: copy it
	// into the database and truncate it. Best effort: readers in the middle of
	// a long query can make it wait out the busy timeout and give up, and the
	// next automatic checkpoint does the copy anyway.
	if _, cerr := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); cerr != nil {
		s.log.Warn("checkpoint after erasure", "err", cerr)
	}
	return nil
}

// IsErased reports whether an email or phone (normalised) belonged to an erased contact.
func (s *Store) IsErased(ctx context.Context, email, phone string) (bool, error) {
	var n int
	row := s.r.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM erasures WHERE email_hash = ? OR phone_hash = ?"),
		s.identityHash(email), s.identityHash(phone))
	if err := row.Scan(&n); err != nil {
		return false, s.dbErr("check erasures", err)
	}
	return n > 0, nil
}

// Export is everything Nurture holds about one person (GDPR access and portability).
type Export struct {
	Contact    contact.Contact               `json:"contact"`
	Consents   []contact.Consent             `json:"consents"`
	Events     []event.Event                 `json:"events"`
	Score      ScoreReport                   `json:"score"`
	Tasks      []Task                        `json:"tasks"`
	BANT       map[string]pipeline.Criterion `json:"bant"`
	ExportedAt time.Time                     `json:"exported_at"`
}

// ExportContact gathers a live contact's data: fields, consent ledger and every event.
func (s *Store) ExportContact(ctx context.Context, id int64) (Export, error) {
	c, err := s.GetContact(ctx, id)
	if err != nil {
		return Export{}, err
	}
	_, ledger, err := s.Consents(ctx, id)
	if err != nil {
		return Export{}, err
	}
	evs, err := s.queryEvents(ctx, `SELECT id, contact_id, type, occurred_at, received_at, source, properties, idempotency_key
		FROM events WHERE contact_id = ? ORDER BY occurred_at, id`, id)
	if err != nil {
		return Export{}, err
	}
	sc, err := s.Score(ctx, id)
	if err != nil {
		return Export{}, err
	}
	tasks, _, err := s.ListTasks(ctx, ListTasksParams{ContactID: id, Limit: 100000})
	if err != nil {
		return Export{}, err
	}
	bant, err := s.BANT(ctx, id)
	if err != nil {
		return Export{}, err
	}
	return Export{Contact: c, Consents: ledger, Events: evs, Score: sc, Tasks: tasks, BANT: bant, ExportedAt: s.now()}, nil
}

// Key derives a 32-byte key for one purpose ("tracking", "message-id"…)
// from the instance secret: every node of an installation derives the same
// keys, and no two purposes share one. It needs Migrate to have run.
func (s *Store) Key(purpose string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("nurture key: " + purpose))
	return m.Sum(nil)
}
