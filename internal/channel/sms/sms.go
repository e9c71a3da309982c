// Package sms sends SMS and WhatsApp messages through a provider's HTTP API and reads its callbacks.
//
// It owns what is particular to text messaging: how a body is encoded and cut
// into segments (and so what it costs), the keywords by which a recipient
// opts out or back in, the Twilio REST API for sending, and the signed
// callbacks Twilio posts back with delivery states and inbound messages.
// Subpackage twiliotest is a local Twilio for tests of the rest of the product.
package sms

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Channels a message can go out on.
const (
	SMS      = "sms"
	WhatsApp = "whatsapp"
)

// whatsappPrefix marks a WhatsApp address on Twilio's wire ("whatsapp:+33612345678").
const whatsappPrefix = "whatsapp:"

// ValidationError names the input at fault and why. Inputs are message
// fields (to, from, body, …) or the form fields of a callback (MessageSid, …).
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// isE164 reports whether s is an E.164 number: a plus, a non-zero digit, and
// 6 to 14 more digits (^\+[1-9]\d{6,14}$).
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isShortCode reports whether s is a short code: 3 to 8 digits.
func isShortCode(s string) bool {
	if len(s) < 3 || len(s) > 8 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isSenderID reports whether s is an alphanumeric sender ID: 1 to 11 ASCII
// letters, digits or spaces, at least one of them a letter.
func isSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 || strings.TrimSpace(s) != s {
		return false
	}
	letter := false
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}

// checkPlain rejects text that is not valid UTF-8 or that holds control
// characters other than those in allowed; NUL in particular cannot be stored
// in a PostgreSQL text column.
func checkPlain(field, s, allowed string) error {
	if !utf8.ValidString(s) {
		return &ValidationError{Field: field, Reason: "is not valid UTF-8"}
	}
	for i, r := range s {
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			return &ValidationError{Field: field, Reason: fmt.Sprintf("has control character %U at byte %d", r, i)}
		}
	}
	return nil
}
