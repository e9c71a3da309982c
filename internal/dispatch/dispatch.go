// Package dispatch delivers the outbox: it claims due messages, checks
// consent and the suppression list at send time, renders them, hands them
// to the channel's sender, and records every outcome as an event. Temporary
// failures retry with backoff; a message is never sent twice by Nurture,
// except one in flight when its worker died, which is reported in doubt.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/store"
)

// Config is what a Dispatcher needs. Store is required.
type Config struct {
	Store  *store.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Email sends email; nil leaves email messages queued.
	Email *Email
	// SMS sends SMS and WhatsApp messages; nil leaves them queued.
	SMS *SMS
	// Webhooks posts events to subscribed URLs; nil leaves them queued.
	Webhooks *webhook.Client
	// Batch is how many messages one claim takes (default 32). A worker
	// that dies leaves in doubt at most a batch, the Concurrency messages
	// in flight and the outcomes of the last 10 ms: keep it small.
	Batch int
	// Concurrency is how many messages are in flight at once (default 16).
	Concurrency int
	// Lease is how long a worker has to report a claimed message before it
	// is in doubt (default 5 minutes; longer than any send takes).
	Lease time.Duration
	// MaxAge is how long temporary failures are retried (default 24 h).
	MaxAge time.Duration
}

// Dispatcher delivers the outbox. Several may run, in one process or in
// several sharing a database: claims never overlap.
type Dispatcher struct {
	cfg       Config
	st        *store.Store
	clock     clock.Clock
	log       *slog.Logger
	templates sync.Map // template name + version → *message.Compiled
	routes    atomic.Pointer[Routes]
}

// New returns a Dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	return &Dispatcher{cfg: cfg, st: cfg.Store, clock: cfg.Clock, log: cfg.Logger}
}

// channels are the channels this dispatcher can send.
func (d *Dispatcher) channels() []string {
	var out []string
	if d.cfg.Email != nil {
		out = append(out, store.ChannelEmail)
	}
	if d.cfg.SMS != nil && d.cfg.SMS.From != "" {
		out = append(out, store.ChannelSMS)
	}
	if d.cfg.SMS != nil && d.cfg.SMS.WhatsAppFrom != "" {
		out = append(out, store.ChannelWhatsApp)
	}
	return out
}

// Once claims one batch, sends it and records the outcomes. It returns how
// many messages it handled.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	batch, err := d.claim(ctx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	return len(batch), d.send(ctx, batch)
}

// Drain sends until nothing is due. Messages stream to the workers: the
// next batch is claimed while the last messages of the one before are
// being sent, so the workers never wait for a claim.
func (d *Dispatcher) Drain(ctx context.Context) (int, error) {
	// Unbuffered: a claimed message waits in the claiming goroutine's hand,
	// never in a queue, so a crash leaves in doubt at most one batch not yet
	// begun, the messages in flight, and outcomes not yet recorded.
	work := make(chan *store.Outgoing)
	results := make(chan store.Outcome, d.cfg.Concurrency)
	recorded := make(chan error, 1)
	go func() { recorded <- d.recorder(ctx, results) }()
	var wg sync.WaitGroup
	for range d.cfg.Concurrency {
		wg.Go(func() {
			for m := range work {
				results <- d.deliver(ctx, m)
			}
		})
	}
	total := 0
	var claimErr error
	for ctx.Err() == nil {
		batch, err := d.claim(ctx)
		if err != nil {
			claimErr = err
			break
		}
		for i := range batch {
			work <- &batch[i]
		}
		total += len(batch)
		if len(batch) < d.cfg.Batch {
			break
		}
	}
	close(work)
	wg.Wait()
	close(results)
	return total, errors.Join(claimErr, <-recorded)
}

func (d *Dispatcher) claim(ctx context.Context) ([]store.Outgoing, error) {
	return d.st.ClaimMessages(ctx, store.ClaimParams{Channels: d.channels(), Limit: d.cfg.Batch, Lease: d.cfg.Lease})
}

// Outcomes are recorded as they come, in groups of up to recordEvery or
// every recordWithin: a crash leaves in doubt only the messages in flight
// and the outcomes of the last few milliseconds, not a whole batch.
const (
	recordEvery  = 64
	recordWithin = 10 * time.Millisecond
)

// send delivers a batch, Concurrency messages at a time, and records the
// outcomes while it goes. It returns once every outcome is recorded.
func (d *Dispatcher) send(ctx context.Context, batch []store.Outgoing) error {
	results := make(chan store.Outcome, d.cfg.Concurrency)
	recorded := make(chan error, 1)
	go func() { recorded <- d.recorder(ctx, results) }()
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(d.cfg.Concurrency, len(batch)) {
		wg.Go(func() {
			for i := range work {
				results <- d.deliver(ctx, &batch[i])
			}
		})
	}
	for i := range batch {
		work <- i
	}
	close(work)
	wg.Wait()
	close(results)
	return <-recorded
}

