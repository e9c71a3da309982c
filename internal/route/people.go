package route

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// Owner is a salesperson leads are assigned to, as written through the
// API. Name is what a contact's owner field holds.
type Owner struct {
	Name        string `json:"name" yaml:"name"`
	DisplayName string `json:"display_name,omitempty" yaml:"display_name,omitempty"`
	Email       string `json:"email" yaml:"email"`
	TimeZone    string `json:"time_zone" yaml:"time_zone"`
	// Hours are the owner's working hours per weekday in TimeZone; none
	// means the hours of the owner's team.
	Hours map[string]string `json:"hours,omitempty" yaml:"hours,omitempty"`
	// MaxOpen caps the owner's open leads (not won or lost); 0: no cap.
	MaxOpen int `json:"max_open" yaml:"max_open"`
	// Weight is the owner's share under the weighted strategy (default 1).
	Weight int `json:"weight,omitempty" yaml:"weight,omitempty"`
	// Territory lists the countries and zones the owner covers.
	Territory []string `json:"territory,omitempty" yaml:"territory,omitempty"`
}

// Team shares its leads among its members and answers them within its
// business calendar.
type Team struct {
	Name     string `json:"name" yaml:"name"`
	Strategy string `json:"strategy" yaml:"strategy"`
	TimeZone string `json:"time_zone" yaml:"time_zone"`
	// Hours are the team's business hours per weekday, in TimeZone.
	Hours map[string]string `json:"hours" yaml:"hours"`
	// Holidays is the country whose public holidays close the team.
	Holidays string   `json:"holidays,omitempty" yaml:"holidays,omitempty"`
	Lead     string   `json:"lead,omitempty" yaml:"lead,omitempty"`       // notified at breach
	Manager  string   `json:"manager,omitempty" yaml:"manager,omitempty"` // notified at twice the target
	Members  []string `json:"members" yaml:"members"`
	// Booking cuts the team's booking page, and the pages of owners whose
	// first team (by name) it is, into slots; nil: DefaultBooking.
	Booking *BookingSettings `json:"booking,omitempty" yaml:"booking,omitempty"`
}

// BookingSettings is a Booking as people write it: durations such as
// "30m", "1h30m" or "14d". A setting left empty keeps DefaultBooking's;
// step "0" (or none) starts a slot every meeting length.
type BookingSettings struct {
	Length  string `json:"length,omitempty" yaml:"length,omitempty" maxLength:"16" doc:"meeting length, 15m to 4h (default 30m)"`
	Buffer  string `json:"buffer,omitempty" yaml:"buffer,omitempty" maxLength:"16" doc:"free time kept before and after every meeting, 0 to 2h (default 10m)"`
	Notice  string `json:"notice,omitempty" yaml:"notice,omitempty" maxLength:"16" doc:"the earliest slot is this far from now, 0 to 14d (default 2h)"`
	Horizon string `json:"horizon,omitempty" yaml:"horizon,omitempty" maxLength:"16" doc:"slots are offered up to this far ahead, 1d to 90d (default 14d)"`
	Step    string `json:"step,omitempty" yaml:"step,omitempty" maxLength:"16" doc:"a slot starts every step, 5m to 4h, dividing an hour or whole hours (default: the length)"`
}

// Booking is the settings over DefaultBooking, validated. Errors are
// *Error on "booking.length", "booking.buffer"…; a nil b is DefaultBooking.
func (b *BookingSettings) Booking() (Booking, error) {
	out := DefaultBooking
	if b == nil {
		return out, nil
	}
	for _, f := range []struct {
		name, v string
		dst     *time.Duration
	}{{"length", b.Length, &out.Length}, {"buffer", b.Buffer, &out.Buffer}, {"notice", b.Notice, &out.Notice},
		{"horizon", b.Horizon, &out.Horizon}, {"step", b.Step, &out.Step}} {
		v := strings.TrimSpace(f.v)
		if v == "" {
			continue
		}
		d, err := score.ParseDuration(v)
		if err != nil || len(v) > 16 {
			return Booking{}, &Error{"booking." + f.name, fmt.Sprintf("%q is not a duration; write it like 30m, 1h30m or 14d", shorten(v))}
		}
		*f.dst = d
	}
	if err := out.Validate(); err != nil {
		e := err.(*Error)
		return Booking{}, &Error{"booking." + e.Field, e.Reason}
	}
	return out, nil
}

// clip shortens what is echoed back in an error.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= 20 {
		return s
	}
	return string([]rune(s)[:20]) + "…"
}

// IsName reports whether s can be the name of an owner or a team.
func IsName(s string) bool { return slugRE.MatchString(s) }

// Limits on owners and teams.
const (
	MaxMembers      = 200
	MaxTerritory    = 300
	maxOwnerOpen    = 100000
	maxDisplayName  = 200
	defaultStrategy = RoundRobin
)

