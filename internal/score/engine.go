package score

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/contact"
)

// State is a contact's scoring state: the scores, what each rule has given
// (for limits and caps), the band the thresholds put it in, and the
// inactivity clock. The store keeps it as JSON beside the contact.
type State struct {
	Values       map[string]int        `json:"v,omitempty"`
	Rules        map[string]*RuleState `json:"r,omitempty"`
	Band         string                `json:"b,omitempty"`
	LastActivity int64                 `json:"la,omitempty"` // unix ms of the latest activity event
	DecayAt      int64                 `json:"d,omitempty"`  // unix ms when inactivity next takes points; 0: not armed
	LastDecay    int64                 `json:"ld,omitempty"` // unix ms of the latest inactivity decay

	borrowed bool // the maps are another state's (see Clone)
}

// RuleState is what one rule has given a contact.
type RuleState struct {
	N      int     `json:"n,omitempty"` // times it scored
	Total  int     `json:"t,omitempty"` // points it gave, in total
	Recent []int64 `json:"w,omitempty"` // unix ms of its latest scorings, for per_day/per_week
}

// Clone returns a copy of the state that the engine may change without
// touching s; s must not be changed after. The copy borrows s's maps until
// the engine first writes to it (see own), so cloning costs nothing for an
// event that changes nothing.
func (s *State) Clone() State {
	c := *s
	c.borrowed = true
	return c
}

// own gives the state maps of its own before a write.
func (s *State) own() {
	if !s.borrowed {
		return
	}
	s.borrowed = false
	if s.Values != nil {
		values := make(map[string]int, len(s.Values))
		for k, v := range s.Values {
			values[k] = v
		}
		s.Values = values
	}
	if s.Rules != nil {
		rules := make(map[string]*RuleState, len(s.Rules))
		for k, rs := range s.Rules {
			rules[k] = rs // copied when written (see rule)
		}
		s.Rules = rules
	}
}

// Value returns a score's current value.
func (s *State) Value(name string) int { return s.Values[name] }

// Event is what the engine needs of an event.
type Event struct {
	ID         int64
	Type       string
	Source     string
	At         time.Time
	Properties json.RawMessage
}

// Entry is one ledger row: a change of one score.
type Entry struct {
	Score       string    `json:"score"`
	RuleID      string    `json:"rule_id"`
	RuleVersion int       `json:"rule_version"`
	EventID     int64     `json:"event_id,omitempty"`
	Points      int       `json:"points"`
	Before      int       `json:"before"`
	After       int       `json:"after"`
	Reason      string    `json:"reason,omitempty"` // capped, floor, ceiling, decay, unmatched
	At          time.Time `json:"at"`
}

// Crossing is a move from one band to another, and the actions of the band
// entered.
type Crossing struct {
	Score string  `json:"score"`
	Value int     `json:"value"`
	From  string  `json:"from,omitempty"`
	To    string  `json:"to"`
	Up    bool    `json:"up"`
	Band  BandDef `json:"-"`
}

// Outcome is what applying an event or a tick decided.
type Outcome struct {
	Entries    []Entry
	Crossing   *Crossing
	Changed    bool // the state changed and must be written
	EvalErrors int  // conditions that failed at run time (counted as false)
}

// Ledger reasons.
const (
	ReasonCapped    = "capped"
	ReasonFloor     = "floor"
	ReasonCeiling   = "ceiling"
	ReasonDecay     = "decay"
	ReasonUnmatched = "unmatched"
)

// Apply scores one event for a contact, updating st in place. c is needed
// only when NeedsContact(ev.Type); it may be nil otherwise. Inactivity that
// fell due before the event is applied first, so a replay of the log gives
// what the live timers gave.
func (r *Rules) Apply(st *State, ev Event, c *contact.Contact) Outcome {
	return r.apply(st, ev, c, true)
}

