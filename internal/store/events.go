package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/score"
)

// EventInput is one validated event to append. Exactly one of ContactID and
// Email (normalised) names the contact; an unknown Email creates the contact.
type EventInput struct {
	ContactID      int64
	Email          string
	Type           string
	OccurredAt     time.Time
	Source         string
	Properties     json.RawMessage // a compact JSON object, or nil
	IdempotencyKey string
}

// AppendResult is the outcome of one EventInput.
type AppendResult struct {
	EventID        int64
	ContactID      int64
	Duplicate      bool // the idempotency key was seen before; EventID is the original
	ContactCreated bool
	Err            error
}

// AppendEvents appends events, each accepted or rejected on its own. Accepted
// events are committed before it returns; concurrent callers share commits.
func (s *Store) AppendEvents(ctx context.Context, in []EventInput) []AppendResult {
	res := make([]AppendResult, len(in))
	// Scoring locks the event's contact: one request per contact lets the
	// writer take those locks in one order across the whole batch, and keeps
	// one contact's events in order (its ops run one after the other).
	byKey := map[string]int{}
	var reqs []*request
	var index [][]int // per request, the positions of its events in in
	for i := range in {
		key := "e:" + in[i].Email
		if in[i].ContactID != 0 {
			key = idKey(in[i].ContactID)
		}
		k, ok := byKey[key]
		if !ok {
			k = len(reqs)
			byKey[key] = k
			reqs = append(reqs, &request{key: key, contact: in[i].ContactID, done: make(chan struct{})})
			index = append(index, nil)
		}
		r := reqs[k]
		r.ops = append(r.ops, func(t *tx) error {
			v, err := t.appendEvent(in[i])
			res[i] = v
			return err
		})
		r.errs = append(r.errs, nil)
		index[k] = append(index[k], i)
	}
	s.writer.submitAll(reqs)
	for k, r := range reqs {
		for j, err := range r.errs {
			if err != nil {
				res[index[k][j]] = AppendResult{Err: err}
			}
		}
	}
	return res
}

// insertEventFrom appends in for the live contact the WHERE clause selects,
// in one statement; it returns 0 when no contact matched or the idempotency
// key was already used.
const insertEventFrom = `INSERT INTO events (contact_id, occurred_at, received_at, type, source, properties, idempotency_key)
	SELECT id, ?, ?, ?, ?, ?, ? FROM contacts WHERE `
const onDuplicateKey = ` ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id, contact_id`

// appendEvent is one statement in the common case (the contact exists, the
// key is new); the rarer outcomes cost a second look.
func (t *tx) appendEvent(in EventInput) (AppendResult, error) {
	now := t.s.now()
	var r AppendResult
	var props, key any
	if len(in.Properties) > 0 {
		props = string(in.Properties)
	}
	if in.IdempotencyKey != "" {
		key = in.IdempotencyKey
	}
	args := []any{ms(in.OccurredAt), ms(now), in.Type, in.Source, props, key}
	var where string
	switch {
	case in.ContactID != 0:
		where = "id = ? AND erased_at IS NULL"
		args = append(args, in.ContactID)
	case in.Email != "":
		where = "email = ?" // erased contacts have no email
		args = append(args, in.Email)
	default:
		return r, &event.ValidationError{Field: "contact_id", Reason: "an event needs contact_id or email"}
	}
	// FOR KEY SHARE (PostgreSQL): an erasure in flight holds FOR UPDATE, so the
	// insert waits, then sees erased_at set and matches nothing.
	err := t.queryRow(insertEventFrom+where+t.s.d.forKeyShare+onDuplicateKey, args...).Scan(&r.EventID, &r.ContactID)
	if err == nil {
		if err := t.fanOut(r.ContactID, r.EventID, in.Type, now); err != nil {
			return r, err
		}
		return r, t.scoreEvent(r.ContactID, scoreEvent(r.EventID, in), nil)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return r, err
	}
	if in.IdempotencyKey != "" {
		err := t.queryRow("SELECT id, contact_id FROM events WHERE source = ? AND idempotency_key = ?",
			in.Source, in.IdempotencyKey).Scan(&r.EventID, &r.ContactID)
		if err == nil {
			r.Duplicate = true
			return r, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return r, err
		}
	}
	if in.ContactID != 0 {
		return r, contact.ErrNotFound
	}
	c := contact.New(contact.Input{Email: in.Email}, now)
	c.EmailDisplay = in.Email // the typed form is not known here; the identity stands in
	c, err = t.insertContact(c, in.Source, now)
	if err != nil {
		return r, err
	}
	r.ContactCreated = true
	err = t.queryRow(insertEventFrom+"id = ?"+onDuplicateKey, append(args[:6], c.ID)...).Scan(&r.EventID, &r.ContactID)
	if err != nil {
		return r, err
	}
	if err := t.fanOut(r.ContactID, r.EventID, in.Type, now); err != nil {
		return r, err
	}
	return r, t.scoreEvent(r.ContactID, scoreEvent(r.EventID, in), &c)
}

