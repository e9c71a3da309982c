package route

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/score"
)

// SLA is the first-response promise: first human contact within Target of
// business time, with overrides and an escalation ladder.
//
// Targets are business time, counted on the team's Calendar: "1d" is 24
// open hours (three days of an eight-hour week day), not a working day.
type SLA struct {
	Target     score.Duration `yaml:"target,omitempty" json:"target,omitempty"` // 0: DefaultTarget
	Overrides  []SLAOverride  `yaml:"overrides,omitempty" json:"overrides,omitempty"`
	Escalation []Level        `yaml:"escalation,omitempty" json:"escalation,omitempty"` // empty: DefaultEscalation
}

// SLAOverride sets another target for the leads it matches. Every
// condition given must hold; the first override that holds wins.
type SLAOverride struct {
	Team        string   `yaml:"team,omitempty" json:"team,omitempty"`
	RequestType []string `yaml:"request_type,omitempty" json:"request_type,omitempty"`
	// Value is a band of potential value, Min included, Max excluded; a
	// lead without a potential value matches no band.
	Value  *Band          `yaml:"value,omitempty" json:"value,omitempty"`
	Target score.Duration `yaml:"target" json:"target"`
}

// Level is a rung of the escalation ladder: when At of the target has
// passed without a human contact, notify these people, reassign, or both.
type Level struct {
	At       Percent  `yaml:"at" json:"at"`
	Notify   []string `yaml:"notify,omitempty" json:"notify,omitempty"`     // Recipients
	Reassign bool     `yaml:"reassign,omitempty" json:"reassign,omitempty"` // move the lead to the next available owner
}

// Who a level can notify: the lead's owner, and its team's lead and manager.
const (
	NotifyOwner    = "owner"
	NotifyTeamLead = "team_lead"
	NotifyManager  = "manager"
)

// Recipients lists them, for validation and documentation.
var Recipients = []string{NotifyOwner, NotifyTeamLead, NotifyManager}

// DefaultTarget is the target of an SLA that gives none.
const DefaultTarget = 15 * time.Minute

// DefaultEscalation is the ladder of an SLA that gives none: a reminder to
// the owner at 80%, reassignment and the team lead at the deadline, the
// manager at twice the target.
var DefaultEscalation = []Level{
	{At: 80, Notify: []string{NotifyOwner}},
	{At: 100, Reassign: true, Notify: []string{NotifyTeamLead}},
	{At: 200, Notify: []string{NotifyManager}},
}

// Limits of an SLA.
const (
	MinTarget    = time.Minute
	MaxTarget    = 30 * 24 * time.Hour // of business time
	MaxOverrides = 100
	MaxLevels    = 10
	MaxPercent   = 1000
)

// Percent is a whole percent, written "80%" (a bare 80 is read as 80% too).
type Percent int

// badPercent marks an at that did not parse: the checker reports it with
// the document's other problems, at its path, rather than the decoder
// stopping at the first.
const badPercent = Percent(-1)

func (p Percent) String() string { return strconv.Itoa(int(p)) + "%" }

// parsePercent reads "80%", "80 %" or "80".
func parsePercent(s string) (Percent, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	if s == "" || !calDigits(strings.TrimPrefix(s, "-")) || len(s) > 9 {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return Percent(v), true
}

// UnmarshalYAML reads "80%" or 80; anything else is left for the checker.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	v, ok := parsePercent(n.Value)
	if n.Kind != yaml.ScalarNode || !ok {
		v = badPercent
	}
	*p = v
	return nil
}

// MarshalYAML writes "80%".
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// MarshalJSON writes "80%".
func (p Percent) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(p.String())), nil }

// UnmarshalJSON reads "80%", "80" or 80; null leaves p as it is.
func (p *Percent) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	v, ok := parsePercent(s)
	if !ok {
		return fmt.Errorf("percent %s: want a whole percent such as \"80%%\"", echoKey(string(b)))
	}
	*p = v
	return nil
}