func (r *Rules) apply(st *State, ev Event, c *contact.Contact, profile bool) Outcome {
	var out Outcome
	r.tick(st, ev.At, &out)
	var props map[string]any
	decoded := false
	properties := func() map[string]any {
		if !decoded {
			decoded = true
			if len(ev.Properties) > 0 {
				props = DecodeProperties(ev.Properties)
			}
		}
		return props
	}
	// Machine opens and clicks (privacy proxies, link scanners) are not the
	// lead's doing: they never score and are not activity.
	if machine(ev.Properties, properties) {
		r.settle(st, &out)
		return out
	}
	at := ev.At.UnixMilli()
	if in := r.inactivity; in != nil && in.activity[ev.Type] && at > st.LastActivity {
		st.LastActivity = at
		// An activity that arrives late (its time before a decay already
		// taken) starts a quiet period after that decay, not a second one
		// inside the period that was already charged.
		st.DecayAt = max(at, st.LastDecay) + in.after.Milliseconds()
		out.Changed = true
	}
	var env any
	var run vm.VM // one machine runs every condition of this event
	for _, rl := range r.byEvent[ev.Type] {
		if rl.prog != nil {
			if !rl.admits(properties()) {
				continue
			}
			if env == nil {
				// The decoded properties are this call's own: the event's
				// type and source join them in place.
				e := properties()
				if e == nil {
					e = make(map[string]any, 2)
					props = e
				}
				e["type"], e["source"] = ev.Type, ev.Source
				env = Env{Event: e, Contact: contactEnv(c)}
			}
			ok, err := run.Run(rl.prog, env)
			if err != nil {
				out.EvalErrors++
				continue
			}
			if ok != true {
				continue
			}
		}
		r.fire(st, rl, ev, &out)
	}
	if ev.Type == AdjustEvent {
		r.adjust(st, ev, properties(), &out)
	}
	if profile && (ev.Type == "lead_created" || ev.Type == "field_changed") && c != nil {
		r.reprofile(st, c, ev, &out)
	}
	r.settle(st, &out)
	return out
}

// AdjustEvent is an event that adds points to a score by itself, with
// properties score, points and reason: what a journey's update step
// writes. Being in the log, the points survive a rescore.
const AdjustEvent = "score_adjusted"

// adjust applies an AdjustEvent. An unknown score, a sum, or points that
// are not a whole number from -10,000 to 10,000 change nothing.
func (r *Rules) adjust(st *State, ev Event, props map[string]any, out *Outcome) {
	name, _ := props["score"].(string)
	points, _ := props["points"].(float64)
	reason, _ := props["reason"].(string)
	if _, ok := r.Doc.Scores[name]; !ok || r.sums[name] != nil || points == 0 || points < -10000 || points > 10000 || points != float64(int(points)) {
		return
	}
	if reason == "" {
		reason = "adjusted"
	}
	r.add(st, name, int(points), reason, "", 0, ev.ID, ev.At, out)
}

// Touch records an event as activity, and nothing else: what the timer
// worker calls for activity that was not written to the state (see
// Quiet). It reports whether the event counted.
func (r *Rules) Touch(st *State, ev Event) bool {
	in := r.inactivity
	if in == nil || !in.activity[ev.Type] || ev.At.UnixMilli() <= st.LastActivity {
		return false
	}
	if bytes.Contains(ev.Properties, []byte("machine")) || bytes.Contains(ev.Properties, []byte(`\u`)) {
		if DecodeProperties(ev.Properties)["machine"] == true {
			return false
		}
	}
	at := ev.At.UnixMilli()
	st.LastActivity = at
	st.DecayAt = max(at, st.LastDecay) + in.after.Milliseconds()
	return true
}

// Quiet reports whether applying an event changed nothing but the activity
// clock of a contact whose timer was already armed. Such a change need not
// be written: the timer, when it fires, reads the activity from the log
// (Touch) before it decays anything, so it can only be late, never early.
func Quiet(before, after *State, out Outcome) bool {
	return len(out.Entries) == 0 && out.Crossing == nil && before.DecayAt != 0 && after.DecayAt >= before.DecayAt &&
		before.LastDecay == after.LastDecay && before.Band == after.Band
}

// machine reports an event a privacy proxy or link scanner caused
// ("machine": true). The properties are decoded only when the key may be
// there (spelt plainly or with escapes); decoded, when given, shares the
// caller's decoding.
func machine(props []byte, decoded func() map[string]any) bool {
	if !bytes.Contains(props, []byte("machine")) && !bytes.Contains(props, []byte(`\u`)) {
		return false
	}
	if decoded != nil {
		return decoded()["machine"] == true
	}
	return DecodeProperties(props)["machine"] == true
}

