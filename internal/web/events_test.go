package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/web"
)

type batchResult struct {
	Accepted  int               `json:"accepted"`
	Duplicate int               `json:"duplicate"`
	Rejected  int               `json:"rejected"`
	Results   []web.EventResult `json:"results"`
}

// outcome is one batch item's result in a form easy to compare.
type outcome struct {
	status, field string
}

func outcomes(b batchResult) []outcome {
	var out []outcome
	for _, r := range b.Results {
		o := outcome{status: r.Status}
		if r.Error != nil {
			o.field = r.Error.Field
		}
		out = append(out, o)
	}
	return out
}

func eventIDs(b batchResult) []int64 {
	var out []int64
	for _, r := range b.Results {
		out = append(out, r.EventID)
	}
	return out
}

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		at := a.clk.Now().Add(-time.Hour)
		r := a.do(t, "POST", "/api/v1/events", map[string]any{"contact_id": c.ID, "type": "page_viewed",
			"occurred_at": at, "properties": map[string]any{"url": "/pricing"}})
		wantStatus(t, r, http.StatusCreated)
		res := decode[web.EventResult](t, r)
		if res.Status != "accepted" || res.EventID == 0 || res.ContactID != c.ID {
			t.Errorf("result = %+v; want accepted for contact %d", res, c.ID)
		}

		// A custom type, no time (the server's clock), and a contact named by email.
		r = a.do(t, "POST", "/api/v1/events", `{"email": " ADA@example.com", "type": "webinar_attended"}`)
		wantStatus(t, r, http.StatusCreated)
		if got := decode[web.EventResult](t, r); got.ContactID != c.ID {
			t.Errorf("event by email went to contact %d; want %d", got.ContactID, c.ID)
		}

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline", c.ID), nil)
		evs := decode[timeline](t, r).Events
		// Newest first by occurred_at: the page view was an hour before the
		// contact was; scoring moved the lead up a band when it arrived.
		if got, want := eventTypes(evs), []string{"webinar_attended", "field_changed", "score_band_changed", "lead_created", "page_viewed"}; !slices.Equal(got, want) {
			t.Fatalf("timeline = %v; want %v", got, want)
		}
		if got := evs[4]; !got.OccurredAt.Equal(at) || string(got.Properties) != `{"url":"/pricing"}` || got.Source != "api" {
			t.Errorf("page_viewed = %+v; want occurred_at %v, properties {\"url\":\"/pricing\"}, source api", got, at)
		}
		if got := evs[0].OccurredAt; !got.Equal(a.clk.Now()) {
			t.Errorf("occurred_at without one = %v; want the server's now %v", got, a.clk.Now())
		}

		// An unknown email creates the contact.
		r = a.do(t, "POST", "/api/v1/events", `{"email": "new@example.com", "type": "form_submitted"}`)
		wantStatus(t, r, http.StatusCreated)
		res = decode[web.EventResult](t, r)
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", res.ContactID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[contact.Contact](t, r); got.Email != "new@example.com" {
			t.Errorf("contact created by the event = %+v; want new@example.com", got)
		}
	})
}

func TestAppendEventIdempotency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		body := map[string]any{"contact_id": c.ID, "type": "page_viewed"}

		r := a.do(t, "POST", "/api/v1/events", body, "Idempotency-Key", "req-1")
		wantStatus(t, r, http.StatusCreated)
		first := decode[web.EventResult](t, r)
		before := a.counts(t)
		for _, tc := range []struct {
			name   string
			body   any
			header []string
		}{
			{"same header", body, []string{"Idempotency-Key", "req-1"}},
			{"same key in the body", map[string]any{"contact_id": c.ID, "type": "page_viewed", "idempotency_key": "req-1"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", "/api/v1/events", tc.body, tc.header...)
				wantStatus(t, r, http.StatusOK)
				got := decode[web.EventResult](t, r)
				if got.Status != "duplicate" || got.EventID != first.EventID {
					t.Errorf("retry = %+v; want duplicate of event %d", got, first.EventID)
				}
				a.wantCounts(t, before)
			})
		}

		r = a.do(t, "POST", "/api/v1/events", body, "Idempotency-Key", "req-2")
		wantStatus(t, r, http.StatusCreated)
		if got := decode[web.EventResult](t, r); got.EventID == first.EventID {
			t.Errorf("another key stored nothing new: event %d", got.EventID)
		}
	})
}

