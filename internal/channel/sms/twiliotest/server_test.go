package twiliotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/sms/twiliotest"
	"github.com/nurturehq/nurture/internal/clock"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "test-token"
)

func start(t *testing.T) *twiliotest.Server {
	t.Helper()
	s := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(s.Close)
	return s
}

type reply struct {
	status int
	body   map[string]any
}

// post sends a raw request, as any Twilio client would.
func post(t *testing.T, s *twiliotest.Server, method, path, user, pass string, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
		t.Fatalf("%s %s: reply is not JSON: %v", method, path, err)
	}
	return r
}

const messages = "/2010-04-01/Accounts/" + accountSID + "/Messages.json"

func TestServerRefuses(t *testing.T) {
	t.Parallel()
	ok := url.Values{"To": {"+33612345678"}, "From": {"+14155550100"}, "Body": {"Hi"}}
	without := func(key string) url.Values { f := clone(ok); f.Del(key); return f }
	with := func(key, value string) url.Values { f := clone(ok); f.Set(key, value); return f }
	tests := []struct {
		name         string
		method, path string
		user, pass   string
		form         url.Values
		status, code int
	}{
		{"no credentials", "POST", messages, "", "", ok, 401, 20003},
		{"wrong token", "POST", messages, accountSID, "nope", ok, 401, 20003},
		{"wrong account", "POST", messages, "AC1", authToken, ok, 401, 20003},
		{"other account's path", "POST", "/2010-04-01/Accounts/AC1/Messages.json", accountSID, authToken, ok, 404, 20404},
		{"unknown path", "POST", "/2010-04-01/Accounts/" + accountSID + "/Calls.json", accountSID, authToken, ok, 404, 20404},
		{"GET", "GET", messages, accountSID, authToken, nil, 405, 20004},
		{"no To", "POST", messages, accountSID, authToken, without("To"), 400, 21604},
		{"no From", "POST", messages, accountSID, authToken, without("From"), 400, 21603},
		{"no Body", "POST", messages, accountSID, authToken, without("Body"), 400, 21602},
		{"invalid To", "POST", messages, accountSID, authToken, with("To", "0612345678"), 400, 21211},
		{"invalid From", "POST", messages, accountSID, authToken, with("From", "Nurture & Co"), 400, 21212},
		{"whatsapp to sms", "POST", messages, accountSID, authToken, with("To", "whatsapp:+33612345678"), 400, 21910},
		{"body over 1600", "POST", messages, accountSID, authToken, with("Body", strings.Repeat("a", 1601)), 400, 21617},
		{"bad callback", "POST", messages, accountSID, authToken, with("StatusCallback", "/relative"), 400, 21609},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			r := post(t, s, tt.method, tt.path, tt.user, tt.pass, tt.form)
			if r.status != tt.status || r.body["code"] != float64(tt.code) || r.body["status"] != float64(tt.status) || r.body["message"] == "" {
				t.Errorf("%s %s = %d %v; want %d with code %d", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("server recorded %d messages; want none", n)
			}
		})
	}
}

func clone(form url.Values) url.Values {
	c := url.Values{}
	for k, v := range form {
		c[k] = append([]string(nil), v...)
	}
	return c
}

func TestServerResource(t *testing.T) {
	t.Parallel()
	s := start(t)
	at := time.Date(2026, 3, 9, 14, 30, 0, 0, time.UTC)
	s.SetClock(clock.NewFake(at))
	body := strings.Repeat("Spring offer! ", 20)
	r := post(t, s, "POST", messages, accountSID, authToken, url.Values{
		"To": {"+33612345678"}, "From": {"Nurture"}, "Body": {body}, "StatusCallback": {"https://example.com/cb"},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create = %d %v; want 201", r.status, r.body)
	}
	sid, _ := r.body["sid"].(string)
	if !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sid) {
		t.Errorf("sid = %q; want SM and 32 hex digits", sid)
	}
	want := map[string]any{
		"account_sid":   accountSID,
		"api_version":   "2010-04-01",
		"body":          body,
		"date_created":  "Mon, 09 Mar 2026 14:30:00 +0000",
		"date_sent":     nil,
		"direction":     "outbound-api",
		"error_code":    nil,
		"error_message": nil,
		"from":          "Nurture",
		"num_segments":  "2",
		"price":         nil,
		"status":        "queued",
		"to":            "+33612345678",
		"uri":           "/2010-04-01/Accounts/" + accountSID + "/Messages/" + sid + ".json",
	}
	for k, v := range want {
		if got, ok := r.body[k]; !ok || got != v {
			t.Errorf("resource[%q] = %#v; want %#v", k, got, v)
		}
	}
	got := s.Messages()
	if len(got) != 1 || got[0] != (twiliotest.Sent{SID: sid, To: "+33612345678", From: "Nurture", Body: body, StatusCallback: "https://example.com/cb", Segments: 2, Status: "queued"}) {
		t.Errorf("Messages() = %+v", got)
	}
}

