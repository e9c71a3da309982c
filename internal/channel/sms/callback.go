package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SignatureHeader is the header Twilio signs its callbacks in.
const SignatureHeader = "X-Twilio-Signature"

// Limits on callback fields. The caller bounds the request body itself
// (http.MaxBytesReader; 64 KiB is plenty) before parsing the form; these
// catch fields no real callback has.
const (
	// MaxInboundBody is the longest inbound body accepted, in characters:
	// WhatsApp's 4096, above the 1600 of a joined SMS.
	MaxInboundBody = 4096
	maxAddress     = 64 // "whatsapp:" and an E.164 number, or a sender ID
)

// Sign returns the signature Twilio puts in X-Twilio-Signature for a POST of
// form to fullURL: base64(HMAC-SHA1(authToken, fullURL + each parameter's
// name and value)), parameters sorted by name (byte order). A name given
// more than once appears once for each distinct value, values sorted, as
// Twilio's libraries compute it.
func Sign(authToken, fullURL string, form url.Values) string {
	return base64.StdEncoding.EncodeToString(digest(authToken, fullURL, form))
}

func digest(authToken, fullURL string, form url.Values) []byte {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range slices.Compact(slices.Sorted(slices.Values(form[k]))) {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return mac.Sum(nil)
}

// VerifySignature reports whether signature is Twilio's for a POST of form
// to fullURL, comparing in constant time. fullURL is the URL Twilio called,
// as Twilio saw it: the public scheme and host (not those a proxy forwarded
// to), the path and the whole query string. Like Twilio's own libraries it
// also accepts the signature of fullURL with its port removed, or with the
// default port added, because Twilio signs whichever form it was given.
// An empty token or signature never verifies.
func VerifySignature(authToken, fullURL string, form url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	// Strict: a signature is accepted in its one canonical spelling only.
	got, err := base64.StdEncoding.Strict().DecodeString(signature)
	if err != nil || len(got) != sha1.Size {
		return false
	}
	ok := false
	for _, u := range urlForms(fullURL) {
		// No early return: every form is checked, so timing says nothing.
		if hmac.Equal(got, digest(authToken, u, form)) {
			ok = true
		}
	}
	return ok
}

// urlForms returns raw, then raw without its port if it has one, or with the
// scheme's default port if it has none. It cuts the string rather than
// parsing and re-encoding it, which could change the bytes that were signed.
func urlForms(raw string) []string {
	forms := []string{raw}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return forms
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, host := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, host = authority[:i+1], authority[i+1:]
	}
	prefix := scheme + "://" + userinfo
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return append(forms, prefix+host[:i]+tail)
	}
	switch strings.ToLower(scheme) {
	case "https":
		forms = append(forms, prefix+host+":443"+tail)
	case "http":
		forms = append(forms, prefix+host+":80"+tail)
	}
	return forms
}

// Status is a delivery state Twilio reports for a message sent earlier.
type Status struct {
	ProviderID string // MessageSid
	// State is one of queued, sending, sent, delivered, undelivered, failed
	// and read (WhatsApp).
	State     string
	ErrorCode int    // Twilio's error code for undelivered and failed; 0 otherwise
	To, From  string // without the "whatsapp:" prefix
	Channel   string // SMS or WhatsApp
}

// ParseStatus reads a status callback's form. Call it only once
// VerifySignature has accepted the request. The error is a *ValidationError
// naming the form field at fault. States Nurture never asks for (accepted,
// scheduled, canceled: Messaging Service features) are rejected as unknown.
func ParseStatus(form url.Values) (Status, error) {
	var s Status
	var err error
	if s.ProviderID, err = sid(form); err != nil {
		return Status{}, err
	}
	s.State, err = single(form, "MessageStatus", "SmsStatus")
	if err != nil {
		return Status{}, err
	}
	switch s.State {
	case "queued", "sending", "sent", "delivered", "undelivered", "failed", "read":
	case "":
		return Status{}, &ValidationError{Field: "MessageStatus", Reason: "is missing"}
	default:
		return Status{}, &ValidationError{Field: "MessageStatus", Reason: fmt.Sprintf("%.32q is not a known state", s.State)}
	}
	code, err := single(form, "ErrorCode")
	if err != nil {
		return Status{}, err
	}
	if code != "" {
		n, err := strconv.Atoi(code)
		if err != nil || n < 0 || n > 999999 {
			return Status{}, &ValidationError{Field: "ErrorCode", Reason: "want a Twilio error code"}
		}
		s.ErrorCode = n
	}
	if s.To, s.From, s.Channel, err = addresses(form); err != nil {
		return Status{}, err
	}
	return s, nil
}

