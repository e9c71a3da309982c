// Package ics writes the iCalendar invitations (RFC 5545) sent for booked
// meetings: one VEVENT with an iTIP method (RFC 5546), REQUEST to invite
// or reschedule, CANCEL to call the meeting off.
//
// It only writes. What it writes is checked in the tests by a real parser,
// golang-ical, including for hostile text: line breaks in a summary,
// quotes in a name, very long and non-ASCII values.
package ics

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The iTIP methods Write knows (RFC 5546 §3.2).
const (
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
)

// The VEVENT statuses Write knows (RFC 5545 §3.8.1.11).
const (
	StatusConfirmed = "CONFIRMED"
	StatusCancelled = "CANCELLED"
)

// ProdID names the product that made the calendar (RFC 5545 §3.7.3).
const ProdID = "-//Nurture//Nurture//EN"

// Event is one meeting.
type Event struct {
	// UID is stable for the meeting ("meeting-42@nurture.example.com"): a
	// later REQUEST or CANCEL with the same UID updates the same entry in
	// the attendee's calendar.
	UID string
	// Sequence is bumped at each reschedule and at the cancel, so clients
	// know the newer message from the older (RFC 5546 §2.1.4).
	Sequence int
	// Start, End and Stamp (DTSTAMP, when the message was made) are
	// written in UTC, to the second.
	Start, End, Stamp time.Time
	Summary           string
	Description       string // optional
	Location          string // optional
	URL               string // optional; an absolute URI (the video call link)
	Organizer         Person // the salesperson
	Attendees         []Person
	// Status is CONFIRMED or CANCELLED; empty means the one that goes with
	// the method (CONFIRMED for REQUEST, CANCELLED for CANCEL).
	Status string
}

// Person is an organizer or attendee: a name (optional) and an email address.
type Person struct{ Name, Email string }

// Bytes is the calendar for ev with method, REQUEST or CANCEL, or an error
// when ev cannot make a valid invitation.
func Bytes(method string, ev Event) ([]byte, error) {
	status, err := check(method, ev)
	if err != nil {
		return nil, err
	}
	c := lines{b: make([]byte, 0, 1024+len(ev.Summary)+len(ev.Description)+len(ev.Location)+len(ev.URL))}
	c.line("BEGIN:VCALENDAR")
	c.line("PRODID:" + ProdID)
	c.line("VERSION:2.0")
	c.line("CALSCALE:GREGORIAN")
	c.line("METHOD:" + method)
	c.line("BEGIN:VEVENT")
	c.line("UID:" + text(ev.UID))
	c.line("SEQUENCE:" + strconv.Itoa(ev.Sequence))
	c.line("DTSTAMP:" + utc(ev.Stamp))
	c.line("DTSTART:" + utc(ev.Start))
	c.line("DTEND:" + utc(ev.End))
	c.line("SUMMARY:" + text(ev.Summary))
	if ev.Description != "" {
		c.line("DESCRIPTION:" + text(ev.Description))
	}
	if ev.Location != "" {
		c.line("LOCATION:" + text(ev.Location))
	}
	if ev.URL != "" {
		c.line("URL:" + ev.URL)
	}
	c.line("STATUS:" + status)
	c.line("ORGANIZER" + cn(ev.Organizer.Name) + ":mailto:" + ev.Organizer.Email)
	for _, a := range ev.Attendees {
		c.line("ATTENDEE" + cn(a.Name) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + a.Email)
	}
	c.line("END:VEVENT")
	c.line("END:VCALENDAR")
	return c.b, nil
}

