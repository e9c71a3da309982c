// Package segment is the segment rule language: its JSON form (a tree of
// conditions), its text form (read with expr's parser), validation with the
// place of every problem, and evaluation of a contact against a rule,
// including behaviour over time windows kept incrementally per contact.
// It does no I/O: the store feeds it facts and events.
package segment

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule is a segment's condition, in its JSON form. Exactly one of its
// groups of fields is set:
//
//	{"all": [...]}  {"any": [...]}  {"not": {...}}
//	{"field": "country", "op": "in", "value": ["FR", "BE"]}
//	{"event": "page_viewed", "where": "event.url contains \"/pricing\"", "within": "14d", "op": ">=", "count": 2}
//	{"event": "form_submitted", "since": "7d"}
//	{"segment": "hot-intent"}
type Rule struct {
	All []*Rule `json:"all,omitempty"`
	Any []*Rule `json:"any,omitempty"`
	Not *Rule   `json:"not,omitempty"`

	// A field of the contact (country, tags, score.engagement,
	// consent.email, custom.plan…), an operator and a value.
	Field string `json:"field,omitempty"`
	Op    string `json:"op,omitempty"`
	Value any    `json:"value,omitempty"`

	// Behaviour: events of a type, optionally filtered (an expr condition
	// over event.*), counted within a window ("14d"; empty: ever) and
	// compared with Op and Count (default: at least 1). Or, with Since: the
	// latest such event is more than that long ago.
	Event  string    `json:"event,omitempty"`
	Where  string    `json:"where,omitempty"`
	Within *Duration `json:"within,omitempty"`
	Count  *int      `json:"count,omitempty"`
	Since  *Duration `json:"since,omitempty"`

	// Membership of another segment, by name.
	Segment string `json:"segment,omitempty"`
}

// Duration is a length of time written with units up to days and weeks:
// "90m", "36h", "14d", "2w", or a combination ("1w3d").
type Duration time.Duration

// MaxWindow bounds time windows: longer ones keep too much per contact to
// be worth it, and usually mean a typo.
const MaxWindow = 730 * 24 * time.Hour

// maxDuration bounds what ParseDuration reads (about 100 years), far from
// time.Duration's limit.
const maxDuration = 36600 * 24 * time.Hour

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("%q is not a duration such as 90m, 36h, 14d or 2w", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q is too long", s)
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[rest[i]]
		if unit == 0 {
			return 0, fmt.Errorf("%q: unknown unit %q (use s, m, h, d or w)", s, rest[i:i+1])
		}
		if time.Duration(n) > maxDuration/unit {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += time.Duration(n) * unit
		if total > maxDuration {
			return 0, fmt.Errorf("%q is too long", s)
		}
		rest = rest[i+1:]
	}
	return Duration(total), nil
}

func (d Duration) String() string {
	t := time.Duration(d)
	day := 24 * time.Hour
	switch {
	case t > 0 && t%(7*day) == 0:
		return strconv.FormatInt(int64(t/(7*day)), 10) + "w"
	case t > 0 && t%day == 0:
		return strconv.FormatInt(int64(t/day), 10) + "d"
	case t > 0 && t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t > 0 && t%time.Minute == 0:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(t/time.Second), 10) + "s"
}

// MarshalJSON writes the duration in its short form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "14d" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"14d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// kind says which group of fields a rule node uses.
func (r *Rule) kind() string {
	var kinds []string
	if r.All != nil {
		kinds = append(kinds, "all")
	}
	if r.Any != nil {
		kinds = append(kinds, "any")
	}
	if r.Not != nil {
		kinds = append(kinds, "not")
	}
	if r.Field != "" {
		kinds = append(kinds, "field")
	}
	if r.Event != "" {
		kinds = append(kinds, "event")
	}
	if r.Segment != "" {
		kinds = append(kinds, "segment")
	}
	if len(kinds) != 1 {
		return strings.Join(kinds, "+")
	}
	return kinds[0]
}
