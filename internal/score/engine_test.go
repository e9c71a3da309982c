package score_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ev(id int64, typ string, at time.Time, props string) score.Event {
	e := score.Event{ID: id, Type: typ, At: at}
	if props != "" {
		e.Properties = json.RawMessage(props)
	}
	return e
}

// The DOMAIN example: pricing (+10), a click (+7) and a reply (+15) make 32,
// which crosses into the sales-ready band once.
func TestDomainExample(t *testing.T) {
	r := score.Default()
	var st score.State
	c := &contact.Contact{Email: "ada@example.com", Lifecycle: "lead"}
	var crossings []*score.Crossing
	var entries []score.Entry
	for _, e := range []score.Event{
		ev(1, "lead_created", t0, ""),
		ev(2, "page_viewed", t0.Add(time.Minute), `{"url":"https://example.com/pricing"}`),
		ev(3, "email_clicked", t0.Add(time.Hour), `{"url":"https://example.com/x"}`),
		ev(4, "email_replied", t0.Add(2*time.Hour), ""),
	} {
		out := r.Apply(&st, e, c)
		entries = append(entries, out.Entries...)
		if out.Crossing != nil {
			crossings = append(crossings, out.Crossing)
		}
	}
	if got := st.Value("score"); got != 32 {
		t.Fatalf("score = %d; want 32", got)
	}
	if len(entries) != 3 {
		t.Fatalf("entries = %+v; want 3", entries)
	}
	for i, want := range []struct {
		rule   string
		points int
		event  int64
	}{{"pricing-page", 10, 2}, {"email-click", 7, 3}, {"email-reply", 15, 4}} {
		if e := entries[i]; e.RuleID != want.rule || e.Points != want.points || e.EventID != want.event {
			t.Errorf("entry %d = %+v; want %+v", i, e, want)
		}
	}
	if len(crossings) != 3 || crossings[0].To != "education" || crossings[1].To != "proof-and-framing" || crossings[2].To != "sales-ready" {
		t.Fatalf("crossings = %+v", crossings)
	}
	if b := crossings[2].Band; b.Lifecycle != "mql" || b.Task == "" || b.Emit != "sales_ready" {
		t.Errorf("sales-ready band actions = %+v", b)
	}
}

func TestMachineOpensNeverScore(t *testing.T) {
	r := score.Default()
	var st score.State
	out := r.Apply(&st, ev(1, "email_opened", t0, `{"machine":true}`), nil)
	if len(out.Entries) != 0 || st.Value("engagement") != 0 || st.DecayAt != 0 {
		t.Fatalf("machine open scored: %+v, state %+v", out.Entries, st)
	}
	out = r.Apply(&st, ev(2, "email_clicked", t0, `{"machine":true,"url":"x"}`), nil)
	if len(out.Entries) != 0 {
		t.Fatalf("machine click scored: %+v", out.Entries)
	}
	r.Apply(&st, ev(3, "email_opened", t0, `{"machine":false}`), nil)
	if got := st.Value("engagement"); got != 3 {
		t.Fatalf("after a human open engagement = %d; want 3", got)
	}
}

func TestInactivityDecaysOnceAfter30Days(t *testing.T) {
	r := score.Default()
	var st score.State
	r.Apply(&st, ev(1, "email_replied", t0, ""), nil)
	r.Apply(&st, ev(2, "email_clicked", t0, ""), nil)
	wake := r.NextWake(&st)
	if want := t0.Add(30 * 24 * time.Hour); !wake.Equal(want) {
		t.Fatalf("NextWake = %v; want %v", wake, want)
	}
	if out := r.Tick(&st, t0.Add(29*24*time.Hour)); len(out.Entries) != 0 {
		t.Fatalf("decayed early: %+v", out.Entries)
	}
	out := r.Tick(&st, t0.Add(31*24*time.Hour))
	if len(out.Entries) != 1 || out.Entries[0].Reason != score.ReasonDecay || out.Entries[0].Points != -10 {
		t.Fatalf("entries after 31 days = %+v; want one decay of -10", out.Entries)
	}
	if out := r.Tick(&st, t0.Add(31*24*time.Hour)); len(out.Entries) != 0 {
		t.Fatalf("decayed twice: %+v", out.Entries)
	}
	// The second period takes the rest down to the floor, then the timer stops.
	out = r.Tick(&st, t0.Add(200*24*time.Hour))
	if got := st.Value("engagement"); got != 0 {
		t.Fatalf("engagement after 200 days = %d; want 0 (floor)", got)
	}
	if st.DecayAt != 0 {
		t.Fatalf("timer still armed at the floor: %v", st.DecayAt)
	}
	if len(out.Entries) != 2 || out.Entries[1].Points != -2 || out.Entries[1].Reason != score.ReasonDecay {
		t.Fatalf("entries = %+v; want -10 then -2", out.Entries)
	}
}

