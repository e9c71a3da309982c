package store_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// noRules scores nothing: the baseline of ingest without scoring.
const noRules = "scores:\n  engagement: {}\n"

// manyRules is the defaults plus 91 page-view rules on distinct URLs: 100
// rules, most of them on the hottest event type.
func manyRules() string {
	var b strings.Builder
	b.Write(score.DefaultSource())
	b.WriteString("\n")
	doc := b.String()
	var extra strings.Builder
	for i := range 91 {
		fmt.Fprintf(&extra, "  - id: page-%d\n    event: page_viewed\n    when: event.url contains \"/p%d/\"\n    score: engagement\n    points: 1\n    limit: {per_day: 2}\n", i, i)
	}
	return strings.Replace(doc, "\ninactivity:", extra.String()+"\ninactivity:", 1)
}

func applyRules(tb testing.TB, s *store.Store, src string) {
	tb.Helper()
	r, err := score.Parse([]byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: r}); err != nil {
		tb.Fatal(err)
	}
}

// benchEvent is a mix like a site's: page views (some on pricing), opens
// (half by machines), clicks.
func benchEvent(n int, contacts int, at time.Time) store.EventInput {
	id := int64(n%contacts + 1)
	switch n % 10 {
	case 0:
		return store.EventInput{ContactID: id, Type: "page_viewed", OccurredAt: at, Source: "api", Properties: json.RawMessage(`{"url":"https://x.test/pricing"}`)}
	case 1, 2:
		return store.EventInput{ContactID: id, Type: "email_opened", OccurredAt: at, Source: "api", Properties: json.RawMessage(`{"machine":` + strconv.FormatBool(n%20 < 10) + `}`)}
	case 3:
		return store.EventInput{ContactID: id, Type: "email_clicked", OccurredAt: at, Source: "api", Properties: json.RawMessage(`{"url":"https://x.test/a"}`)}
	}
	return store.EventInput{ContactID: id, Type: "page_viewed", OccurredAt: at, Source: "api", Properties: json.RawMessage(`{"url":"https://x.test/blog/` + strconv.Itoa(n%50) + `"}`)}
}

// BenchmarkIngestScoring measures batch ingest (1,000 events a batch on
// 10,000 contacts) with no scoring rules, the 10 defaults, and 100 rules.
func BenchmarkIngestScoring(b *testing.B) {
	for _, db := range storetest.DBs() {
		for _, rules := range []struct{ name, src string }{{"none", noRules}, {"defaults", string(score.DefaultSource())}, {"100rules", manyRules()}} {
			b.Run(db.Name+"/"+rules.name, func(b *testing.B) {
				s := storetest.Open(b, db, clock.NewFake(storetest.Epoch))
				applyRules(b, s, rules.src)
				const contacts = 10_000
				var seed []store.EventInput
				for i := range contacts {
					seed = append(seed, store.EventInput{Email: fmt.Sprintf("c%d@example.com", i), Type: "form_submitted", OccurredAt: storetest.Epoch, Source: "api"})
				}
				for _, r := range s.AppendEvents(ctx, seed) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				batch := make([]store.EventInput, 1000)
				b.ResetTimer()
				for n := 0; b.Loop(); n++ {
					at := storetest.Epoch.Add(time.Duration(n) * time.Minute)
					for i := range batch {
						batch[i] = benchEvent(n*1000+i, contacts, at)
					}
					for _, r := range s.AppendEvents(ctx, batch) {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
				b.StopTimer()
				// The scoring did happen: contact 1 had a pricing view in the first batch.
				if rep, err := s.Score(ctx, 1); err != nil || rules.name != "none" && len(rep.Ledger) == 0 {
					b.Fatalf("contact 1 scored nothing: %+v, %v", rep, err)
				}
			})
		}
	}
}

// BenchmarkRescore measures a full rescore from the event log: 100,000
// contacts with 10 events each (NURTURE_BENCH_RESCORE_EVENTS changes the
// total), rescored under the defaults.
func BenchmarkRescore(b *testing.B) {
	total := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_RESCORE_EVENTS")); err == nil && v > 0 {
		total = v
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			s := storetest.Open(b, db, clock.NewFake(storetest.Epoch.Add(60*24*time.Hour)))
			applyRules(b, s, noRules) // seed fast, then rescore under the defaults
			contacts := total / 10
			var seed []store.EventInput
			for i := range contacts {
				seed = append(seed, store.EventInput{Email: fmt.Sprintf("c%d@example.com", i), Type: "form_submitted", OccurredAt: storetest.Epoch, Source: "api"})
			}
			for len(seed) > 0 {
				n := min(len(seed), 5000)
				for _, r := range s.AppendEvents(ctx, seed[:n]) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				seed = seed[n:]
			}
			batch := make([]store.EventInput, 0, 5000)
			for n := contacts; n < total; n++ {
				batch = append(batch, benchEvent(n, contacts, storetest.Epoch.Add(time.Duration(n%(30*24*60))*time.Minute)))
				if len(batch) == cap(batch) || n == total-1 {
					for _, r := range s.AppendEvents(ctx, batch) {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
					batch = batch[:0]
				}
			}
			b.ResetTimer()
			for b.Loop() {
				applyRules(b, s, string(score.DefaultSource()))
				// The seeding's job is superseded at once; then the rescore.
				for {
					ok, err := s.RunJob(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						break
					}
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