func TestServerFailNext(t *testing.T) {
	t.Parallel()
	s := start(t)
	form := url.Values{"To": {"+33612345678"}, "From": {"+14155550100"}, "Body": {"Hi"}}
	s.FailNext(2, 503, 20503, "Service Unavailable")
	// A request with bad credentials does not use up a failure.
	if r := post(t, s, "POST", messages, accountSID, "nope", form); r.status != 401 {
		t.Errorf("bad credentials = %d; want 401", r.status)
	}
	for i := range 2 {
		if r := post(t, s, "POST", messages, accountSID, authToken, form); r.status != 503 || r.body["code"] != float64(20503) {
			t.Errorf("request %d = %d %v; want 503 with code 20503", i+1, r.status, r.body)
		}
	}
	if r := post(t, s, "POST", messages, accountSID, authToken, form); r.status != 201 {
		t.Errorf("request 3 = %d %v; want 201", r.status, r.body)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("server recorded %d messages; want 1", n)
	}
}

func TestServerConcurrentSends(t *testing.T) {
	t.Parallel()
	s := start(t)
	tw := &sms.Twilio{BaseURL: s.URL(), AccountSID: accountSID, AuthToken: authToken}
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := tw.Send(context.Background(), sms.Message{To: fmt.Sprintf("+336123456%02d", i), From: "+14155550100", Body: "Hi"})
			errs <- err
		})
		if i%8 == 0 {
			s.Messages() // read while others write
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send = %v", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Messages() {
		seen[m.SID] = true
	}
	if len(seen) != n {
		t.Errorf("server recorded %d distinct messages; want %d", len(seen), n)
	}
}

func TestDeliverErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := start(t)
	tw := &sms.Twilio{BaseURL: s.URL(), AccountSID: accountSID, AuthToken: authToken}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)

	if err := s.Deliver(ctx, "SM00000000000000000000000000000000", "delivered"); err == nil {
		t.Error("Deliver(unknown sid) = nil; want an error")
	}
	plain, err := tw.Send(ctx, sms.Message{To: "+33612345678", From: "+14155550100", Body: "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, plain.ProviderID, "delivered"); err == nil {
		t.Error("Deliver(message without callback) = nil; want an error")
	}
	hooked, err := tw.Send(ctx, sms.Message{To: "+33612345678", From: "+14155550100", Body: "Hi", StatusCallback: broken.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, hooked.ProviderID, "delivered"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("Deliver to a failing webhook = %v; want an error naming the 500", err)
	}
	if err := s.Inbound(ctx, broken.URL, "+33612345678", "+14155550100", "hi"); err == nil {
		t.Error("Inbound to a failing webhook = nil; want an error")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Inbound(canceled, broken.URL, "+33612345678", "+14155550100", "hi"); err == nil {
		t.Error("Inbound with a canceled context = nil; want an error")
	}
}

func TestCallbacksAreSigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := start(t)
	got := make(chan *http.Request, 1)
	forms := make(chan url.Values, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r
		forms <- r.PostForm
	}))
	t.Cleanup(hook.Close)
	target := hook.URL + "/in?tenant=a%20b"
	if err := s.Inbound(ctx, target, "whatsapp:+33612345678", "whatsapp:+14155550100", "ARRÊT"); err != nil {
		t.Fatal(err)
	}
	r, form := <-got, <-forms
	if !sms.VerifySignature(authToken, target, form, r.Header.Get(sms.SignatureHeader)) {
		t.Errorf("signature %q does not verify", r.Header.Get(sms.SignatureHeader))
	}
	for k, want := range map[string]string{"AccountSid": accountSID, "NumMedia": "0", "Body": "ARRÊT", "WaId": "33612345678", "From": "whatsapp:+33612345678"} {
		if form.Get(k) != want {
			t.Errorf("form[%s] = %q; want %q", k, form.Get(k), want)
		}
	}
	in, err := sms.ParseInbound(form)
	if err != nil || in.Channel != sms.WhatsApp || sms.Keyword(in.Body) != sms.Stop {
		t.Errorf("ParseInbound = %+v, %v; want a WhatsApp stop", in, err)
	}
}
