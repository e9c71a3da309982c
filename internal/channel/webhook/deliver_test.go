package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newClient returns a client whose clock always says now.
func newClient(now time.Time) *Client {
	return &Client{Clock: func() time.Time { return now }}
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// serveBlocking starts a server whose handler calls started, if any, and
// then answers nothing until the client hangs up or the test ends.
func serveBlocking(t *testing.T, started func()) *httptest.Server {
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		if started != nil {
			started()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	// Cleanups run last first: this one before the server's Close, which
	// waits for handlers.
	t.Cleanup(func() { close(release) })
	return srv
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *webhook.Error", err, err)
	}
	return e
}

func TestDeliverSignedAndVerified(t *testing.T) {
	t.Parallel()
	type received struct {
		verify                            error
		method, ctype, ua, id, event, sig string
		body                              string
	}
	got := make(chan received, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{
			verify: Verify(secret, r.Header.Get(Header), b, signed.Add(time.Minute), 0),
			method: r.Method, ctype: r.Header.Get("Content-Type"), ua: r.Header.Get("User-Agent"),
			id: r.Header.Get(DeliveryHeader), event: r.Header.Get(EventHeader), sig: r.Header.Get(Header),
			body: string(b),
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thanks")
	})
	res, err := newClient(signed).Deliver(context.Background(), Delivery{
		URL: srv.URL + "/hooks?x=1", Secret: secret, Body: body, ID: "dlv_1", Event: "lead.created",
	})
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if res.Status != http.StatusAccepted || res.Body != "thanks" {
		t.Errorf("Result = %+v; want 202 thanks", res)
	}
	r := <-got
	if r.verify != nil {
		t.Errorf("Verify on the receiving side: %v", r.verify)
	}
	want := received{
		method: "POST", ctype: "application/json", ua: DefaultUserAgent, id: "dlv_1", event: "lead.created",
		sig: Sign(secret, signed, body), body: string(body),
	}
	if r != want {
		t.Errorf("received %+v; want %+v", r, want)
	}
}

func TestDeliverUserAgentAndNoOptionalHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header })
	c := newClient(signed)
	c.UserAgent = "Nurture/2.0 (+https://nurture.example)"
	c.HTTP = &http.Client{}
	if _, err := c.Deliver(context.Background(), Delivery{URL: srv.URL, Secret: secret, Body: body}); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if h.Get("User-Agent") != c.UserAgent {
		t.Errorf("User-Agent = %q; want %q", h.Get("User-Agent"), c.UserAgent)
	}
	if _, ok := h[DeliveryHeader]; ok {
		t.Errorf("%s sent without an id", DeliveryHeader)
	}
	if _, ok := h[EventHeader]; ok {
		t.Errorf("%s sent without an event", EventHeader)
	}
}

func TestDeliverRetryThenSuccess(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "database is down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	c := newClient(signed)
	d := Delivery{URL: srv.URL, Secret: secret, Body: body, ID: "dlv_2"}
	res, err := c.Deliver(context.Background(), d)
	e := asError(t, err)
	if e.Permanent || e.Gone || e.Status != 500 {
		t.Errorf("first Deliver error = %+v; want temporary 500", e)
	}
	if res.Status != 500 || res.Body != "database is down\n" {
		t.Errorf("first Result = %+v; want 500 with the reply", res)
	}
	if res, err = c.Deliver(context.Background(), d); err != nil || res.Status != 200 {
		t.Errorf("second Deliver = %+v, %v; want 200", res, err)
	}
}

func TestDeliverStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status          int
		permanent, gone bool
	}{
		{200, false, false},
		{204, false, false},
		{299, false, false},
		{400, true, false},
		{401, true, false},
		{403, true, false},
		{404, true, false},
		{408, false, false},
		{410, true, true},
		{413, true, false},
		{422, true, false},
		{425, false, false},
		{429, false, false},
		{500, false, false},
		{502, false, false},
		{503, false, false},
		{599, false, false},
		{600, true, false},
	}
	for _, tt := range tests {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) })
		res, err := newClient(signed).Deliver(context.Background(), Delivery{URL: srv.URL, Secret: secret, Body: body})
		if res.Status != tt.status {
			t.Errorf("status %d: Result.Status = %d", tt.status, res.Status)
		}
		if tt.status < 300 {
			if err != nil {
				t.Errorf("status %d: Deliver error %v; want success", tt.status, err)
			}
			continue
		}
		e := asError(t, err)
		if e.Permanent != tt.permanent || e.Gone != tt.gone || e.Status != tt.status {
			t.Errorf("status %d: error %+v; want permanent %v, gone %v", tt.status, e, tt.permanent, tt.gone)
		}
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	for _, code := range []int{301, 302, 303, 307, 308} {
		mux.HandleFunc("/"+strconv.Itoa(code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/final", code)
		})
	}
	srv := serve(t, mux.ServeHTTP)
	// A client that would follow: Deliver must override it.
	c := newClient(signed)
	c.HTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for _, code := range []int{301, 302, 303, 307, 308} {
		res, err := c.Deliver(context.Background(), Delivery{URL: srv.URL + "/" + strconv.Itoa(code), Secret: secret, Body: body})
		e := asError(t, err)
		if !e.Permanent || e.Status != code || res.Status != code {
			t.Errorf("%d: Result %+v, error %+v; want a permanent failure with the status", code, res, e)
		}
		if !strings.Contains(err.Error(), "redirects are not followed") {
			t.Errorf("%d: error %q does not say why", code, err)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect target was requested %d times", n)
	}
}

func TestDeliverTimeout(t *testing.T) {
	t.Parallel()
	// The handler answers only once the client has gone, so the outcome
	// does not depend on how long anything takes.
	srv := serveBlocking(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := newClient(signed).Deliver(ctx, Delivery{URL: srv.URL, Secret: secret, Body: body})
	e := asError(t, err)
	if e.Permanent || e.Status != 0 || res.Status != 0 {
		t.Errorf("Result %+v, error %+v; want a temporary failure without status", res, e)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v; want it to wrap context.DeadlineExceeded", err)
	}
}

func TestDeliverCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	srv := serveBlocking(t, cancel)
	_, err := newClient(signed).Deliver(ctx, Delivery{URL: srv.URL, Secret: secret, Body: body})
	if e := asError(t, err); e.Permanent || !errors.Is(err, context.Canceled) {
		t.Errorf("error %+v; want temporary, wrapping context.Canceled", e)
	}
}

func TestDeliverOversizedReply(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := strings.Repeat("é", 512) // 1 KiB, and a rune across the cut
		for range 1024 {
			if _, err := io.WriteString(w, "x"+chunk); err != nil {
				return // the client hung up, as it should
			}
		}
	})
	res, err := newClient(signed).Deliver(context.Background(), Delivery{URL: srv.URL, Secret: secret, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Body) > MaxReplyBody+2 || !strings.HasPrefix(res.Body, "xéé") {
		t.Errorf("Result.Body is %d bytes, starting %.10q; want the first %d", len(res.Body), res.Body, MaxReplyBody)
	}
	if !strings.HasSuffix(res.Body, "\uFFFD") {
		t.Errorf("Result.Body ends %q; want the cut rune replaced", res.Body[len(res.Body)-4:])
	}
}

func TestDeliverNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/s3cr3t"
	srv.Close()
	res, err := newClient(signed).Deliver(context.Background(), Delivery{URL: url, Secret: secret, Body: body})
	if e := asError(t, err); e.Permanent || e.Status != 0 || res.Status != 0 {
		t.Errorf("Result %+v, error %+v; want a temporary failure", res, e)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q shows the URL", err)
	}
}

func TestDeliverBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://example.com/", "/relative", "https://user:pw@example.com/"} {
		_, err := newClient(signed).Deliver(context.Background(), Delivery{URL: u, Secret: secret, Body: body})
		if e := asError(t, err); !e.Permanent {
			t.Errorf("Deliver to %q: %+v; want a permanent failure", u, e)
		}
	}
}

func TestDeliverNeedsClock(t *testing.T) {
	t.Parallel()
	_, err := (&Client{}).Deliver(context.Background(), Delivery{URL: "https://example.com/", Secret: secret, Body: body})
	if err == nil {
		t.Fatal("Deliver without a clock succeeded")
	}
}

func TestPublicTransportRefusesLoopback(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := newClient(signed)
	c.HTTP = &http.Client{Transport: PublicTransport()}
	_, err := c.Deliver(context.Background(), Delivery{URL: srv.URL, Secret: secret, Body: body})
	e := asError(t, err)
	if !e.Permanent || !errors.Is(err, ErrNotPublic) {
		t.Errorf("error %+v; want permanent, wrapping ErrNotPublic", e)
	}
	if hits.Load() != 0 {
		t.Error("the server was reached")
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url        string
		ok, public bool
	}{
		{"https://hooks.example.com/nurture", true, true},
		{"http://example.com:8080/x?y=1", true, true},
		{"HTTPS://EXAMPLE.COM/", true, true},
		{"https://93.184.215.14/hook", true, true},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook", true, true},
		{"http://127.0.0.1:9000/hook", true, false},
		{"http://localhost/hook", true, false},
		{"http://LOCALHOST./hook", true, false},
		{"http://app.localhost/hook", true, false},
		{"http://10.1.2.3/", true, false},
		{"http://172.16.0.1/", true, false},
		{"http://192.168.1.1/", true, false},
		{"http://169.254.169.254/latest/meta-data", true, false},
		{"http://100.64.0.1/", true, false},
		{"http://0.0.0.0/", true, false},
		{"http://[::1]/", true, false},
		{"http://[fd00::1]/", true, false},
		{"http://[fe80::1]/", true, false},
		{"http://[::ffff:127.0.0.1]/", true, false},
		{"http://[64:ff9b::a00:1]/", true, false},
		{"http://224.0.0.1/", true, false},
		{"", false, false},
		{"example.com/hook", false, false},
		{"//example.com/hook", false, false},
		{"/hook", false, false},
		{"ftp://example.com/", false, false},
		{"javascript:alert(1)", false, false},
		{"mailto:a@example.com", false, false},
		{"https:example.com", false, false},
		{"https://", false, false},
		{"https://:443/", false, false},
		{"https://user@example.com/", false, false},
		{"https://user:pass@example.com/", false, false},
		{"https://example.com:0/", false, false},
		{"https://example.com:70000/", false, false},
		{"https://example.com/a b", false, false},
		{" https://example.com/", false, false},
		{"https://example.com/\n", false, false},
		{"https://example.com/" + strings.Repeat("x", MaxURL), false, false},
	}
	for _, tt := range tests {
		if err := CheckURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v; want ok %v", tt.url, err, tt.ok)
		}
		if err := CheckPublicURL(tt.url); (err == nil) != tt.public {
			t.Errorf("CheckPublicURL(%q) = %v; want ok %v", tt.url, err, tt.public)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "17.0.0.1": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.31.255.255": false, "192.168.0.1": false,
		"169.254.1.1": false, "100.127.0.1": false, "198.18.0.1": false, "255.255.255.255": false,
		"::": false, "::1": false, "fc00::1": false, "fe80::1": false, "ff02::1": false,
		"::ffff:10.0.0.1": false, "2002:a00:1::": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("PublicAddr(%s) = %v; want %v", s, got, want)
		}
	}
	if PublicAddr(netip.Addr{}) {
		t.Error("PublicAddr of the zero Addr = true")
	}
}
