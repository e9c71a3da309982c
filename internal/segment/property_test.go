package segment_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/nurturehq/nurture/internal/segment"
)

// The properties below check the incremental behaviour state (Observe each
// event, then evaluate) against a brute-force evaluation over the whole
// event list, written here from the documented semantics:
//
//   - count(type, window, where) op n: the events of that type matching
//     where, stamped at or before now and, with a window, strictly less than
//     window old (now-window < t <= now; an event exactly window old no
//     longer counts); no window: ever. Op defaults to >=, n to 1.
//   - since(type, where) > d: the latest such event stamped at or before now
//     is more than d old (now - t > d); false when there is none.
//
// Times are compared in milliseconds, as the state keeps them.

var (
	propTypes = []string{"page_viewed", "email_clicked", "form_submitted"}
	// "" is an event without properties.
	propURLs = []string{"https://x.test/pricing", "https://x.test/blog/a", "https://x.test/", ""}
	// where filters and the url substring each one tests.
	propWheres = map[string]string{
		"":                              "",
		`event.url contains "/pricing"`: "/pricing",
		`event.url contains "/blog"`:    "/blog",
	}
	propWhereList = []string{"", `event.url contains "/pricing"`, `event.url contains "/blog"`}
	propCountOps  = []string{"", "==", "!=", "<", "<=", ">", ">="}
	propSpan      = 60 * day
)

// drawOffset is an offset from 0 to max: on a day grid, an hour grid or any
// millisecond, so that events and now often meet exactly on a window's edge.
func drawOffset(t *rapid.T, label string, max time.Duration) time.Duration {
	switch rapid.IntRange(0, 2).Draw(t, label+" grid") {
	case 0:
		return time.Duration(rapid.Int64Range(0, int64(max/day)).Draw(t, label+" days")) * day
	case 1:
		return time.Duration(rapid.Int64Range(0, int64(max/time.Hour)).Draw(t, label+" hours")) * time.Hour
	}
	return time.Duration(rapid.Int64Range(0, int64(max/time.Millisecond)).Draw(t, label+" ms")) * time.Millisecond
}

func drawEvents(t *rapid.T) []segment.Event {
	n := rapid.IntRange(0, 24).Draw(t, "events")
	evs := make([]segment.Event, 0, n)
	for range n {
		ev := segment.Event{
			Type: rapid.SampledFrom(propTypes).Draw(t, "type"),
			At:   base.Add(drawOffset(t, "at", propSpan)),
		}
		if url := rapid.SampledFrom(propURLs).Draw(t, "url"); url != "" {
			ev.Properties = map[string]any{"url": url}
		}
		evs = append(evs, ev)
	}
	return evs
}

func drawRule(t *rapid.T, depth int) *segment.Rule {
	kinds := 5
	if depth >= 3 {
		kinds = 2
	}
	switch rapid.IntRange(0, kinds-1).Draw(t, "node") {
	case 0:
		r := &segment.Rule{
			Event: rapid.SampledFrom(propTypes).Draw(t, "count type"),
			Where: rapid.SampledFrom(propWhereList).Draw(t, "count where"),
			Op:    rapid.SampledFrom(propCountOps).Draw(t, "count op"),
		}
		if rapid.Bool().Draw(t, "count n given") {
			n := rapid.IntRange(0, 4).Draw(t, "count n")
			if r.Op == "<" && n == 0 {
				n = 1 // "< 0" is refused by Compile
			}
			r.Count = &n
		}
		if rapid.Bool().Draw(t, "count windowed") {
			r.Within = dur(time.Duration(rapid.IntRange(1, 30).Draw(t, "window days")) * day)
		}
		return r
	case 1:
		return &segment.Rule{
			Event: rapid.SampledFrom(propTypes).Draw(t, "since type"),
			Where: rapid.SampledFrom(propWhereList).Draw(t, "since where"),
			Since: dur(time.Duration(rapid.IntRange(1, 20).Draw(t, "since days")) * day),
		}
	case 2:
		return &segment.Rule{Not: drawRule(t, depth+1)}
	}
	list := make([]*segment.Rule, rapid.IntRange(1, 3).Draw(t, "children"))
	for i := range list {
		list[i] = drawRule(t, depth+1)
	}
	if rapid.Bool().Draw(t, "all") {
		return &segment.Rule{All: list}
	}
	return &segment.Rule{Any: list}
}

