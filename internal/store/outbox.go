package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
)

// Message kinds. Transactional messages (a receipt, a booking confirmation,
// a double opt-in link) go to unsubscribed contacts; marketing ones do not.
const (
	KindMarketing     = "marketing"
	KindTransactional = "transactional"
	// KindInternal is a message about a contact to someone of the team
	// (an owner's SLA reminder): it goes to its Recipient, never to the
	// contact, so the contact's consent and suppression do not apply.
	KindInternal = "internal"
)

// Message statuses.
const (
	MessageQueued     = "queued"     // waiting for its due time
	MessageSending    = "sending"    // claimed by a worker, lease running
	MessageSent       = "sent"       // the provider accepted it
	MessageFailed     = "failed"     // permanently refused, or retried too long
	MessageSuppressed = "suppressed" // consent or the suppression list stopped it
	MessageInDoubt    = "in_doubt"   // its worker died while sending: it may or may not have gone
)

// Errors of the outbox.
var (
	ErrMessageNotFound = errors.New("message not found")
	ErrChannelMismatch = errors.New("the template is not for this channel")
	ErrSenderNotEmail  = errors.New("only email messages take a sender")
)

// MessageInput is a message to queue for a contact.
type MessageInput struct {
	ContactID int64
	Template  string
	Kind      string // marketing or transactional
	Source    string // who asked: "api", "journey:warm-lead"…
	List      string // List-Id label (a journey, a newsletter), optional
	Topic     string // subscription topic, optional
	// Sender is the From ("Sam <sam@acme.com>"), when not the default of
	// the kind; its domain must be a sending domain or a default's.
	Sender string
	// IdempotencyKey makes queueing the same message twice return the first.
	IdempotencyKey string
	DueAt          time.Time // zero: now
	// Recipient is the address of an internal message (KindInternal).
	Recipient string
	// Data are variables for the template, beside the contact's fields
	// ({{ owner_name }}, {{ call_at }}).
	Data map[string]string
	// Calendar is an invitation (RFC 5545, with its METHOD) the email
	// carries as a text/calendar part and an invite.ics attachment.
	Calendar []byte
}

// Message is a row of the outbox.
type Message struct {
	ID              int64             `json:"id"`
	ContactID       int64             `json:"contact_id"`
	Channel         string            `json:"channel"`
	Kind            string            `json:"kind"`
	Template        string            `json:"template"`
	TemplateVersion int               `json:"template_version"`
	Source          string            `json:"source"`
	List            string            `json:"list,omitempty"`
	Topic           string            `json:"topic,omitempty"`
	Sender          string            `json:"sender,omitempty"`
	Status          string            `json:"status"`
	Attempts        int               `json:"attempts"`
	Reply           string            `json:"reply,omitempty"`
	Recipient       string            `json:"recipient,omitempty"`
	Data            map[string]string `json:"data,omitempty"`
	Calendar        []byte            `json:"-"`
	DueAt           time.Time         `json:"due_at"`
	CreatedAt       time.Time         `json:"created_at"`
	SentAt          *time.Time        `json:"sent_at,omitempty"`
	Opens           int               `json:"-"`
	Duplicate       bool              `json:"-"`
}

const messageColumns = `id, contact_id, channel, kind, template, template_version, source, list, topic, sender, status,
	attempts, reply, recipient, data, calendar, due_at, created_at, sent_at`

func scanMessage(row scanner) (Message, error) {
	var m Message
	var list, topic, sender, reply, recipient, data, cal sql.NullString
	var due, created int64
	var sent sql.NullInt64
	err := row.Scan(&m.ID, &m.ContactID, &m.Channel, &m.Kind, &m.Template, &m.TemplateVersion, &m.Source,
		&list, &topic, &sender, &m.Status, &m.Attempts, &reply, &recipient, &data, &cal, &due, &created, &sent)
	if err != nil {
		return m, err
	}
	m.List, m.Topic, m.Sender, m.Reply, m.Recipient = list.String, topic.String, sender.String, reply.String, recipient.String
	if data.Valid {
		_ = json.Unmarshal([]byte(data.String), &m.Data)
	}
	if cal.Valid {
		m.Calendar = []byte(cal.String)
	}
	m.DueAt, m.CreatedAt = fromMS(due), fromMS(created)
	if sent.Valid {
		t := fromMS(sent.Int64)
		m.SentAt = &t
	}
	return m, nil
}

