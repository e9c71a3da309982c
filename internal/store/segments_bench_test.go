package store_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
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
				runJobs(b, s)
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

// BenchmarkSegmentBuild measures the full build of a new segment over
// NURTURE_BENCH_SEGMENT_CONTACTS contacts (default 100,000), each with two
// page views over 20 days (a quarter of them of /pricing), one in ten in
// France. Two rules:
//   - field-and-window, the case: country == "FR" and a 14-day
//     pricing-view count (the build looks at French contacts only);
//   - window-only, the worst case: the count alone, so every contact is
//     looked at and every pricing viewer's behaviour completed from the log.
//
// NURTURE_BENCH_SEGMENT_DIR keeps the SQLite database in that directory and
// reuses it on the next run (setting up 1,000,000 contacts takes minutes).
func BenchmarkSegmentBuild(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_SEGMENT_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	rules := []struct{ name, rule string }{
		{"field-and-window", `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 1`},
		{"window-only", `count("page_viewed", "14d", event.url contains "/pricing") >= 1`},
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			clk := clock.NewFake(storetest.Epoch.Add(20 * 24 * time.Hour))
			var s *store.Store
			if dir := os.Getenv("NURTURE_BENCH_SEGMENT_DIR"); dir == "" || db.Name != "sqlite" {
				s = storetest.Open(b, db, clk)
			} else {
				var err error
				if s, err = store.Open(ctx, store.Config{DataDir: dir, Clock: clk}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				if err := s.Migrate(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if c, err := s.GetContact(ctx, int64(n)); err != nil || c.Country != "" {
				seedSegmentBench(b, s, n) // else set up by an earlier run (contact n is not French)
			}
			for _, r := range rules {
				b.Run(r.name, func(b *testing.B) {
					for k := 0; b.Loop(); k++ {
						name := fmt.Sprintf("bench-%s-%d", r.name, k)
						doc, err := segment.ParseDocument([]byte("segments:\n  - name: " + name + "\n    rule: '" + r.rule + "'\n"))
						if err != nil {
							b.Fatal(err)
						}
						if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc}); err != nil {
							b.Fatal(err)
						}
						runJobs(b, s)
						b.StopTimer()
						seg, err := s.GetSegment(ctx, name)
						if err != nil {
							b.Fatal(err)
						}
						b.ReportMetric(float64(seg.Members), "members")
						if err := s.DeleteSegment(ctx, name); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
				})
			}
		})
	}
}

// seedSegmentBench makes n contacts with two page views each and one in ten
// in France.
func seedSegmentBench(b testing.TB, s *store.Store, n int) {
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
		for _, dt := range []time.Duration{0, time.Hour} {
			batch = append(batch, store.EventInput{Email: email, Type: "page_viewed", OccurredAt: at.Add(dt), Source: "api",
				Properties: []byte(`{"url":"` + url + `"}`)})
		}
		if len(batch) >= 5000 {
			flush()
		}
	}
	flush()
	// Patches from several goroutines share commits.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for id := int64(1 + w*10); id <= int64(n); id += 80 {
				if _, err := s.PatchContact(ctx, id, contact.Input{Country: "FR"}, "api"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	runJobs(b, s) // the rules' rescore is not the build
}

// BenchmarkSegmentMemory measures the process's peak resident memory while
// it holds NURTURE_BENCH_SEGMENT_CONTACTS contacts (default 100,000; the
// build benchmark's database), scores them with the default rules, builds
// 50 segments over them and ingests 100,000 more events. The peak is
// reset (/proc/self/clear_refs) once the contacts exist, so setting them up
// does not count. With NURTURE_BENCH_SEGMENT_DIR set, the build benchmark's
// database is copied from there instead of made again.
func BenchmarkSegmentMemory(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("NURTURE_BENCH_SEGMENT_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	clk := clock.NewFake(storetest.Epoch.Add(20 * 24 * time.Hour))
	dir := b.TempDir()
	if from := os.Getenv("NURTURE_BENCH_SEGMENT_DIR"); from != "" {
		for _, name := range []string{"nurture.db", "nurture.db-wal"} {
			if err := copyFile(filepath.Join(from, name), filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
		}
	}
	s, err := store.Open(ctx, store.Config{DataDir: dir, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if c, err := s.GetContact(ctx, int64(n)); err != nil || c.Country != "" {
		seedSegmentBench(b, s, n)
	}
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak resident memory: %v", err)
	}
	startRSS := procStatusMB("VmRSS:")
	for b.Loop() {
		start := time.Now()
		applyRules(b, s, string(score.DefaultSource()))
		runJobs(b, s)
		rescored := time.Since(start)
		peakRescore := procStatusMB("VmHWM:")
		doc, err := segment.ParseDocument([]byte(fiftySegments()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc}); err != nil {
			b.Fatal(err)
		}
		runJobs(b, s)
		built := time.Since(start) - rescored
		peakBuild := procStatusMB("VmHWM:")
		batch := make([]store.EventInput, 1000)
		for k := range 100 {
			at := clk.Now().Add(time.Duration(k) * time.Second)
			for i := range batch {
				batch[i] = benchEvent(k*1000+i*997, n, at)
			}
			for _, r := range s.AppendEvents(ctx, batch) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.ReportMetric(peakRescore, "MB-peak-after-rescore")
		b.ReportMetric(peakBuild, "MB-peak-after-build")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap-inuse")
		b.ReportMetric(float64(ms.Sys)/(1<<20), "MB-go-sys")
		b.ReportMetric(rescored.Seconds(), "s-rescore")
		b.ReportMetric(built.Seconds(), "s-build-50")
	}
	peak, rss := procStatusMB("VmHWM:"), procStatusMB("VmRSS:")
	b.ReportMetric(startRSS, "MB-RSS-start")
	b.ReportMetric(peak, "MB-peak-RSS")
	b.ReportMetric(rss, "MB-RSS")
}

// procStatusMB reads a memory line of /proc/self/status, in MB.
func procStatusMB(key string) float64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