// TargetFor is the target of a lead: that of the first override whose
// conditions all hold, else Target, else DefaultTarget. value is the lead's
// potential value, nil when unknown. A nil SLA gives DefaultTarget.
// Request types compare without case, as in the routing rules.
func (s *SLA) TargetFor(team, requestType string, value *float64) time.Duration {
	if s == nil {
		return DefaultTarget
	}
	for _, o := range s.Overrides {
		if o.Target <= 0 { // invalid; the checker refuses it
			continue
		}
		if o.Team != "" && o.Team != team {
			continue
		}
		if !in(o.RequestType, requestType) {
			continue
		}
		if o.Value != nil && (value == nil || *value < o.Value.lo() || *value >= o.Value.hi()) {
			continue
		}
		return time.Duration(o.Target)
	}
	if s.Target > 0 {
		return time.Duration(s.Target)
	}
	return DefaultTarget
}

// Levels is the escalation ladder: Escalation, or DefaultEscalation (a
// copy: callers may keep and change it) when it is empty or s is nil.
func (s *SLA) Levels() []Level {
	if s != nil && len(s.Escalation) > 0 {
		return s.Escalation
	}
	out := make([]Level, len(DefaultEscalation))
	for i, l := range DefaultEscalation {
		l.Notify = slices.Clone(l.Notify)
		out[i] = l
	}
	return out
}

// sla checks an SLA, reporting at paths under "sla". teams may be nil.
func (c *checker) sla(s *SLA, teams Teams) {
	if s == nil {
		return
	}
	if s.Target != 0 {
		c.target(s.Target, "sla", "target")
	}
	if len(s.Overrides) > MaxOverrides {
		c.add(fmt.Sprintf("at most %d overrides", MaxOverrides), "sla", "overrides")
	} else {
		c.overrides(s.Overrides, teams)
	}
	c.levels(s.Escalation)
}

func (c *checker) target(d score.Duration, path ...any) {
	if v := time.Duration(d); v < MinTarget || v > MaxTarget {
		c.add("want a duration of business time from 1m to 30d, such as 15m, 2h or 1d", path...)
	}
}

