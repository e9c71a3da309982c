package score_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// step is one thing that happens to a contact: an event, or a timer tick.
type step struct {
	tick    bool
	at      time.Time
	ev      score.Event
	c       *contact.Contact // the contact as it is at this step
	machine bool
}

func (s step) String() string {
	if s.tick {
		return fmt.Sprintf("tick at +%v", s.at.Sub(base))
	}
	return fmt.Sprintf("%s %s at +%v", s.ev.Type, s.ev.Properties, s.at.Sub(base))
}

// scenario is a contact's life: created, then up to ~200 days of events and
// ticks, then looked at again at now.
type scenario struct {
	steps []step
	now   time.Time
	final *contact.Contact
}

func (sc scenario) events() []score.Event {
	var evs []score.Event
	for _, s := range sc.steps {
		if !s.tick {
			evs = append(evs, s.ev)
		}
	}
	return evs
}

var roles = []string{"", "CEO", "intern", "Head of Sales", "developer", "Gérant", "VP Marketing", "ceo-ish"}

func drawContact(t *rapid.T, label string) *contact.Contact {
	c := &contact.Contact{Role: rapid.SampledFrom(roles).Draw(t, label+" role")}
	if v := rapid.SampledFrom([]float64{-1, 0, 4999, 5000, 20000}).Draw(t, label+" value"); v >= 0 {
		c.PotentialValue = &v
	}
	return c
}

// gap is the time to the next step: often minutes, sometimes days, now and
// then a month or exactly on a limit's or the decay's boundary.
var gap = rapid.OneOf(
	rapid.Int64Range(0, int64(2*time.Hour/time.Millisecond)),
	rapid.Int64Range(0, int64(3*day/time.Millisecond)),
	rapid.Int64Range(0, int64(45*day/time.Millisecond)),
	rapid.SampledFrom([]int64{0, int64(day / time.Millisecond), int64(day/time.Millisecond) - 1,
		int64(7 * day / time.Millisecond), int64(30 * day / time.Millisecond)}),
)

// kinds are what a step can be, with the event's properties.
var kinds = []struct {
	name, typ, props string
	machine          bool
}{
	{"pricing", "page_viewed", `{"url":"https://example.com/pricing"}`, false},
	{"quote", "page_viewed", `{"url":"https://example.com/fr/devis?ref=x"}`, false},
	{"blog", "page_viewed", `{"url":"https://example.com/blog/pricing-tips"}`, false},
	{"click", "email_clicked", `{"url":"https://example.com/x"}`, false},
	{"machine click", "email_clicked", `{"url":"https://example.com/x","machine":true}`, true},
	{"open", "email_opened", `{"machine":false}`, false},
	{"machine open", "email_opened", `{"machine":true}`, true},
	{"reply", "email_replied", ``, false},
	{"qualification", "form_submitted", `{"form":"qualification"}`, false},
	{"webinar", "form_submitted", `{"form":"webinar"}`, false},
	{"other form", "form_submitted", `{"form":"newsletter"}`, false},
	{"meeting", "meeting_booked", ``, false},
	{"field", "field_changed", ``, false},
	{"unknown", "unsubscribed", ``, false},
	{"tick", "", ``, false},
	{"tick", "", ``, false},
}

func drawScenario(t *rapid.T) scenario {
	c := drawContact(t, "created")
	at := base
	sc := scenario{steps: []step{{at: at, ev: score.Event{ID: 1, Type: "lead_created", At: at}, c: c}}}
	end := base.Add(200 * day)
	n := rapid.IntRange(0, 150).Draw(t, "steps")
	for i := 0; i < n; i++ {
		next := at.Add(time.Duration(gap.Draw(t, "gap")) * time.Millisecond)
		if next.After(end) {
			break
		}
		at = next
		k := rapid.SampledFrom(kinds).Draw(t, "kind")
		if k.typ == "" {
			sc.steps = append(sc.steps, step{tick: true, at: at})
			continue
		}
		if k.typ == "field_changed" {
			c = drawContact(t, "changed")
		}
		ev := score.Event{ID: int64(len(sc.steps) + 1), Type: k.typ, Source: "web", At: at}
		if k.props != "" {
			ev.Properties = json.RawMessage(k.props)
		}
		sc.steps = append(sc.steps, step{at: at, ev: ev, c: c, machine: k.machine})
	}
	sc.now = at.Add(time.Duration(gap.Draw(t, "now")) * time.Millisecond)
	sc.final = c
	return sc
}

// ledger checks that the entries chain: each starts where the last one on
// its score ended, and the running totals are the state's values.
type ledger struct {
	values map[string]int
}