func TestBatchMixed(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		before := a.counts(t)
		body := fmt.Sprintf(`{"events": [
			{"contact_id": %[1]d, "type": "page_viewed", "properties": {"url": "/"}},
			{"contact_id": 999999, "type": "page_viewed"},
			{"contact_id": %[1]d, "type": "page_viewed", "colour": "blue"},
			"page_viewed",
			{"email": "grace@example.com", "type": "form_submitted"},
			{"contact_id": %[1]d, "type": "lead_created"},
			{"contact_id": %[1]d, "type": "email_opened", "properties": [1]},
			{"contact_id": %[1]d, "type": "email_opened", "occurred_at": "2099-01-01T00:00:00Z"},
			null
		]}`, c.ID)
		r := a.do(t, "POST", "/api/v1/events/batch", body)
		wantStatus(t, r, http.StatusOK)
		got := decode[batchResult](t, r)
		want := []outcome{
			{"accepted", ""},
			{"rejected", "events[1].contact_id"},
			{"rejected", "events[2]"},
			{"rejected", "events[3]"},
			{"accepted", ""},
			{"rejected", "events[5].type"},
			{"rejected", "events[6].properties"},
			{"rejected", "events[7].occurred_at"},
			{"rejected", "events[8].type"},
		}
		if !slices.Equal(outcomes(got), want) {
			t.Errorf("outcomes = %v; want %v", outcomes(got), want)
		}
		if got.Accepted != 2 || got.Duplicate != 0 || got.Rejected != 7 {
			t.Errorf("accepted, duplicate, rejected = %d, %d, %d; want 2, 0, 7", got.Accepted, got.Duplicate, got.Rejected)
		}
		for i, r := range got.Results {
			if r.Index != i {
				t.Errorf("results[%d].index = %d", i, r.Index)
			}
			if r.Status == "rejected" && (r.Error == nil || r.Error.Message == "") {
				t.Errorf("results[%d] = %+v; want a reason", i, r)
			}
		}
		if msg := got.Results[2].Error.Message; !strings.Contains(msg, "colour") {
			t.Errorf("unknown field reason = %q; want it to name colour", msg)
		}
		if msg := got.Results[1].Error.Message; msg != "no such contact" {
			t.Errorf("unknown contact reason = %q; want \"no such contact\"", msg)
		}

		after := a.counts(t)
		if got, want := after["events"]-before["events"], int64(3); got != want {
			t.Errorf("events stored = %d; want %d (two accepted and grace's lead_created)", got, want)
		}
		if got, want := after["contacts"]-before["contacts"], int64(1); got != want {
			t.Errorf("contacts created = %d; want %d (grace)", got, want)
		}
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline", c.ID), nil)
		if got, want := eventTypes(decode[timeline](t, r).Events), []string{"page_viewed", "lead_created"}; !slices.Equal(got, want) {
			t.Errorf("timeline = %v; want %v", got, want)
		}
	})
}

func TestBatchAllRejected(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		before := a.counts(t)
		r := a.do(t, "POST", "/api/v1/events/batch", fmt.Sprintf(`[
			{"contact_id": 999999, "type": "page_viewed"},
			{"contact_id": %d, "type": "Page Viewed"},
			[]
		]`, c.ID))
		p := wantProblem(t, r, http.StatusUnprocessableEntity, "")
		if got, want := p.locations(), []string{"body.events[0].contact_id", "body.events[1].type", "body.events[2]"}; !slices.Equal(got, want) {
			t.Errorf("error locations = %q; want %q", got, want)
		}
		a.wantCounts(t, before)
	})
}

func TestBatchShapes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		item := fmt.Sprintf(`{"contact_id": %d, "type": "page_viewed"}`, c.ID)
		for _, tc := range []struct{ name, body string }{
			{"envelope", `{"events": [` + item + `, ` + item + `]}`},
			{"bare array", `[` + item + `, ` + item + `]`},
			{"bare array with spaces around", "\n [" + item + `, ` + item + "] \n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", "/api/v1/events/batch", tc.body)
				wantStatus(t, r, http.StatusOK)
				if got := decode[batchResult](t, r); got.Accepted != 2 || len(got.Results) != 2 {
					t.Errorf("result = %+v; want 2 accepted", got)
				}
			})
		}
		t.Run("1000 events", func(t *testing.T) {
			before := a.counts(t)
			r := a.do(t, "POST", "/api/v1/events/batch", `[`+strings.Repeat(item+",", 999)+item+`]`)
			wantStatus(t, r, http.StatusOK)
			if got := decode[batchResult](t, r); got.Accepted != 1000 {
				t.Errorf("accepted = %d; want 1000", got.Accepted)
			}
			if got := a.counts(t)["events"] - before["events"]; got != 1000 {
				t.Errorf("events stored = %d; want 1000", got)
			}
		})
	})
}

