// Package twiliotest is a local Twilio for tests: an HTTP server on the
// loopback interface that speaks Twilio's Create Message API, records what it
// accepts, fails on demand, and posts signed status callbacks and inbound
// messages the way Twilio does.
package twiliotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/clock"
)

// Sent is a message the server accepted.
type Sent struct {
	SID            string
	To, From       string // as posted, "whatsapp:" prefix included
	Body           string
	StatusCallback string
	Segments       int
	Status         string // "queued", then the last state given to Deliver
}

// Server is a fake Twilio. It is safe for concurrent use.
type Server struct {
	accountSID, authToken string
	http                  *httptest.Server
	client                *http.Client // for callbacks

	mu       sync.Mutex
	clock    clock.Clock
	sent     []Sent
	bySID    map[string]int
	failures []failure
}

// failure is a reply queued by FailNext or DropNext.
type failure struct {
	drop    bool
	status  int
	code    int
	message string
}

// NewServer starts a fake Twilio on 127.0.0.1 that accepts accountSID and
// authToken and signs its callbacks with authToken. Close it when done.
// Dates in replies come from the wall clock until SetClock.
func NewServer(accountSID, authToken string) *Server {
	s := &Server{
		accountSID: accountSID,
		authToken:  authToken,
		clock:      clock.Real{},
		bySID:      map[string]int{},
		client:     &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's base URL, for sms.Twilio.BaseURL.
func (s *Server) URL() string { return s.http.URL }

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() {
	s.http.Close()
	s.client.CloseIdleConnections()
}

// SetClock sets the clock the server dates messages by.
func (s *Server) SetClock(c clock.Clock) {
	s.mu.Lock()
	s.clock = c
	s.mu.Unlock()
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sent, len(s.sent))
	copy(out, s.sent)
	return out
}

// FailNext makes the next n well-authenticated requests to create a message
// fail with httpStatus and Twilio's error body carrying code and message.
// Requests with bad credentials or to a wrong path fail as usual and do not
// use up a queued failure.
func (s *Server) FailNext(n int, httpStatus, code int, message string) {
	s.queue(n, failure{status: httpStatus, code: code, message: message})
}

// DropNext makes the next n well-authenticated requests to create a message
// end with the connection closed and no reply, as a network failure would.
func (s *Server) DropNext(n int) { s.queue(n, failure{drop: true}) }

func (s *Server) queue(n int, f failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Twilio's limits, as its API enforces them.
const (
	maxRequest = 64 << 10
	maxBody    = 1600 // characters
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || !equal(user, s.accountSID) || !equal(pass, s.authToken) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if r.URL.Path != "/2010-04-01/Accounts/"+s.accountSID+"/Messages.json" {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if f, ok := s.nextFailure(); ok {
		if f.drop {
			drop(w)
			return
		}
		writeError(w, f.status, f.code, f.message)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequest)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	to, from, body, callback := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body"), r.PostForm.Get("StatusCallback")
	toNumber, toWhatsApp := strings.CutPrefix(to, "whatsapp:")
	fromNumber, fromWhatsApp := strings.CutPrefix(from, "whatsapp:")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case from == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
	case !isE164(toNumber):
		writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	case !isE164(fromNumber) && (fromWhatsApp || !isSender(fromNumber)):
		writeError(w, http.StatusBadRequest, 21212, fmt.Sprintf("The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", from))
	case toWhatsApp != fromWhatsApp:
		writeError(w, http.StatusBadRequest, 21910, "Invalid From and To pair. From and To should be of the same channel")
	case utf8.RuneCountInString(body) > maxBody:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
	case callback != "" && !isURL(callback):
		writeError(w, http.StatusBadRequest, 21609, "Invalid StatusCallback")
	default:
		segments := 1
		if !toWhatsApp {
			segments = sms.Measure(body).Segments
		}
		m := Sent{SID: newSID(), To: to, From: from, Body: body, StatusCallback: callback, Segments: segments, Status: "queued"}
		now := s.record(m)
		writeJSON(w, http.StatusCreated, s.resource(m, now))
	}
}

func (s *Server) nextFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

// record keeps m and returns the time it was created.
func (s *Server) record(m Sent) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySID[m.SID] = len(s.sent)
	s.sent = append(s.sent, m)
	return s.clock.Now()
}

// message is Twilio's Message resource, as the API returns it.
type message struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func (s *Server) resource(m Sent, now time.Time) message {
	date := now.UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID
	return message{
		AccountSID:      s.accountSID,
		APIVersion:      "2010-04-01",
		Body:            m.Body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		From:            m.From,
		NumMedia:        "0",
		NumSegments:     strconv.Itoa(m.Segments),
		PriceUnit:       "USD",
		SID:             m.SID,
		Status:          m.Status,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
		To:              m.To,
		URI:             uri + ".json",
	}
}

// Deliver posts a signed status callback for the message sid to the
// StatusCallback URL it was sent with, as Twilio does when the message
// reaches state (sent, delivered, undelivered, failed, read, …). Undelivered
// comes with ErrorCode 30003 and failed with 30008. Deliver returns an error
// when the message is unknown or had no StatusCallback, or when the callback
// is not answered with a 2xx status.
func (s *Server) Deliver(ctx context.Context, sid, state string) error {
	s.mu.Lock()
	i, ok := s.bySID[sid]
	var m Sent
	if ok {
		s.sent[i].Status = state
		m = s.sent[i]
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("deliver %s: no such message", sid)
	case m.StatusCallback == "":
		return fmt.Errorf("deliver %s: message was sent without a StatusCallback", sid)
	}
	form := url.Values{
		"AccountSid":    {s.accountSID},
		"ApiVersion":    {"2010-04-01"},
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"MessageStatus": {state},
		"SmsStatus":     {state},
		"To":            {m.To},
		"From":          {m.From},
	}
	switch state {
	case "undelivered":
		form.Set("ErrorCode", "30003") // Unreachable destination handset
	case "failed":
		form.Set("ErrorCode", "30008") // Unknown error
	}
	if err := s.post(ctx, m.StatusCallback, form); err != nil {
		return fmt.Errorf("deliver %s: %w", sid, err)
	}
	return nil
}

// Inbound posts a signed incoming-message webhook to webhook, as Twilio does
// when from texts to. For WhatsApp give both numbers with the "whatsapp:"
// prefix. It returns an error when the webhook does not answer with a 2xx
// status.
func (s *Server) Inbound(ctx context.Context, webhook, from, to, body string) error {
	sid := newSID()
	form := url.Values{
		"AccountSid":    {s.accountSID},
		"ApiVersion":    {"2010-04-01"},
		"MessageSid":    {sid},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"SmsStatus":     {"received"},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(max(1, sms.Measure(body).Segments))},
	}
	if number, ok := strings.CutPrefix(from, "whatsapp:"); ok {
		form["WaId"] = []string{strings.TrimPrefix(number, "+")}
	}
	if err := s.post(ctx, webhook, form); err != nil {
		return fmt.Errorf("inbound %s: %w", sid, err)
	}
	return nil
}

// post sends a signed form to a webhook and wants a 2xx reply.
func (s *Server) post(ctx context.Context, target string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(sms.SignatureHeader, sms.Sign(s.authToken, target, form))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRequest))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook replied %s", resp.Status)
	}
	return nil
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// drop closes the connection without a reply.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func newSID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "SM" + hex.EncodeToString(b)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}

// isSender reports whether s is a short code or an alphanumeric sender ID.
func isSender(s string) bool {
	if s == "" || len(s) > 11 {
		return false
	}
	return strings.Trim(s, "0123456789 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