func bruteMatches(r *segment.Rule, ev segment.Event) bool {
	if ev.Type != r.Event {
		return false
	}
	sub, ok := propWheres[r.Where]
	if !ok {
		panic("unknown where " + r.Where)
	}
	if r.Where == "" {
		return true
	}
	url, ok := ev.Properties["url"].(string)
	return ok && strings.Contains(url, sub)
}

// brute evaluates a behaviour rule over every event, from the semantics.
func brute(r *segment.Rule, evs []segment.Event, now time.Time) bool {
	switch {
	case r.All != nil:
		for _, s := range r.All {
			if !brute(s, evs, now) {
				return false
			}
		}
		return true
	case r.Any != nil:
		for _, s := range r.Any {
			if brute(s, evs, now) {
				return true
			}
		}
		return false
	case r.Not != nil:
		return !brute(r.Not, evs, now)
	}
	at := now.UnixMilli()
	if r.Since != nil {
		latest, found := int64(0), false
		for _, e := range evs {
			if t := e.At.UnixMilli(); bruteMatches(r, e) && t <= at && (!found || t > latest) {
				latest, found = t, true
			}
		}
		return found && at-latest > time.Duration(*r.Since).Milliseconds()
	}
	n := 0
	for _, e := range evs {
		t := e.At.UnixMilli()
		if !bruteMatches(r, e) || t > at {
			continue
		}
		if r.Within != nil && t <= at-time.Duration(*r.Within).Milliseconds() {
			continue
		}
		n++
	}
	want := 1
	if r.Count != nil {
		want = *r.Count
	}
	switch r.Op {
	case "==":
		return n == want
	case "!=":
		return n != want
	case "<":
		return n < want
	case "<=":
		return n <= want
	case ">":
		return n > want
	}
	return n >= want
}

// scenario is a random rule, its catalog, and a stream of events observed
// in a random arrival order.
type scenario struct {
	rule   *segment.Rule
	comp   *segment.Compiled
	cat    *segment.Catalog
	events []segment.Event // in arrival order
	st     *segment.State
	// received is when the events were observed: some may be stamped after
	// it (ahead of the clock). Evaluations happen at or after it.
	received time.Time
}

func drawScenario(t *rapid.T) scenario {
	r := drawRule(t, 0)
	c, err := segment.Compile(r, segment.Options{})
	if err != nil {
		t.Fatalf("Compile(%s): %v", segment.Text(r), err)
	}
	cat, err := segment.NewCatalog([]segment.Def{{Name: "r", Compiled: c}})
	if err != nil {
		t.Fatal(err)
	}
	evs := rapid.Permutation(drawEvents(t)).Draw(t, "arrival order")
	received := base.Add(-2 * day).Add(drawOffset(t, "received", propSpan+4*day))
	st := &segment.State{}
	for _, e := range evs {
		cat.Observe(st, e, received)
	}
	return scenario{rule: r, comp: c, cat: cat, events: evs, st: st, received: received}
}

// incremental is the catalog's answer at now, from the state.
func (sc scenario) incremental(now time.Time) bool {
	members := map[string]bool{}
	sc.cat.Evaluate(sc.cat.All(), &segment.Facts{Behaviour: sc.st}, members, now)
	in := members["r"]
	if m := sc.comp.Match(&segment.Facts{Behaviour: sc.st}, now); m != in {
		panic(fmt.Sprintf("Evaluate says %v, Match %v", in, m))
	}
	return in
}

func (sc scenario) describe(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule %s\nnow base%+v\nevents in arrival order:\n", segment.Text(sc.rule), now.Sub(base))
	for _, e := range sc.events {
		fmt.Fprintf(&b, "  %s %v at base%+v\n", e.Type, e.Properties["url"], e.At.Sub(base))
	}
	fmt.Fprintf(&b, "state %v", sc.st.Times)
	return b.String()
}