// QueueMessage puts a message for a live contact in the outbox, with the
// template's version in force. The same IdempotencyKey returns the first
// message (Duplicate set).
func (s *Store) QueueMessage(ctx context.Context, in MessageInput) (Message, error) {
	var out Message
	err := s.writer.doKeyed(idKey(in.ContactID), func(t *tx) error {
		var err error
		out, err = t.queueMessage(in, t.s.now())
		return err
	})
	return out, err
}

// anyDue runs an existence query on a reader. A failed look says yes, so
// that the claim runs and reports the error.
func (s *Store) anyDue(ctx context.Context, query string, args ...any) bool {
	var one int
	err := s.r.QueryRowContext(ctx, s.q(query), args...).Scan(&one)
	return !errors.Is(err, sql.ErrNoRows)
}

func anys[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// Queued is signalled (without blocking, coalesced) after messages are
// queued by this process, so its dispatcher sends them at once rather than
// at its next poll.
func (s *Store) Queued() <-chan struct{} { return s.queued }

// Hooked is Queued for webhook deliveries.
func (s *Store) Hooked() <-chan struct{} { return s.hooked }

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// queueMessage is QueueMessage inside a transaction: journeys and the
// first-contact rule queue in the transaction of the change that decided.
func (t *tx) queueMessage(in MessageInput, now time.Time) (Message, error) {
	if err := t.flushSteps(); err != nil {
		return Message{}, err
	}
	if in.Kind != KindMarketing && in.Kind != KindTransactional && in.Kind != KindInternal {
		return Message{}, fmt.Errorf("message kind %q: want marketing, transactional or internal", in.Kind)
	}
	if (in.Kind == KindInternal) != (in.Recipient != "") {
		return Message{}, fmt.Errorf("an internal message, and only one, has a recipient")
	}
	var live int64
	err := t.queryRow("SELECT id FROM contacts WHERE id = ? AND erased_at IS NULL"+t.s.d.forKeyShare, in.ContactID).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, contact.ErrNotFound
	} else if err != nil {
		return Message{}, err
	}
	tp, err := t.template(in.Template)
	if err != nil {
		return Message{}, err
	}
	if in.Sender != "" && tp.Channel != ChannelEmail {
		return Message{}, ErrSenderNotEmail
	}
	if len(in.Calendar) > 0 && tp.Channel != ChannelEmail {
		return Message{}, fmt.Errorf("template %s: only emails carry an invitation", tp.Name)
	}
	row := t.queryRow(insertMessage+" RETURNING "+messageColumns, t.messageArgs(in, tp, now)...)
	m, err := scanMessage(row)
	t.queued = t.queued || err == nil
	if err == nil {
		t.noteQueued(in, tp.Channel, now)
	}
	if errors.Is(err, sql.ErrNoRows) && in.IdempotencyKey != "" {
		m, err = scanMessage(t.queryRow("SELECT "+messageColumns+" FROM outbox WHERE idempotency_key = ?", in.IdempotencyKey))
		m.Duplicate = true
	}
	return m, err
}

const insertMessage = `INSERT INTO outbox (contact_id, due_at, created_at, updated_at, template_version, channel, kind,
		status, template, source, list, topic, sender, idempotency_key, recipient, data, calendar)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`

func (t *tx) messageArgs(in MessageInput, tp Template, now time.Time) []any {
	due := in.DueAt
	if due.IsZero() {
		due = now
	}
	var key any
	if in.IdempotencyKey != "" {
		key = in.IdempotencyKey
	}
	var data any
	if len(in.Data) > 0 {
		b, _ := json.Marshal(in.Data)
		data = string(b)
	}
	return []any{in.ContactID, ms(due), ms(now), ms(now), tp.Version, tp.Channel, in.Kind, MessageQueued, tp.Name,
		in.Source, null(in.List), null(in.Topic), null(in.Sender), key, null(in.Recipient), data, null(string(in.Calendar))}
}

