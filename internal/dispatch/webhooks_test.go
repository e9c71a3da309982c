package dispatch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// receiver is a webhook subscriber on loopback answering each path with
// the next status of its script (200 when the script is spent).
type receiver struct {
	mu     sync.Mutex
	script map[string][]int
	got    []*http.Request
	bodies [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got, rc.bodies = append(rc.got, r), append(rc.bodies, b)
	status := http.StatusOK
	if sc := rc.script[r.URL.Path]; len(sc) > 0 {
		status, rc.script[r.URL.Path] = sc[0], sc[1:]
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func TestWebhooksSignedRetriedLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		rc := &receiver{script: map[string][]int{"/hook": {http.StatusInternalServerError}}}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		d := dispatch.New(dispatch.Config{Store: s, Clock: clk, Webhooks: &webhook.Client{HTTP: srv.Client(), Clock: clk.Now}})
		wh, err := s.CreateWebhook(ctx, srv.URL+"/hook", []string{"page_viewed"}, "CRM sync")
		if err != nil {
			t.Fatal(err)
		}
		gone, err := s.CreateWebhook(ctx, srv.URL+"/gone", []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Input: contact.Input{Email: "ada@example.com"}, Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if r := s.AppendEvents(ctx, []store.EventInput{{ContactID: res.Contact.ID, Type: "page_viewed", Source: "api",
			OccurredAt: clk.Now(), Properties: json.RawMessage(`{"url":"/pricing"}`)}}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		if _, err := d.DrainWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
		// The first attempt to /hook got 500: it waits for its backoff.
		log, err := s.WebhookDeliveries(ctx, wh.ID, 0, 10)
		if err != nil || len(log) != 1 || log[0].Status != store.DeliveryQueued || log[0].LastStatus != 500 {
			t.Fatalf("log after a 500 = %+v, %v; want queued again with the status", log, err)
		}
		clk.Advance(time.Minute)
		if _, err := d.DrainWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
		log, _ = s.WebhookDeliveries(ctx, wh.ID, 0, 10)
		if log[0].Status != store.DeliveryDelivered || log[0].Attempts != 2 {
			t.Errorf("after the backoff = %+v; want delivered on attempt 2", log[0])
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		var hookHits int
		for i, r := range rc.got {
			if r.URL.Path != "/hook" {
				continue
			}
			hookHits++
			if err := webhook.Verify([]byte(wh.Secret), r.Header.Get(webhook.Header), rc.bodies[i], clk.Now(), 0); err != nil {
				t.Errorf("signature: %v", err)
			}
			var body struct {
				Event struct {
					Type       string          `json:"type"`
					ContactID  int64           `json:"contact_id"`
					Properties json.RawMessage `json:"properties"`
				} `json:"event"`
			}
			if err := json.Unmarshal(rc.bodies[i], &body); err != nil || body.Event.Type != "page_viewed" ||
				body.Event.ContactID != res.Contact.ID || string(body.Event.Properties) != `{"url":"/pricing"}` {
				t.Errorf("body = %s (%v)", rc.bodies[i], err)
			}
			if r.Header.Get(webhook.EventHeader) != "page_viewed" || r.Header.Get(webhook.DeliveryHeader) == "" {
				t.Errorf("headers = %v", r.Header)
			}
		}
		if hookHits != 2 {
			t.Errorf("/hook was called %d times; want 2 (500, then 200)", hookHits)
		}
		// "*" took the contact's lead_created and page_viewed.
		if all, _ := s.WebhookDeliveries(ctx, gone.ID, 0, 10); len(all) < 2 {
			t.Errorf("the * subscription got %d deliveries; want every event", len(all))
		}
	})
}

func TestWebhookGoneStopsAndDisabledGetsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		rc := &receiver{script: map[string][]int{"/": {http.StatusGone}}}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		d := dispatch.New(dispatch.Config{Store: s, Clock: clk, Webhooks: &webhook.Client{HTTP: srv.Client(), Clock: clk.Now}})
		wh, _ := s.CreateWebhook(ctx, srv.URL+"/", []string{"lead_created"}, "")
		if _, err := s.WriteContact(ctx, store.WriteContactParams{Input: contact.Input{Email: "a@example.com"}, Source: "api"}); err != nil {
			t.Fatal(err)
		}
		d.DrainWebhooks(ctx)
		log, _ := s.WebhookDeliveries(ctx, wh.ID, 0, 10)
		if len(log) != 1 || log[0].Status != store.DeliveryFailed || log[0].LastStatus != 410 {
			t.Fatalf("after 410 = %+v; want failed", log)
		}
		if err := s.DisableWebhook(ctx, wh.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteContact(ctx, store.WriteContactParams{Input: contact.Input{Email: "b@example.com"}, Source: "api"}); err != nil {
			t.Fatal(err)
		}
		if log, _ := s.WebhookDeliveries(ctx, wh.ID, 0, 10); len(log) != 1 {
			t.Errorf("a disabled webhook got %d deliveries; want still 1", len(log))
		}
		if err := s.DisableWebhook(ctx, wh.ID); err == nil {
			t.Error("disabling twice succeeded")
		}
	})
}

// Events scoring and segments write in bulk (segment_entered) reach
// webhooks too.
func TestWebhooksGetSegmentEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		saveSegments(t, s, "segments:\n  - name: viewers\n    rule: count(\"page_viewed\", \"14d\") >= 1\n")
		wh, err := s.CreateWebhook(ctx, "http://127.0.0.1:9/x", []string{"segment_entered"}, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Input: contact.Input{Email: "ada@example.com"}, Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if r := s.AppendEvents(ctx, []store.EventInput{{ContactID: res.Contact.ID, Type: "page_viewed", Source: "api",
			OccurredAt: clk.Now()}}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		log, err := s.WebhookDeliveries(ctx, wh.ID, 0, 10)
		if err != nil || len(log) != 1 || log[0].EventType != "segment_entered" {
			t.Fatalf("deliveries = %+v, %v; want the segment_entered of the view", log, err)
		}
		evs, _, _ := s.Timeline(ctx, res.Contact.ID, nil, 50)
		var found bool
		for _, e := range evs {
			found = found || e.ID == log[0].EventID && e.Type == "segment_entered"
		}
		if !found {
			t.Errorf("delivery names event %d, which is not the contact's segment_entered", log[0].EventID)
		}
	})
}
