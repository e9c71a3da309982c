package sms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/sms/twiliotest"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "s3cr3t-auth-token-0123456789abcdef"
	recipient  = "+33612345678"
	sender     = "+14155550100"
)

// newTwilio starts a fake Twilio and a sender pointed at it.
func newTwilio(t *testing.T) (*twiliotest.Server, *sms.Twilio) {
	t.Helper()
	srv := twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(srv.Close)
	return srv, &sms.Twilio{BaseURL: srv.URL(), AccountSID: accountSID, AuthToken: authToken}
}

func TestSend(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Spring offer! ", 20) // 280 characters
	tests := []struct {
		name     string
		msg      sms.Message
		wantTo   string
		wantFrom string
		segments int
	}{
		{"sms", sms.Message{To: recipient, From: sender, Body: "Your demo is booked."}, recipient, sender, 1},
		{"explicit channel", sms.Message{Channel: sms.SMS, To: recipient, From: sender, Body: "Hi"}, recipient, sender, 1},
		{"long sms", sms.Message{To: recipient, From: sender, Body: long}, recipient, sender, 2},
		{"unicode sms", sms.Message{To: recipient, From: sender, Body: strings.Repeat("😀", 36)}, recipient, sender, 2},
		{"sender ID", sms.Message{To: recipient, From: "Nurture", Body: "Hi"}, recipient, "Nurture", 1},
		{"short code", sms.Message{To: recipient, From: "38383", Body: "Hi"}, recipient, "38383", 1},
		{"whatsapp", sms.Message{Channel: sms.WhatsApp, To: recipient, From: sender, Body: long + long}, "whatsapp:" + recipient, "whatsapp:" + sender, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, tw := newTwilio(t)
			res, err := tw.Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("Send = %v", err)
			}
			if len(res.ProviderID) != 34 || !strings.HasPrefix(res.ProviderID, "SM") || res.Status != "queued" || res.Segments != tt.segments {
				t.Errorf("Send = %+v; want an SM sid, status queued and %d segments", res, tt.segments)
			}
			sent := srv.Messages()
			if len(sent) != 1 {
				t.Fatalf("server has %d messages; want 1", len(sent))
			}
			want := twiliotest.Sent{SID: res.ProviderID, To: tt.wantTo, From: tt.wantFrom, Body: tt.msg.Body, Segments: tt.segments, Status: "queued"}
			if sent[0] != want {
				t.Errorf("server got %+v; want %+v", sent[0], want)
			}
		})
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	t.Parallel()
	ok := sms.Message{To: recipient, From: sender, Body: "Hi"}
	with := func(f func(*sms.Message)) sms.Message { m := ok; f(&m); return m }
	tests := []struct {
		name  string
		msg   sms.Message
		field string
	}{
		{"empty body", with(func(m *sms.Message) { m.Body = "" }), "body"},
		{"invalid UTF-8", with(func(m *sms.Message) { m.Body = "caf\xe9" }), "body"},
		{"NUL", with(func(m *sms.Message) { m.Body = "a\x00" }), "body"},
		{"11 segments", with(func(m *sms.Message) { m.Body = strings.Repeat("a", 1531) }), "body"},
		{"whatsapp over 1600", with(func(m *sms.Message) { m.Channel, m.Body = sms.WhatsApp, strings.Repeat("a", 1601) }), "body"},
		{"no To", with(func(m *sms.Message) { m.To = "" }), "to"},
		{"national To", with(func(m *sms.Message) { m.To = "0612345678" }), "to"},
		{"To with spaces", with(func(m *sms.Message) { m.To = "+33 6 12 34 56 78" }), "to"},
		{"To too short", with(func(m *sms.Message) { m.To = "+123456" }), "to"},
		{"To too long", with(func(m *sms.Message) { m.To = "+1234567890123456" }), "to"},
		{"To with zero", with(func(m *sms.Message) { m.To = "+0612345678" }), "to"},
		{"To already prefixed", with(func(m *sms.Message) { m.Channel, m.To = sms.WhatsApp, "whatsapp:"+recipient }), "to"},
		{"no From", with(func(m *sms.Message) { m.From = "" }), "from"},
		{"sender ID too long", with(func(m *sms.Message) { m.From = "NurtureHQ Ltd" }), "from"},
		{"sender ID with symbols", with(func(m *sms.Message) { m.From = "Nurture!" }), "from"},
		{"whatsapp from sender ID", with(func(m *sms.Message) { m.Channel, m.From = sms.WhatsApp, "Nurture" }), "from"},
		{"unknown channel", with(func(m *sms.Message) { m.Channel = "pager" }), "channel"},
		{"relative callback", with(func(m *sms.Message) { m.StatusCallback = "/sms/status" }), "status_callback"},
		{"ftp callback", with(func(m *sms.Message) { m.StatusCallback = "ftp://example.com/x" }), "status_callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, tw := newTwilio(t)
			_, err := tw.Send(context.Background(), tt.msg)
			var ve *sms.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Errorf("Send = %v; want a *ValidationError on %s", err, tt.field)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server got %d messages; want none", n)
			}
		})
	}
}

