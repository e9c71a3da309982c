package score_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// base is a Monday morning; times in these tests are offsets from it.
var base = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func mustParse(t *testing.T, src string) *score.Rules {
	t.Helper()
	r, err := score.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return r
}

// scorer applies events of one type to one state and numbers them.
type scorer struct {
	r     *score.Rules
	st    score.State
	c     *contact.Contact
	id    int64
	typ   string
	props string
}

func (s *scorer) at(d time.Duration) score.Outcome {
	return s.event(s.typ, base.Add(d), s.props)
}

func (s *scorer) event(typ string, at time.Time, props string) score.Outcome {
	s.id++
	e := score.Event{ID: s.id, Type: typ, At: at}
	if props != "" {
		e.Properties = json.RawMessage(props)
	}
	return s.r.Apply(&s.st, e, s.c)
}

// points lists the points of an outcome's entries.
func points(out score.Outcome) []int {
	var p []int
	for _, e := range out.Entries {
		p = append(p, e.Points)
	}
	return p
}

// oneRule is a document with one score s (with extra score options) and one
// rule r on event type "hit".
func oneRule(scoreOpts, rule string) string {
	return yamlDoc(
		"scores:",
		"  s: {"+scoreOpts+"}",
		"rules:",
		"  - {id: r, event: hit, score: s, "+rule+"}",
	)
}

// schedule applies one event at each offset and wants the points each gave
// (0 for none).
func schedule(t *testing.T, s *scorer, steps []time.Duration, want []int) {
	t.Helper()
	for i, d := range steps {
		out := s.at(d)
		got := 0
		if len(out.Entries) > 1 {
			t.Fatalf("event at +%v: entries %+v; want at most one", d, out.Entries)
		}
		if len(out.Entries) == 1 {
			got = out.Entries[0].Points
		}
		if got != want[i] {
			t.Errorf("event at +%v: points %d; want %d (entries %+v)", d, got, want[i], out.Entries)
		}
	}
}

func TestLimitOnce(t *testing.T) {
	t.Parallel()
	s := &scorer{r: mustParse(t, oneRule("", "points: 5, limit: {once: true}")), typ: "hit"}
	schedule(t, s, []time.Duration{0, time.Minute, 30 * day}, []int{5, 0, 0})
	if got := s.st.Value("s"); got != 5 {
		t.Errorf("s = %d; want 5", got)
	}
	if rs := s.st.Rules["r"]; rs == nil || rs.N != 1 || rs.Total != 5 {
		t.Errorf("rule state = %+v; want N 1, Total 5", rs)
	}
}

func TestLimitPerDay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit string
		steps []time.Duration
		want  []int
	}{
		{"two in 24h, one scores", "per_day: 1",
			[]time.Duration{0, 23 * time.Hour}, []int{4, 0}},
		{"rolling, not a calendar day", "per_day: 1", // 23:00 then 01:00 the next day
			[]time.Duration{14 * time.Hour, 16 * time.Hour}, []int{4, 0}},
		{"scores again after 24h", "per_day: 1",
			[]time.Duration{0, day - time.Millisecond, day, day + time.Hour, 2 * day}, []int{4, 0, 4, 0, 4}},
		{"per_day 3", "per_day: 3",
			[]time.Duration{0, time.Hour, 2 * time.Hour, 3 * time.Hour, day, day + time.Hour, day + 2*time.Hour, day + 3*time.Hour},
			[]int{4, 4, 4, 0, 4, 4, 4, 0}},
		{"per_week 1", "per_week: 1",
			[]time.Duration{0, day, 6 * day, 7*day - time.Millisecond, 7 * day, 8 * day}, []int{4, 0, 0, 0, 4, 0}},
		{"per_week 2", "per_week: 2",
			[]time.Duration{0, day, 2 * day, 7 * day, 8 * day, 9 * day}, []int{4, 4, 0, 4, 4, 0}},
		{"per_day within per_week", "{per_day: 1, per_week: 2}",
			[]time.Duration{0, time.Hour, day, 2 * day, 6 * day, 7 * day, 7*day + time.Hour, 8 * day}, []int{4, 0, 4, 0, 0, 4, 0, 4}},
		{"same instant", "per_day: 2",
			[]time.Duration{0, 0, 0}, []int{4, 4, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit := "limit: {" + tt.limit + "}"
			if tt.limit[0] == '{' {
				limit = "limit: " + tt.limit
			}
			s := &scorer{r: mustParse(t, oneRule("", "points: 4, "+limit)), typ: "hit"}
			schedule(t, s, tt.steps, tt.want)
		})
	}
}