// queueLocked queues a message for a contact the transaction holds (so
// known to be live), without reading the message back: journeys' sends.
// It reports whether the message is new (false: its key was queued before).
func (t *tx) queueLocked(in MessageInput, now time.Time) (bool, error) {
	tp, err := t.template(in.Template)
	if err != nil {
		return false, err
	}
	args := t.messageArgs(in, tp, now)
	if t.queueLater(args) {
		// Batched: taken as new. Its key was queued before only if this
		// step ran before without its state being saved, which one
		// transaction rules out.
		t.queued = true
		t.noteQueued(in, tp.Channel, now)
		return true, nil
	}
	res, err := t.exec(insertMessage, args...)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		t.queued = true
		t.noteQueued(in, tp.Channel, now)
	}
	return n > 0, nil
}

// noteQueued keeps the frequency cap's view (tx.recent) up to date.
func (t *tx) noteQueued(in MessageInput, channel string, now time.Time) {
	if t.recent == nil || in.Kind != KindMarketing {
		return
	}
	if r, ok := t.recent[in.ContactID]; ok {
		due := in.DueAt
		if due.IsZero() {
			due = now
		}
		t.recent[in.ContactID] = append(r, journey.Sent{At: due, Channel: channel})
	}
}

// template is a template's version in force, read once per transaction
// (saving a template forgets what was read).
func (t *tx) template(name string) (Template, error) {
	if tp, ok := t.templates[name]; ok {
		return tp, nil
	}
	tp, err := getTemplate(t.queryRow, name)
	if err != nil {
		return tp, err
	}
	if t.templates == nil {
		t.templates = map[string]Template{}
	}
	t.templates[name] = tp
	return tp, nil
}

// GetMessage returns one message of the outbox.
func (s *Store) GetMessage(ctx context.Context, id int64) (Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, s.q("SELECT "+messageColumns+" FROM outbox WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrMessageNotFound
	}
	return m, s.dbErr("read message", err)
}

// MessagesParams filters ListMessages.
type MessagesParams struct {
	ContactID int64  // 0: every contact
	Status    string // "": every status
	After     int64  // id cursor: messages with a smaller id (newest first)
	Limit     int
}

// ListMessages lists messages, newest first.
func (s *Store) ListMessages(ctx context.Context, p MessagesParams) ([]Message, error) {
	q := "SELECT " + messageColumns + " FROM outbox WHERE 1 = 1"
	var args []any
	if p.ContactID != 0 {
		q += " AND contact_id = ?"
		args = append(args, p.ContactID)
	}
	if p.Status != "" {
		q += " AND status = ?"
		args = append(args, p.Status)
	}
	if p.After > 0 {
		q += " AND id < ?"
		args = append(args, p.After)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, p.Limit)
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, s.dbErr("list messages", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, s.dbErr("list messages", err)
		}
		out = append(out, m)
	}
	return out, s.dbErr("list messages", rows.Err())
}

// Outgoing is a claimed message with what a worker needs to send it: the
// contact, the template version, the consents in force and any suppression
// of the contact's address, all read after the claim.
type Outgoing struct {
	Message
	Contact    contact.Contact
	Content    TemplateVersion
	Layout     *Layout // the layout's version in force, when Content names one
	Consents   []contact.Consent
	Suppressed *Suppression // nil: the address is not suppressed
	Segments   []string     // the contact's segments, by name
}

// Layout is the version in force of a layout template.
type Layout struct {
	Name    string
	Version int
	HTML    string
}

// ClaimParams says what a worker takes.
type ClaimParams struct {
	Channels []string
	Limit    int
	// Lease is how long the worker has to report; past it the message is
	// in doubt (see RecoverLeases). Longer than a send can take.
	Lease time.Duration
}

