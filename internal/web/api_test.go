package web_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
	"github.com/nurturehq/nurture/internal/web"
)

var ctx = context.Background()

// api is a real HTTP server over a fresh store, with a live API key.
type api struct {
	st   *store.Store
	clk  *clock.Fake
	srv  *httptest.Server
	key  string
	sign *track.Signer // signs the tokens of the public endpoints
}

// each runs fn against a server on every database storetest offers: SQLite
// always, PostgreSQL when NURTURE_TEST_POSTGRES is set.
func each(t *testing.T, fn func(t *testing.T, a *api)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, st *store.Store, clk *clock.Fake) {
		fn(t, newAPI(t, st, clk))
	})
}

func newAPI(t *testing.T, st *store.Store, clk *clock.Fake) *api {
	t.Helper()
	sign, err := track.NewSigner(st.Key("tracking"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = web.New(web.Config{Store: st, Clock: clk, DefaultRegion: "FR",
		Logger: slog.New(slog.DiscardHandler), Signer: sign, PublicURL: "http://" + srv.Listener.Addr().String(),
		HookSecret: []byte(hex.EncodeToString(st.Key("hooks"))), TwilioToken: twilioToken, SMSHelp: "Acme: reply STOP to opt out.",
		SNSCert: snsCert})
	srv.Start()
	t.Cleanup(srv.Close)
	key, _, err := st.CreateAPIKey(ctx, "test")
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return &api{st: st, clk: clk, srv: srv, key: key, sign: sign}
}

// response is an HTTP answer with its body read and, when it is JSON, decoded.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   any // nil unless the body is JSON
}

// do sends an authenticated request. body is sent as is when it is a string
// or []byte, JSON-encoded otherwise, and not at all when nil. header holds
// extra header name, value pairs: an Authorization among them replaces the
// key, and an empty value removes the header (Content-Type included).
func (a *api) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	return a.send(t, method, path, body, append([]string{"Authorization", "Bearer " + a.key}, header...)...)
}

// send is do without the API key.
func (a *api) send(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	out := response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if ct := res.Header.Get("Content-Type"); strings.Contains(ct, "json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// decode reads the body into a value of type T.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.Raw)
	}
	return v
}

// wantStatus fails the test now unless the response has status code want.
func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %d; want %d\n%s", r.Status, want, r.Raw)
	}
}

// problem is an RFC 9457 error body.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (p problem) locations() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Location)
	}
	return out
}

// wantProblem checks that r is a problem+json with status code want whose
// body repeats the status and, when location is not empty, has an error entry
// at that location (such as "body.phone").
func wantProblem(t *testing.T, r response, want int, location string) problem {
	t.Helper()
	if r.Status != want {
		t.Errorf("status = %d; want %d\n%s", r.Status, want, r.Raw)
	}
	if got := r.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q; want application/problem+json", got)
	}
	p := decode[problem](t, r)
	if p.Status != want {
		t.Errorf("body status = %d; want %d", p.Status, want)
	}
	if location != "" && !slices.Contains(p.locations(), location) {
		t.Errorf("error locations = %q; want one at %q\n%s", p.locations(), location, r.Raw)
	}
	return p
}

// counts returns the number of rows in each table.
func (a *api) counts(t *testing.T) map[string]int64 {
	t.Helper()
	c, err := a.st.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return c
}

// wantCounts checks that no table gained or lost rows since before.
func (a *api) wantCounts(t *testing.T, before map[string]int64) {
	t.Helper()
	if after := a.counts(t); !maps.Equal(after, before) {
		t.Errorf("row counts = %v; want unchanged %v", after, before)
	}
}

// createContact upserts a contact through the API and returns it.
func (a *api) createContact(t *testing.T, body map[string]any) contact.Contact {
	t.Helper()
	r := a.do(t, "PUT", "/api/v1/contacts", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("PUT /api/v1/contacts %v: status %d; want 201\n%s", body, r.Status, r.Raw)
	}
	return decode[contact.Contact](t, r)
}
