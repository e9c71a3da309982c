package bench_test

import (
	"context"
	"testing"

	"github.com/nurturehq/nurture/internal/bench"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// TestRunSmall runs the benchmark at a tiny size on every database: the
// figures themselves are not checked (no timing assertions), only that every
// request succeeded and the counts add up.
func TestRunSmall(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			r, err := bench.Run(context.Background(), bench.Config{
				Store: storetest.Config(t, db), Events: 2500, BatchSize: 500, Senders: 2, Upserts: 300, Clients: 8,
			})
			if err != nil {
				t.Fatal(err)
			}
			// 300 upserts make 240 contacts (lead_created each) and 60 updates
			// (field_changed each), then 2,500 page views; scoring adds the
			// events of the band crossings those views cause.
			if want := int64(240 + 60 + 2500); r.Storage.ContactRows != 240 || r.Storage.Events < want || r.Storage.Events > 2*want {
				t.Errorf("stored %d contacts and %d events; want 240 and %d plus scoring's", r.Storage.ContactRows, r.Storage.Events, want)
			}
			if r.Dialect != db.Name || r.EventsPerSec <= 0 || r.UpsertsPerSec <= 0 || r.UpsertP99 < r.UpsertP50 || r.BytesPerEvent <= 0 {
				t.Errorf("result = %+v", r)
			}
		})
	}
}