// recorder writes outcomes in small groups until results is closed, even
// when ctx ended (shutdown): what went out must be marked, or it would be
// in doubt.
func (d *Dispatcher) recorder(ctx context.Context, results <-chan store.Outcome) error {
	return record(context.WithoutCancel(ctx), results, d.st.CompleteMessages)
}

// finalTries is how many times the last outcomes are written before they
// are given up (their messages are then in doubt once their lease ends:
// reported, never resent).
const finalTries = 5

// record is recorder's loop. A failed write keeps its outcomes and is
// tried again, backing off up to a second, while results go on being
// drained so that senders never block.
func record(ctx context.Context, results <-chan store.Outcome, complete func(context.Context, []store.Outcome) error) error {
	var pending []store.Outcome
	var lastErr error
	var backoff time.Duration
	var retryAt time.Time
	flush := func() {
		if len(pending) == 0 || backoff > 0 && time.Now().Before(retryAt) {
			return
		}
		if err := complete(ctx, pending); err != nil {
			lastErr = err
			backoff = min(max(2*backoff, recordWithin), time.Second)
			retryAt = time.Now().Add(backoff)
			return
		}
		pending, lastErr, backoff = pending[:0], nil, 0
	}
	tick := time.NewTicker(recordWithin)
	defer tick.Stop()
	for {
		select {
		case o, ok := <-results:
			if !ok {
				for try := range finalTries {
					if len(pending) == 0 {
						return nil
					}
					time.Sleep(time.Duration(try) * 100 * time.Millisecond)
					backoff = 0
					flush()
				}
				if len(pending) > 0 {
					return fmt.Errorf("record the outcomes of %d messages (they will be in doubt): %w", len(pending), lastErr)
				}
				return nil
			}
			pending = append(pending, o)
			if len(pending) >= recordEvery {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// Run sends until ctx ends. Unlike Drain, its workers and outcome
// recorder live as long as it does: a claim never waits for the outcomes
// of the batch before it to be written, so a message queued while others
// are being sent is claimed at once. Between empty claims it sleeps until
// messages are queued in this process or poll passes (for retries, and for
// messages other nodes queued). It recovers expired leases every minute (or
// half a lease, when leases are shorter). Webhook deliveries go in a loop
// of their own, so neither kind of work waits for the other.
func (d *Dispatcher) Run(ctx context.Context, poll time.Duration) {
	var hooks sync.WaitGroup
	hooks.Go(func() { d.runWebhooks(ctx, poll) })
	// Unbuffered, as in Drain: a crash leaves in doubt at most the batch
	// in hand, the messages in flight and outcomes not yet recorded.
	work := make(chan *store.Outgoing)
	results := make(chan store.Outcome, d.cfg.Concurrency)
	recorded := make(chan error, 1)
	go func() { recorded <- d.recorder(ctx, results) }()
	var workers sync.WaitGroup
	for range d.cfg.Concurrency {
		workers.Go(func() {
			for m := range work {
				results <- d.deliver(ctx, m)
			}
		})
	}
	var lastRecover time.Time
	every := min(time.Minute, d.cfg.Lease/2)
	for ctx.Err() == nil {
		if now := d.clock.Now(); now.Sub(lastRecover) >= every {
			lastRecover = now
			if n, err := d.st.RecoverLeases(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("recover message leases", "err", err)
			} else if n > 0 {
				d.log.Warn("messages in doubt: their worker stopped while sending", "count", n)
			}
		}
		batch, err := d.claim(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("dispatch", "err", err)
		}
		for i := range batch {
			work <- &batch[i]
		}
		if err == nil && len(batch) == d.cfg.Batch {
			continue
		}
		select {
		case <-ctx.Done():
		case <-d.st.Queued():
		case <-time.After(poll):
		}
	}
	close(work)
	workers.Wait()
	close(results)
	if err := <-recorded; err != nil {
		d.log.Error("dispatch", "err", err)
	}
	hooks.Wait()
}

// runWebhooks is Run's loop for webhook deliveries.
func (d *Dispatcher) runWebhooks(ctx context.Context, poll time.Duration) {
	if d.cfg.Webhooks == nil {
		return
	}
	var lastRecover time.Time
	for ctx.Err() == nil {
		if now := d.clock.Now(); now.Sub(lastRecover) >= time.Minute {
			lastRecover = now
			if err := d.st.RecoverDeliveryLeases(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("recover webhook leases", "err", err)
			}
		}
		if _, err := d.DrainWebhooks(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("webhooks", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-d.st.Hooked():
		case <-time.After(poll):
		}
	}
}

// deliver sends one message and says what became of it.
func (d *Dispatcher) deliver(ctx context.Context, m *store.Outgoing) store.Outcome {
	out := store.Outcome{ID: m.ID, Attempt: m.Attempts}
	if ok, reason := Allowed(m); !ok {
		out.Status, out.Reply, out.Event = store.MessageSuppressed, reason, m.Channel+"_suppressed"
		out.Properties = map[string]any{"reason": reason}
		return out
	}
	var err error
	var until time.Time
	var props map[string]any
	switch m.Channel {
	case store.ChannelEmail:
		out.Reply, err = d.sendEmail(ctx, m)
	case store.ChannelSMS, store.ChannelWhatsApp:
		out.Reply, until, props, err = d.sendSMS(ctx, m)
	default:
		err = &Failure{Reason: ReasonUnknownChannel}
	}
	if !until.IsZero() && err == nil {
		out.Status, out.Event, out.RetryAt = store.MessageQueued, m.Channel+"_deferred", until
		out.Reply = "quiet hours in the contact's time zone"
		out.Properties = map[string]any{"reason": out.Reply, "retry_at": until.UTC().Format(time.RFC3339)}
		return out
	}
	if err == nil {
		out.Status, out.Event, out.Properties = store.MessageSent, m.Channel+"_sent", props
		return out
	}
	var f *Failure
	if !errors.As(err, &f) {
		// ctx ended or something unexpected: try again later.
		f = &Failure{Temporary: true, Reason: err.Error()}
	}
	out.Reply, out.Code = f.Reason, f.Code
	if props == nil {
		props = map[string]any{}
	}
	props["reason"] = f.Reason
	if f.Code != 0 {
		props["code"] = f.Code
	}
	out.Properties = props
	if f.InDoubt {
		out.Status, out.Event = store.MessageInDoubt, m.Channel+"_in_doubt"
		return out
	}
	now := d.clock.Now()
	if f.Temporary && now.Sub(m.CreatedAt) < d.cfg.MaxAge {
		out.Status, out.Event = store.MessageQueued, m.Channel+"_deferred"
		out.RetryAt = now.Add(Backoff(m.Attempts))
		props["retry_at"] = out.RetryAt.UTC().Format(time.RFC3339)
		return out
	}
	if f.Temporary {
		out.Reply = "gave up after " + d.cfg.MaxAge.String() + ": " + f.Reason
		props["reason"] = out.Reply
	}
	out.Status, out.Event = store.MessageFailed, m.Channel+"_failed"
	return out
}

// Failure is why a send did not go.
type Failure struct {
	Temporary bool
	// InDoubt says the message may have gone out (the connection broke
	// after the request was sent): it is not retried.
	InDoubt bool
	Code    int // the provider's code (an SMTP reply code, an HTTP status)
	Reason  string
}

func (f *Failure) Error() string { return f.Reason }

// Backoff is the wait before retry n+1 after n failed attempts: 1, 2, 4 …
// minutes, at most 2 hours. With the default MaxAge that is about 15
// attempts over 24 hours.
func Backoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	if attempts > 8 {
		return 2 * time.Hour
	}
	return min(time.Minute<<(attempts-1), 2*time.Hour)
}

// compiled returns the parsed template of a message, parsed once per version.
func (d *Dispatcher) compiled(m *store.Outgoing) (*message.Compiled, error) {
	key := fmt.Sprintf("%s\x00%d", m.Template, m.TemplateVersion)
	if v, ok := d.templates.Load(key); ok {
		return v.(*message.Compiled), nil
	}
	ct, err := message.Compile(message.Template{Subject: m.Content.Subject, HTML: m.Content.HTML, Text: m.Content.Text})
	if err != nil {
		return nil, err
	}
	d.templates.Store(key, ct)
	return ct, nil
}

// compiledLayout returns a layout parsed once per version.
func (d *Dispatcher) compiledLayout(l *store.Layout) (*message.Compiled, error) {
	key := fmt.Sprintf("layout\x00%s\x00%d", l.Name, l.Version)
	if v, ok := d.templates.Load(key); ok {
		return v.(*message.Compiled), nil
	}
	ct, err := message.Compile(message.Template{HTML: l.HTML})
	if err != nil {
		return nil, err
	}
	d.templates.Store(key, ct)
	return ct, nil
}