func (c *checker) overrides(ovs []SLAOverride, teams Teams) {
	before := len(c.problems)
	for i, o := range ovs {
		if o.Team == "" && len(o.RequestType) == 0 && o.Value == nil {
			c.add("an override needs at least one condition (team, request_type or value); "+
				"for every lead, set the SLA's own target", "sla", "overrides", i)
		}
		if o.Team != "" {
			c.team(o.Team, teams, "sla", "overrides", i, "team")
		}
		c.list(o.RequestType, valueRE, "1 to 100 letters, digits, spaces or _ . : / -", "sla", "overrides", i, "request_type")
		if b := o.Value; b != nil {
			switch {
			case b.Min == nil && b.Max == nil:
				c.add("give min, max or both", "sla", "overrides", i, "value")
			case b.Min != nil && !finite(*b.Min), b.Max != nil && !finite(*b.Max):
				c.add("min and max are numbers, not .inf or .nan", "sla", "overrides", i, "value")
			case b.Min != nil && *b.Min < 0, b.Max != nil && *b.Max <= 0:
				c.add("a potential value is not negative", "sla", "overrides", i, "value")
			case b.lo() >= b.hi():
				c.add("min must be below max (min is included, max is not)", "sla", "overrides", i, "value")
			}
		}
		if o.Target == 0 {
			c.add("missing; give the target for the leads this override matches, such as 5m", "sla", "overrides", i, "target")
		} else {
			c.target(o.Target, "sla", "overrides", i, "target")
		}
	}
	if len(c.problems) == before {
		c.overrideOverlaps(ovs)
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// overrideOverlaps rejects, as the routing rules do, an override no lead
// can reach (an earlier one takes every lead it would, an exact copy
// included) and two overrides alike but for value bands that overlap.
func (c *checker) overrideOverlaps(ovs []SLAOverride) {
	for j, b := range ovs {
		for i, a := range ovs[:j] {
			if overrideCovers(a, b) {
				c.add(fmt.Sprintf("no lead can reach this override: overrides[%d] comes first and takes every lead it would", i),
					"sla", "overrides", j)
				break
			}
			if a.Value != nil && b.Value != nil && a.Team == b.Team && sameFold(a.RequestType, b.RequestType) &&
				a.Value.lo() < b.Value.hi() && b.Value.lo() < a.Value.hi() {
				c.add(fmt.Sprintf("its value band overlaps that of overrides[%d], which has the same conditions otherwise; "+
					"make one band end where the other starts (min is included, max is not)", i),
					"sla", "overrides", j, "value")
				break
			}
		}
	}
}

// overrideCovers reports whether a matches every lead b matches. A lead
// without a value matches no band, so a banded a never covers a band-less b.
func overrideCovers(a, b SLAOverride) bool {
	if a.Team != "" && a.Team != b.Team {
		return false
	}
	if len(a.RequestType) > 0 {
		if len(b.RequestType) == 0 {
			return false
		}
		for _, v := range b.RequestType {
			if !in(a.RequestType, v) {
				return false
			}
		}
	}
	if a.Value == nil {
		return true
	}
	return b.Value != nil && a.Value.lo() <= b.Value.lo() && b.Value.hi() <= a.Value.hi()
}

// sameFold reports whether x and y hold the same values, ignoring order
// and case (request types match without case).
func sameFold(x, y []string) bool {
	norm := func(v []string) []string {
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = strings.ToLower(s)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(x), norm(y))
}

func (c *checker) levels(ls []Level) {
	if len(ls) > MaxLevels {
		c.add(fmt.Sprintf("at most %d levels", MaxLevels), "sla", "escalation")
		return
	}
	reassigns := -1
	for k, l := range ls {
		switch {
		case l.At < 1 || l.At > MaxPercent:
			c.add(fmt.Sprintf("want a whole percent of the target from 1%% to %d%%, such as 80%%", MaxPercent),
				"sla", "escalation", k, "at")
		case k > 0 && ls[k-1].At >= 1 && l.At <= ls[k-1].At:
			c.add(fmt.Sprintf("levels go in increasing order of at: this one must come after escalation[%d] (%s)", k-1, ls[k-1].At),
				"sla", "escalation", k, "at")
		}
		for m, who := range l.Notify {
			switch {
			case !slices.Contains(Recipients, who):
				c.add(fmt.Sprintf("%q is not someone to notify; use %s", echoKey(who), strings.Join(Recipients, ", ")),
					"sla", "escalation", k, "notify", m)
			case slices.Contains(l.Notify[:m], who):
				c.add(fmt.Sprintf("%q is listed twice", who), "sla", "escalation", k, "notify", m)
			}
		}
		if len(l.Notify) == 0 && !l.Reassign {
			c.add("a level must do something: notify someone (owner, team_lead, manager) or reassign the lead",
				"sla", "escalation", k)
		}
		if l.Reassign {
			if reassigns >= 0 {
				c.add(fmt.Sprintf("only one level reassigns the lead, and escalation[%d] does already", reassigns),
					"sla", "escalation", k, "reassign")
			} else {
				reassigns = k
			}
		}
	}
}

// Mark is when an escalation level falls due. Level is the level's index
// in the ladder (Levels).
type Mark struct {
	Level int       `json:"level"`
	At    time.Time `json:"at"`
}

// ClockPlan is an SLA clock laid out at a lead's arrival.
type ClockPlan struct {
	Start time.Time `json:"start"`
	Due   time.Time `json:"due"`
	Marks []Mark    `json:"marks,omitempty"`
}

// Plan gives, for a lead that arrived at arrived, when the clock starts
// (the calendar's next opening at or after arrived), when it is due
// (Start + target of business time) and when each level falls due
// (Start + At% of target, business time), in the ladder's order. A level
// beyond the calendar's horizon (366 days from Start) has no mark. ok is
// false when Start or Due is beyond it: a calendar that never opens.
func Plan(cal Calendar, arrived time.Time, target time.Duration, levels []Level) (p ClockPlan, ok bool) {
	start, ok := cal.Next(arrived)
	if !ok {
		return ClockPlan{}, false
	}
	due, ok := cal.Add(start, target)
	if !ok {
		return ClockPlan{}, false
	}
	p = ClockPlan{Start: start, Due: due, Marks: make([]Mark, 0, len(levels))}
	for k, l := range levels {
		if at, ok := cal.Add(start, percentOf(target, l.At)); ok {
			p.Marks = append(p.Marks, Mark{Level: k, At: at})
		}
	}
	return p, true
}

// percentOf is p% of d, saturating instead of overflowing.
func percentOf(d time.Duration, p Percent) time.Duration {
	if d <= 0 || p <= 0 {
		return 0
	}
	if d > maxDuration/time.Duration(p) {
		return maxDuration
	}
	return d * time.Duration(p) / 100
}

// Status is where an SLA clock stands.
type Status string

const (
	Running  Status = "running"  // open now, before due
	Paused   Status = "paused"   // closed now (or not started yet), before due
	Met      Status = "met"      // stopped at or before due
	Breached Status = "breached" // stopped after due, or not stopped and due has passed
)

// overrun is how many targets of business time State counts at most: past
// that, how late a lead is matters less than that it is, and the count's
// cost grows with the range.
const overrun = 10

// ClockState is an SLA clock at an instant. Elapsed is business time from
// Start to the stop or now, whichever is first, counted up to 10 targets
// (Capped then); Remaining is what is left of the target, never negative.
// In JSON the durations are whole seconds, elapsed_seconds (rounded down)
// and remaining_seconds (rounded up, so 0 only once it has run out).
type ClockState struct {
	Status    Status        `json:"status"`
	Start     time.Time     `json:"start"`
	Due       time.Time     `json:"due"`
	Elapsed   time.Duration `json:"-"`
	Remaining time.Duration `json:"-"`
	Capped    bool          `json:"capped,omitempty"` // Elapsed stopped counting at 10 targets
	StoppedAt *time.Time    `json:"stopped_at,omitempty"`
}

// MarshalJSON writes the durations as seconds.
func (s ClockState) MarshalJSON() ([]byte, error) {
	type plain ClockState
	return json.Marshal(struct {
		plain
		ElapsedSeconds   int64 `json:"elapsed_seconds"`
		RemainingSeconds int64 `json:"remaining_seconds"`
	}{plain(s), int64(s.Elapsed / time.Second), int64((s.Remaining + time.Second - 1) / time.Second)})
}

// State says where the clock of plan p stands at now, given when a human
// first contacted the lead (stopped, nil while nobody has). target is the
// one p was planned with. A contact before Start (someone answered before
// opening time) meets the SLA with nothing elapsed.
func State(cal Calendar, p ClockPlan, target time.Duration, now time.Time, stopped *time.Time) ClockState {
	st := ClockState{Start: p.Start, Due: p.Due}
	end := now
	switch {
	case stopped != nil:
		at := *stopped
		st.StoppedAt = &at
		if at.Before(end) {
			end = at
		}
		if at.After(p.Due) {
			st.Status = Breached
		} else {
			st.Status = Met
		}
	case !now.Before(p.Due):
		st.Status = Breached
	case now.Before(p.Start) || !cal.Open(now):
		st.Status = Paused
	default:
		st.Status = Running
	}
	if end.After(p.Due) {
		// Past due, count on to at most overrun targets, and never look
		// further than the calendar's horizon.
		limit := p.Start.Add(calHorizon)
		if at, ok := cal.Add(p.Due, percentOf(target, (overrun-1)*100)); ok && at.Before(limit) {
			limit = at
		}
		if end.After(limit) {
			end, st.Capped = limit, true
		}
	}
	st.Elapsed = cal.Elapsed(p.Start, end)
	st.Remaining = max(target-st.Elapsed, 0)
	return st
}