func latestEvent(evs []segment.Event) time.Time {
	latest := base
	for _, e := range evs {
		if e.At.After(latest) {
			latest = e.At
		}
	}
	return latest
}

// checkStableUntilNextChange samples instants in [now, NextChange(now)) and
// checks the state's answer (and, when given, the brute-force one) stays
// what it is at now.
func checkStableUntilNextChange(t *rapid.T, sc scenario, now time.Time, withBrute bool) {
	next := sc.cat.NextChange(sc.st, now)
	if !next.IsZero() && !next.After(now) {
		t.Fatalf("NextChange(%v) = %v, not after now\n%s", now.Sub(base), next.Sub(base), sc.describe(now))
	}
	span := 100 * day
	if !next.IsZero() {
		span = next.Sub(now)
	}
	want := sc.incremental(now)
	samples := []time.Time{now.Add(span - time.Millisecond)}
	for range 4 {
		samples = append(samples, now.Add(time.Duration(rapid.Int64Range(0, span.Milliseconds()-1).Draw(t, "sample"))*time.Millisecond))
	}
	for _, s := range samples {
		if got := sc.incremental(s); got != want {
			t.Fatalf("answer %v at now, %v at now+%v, before NextChange now+%v\n%s", want, got, s.Sub(now), span, sc.describe(now))
		}
		if withBrute {
			if got := brute(sc.rule, sc.events, s); got != want {
				t.Fatalf("brute force %v at now+%v, state %v at now; NextChange now+%v\n%s", got, s.Sub(now), want, span, sc.describe(now))
			}
		}
	}
}

// With now at or after every event (events arrive in any order, but none
// is stamped ahead of now), the incremental state gives the brute-force
// answer, and nothing changes before NextChange.
func TestPropertyIncrementalMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		now := later(latestEvent(sc.events), sc.received).Add(drawOffset(t, "now", 40*day))
		if got, want := sc.incremental(now), brute(sc.rule, sc.events, now); got != want {
			t.Fatalf("incremental %v, brute force %v\n%s", got, want, sc.describe(now))
		}
		checkStableUntilNextChange(t, sc, now, true)
	})
}

// Whatever now is, the state's own answer does not change before
// NextChange.
func TestPropertyNoChangeBeforeNextChange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		now := sc.received.Add(drawOffset(t, "now", propSpan+4*day))
		checkStableUntilNextChange(t, sc, now, false)
	})
}

// The text form of a random rule reads back to a rule that decides the same.
func TestPropertyTextFormDecidesAlike(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		text := segment.Text(sc.rule)
		c, err := segment.ParseText(text, segment.Options{})
		if err != nil {
			t.Fatalf("ParseText(%q): %v", text, err)
		}
		if again := segment.Text(c.Rule); segment.Text(mustRule(t, again)) != again {
			t.Fatalf("text not stable: %q -> %q", text, again)
		}
		cat, err := segment.NewCatalog([]segment.Def{{Name: "r", Compiled: c}})
		if err != nil {
			t.Fatal(err)
		}
		st := &segment.State{}
		for _, e := range sc.events {
			cat.Observe(st, e, sc.received)
		}
		now := later(latestEvent(sc.events), sc.received).Add(drawOffset(t, "now", 40*day))
		if a, b := sc.comp.Match(&segment.Facts{Behaviour: sc.st}, now), c.Match(&segment.Facts{Behaviour: st}, now); a != b {
			t.Fatalf("JSON form %v, text form %v\ntext %s\n%s", a, b, text, sc.describe(now))
		}
	})
}

func mustRule(t *rapid.T, text string) *segment.Rule {
	r, err := segment.TextRule(text)
	if err != nil {
		t.Fatalf("TextRule(%q): %v", text, err)
	}
	return r
}

// With events stamped after the time they were observed, and now anywhere
// from then on, the state still gives the brute-force answer: times ahead
// of the clock never crowd out past ones.
func TestPropertyIncrementalMatchesBruteForceFutureEvents(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		now := sc.received.Add(drawOffset(t, "now", propSpan+4*day))
		if got, want := sc.incremental(now), brute(sc.rule, sc.events, now); got != want {
			t.Fatalf("incremental %v, brute force %v\n%s", got, want, sc.describe(now))
		}
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
