package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one text message to send.
type Message struct {
	Channel string // SMS or WhatsApp; empty means SMS
	// To is the recipient's E.164 number (+33612345678), without any
	// "whatsapp:" prefix: Send adds it.
	To string
	// From is the sender: an E.164 number for WhatsApp; for SMS also a short
	// code or an alphanumeric sender ID where the destination allows it.
	From string
	Body string
	// StatusCallback is the absolute http(s) URL the provider posts delivery
	// states to; empty for none.
	StatusCallback string
}

// Result is the provider's receipt for an accepted message.
type Result struct {
	ProviderID string // Twilio's message SID, "SM" and 32 hex digits
	Status     string // usually "queued"; later states arrive by callback
	Segments   int
}

// Twilio sends messages through Twilio's Programmable Messaging REST API.
type Twilio struct {
	BaseURL    string // DefaultBaseURL when empty
	AccountSID string
	AuthToken  string
	// Client makes the requests; when nil, a client with DefaultTimeout.
	Client *http.Client
}

// Defaults of a Twilio sender.
const (
	DefaultBaseURL = "https://api.twilio.com"
	DefaultTimeout = 30 * time.Second
)

// Limits on what Send reads and writes.
const (
	// MaxReply bounds the reply read from the provider. A message resource
	// is under 2 KiB; more is a proxy's error page or a hostile server.
	MaxReply = 64 << 10
	// MaxWhatsAppChars is Twilio's limit on a WhatsApp body, in characters.
	MaxWhatsAppChars = 1600
	// maxErrorMessage bounds the provider's error text kept in an *Error.
	maxErrorMessage = 512
)

// Error is a send the provider refused or that did not reach it.
type Error struct {
	HTTPStatus int    // the reply's status; 0 when no reply arrived
	Code       int    // Twilio's error code (21211, 20003, …); 0 when none was given
	Message    string // what went wrong; never holds the auth token or the recipient's number
	// Temporary failures (429, 5xx, network errors, timeouts) are worth
	// retrying later; permanent ones are not.
	Temporary bool
	Err       error // the transport error underneath, when there is one
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("twilio: ")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		if e.Code != 0 {
			fmt.Fprintf(&b, " error %d", e.Code)
		}
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// String names the account and leaves out the auth token, so that printing
// the sender does not leak it.
func (t Twilio) String() string { return "Twilio account " + t.AccountSID }

// GoString is String for %#v.
func (t Twilio) GoString() string { return t.String() }

// Send asks Twilio to send m and returns its receipt once Twilio has queued
// it; delivery states come later through the StatusCallback.
//
// A message that cannot be sent as given fails with a *ValidationError before
// any request is made. Every other error is an *Error whose Temporary field
// says whether to retry: a refusal, a failure to reach Twilio, a sender
// without credentials. Twilio takes no idempotency key, so a retry after a
// connection dropped mid-request may send the message twice; a reply that
// accepts the message but cannot be read is therefore a permanent error, and
// a Twilio reply that accepts it with status failed returns both the Result
// and an *Error.
func (t *Twilio) Send(ctx context.Context, m Message) (Result, error) {
	form, err := m.form()
	if err != nil {
		return Result{}, err
	}
	if t.AccountSID == "" || t.AuthToken == "" {
		return Result{}, &Error{Message: "account SID and auth token are required"}
	}
	base := t.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	endpoint := strings.TrimSuffix(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, &Error{Message: "build request: " + err.Error(), Err: err}
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, &Error{Temporary: true, Message: t.redact(err.Error(), m.To), Err: err}
	}
	defer resp.Body.Close()
	reply, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxReply+1))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, t.refusal(resp.StatusCode, reply, m.To)
	}
	// Twilio has taken the message: from here on a failure is permanent, lest
	// a retry send it twice.
	accepted := func(msg string, err error) (Result, error) {
		return Result{}, &Error{HTTPStatus: resp.StatusCode, Message: t.redact(msg, m.To), Err: err}
	}
	switch {
	case readErr != nil:
		return accepted("read reply to accepted message: "+readErr.Error(), readErr)
	case len(reply) > MaxReply:
		return accepted(fmt.Sprintf("reply to accepted message is over %d bytes", MaxReply), nil)
	}
	var res struct {
		SID          string  `json:"sid"`
		Status       string  `json:"status"`
		NumSegments  flexInt `json:"num_segments"`
		ErrorCode    flexInt `json:"error_code"`
		ErrorMessage *string `json:"error_message"`
	}
	if err := json.Unmarshal(reply, &res); err != nil {
		return accepted("unreadable reply to accepted message: "+err.Error(), err)
	}
	if !isSID(res.SID) {
		return accepted("reply to accepted message has no valid sid", nil)
	}
	r := Result{ProviderID: res.SID, Status: res.Status, Segments: int(res.NumSegments)}
	switch {
	case r.Segments > 0:
	case m.Channel == WhatsApp:
		r.Segments = 1
	default:
		r.Segments = Measure(m.Body).Segments
	}
	if res.Status == "failed" || res.Status == "undelivered" {
		msg := "message " + res.Status
		if res.ErrorMessage != nil && *res.ErrorMessage != "" {
			msg = clean(*res.ErrorMessage)
		}
		return r, &Error{HTTPStatus: resp.StatusCode, Code: int(res.ErrorCode), Message: t.redact(msg, m.To)}
	}
	return r, nil
}

