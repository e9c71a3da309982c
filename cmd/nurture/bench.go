package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/nurturehq/nurture/internal/bench"
	"github.com/nurturehq/nurture/internal/store"
)

// BenchCmd measures ingest on a throwaway database: a fresh SQLite file in a
// temporary directory, or a fresh schema in the PostgreSQL named by --database.
type BenchCmd struct {
	Events  int `name:"events" default:"1000000" help:"Events to ingest in batches."`
	Batch   int `name:"batch" default:"1000" help:"Events per batch request."`
	Senders int `name:"senders" default:"4" help:"Concurrent batch senders."`
	Upserts int `name:"upserts" default:"50000" help:"Single-contact upserts over HTTP."`
	Clients int `name:"clients" default:"32" help:"Concurrent upsert clients."`
}

// Run runs the benchmark and prints its figures.
func (c *BenchCmd) Run(g *Globals) error {
	ctx := context.Background()
	cfg := bench.Config{Events: c.Events, BatchSize: c.Batch, Senders: c.Senders, Upserts: c.Upserts,
		Clients: c.Clients, Progress: g.stderr}
	if g.Database != "" {
		schema, cleanup, err := store.FreshSchema(ctx, g.Database, "bench_")
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.Store.DatabaseURL = schema
	} else {
		dir, err := os.MkdirTemp("", "nurture-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Store.DataDir = dir
	}
	start := time.Now()
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "database:          %s\n", r.Dialect)
	fmt.Fprintf(g.stdout, "machine:           %d CPUs, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(g.stdout, "upserts over HTTP: %d with %d clients: %.0f req/s, p50 %s, p99 %s\n",
		r.Upserts, c.Clients, r.UpsertsPerSec, r.UpsertP50.Round(10*time.Microsecond), r.UpsertP99.Round(10*time.Microsecond))
	fmt.Fprintf(g.stdout, "batch ingest:      %d events in batches of %d: %.0f events/s\n", r.Events, c.Batch, r.EventsPerSec)
	fmt.Fprintf(g.stdout, "storage:           %d events, %.1f bytes/event (events table + indexes); whole database %.1f MB with %d contacts\n",
		r.Storage.Events, r.BytesPerEvent, float64(r.Storage.TotalBytes)/1e6, r.Storage.ContactRows)
	fmt.Fprintf(g.stdout, "took:              %s\n", time.Since(start).Round(time.Second))
	return nil
}
