package web_test

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape reads /metrics.
func (a *api) scrape(t *testing.T) []sample {
	t.Helper()
	r := a.send(t, "GET", "/metrics", nil)
	wantStatus(t, r, http.StatusOK)
	var out []sample
	for line := range strings.Lines(string(r.Raw)) {
		m := sampleLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// value returns the sample of that name and labels, or 0 when there is none.
func value(samples []sample, name string, labels map[string]string) float64 {
	for _, s := range samples {
		if s.name == name && maps.Equal(s.labels, labels) {
			return s.value
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		wantStatus(t, a.do(t, "PUT", "/api/v1/contacts", `{"email": "ada@example.com", "company": "AE"}`), http.StatusOK)
		wantStatus(t, a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", c.ID), nil), http.StatusOK)
		wantStatus(t, a.do(t, "GET", "/api/v1/contacts/999999", nil), http.StatusNotFound)
		wantStatus(t, a.do(t, "GET", "/api/v1/contacts/-1", nil), http.StatusUnprocessableEntity)
		wantStatus(t, a.send(t, "GET", "/api/v1/contacts", nil), http.StatusUnauthorized)
		wantStatus(t, a.do(t, "GET", "/api/v1/nowhere", nil), http.StatusNotFound)

		ev := fmt.Sprintf(`{"contact_id": %d, "type": "page_viewed"}`, c.ID)
		wantStatus(t, a.do(t, "POST", "/api/v1/events", ev, "Idempotency-Key", "k"), http.StatusCreated)
		wantStatus(t, a.do(t, "POST", "/api/v1/events", ev, "Idempotency-Key", "k"), http.StatusOK) // duplicate
		wantStatus(t, a.do(t, "POST", "/api/v1/events", `{"contact_id": 999999, "type": "x"}`), http.StatusNotFound)
		wantStatus(t, a.do(t, "POST", "/api/v1/events/batch", "["+ev+","+ev+`, {"type": "lead_created"}]`), http.StatusOK)
		wantStatus(t, a.do(t, "POST", "/api/v1/events/batch", `[{"type": "lead_created"}]`), http.StatusUnprocessableEntity)

		samples := a.scrape(t)
		for _, tc := range []struct {
			route, method, status string
			want                  float64
		}{
			{"PUT /api/v1/contacts", "PUT", "201", 1},
			{"PUT /api/v1/contacts", "PUT", "200", 1},
			{"GET /api/v1/contacts/{id}", "GET", "200", 1},
			{"GET /api/v1/contacts/{id}", "GET", "404", 1},
			{"GET /api/v1/contacts/{id}", "GET", "422", 1},
			{"POST /api/v1/events", "POST", "201", 1},
			{"POST /api/v1/events", "POST", "200", 1},
			{"POST /api/v1/events", "POST", "404", 1},
			{"POST /api/v1/events/batch", "POST", "200", 1},
			{"POST /api/v1/events/batch", "POST", "422", 1},
			{"unmatched", "GET", "401", 1},
			{"unmatched", "GET", "404", 1},
		} {
			labels := map[string]string{"route": tc.route, "method": tc.method, "status": tc.status}
			if got := value(samples, "nurture_http_requests_total", labels); got != tc.want {
				t.Errorf("nurture_http_requests_total%v = %g; want %g", labels, got, tc.want)
			}
		}
		for _, s := range samples {
			for seg := range strings.SplitSeq(s.labels["route"], "/") {
				if _, err := strconv.Atoi(seg); err == nil {
					t.Errorf("%s has route label %q; want the pattern, never the raw path", s.name, s.labels["route"])
				}
			}
		}
		// Every successful write above was committed, some perhaps together.
		commits := value(samples, "nurture_store_commits_total", map[string]string{})
		if writes := value(samples, "nurture_store_writes_total", map[string]string{}); commits < 1 || writes < commits {
			t.Errorf("store commits %g, writes %g; want at least one commit and writes >= commits", commits, writes)
		}
		if got, want := value(samples, "nurture_events_ingested_total", map[string]string{}), 3.0; got != want {
			t.Errorf("nurture_events_ingested_total = %g; want %g (1 single, 2 in a batch; no duplicate, no rejected)", got, want)
		}
	})
}