// The rolling windows are measured on the events' times. An event that
// arrives late (a delayed webhook, an import) is still inside the window of
// the event it happened an hour before, and the limit must hold for it too;
// otherwise the live score differs from the replayed one.
func TestLimitPerDayLateEvent(t *testing.T) {
	t.Parallel()
	r := mustParse(t, oneRule("", "points: 4, limit: {per_day: 1}"))
	s := &scorer{r: r, typ: "hit"}
	s.event("hit", base.Add(time.Hour), "")
	out := s.event("hit", base, "") // happened an hour before the first, arrived after it
	if len(out.Entries) != 0 {
		t.Errorf("late event scored %v within the day of a scored one; per_day 1 allows one", points(out))
	}
	replayed, _ := r.Replay([]score.Event{
		{ID: 2, Type: "hit", At: base},
		{ID: 1, Type: "hit", At: base.Add(time.Hour)},
	}, nil, base.Add(2*time.Hour))
	if live, re := s.st.Value("s"), replayed.Value("s"); live != re {
		t.Errorf("live s = %d, replayed s = %d; want them equal", live, re)
	}
}

func TestLimitCap(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		points int
		rule   string
		want   []int
	}{
		{"positive", 7, "points: 7, limit: {cap: 20}", []int{7, 7, 6, 0, 0}},
		{"negative", -7, "points: -7, limit: {cap: 20}", []int{-7, -7, -6, 0, 0}},
		{"with per_day", 7, "points: 7, limit: {cap: 10, per_day: 1}", []int{7, 0, 3, 0, 0}},
		{"cap equal to points", 5, "points: 5, limit: {cap: 5}", []int{5, 0, 0, 0, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scorer{r: mustParse(t, oneRule("", tt.rule)), typ: "hit"}
			var got []int
			total := 0
			for i := range tt.want {
				out := s.at(time.Duration(i) * 12 * time.Hour)
				p := 0
				for _, e := range out.Entries {
					p += e.Points
					wantReason := ""
					if abs(e.Points) < abs(tt.points) {
						wantReason = score.ReasonCapped
					}
					if e.Reason != wantReason {
						t.Errorf("entry %+v: reason %q; want %q", e, e.Reason, wantReason)
					}
				}
				got = append(got, p)
				total += p
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("points = %v; want %v", got, tt.want)
			}
			if s.st.Value("s") != total || s.st.Rules["r"].Total != total {
				t.Errorf("s = %d, rule total = %d; want %d", s.st.Value("s"), s.st.Rules["r"].Total, total)
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestScoreFloorAndCeiling(t *testing.T) {
	t.Parallel()
	r := mustParse(t, yamlDoc(
		"scores:",
		"  s: {min: 0, max: 12}",
		"rules:",
		"  - {id: up, event: up, score: s, points: 5}",
		"  - {id: down, event: down, score: s, points: -8}",
	))
	s := &scorer{r: r}
	for i, tt := range []struct {
		typ    string
		points int // 0: no entry
		reason string
		value  int
	}{
		{"down", 0, "", 0}, // already on the floor: nothing to take
		{"up", 5, "", 5},
		{"up", 5, "", 10},
		{"up", 2, score.ReasonCeiling, 12},
		{"up", 0, "", 12},
		{"down", -8, "", 4},
		{"down", -4, score.ReasonFloor, 0},
		{"down", 0, "", 0},
	} {
		out := s.event(tt.typ, base.Add(time.Duration(i)*time.Minute), "")
		switch {
		case tt.points == 0 && len(out.Entries) != 0:
			t.Errorf("step %d (%s): entries %+v; want none", i, tt.typ, out.Entries)
		case tt.points != 0 && (len(out.Entries) != 1 || out.Entries[0].Points != tt.points || out.Entries[0].Reason != tt.reason):
			t.Errorf("step %d (%s): entries %+v; want one of %d with reason %q", i, tt.typ, out.Entries, tt.points, tt.reason)
		}
		if got := s.st.Value("s"); got != tt.value {
			t.Errorf("step %d (%s): s = %d; want %d", i, tt.typ, got, tt.value)
		}
	}
}

// Clamping keeps a score from going further out of its range; it never
// moves a score against the sign of the rule's points. A new state starts
// every score at 0, below a positive min, and a stored state may be out of
// a range the author has just narrowed.
func TestClampNeverMovesAgainstThePoints(t *testing.T) {
	t.Parallel()
	t.Run("negative rule below a positive min", func(t *testing.T) {
		t.Parallel()
		s := &scorer{r: mustParse(t, oneRule("min: 10", "points: -3")), typ: "hit"}
		out := s.at(0)
		if got := s.st.Value("s"); got > 0 {
			t.Errorf("a -3 rule took s from 0 to %d (entries %+v)", got, out.Entries)
		}
	})
	t.Run("decay below the floor", func(t *testing.T) {
		t.Parallel()
		r := score.Default()
		st := score.State{Values: map[string]int{"engagement": -5, "score": -5}, DecayAt: base.UnixMilli()}
		out := r.Tick(&st, base)
		if got := st.Value("engagement"); got > -5 {
			t.Errorf("inactivity decay took engagement from -5 to %d (entries %+v)", got, out.Entries)
		}
	})
	t.Run("positive rule above the ceiling", func(t *testing.T) {
		t.Parallel()
		s := &scorer{r: mustParse(t, oneRule("max: 20", "points: 5")), typ: "hit"}
		s.st.Values = map[string]int{"s": 30}
		out := s.at(0)
		if got := s.st.Value("s"); got < 30 {
			t.Errorf("a +5 rule took s from 30 to %d (entries %+v)", got, out.Entries)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestProfileRules(t *testing.T) {
	t.Parallel()
	r := score.Default()
	var st score.State
	step := 0
	apply := func(typ string, c *contact.Contact) score.Outcome {
		step++
		return r.Apply(&st, score.Event{ID: int64(step), Type: typ, At: base.Add(time.Duration(step) * time.Hour)}, c)
	}
	type change struct {
		rule   string
		points int
		reason string
	}
	for _, tt := range []struct {
		name string
		typ  string
		c    *contact.Contact
		want []change
		fit  int
	}{
		{"created as a CEO with value", "lead_created",
			&contact.Contact{Role: "CEO", PotentialValue: ptr(10000.0)},
			[]change{{"fit-decision-maker", 5, ""}, {"fit-potential-value", 5, ""}}, 10},
		{"unchanged fields", "field_changed",
			&contact.Contact{Role: "CEO", PotentialValue: ptr(10000.0)}, nil, 10},
		{"a page view does not reprofile", "page_viewed",
			&contact.Contact{Role: "intern"}, nil, 10},
		{"no longer a decision maker", "field_changed",
			&contact.Contact{Role: "intern", PotentialValue: ptr(10000.0)},
			[]change{{"fit-decision-maker", -5, score.ReasonUnmatched}}, 5},
		{"value removed", "field_changed",
			&contact.Contact{Role: "intern"},
			[]change{{"fit-potential-value", -5, score.ReasonUnmatched}}, 0},
		{"without the contact", "field_changed", nil, nil, 0},
		{"a director again", "field_changed",
			&contact.Contact{Role: "Head of Sales", PotentialValue: ptr(4999.0)},
			[]change{{"fit-decision-maker", 5, ""}}, 5},
		{"value at the threshold", "field_changed",
			&contact.Contact{Role: "Head of Sales", PotentialValue: ptr(5000.0)},
			[]change{{"fit-potential-value", 5, ""}}, 10},
	} {
		out := apply(tt.typ, tt.c)
		var got []change
		for _, e := range out.Entries {
			if e.Score != "fit" {
				t.Errorf("%s: entry on %s: %+v", tt.name, e.Score, e)
			}
			got = append(got, change{e.RuleID, e.Points, e.Reason})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: changes %+v; want %+v", tt.name, got, tt.want)
		}
		if v := st.Value("fit"); v != tt.fit {
			t.Errorf("%s: fit = %d; want %d", tt.name, v, tt.fit)
		}
		if v := st.Value("score"); v != st.Value("fit")+st.Value("engagement") {
			t.Errorf("%s: score = %d; want fit + engagement", tt.name, v)
		}
	}
}

// The version of a rule is the version in which its definition last
// changed.
func TestStamp(t *testing.T) {
	t.Parallel()
	doc := func(bPoints, after string, extra ...string) string {
		lines := []string{
			"scores:",
			"  s: {}",
			"rules:",
			"  - {id: a, event: hit, score: s, points: 1}",
			"  - {id: b, event: hit, score: s, points: " + bPoints + "}",
		}
		lines = append(lines, extra...)
		return yamlDoc(append(lines, "inactivity: {after: "+after+", points: -1, score: s, activity: [hit]}")...)
	}
	v1 := mustParse(t, doc("2", "30d"))
	v1.Stamp(1, nil)
	if got, want := v1.RuleVersions(), map[string]int{"a": 1, "b": 1, "inactivity": 1}; !mapsEqual(got, want) {
		t.Fatalf("v1 versions = %v; want %v", got, want)
	}
	v2 := mustParse(t, doc("3", "30d", "  - {id: c, event: hit, score: s, points: 4}"))
	v2.Stamp(2, v1)
	if got, want := v2.RuleVersions(), map[string]int{"a": 1, "b": 2, "c": 2, "inactivity": 1}; !mapsEqual(got, want) {
		t.Errorf("v2 versions = %v; want %v", got, want)
	}
	if v2.Version != 2 {
		t.Errorf("v2.Version = %d; want 2", v2.Version)
	}
	v3 := mustParse(t, doc("3", "2w"))
	v3.Stamp(3, v2)
	if got, want := v3.RuleVersions(), map[string]int{"a": 1, "b": 2, "inactivity": 3}; !mapsEqual(got, want) {
		t.Errorf("v3 versions = %v; want %v", got, want)
	}
	// The ledger carries each rule's own version.
	var st score.State
	out := v3.Apply(&st, score.Event{ID: 1, Type: "hit", At: base}, nil)
	got := map[string]int{}
	for _, e := range out.Entries {
		got[e.RuleID] = e.RuleVersion
	}
	if want := map[string]int{"a": 1, "b": 2}; !mapsEqual(got, want) {
		t.Errorf("entry versions = %v; want %v", got, want)
	}
	out = v3.Tick(&st, base.Add(15*day))
	if len(out.Entries) != 1 || out.Entries[0].RuleID != "inactivity" || out.Entries[0].RuleVersion != 3 {
		t.Errorf("decay entries = %+v; want one of inactivity version 3", out.Entries)
	}
	// Restamping from scratch gives every rule the new version.
	v3.Stamp(4, nil)
	for id, v := range v3.RuleVersions() {
		if v != 4 {
			t.Errorf("after Stamp(4, nil) %s has version %d; want 4", id, v)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNeedsContactAndInterested(t *testing.T) {
	t.Parallel()
	def := score.Default()
	custom := mustParse(t, yamlDoc(
		"scores:",
		"  s: {}",
		"rules:",
		`  - {id: by-role, event: demo, score: s, points: 1, when: 'contact.role == "CEO"'}`,
		`  - {id: by-url, event: visit, score: s, points: 1, when: 'event.url == "/x"'}`,
		`  - {id: by-tag, event: tagged, score: s, points: 1, when: '"vip" in contact.tags && event.n > 1'}`,
		"  - {id: plain, event: click, score: s, points: 1}",
	))
	for _, tt := range []struct {
		name             string
		r                *score.Rules
		typ              string
		needs, interests bool
	}{
		{"defaults", def, "lead_created", true, true},
		{"defaults", def, "field_changed", true, true},
		{"defaults", def, "page_viewed", false, true},
		{"defaults", def, "email_opened", false, true},
		{"defaults", def, "meeting_held", false, true}, // activity only
		{"defaults", def, "unsubscribed", false, false},
		{"custom", custom, "demo", true, true},
		{"custom", custom, "tagged", true, true},
		{"custom", custom, "visit", false, true},
		{"custom", custom, "click", false, true},
		{"custom", custom, "lead_created", false, false}, // no profile rules, no bands
		{"custom", custom, "field_changed", false, false},
		{"custom", custom, "page_viewed", false, false},
	} {
		if got := tt.r.NeedsContact(tt.typ); got != tt.needs {
			t.Errorf("%s: NeedsContact(%q) = %v; want %v", tt.name, tt.typ, got, tt.needs)
		}
		if got := tt.r.Interested(tt.typ); got != tt.interests {
			t.Errorf("%s: Interested(%q) = %v; want %v", tt.name, tt.typ, got, tt.interests)
		}
	}
	bands := mustParse(t, yamlDoc(
		"scores:",
		"  s: {}",
		"thresholds: {score: s, bands: [{name: low}]}",
	))
	if !bands.Interested("lead_created") || bands.NeedsContact("lead_created") {
		t.Errorf("with bands lead_created: Interested %v, NeedsContact %v; want true, false",
			bands.Interested("lead_created"), bands.NeedsContact("lead_created"))
	}
}

// A condition can reach the contact through $env as well as by name; the
// caller that trusts NeedsContact would pass no contact and the rule would
// read an empty one.
func TestNeedsContactThroughEnv(t *testing.T) {
	t.Parallel()
	for _, when := range []string{`$env.contact.role == "CEO"`, `$env["contact"].role == "CEO"`} {
		r := mustParse(t, oneRule("", `points: 1, when: '`+when+`'`))
		if !r.NeedsContact("hit") {
			t.Errorf("NeedsContact(hit) = false for when: %s", when)
		}
	}
}

// Conditions read the event's properties and the contact; a condition that
// fails at run time counts as false and is reported.
func TestConditions(t *testing.T) {
	t.Parallel()
	r := mustParse(t, yamlDoc(
		"scores:",
		"  s: {}",
		"rules:",
		`  - {id: big, event: order, score: s, points: 5, when: 'event.amount > 100'}`,
		`  - {id: ceo, event: order, score: s, points: 1, when: 'contact.role == "CEO" && event.source == "web"'}`,
		`  - {id: typed, event: order, score: s, points: 2, when: 'event.type == "order"'}`,
	))
	for _, tt := range []struct {
		props  string
		source string
		c      *contact.Contact
		rules  []string
		errs   int
	}{
		{`{"amount": 150}`, "web", &contact.Contact{Role: "CEO"}, []string{"big", "ceo", "typed"}, 0},
		{`{"amount": 50}`, "api", &contact.Contact{Role: "CEO"}, []string{"typed"}, 0},
		{`{"amount": "lots"}`, "web", nil, []string{"typed"}, 1},
		{``, "web", nil, []string{"typed"}, 1},
		{`not json`, "web", nil, []string{"typed"}, 1},
	} {
		var st score.State
		out := r.Apply(&st, score.Event{ID: 1, Type: "order", Source: tt.source, At: base, Properties: json.RawMessage(tt.props)}, tt.c)
		var got []string
		for _, e := range out.Entries {
			got = append(got, e.RuleID)
		}
		if !slices.Equal(got, tt.rules) || out.EvalErrors != tt.errs {
			t.Errorf("Apply(%s from %s) = rules %v, %d errors; want %v, %d", tt.props, tt.source, got, out.EvalErrors, tt.rules, tt.errs)
		}
	}
}

// Machine opens and clicks never score, however the JSON spells the key.
func TestMachineFlagSpelling(t *testing.T) {
	t.Parallel()
	r := score.Default()
	for _, props := range []string{
		`{"machine":true}`,
		`{"machine": true, "url": "https://example.com"}`,
		`{"\u006dachine":true}`,
		`{"mach\u0069ne":true}`,
	} {
		var st score.State
		out := r.Apply(&st, score.Event{ID: 1, Type: "email_opened", At: base, Properties: json.RawMessage(props)}, nil)
		if len(out.Entries) != 0 || st.LastActivity != 0 {
			t.Errorf("machine open %s scored %+v, last activity %d", props, out.Entries, st.LastActivity)
		}
	}
}
