package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/event"
)

// ErrWebhookNotFound means no (active) webhook has that id.
var ErrWebhookNotFound = errors.New("webhook not found")

// Webhook is a subscription: events of the listed types are posted to URL,
// signed with Secret (shown once, when created).
type Webhook struct {
	ID          int64      `json:"id"`
	URL         string     `json:"url"`
	Events      []string   `json:"events"` // event types, or ["*"]
	Description string     `json:"description,omitempty"`
	Secret      string     `json:"secret,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
}

// Delivery statuses.
const (
	DeliveryQueued    = "queued"
	DeliverySending   = "sending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one attempt log line: an event to one subscriber.
type WebhookDelivery struct {
	ID         int64      `json:"id"`
	WebhookID  int64      `json:"webhook_id"`
	EventID    int64      `json:"event_id"`
	EventType  string     `json:"event_type"`
	ContactID  int64      `json:"contact_id"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	LastStatus int        `json:"last_status,omitempty"`
	LastReply  string     `json:"last_reply,omitempty"`
	DueAt      time.Time  `json:"due_at"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// hookSubs is a snapshot of the active subscriptions, by event type.
type hookSubs struct {
	loaded time.Time
	byType map[string][]int64
	all    []int64 // subscribed to every type
}

// hooksTTL is how stale the snapshot may get: a subscription made on
// another node starts receiving within it.
const hooksTTL = 5 * time.Second

// CreateWebhook subscribes url to event types; the secret is in the result
// only.
func (s *Store) CreateWebhook(ctx context.Context, url string, events []string, description string) (Webhook, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Webhook{}, err
	}
	w := Webhook{URL: url, Events: events, Description: description, Secret: "whsec_" + hex.EncodeToString(raw)}
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		w.CreatedAt = now
		return t.queryRow(`INSERT INTO webhooks (created_at, url, secret, events, description) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			ms(now), url, w.Secret, strings.Join(events, ","), null(description)).Scan(&w.ID)
	})
	s.hooks.Store(nil)
	return w, s.dbErr("create webhook", err)
}

// Webhooks lists the subscriptions, active first (secrets are not shown).
func (s *Store) Webhooks(ctx context.Context) ([]Webhook, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, created_at, disabled_at, url, events, description FROM webhooks ORDER BY disabled_at IS NOT NULL, id")
	if err != nil {
		return nil, s.dbErr("list webhooks", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		var w Webhook
		var created int64
		var disabled sql.NullInt64
		var events string
		var desc sql.NullString
		if err := rows.Scan(&w.ID, &created, &disabled, &w.URL, &events, &desc); err != nil {
			return nil, s.dbErr("list webhooks", err)
		}
		w.CreatedAt, w.Events, w.Description = fromMS(created), strings.Split(events, ","), desc.String
		if disabled.Valid {
			t := fromMS(disabled.Int64)
			w.DisabledAt = &t
		}
		out = append(out, w)
	}
	return out, s.dbErr("list webhooks", rows.Err())
}

// DisableWebhook stops a subscription; its delivery log stays, and what was
// queued for it is not sent.
func (s *Store) DisableWebhook(ctx context.Context, id int64) error {
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		res, err := t.exec("UPDATE webhooks SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL", ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrWebhookNotFound
		}
		_, err = t.exec(`UPDATE webhook_deliveries SET status = ?, last_reply = ?, finished_at = ?
			WHERE webhook_id = ? AND status = ?`, DeliveryFailed, "the webhook was disabled", ms(now), id, DeliveryQueued)
		return err
	})
	s.hooks.Store(nil)
	return err
}

