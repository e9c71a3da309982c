package store_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
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

// BenchmarkSimulateJourney measures the dry run of the shipped sequence A
// (examples/journeys/warm-lead.yaml, with its templates rendered for every
// contact) over 100,000 contacts (NURTURE_BENCH_SIM_CONTACTS) for 30 days.
// A fifth of the contacts lack an offer (refused), a third are in Paris,
// the rest in New York or without a time zone.
func BenchmarkSimulateJourney(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_SIM_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	doc, err := examples.File("journeys/warm-lead.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			s := storetest.Open(b, db, clock.NewFake(storetest.Epoch))
			if _, err := examples.Install(ctx, s); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < n; i += 8 {
						in := contact.Input{Email: fmt.Sprintf("c%d@example.com", i), FirstName: fmt.Sprintf("Lead%d", i), Source: "web", Offer: "audit"}
						switch i % 15 {
						case 0, 5, 10:
							in.Offer = ""
						case 1, 4, 7, 11, 13:
							in.TimeZone = "Europe/Paris"
						case 2, 8:
							in.TimeZone = "America/New_York"
						}
						in, err := contact.Normalize(in, "FR")
						if err != nil {
							errs <- err
							return
						}
						if _, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: in}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.Logf("%d contacts written in %v", n, time.Since(start).Round(time.Millisecond))
			var rep journey.Report
			for b.Loop() {
				rep, err = s.SimulateJourney(ctx, store.SimulateParams{Document: doc, Days: 30})
				if err != nil {
					b.Fatal(err)
				}
			}
			if rep.Contacts != n || rep.Entered == 0 || len(rep.RenderFailures) != 0 {
				b.Fatalf("report: %d contacts, %d entered, failures %+v", rep.Contacts, rep.Entered, rep.RenderFailures)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/simulation")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "contacts/s")
		})
	}
}
