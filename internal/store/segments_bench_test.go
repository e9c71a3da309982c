package store_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// fiftySegments is the shipped five and 45 more, mixing field conditions,
// behaviour windows on the benchmark's event types, scores and tags.
func fiftySegments() string {
	var b strings.Builder
	b.Write(segment.DefaultSource())
	for i := range 45 {
		var rule string
		switch i % 5 {
		case 0:
			rule = fmt.Sprintf(`count("page_viewed", "%dd", event.url contains "/blog/%d") >= 1`, 7+i, i%50)
		case 1:
			rule = fmt.Sprintf(`country == "FR" and count("email_clicked", "%dd") >= 2`, 10+i)
		case 2:
			rule = fmt.Sprintf(`score.engagement >= %d and count("email_opened", "30d", event.machine != true) >= 1`, i)
		case 3:
			rule = fmt.Sprintf(`"t%d" in tags or count("page_viewed", "14d", event.url contains "/pricing") >= %d`, i, 1+i%3)
		case 4:
			rule = fmt.Sprintf(`not segment("warm-intent") and count("email_clicked", "%dd") == 0`, 20+i)
		}
		fmt.Fprintf(&b, "  - name: extra-%d\n    rule: '%s'\n", i, strings.ReplaceAll(rule, "'", "''"))
	}
	return b.String()
}

// BenchmarkIngestSegments measures batch ingest (1,000 events a batch on
// 10,000 contacts, the scoring benchmark's mix) with no segments and with
// 50; the difference per event is what keeping segments exact costs.
func BenchmarkIngestSegments(b *testing.B) {
	for _, db := range storetest.DBs() {
		for _, segs := range []struct{ name, src string }{{"none", ""}, {"50", fiftySegments()}} {
			b.Run(db.Name+"/"+segs.name, func(b *testing.B) {
				s := storetest.Open(b, db, clock.NewFake(storetest.Epoch))
				if segs.src != "" {
					doc, err := segment.ParseDocument([]byte(segs.src))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc}); err != nil {
						b.Fatal(err)
					}
				}
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
				for {
					ok, err := s.RunJob(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						break
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
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*1000), "µs/event")
			})
		}
	}
}

// BenchmarkSegmentBuild measures the full build of a new segment with one
// field condition and one 14-day behaviour condition over
// NURTURE_BENCH_SEGMENT_CONTACTS contacts (default 100,000) with two page
// views each.
func BenchmarkSegmentBuild(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_SEGMENT_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			clk := clock.NewFake(storetest.Epoch.Add(10 * 24 * time.Hour))
			s := storetest.Open(b, db, clk)
			applyRules(b, s, noRules)
			var batch []store.EventInput
			flush := func() {
				for _, r := range s.AppendEvents(ctx, batch) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				batch = batch[:0]
			}
			for i := range n {
				email := fmt.Sprintf("c%d@example.com", i)
				url := "https://x.test/blog"
				if i%4 == 0 {
					url = "https://x.test/pricing"
				}
				at := storetest.Epoch.Add(time.Duration(i%(20*24)) * time.Hour)
				batch = append(batch, store.EventInput{Email: email, Type: "page_viewed", OccurredAt: at, Source: "api",
					Properties: []byte(`{"url":"` + url + `"}`)})
				batch = append(batch, store.EventInput{Email: email, Type: "page_viewed", OccurredAt: at.Add(time.Hour), Source: "api",
					Properties: []byte(`{"url":"` + url + `"}`)})
				if len(batch) >= 5000 {
					flush()
				}
			}
			flush()
			for i := range n / 2 {
				if _, err := s.PatchContact(ctx, int64(2*i+1), contact.Input{Country: "FR"}, "api"); err != nil {
					b.Fatal(err)
				}
				if i > 5000 {
					break // enough French contacts for a realistic mix
				}
			}
			b.ResetTimer()
			for k := 0; b.Loop(); k++ {
				doc, err := segment.ParseDocument([]byte(fmt.Sprintf(`segments:
  - name: build-%d
    rule: country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 1
`, k)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc}); err != nil {
					b.Fatal(err)
				}
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
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
		})
	}
}
