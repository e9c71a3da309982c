package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
	"github.com/nurturehq/nurture/internal/web"
)

func TestPublicPagesAreRateLimited(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store, clk *clock.Fake) {
		sign, _ := track.NewSigner(st.Key("tracking"))
		srv := httptest.NewServer(web.New(web.Config{Store: st, Clock: clk, Logger: slog.New(slog.DiscardHandler),
			Signer: sign, PublicRate: 1, PublicBurst: 5}))
		t.Cleanup(srv.Close)
		codes := map[int]int{}
		for range 20 {
			resp, err := http.Get(srv.URL + "/t/o/not-a-token")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes[resp.StatusCode]++
		}
		if codes[http.StatusOK] < 5 || codes[http.StatusTooManyRequests] < 10 {
			t.Errorf("statuses = %v; want the burst served and the rest refused with 429", codes)
		}
		// The API is not limited this way.
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("healthz after the flood: %v %v", resp.StatusCode, err)
		}
	})
}
