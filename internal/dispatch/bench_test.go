package dispatch_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
)

// benchHTML is a ~6 KB newsletter with three tracked links, personalised
// in four places (greeting, company twice, sign-off), as newsletters are.
var benchHTML = func() string {
	var b strings.Builder
	b.WriteString(`<html><body><h1>Hello {{ contact.first_name | default: "there" }},</h1>`)
	for i := range 3 {
		fmt.Fprintf(&b, `<p><a href="https://acme.test/articles/%d?utm_source=nurture">Article %d</a></p>`, i, i)
	}
	b.WriteString(`<p>What teams like {{ contact.company | default: "yours" }} asked us this month:</p>`)
	for b.Len() < 5800 {
		b.WriteString(`<p>Our team wrote this paragraph to fill the newsletter with text that reads like a real one would, with a few more words.</p>`)
	}
	b.WriteString(`<p>See you soon at {{ contact.company | default: "your office" }}, {{ contact.first_name }}.</p>`)
	b.WriteString(`<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`)
	return b.String()
}()

// BenchmarkSend sends NURTURE_BENCH_SEND_MESSAGES (default 10,000)
// personalised messages, DKIM-signed, through the outbox to a loopback SMTP
// server, and reports messages per second and the process's peak RSS.
// NURTURE_BENCH_DKIM picks the key: ed25519 (default), rsa2048, rsa1024, or
// none (no signature). NURTURE_BENCH_SMTP=go-smtp sends to the go-smtp
// server the tests use instead of the minimal sink; sink-data to the sink
// without CHUNKING (pipelined DATA), sink-plain without PIPELINING either.
//
//	go test -run '^$' -bench Send -benchtime 1x ./internal/dispatch/
func BenchmarkSend(b *testing.B) {
	n := 10000
	if v := os.Getenv("NURTURE_BENCH_SEND_MESSAGES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	var key crypto.Signer
	switch os.Getenv("NURTURE_BENCH_DKIM") {
	case "rsa2048":
		key, _ = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		key, _ = rsa.GenerateKey(rand.Reader, 1024)
	default:
		_, key, _ = ed25519.GenerateKey(rand.Reader)
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		clk := clock.NewFake(storetest.Epoch)
		s := storetest.Open(b, storetest.DBs()[0], clk)
		// The go-smtp server is the one the tests use; the sink is a minimal
		// SMTP responder, so that the figure is the sender's.
		var srv interface {
			URL() string
			Count() int64
			Close()
		}
		switch os.Getenv("NURTURE_BENCH_SMTP") {
		case "go-smtp":
			full, err := smtptest.Start()
			if err != nil {
				b.Fatal(err)
			}
			full.Discard()
			srv = full
		default:
			// sink-data: no CHUNKING, so DATA; sink-plain: no PIPELINING either.
			sink, err := smtptest.StartSinkWith(smtptest.SinkOptions{
				NoChunking:   os.Getenv("NURTURE_BENCH_SMTP") == "sink-data" || os.Getenv("NURTURE_BENCH_SMTP") == "sink-plain",
				NoPipelining: os.Getenv("NURTURE_BENCH_SMTP") == "sink-plain",
			})
			if err != nil {
				b.Fatal(err)
			}
			srv = sink
		}
		relay, _ := email.ParseRelayURL(srv.URL() + "&connections=8")
		pool, err := email.NewPool(relay, nil)
		if err != nil {
			b.Fatal(err)
		}
		var keys []email.DKIM
		if os.Getenv("NURTURE_BENCH_DKIM") != "none" {
			keys = append(keys, email.DKIM{Domain: "acme.test", Selector: "s1", Key: key})
		}
		builder, err := email.NewBuilder("bench", keys...)
		if err != nil {
			b.Fatal(err)
		}
		signer, _ := track.NewSigner(s.Key("tracking"))
		d := dispatch.New(dispatch.Config{Store: s, Clock: clk, Concurrency: 16, Email: &dispatch.Email{
			Relay: pool, Builder: builder, Signer: signer, Tracking: true, PublicURL: "https://nurture.acme.test",
			Marketing: email.Address{Name: "Acme", Addr: "news@acme.test"}, Transactional: email.Address{Addr: "hello@acme.test"},
		}})
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "news", Channel: "email", Subject: "News for {{ contact.first_name }}", HTML: benchHTML}); err != nil {
			b.Fatal(err)
		}
		fill(b, s, n)
		runtime.GC()
		if os.Getenv("NURTURE_BENCH_FREE") != "" {
			debug.FreeOSMemory()
		}
		clearRefs()
		startRSS := procStatus("VmRSS:")
		stopHeap, heapPeak := sampleHeap()
		b.StartTimer()
		stopProfile := profileCPU(b)
		start := time.Now()
		if _, err := d.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		stopProfile()
		b.StopTimer()
		stopHeap()
		if os.Getenv("NURTURE_BENCH_DIAG") != "" {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			smaps, _ := os.ReadFile("/proc/self/smaps_rollup")
			b.Logf("go sys %d MB, heap inuse %d MB, heap released %d MB, stack %d MB\n%s", ms.Sys>>20, ms.HeapInuse>>20, ms.HeapReleased>>20, ms.StackSys>>20, smaps)
		}
		if got := srv.Count(); got != int64(n) {
			b.Fatalf("server got %d messages; want %d", got, n)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "msg/s")
		b.ReportMetric(float64(startRSS)/(1<<20), "start-RSS-MB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(heapPeak())/(1<<20), "peak-heap-MB")
		pool.Close()
		srv.Close()
	}
}

// fill makes n contacts and queues one message to each, from many
// goroutines so the writer commits them in groups.
func fill(b *testing.B, s *store.Store, n int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "import", Input: contact.Input{
					Email: fmt.Sprintf("lead%d@example.com", i), FirstName: fmt.Sprintf("Lead%d", i), Company: "Acme"}})
				if err != nil {
					b.Error(err)
					continue
				}
				if _, err := s.QueueMessage(ctx, store.MessageInput{ContactID: res.Contact.ID, Template: "news",
					Kind: store.KindMarketing, Source: "bench", List: "Newsletter"}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// profileCPU writes a CPU profile of the sending alone (not the filling)
// to the file NURTURE_BENCH_CPUPROFILE names, when it is set.
func profileCPU(b *testing.B) (stop func()) {
	path := os.Getenv("NURTURE_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// clearRefs resets the kernel's peak RSS so peakRSS measures from here.
func clearRefs() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM in bytes (Linux), 0 elsewhere.
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus is a /proc/self/status figure in bytes (Linux), 0 elsewhere.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampleHeap records the Go heap's peak (live and garbage not yet
// collected) every 50 ms until stopped: the process's RSS also holds
// SQLite's page cache, which this does not.
func sampleHeap() (stop func(), peak func() uint64) {
	var mu sync.Mutex
	var max uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			if ms.HeapAlloc > max {
				max = ms.HeapAlloc
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }, func() uint64 { mu.Lock(); defer mu.Unlock(); return max }
}