// Inbound is a message someone sent to one of our numbers.
type Inbound struct {
	ProviderID string // MessageSid
	From, To   string // without the "whatsapp:" prefix
	Body       string // may be empty when the message is only media
	Channel    string // SMS or WhatsApp
}

// ParseInbound reads an incoming-message webhook's form. Call it only once
// VerifySignature has accepted the request. The error is a *ValidationError
// naming the form field at fault: a body over MaxInboundBody characters, not
// valid UTF-8 or holding NUL is rejected; media attachments are ignored.
func ParseInbound(form url.Values) (Inbound, error) {
	var in Inbound
	var err error
	if in.ProviderID, err = sid(form); err != nil {
		return Inbound{}, err
	}
	if in.To, in.From, in.Channel, err = addresses(form); err != nil {
		return Inbound{}, err
	}
	if in.From == "" {
		return Inbound{}, &ValidationError{Field: "From", Reason: "is missing"}
	}
	if in.To == "" {
		return Inbound{}, &ValidationError{Field: "To", Reason: "is missing"}
	}
	if in.Body, err = single(form, "Body"); err != nil {
		return Inbound{}, err
	}
	if len(in.Body) > 4*MaxInboundBody || utf8.RuneCountInString(in.Body) > MaxInboundBody {
		return Inbound{}, &ValidationError{Field: "Body", Reason: fmt.Sprintf("is over %d characters", MaxInboundBody)}
	}
	// People do type tabs and other odd characters; only what cannot be
	// stored is refused.
	if !utf8.ValidString(in.Body) {
		return Inbound{}, &ValidationError{Field: "Body", Reason: "is not valid UTF-8"}
	}
	if i := strings.IndexByte(in.Body, 0); i >= 0 {
		return Inbound{}, &ValidationError{Field: "Body", Reason: fmt.Sprintf("has NUL at byte %d", i)}
	}
	return in, nil
}

// single returns the value of the first of names present in form. A name
// given twice is refused rather than guessed at.
func single(form url.Values, names ...string) (string, error) {
	for _, name := range names {
		switch vs := form[name]; len(vs) {
		case 0:
			continue
		case 1:
			return vs[0], nil
		default:
			return "", &ValidationError{Field: name, Reason: "is given more than once"}
		}
	}
	return "", nil
}

// sid reads MessageSid (SmsSid in older callbacks): two capital letters and
// 32 lower-case hex digits.
func sid(form url.Values) (string, error) {
	s, err := single(form, "MessageSid", "SmsSid")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &ValidationError{Field: "MessageSid", Reason: "is missing"}
	}
	if !isSID(s) {
		return "", &ValidationError{Field: "MessageSid", Reason: "want two capital letters and 32 hex digits"}
	}
	return s, nil
}

func isSID(s string) bool {
	if len(s) != 34 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// addresses reads To and From, strips their "whatsapp:" prefix, and says
// which channel they are on. Either may be missing; both must be on the
// same channel.
func addresses(form url.Values) (to, from, channel string, err error) {
	to, toChannel, err := address(form, "To")
	if err != nil {
		return "", "", "", err
	}
	from, fromChannel, err := address(form, "From")
	if err != nil {
		return "", "", "", err
	}
	switch {
	case toChannel == "":
		channel = fromChannel
	case fromChannel == "" || fromChannel == toChannel:
		channel = toChannel
	default:
		return "", "", "", &ValidationError{Field: "From", Reason: "is on another channel than To"}
	}
	if channel == "" {
		channel = SMS
	}
	return to, from, channel, nil
}

func address(form url.Values, name string) (addr, channel string, err error) {
	raw, err := single(form, name)
	if err != nil || raw == "" {
		return "", "", err
	}
	if len(raw) > maxAddress {
		return "", "", &ValidationError{Field: name, Reason: fmt.Sprintf("is over %d bytes", maxAddress)}
	}
	if err := checkPlain(name, raw, ""); err != nil {
		return "", "", err
	}
	addr, channel = raw, SMS
	if rest, ok := strings.CutPrefix(raw, whatsappPrefix); ok {
		addr, channel = rest, WhatsApp
	}
	if addr == "" || strings.Contains(addr, ":") {
		return "", "", &ValidationError{Field: name, Reason: "want a phone number, short code or sender ID, with no channel but whatsapp:"}
	}
	return addr, channel, nil
}