// ClaimMessages takes due queued messages for a worker: their status becomes
// sending, their attempt count goes up by one (the attempt is the fence
// CompleteMessages checks), and their lease starts.
func (s *Store) ClaimMessages(ctx context.Context, p ClaimParams) ([]Outgoing, error) {
	if len(p.Channels) == 0 || p.Limit <= 0 {
		return nil, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(p.Channels)), ", ")
	// A look first, on a reader: most empty claims then cost no write
	// (the writer is the one resource every lead waits for).
	if !s.anyDue(ctx, "SELECT 1 FROM outbox WHERE status = 'queued' AND due_at <= ? AND channel IN ("+marks+") LIMIT 1",
		append([]any{ms(s.now())}, anys(p.Channels)...)...) {
		return nil, nil
	}
	var claimed []Message
	err := s.writer.do1(func(t *tx) error {
		claimed = claimed[:0]
		now := t.s.now()
		args := append([]any{MessageSending, ms(now.Add(p.Lease)), ms(now), ms(now)}, anys(p.Channels)...)
		args = append(args, p.Limit)
		skip := ""
		if t.s.d.name == "postgres" {
			skip = " FOR UPDATE SKIP LOCKED"
		}
		// Statuses are literals where a partial index is on them (SQLite
		// uses an index WHERE status = 'queued' only for the literal).
		rows, err := t.query(`UPDATE outbox SET status = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
			WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND due_at <= ? AND channel IN (`+marks+`)
			ORDER BY due_at, id LIMIT ?`+skip+`) RETURNING `+messageColumns, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			claimed = append(claimed, m)
		}
		return rows.Err()
	})
	if err != nil || len(claimed) == 0 {
		return nil, s.dbErr("claim messages", err)
	}
	return s.outgoing(ctx, claimed)
}

// outgoing reads what the claimed messages need, a few statements for the
// whole batch.
func (s *Store) outgoing(ctx context.Context, claimed []Message) ([]Outgoing, error) {
	out := make([]Outgoing, len(claimed))
	byContact := map[int64][]int{}
	var ids []any
	for i, m := range claimed {
		out[i].Message = m
		if _, ok := byContact[m.ContactID]; !ok {
			ids = append(ids, m.ContactID)
		}
		byContact[m.ContactID] = append(byContact[m.ContactID], i)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+contactColumns+" FROM contacts WHERE id IN ("+marks+")"), ids...)
	if err != nil {
		return nil, s.dbErr("read contacts to send to", err)
	}
	found := map[int64]bool{}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			rows.Close()
			return nil, s.dbErr("read contacts to send to", err)
		}
		found[c.ID] = true
		for _, i := range byContact[c.ID] {
			out[i].Contact = c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read contacts to send to", err)
	}
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT contact_id, id, channel, purpose, status, source, wording_version, ip, occurred_at
		FROM consents WHERE contact_id IN (`+marks+`) ORDER BY contact_id, id`), ids...)
	if err != nil {
		return nil, s.dbErr("read consents to send", err)
	}
	ledgers := map[int64][]contact.Consent{}
	for rows.Next() {
		var cid int64
		var c contact.Consent
		var wording, ip nullString
		var at int64
		if err := rows.Scan(&cid, &c.ID, &c.Channel, &c.Purpose, &c.Status, &c.Source, &wording, &ip, &at); err != nil {
			rows.Close()
			return nil, s.dbErr("read consents to send", err)
		}
		c.WordingVersion, c.IP, c.OccurredAt = string(wording), string(ip), fromMS(at)
		ledgers[cid] = append(ledgers[cid], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read consents to send", err)
	}
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT m.contact_id, s.name FROM segment_members m JOIN segments s ON s.id = m.segment_id
		WHERE m.contact_id IN (`+marks+`) ORDER BY m.contact_id, s.name`), ids...)
	if err != nil {
		return nil, s.dbErr("read segments to send", err)
	}
	segs := map[int64][]string{}
	for rows.Next() {
		var cid int64
		var name string
		if err := rows.Scan(&cid, &name); err != nil {
			rows.Close()
			return nil, s.dbErr("read segments to send", err)
		}
		segs[cid] = append(segs[cid], name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read segments to send", err)
	}
	versions := map[string]TemplateVersion{}
	layouts := map[string]*Layout{}
	for i := range out {
		m := &out[i]
		m.Consents = contact.CurrentConsents(ledgers[m.ContactID])
		m.Segments = segs[m.ContactID]
		key := fmt.Sprintf("%s\x00%d", m.Template, m.TemplateVersion)
		v, ok := versions[key]
		if !ok {
			v, err = s.templateVersion(ctx, m.Template, m.TemplateVersion)
			if err != nil {
				return nil, err
			}
			versions[key] = v
		}
		m.Content = v
		if v.Layout != "" {
			l, ok := layouts[v.Layout]
			if !ok {
				tp, err := s.GetTemplate(ctx, v.Layout)
				if err != nil && !errors.Is(err, ErrTemplateNotFound) {
					return nil, err
				}
				if err == nil {
					l = &Layout{Name: tp.Name, Version: tp.Version, HTML: tp.HTML}
				}
				layouts[v.Layout] = l
			}
			m.Layout = l
		}
		if !found[m.ContactID] {
			m.Contact.ID = m.ContactID // erased since it was queued: no address, the worker suppresses it
			continue
		}
	}
	// The suppression list, one query per channel for the whole batch.
	addrs := map[string][]string{}
	for i := range out {
		if a := out[i].Contact.Address(out[i].Channel); a != "" {
			addrs[out[i].Channel] = append(addrs[out[i].Channel], a)
		}
	}
	for ch, list := range addrs {
		found, err := s.suppressions(s.readQuery(ctx), ch, list)
		if err != nil {
			return nil, s.dbErr("read suppressions to send", err)
		}
		for i := range out {
			if out[i].Channel == ch {
				out[i].Suppressed = found[out[i].Contact.Address(ch)]
			}
		}
	}
	return out, nil
}