func TestBatchIdempotency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		body := fmt.Sprintf(`{"events": [
			{"contact_id": %[1]d, "type": "page_viewed"},
			{"contact_id": %[1]d, "type": "email_opened", "idempotency_key": "open-1"},
			{"contact_id": 999999, "type": "page_viewed"}
		]}`, c.ID)
		r := a.do(t, "POST", "/api/v1/events/batch", body, "Idempotency-Key", "batch-1")
		wantStatus(t, r, http.StatusOK)
		first := decode[batchResult](t, r)
		if want := []outcome{{"accepted", ""}, {"accepted", ""}, {"rejected", "events[2].contact_id"}}; !slices.Equal(outcomes(first), want) {
			t.Fatalf("first outcomes = %v; want %v", outcomes(first), want)
		}

		before := a.counts(t)
		r = a.do(t, "POST", "/api/v1/events/batch", body, "Idempotency-Key", "batch-1")
		wantStatus(t, r, http.StatusOK)
		retry := decode[batchResult](t, r)
		if want := []outcome{{"duplicate", ""}, {"duplicate", ""}, {"rejected", "events[2].contact_id"}}; !slices.Equal(outcomes(retry), want) {
			t.Errorf("retry outcomes = %v; want %v", outcomes(retry), want)
		}
		if retry.Duplicate != 2 || retry.Accepted != 0 {
			t.Errorf("retry accepted, duplicate = %d, %d; want 0, 2", retry.Accepted, retry.Duplicate)
		}
		if got, want := eventIDs(retry), eventIDs(first); !slices.Equal(got, want) {
			t.Errorf("retry event ids = %v; want the first ids %v", got, want)
		}
		a.wantCounts(t, before)

		// The keys are the header's plus the index: a single event with one of
		// them is a duplicate too, and a batch under another header key is new.
		r = a.do(t, "POST", "/api/v1/events", fmt.Sprintf(`{"contact_id": %d, "type": "page_viewed"}`, c.ID),
			"Idempotency-Key", "batch-1:0")
		wantStatus(t, r, http.StatusOK)
		if got := decode[web.EventResult](t, r); got.EventID != first.Results[0].EventID {
			t.Errorf("single event with key batch-1:0 = %+v; want duplicate of %d", got, first.Results[0].EventID)
		}
		r = a.do(t, "POST", "/api/v1/events/batch", body, "Idempotency-Key", "batch-2")
		wantStatus(t, r, http.StatusOK)
		if want := []outcome{{"accepted", ""}, {"duplicate", ""}, {"rejected", "events[2].contact_id"}}; !slices.Equal(outcomes(decode[batchResult](t, r)), want) {
			t.Errorf("another header key: outcomes = %v; want %v (the body's own key still wins)", outcomes(decode[batchResult](t, r)), want)
		}
	})
}

func TestEventTypes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "GET", "/api/v1/event-types", nil)
		wantStatus(t, r, http.StatusOK)
		got := decode[[]event.Type](t, r)
		if !slices.Equal(got, event.Registry) {
			t.Errorf("event types = %v; want the registry %v", got, event.Registry)
		}
		if i := slices.IndexFunc(got, func(e event.Type) bool { return e.Name == "lead_created" }); i < 0 || !got[i].System {
			t.Errorf("lead_created is not listed as a system type in %v", got)
		}
	})
}

// A client retrying before its first attempt was answered must not store the
// event twice.
func TestConcurrentRetriesStoreOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		before := a.counts(t)
		const n = 8
		rs := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				rs[i] = a.do(t, "POST", "/api/v1/events", fmt.Sprintf(`{"contact_id": %d, "type": "form_submitted"}`, c.ID),
					"Idempotency-Key", "submit-1")
			})
		}
		wg.Wait()
		accepted := 0
		results := make([]web.EventResult, n)
		for i, r := range rs {
			if r.Status != http.StatusCreated && r.Status != http.StatusOK {
				t.Fatalf("attempt %d: status %d; want 201 or 200\n%s", i, r.Status, r.Raw)
			}
			results[i] = decode[web.EventResult](t, r)
			if results[i].Status == "accepted" {
				accepted++
			}
			if results[i].EventID != results[0].EventID {
				t.Errorf("attempt %d: event %d; want %d, like the others", i, results[i].EventID, results[0].EventID)
			}
		}
		if accepted != 1 {
			t.Errorf("accepted = %d; want 1 (the others duplicates)", accepted)
		}
		if got := a.counts(t)["events"] - before["events"]; got != 1 {
			t.Errorf("events stored = %d; want 1", got)
		}
	})
}

func TestIdempotencyKeyHeaderOfInvalidUTF8IsRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		ev := fmt.Sprintf(`{"contact_id": %d, "type": "page_viewed"}`, c.ID)
		before := a.counts(t)
		for _, tc := range []struct{ name, path, body string }{
			{"event", "/api/v1/events", ev},
			{"batch", "/api/v1/events/batch", "[" + ev + "]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", tc.path, tc.body, "Idempotency-Key", "key-\xff")
				wantProblem(t, r, http.StatusUnprocessableEntity, "")
				a.wantCounts(t, before)
			})
		}
	})
}

func TestEventPropertiesOfInvalidUTF8AreRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		ev := fmt.Sprintf(`{"contact_id": %d, "type": "page_viewed", "properties": {"title": "caf`+"\xe9"+`"}}`, c.ID)
		before := a.counts(t)
		r := a.do(t, "POST", "/api/v1/events", ev)
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.properties")
		r = a.do(t, "POST", "/api/v1/events/batch", "["+ev+"]")
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.events[0].properties")
		a.wantCounts(t, before)
	})
}