// Check validates and normalises an owner (the email lower-cased, the
// weight defaulted), returning its hours and zone. Errors are *Error.
func (o *Owner) Check() (Hours, *time.Location, error) {
	if !slugRE.MatchString(o.Name) {
		return Hours{}, nil, &Error{"name", "1 to 64 of a-z 0-9 _ . - starting with a letter or digit"}
	}
	o.DisplayName = strings.TrimSpace(o.DisplayName)
	if utf8.RuneCountInString(o.DisplayName) > maxDisplayName || !utf8.ValidString(o.DisplayName) ||
		score.BadText(o.DisplayName) || strings.ContainsAny(o.DisplayName, "\n\t") {
		return Hours{}, nil, &Error{"display_name", fmt.Sprintf("at most %d printable characters", maxDisplayName)}
	}
	email, err := contact.NormalizeEmail(o.Email)
	if err != nil || o.Email == "" {
		return Hours{}, nil, &Error{"email", "a valid email address, to notify the owner"}
	}
	o.Email = email
	loc, err := Zone(o.TimeZone)
	if err != nil {
		return Hours{}, nil, err
	}
	h, err := ParseHours(o.Hours)
	if err != nil {
		e := err.(*Error)
		return Hours{}, nil, &Error{"hours." + e.Field, e.Reason}
	}
	if o.MaxOpen < 0 || o.MaxOpen > maxOwnerOpen {
		return Hours{}, nil, &Error{"max_open", fmt.Sprintf("0 (no cap) to %d", maxOwnerOpen)}
	}
	if o.Weight == 0 {
		o.Weight = 1
	}
	if o.Weight < 1 || o.Weight > MaxWeight {
		return Hours{}, nil, &Error{"weight", fmt.Sprintf("1 to %d", MaxWeight)}
	}
	if len(o.Territory) > MaxTerritory {
		return Hours{}, nil, &Error{"territory", fmt.Sprintf("at most %d countries and zones", MaxTerritory)}
	}
	for i, k := range o.Territory {
		if !countryRE.MatchString(k) && !slugRE.MatchString(k) {
			return Hours{}, nil, &Error{fmt.Sprintf("territory[%d]", i), "a country (FR, US) or a zone of the routing rules (europe)"}
		}
	}
	return h, loc, nil
}

// Check validates and normalises a team (the strategy defaulted), given
// which owners exist, returning its hours and zone. Errors are *Error;
// those of the booking settings are on "booking.length" and so on.
func (t *Team) Check(ownerExists func(string) bool) (Hours, *time.Location, error) {
	if !slugRE.MatchString(t.Name) {
		return Hours{}, nil, &Error{"name", "1 to 64 of a-z 0-9 _ . - starting with a letter or digit"}
	}
	if t.Strategy == "" {
		t.Strategy = defaultStrategy
	}
	if err := CheckStrategy(t.Strategy); err != nil {
		return Hours{}, nil, err
	}
	loc, err := Zone(t.TimeZone)
	if err != nil {
		return Hours{}, nil, err
	}
	h, err := ParseHours(t.Hours)
	if err != nil {
		e := err.(*Error)
		return Hours{}, nil, &Error{"hours." + e.Field, e.Reason}
	}
	if h.Closed() {
		return Hours{}, nil, &Error{"hours", "a team needs business hours on at least one day (mon: \"09:00-18:00\")"}
	}
	if t.Holidays != "" && !countryRE.MatchString(t.Holidays) {
		return Hours{}, nil, &Error{"holidays", "a country code in upper case (FR), whose holidays are loaded"}
	}
	if len(t.Members) > MaxMembers {
		return Hours{}, nil, &Error{"members", fmt.Sprintf("at most %d members", MaxMembers)}
	}
	for i, m := range t.Members {
		switch {
		case !slugRE.MatchString(m) || !ownerExists(m):
			return Hours{}, nil, &Error{fmt.Sprintf("members[%d]", i), fmt.Sprintf("no owner %q; create it first", m)}
		case slices.Index(t.Members, m) < i:
			return Hours{}, nil, &Error{fmt.Sprintf("members[%d]", i), fmt.Sprintf("%q is listed twice", m)}
		}
	}
	for _, f := range []struct{ field, v string }{{"lead", t.Lead}, {"manager", t.Manager}} {
		if f.v != "" && (!slugRE.MatchString(f.v) || !ownerExists(f.v)) {
			return Hours{}, nil, &Error{f.field, fmt.Sprintf("no owner %q; create it first", f.v)}
		}
	}
	if _, err := t.Booking.Booking(); err != nil {
		return Hours{}, nil, err
	}
	return h, loc, nil
}

// Zone loads an IANA time zone, refusing what is not one (see
// contact.ValidateTimeZone). Errors are *Error on "time_zone".
func Zone(name string) (*time.Location, error) {
	if contact.ValidateTimeZone(name) != nil {
		return nil, &Error{"time_zone", "an IANA time zone such as Europe/Paris"}
	}
	return time.LoadLocation(name)
}

// Closed reports whether the hours never open.
func (h Hours) Closed() bool {
	for _, d := range h {
		if len(d) > 0 {
			return false
		}
	}
	return true
}