// sendErr sends a valid message and wants an *Error back.
func sendErr(t *testing.T, tw *sms.Twilio, ctx context.Context) *sms.Error {
	t.Helper()
	res, err := tw.Send(ctx, sms.Message{To: recipient, From: sender, Body: "Hi"})
	var e *sms.Error
	if !errors.As(err, &e) {
		t.Fatalf("Send = %+v, %v; want an *sms.Error", res, err)
	}
	if msg := err.Error(); strings.Contains(msg, authToken) || strings.Contains(msg, recipient) {
		t.Errorf("error %q holds the auth token or the recipient", msg)
	}
	return e
}

func TestSendRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status, code  int
		message       string
		wantTemporary bool
		wantMessage   string
	}{
		{"invalid number", 400, 21211, "The 'To' number " + recipient + " is not a valid phone number.", false, "The 'To' number [recipient] is not a valid phone number."},
		{"unsubscribed", 400, 21610, "Attempt to send to unsubscribed recipient", false, "Attempt to send to unsubscribed recipient"},
		{"forbidden", 403, 20008, "Resource not accessible with Test Account Credentials", false, "Resource not accessible with Test Account Credentials"},
		{"too many requests", 429, 20429, "Too Many Requests", true, "Too Many Requests"},
		{"server error", 500, 20500, "Internal Server Error", true, "Internal Server Error"},
		{"unavailable", 503, 20503, "Service Unavailable", true, "Service Unavailable"},
		{"echoed token", 400, 21601, "bad token " + authToken, false, "bad token [auth token]"},
		{"hostile message", 400, 21601, "line\none\x00" + strings.Repeat("x", 1000), false, "line one " + strings.Repeat("x", 503) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, tw := newTwilio(t)
			srv.FailNext(1, tt.status, tt.code, tt.message)
			e := sendErr(t, tw, context.Background())
			want := sms.Error{HTTPStatus: tt.status, Code: tt.code, Message: tt.wantMessage, Temporary: tt.wantTemporary}
			if *e != want {
				t.Errorf("Send error = %+v; want %+v", *e, want)
			}
			// The failure is used up: the next send goes through.
			if _, err := tw.Send(context.Background(), sms.Message{To: recipient, From: sender, Body: "Hi"}); err != nil {
				t.Errorf("second Send = %v; want nil", err)
			}
		})
	}
}

func TestSendBadCredentials(t *testing.T) {
	t.Parallel()
	srv, _ := newTwilio(t)
	for _, tw := range []*sms.Twilio{
		{BaseURL: srv.URL(), AccountSID: accountSID, AuthToken: "wrong"},
		{BaseURL: srv.URL(), AccountSID: "AC00000000000000000000000000000000", AuthToken: authToken},
	} {
		e := sendErr(t, tw, context.Background())
		if e.HTTPStatus != 401 || e.Code != 20003 || e.Temporary {
			t.Errorf("Send with bad credentials = %+v; want permanent 401 with code 20003", *e)
		}
	}
	if _, err := (&sms.Twilio{BaseURL: srv.URL(), AccountSID: accountSID}).Send(context.Background(), sms.Message{To: recipient, From: sender, Body: "Hi"}); err == nil {
		t.Error("Send without an auth token = nil; want an error")
	}
}