// fire applies an event rule's points within its limits.
func (r *Rules) fire(st *State, rl *rule, ev Event, out *Outcome) {
	rs := st.rule(rl.ID)
	at := ev.At.UnixMilli()
	l := rl.Limit
	if l.Once && rs.N > 0 {
		return
	}
	if l.PerDay > 0 && recent(rs.Recent, at, 24*time.Hour) >= l.PerDay {
		return
	}
	if l.PerWeek > 0 && recent(rs.Recent, at, 7*24*time.Hour) >= l.PerWeek {
		return
	}
	points, reason := rl.Points, ""
	if l.Cap > 0 {
		room := l.Cap - abs(rs.Total)
		if room <= 0 {
			return
		}
		if abs(points) > room {
			points, reason = sign(points)*room, ReasonCapped
		}
	}
	applied := r.add(st, rl.Score, points, reason, rl.ID, rl.Version, ev.ID, ev.At, out)
	if applied == 0 {
		return
	}
	rs.N++
	rs.Total += applied
	if rl.window > 0 {
		rs.Recent = append(rs.Recent, at)
		if len(rs.Recent) > rl.window {
			rs.Recent = rs.Recent[len(rs.Recent)-rl.window:]
		}
	}
}

// reprofile brings every profile rule's points in line with the contact as
// it is now: a rule whose condition holds has given its points, one whose
// condition does not has given none.
func (r *Rules) reprofile(st *State, c *contact.Contact, ev Event, out *Outcome) {
	if len(r.profile) == 0 {
		return
	}
	var env any = Env{Event: map[string]any{"type": ev.Type, "source": ev.Source}, Contact: contactEnv(c)}
	var run vm.VM
	for _, rl := range r.profile {
		ok, err := run.Run(rl.prog, env)
		if err != nil {
			out.EvalErrors++
			ok = false
		}
		want := 0
		if ok == true {
			want = rl.Points
		}
		rs := st.rule(rl.ID)
		if want == rs.Total {
			continue
		}
		reason := ""
		if want == 0 {
			reason = ReasonUnmatched
		}
		applied := r.add(st, rl.Score, want-rs.Total, reason, rl.ID, rl.Version, ev.ID, ev.At, out)
		rs.Total += applied
		if applied != 0 {
			rs.N++
		}
	}
}

// Tick applies the inactivity decay due at or before now.
func (r *Rules) Tick(st *State, now time.Time) Outcome {
	var out Outcome
	r.tick(st, now, &out)
	r.settle(st, &out)
	return out
}

// maxDecaysPerTick bounds the catch-up after a long outage or in a replay:
// by then the score sits on its floor anyway.
const maxDecaysPerTick = 1000

func (r *Rules) tick(st *State, now time.Time, out *Outcome) {
	in := r.inactivity
	if in == nil {
		if st.DecayAt != 0 {
			st.DecayAt = 0 // the rules no longer decay
			out.Changed = true
		}
		return
	}
	for n := 0; st.DecayAt != 0 && st.DecayAt <= now.UnixMilli() && n < maxDecaysPerTick; n++ {
		due := time.UnixMilli(st.DecayAt).UTC()
		r.add(st, in.Score, in.Points, ReasonDecay, reservedRule, in.Version, 0, due, out)
		st.DecayAt, st.LastDecay = 0, due.UnixMilli()
		if in.Repeat && !r.atFloor(st, in.Score) {
			st.DecayAt = due.Add(in.after).UnixMilli()
		}
		out.Changed = true
	}
}

func (r *Rules) atFloor(st *State, name string) bool {
	def := r.Doc.Scores[name]
	return def.Min != nil && st.Values[name] <= *def.Min
}

// NextWake is when the contact's state next changes with no event: the
// inactivity decay (zero when nothing is due).
func (r *Rules) NextWake(st *State) time.Time {
	if st.DecayAt == 0 || r.inactivity == nil {
		return time.Time{}
	}
	return time.UnixMilli(st.DecayAt).UTC()
}

