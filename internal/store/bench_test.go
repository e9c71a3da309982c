package store_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// BenchmarkAppendEvents measures the store's side of batch ingest: batches of
// 1,000 page views on 10,000 contacts, one batch per op.
func BenchmarkAppendEvents(b *testing.B) {
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			s := storetest.Open(b, db, clock.NewFake(storetest.Epoch))
			const contacts = 10_000
			var seed []store.EventInput
			for i := range contacts {
				seed = append(seed, store.EventInput{Email: fmt.Sprintf("c%d@example.com", i), Type: "page_viewed", OccurredAt: storetest.Epoch, Source: "api"})
			}
			for _, r := range s.AppendEvents(ctx, seed) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			props := json.RawMessage(`{"url":"/pricing"}`)
			batch := make([]store.EventInput, 1000)
			b.ResetTimer()
			for n := 0; b.Loop(); n++ {
				for i := range batch {
					batch[i] = store.EventInput{ContactID: int64((n*1000+i)%contacts + 1), Type: "page_viewed", OccurredAt: storetest.Epoch, Source: "api", Properties: props}
				}
				for _, r := range s.AppendEvents(ctx, batch) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWriteContact measures concurrent upserts of new contacts, which the
// writer group-commits.
func BenchmarkWriteContact(b *testing.B) {
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			s := storetest.Open(b, db, clock.NewFake(storetest.Epoch))
			var n atomic.Int64
			b.SetParallelism(16) // 32 goroutines on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					in, err := contact.Normalize(contact.Input{Email: fmt.Sprintf("Lead%d@Example.com", i), FirstName: "Lead",
						Company: "ACME", Country: "FR", Source: "ads", Offer: "audit", Tags: []string{"bench"}}, "FR")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.WriteContact(ctx, store.WriteContactParams{Input: in, Source: "api"}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "upserts/s")
		})
	}
}