// templateVersion reads one version of a template. Versions never change,
// so they are cached.
func (s *Store) templateVersion(ctx context.Context, name string, version int) (TemplateVersion, error) {
	key := fmt.Sprintf("%s\x00%d", name, version)
	if v, ok := s.versions.Load(key); ok {
		return v.(TemplateVersion), nil
	}
	var v TemplateVersion
	var subject, html, text, layout, by sql.NullString
	var at int64
	err := s.r.QueryRowContext(ctx, s.q(`SELECT v.version, v.subject, v.html, v.text, v.layout, v.created_by, v.created_at
		FROM template_versions v JOIN templates t ON t.id = v.template_id WHERE t.name = ? AND v.version = ?`),
		name, version).Scan(&v.Version, &subject, &html, &text, &layout, &by, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("template %q version %d: %w", name, version, ErrTemplateNotFound)
	} else if err != nil {
		return v, s.dbErr("read template version", err)
	}
	v.Subject, v.HTML, v.Text, v.Layout = subject.String, html.String, text.String, layout.String
	v.CreatedBy, v.CreatedAt = by.String, fromMS(at)
	s.versions.Store(key, v)
	return v, nil
}

// Outcome is what became of a claimed message.
type Outcome struct {
	ID      int64
	Attempt int    // Message.Attempts as claimed: a stale worker's report is ignored
	Status  string // sent, failed, suppressed, or queued to retry at RetryAt
	Reply   string // the server's reply or the reason
	Code    int    // the provider's error code, if any
	RetryAt time.Time
	// Event is the type of the event that records the outcome
	// (email_sent, email_failed, email_suppressed, email_deferred…).
	Event string
	// Properties are added to the event's (message, template, kind).
	Properties map[string]any
}

// CompleteMessages records outcomes, each in its contact's order with its
// event. A report for a message no longer held by that attempt is ignored.
func (s *Store) CompleteMessages(ctx context.Context, outs []Outcome) error {
	reqs := make([]*request, 0, len(outs))
	for _, o := range outs {
		reqs = append(reqs, newRequest("", func(t *tx) error { return t.completeMessage(o) }))
	}
	for _, err := range s.writer.submitAll(reqs) {
		if err != nil {
			return s.dbErr("record message outcomes", err)
		}
	}
	return nil
}