func (l *ledger) add(t *rapid.T, what string, entries []score.Entry) {
	if l.values == nil {
		l.values = map[string]int{}
	}
	for _, e := range entries {
		if e.Points == 0 {
			t.Fatalf("%s: entry of 0 points %+v", what, e)
		}
		if e.After != e.Before+e.Points {
			t.Fatalf("%s: entry %+v: After != Before + Points", what, e)
		}
		if e.Before != l.values[e.Score] {
			t.Fatalf("%s: entry %+v starts at %d; the ledger stands at %d", what, e, e.Before, l.values[e.Score])
		}
		l.values[e.Score] = e.After
	}
}

func (l *ledger) matches(t *rapid.T, what string, st *score.State) {
	for _, name := range []string{"fit", "engagement"} {
		if got, want := st.Value(name), l.values[name]; got != want {
			t.Fatalf("%s: %s = %d; the ledger sums to %d", what, name, got, want)
		}
	}
}

// checkState checks what must hold of the default rules' state at any time.
func checkState(t *rapid.T, r *score.Rules, what string, st *score.State, now time.Time) {
	fit, eng, sum := st.Value("fit"), st.Value("engagement"), st.Value("score")
	if sum != fit+eng {
		t.Fatalf("%s: score %d != fit %d + engagement %d", what, sum, fit, eng)
	}
	if eng < 0 || fit < 0 {
		t.Fatalf("%s: below the floor: fit %d, engagement %d", what, fit, eng)
	}
	if st.DecayAt != 0 && st.DecayAt <= now.UnixMilli() {
		t.Fatalf("%s: decay due at %v still pending at %v", what, time.UnixMilli(st.DecayAt).UTC(), now)
	}
	if w := r.NextWake(st); st.DecayAt == 0 && !w.IsZero() || st.DecayAt != 0 && w.UnixMilli() != st.DecayAt {
		t.Fatalf("%s: NextWake = %v with DecayAt %d", what, w, st.DecayAt)
	}
	if st.Band == "" {
		return
	}
	bands, h := r.Bands(), r.Doc.Thresholds.Hysteresis
	in, raw := -1, -1
	for i, b := range bands {
		if b.Name == st.Band {
			in = i
		}
		if raw < 0 && (b.Min == nil || sum >= *b.Min) {
			raw = i
		}
	}
	if in < 0 {
		t.Fatalf("%s: unknown band %q", what, st.Band)
	}
	if in > raw {
		t.Fatalf("%s: in band %q at %d, below the band %q the score reaches", what, st.Band, sum, bands[raw].Name)
	}
	if m := bands[in].Min; m != nil && sum < *m-h {
		t.Fatalf("%s: in band %q (min %d, hysteresis %d) at %d", what, st.Band, *m, h, sum)
	}
}

// checkOutcome checks what one step decided.
func checkOutcome(t *rapid.T, s step, out score.Outcome, before, after *score.State) {
	for _, e := range out.Entries {
		decay := e.RuleID == "inactivity"
		switch {
		case decay && (e.Reason != score.ReasonDecay || e.EventID != 0 || e.At.After(s.at)):
			t.Fatalf("%s: bad decay entry %+v", s, e)
		case decay:
		case s.tick || s.machine:
			t.Fatalf("%s: entry %+v; only decay may happen here", s, e)
		case e.EventID != s.ev.ID || !e.At.Equal(s.at):
			t.Fatalf("%s: entry %+v is not of this event", s, e)
		}
	}
	if s.machine && after.LastActivity != before.LastActivity {
		t.Fatalf("%s: a machine event counted as activity", s)
	}
	if (len(out.Entries) > 0 || out.Crossing != nil) && !out.Changed {
		t.Fatalf("%s: outcome %+v not marked changed", s, out)
	}
	if out.EvalErrors != 0 {
		t.Fatalf("%s: %d conditions failed", s, out.EvalErrors)
	}
	switch c := out.Crossing; {
	case c == nil && after.Band != before.Band:
		t.Fatalf("%s: band %q -> %q without a crossing", s, before.Band, after.Band)
	case c != nil && (c.From != before.Band || c.To != after.Band || c.Value != after.Value("score") || c.Band.Name != c.To):
		t.Fatalf("%s: crossing %+v; band %q -> %q at %d", s, c, before.Band, after.Band, after.Value("score"))
	}
}

// live applies a scenario as the server would: each event as it comes, and
// (with ticks) the timer between them; with persist, the state goes through
// JSON between steps like it does through the store.
func live(t *rapid.T, r *score.Rules, sc scenario, ticks, persist bool) score.State {
	var st score.State
	var l ledger
	for _, s := range sc.steps {
		if s.tick && !ticks {
			continue
		}
		before := clone(t, &st)
		var out score.Outcome
		if s.tick {
			out = r.Tick(&st, s.at)
		} else {
			out = r.Apply(&st, s.ev, s.c)
		}
		l.add(t, s.String(), out.Entries)
		l.matches(t, s.String(), &st)
		checkOutcome(t, s, out, &before, &st)
		checkState(t, r, s.String(), &st, s.at)
		if persist {
			st = clone(t, &st)
		}
	}
	out := r.Tick(&st, sc.now)
	l.add(t, "final tick", out.Entries)
	l.matches(t, "final tick", &st)
	checkState(t, r, "final tick", &st, sc.now)
	return st
}

