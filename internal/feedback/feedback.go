// Package feedback reads what comes back after a send: bounces, complaints,
// deliveries and replies, in the formats providers and mail servers use.
//
// It owns the parsing only: RFC 3464/6533 delivery status notifications and
// RFC 5965 complaint reports (ParseDSN), Amazon SES notifications delivered
// through SNS (ParseSNS, VerifySNS, ParseSES), our own JSON format for any
// other provider (ParseGeneric) and inbound replies (ParseReply). It does no
// I/O beyond reading what it is given, keeps no state and never looks at the
// clock; what to do with a Report (suppress, count, score) is the caller's.
//
// Every parser bounds what it reads: input size, recipients, MIME parts and
// nesting. Hostile or broken input yields an error, never a panic.
package feedback

import (
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what a Report says happened to a message.
type Kind string

// The kinds of Report.
const (
	Bounce    Kind = "bounce"
	Complaint Kind = "complaint"
	Delivery  Kind = "delivery"
)

// Report is one recipient's outcome, whatever format it came in.
type Report struct {
	Kind Kind
	// Email is the recipient, lower-cased, as reported. For a DSN it is the
	// Original-Recipient when given (the address we sent to, before any
	// forwarding), else the Final-Recipient. It may be empty for a
	// complaint whose reporter redacted it; MessageID then still correlates.
	Email string
	// Hard is set for permanent bounces: status class 5, a DSN "failed"
	// action without a status, SES "Permanent". Soft bounces may be retried.
	Hard bool
	// Status is the enhanced status code ("5.1.1") when known.
	Status string
	// Diagnostic is the server's reply text with whitespace collapsed, at most
	// MaxDiagnostic bytes. For complaints it is the feedback type ("abuse").
	Diagnostic string
	// MessageID is our message id (the X-Nurture-Message token) when the
	// report carries enough of the original message to find it, else "".
	// It is a claim read from mail anyone can send: look it up, do not
	// trust it.
	MessageID string
	// At is when the reporter says it happened; zero if unknown.
	At time.Time
}

// Limits on what the parsers accept.
const (
	// DefaultLimit is the size limit used when a caller passes limit <= 0.
	DefaultLimit = 10 << 20
	// MaxRecipients bounds the reports taken from one DSN, SES notification
	// or generic array; more is an error, not a truncation.
	MaxRecipients = 1000
	// MaxDiagnostic bounds Report.Diagnostic, in bytes.
	MaxDiagnostic = 1000
	// MaxText bounds Reply.Text, in bytes.
	MaxText = 4000

	maxParts = 100 // MIME parts in one message, at any depth
	maxDepth = 8   // nesting of multipart containers
	maxIDs   = 100 // ids kept from one In-Reply-To or References header
	maxToken = 64  // length of our message id token
)

var (
	// ErrNotReport means the input is not a report this package understands:
	// an ordinary message, an SES event type we do not use, plain text where
	// JSON was expected. Callers acknowledge it and move on.
	ErrNotReport = errors.New("not a delivery or feedback report")
	// ErrTooLarge means the input exceeded the size limit.
	ErrTooLarge = errors.New("input too large")
)

// Header names we put on outgoing mail.
const headerNurtureMessage = "X-Nurture-Message"

var (
	tokenRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	enhancedRE = regexp.MustCompile(`(?:^|[^0-9.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:$|[^0-9.]|\.(?:$|[^0-9]))`)
	statusRE   = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

// ourID returns our message id from an X-Nurture-Message value, falling back
// to a Message-ID value, or "" when neither carries one.
func ourID(nurtureHeader, messageID string) string {
	if t := strings.TrimSpace(nurtureHeader); tokenRE.MatchString(t) {
		return t
	}
	return idFromMessageID(messageID)
}

// idFromMessageID returns the token in a Message-ID we generated,
// "<token.random@domain>", or "" when msgID does not have that shape. The
// dot is required so that other senders' ids (Gmail's "<CA...@mail.gmail.com>")
// are not mistaken for ours.
func idFromMessageID(msgID string) string {
	s := strings.TrimSpace(msgID)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return ""
	}
	local := s[:at]
	dot := strings.IndexByte(local, '.')
	if dot <= 0 || dot == len(local)-1 {
		return ""
	}
	if t := local[:dot]; tokenRE.MatchString(t) {
		return t
	}
	return ""
}

// enhancedStatus finds an RFC 3463 status code ("5.1.1") in s.
func enhancedStatus(s string) string {
	if m := enhancedRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// diagnostic collapses whitespace (folded header lines) and bounds s to
// MaxDiagnostic bytes without splitting a character.
func diagnostic(s string) string {
	return truncate(strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " "), MaxDiagnostic)
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// normalizeAddress returns the bare, lower-cased address in s ("x@y",
// "<x@y>", "Name <x@y>"), or "" when s holds none.
func normalizeAddress(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return strings.ToLower(a.Address)
	}
	// Addresses net/mail rejects but mail servers report anyway, such as
	// UTF-8 local parts or unquoted specials: take them as written.
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">"))
	if s == "" || strings.ContainsAny(s, " \t\r\n<>,;") || !validUTF8Printable(s) {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return ""
	}
	return strings.ToLower(s)
}

func validUTF8Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// parseTime reads the date formats reports use: RFC 5322 in mail, RFC 3339
// in JSON. It returns the zero time when s is empty or unreadable.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t
	}
	return time.Time{}
}