// add changes a base score by points within its min and max, records the
// ledger entry, and returns the points actually applied.
func (r *Rules) add(st *State, name string, points int, reason, ruleID string, version int, eventID int64, at time.Time, out *Outcome) int {
	def := r.Doc.Scores[name]
	before := st.Values[name]
	after := before + points
	// Clamping only ever holds a score back: it never moves it against the
	// points (a score already below its floor is not raised by a penalty).
	if points < 0 && def.Min != nil && after < *def.Min {
		after = min(before, *def.Min)
		if reason == "" || reason == ReasonUnmatched {
			reason = ReasonFloor
		}
	}
	if points > 0 && def.Max != nil && after > *def.Max {
		after = max(before, *def.Max)
		if reason == "" {
			reason = ReasonCeiling
		}
	}
	applied := after - before
	if applied == 0 {
		return 0
	}
	st.own()
	if st.Values == nil {
		st.Values = map[string]int{}
	}
	st.Values[name] = after
	for sum, parts := range r.sums {
		total := 0
		for _, p := range parts {
			total += st.Values[p]
		}
		st.Values[sum] = total
	}
	out.Entries = append(out.Entries, Entry{Score: name, RuleID: ruleID, RuleVersion: version, EventID: eventID,
		Points: applied, Before: before, After: after, Reason: reason, At: at.UTC()})
	out.Changed = true
	return applied
}

// settle moves the contact to the band its threshold score calls for, with
// hysteresis on the way down, and reports the crossing.
func (r *Rules) settle(st *State, out *Outcome) {
	if len(r.bands) == 0 {
		return
	}
	v := st.Values[r.threshold]
	next := r.bandFor(st.Band, v)
	if next == st.Band {
		return
	}
	from := st.Band
	st.Band = next
	out.Changed = true
	b, _ := r.band(next)
	out.Crossing = &Crossing{Score: r.threshold, Value: v, From: from, To: next,
		Up: from == "" || r.index(next) < r.index(from), Band: b.BandDef}
}

// bandFor is the band a contact in band cur belongs to at value v.
func (r *Rules) bandFor(cur string, v int) string {
	raw := r.raw(v)
	ci := r.index(cur)
	if ci < 0 || r.index(raw) <= ci {
		return raw // first band, a band the rules dropped, or a move up
	}
	if v >= r.bands[ci].min-r.hysteresis {
		return cur // within the hysteresis margin: stay
	}
	return r.raw(v + r.hysteresis)
}

func (r *Rules) raw(v int) string {
	for _, b := range r.bands {
		if v >= b.min {
			return b.Name
		}
	}
	return r.bands[len(r.bands)-1].Name
}

func (r *Rules) index(name string) int {
	for i, b := range r.bands {
		if b.Name == name {
			return i
		}
	}
	return -1
}

func (r *Rules) band(name string) (band, bool) {
	if i := r.index(name); i >= 0 {
		return r.bands[i], true
	}
	return band{}, false
}

// Replay scores a contact from scratch over its events (oldest first) and
// the inactivity due up to now. The crossings on the way are not returned:
// a rescore fires at most one, from the stored band to the replayed one.
func (r *Rules) Replay(events []Event, c *contact.Contact, now time.Time) (State, []Entry) {
	var st State
	var entries []Entry
	profiled := false
	for _, ev := range events {
		// Profile rules read the contact as it is now, so once is enough.
		profile := !profiled && (ev.Type == "lead_created" || ev.Type == "field_changed")
		profiled = profiled || profile
		out := r.apply(&st, ev, c, profile)
		entries = append(entries, out.Entries...)
	}
	if !profiled && c != nil {
		var out Outcome
		r.reprofile(&st, c, Event{Type: "field_changed", At: now}, &out)
		entries = append(entries, out.Entries...)
	}
	out := r.Tick(&st, now)
	entries = append(entries, out.Entries...)
	return st, entries
}

func (s *State) rule(id string) *RuleState {
	s.own()
	if s.Rules == nil {
		s.Rules = map[string]*RuleState{}
	}
	// A copy, since another state may share this one (see Clone); its
	// window gets no spare capacity, so appending to it copies too.
	var rs RuleState
	if old := s.Rules[id]; old != nil {
		rs = *old
		rs.Recent = rs.Recent[:len(rs.Recent):len(rs.Recent)]
	}
	s.Rules[id] = &rs
	return &rs
}

// recent counts the times less than window away from at, before or after:
// an event that arrives late is limited by the scorings around it, so live
// scoring and a replay in time order agree.
func recent(times []int64, at int64, window time.Duration) int {
	n := 0
	for _, t := range times {
		if abs64(t-at) < window.Milliseconds() {
			n++
		}
	}
	return n
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	if v < 0 {
		return -1
	}
	return 1
}