func clone(t *rapid.T, st *score.State) score.State {
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatalf("marshal state: %v", err)
	}
	var out score.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal state: %v", err)
	}
	return out
}

func sameState(t *rapid.T, what string, got, want *score.State) {
	for _, name := range []string{"fit", "engagement", "score"} {
		if got.Value(name) != want.Value(name) {
			t.Fatalf("%s: %s = %d; live gave %d", what, name, got.Value(name), want.Value(name))
		}
	}
	if got.LastActivity != want.LastActivity || got.DecayAt != want.DecayAt {
		t.Fatalf("%s: activity %d, decay at %d; live gave %d, %d", what, got.LastActivity, got.DecayAt, want.LastActivity, want.DecayAt)
	}
}

// The default rules keep their invariants over any life of a contact, and a
// replay of the log ends where the live scoring did.
func TestDefaultRulesProperties(t *testing.T) {
	t.Parallel()
	r := score.Default()
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		atEvents := live(t, r, sc, false, false)
		withTicks := live(t, r, sc, true, true)
		sameState(t, "live with timer ticks", &withTicks, &atEvents)

		replayed, entries := r.Replay(sc.events(), sc.final, sc.now)
		var l ledger
		l.add(t, "replay", entries)
		l.matches(t, "replay", &replayed)
		checkState(t, r, "replay", &replayed, sc.now)
		sameState(t, "replay", &replayed, &atEvents)
	})
}

// A band moves up as soon as the score reaches it and down only past the
// hysteresis margin, on any path of the score.
func TestHysteresisProperty(t *testing.T) {
	t.Parallel()
	r := mustParse(t, yamlDoc(
		"scores:",
		"  s: {min: -100, max: 100}",
		"rules:",
		"  - {id: up, event: up, score: s, points: 1}",
		"  - {id: down, event: down, score: s, points: -1}",
		"  - {id: jump, event: jump, score: s, points: 40}",
		"  - {id: drop, event: drop, score: s, points: -40}",
		"thresholds:",
		"  score: s",
		"  hysteresis: 7",
		"  bands:",
		"    - {name: hot, min: 50}",
		"    - {name: warm, min: 20}",
		"    - {name: mild, min: 15}",
		"    - {name: cold}",
	))
	const h = 7
	bands := r.Bands()
	index := func(name string) int {
		for i, b := range bands {
			if b.Name == name {
				return i
			}
		}
		return -1
	}
	rawAt := func(v int) int { // the band a score of v reaches, with no hysteresis
		for i, b := range bands {
			if b.Min == nil || v >= *b.Min {
				return i
			}
		}
		return len(bands) - 1
	}
	rapid.Check(t, func(t *rapid.T) {
		var st score.State
		n := rapid.IntRange(1, 300).Draw(t, "n")
		for i := range n {
			typ := rapid.SampledFrom([]string{"up", "up", "down", "down", "jump", "drop"}).Draw(t, "type")
			prev := st.Band
			out := r.Apply(&st, score.Event{ID: int64(i + 1), Type: typ, At: base.Add(time.Duration(i) * time.Minute)}, nil)
			v, cur, p := st.Value("s"), index(st.Band), index(prev)
			switch {
			case cur < 0:
				t.Fatalf("at %d in unknown band %q", v, st.Band)
			case cur > rawAt(v):
				t.Fatalf("at %d in %q; the score reaches %q", v, st.Band, bands[rawAt(v)].Name)
			case bands[cur].Min != nil && v < *bands[cur].Min-h:
				t.Fatalf("at %d still in %q (min %d)", v, st.Band, *bands[cur].Min)
			case (p < 0 || cur < p) && cur != rawAt(v):
				t.Fatalf("at %d moved up from %q to %q; want %q", v, prev, st.Band, bands[rawAt(v)].Name)
			case p >= 0 && cur > p && (v >= *bands[p].Min-h || cur != rawAt(v+h)):
				t.Fatalf("at %d moved down from %q to %q", v, prev, st.Band)
			}
			switch c := out.Crossing; {
			case (c != nil) != (st.Band != prev):
				t.Fatalf("band %q -> %q, crossing %+v", prev, st.Band, c)
			case c != nil && (c.From != prev || c.To != st.Band || c.Up != (p < 0 || cur < p)):
				t.Fatalf("band %q -> %q, crossing %+v", prev, st.Band, c)
			}
		}
	})
}