func (t *tx) completeMessage(o Outcome) error {
	now := t.s.now()
	var sent, due any
	due = nil
	switch o.Status {
	case MessageSent:
		sent = ms(now)
	case MessageQueued:
		due = ms(o.RetryAt)
	case MessageFailed, MessageSuppressed, MessageInDoubt:
	default:
		return fmt.Errorf("message outcome %q is not one", o.Status)
	}
	row := t.queryRow(`UPDATE outbox SET status = ?, reply = ?, sent_at = COALESCE(?, sent_at), due_at = COALESCE(?, due_at),
		lease_until = NULL, updated_at = ?
		WHERE id = ? AND attempts = ? AND status IN (?, ?) RETURNING contact_id, channel, kind, template, source`,
		o.Status, null(bound(o.Reply, 1000)), sent, due, ms(now), o.ID, o.Attempt, MessageSending, MessageInDoubt)
	var contactID int64
	var channel, kind, template, source string
	if err := row.Scan(&contactID, &channel, &kind, &template, &source); errors.Is(err, sql.ErrNoRows) {
		return nil // another attempt holds it now
	} else if err != nil {
		return err
	}
	if o.Event == "" {
		return nil
	}
	props := map[string]any{"message": o.ID, "template": template, "kind": kind}
	for k, v := range o.Properties {
		props[k] = v
	}
	return t.appendSystemEvent(contactID, o.Event, "outbox", now, props)
}

func bound(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// RecoverLeases marks in doubt the messages whose worker let the lease run
// out (it crashed, or lost the database while sending): they may have gone
// out or not. They are not sent again on their own; each gets an
// <channel>_in_doubt event and waits for RetryMessage or the operator.
func (s *Store) RecoverLeases(ctx context.Context) (int, error) {
	var n int
	err := s.writer.do1(func(t *tx) error {
		n = 0
		now := t.s.now()
		rows, err := t.query(`UPDATE outbox SET status = ?, reply = ?, updated_at = ?
			WHERE status = 'sending' AND lease_until < ? RETURNING id, contact_id, channel, template, kind`,
			MessageInDoubt, "the worker sending it stopped before reporting", ms(now), ms(now))
		if err != nil {
			return err
		}
		type doubt struct {
			id, contact             int64
			channel, template, kind string
		}
		var ds []doubt
		for rows.Next() {
			var d doubt
			if err := rows.Scan(&d.id, &d.contact, &d.channel, &d.template, &d.kind); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			props := map[string]any{"message": d.id, "template": d.template, "kind": d.kind}
			if err := t.appendSystemEvent(d.contact, d.channel+"_in_doubt", "outbox", now, props); err != nil {
				return err
			}
		}
		n = len(ds)
		return nil
	})
	return n, s.dbErr("recover message leases", err)
}

// RetryMessage queues again a failed or in-doubt message (an operator's
// decision: an in-doubt one may then arrive twice).
func (s *Store) RetryMessage(ctx context.Context, id int64) (Message, error) {
	var m Message
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		var err error
		m, err = scanMessage(t.queryRow(`UPDATE outbox SET status = ?, due_at = ?, updated_at = ?, lease_until = NULL
			WHERE id = ? AND status IN (?, ?) RETURNING `+messageColumns,
			MessageQueued, ms(now), ms(now), id, MessageFailed, MessageInDoubt))
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := scanMessage(t.queryRow("SELECT "+messageColumns+" FROM outbox WHERE id = ?", id)); errors.Is(err, sql.ErrNoRows) {
				return ErrMessageNotFound
			}
			return ErrMessageNotRetryable
		}
		return err
	})
	return m, err
}

// ErrMessageNotRetryable means only failed and in-doubt messages can be retried.
var ErrMessageNotRetryable = errors.New("only failed and in-doubt messages can be retried")