// Write writes the calendar for ev with method to w; nothing when ev is
// refused.
func Write(w io.Writer, method string, ev Event) error {
	b, err := Bytes(method, ev)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// check refuses what cannot make a valid invitation, and returns the status
// to write. Free text is not refused: it is escaped.
func check(method string, ev Event) (status string, err error) {
	status = ev.Status
	switch method {
	case MethodRequest:
		if status == "" {
			status = StatusConfirmed
		}
	case MethodCancel:
		if status == "" {
			status = StatusCancelled
		}
	default:
		return "", fmt.Errorf("method %q is not REQUEST or CANCEL", method)
	}
	// A CANCEL of a whole event has STATUS:CANCELLED (RFC 5546 §3.2.5); a
	// REQUEST saying the event is cancelled would be read either way.
	if method == MethodCancel && status != StatusCancelled || method == MethodRequest && status != StatusConfirmed {
		return "", fmt.Errorf("status %q does not go with method %s", ev.Status, method)
	}
	if strings.TrimSpace(ev.UID) == "" {
		return "", errors.New("event has no UID")
	}
	if ev.Sequence < 0 {
		return "", fmt.Errorf("sequence %d is negative", ev.Sequence)
	}
	if ev.Start.IsZero() || ev.End.IsZero() || ev.Stamp.IsZero() {
		return "", errors.New("event needs a start, an end and a stamp")
	}
	if !ev.End.Truncate(time.Second).After(ev.Start.Truncate(time.Second)) {
		return "", fmt.Errorf("event ends (%s) no later than it starts (%s)", utc(ev.End), utc(ev.Start))
	}
	if ev.URL != "" {
		if err := checkURI(ev.URL); err != nil {
			return "", err
		}
	}
	if err := checkEmail(ev.Organizer.Email); err != nil {
		return "", fmt.Errorf("organizer: %w", err)
	}
	if len(ev.Attendees) == 0 {
		return "", errors.New("event has no attendee")
	}
	for i, a := range ev.Attendees {
		if err := checkEmail(a.Email); err != nil {
			return "", fmt.Errorf("attendee %d: %w", i+1, err)
		}
	}
	return status, nil
}

// checkEmail accepts a bare address that can follow "mailto:" as it is:
// no white space or control characters (a line break would end the
// property and let the rest write its own), no quoting, one domain.
func checkEmail(s string) error {
	if s == "" {
		return errors.New("no email address")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == utf8.RuneError }) {
		return errors.New("email address holds white space or control characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || strings.ContainsAny(s, `"<>\`) {
		return errors.New("email address is malformed")
	}
	if local, domain, ok := strings.Cut(s, "@"); !ok || local == "" || domain == "" {
		return errors.New("email address has no @ between a local part and a domain")
	}
	return nil
}

// checkURI accepts an absolute URI of printable ASCII: a URI value is
// written as it is, with no escaping (RFC 5545 §3.3.13).
func checkURI(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return errors.New("URL holds white space, quotes, control or non-ASCII characters")
		}
	}
	if u, err := url.Parse(s); err != nil || !u.IsAbs() {
		return errors.New("URL is not an absolute URI")
	}
	return nil
}

// utc is t as a UTC date-time (RFC 5545 §3.3.5, form 2).
func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// text escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon and
// comma get a backslash, line breaks (CRLF, LF or CR) become \n, control
// characters TEXT does not allow are dropped and invalid UTF-8 is replaced.
func text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\n`)
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteByte(c)
		default:
			if c < ' ' || c == 0x7f {
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cn is the ";CN=name" parameter, or "" for no name. A parameter value
// cannot be escaped (RFC 5545 §3.1): DQUOTE and control characters are
// dropped (line breaks and tabs become spaces), and the value is quoted
// when it holds ':', ';' or ','. Backslashes are dropped too: RFC 5545
// gives them no meaning in a parameter, but some parsers (golang-ical
// among them) read them as escapes, and a name has no use for one.
func cn(name string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			return ' '
		case r < ' ' || r == 0x7f || r == '"' || r == '\\':
			return -1
		}
		return r
	}, name)
	name = strings.Join(strings.Fields(name), " ")
	switch {
	case name == "":
		return ""
	case strings.ContainsAny(name, ":;,"):
		return `;CN="` + name + `"`
	}
	return ";CN=" + name
}

// lines writes content lines: CRLF-ended, folded so that no line is over
// 75 octets (RFC 5545 §3.1), continuation lines starting with a space.
type lines struct{ b []byte }

func (c *lines) line(s string) {
	n := 0 // octets on the current line
	for i := 0; i < len(s); {
		// Keep a UTF-8 sequence whole, and an escape with its backslash
		// (unfolding rejoins them anyway, but not every reader unfolds
		// before unescaping).
		w := 1
		if s[i] >= utf8.RuneSelf {
			_, w = utf8.DecodeRuneInString(s[i:])
		} else if s[i] == '\\' && i+1 < len(s) {
			w = 2
		}
		if n+w > 75 {
			c.b = append(c.b, "\r\n "...)
			n = 1
		}
		c.b = append(c.b, s[i:i+w]...)
		n += w
		i += w
	}
	c.b = append(c.b, '\r', '\n')
}
