package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
)

// Worker cadences: how long an idle worker sleeps before looking again.
const (
	timerPoll = time.Second
	jobPoll   = 2 * time.Second
	timerBulk = 500
	// outboxPoll is how soon retries and messages queued by other nodes go;
	// this node's own messages wake its dispatcher at once.
	outboxPoll = time.Second
	// Journeys' due steps are looked for this often, so a step due at T
	// runs within this much of T when the node is not behind.
	journeyPoll = 250 * time.Millisecond
	journeyBulk = 500
	// Date triggers ("3 days before renewal_date at 09:00") are swept this
	// often.
	datePoll = 30 * time.Second
)

// startWorkers runs the background work of a node: due timers (inactivity
// decay), jobs (rescores) and, when it has one, the dispatcher delivering
// the outbox. Every node runs them; the store makes sharing safe. The
// returned function stops them and waits.
func startWorkers(st *store.Store, log *slog.Logger, sender *dispatch.Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if sender != nil {
		wg.Go(func() { sender.Run(ctx, outboxPoll) })
	}
	loop := func(name string, poll time.Duration, work func(context.Context) (more bool, err error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				more, err := work(ctx)
				if err != nil && ctx.Err() == nil {
					log.Error(name+" worker", "err", err)
				}
				if more && err == nil {
					continue
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(poll):
				}
			}
		}()
	}
	loop("timer", timerPoll, func(ctx context.Context) (bool, error) {
		n, err := st.FireTimers(ctx, timerBulk)
		return n == timerBulk, err
	})
	loop("journey", journeyPoll, func(ctx context.Context) (bool, error) {
		n, err := st.RunDueSteps(ctx, journeyBulk)
		return n == journeyBulk, err
	})
	loop("journey dates", datePoll, func(ctx context.Context) (bool, error) {
		_, err := st.RunDateTriggers(ctx)
		return false, err
	})
	loop("job", jobPoll, func(ctx context.Context) (bool, error) {
		return st.RunJob(ctx, func(j store.Job) {
			if j.Status != "running" {
				log.Info("job finished", "job", j.ID, "kind", j.Kind, "status", j.Status, "done", j.Done)
			}
		})
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
