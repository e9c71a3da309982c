package store_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// benchJourney is sequence A's shape (D0, D1, D3, D5, D7), without quiet
// hours so that every timer falls at once, requiring only an address so
// that the benchmark's contacts need nothing else.
const benchJourney = `
name: warm-lead
objective: {event: meeting_booked}
trigger: {event: form_submitted}
entry: {require: [email]}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: a-d0}}
  - {id: w1, wait: 1d}
  - {id: d1, send: {channel: email, template: a-d1}}
  - {id: w3, wait: 2d}
  - {id: d3, send: {channel: email, template: a-d3}}
  - {id: w5, wait: 2d}
  - {id: d5, send: {channel: email, template: a-d5}}
  - {id: w7, wait: 2d}
  - {id: d7, send: {channel: email, template: a-d7}}
`

// BenchmarkJourneySteps measures the due-step worker: 100,000 contacts
// (NURTURE_BENCH_JOURNEY_CONTACTS) enter journey A, then the clock moves
// to D1 and RunDueSteps (500 a call, as the serve worker does;
// NURTURE_BENCH_JOURNEY_BATCH changes it) moves every
// enrolment on: the timer fires, D1 is queued in the outbox (nothing
// delivers it: a no-op sender) and the next wait starts. One step here is
// one enrolment moved, with its message and statistics, in the transaction.
func BenchmarkJourneySteps(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_JOURNEY_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	batchSize := 500
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_JOURNEY_BATCH")); err == nil && v > 0 {
		batchSize = v
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			clk := clock.NewFake(storetest.Epoch)
			s := storetest.Open(b, db, clk)
			saveJourneyTemplates(b, s, "a-d0", "a-d1", "a-d3", "a-d5", "a-d7")
			if _, _, err := s.SaveJourney(ctx, []byte(benchJourney)); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			batch := make([]store.EventInput, 0, 1000)
			for i := range n {
				batch = append(batch, store.EventInput{Email: fmt.Sprintf("c%d@example.com", i), Type: "form_submitted",
					OccurredAt: storetest.Epoch, Source: "api"})
				if len(batch) == cap(batch) || i == n-1 {
					for _, r := range s.AppendEvents(ctx, batch) {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
					batch = batch[:0]
				}
			}
			b.Logf("%d contacts entered the journey in %v (%.0f/s)", n, time.Since(start).Round(time.Millisecond),
				float64(n)/time.Since(start).Seconds())
			for b.Loop() {
				due, err := s.NextDueStep(ctx)
				if err != nil || due.IsZero() {
					b.Fatalf("next due step %v, %v; run with -benchtime 1x to 4x", due, err)
				}
				clk.Set(due)
				total := 0
				for {
					k, err := s.RunDueSteps(ctx, batchSize)
					if err != nil {
						b.Fatal(err)
					}
					if k == 0 {
						break
					}
					total += k
				}
				if total != n {
					b.Fatalf("moved %d enrolments; want %d", total, n)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
