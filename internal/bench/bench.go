// Package bench measures Nurture's ingest path end to end, the way a client
// sees it: a real server on loopback, real HTTP, a real database. It backs the
// `nurture bench` command and the figures in docs/benchmarks.md.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/web"
)

// Config says what to measure. Zero values take the defaults in brackets.
type Config struct {
	Store     store.Config // an empty database of the kind to measure
	Events    int          // events to ingest in batches [1,000,000]
	BatchSize int          // events per batch request [1,000]
	Senders   int          // concurrent batch senders [4]
	Upserts   int          // single-contact upserts [50,000]
	Clients   int          // concurrent upsert clients [32]
	Progress  io.Writer    // progress lines; nil for none
}

// Result holds the figures.
type Result struct {
	Dialect       string
	Events        int
	EventsPerSec  float64
	Upserts       int
	UpsertsPerSec float64
	UpsertP50     time.Duration
	UpsertP99     time.Duration
	Storage       store.Storage
	BytesPerEvent float64 // events table and its indexes, per event
}

// Run creates the server, runs the upsert then the batch-ingest phase, and
// measures storage. It fails on any non-2xx answer.
func Run(ctx context.Context, cfg Config) (Result, error) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Events, 1_000_000)
	def(&cfg.BatchSize, 1000)
	def(&cfg.Senders, 4)
	def(&cfg.Upserts, 50_000)
	def(&cfg.Clients, 32)
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return Result{}, err
	}
	key, _, err := st.CreateAPIKey(ctx, "bench")
	if err != nil {
		return Result{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: web.New(web.Config{Store: st, DefaultRegion: "FR", Logger: nil})}
	go srv.Serve(ln)
	defer srv.Close()
	c := &client{
		base: "http://" + ln.Addr().String(), key: key,
		http: &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}, Timeout: time.Minute},
	}
	res := Result{Dialect: st.Dialect(), Upserts: cfg.Upserts, Events: cfg.Events}

	fmt.Fprintf(cfg.Progress, "upserts: %d with %d concurrent clients\n", cfg.Upserts, cfg.Clients)
	ids, lat, elapsed, err := c.upserts(ctx, cfg)
	if err != nil {
		return res, err
	}
	res.UpsertsPerSec = float64(cfg.Upserts) / elapsed.Seconds()
	slices.Sort(lat)
	res.UpsertP50, res.UpsertP99 = lat[len(lat)/2], lat[len(lat)*99/100]

	fmt.Fprintf(cfg.Progress, "events: %d in batches of %d from %d senders\n", cfg.Events, cfg.BatchSize, cfg.Senders)
	elapsed, err = c.batches(ctx, cfg, ids)
	if err != nil {
		return res, err
	}
	res.EventsPerSec = float64(cfg.Events) / elapsed.Seconds()
	if res.Storage, err = st.MeasureStorage(ctx); err != nil {
		return res, err
	}
	res.BytesPerEvent = float64(res.Storage.EventBytes) / float64(res.Storage.Events)
	return res, nil
}

type client struct {
	base, key string
	http      *http.Client
}

func (c *client) send(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

var (
	sources = []string{"webinar", "ads", "seo", "referral", "linkedin"}
	offers  = []string{"audit", "training", "consulting", "software"}
)

// upserts sends cfg.Upserts PUT /contacts from cfg.Clients goroutines; one in
// five updates a contact created earlier (its next step changes), the rest
// create new ones.
func (c *client) upserts(ctx context.Context, cfg Config) ([]int64, []time.Duration, time.Duration, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	ids := make([]int64, 0, cfg.Upserts)
	lat := make([]time.Duration, 0, cfg.Upserts)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myIDs []int64
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Upserts {
					break
				}
				n := i
				if i%5 == 4 {
					n = i - 4 // an update of the contact request i-4 created
				}
				body, _ := json.Marshal(map[string]any{
					"email": fmt.Sprintf("Lead%d@Example.com", n), "first_name": "Lead", "last_name": fmt.Sprint(n),
					"company": fmt.Sprintf("Company %d", n%997), "country": "FR", "source": sources[n%len(sources)],
					"offer": offers[n%len(offers)], "next_step": fmt.Sprintf("call back (request %d)", i),
					"tags": []string{"bench"},
				})
				var out struct{ ID int64 }
				t0 := time.Now()
				if err := c.send(ctx, http.MethodPut, "/api/v1/contacts", body, &out); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				myIDs = append(myIDs, out.ID)
			}
			mu.Lock()
			lat = append(lat, mine...)
			ids = append(ids, myIDs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, nil, 0, firstErr
	}
	slices.Sort(ids)
	return slices.Compact(ids), lat, elapsed, nil
}

var pages = []string{"/pricing", "/blog/lead-nurturing", "/contact", "/case-studies/acme", "/features", "/blog/speed-to-lead"}

// batches sends cfg.Events page views on the contacts in ids, cfg.BatchSize
// per request, from cfg.Senders goroutines.
func (c *client) batches(ctx context.Context, cfg Config, ids []int64) (time.Duration, error) {
	nBatches := (cfg.Events + cfg.BatchSize - 1) / cfg.BatchSize
	var next, done atomic.Int64
	errc := make(chan error, cfg.Senders)
	var wg sync.WaitGroup
	start := time.Now()
	for s := range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 42))
			type item struct {
				ContactID  int64          `json:"contact_id"`
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			}
			for {
				b := int(next.Add(1)) - 1
				if b >= nBatches {
					return
				}
				n := min(cfg.BatchSize, cfg.Events-b*cfg.BatchSize)
				items := make([]item, n)
				for i := range items {
					items[i] = item{ContactID: ids[rng.IntN(len(ids))], Type: "page_viewed",
						Properties: map[string]any{"url": pages[rng.IntN(len(pages))]}}
				}
				body, _ := json.Marshal(map[string]any{"events": items})
				var out struct{ Accepted int }
				if err := c.send(ctx, http.MethodPost, "/api/v1/events/batch", body, &out); err != nil {
					errc <- err
					return
				}
				if out.Accepted != n {
					errc <- fmt.Errorf("batch %d: %d of %d accepted", b, out.Accepted, n)
					return
				}
				if d := done.Add(1); d%int64(max(1, nBatches/10)) == 0 {
					fmt.Fprintf(cfg.Progress, "  %d/%d batches, %.0f events/s\n", d, nBatches,
						float64(d)*float64(cfg.BatchSize)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return elapsed, nil
}
