package dispatch

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/store"
)

// webhookLease is how long a delivery may take before another worker may
// send it again (the receiver drops repeats by Nurture-Delivery).
const webhookLease = 2 * time.Minute

// DrainWebhooks delivers due webhook deliveries until none is left.
func (d *Dispatcher) DrainWebhooks(ctx context.Context) (int, error) {
	if d.cfg.Webhooks == nil {
		return 0, nil
	}
	total := 0
	for ctx.Err() == nil {
		batch, err := d.st.ClaimDeliveries(ctx, d.cfg.Batch, webhookLease)
		if err != nil || len(batch) == 0 {
			return total, err
		}
		outs := make([]store.DeliveryOutcome, len(batch))
		var wg sync.WaitGroup
		sem := make(chan struct{}, d.cfg.Concurrency)
		for i := range batch {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				outs[i] = d.deliverWebhook(ctx, &batch[i])
			})
		}
		wg.Wait()
		if err := d.st.CompleteDeliveries(context.WithoutCancel(ctx), outs); err != nil {
			return total, err
		}
		total += len(batch)
	}
	return total, ctx.Err()
}

func (d *Dispatcher) deliverWebhook(ctx context.Context, w *store.OutgoingDelivery) store.DeliveryOutcome {
	out := store.DeliveryOutcome{ID: w.ID, Attempt: w.Attempt}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := d.cfg.Webhooks.Deliver(cctx, webhook.Delivery{URL: w.URL, Secret: []byte(w.Secret), Body: w.Body,
		ID: strconv.FormatInt(w.ID, 10), Event: w.EventType})
	out.HTTPStatus, out.Reply = res.Status, res.Body
	if err == nil {
		out.Status = store.DeliveryDelivered
		return out
	}
	out.Reply = err.Error()
	var we *webhook.Error
	now := d.clock.Now()
	if errors.As(err, &we) && we.Permanent || webhook.GiveUp(w.CreatedAt, now) {
		out.Status = store.DeliveryFailed
		return out
	}
	out.Status = store.DeliveryQueued
	out.RetryAt = now.Add(webhook.Jitter(webhook.Backoff(int(w.Attempt)), uint64(w.ID)))
	return out
}