// subscribers returns the active webhooks that take events of typ,
// refreshing the snapshot when it is stale.
func (t *tx) subscribers(typ string) ([]int64, error) {
	snap := t.s.hooks.Load()
	if snap == nil || time.Since(snap.loaded) > hooksTTL {
		rows, err := t.query("SELECT id, events FROM webhooks WHERE disabled_at IS NULL")
		if err != nil {
			return nil, err
		}
		fresh := &hookSubs{loaded: time.Now(), byType: map[string][]int64{}}
		for rows.Next() {
			var id int64
			var events string
			if err := rows.Scan(&id, &events); err != nil {
				rows.Close()
				return nil, err
			}
			for _, e := range strings.Split(events, ",") {
				if e == "*" {
					fresh.all = append(fresh.all, id)
				} else {
					fresh.byType[e] = append(fresh.byType[e], id)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		t.s.hooks.Store(fresh)
		snap = fresh
	}
	if len(snap.all) == 0 {
		return snap.byType[typ], nil
	}
	return append(slices.Clone(snap.all), snap.byType[typ]...), nil
}

// fanOut queues a delivery of an event to each webhook subscribed to it,
// in the event's transaction.
func (t *tx) fanOut(contactID, eventID int64, typ string, at time.Time) error {
	subs, err := t.subscribers(typ)
	if err != nil || len(subs) == 0 {
		return err
	}
	for _, id := range subs {
		if _, err := t.exec(`INSERT INTO webhook_deliveries (webhook_id, event_id, contact_id, due_at, created_at, status, event_type)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, eventID, contactID, ms(at), ms(at), DeliveryQueued, typ); err != nil {
			return err
		}
	}
	t.hooked = true
	return nil
}

// OutgoingDelivery is a claimed delivery with its body, ready to post.
type OutgoingDelivery struct {
	ID, Attempt int64
	URL         string
	Secret      string
	EventType   string
	Body        []byte
	CreatedAt   time.Time
}

// ClaimDeliveries takes due webhook deliveries with a lease, and builds
// each body from its event as it is now.
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]OutgoingDelivery, error) {
	if !s.anyDue(ctx, "SELECT 1 FROM webhook_deliveries WHERE status = 'queued' AND due_at <= ? LIMIT 1", ms(s.now())) {
		return nil, nil
	}
	var out []OutgoingDelivery
	err := s.writer.do1(func(t *tx) error {
		out = out[:0]
		now := t.s.now()
		skip := ""
		if t.s.d.name == "postgres" {
			skip = " FOR UPDATE SKIP LOCKED"
		}
		rows, err := t.query(`UPDATE webhook_deliveries SET status = ?, lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'queued' AND due_at <= ? ORDER BY due_at, id LIMIT ?`+skip+`)
			RETURNING id, attempts, webhook_id, event_id, event_type, created_at`,
			DeliverySending, ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return err
		}
		type claim struct {
			OutgoingDelivery
			webhook, event int64
		}
		var cs []claim
		for rows.Next() {
			var c claim
			var created int64
			if err := rows.Scan(&c.ID, &c.Attempt, &c.webhook, &c.event, &c.EventType, &created); err != nil {
				rows.Close()
				return err
			}
			c.CreatedAt = fromMS(created)
			cs = append(cs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range cs {
			if err := t.queryRow("SELECT url, secret FROM webhooks WHERE id = ?", c.webhook).Scan(&c.URL, &c.Secret); err != nil {
				return err
			}
			var e struct {
				ID         int64           `json:"id"`
				Type       string          `json:"type"`
				ContactID  int64           `json:"contact_id"`
				OccurredAt time.Time       `json:"occurred_at"`
				Source     string          `json:"source"`
				Properties json.RawMessage `json:"properties,omitempty"`
			}
			var occurred int64
			var props sql.NullString
			err := t.queryRow("SELECT id, type, contact_id, occurred_at, source, properties FROM events WHERE id = ?", c.event).
				Scan(&e.ID, &e.Type, &e.ContactID, &occurred, &e.Source, &props)
			if err != nil {
				return fmt.Errorf("event %d of delivery %d: %w", c.event, c.ID, err)
			}
			e.OccurredAt = fromMS(occurred)
			if props.Valid {
				e.Properties = json.RawMessage(props.String)
			}
			body := map[string]any{"delivery": c.ID, "event": e}
			if e.Type == event.SLAEscalated {
				// Slack's incoming webhooks (and the chat tools that copy
				// them) post "text" and ignore the rest.
				var p struct{ Text string }
				if json.Unmarshal(e.Properties, &p) == nil && p.Text != "" {
					body["text"] = webhook.SlackEscape(p.Text)
				}
			}
			c.Body, err = json.Marshal(body)
			if err != nil {
				return err
			}
			out = append(out, c.OutgoingDelivery)
		}
		return nil
	})
	return out, s.dbErr("claim webhook deliveries", err)
}

// DeliveryOutcome is what became of a claimed delivery.
type DeliveryOutcome struct {
	ID, Attempt int64
	Status      string // delivered, failed, or queued to retry at RetryAt
	HTTPStatus  int
	Reply       string
	RetryAt     time.Time
}

// CompleteDeliveries records delivery outcomes (stale attempts ignored).
func (s *Store) CompleteDeliveries(ctx context.Context, outs []DeliveryOutcome) error {
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		for _, o := range outs {
			var finished, due any
			if o.Status == DeliveryQueued {
				due = ms(o.RetryAt)
			} else {
				finished = ms(now)
			}
			if _, err := t.exec(`UPDATE webhook_deliveries SET status = ?, last_status = ?, last_reply = ?, finished_at = ?,
				due_at = COALESCE(?, due_at), lease_until = NULL WHERE id = ? AND attempts = ? AND status = ?`,
				o.Status, o.HTTPStatus, null(bound(o.Reply, 1000)), finished, due, o.ID, o.Attempt, DeliverySending); err != nil {
				return err
			}
		}
		return nil
	})
	return s.dbErr("record webhook deliveries", err)
}

// RecoverDeliveryLeases queues again deliveries whose worker died: a
// webhook may arrive twice (the Nurture-Delivery header lets the receiver
// drop the repeat), unlike a message.
func (s *Store) RecoverDeliveryLeases(ctx context.Context) error {
	return s.dbErr("recover webhook leases", s.writer.do1(func(t *tx) error {
		now := t.s.now()
		_, err := t.exec("UPDATE webhook_deliveries SET status = ?, lease_until = NULL WHERE status = 'sending' AND lease_until < ?",
			DeliveryQueued, ms(now))
		return err
	}))
}

// WebhookDeliveries is a webhook's delivery log, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID, after int64, limit int) ([]WebhookDelivery, error) {
	var exists int64
	if err := s.r.QueryRowContext(ctx, s.q("SELECT id FROM webhooks WHERE id = ?"), webhookID).Scan(&exists); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrWebhookNotFound
	} else if err != nil {
		return nil, s.dbErr("read webhook", err)
	}
	q := `SELECT id, webhook_id, event_id, event_type, contact_id, status, attempts, last_status, last_reply, due_at, created_at, finished_at
		FROM webhook_deliveries WHERE webhook_id = ?`
	args := []any{webhookID}
	if after > 0 {
		q += " AND id < ?"
		args = append(args, after)
	}
	rows, err := s.r.QueryContext(ctx, s.q(q+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, s.dbErr("read webhook deliveries", err)
	}
	defer rows.Close()
	out := []WebhookDelivery{}
	for rows.Next() {
		var d WebhookDelivery
		var last sql.NullInt64
		var reply sql.NullString
		var due, created int64
		var finished sql.NullInt64
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.ContactID, &d.Status, &d.Attempts,
			&last, &reply, &due, &created, &finished); err != nil {
			return nil, s.dbErr("read webhook deliveries", err)
		}
		d.LastStatus, d.LastReply, d.DueAt, d.CreatedAt = int(last.Int64), reply.String, fromMS(due), fromMS(created)
		if finished.Valid {
			t := fromMS(finished.Int64)
			d.FinishedAt = &t
		}
		out = append(out, d)
	}
	return out, s.dbErr("read webhook deliveries", rows.Err())
}
