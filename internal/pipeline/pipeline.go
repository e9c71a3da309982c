// Package pipeline owns how a lead moves through sales: the pipeline stages
// (contact.Statuses) and the transitions allowed between them, the reasons a
// deal is lost, BANT qualification as structured evidence, the marketing
// lifecycle (subscriber … customer) with the MQL hand-off between marketing and
// sales, the time spent in each stage, and the sales activities that mean a
// human has taken over. It is pure: it decides, the store persists, and its
// errors are *contact.ValidationError naming the field at fault.
package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/contact"
)

// MaxReasonLen bounds a free-text reason (a recycle, a no-show, a rejected
// hand-off). Lost reasons are slugs from Config and much shorter.
const MaxReasonLen = 500

// transitions lists, for each stage, the stages it may move to, in the order
// shown to a user. Won is terminal; lost can be recycled.
var transitions = map[string][]string{
	contact.StatusNew:           {contact.StatusContacted, contact.StatusNurture, contact.StatusMeetingBooked, contact.StatusLost},
	contact.StatusContacted:     {contact.StatusNurture, contact.StatusMeetingBooked, contact.StatusLost},
	contact.StatusNurture:       {contact.StatusContacted, contact.StatusMeetingBooked, contact.StatusLost},
	contact.StatusMeetingBooked: {contact.StatusMeetingHeld, contact.StatusNurture, contact.StatusLost},
	contact.StatusMeetingHeld:   {contact.StatusQualified, contact.StatusMeetingBooked, contact.StatusNurture, contact.StatusLost},
	contact.StatusQualified:     {contact.StatusWon, contact.StatusLost, contact.StatusMeetingBooked},
	contact.StatusWon:           nil,
	contact.StatusLost:          {contact.StatusNew, contact.StatusNurture},
}

// Move is a request to change a contact's pipeline stage. Reason is required
// (one of Config.LostReasons) when moving to lost, and a free-text note
// otherwise. BANT is the qualification known at the time of the move; moving
// to qualified needs Config.Qualified to be met by it.
type Move struct {
	From   string               `json:"from"`
	To     string               `json:"to"`
	Reason string               `json:"reason,omitempty"`
	BANT   map[string]Criterion `json:"bant,omitempty"`
}

// Next returns the stages a contact in stage from may move to, nil for won
// (terminal) and for an unknown stage. The slice is the caller's to keep.
func Next(from string) []string {
	return slices.Clone(transitions[from])
}

// CheckMove reports whether m is allowed under cfg. The first problem found
// is returned as a *contact.ValidationError whose Field is "stage", "reason"
// or "bant" (dotted, such as "bant.need.evidence", for a bad criterion).
// A lost reason may be given in any case; NormalizeLostReason returns the
// form to store.
func CheckMove(cfg Config, m Move) error {
	for _, s := range []string{m.From, m.To} {
		if !slices.Contains(contact.Statuses, s) {
			return invalid("stage", "unknown stage %s; stages: %s", quote(s), strings.Join(contact.Statuses, ", "))
		}
	}
	if m.From == m.To {
		return invalid("stage", "already in stage %s", m.From)
	}
	next := transitions[m.From]
	if len(next) == 0 {
		return invalid("stage", "cannot move from %s to %s; %s is final", m.From, m.To, m.From)
	}
	if !slices.Contains(next, m.To) {
		return invalid("stage", "cannot move from %s to %s; allowed from %s: %s",
			m.From, m.To, m.From, strings.Join(next, ", "))
	}
	// Sorted so that the error reported does not depend on map order.
	for _, name := range slices.Sorted(maps.Keys(m.BANT)) {
		if err := CheckCriterion(name, m.BANT[name]); err != nil {
			return err
		}
	}
	switch m.To {
	case contact.StatusLost:
		_, err := NormalizeLostReason(cfg, m.Reason)
		return err
	case contact.StatusQualified:
		if miss := Missing(cfg.Qualified, m.BANT); len(miss) > 0 {
			return invalid("bant", "%s requires %s; missing: %s",
				contact.StatusQualified, describe(cfg.Qualified), strings.Join(miss, ", "))
		}
	}
	return checkText("reason", m.Reason, MaxReasonLen, false)
}

// NormalizeLostReason returns the canonical form of reason (one of
// cfg.LostReasons, matched without regard to case or surrounding space).
func NormalizeLostReason(cfg Config, reason string) (string, error) {
	if len(cfg.LostReasons) == 0 {
		return "", invalid("reason", "lost requires a reason, but none are configured")
	}
	allowed := strings.Join(cfg.LostReasons, ", ")
	r := strings.TrimSpace(reason)
	if r == "" {
		return "", invalid("reason", "lost requires a reason: one of %s", allowed)
	}
	for _, lr := range cfg.LostReasons {
		if strings.EqualFold(r, lr) {
			return lr, nil
		}
	}
	return "", invalid("reason", "unknown lost reason %s; allowed: %s", quote(r), allowed)
}

func invalid(field, format string, args ...any) error {
	return &contact.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// quote shows a value the caller gave inside an error message: quoted, so that
// control characters show as escapes, and cut short, so that an oversized
// value does not make an oversized error.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return fmt.Sprintf("%+q", s)
	}
	runes := []rune(s)
	return fmt.Sprintf("%+q…", string(runes[:max]))
}

// checkText rejects invalid UTF-8, control characters, bidirectional
// overrides and values longer than max characters. Multi-line text may hold
// tabs and newlines, CRLF included: a browser form sends a textarea's line
// breaks as CRLF, and a lone CR is not a line break anyone means.
func checkText(field, s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "is longer than %d characters", max)
	}
	for i, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r' && strings.HasPrefix(s[i+1:], "\n"))) {
			return invalid(field, "contains a control character")
		}
		if isBidiControl(r) {
			return invalid(field, "contains a bidirectional override character")
		}
	}
	return nil
}

// isBidiControl reports the embedding, override and isolate characters that
// can make text display differently from what it is.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}
