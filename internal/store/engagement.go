package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// HitInput is an open or a click on a sent message.
type HitInput struct {
	Message int64
	Click   bool   // false: an open
	URL     string // clicks: where the link goes
	// Classify says whether a machine made the hit, given what is known of
	// the message: when it was sent, how many hits it had before and when
	// the first was. It runs inside the write, so hits arriving together
	// see each other.
	Classify func(sentAt time.Time, prior int, first time.Time) (machine bool, reason string)
}

// Event types of opens and clicks. Machine hits (privacy proxies, link
// scanners) have their own types, so no scoring rule, segment or journey
// branch written for email_opened or email_clicked ever counts them.
const (
	EventEmailOpened         = "email_opened"
	EventEmailClicked        = "email_clicked"
	EventEmailMachineOpened  = "email_machine_opened"
	EventEmailMachineClicked = "email_machine_clicked"
)

// RecordHit records an open or a click as an event of the message's
// contact. An unknown message, or one never sent, records nothing and is
// not an error: the caller answers the same either way.
func (s *Store) RecordHit(ctx context.Context, in HitInput) (recorded, machine bool, err error) {
	var contactID int64
	err = s.r.QueryRowContext(ctx, s.q("SELECT contact_id FROM outbox WHERE id = ? AND sent_at IS NOT NULL"), in.Message).Scan(&contactID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	} else if err != nil {
		return false, false, s.dbErr("read message", err)
	}
	err = s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		recorded, machine = false, false
		now := t.s.now()
		c, err := t.lockContactWith(contactID, "")
		if err != nil {
			return err
		}
		if slices.Contains(c.Tags, PrefNoTracking) {
			return nil // the contact asked not to be tracked: nothing is recorded
		}
		var sent int64
		var first sql.NullInt64
		var hits int
		err = t.queryRow("SELECT sent_at, first_hit_at, hits FROM outbox WHERE id = ?"+t.s.d.forUpdate, in.Message).Scan(&sent, &first, &hits)
		if err != nil {
			return err
		}
		var firstAt time.Time
		if first.Valid {
			firstAt = fromMS(first.Int64)
		}
		var reason string
		if in.Classify != nil {
			machine, reason = in.Classify(fromMS(sent), hits, firstAt)
		}
		if _, err := t.exec("UPDATE outbox SET hits = hits + 1, first_hit_at = COALESCE(first_hit_at, ?) WHERE id = ?", ms(now), in.Message); err != nil {
			return err
		}
		typ := EventEmailOpened
		props := map[string]any{"message": in.Message}
		if in.Click {
			typ = EventEmailClicked
			props["url"] = in.URL
		}
		if machine {
			typ = EventEmailMachineOpened
			if in.Click {
				typ = EventEmailMachineClicked
			}
			props["reason"] = reason
			// Written, never scored: machines do not show interest.
			_, _, err := t.systemEvent(contactID, typ, "tracking", now, props)
			recorded = err == nil
			return err
		}
		recorded = true
		return t.appendSystemEvent(contactID, typ, "tracking", now, props)
	})
	if errors.Is(err, contact.ErrNotFound) {
		return false, false, nil
	}
	return recorded, machine, err
}

// Unsubscribe withdraws a contact's email marketing consent and puts the
// address on the suppression list, from a link in a message (message 0:
// from no particular message). It is idempotent, and silent about contacts
// that do not exist (any more): a public endpoint must not tell.
func (s *Store) Unsubscribe(ctx context.Context, contactID, messageID int64, ip string) error {
	err := s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		c, err := t.lockContact(contactID)
		if errors.Is(err, contact.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return t.unsubscribe(c, messageID, ip, "unsubscribe")
	})
	return s.dbErr("unsubscribe", err)
}

func (t *tx) unsubscribe(c contact.Contact, messageID int64, ip, source string) error {
	if c.Email == "" {
		return nil
	}
	now := t.s.now()
	found, err := t.s.suppressions(t.query, ChannelEmail, []string{c.Email})
	if err != nil {
		return err
	}
	before := found[c.Email]
	if err := t.recordConsents(c.ID, []contact.ConsentInput{{Channel: ChannelEmail, Purpose: KindMarketing,
		Status: contact.ConsentWithdrawn, Source: source, IP: ip}}, source, now); err != nil {
		return err
	}
	if before != nil && before.Scope == ScopeAll || before != nil && before.Reason == SuppressUnsubscribed {
		return nil // already unsubscribed (or blocked altogether): nothing new to say
	}
	if _, err := t.suppress(SuppressInput{Channel: ChannelEmail, Address: c.Email, Reason: SuppressUnsubscribed, Source: source}, now); err != nil {
		return err
	}
	props := map[string]any{"channel": ChannelEmail}
	if messageID > 0 {
		props["message"] = messageID
	}
	return t.appendSystemEvent(c.ID, "unsubscribed", source, now, props)
}
