package segment

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/contact"
)

// Facts are what a rule is evaluated against for one contact.
type Facts struct {
	Contact  *contact.Contact
	Scores   map[string]int
	Consents map[string]string // channel → status of its marketing consent
	// Member reports membership of another segment (already evaluated).
	Member    func(segment string) bool
	Behaviour *State
}

// Match evaluates the rule for a contact at now.
func (c *Compiled) Match(f *Facts, now time.Time) bool { return c.root.eval(f, now) }

type matcher interface {
	eval(f *Facts, now time.Time) bool
}

type allOf []matcher

func (m allOf) eval(f *Facts, now time.Time) bool {
	for _, x := range m {
		if !x.eval(f, now) {
			return false
		}
	}
	return true
}

type anyOf []matcher

func (m anyOf) eval(f *Facts, now time.Time) bool {
	for _, x := range m {
		if x.eval(f, now) {
			return true
		}
	}
	return false
}

type notOf struct{ m matcher }

func (m notOf) eval(f *Facts, now time.Time) bool { return !m.m.eval(f, now) }

type member string

func (m member) eval(f *Facts, _ time.Time) bool { return f.Member != nil && f.Member(string(m)) }

// fieldMatch compares a contact field with a value.
type fieldMatch struct {
	field string
	kind  kind
	op    string
	value any   // string, float64, bool or time.Time
	list  []any // for in / not_in
	days  int   // for in_days / anniversary_in_days
}

// get returns the field's value: a string, a float64, a bool, a time.Time,
// a []string for tags; nil when it is not set.
func (m *fieldMatch) get(f *Facts) any {
	c := f.Contact
	if c == nil {
		c = &contact.Contact{}
	}
	switch m.field {
	case "email":
		return str(c.Email)
	case "phone":
		return str(c.Phone)
	case "first_name":
		return str(c.FirstName)
	case "last_name":
		return str(c.LastName)
	case "company":
		return str(c.Company)
	case "role":
		return str(c.Role)
	case "country":
		return str(c.Country)
	case "time_zone":
		return str(c.TimeZone)
	case "source":
		return str(c.Source)
	case "offer":
		return str(c.Offer)
	case "persona":
		return str(c.Persona)
	case "request_type":
		return str(c.RequestType)
	case "urgency":
		return str(c.Urgency)
	case "status":
		return str(c.Status)
	case "lifecycle":
		return str(c.Lifecycle)
	case "owner":
		return str(c.Owner)
	case "next_step":
		return str(c.NextStep)
	case "potential_value":
		return num(c.PotentialValue)
	case "budget":
		return num(c.Budget)
	case "opportunity_value":
		return num(c.OpportunityValue)
	case "won_revenue":
		return num(c.WonRevenue)
	case "expected_close_date":
		if t, ok := parseDate(c.ExpectedCloseDate); ok {
			return t
		}
		return nil
	case "created_at":
		return tm(c.CreatedAt)
	case "updated_at":
		return tm(c.UpdatedAt)
	case "closed_at":
		if c.ClosedAt == nil {
			return nil
		}
		return tm(*c.ClosedAt)
	case "tags":
		if len(c.Tags) == 0 {
			return nil
		}
		return c.Tags
	}
	prefix, rest, _ := strings.Cut(m.field, ".")
	switch prefix {
	case "score":
		return float64(f.Scores[rest]) // a score nobody gave is 0
	case "consent":
		if s := f.Consents[rest]; s != "" {
			return s
		}
		return ConsentNone
	case "custom":
		switch v := c.CustomFields[rest].(type) {
		case string:
			if t, ok := parseDate(v); ok && m.wantsDate() {
				return t
			}
			return str(v)
		case float64, bool:
			return v
		case json.Number:
			n, err := v.Float64()
			if err == nil {
				return n
			}
		}
	}
	return nil
}

func (m *fieldMatch) wantsDate() bool {
	if m.op == OpInDays || m.op == OpAnniversaryInDays {
		return true
	}
	_, ok := m.value.(time.Time)
	return ok
}

