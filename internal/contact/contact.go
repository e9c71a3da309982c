// Package contact owns leads: their fields, how input is normalised and validated
// at the edge, how an upsert merges into an existing contact, and the consent
// ledger's vocabulary. It does no I/O; the store persists what it decides.
package contact

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Contact is a lead as the CRM knows it. Email is the normalised identity
// (trimmed, lower-cased); EmailDisplay keeps the form the lead typed.
type Contact struct {
	ID             int64    `json:"id"`
	Email          string   `json:"email,omitempty"`
	EmailDisplay   string   `json:"email_display,omitempty"`
	Phone          string   `json:"phone,omitempty" doc:"E.164"`
	FirstName      string   `json:"first_name,omitempty"`
	LastName       string   `json:"last_name,omitempty"`
	Company        string   `json:"company,omitempty"`
	Role           string   `json:"role,omitempty"`
	Country        string   `json:"country,omitempty" doc:"ISO 3166-1 alpha-2"`
	TimeZone       string   `json:"time_zone,omitempty" doc:"IANA time zone"`
	Source         string   `json:"source,omitempty"`
	Offer          string   `json:"offer,omitempty"`
	Persona        string   `json:"persona,omitempty"`
	RequestType    string   `json:"request_type,omitempty"`
	PotentialValue *float64 `json:"potential_value,omitempty"`
	Urgency        string   `json:"urgency,omitempty"`
	Budget         *float64 `json:"budget,omitempty"`
	Status         string   `json:"status" doc:"pipeline stage"`
	Lifecycle      string   `json:"lifecycle" doc:"lifecycle stage: subscriber, lead, mql, sal, sql, opportunity, customer or disqualified"`
	NextStep       string   `json:"next_step,omitempty"`
	Owner          string   `json:"owner,omitempty"`
	// The opportunity: its value and expected close date, and the revenue
	// recorded when it was won.
	OpportunityValue  *float64       `json:"opportunity_value,omitempty"`
	ExpectedCloseDate string         `json:"expected_close_date,omitempty" doc:"YYYY-MM-DD"`
	WonRevenue        *float64       `json:"won_revenue,omitempty"`
	ClosedAt          *time.Time     `json:"closed_at,omitempty" doc:"when the contact was won or lost"`
	Tags              []string       `json:"tags"`
	CustomFields      map[string]any `json:"custom_fields"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
}

// Pipeline statuses, in order (DOMAIN.md, "Funnel and lifecycle").
const (
	StatusNew           = "new"
	StatusContacted     = "contacted"
	StatusNurture       = "nurture"
	StatusMeetingBooked = "meeting_booked"
	StatusMeetingHeld   = "meeting_held"
	StatusQualified     = "qualified"
	StatusWon           = "won"
	StatusLost          = "lost"
)

// Statuses lists the pipeline statuses in pipeline order.
var Statuses = []string{StatusNew, StatusContacted, StatusNurture, StatusMeetingBooked,
	StatusMeetingHeld, StatusQualified, StatusWon, StatusLost}

// Lifecycle stages, in order; disqualified stands apart (DOMAIN.md: MQL →
// sales accepted → SQL is the hand-off from automation to a human).
const (
	LifecycleSubscriber   = "subscriber"
	LifecycleLead         = "lead"
	LifecycleMQL          = "mql"
	LifecycleSAL          = "sal"
	LifecycleSQL          = "sql"
	LifecycleOpportunity  = "opportunity"
	LifecycleCustomer     = "customer"
	LifecycleDisqualified = "disqualified"
)

// Lifecycles lists the lifecycle stages in order, disqualified last.
var Lifecycles = []string{LifecycleSubscriber, LifecycleLead, LifecycleMQL, LifecycleSAL, LifecycleSQL,
	LifecycleOpportunity, LifecycleCustomer, LifecycleDisqualified}

// LifecycleRank orders the stages (-1 for an unknown one); disqualified
// ranks above none, it is a way out, not a step forward.
func LifecycleRank(s string) int {
	if s == LifecycleDisqualified {
		return -1
	}
	return slices.Index(Lifecycles, s)
}

// Urgencies lists the accepted urgency levels.
var Urgencies = []string{"low", "medium", "high"}

var (
	// ErrNotFound means no contact has that id (or it was erased).
	ErrNotFound = errors.New("contact not found")
	// ErrExists means a create met a contact that already holds the email or phone.
	ErrExists = errors.New("contact already exists")
)

// ValidationError names the input field at fault and why.
type ValidationError struct {
	Field  string // JSON name of the field, dotted for nested ones
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ConflictError means the input's identities belong to two different contacts
// (the email to one, the phone to another), so no single contact can take it.
type ConflictError struct {
	EmailContact int64
	PhoneContact int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("email belongs to contact %d and phone to contact %d", e.EmailContact, e.PhoneContact)
}

// Address is where a channel reaches the contact: the email for email, the
// phone for SMS and WhatsApp; "" when the contact has none.
func (c *Contact) Address(channel string) string {
	switch channel {
	case "email":
		return c.Email
	case "sms", "whatsapp":
		return c.Phone
	}
	return ""
}