func scoreEvent(id int64, in EventInput) score.Event {
	return score.Event{ID: id, Type: in.Type, Source: in.Source, At: in.OccurredAt, Properties: in.Properties}
}

// appendSystemEvent writes an event Nurture itself caused, at now.
// Rules may score what Nurture writes (a stage change, a logged call).
func (t *tx) appendSystemEvent(contactID int64, typ, source string, now time.Time, props any) error {
	id, raw, err := t.systemEvent(contactID, typ, source, now, props)
	if err != nil {
		return err
	}
	return t.scoreEvent(contactID, score.Event{ID: id, Type: typ, Source: source, At: now, Properties: raw}, nil)
}

// systemEvent is appendSystemEvent returning the event's id and properties.
func (t *tx) systemEvent(contactID int64, typ, source string, now time.Time, props any) (int64, json.RawMessage, error) {
	var p any
	var raw json.RawMessage
	if props != nil {
		b, err := json.Marshal(props)
		if err != nil {
			return 0, nil, fmt.Errorf("encode %s properties: %w", typ, err)
		}
		if string(b) != "{}" && string(b) != "null" {
			p, raw = string(b), b
		}
	}
	if t.inEngine {
		// Scoring's own events are not scored: nobody needs their id, and
		// they are written in bulk at the end of the op (see scorebuf.go).
		b := t.buf()
		b.events = append(b.events, []any{contactID, typ, ms(now), ms(now), source, p})
		return 0, raw, nil
	}
	var id int64
	err := t.queryRow(`INSERT INTO events (contact_id, type, occurred_at, received_at, source, properties)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, contactID, typ, ms(now), ms(now), source, p).Scan(&id)
	if err != nil {
		return 0, nil, err
	}
	return id, raw, t.fanOut(contactID, id, typ, now)
}

// TimelineCursor marks a place in a contact's timeline (newest first).
type TimelineCursor struct {
	OccurredAt time.Time
	ID         int64
}

// Timeline returns a live contact's events, newest first, after the cursor
// (zero: from the newest), and the cursor of the next page (nil at the end).
func (s *Store) Timeline(ctx context.Context, contactID int64, after *TimelineCursor, limit int) ([]event.Event, *TimelineCursor, error) {
	if _, err := s.GetContact(ctx, contactID); err != nil {
		return nil, nil, err
	}
	q := "SELECT id, contact_id, type, occurred_at, received_at, source, properties, idempotency_key FROM events WHERE contact_id = ?"
	args := []any{contactID}
	if after != nil {
		q += " AND (occurred_at < ? OR (occurred_at = ? AND id < ?))"
		args = append(args, ms(after.OccurredAt), ms(after.OccurredAt), after.ID)
	}
	q += " ORDER BY occurred_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	evs, err := s.queryEvents(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	var next *TimelineCursor
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[len(evs)-1]
		next = &TimelineCursor{OccurredAt: last.OccurredAt, ID: last.ID}
	}
	return evs, next, nil
}

func (s *Store) queryEvents(ctx context.Context, q string, args ...any) ([]event.Event, error) {
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, s.dbErr("read events", err)
	}
	defer rows.Close()
	out := []event.Event{}
	for rows.Next() {
		var e event.Event
		var occurred, received int64
		var props, key sql.NullString
		if err := rows.Scan(&e.ID, &e.ContactID, &e.Type, &occurred, &received, &e.Source, &props, &key); err != nil {
			return nil, s.dbErr("read events", err)
		}
		e.OccurredAt, e.ReceivedAt = fromMS(occurred), fromMS(received)
		if props.Valid {
			e.Properties = json.RawMessage(props.String)
		}
		e.IdempotencyKey = key.String
		out = append(out, e)
	}
	return out, s.dbErr("read events", rows.Err())
}
