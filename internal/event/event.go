// Package event defines what happens to a lead: the event record of the
// append-only log, the registry of standard types the engine understands, and
// the validation every incoming event goes through.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Event is one row of the log.
type Event struct {
	ID             int64           `json:"id"`
	ContactID      int64           `json:"contact_id"`
	Type           string          `json:"type"`
	OccurredAt     time.Time       `json:"occurred_at"`
	ReceivedAt     time.Time       `json:"received_at"`
	Source         string          `json:"source"`
	Properties     json.RawMessage `json:"properties,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// Standard types. Types are open: any name matching the pattern is accepted;
// these are the ones the engine gives meaning to.
const (
	LeadCreated    = "lead_created"
	FieldChanged   = "field_changed"
	PageViewed     = "page_viewed"
	FormSubmitted  = "form_submitted"
	EmailSent      = "email_sent"
	EmailOpened    = "email_opened"
	EmailClicked   = "email_clicked"
	EmailReplied   = "email_replied"
	EmailBounced   = "email_bounced"
	Unsubscribed   = "unsubscribed"
	SMSSent        = "sms_sent"
	MeetingBooked  = "meeting_booked"
	MeetingHeld    = "meeting_held"
	StageChanged   = "stage_changed"
	ScoreChanged   = "score_changed"
	OwnerAssigned  = "owner_assigned"
	HumanTakeover  = "human_takeover"
	ConsentChanged = "consent_changed"
	ContactErased  = "contact_erased"

	ScoreBandChanged = "score_band_changed"
	SalesReady       = "sales_ready"
	LifecycleChanged = "lifecycle_changed"
	HandoffAccepted  = "handoff_accepted"
	HandoffRejected  = "handoff_rejected"
	TaskCreated      = "task_created"
	TaskCompleted    = "task_completed"
	ActivityLogged   = "activity_logged"
	BANTUpdated      = "bant_updated"
	Converted        = "converted"
	MeetingNoShow    = "meeting_no_show"
	// A booked meeting was moved or called off (booking pages, the API).
	MeetingRescheduled = "meeting_rescheduled"
	MeetingCancelled   = "meeting_cancelled"
	SegmentEntered     = "segment_entered"
	SegmentExited      = "segment_exited"
	SLAEscalated       = "sla_escalated"
)

// Type describes a standard event type.
type Type struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// System types are written by Nurture itself; the API refuses them from clients
	// so that the log cannot be made to lie about what the product did.
	System bool `json:"system"`
}

// Registry lists the standard event types.
var Registry = []Type{
	{LeadCreated, "a contact was created", true},
	{FieldChanged, "contact fields changed; properties.changes lists field, old, new", true},
	{PageViewed, "a page was viewed; properties.url", false},
	{FormSubmitted, "a form was submitted; properties.form", false},
	{EmailSent, "an email left for the contact", false},
	{EmailOpened, "an email was opened; properties.machine marks proxy and scanner opens", false},
	{EmailClicked, "a link in an email was clicked; properties.url", false},
	{EmailReplied, "the contact replied to an email", false},
	{EmailBounced, "an email bounced; properties.kind is hard or soft", false},
	{Unsubscribed, "the contact unsubscribed", false},
	{SMSSent, "an SMS left for the contact", false},
	{MeetingBooked, "a meeting was booked", false},
	{MeetingHeld, "a meeting took place", false},
	{StageChanged, "the pipeline stage changed", true},
	{ScoreChanged, "scores changed outside an event (a rescore); properties version, before, after", true},
	{OwnerAssigned, "an owner was assigned", true},
	{HumanTakeover, "a salesperson took the lead over; automation stops", false},
	{ConsentChanged, "a consent was granted, withdrawn or requested", true},
	{ContactErased, "the contact's personal data was erased", true},
	{SegmentEntered, "the contact entered a segment; properties segment, version", true},
	{SegmentExited, "the contact left a segment; properties segment, version", true},
	{ScoreBandChanged, "the threshold score moved the contact to another band; properties score, value, from, to", true},
	{SalesReady, "the score crossed the sales-ready threshold: offer a meeting slot and call", true},
	{LifecycleChanged, "the lifecycle stage changed; properties from, to, reason, by", true},
	{HandoffAccepted, "sales accepted a marketing-qualified lead (MQL → SAL)", true},
	{HandoffRejected, "sales rejected a marketing-qualified lead, with a reason", true},
	{TaskCreated, "a sales task was created; properties task_id, kind, title", true},
	{TaskCompleted, "a sales task was completed; properties task_id, by, outcome", true},
	{ActivityLogged, "a salesperson logged a call, meeting, email reply or note", true},
	{BANTUpdated, "a BANT criterion was recorded; properties criterion, confirmed, by", true},
	{Converted, "the contact converted (an outcome for backtests and reports)", false},
	{MeetingNoShow, "the contact did not attend a booked meeting", false},
	{MeetingRescheduled, "a booked meeting was moved; properties meeting_id, owner, start, from", false},
	{MeetingCancelled, "a booked meeting was called off; properties meeting_id, owner, start", false},
	{SLAEscalated, "a level of the first-contact SLA fell due; properties level, at, owner, notified, reassigned_to, breached, text", true},
}

// IsSystem reports whether only Nurture itself may write events of type t.
func IsSystem(t string) bool {
	i := slices.IndexFunc(Registry, func(r Type) bool { return r.Name == t })
	return i >= 0 && Registry[i].System
}

// Limits on incoming events.
const (
	MaxPropertiesLen     = 16 << 10
	MaxIdempotencyKeyLen = 128
	// MaxFuture is how far ahead of the server's clock occurred_at may be,
	// to absorb client clock skew without accepting nonsense dates.
	MaxFuture = 24 * time.Hour
)

var (
	typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	minTime     = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ValidationError names the field of an event at fault.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ValidName reports whether t is well formed as an event type name (of
// any event, Nurture's own included).
func ValidName(t string) bool { return typePattern.MatchString(t) }

// CheckType validates an event type name sent by a client.
func CheckType(t string) error {
	if !ValidName(t) {
		return &ValidationError{"type", "must be lower-case letters, digits and _ (starting with a letter), at most 64"}
	}
	if IsSystem(t) {
		return &ValidationError{"type", fmt.Sprintf("%s is written by Nurture itself and cannot be sent", t)}
	}
	return nil
}

// CheckOccurredAt validates an event time against now.
func CheckOccurredAt(t, now time.Time) error {
	if t.Before(minTime) || t.After(now.Add(MaxFuture)) {
		return &ValidationError{"occurred_at", "must be after 2000-01-01 and at most 24 hours ahead of the server's clock"}
	}
	return nil
}

// CheckProperties validates an event's properties: a JSON object of bounded size.
// It returns the compacted form, or nil for an empty object.
func CheckProperties(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > MaxPropertiesLen {
		return nil, &ValidationError{"properties", fmt.Sprintf("is larger than %d bytes", MaxPropertiesLen)}
	}
	// json.Compact passes invalid UTF-8 through; the database's text columns would not.
	if !utf8.Valid(raw) {
		return nil, &ValidationError{"properties", "is not valid UTF-8"}
	}
	if raw[0] != '{' {
		return nil, &ValidationError{"properties", "must be a JSON object"}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &ValidationError{"properties", "is not valid JSON"}
	}
	if buf.String() == "{}" {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// CheckIdempotencyKey validates a client-chosen idempotency key.
func CheckIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return &ValidationError{"idempotency_key", fmt.Sprintf("is longer than %d bytes", MaxIdempotencyKeyLen)}
	}
	// A header can carry any byte; the database's text columns take UTF-8 only.
	if !utf8.ValidString(k) {
		return &ValidationError{"idempotency_key", "is not valid UTF-8"}
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return &ValidationError{"idempotency_key", "contains a control character"}
		}
	}
	return nil
}