func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func num(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func (m *fieldMatch) eval(f *Facts, now time.Time) bool {
	v := m.get(f)
	switch m.op {
	case OpEmpty:
		return v == nil
	case OpNotEmpty:
		return v != nil
	case OpIn:
		return slices.ContainsFunc(m.list, func(x any) bool { return equal(v, x) })
	case OpNotIn:
		return !slices.ContainsFunc(m.list, func(x any) bool { return equal(v, x) })
	case OpEq:
		return equal(v, m.value)
	case OpNe:
		return !equal(v, m.value)
	case OpContains, OpNotContains:
		var has bool
		switch x := v.(type) {
		case []string:
			has = slices.Contains(x, m.value.(string))
		case string:
			s, ok := m.value.(string)
			has = ok && strings.Contains(x, s)
		}
		return has == (m.op == OpContains)
	case OpStartsWith, OpEndsWith:
		x, ok1 := v.(string)
		s, ok2 := m.value.(string)
		if !ok1 || !ok2 {
			return false
		}
		if m.op == OpStartsWith {
			return strings.HasPrefix(x, s)
		}
		return strings.HasSuffix(x, s)
	case OpLt, OpLe, OpGt, OpGe:
		c, ok := compare(v, m.value)
		if !ok {
			return false
		}
		switch m.op {
		case OpLt:
			return c < 0
		case OpLe:
			return c <= 0
		case OpGt:
			return c > 0
		}
		return c >= 0
	case OpInDays, OpAnniversaryInDays:
		t, ok := v.(time.Time)
		if !ok {
			return false
		}
		today := day(now)
		d := day(t)
		if m.op == OpAnniversaryInDays {
			d = nextAnniversary(d, today)
		}
		diff := int(d.Sub(today).Hours() / 24)
		return diff >= 0 && diff <= m.days
	}
	return false
}

// day is the UTC day of t, at midnight.
func day(t time.Time) time.Time {
	y, mo, d := t.UTC().Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// nextAnniversary is the first day on or after today with d's month and
// day (29 February falls on 28 February in common years).
func nextAnniversary(d, today time.Time) time.Time {
	for y := today.Year(); ; y++ {
		a := time.Date(y, d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		if a.Month() != d.Month() {
			a = time.Date(y, d.Month()+1, 0, 0, 0, 0, 0, time.UTC)
		}
		if !a.Before(today) {
			return a
		}
	}
}

func equal(a, b any) bool {
	if c, ok := compare(a, b); ok {
		return c == 0
	}
	if x, ok := a.(bool); ok {
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// compare orders two values of the same kind: strings, numbers or times.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case time.Time:
		y, ok := b.(time.Time)
		return x.Compare(y), ok
	}
	return 0, false
}

// behaviour is one tracked kind of event (a type and a filter), shared by
// every condition that reads it.
type behaviour struct {
	key    string
	typ    string
	where  *vm.Program
	depth  int           // how many of the latest matching times to keep
	window time.Duration // the longest window a condition reads
	ever   bool          // some condition reads times without a window (a count ever, or since)
}

func (b *behaviour) need(n int) { b.depth = max(b.depth, min(n, MaxCount+1)) }

// State is a contact's behaviour: for each tracked kind of event, the
// latest times (unix ms, ascending) it happened.
type State struct {
	Times map[string][]int64 `json:"t,omitempty"`
}

// Event is what segments need of an event.
type Event struct {
	Type       string
	At         time.Time
	Properties map[string]any // decoded; nil when none
}

// countMatch compares how many tracked events fall in the window.
type countMatch struct {
	b      *behaviour
	window time.Duration // 0: ever
	op     string
	n      int
}

func (m *countMatch) eval(f *Facts, now time.Time) bool {
	var times []int64
	if f.Behaviour != nil {
		times = f.Behaviour.Times[m.b.key]
	}
	at := now.UnixMilli()
	n := 0
	for i := len(times) - 1; i >= 0; i-- {
		t := times[i]
		if t > at {
			continue // not yet: an event stamped in the future counts from its time
		}
		if m.window > 0 && t <= at-m.window.Milliseconds() {
			break
		}
		n++
	}
	switch m.op {
	case OpEq:
		return n == m.n
	case OpNe:
		return n != m.n
	case OpLt:
		return n < m.n
	case OpLe:
		return n <= m.n
	case OpGt:
		return n > m.n
	}
	return n >= m.n
}

// sinceMatch holds when the latest tracked event is more than after ago.
type sinceMatch struct {
	b     *behaviour
	after time.Duration
}

func (m *sinceMatch) eval(f *Facts, now time.Time) bool {
	if f.Behaviour == nil {
		return false
	}
	times := f.Behaviour.Times[m.b.key]
	at := now.UnixMilli()
	for i := len(times) - 1; i >= 0; i-- {
		if times[i] <= at {
			return at-times[i] > m.after.Milliseconds()
		}
	}
	return false
}