// form checks m and encodes it as Twilio's Create Message parameters.
func (m Message) form() (url.Values, error) {
	to, from := m.To, m.From
	switch m.Channel {
	case SMS, "":
		if err := Check(m.Body); err != nil {
			return nil, err
		}
		if !isE164(m.From) && !isShortCode(m.From) && !isSenderID(m.From) {
			return nil, &ValidationError{Field: "from", Reason: "want an E.164 number, a short code or an alphanumeric sender ID"}
		}
	case WhatsApp:
		if err := checkText(m.Body); err != nil {
			return nil, err
		}
		if n := utf8.RuneCountInString(m.Body); n > MaxWhatsAppChars {
			return nil, &ValidationError{Field: "body", Reason: fmt.Sprintf("has %d characters; the most WhatsApp allows is %d", n, MaxWhatsAppChars)}
		}
		if !isE164(m.From) {
			return nil, &ValidationError{Field: "from", Reason: "want an E.164 number like +33612345678"}
		}
		to, from = whatsappPrefix+to, whatsappPrefix+from
	default:
		return nil, &ValidationError{Field: "channel", Reason: fmt.Sprintf("want %q or %q", SMS, WhatsApp)}
	}
	if !isE164(m.To) {
		return nil, &ValidationError{Field: "to", Reason: "want an E.164 number like +33612345678"}
	}
	form := url.Values{"To": {to}, "From": {from}, "Body": {m.Body}}
	if m.StatusCallback != "" {
		u, err := url.Parse(m.StatusCallback)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &ValidationError{Field: "status_callback", Reason: "want an absolute http or https URL"}
		}
		form.Set("StatusCallback", m.StatusCallback)
	}
	return form, nil
}

// refusal reads Twilio's error body ({"code":21211,"message":…,"status":400}).
// A body that is not Twilio's JSON, a proxy's HTML page say, is not quoted:
// the status text says enough.
func (t *Twilio) refusal(status int, reply []byte, to string) *Error {
	e := &Error{HTTPStatus: status, Temporary: status == http.StatusTooManyRequests || status >= 500}
	var body struct {
		Code    flexInt `json:"code"`
		Message string  `json:"message"`
	}
	if len(reply) <= MaxReply && json.Unmarshal(reply, &body) == nil && (body.Code != 0 || body.Message != "") {
		e.Code, e.Message = int(body.Code), t.redact(clean(body.Message), to)
	}
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(status))
	}
	return e
}

// redact keeps secrets and personal data out of error text, which ends up in
// logs: Twilio quotes the recipient's number back ("The 'To' number +33… is
// not valid"), and a hostile or broken server might echo the token.
func (t *Twilio) redact(s, to string) string {
	if t.AuthToken != "" {
		s = strings.ReplaceAll(s, t.AuthToken, "[auth token]")
	}
	if to != "" {
		s = strings.ReplaceAll(s, to, "[recipient]")
	}
	return s
}

// clean makes provider text safe to keep: valid UTF-8, one line, bounded.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.TrimSpace(s)
}

// flexInt reads a JSON number, a string holding one (Twilio sends
// num_segments as "2"), or null as 0.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*n = 0
			return nil
		}
		b = []byte(s)
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("want an integer, got %.20q", b)
	}
	*n = flexInt(v)
	return nil
}