func TestSendNetworkFailures(t *testing.T) {
	t.Parallel()
	t.Run("dropped connection", func(t *testing.T) {
		t.Parallel()
		srv, tw := newTwilio(t)
		srv.DropNext(1)
		if e := sendErr(t, tw, context.Background()); !e.Temporary || e.HTTPStatus != 0 || e.Err == nil {
			t.Errorf("Send error = %+v; want temporary, without status, with the cause", *e)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		tw := &sms.Twilio{BaseURL: base, AccountSID: accountSID, AuthToken: authToken}
		if e := sendErr(t, tw, context.Background()); !e.Temporary {
			t.Errorf("Send error = %+v; want temporary", *e)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		arrived, release := make(chan struct{}), make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		tw := &sms.Twilio{BaseURL: srv.URL, AccountSID: accountSID, AuthToken: authToken}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		e := sendErr(t, tw, ctx)
		if !e.Temporary || !errors.Is(e, context.Canceled) {
			t.Errorf("Send error = %+v; want temporary and context.Canceled", *e)
		}
	})
	t.Run("already canceled", func(t *testing.T) {
		t.Parallel()
		srv, tw := newTwilio(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if e := sendErr(t, tw, ctx); !errors.Is(e, context.Canceled) {
			t.Errorf("Send error = %v; want context.Canceled", e)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server got %d messages; want none", n)
		}
	})
}

// TestSendOddReplies covers servers that are not quite Twilio: proxies,
// broken deployments, hostile endpoints.
func TestSendOddReplies(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(" ", sms.MaxReply)
	tests := []struct {
		name      string
		status    int
		body      string
		want      sms.Error
		wantID    string
		wantError bool
	}{
		{"html bad gateway", 502, "<html>Bad Gateway</html>", sms.Error{HTTPStatus: 502, Message: "bad gateway", Temporary: true}, "", true},
		{"json without code", 400, `{"foo":1}`, sms.Error{HTTPStatus: 400, Message: "bad request"}, "", true},
		{"huge error body", 500, `{"code":1,"message":"x"}` + big, sms.Error{HTTPStatus: 500, Message: "internal server error", Temporary: true}, "", true},
		{"code as string", 400, `{"code":"21211","message":"bad"}`, sms.Error{HTTPStatus: 400, Code: 21211, Message: "bad"}, "", true},
		{"accepted, unreadable", 201, `not json`, sms.Error{HTTPStatus: 201}, "", true},
		{"accepted, no sid", 201, `{"status":"queued"}`, sms.Error{HTTPStatus: 201, Message: "reply to accepted message has no valid sid"}, "", true},
		{"accepted, bad sid", 201, `{"sid":"SM1","status":"queued"}`, sms.Error{HTTPStatus: 201, Message: "reply to accepted message has no valid sid"}, "", true},
		{"accepted, huge", 201, `{"sid":"SM0123456789abcdef0123456789abcdef"}` + big, sms.Error{HTTPStatus: 201, Message: fmt.Sprintf("reply to accepted message is over %d bytes", sms.MaxReply)}, "", true},
		{"accepted but failed", 201, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"failed","error_code":30007,"error_message":"Message filtered"}`, sms.Error{HTTPStatus: 201, Code: 30007, Message: "Message filtered"}, sid, true},
		{"numbers as numbers", 201, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","num_segments":3,"error_code":null}`, sms.Error{}, sid, false},
		{"no num_segments", 200, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`, sms.Error{}, sid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			tw := &sms.Twilio{BaseURL: srv.URL, AccountSID: accountSID, AuthToken: authToken}
			res, err := tw.Send(context.Background(), sms.Message{To: recipient, From: sender, Body: "Hi"})
			if res.ProviderID != tt.wantID {
				t.Errorf("Send ProviderID = %q; want %q", res.ProviderID, tt.wantID)
			}
			if !tt.wantError {
				if err != nil || res.Segments < 1 {
					t.Errorf("Send = %+v, %v; want segments and no error", res, err)
				}
				return
			}
			var e *sms.Error
			if !errors.As(err, &e) {
				t.Fatalf("Send error = %v; want an *sms.Error", err)
			}
			got := *e
			got.Err = nil
			if tt.want.Message == "" {
				got.Message = "" // only its presence matters
			}
			if got != tt.want {
				t.Errorf("Send error = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestTwilioStringHidesToken(t *testing.T) {
	t.Parallel()
	tw := sms.Twilio{AccountSID: accountSID, AuthToken: authToken}
	for _, s := range []string{fmt.Sprint(tw), fmt.Sprintf("%+v", &tw), fmt.Sprintf("%#v", tw)} {
		if strings.Contains(s, authToken) {
			t.Errorf("printed sender %q holds the auth token", s)
		}
	}
}

// webhook is the product's side of the callbacks: it checks the signature
// the way web handlers must, and hands what it parsed to the test.
type webhook struct {
	token    string
	statuses chan sms.Status
	inbound  chan sms.Inbound
	srv      *httptest.Server
}

func newWebhook(t *testing.T, token string) *webhook {
	t.Helper()
	h := &webhook{token: token, statuses: make(chan sms.Status, 8), inbound: make(chan sms.Inbound, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms/status", func(w http.ResponseWriter, r *http.Request) {
		form, ok := h.verify(w, r)
		if !ok {
			return
		}
		st, err := sms.ParseStatus(form)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.statuses <- st
	})
	mux.HandleFunc("POST /sms/inbound", func(w http.ResponseWriter, r *http.Request) {
		form, ok := h.verify(w, r)
		if !ok {
			return
		}
		in, err := sms.ParseInbound(form)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.inbound <- in
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *webhook) verify(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return nil, false
	}
	// Behind a proxy this would be the public URL Twilio was given.
	full := "http://" + r.Host + r.URL.RequestURI()
	if !sms.VerifySignature(h.token, full, r.PostForm, r.Header.Get(sms.SignatureHeader)) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return nil, false
	}
	return r.PostForm, true
}

func TestCallbacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, tw := newTwilio(t)
	hook := newWebhook(t, authToken)

	res, err := tw.Send(ctx, sms.Message{To: recipient, From: sender, Body: "Hi", StatusCallback: hook.srv.URL + "/sms/status?campaign=7&x=%2F"})
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	for _, tt := range []struct {
		state string
		code  int
	}{{"sent", 0}, {"delivered", 0}, {"undelivered", 30003}, {"failed", 30008}} {
		if err := srv.Deliver(ctx, res.ProviderID, tt.state); err != nil {
			t.Fatalf("Deliver(%s) = %v", tt.state, err)
		}
		want := sms.Status{ProviderID: res.ProviderID, State: tt.state, ErrorCode: tt.code, To: recipient, From: sender, Channel: sms.SMS}
		if got := <-hook.statuses; got != want {
			t.Errorf("after Deliver(%s) the webhook got %+v; want %+v", tt.state, got, want)
		}
	}
	if got := srv.Messages()[0].Status; got != "failed" {
		t.Errorf("server's message status = %q; want the last delivered, failed", got)
	}

	wa, err := tw.Send(ctx, sms.Message{Channel: sms.WhatsApp, To: recipient, From: sender, Body: "Hi", StatusCallback: hook.srv.URL + "/sms/status"})
	if err != nil {
		t.Fatalf("Send(whatsapp) = %v", err)
	}
	if err := srv.Deliver(ctx, wa.ProviderID, "read"); err != nil {
		t.Fatalf("Deliver(read) = %v", err)
	}
	if got, want := <-hook.statuses, (sms.Status{ProviderID: wa.ProviderID, State: "read", To: recipient, From: sender, Channel: sms.WhatsApp}); got != want {
		t.Errorf("whatsapp status = %+v; want %+v", got, want)
	}

	for _, tt := range []struct {
		from, to, body string
		want           sms.Inbound
	}{
		{recipient, sender, "Stop.", sms.Inbound{From: recipient, To: sender, Body: "Stop.", Channel: sms.SMS}},
		{"whatsapp:" + recipient, "whatsapp:" + sender, "Bonjour 👋 & à+1=2", sms.Inbound{From: recipient, To: sender, Body: "Bonjour 👋 & à+1=2", Channel: sms.WhatsApp}},
	} {
		if err := srv.Inbound(ctx, hook.srv.URL+"/sms/inbound", tt.from, tt.to, tt.body); err != nil {
			t.Fatalf("Inbound(%q) = %v", tt.body, err)
		}
		got := <-hook.inbound
		if !strings.HasPrefix(got.ProviderID, "SM") {
			t.Errorf("inbound ProviderID = %q; want an SM sid", got.ProviderID)
		}
		got.ProviderID = ""
		if got != tt.want {
			t.Errorf("inbound = %+v; want %+v", got, tt.want)
		}
	}
	if k := sms.Keyword("Stop."); k != sms.Stop {
		t.Errorf("Keyword(%q) = %v; want stop", "Stop.", k)
	}
}

func TestCallbacksForged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, tw := newTwilio(t)
	hook := newWebhook(t, "another-token") // not the one the server signs with

	res, err := tw.Send(ctx, sms.Message{To: recipient, From: sender, Body: "Hi", StatusCallback: hook.srv.URL + "/sms/status"})
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	if err := srv.Deliver(ctx, res.ProviderID, "delivered"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Deliver to a webhook with another token = %v; want a 403", err)
	}
	if err := srv.Inbound(ctx, hook.srv.URL+"/sms/inbound", recipient, sender, "STOP"); err == nil {
		t.Error("Inbound to a webhook with another token = nil; want an error")
	}

	// A request signed with the right token for one form but carrying another.
	good := newWebhook(t, authToken)
	target := good.srv.URL + "/sms/status"
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "To": {recipient}}
	sig := sms.Sign(authToken, target, form)
	for _, tamper := range []func(url.Values){
		func(f url.Values) {},
		func(f url.Values) { f.Set("MessageStatus", "failed") },
		func(f url.Values) { f.Add("ErrorCode", "30008") },
		func(f url.Values) { f.Del("To") },
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = append([]string(nil), v...)
		}
		tamper(f)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(f.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(sms.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusForbidden
		if f.Encode() == form.Encode() {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Errorf("callback with form %v got %d; want %d", f, resp.StatusCode, want)
		}
	}
	if n := len(good.statuses); n != 1 {
		t.Errorf("%d callbacks reached the handler; want only the untampered one", n)
	}
	if n := len(hook.statuses); n != 0 {
		t.Errorf("%d callbacks signed with another token reached the handler; want none", n)
	}
}