func TestHysteresis(t *testing.T) {
	r := score.Default()
	var st score.State
	cross := 0
	apply := func(e score.Event) {
		if out := r.Apply(&st, e, nil); out.Crossing != nil && out.Crossing.To == "sales-ready" {
			cross++
		}
	}
	apply(ev(1, "email_replied", t0, ""))
	apply(ev(2, "email_replied", t0, "")) // 30
	if st.Band != "sales-ready" || cross != 1 {
		t.Fatalf("band %q crossings %d", st.Band, cross)
	}
	// Decay to 20 stays in the band (within 5 of 25); a click back to 27 does not re-cross.
	r.Tick(&st, t0.Add(31*24*time.Hour))
	if st.Band != "sales-ready" {
		t.Fatalf("left the band at %d", st.Value("score"))
	}
	apply(ev(3, "email_clicked", t0.Add(32*24*time.Hour), ""))
	if cross != 1 {
		t.Fatalf("re-crossed at %d", st.Value("score"))
	}
}

// A clone shares its rule states with the original until the engine writes
// to one: scoring the clone, window and all, leaves the original as it was.
func TestCloneIsolates(t *testing.T) {
	r, err := score.Parse([]byte(`
scores:
  engagement: {}
rules:
  - id: view
    event: page_viewed
    score: engagement
    points: 2
    limit: {per_day: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	var st score.State
	for i := range 2 {
		r.Apply(&st, ev(int64(i+1), "page_viewed", t0.Add(time.Duration(i)*time.Minute), ""), nil)
	}
	want, _ := json.Marshal(st)
	for i := range 3 {
		a, b := st.Clone(), st.Clone()
		r.Apply(&a, ev(int64(10+i), "page_viewed", t0.Add(time.Hour), ""), nil)
		r.Apply(&b, ev(int64(20+i), "page_viewed", t0.Add(2*time.Hour), ""), nil)
		if got, _ := json.Marshal(st); string(got) != string(want) {
			t.Fatalf("original changed: %s; want %s", got, want)
		}
		if a.Value("engagement") != 6 || b.Value("engagement") != 6 {
			t.Fatalf("clones = %d, %d; want 6 each", a.Value("engagement"), b.Value("engagement"))
		}
		if ra, rb := a.Rules["view"].Recent, b.Rules["view"].Recent; ra[2] == rb[2] {
			t.Fatalf("clones share a window: %v, %v", ra, rb)
		}
	}
}

// An adjustment adds points to a score by itself; bad ones change nothing.
func TestAdjustEvent(t *testing.T) {
	r := score.Default()
	var st score.State
	c := &contact.Contact{Email: "ada@example.com", Lifecycle: "lead"}
	out := r.Apply(&st, ev(1, score.AdjustEvent, t0, `{"score":"engagement","points":12,"reason":"journey x"}`), c)
	if st.Value("engagement") != 12 || st.Value("score") != 12 || len(out.Entries) != 1 || out.Entries[0].Reason != "journey x" {
		t.Fatalf("after +12: %v, entries %+v", st.Values, out.Entries)
	}
	for _, props := range []string{
		`{"score":"score","points":5}`,        // a sum
		`{"score":"nope","points":5}`,         // unknown
		`{"score":"engagement","points":2.5}`, // not whole
		`{"score":"engagement","points":1e9}`, // too many
		`{"score":"engagement","points":"5"}`, // not a number
		`{"score":"engagement"}`,              // none
	} {
		if out := r.Apply(&st, ev(2, score.AdjustEvent, t0, props), c); len(out.Entries) != 0 || st.Value("engagement") != 12 {
			t.Errorf("%s: entries %+v, engagement %d", props, out.Entries, st.Value("engagement"))
		}
	}
	if !r.Interested(score.AdjustEvent) {
		t.Error("the rules are not interested in adjustments")
	}
}
