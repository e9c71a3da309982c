package segment_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
)

// base is a Monday morning, UTC.
var base = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

var testScores = []string{"fit", "engagement", "score"}

func dur(d time.Duration) *segment.Duration {
	x := segment.Duration(d)
	return &x
}

func intp(n int) *int { return &n }

func f64(v float64) *float64 { return &v }

func pageView(at time.Time, url string) segment.Event {
	return segment.Event{Type: "page_viewed", At: at, Properties: map[string]any{"url": url}}
}

func event(typ string, at time.Time) segment.Event { return segment.Event{Type: typ, At: at} }

// compileAny compiles a text form (a string) or a JSON form (a *Rule).
func compileAny(t *testing.T, rule any, opts segment.Options) *segment.Compiled {
	t.Helper()
	var (
		c   *segment.Compiled
		err error
	)
	switch r := rule.(type) {
	case string:
		c, err = segment.ParseText(r, opts)
	case *segment.Rule:
		c, err = segment.Compile(r, opts)
	default:
		t.Fatalf("bad rule %T", rule)
	}
	if err != nil {
		t.Fatalf("compile %v: %v", rule, err)
	}
	if c == nil {
		t.Fatalf("compile %v: nil result without an error", rule)
	}
	return c
}

// problemsOf asserts err is a *segment.Error and returns its problems.
func problemsOf(t *testing.T, err error) []segment.Problem {
	t.Helper()
	var e *segment.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *segment.Error", err, err)
	}
	if len(e.Problems) == 0 {
		t.Fatalf("*segment.Error without problems")
	}
	return e.Problems
}

// findProblem returns the problem at path whose reason contains reason.
func findProblem(ps []segment.Problem, path, reason string) (segment.Problem, bool) {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Reason, reason) {
			return p, true
		}
	}
	return segment.Problem{}, false
}

// posOf is the 1-based line and column (in characters) of the first
// occurrence of marker in text.
func posOf(t *testing.T, text, marker string) (int, int) {
	t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("marker %q not in %q", marker, text)
	}
	line, col := 1, 1
	for _, r := range text[:i] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON compares two JSON texts by their decoded values.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	return mustJSON(t, g) == mustJSON(t, w)
}

func docCatalog(t *testing.T, src string) *segment.Catalog {
	t.Helper()
	doc, err := segment.ParseDocument([]byte(src))
	if err != nil {
		t.Fatalf("ParseDocument: %v", err)
	}
	cat, err := segment.CheckDocument(doc, testScores, nil)
	if err != nil {
		t.Fatalf("CheckDocument: %v", err)
	}
	return cat
}

func defNames(cat *segment.Catalog) []string {
	var names []string
	for _, d := range cat.Defs() {
		names = append(names, d.Name)
	}
	return names
}

func indexNames(cat *segment.Catalog, idx []int) []string {
	names := []string{}
	for _, i := range idx {
		names = append(names, cat.Defs()[i].Name)
	}
	return names
}

// ---------------------------------------------------------------------------
// 1. The shipped defaults.

// defaultsJSON is defaults.yaml with its rules written in the JSON form, so
// that the must-show scenario is checked whatever happens to the text form.
const defaultsJSON = `{"segments": [
 {"name": "hot-intent", "rule": {"any": [
   {"event": "form_submitted", "within": "30d", "where": "event.form in [\"quote\", \"demo\", \"contact\"]", "op": ">=", "count": 1},
   {"event": "meeting_booked", "within": "30d", "op": ">=", "count": 1},
   {"field": "request_type", "op": "in", "value": ["quote", "demo", "contact"]}]}},
 {"name": "warm-intent", "rule": {"all": [{"not": {"segment": "hot-intent"}}, {"any": [
   {"event": "page_viewed", "within": "14d", "where": "event.url contains \"/pricing\"", "op": ">=", "count": 2},
   {"event": "form_submitted", "within": "30d", "where": "event.form == \"download\"", "op": ">=", "count": 1},
   {"event": "page_viewed", "within": "14d", "where": "event.url contains \"/compar\"", "op": ">=", "count": 1}]}]}},
 {"name": "cold-intent", "rule": {"all": [{"not": {"segment": "hot-intent"}}, {"not": {"segment": "warm-intent"}}, {"any": [
   {"event": "page_viewed", "within": "30d", "where": "event.url contains \"/blog\"", "op": ">=", "count": 1},
   {"event": "email_opened", "within": "30d", "where": "event.machine != true", "op": ">=", "count": 1},
   {"field": "tags", "op": "contains", "value": "newsletter"}]}]}},
 {"name": "icp-fit", "rule": {"all": [
   {"field": "custom.company_size", "op": ">=", "value": 10},
   {"field": "custom.company_size", "op": "<=", "value": 500},
   {"field": "custom.sector", "op": "in", "value": ["software", "services", "industry", "retail"]},
   {"field": "country", "op": "in", "value": ["FR", "BE", "CH", "LU", "CA", "MA"]}]}},
 {"name": "icp-uncertain", "rule": {"all": [{"not": {"segment": "icp-fit"}}, {"any": [
   {"field": "custom.company_size", "op": "empty"},
   {"field": "custom.sector", "op": "empty"},
   {"field": "country", "op": "empty"}]}]}}
]}`

func checkDefaultsOrder(t *testing.T, cat *segment.Catalog) {
	t.Helper()
	names := defNames(cat)
	want := []string{"cold-intent", "hot-intent", "icp-fit", "icp-uncertain", "warm-intent"}
	if got := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	at := func(n string) int { return slices.Index(names, n) }
	if !(at("hot-intent") < at("warm-intent") && at("warm-intent") < at("cold-intent")) {
		t.Errorf("order %v: want hot-intent before warm-intent before cold-intent", names)
	}
	if at("icp-fit") > at("icp-uncertain") {
		t.Errorf("order %v: want icp-fit before icp-uncertain", names)
	}
	for _, n := range want {
		if d, ok := cat.Get(n); !ok || d.Name != n || d.Compiled == nil {
			t.Errorf("Get(%q) = %+v, %v", n, d, ok)
		}
	}
}

// TestShippedDefaultsParseAndCompile is the first must-show. (While
// these tests were written it caught two bugs, since fixed: a description
// holding ": " unquoted in defaults.yaml, and count(…) read by expr as its
// own builtin.)
func TestShippedDefaultsParseAndCompile(t *testing.T) {
	doc, err := segment.ParseDocument(segment.DefaultSource())
	if err != nil {
		t.Fatalf("ParseDocument(DefaultSource()): %v", err)
	}
	if len(doc.Segments) != 5 {
		t.Fatalf("%d segments, want 5", len(doc.Segments))
	}
	for _, s := range doc.Segments {
		if s.Description == "" || s.Rule == nil || s.Rule.Text == "" {
			t.Errorf("segment %q: description %q, rule %+v", s.Name, s.Description, s.Rule)
		}
	}
	cat, err := segment.CheckDocument(doc, testScores, nil)
	if err != nil {
		t.Fatalf("CheckDocument: %v", err)
	}
	checkDefaultsOrder(t, cat)
}

// The JSON copy of the defaults used below says what defaults.yaml says.
func TestDefaultsJSONCopyMatchesShipped(t *testing.T) {
	shipped, err := segment.ParseDocument(segment.DefaultSource())
	if err != nil {
		t.Fatal(err)
	}
	copied, err := segment.ParseDocument([]byte(defaultsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(shipped.Segments) != len(copied.Segments) {
		t.Fatalf("%d shipped, %d copied", len(shipped.Segments), len(copied.Segments))
	}
	for i, s := range shipped.Segments {
		r, err := segment.TextRule(s.Rule.Text)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if c := copied.Segments[i]; c.Name != s.Name || segment.Text(c.Rule.Rule) != segment.Text(r) {
			t.Errorf("%s:\n shipped %s\n copied  %s", s.Name, segment.Text(r), segment.Text(c.Rule.Rule))
		}
	}
}

func TestDefaultsInJSONFormCompileInOrder(t *testing.T) {
	checkDefaultsOrder(t, docCatalog(t, defaultsJSON))
}

// ---------------------------------------------------------------------------
// 2. The must-show: pricing viewed twice puts a contact in warm-intent for
// 14 days after the first view.

func checkWarmIntentPricingTwice(t *testing.T, cat *segment.Catalog) {
	t.Helper()
	t1, t2 := base, base.Add(time.Hour)
	st := &segment.State{}
	f := &segment.Facts{Behaviour: st}
	members := map[string]bool{}
	warm := func(changes []segment.Change) (entered, left bool) {
		for _, c := range changes {
			if c.Segment == "warm-intent" {
				entered, left = c.Entered, !c.Entered
			}
		}
		return
	}

	if !cat.Tracks("page_viewed") {
		t.Fatal("page_viewed is not tracked")
	}
	if !cat.Observe(st, pageView(t1, "https://x.test/pricing"), t1) {
		t.Fatal("the first pricing view did not change the state")
	}
	cat.Evaluate(cat.All(), f, members, t1)
	if members["warm-intent"] {
		t.Fatalf("in warm-intent after one pricing view: %v", members)
	}

	if !cat.Observe(st, pageView(t2, "https://x.test/pricing"), t2) {
		t.Fatal("the second pricing view did not change the state")
	}
	changes := cat.Evaluate(cat.Affected("page_viewed", nil), f, members, t2)
	if entered, _ := warm(changes); !entered || !members["warm-intent"] {
		t.Fatalf("after the second pricing view: changes %+v, members %v; want warm-intent entered", changes, members)
	}
	for _, n := range []string{"hot-intent", "cold-intent"} {
		if members[n] {
			t.Errorf("also in %s", n)
		}
	}

	next := cat.NextChange(st, t2)
	if want := t1.Add(14 * day); !next.Equal(want) {
		t.Fatalf("NextChange = %v, want first view + 14d = %v", next, want)
	}

	// Half-open window (now-14d, now]: just before, both views count.
	justBefore := maps.Clone(members)
	if ch := cat.Evaluate(cat.All(), f, justBefore, next.Add(-time.Millisecond)); len(ch) != 0 {
		t.Fatalf("1ms before NextChange: changes %+v, want none", ch)
	}
	// At that instant the first view is exactly 14 days old and no longer counts.
	for _, at := range []time.Time{next, next.Add(time.Millisecond)} {
		m := maps.Clone(members)
		changes := cat.Evaluate(cat.All(), f, m, at)
		if _, left := warm(changes); !left || m["warm-intent"] {
			t.Errorf("at %v: changes %+v, members %v; want warm-intent left", at.Sub(t1), changes, m)
		}
	}
	cat.Evaluate(cat.All(), f, members, next)
	if again, want := cat.NextChange(st, next), t2.Add(14*day); !again.Equal(want) {
		t.Errorf("NextChange after leaving = %v, want second view + 14d = %v", again, want)
	}
}

func TestMustShowWarmIntentAfterTwoPricingViews(t *testing.T) {
	checkWarmIntentPricingTwice(t, docCatalog(t, defaultsJSON))
}

// The same scenario on the shipped document itself.
func TestMustShowWarmIntentAfterTwoPricingViewsShippedDefaults(t *testing.T) {
	doc, err := segment.ParseDocument(segment.DefaultSource())
	if err != nil {
		t.Fatalf("ParseDocument(DefaultSource()): %v", err)
	}
	cat, err := segment.CheckDocument(doc, testScores, nil)
	if err != nil {
		t.Fatalf("CheckDocument: %v", err)
	}
	checkWarmIntentPricingTwice(t, cat)
}

func TestDefaultsOtherSegments(t *testing.T) {
	cat := docCatalog(t, defaultsJSON)
	size := func(n float64) map[string]any { return map[string]any{"company_size": n, "sector": "software"} }
	tests := []struct {
		name   string
		c      *contact.Contact
		events []segment.Event
		want   []string
	}{
		{"nobody", nil, nil, []string{"icp-uncertain"}},
		{"quote request is hot", &contact.Contact{RequestType: "quote"}, nil, []string{"hot-intent", "icp-uncertain"}},
		{"hot wins over warm", nil, []segment.Event{
			{Type: "form_submitted", At: base.Add(-time.Hour), Properties: map[string]any{"form": "demo"}},
			{Type: "form_submitted", At: base.Add(-2 * time.Hour), Properties: map[string]any{"form": "download"}},
		}, []string{"hot-intent", "icp-uncertain"}},
		{"download is warm", nil, []segment.Event{
			{Type: "form_submitted", At: base.Add(-29 * day), Properties: map[string]any{"form": "download"}},
		}, []string{"icp-uncertain", "warm-intent"}},
		{"blog reader is cold", nil, []segment.Event{pageView(base.Add(-day), "https://x.test/blog/a")}, []string{"cold-intent", "icp-uncertain"}},
		{"machine open is not cold", nil, []segment.Event{
			{Type: "email_opened", At: base.Add(-day), Properties: map[string]any{"machine": true}},
		}, []string{"icp-uncertain"}},
		{"human open is cold", nil, []segment.Event{event("email_opened", base.Add(-day))}, []string{"cold-intent", "icp-uncertain"}},
		{"newsletter tag is cold", &contact.Contact{Tags: []string{"newsletter"}}, nil, []string{"cold-intent", "icp-uncertain"}},
		{"icp fit", &contact.Contact{Country: "BE", CustomFields: size(50)}, nil, []string{"icp-fit"}},
		{"too big is neither", &contact.Contact{Country: "BE", CustomFields: size(501)}, nil, nil},
		{"no country is uncertain", &contact.Contact{CustomFields: size(50)}, nil, []string{"icp-uncertain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &segment.State{}
			for _, e := range tt.events {
				cat.Observe(st, e, base)
			}
			members := map[string]bool{}
			cat.Evaluate(cat.All(), &segment.Facts{Contact: tt.c, Behaviour: st}, members, base)
			got := slices.Sorted(maps.Keys(members))
			if !slices.Equal(got, tt.want) {
				t.Errorf("members %v, want %v", got, tt.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 3. Field operators.

func TestFieldOperators(t *testing.T) {
	phone := &contact.Contact{Phone: "+33612345678"}
	acme := &contact.Contact{Email: "ana@acme.test", Country: "FR", Status: "won", Lifecycle: "mql", Owner: "alice"}
	money := func(v float64) *contact.Contact { return &contact.Contact{PotentialValue: f64(v)} }
	closing := func(d string) *contact.Contact { return &contact.Contact{ExpectedCloseDate: d} }
	custom := func(kv ...any) *contact.Contact {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return &contact.Contact{CustomFields: m}
	}
	birthday := custom("birthday", "2000-02-29")
	tagged := func(tags ...string) *contact.Contact { return &contact.Contact{Tags: tags} }
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}

	tests := []struct {
		name     string
		rule     any // text or *segment.Rule
		c        *contact.Contact
		scores   map[string]int
		consents map[string]string
		now      time.Time
		want     bool
	}{
		// strings
		{name: "== same", rule: `country == "FR"`, c: acme, want: true},
		{name: "== other", rule: `country == "BE"`, c: acme},
		{name: "== missing", rule: `country == "FR"`},
		{name: "!= other", rule: `country != "BE"`, c: acme, want: true},
		{name: "!= missing", rule: `country != "FR"`, want: true},
		{name: "in", rule: `country in ["BE", "FR"]`, c: acme, want: true},
		{name: "in not listed", rule: `country in ["BE", "CH"]`, c: acme},
		{name: "in missing", rule: `country in ["BE", "FR"]`},
		{name: "not_in", rule: `country not in ["BE", "CH"]`, c: acme, want: true},
		{name: "not_in listed", rule: `country not in ["BE", "FR"]`, c: acme},
		{name: "not_in missing", rule: `country not in ["BE"]`, want: true},
		{name: "contains", rule: `email contains "@acme"`, c: acme, want: true},
		{name: "contains not", rule: `email contains "@other"`, c: acme},
		{name: "contains missing", rule: `email contains "@"`},
		{name: "not_contains", rule: `not (email contains "@other")`, c: acme, want: true},
		{name: "not_contains missing", rule: &segment.Rule{Field: "email", Op: segment.OpNotContains, Value: "@"}, want: true},
		{name: "starts_with", rule: `email startsWith "ana@"`, c: acme, want: true},
		{name: "starts_with json", rule: &segment.Rule{Field: "email", Op: segment.OpStartsWith, Value: "bob"}, c: acme},
		{name: "starts_with missing", rule: `email startsWith ""`},
		{name: "ends_with", rule: `email endsWith ".test"`, c: acme, want: true},
		{name: "ends_with json", rule: &segment.Rule{Field: "email", Op: segment.OpEndsWith, Value: ".com"}, c: acme},
		{name: "empty", rule: `empty(phone)`, c: acme, want: true},
		{name: "empty set", rule: `empty(phone)`, c: phone},
		{name: "not_empty", rule: `not empty(phone)`, c: phone, want: true},
		{name: "not_empty json missing", rule: &segment.Rule{Field: "phone", Op: segment.OpNotEmpty}},
		{name: "status", rule: `status == "won"`, c: acme, want: true},
		{name: "lifecycle", rule: `lifecycle in ["mql", "sql"]`, c: acme, want: true},
		{name: "owner", rule: `owner == "alice"`, c: acme, want: true},
		{name: "owner other", rule: `owner == "bob"`, c: acme},
		{name: "nil contact", rule: `empty(owner)`, want: true},

		// numbers
		{name: "< below", rule: `potential_value < 1000`, c: money(999.5), want: true},
		{name: "< equal", rule: `potential_value < 1000`, c: money(1000)},
		{name: "< nil pointer", rule: `potential_value < 1000`, c: &contact.Contact{}},
		{name: ">= equal", rule: `potential_value >= 1000`, c: money(1000), want: true},
		{name: ">= below", rule: `potential_value >= 1000`, c: money(999)},
		{name: ">= nil pointer", rule: `potential_value >= 0`, c: &contact.Contact{}},
		{name: ">= negative", rule: `potential_value >= -5`, c: money(-5), want: true},
		{name: "in", rule: `potential_value in [100, 200.5]`, c: money(200.5), want: true},
		{name: "in not listed", rule: `potential_value in [100, 200]`, c: money(150)},
		{name: "in nil pointer", rule: `potential_value in [0]`, c: &contact.Contact{}},
		{name: "empty nil pointer", rule: `empty(potential_value)`, c: &contact.Contact{}, want: true},
		{name: "empty zero", rule: `empty(potential_value)`, c: money(0)},
		{name: "== json int", rule: &segment.Rule{Field: "budget", Op: "==", Value: 3}, c: &contact.Contact{Budget: f64(3)}, want: true},

		// dates
		{name: "date <", rule: `expected_close_date < "2025-04-01"`, c: closing("2025-03-31"), want: true},
		{name: "date < equal", rule: `expected_close_date < "2025-04-01"`, c: closing("2025-04-01")},
		{name: "date < empty", rule: `expected_close_date < "2025-04-01"`, c: closing("")},
		{name: "date < garbage", rule: `expected_close_date < "2025-04-01"`, c: closing("soon")},
		{name: "date == rfc3339", rule: `expected_close_date == "2025-04-01T00:00:00Z"`, c: closing("2025-04-01"), want: true},
		{name: "in_days today", rule: `in_days(expected_close_date, 30)`, c: closing("2025-03-10"), now: base, want: true},
		{name: "in_days last day", rule: `in_days(expected_close_date, 30)`, c: closing("2025-04-09"), now: base, want: true},
		{name: "in_days one too far", rule: `in_days(expected_close_date, 30)`, c: closing("2025-04-10"), now: base},
		{name: "in_days past", rule: `in_days(expected_close_date, 30)`, c: closing("2025-03-09"), now: base},
		{name: "in_days zero late in the day", rule: `in_days(expected_close_date, 0)`, c: closing("2025-03-10"), now: at("2025-03-10T23:59:59Z"), want: true},
		{name: "in_days missing", rule: `in_days(expected_close_date, 3660)`, c: closing(""), now: base},
		{name: "in_days created_at", rule: `in_days(created_at, 1)`, c: &contact.Contact{CreatedAt: at("2025-03-11T22:00:00Z")}, now: base, want: true},
		{name: "time < date", rule: `created_at < "2025-01-01"`, c: &contact.Contact{CreatedAt: at("2024-12-31T23:59:59Z")}, want: true},
		{name: "time empty", rule: `empty(closed_at)`, c: &contact.Contact{}, want: true},

		// anniversaries: 29 February falls on 28 February in common years
		{name: "29 Feb on 28 Feb of a common year", rule: `anniversary_in_days(custom.birthday, 0)`, c: birthday, now: at("2025-02-28T10:00:00Z"), want: true},
		{name: "29 Feb one day ahead in a common year", rule: `anniversary_in_days(custom.birthday, 1)`, c: birthday, now: at("2025-02-27T10:00:00Z"), want: true},
		{name: "29 Feb not yet in a common year", rule: `anniversary_in_days(custom.birthday, 0)`, c: birthday, now: at("2025-02-27T10:00:00Z")},
		{name: "29 Feb passed: next is a year ahead", rule: `anniversary_in_days(custom.birthday, 363)`, c: birthday, now: at("2025-03-01T00:00:00Z")},
		{name: "29 Feb passed: 364 days to 28 Feb 2026", rule: `anniversary_in_days(custom.birthday, 364)`, c: birthday, now: at("2025-03-01T00:00:00Z"), want: true},
		{name: "29 Feb in a leap year is not on the 28th", rule: `anniversary_in_days(custom.birthday, 0)`, c: birthday, now: at("2028-02-28T10:00:00Z")},
		{name: "29 Feb in a leap year", rule: `anniversary_in_days(custom.birthday, 0)`, c: birthday, now: at("2028-02-29T10:00:00Z"), want: true},
		{name: "anniversary across new year", rule: `anniversary_in_days(custom.birthday, 6)`, c: custom("birthday", "1990-01-02"), now: at("2025-12-27T10:00:00Z"), want: true},
		{name: "anniversary across new year too far", rule: `anniversary_in_days(custom.birthday, 5)`, c: custom("birthday", "1990-01-02"), now: at("2025-12-27T10:00:00Z")},
		{name: "anniversary of a non-date", rule: `anniversary_in_days(custom.birthday, 365)`, c: custom("birthday", "someday"), now: base},

		// tags
		{name: "tag in tags", rule: `"vip" in tags`, c: tagged("a", "vip"), want: true},
		{name: "tag not there", rule: `"vip" in tags`, c: tagged("a")},
		{name: "tag no tags", rule: `"vip" in tags`, c: tagged()},
		{name: "tag is whole", rule: `"vi" in tags`, c: tagged("vip")},
		{name: "tag not in tags", rule: `"vip" not in tags`, c: tagged("a"), want: true},
		{name: "tag not in tags but there", rule: `"vip" not in tags`, c: tagged("vip")},
		{name: "tag not in no tags", rule: `"vip" not in tags`, c: tagged(), want: true},
		{name: "tags empty", rule: `empty(tags)`, c: tagged(), want: true},

		// consent
		{name: "consent granted", rule: `consent.email == "granted"`, consents: map[string]string{"email": "granted"}, want: true},
		{name: "consent withdrawn", rule: `consent.email == "granted"`, consents: map[string]string{"email": "withdrawn"}},
		{name: "consent missing is none", rule: `consent.sms == "none"`, consents: map[string]string{"email": "granted"}, want: true},
		{name: "consent nil map is none", rule: `consent.push == "none"`, want: true},
		{name: "consent missing is not granted", rule: `consent.whatsapp == "granted"`},
		{name: "consent in", rule: `consent.email in ["granted", "pending_confirmation"]`, consents: map[string]string{"email": "pending_confirmation"}, want: true},
		{name: "consent !=", rule: `consent.email != "withdrawn"`, want: true},

		// scores
		{name: "score at threshold", rule: `score.engagement >= 10`, scores: map[string]int{"engagement": 10}, want: true},
		{name: "score below", rule: `score.engagement >= 10`, scores: map[string]int{"engagement": 9, "fit": 50}},
		{name: "score nobody gave is 0", rule: `score.fit == 0`, want: true},
		{name: "score flipped", rule: `10 <= score.engagement`, scores: map[string]int{"engagement": 12}, want: true},

		// custom fields
		{name: "custom string", rule: `custom.plan == "pro"`, c: custom("plan", "pro"), want: true},
		{name: "custom string other", rule: `custom.plan == "pro"`, c: custom("plan", "free")},
		{name: "custom string contains", rule: `custom.plan contains "ro"`, c: custom("plan", "pro"), want: true},
		{name: "custom number", rule: `custom.seats >= 10`, c: custom("seats", 12.0), want: true},
		{name: "custom number below", rule: `custom.seats >= 10`, c: custom("seats", 9.5)},
		{name: "custom json.Number", rule: `custom.seats >= 10`, c: custom("seats", json.Number("12")), want: true},
		{name: "custom number as text does not compare", rule: `custom.seats >= 10`, c: custom("seats", "12")},
		{name: "custom bool", rule: `custom.vip == true`, c: custom("vip", true), want: true},
		{name: "custom bool false", rule: `custom.vip == true`, c: custom("vip", false)},
		{name: "custom bool missing", rule: `custom.vip == true`},
		{name: "custom bool != missing", rule: `custom.vip != true`, want: true},
		{name: "custom empty", rule: `empty(custom.plan)`, c: custom("other", "x"), want: true},
		{name: "custom empty string", rule: `empty(custom.plan)`, c: custom("plan", ""), want: true},
		{name: "custom dashed key", rule: `custom["plan-name"] == "pro"`, c: custom("plan-name", "pro"), want: true},
		{name: "custom in", rule: `custom.plan in ["pro", 3, true]`, c: custom("plan", true), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compileAny(t, tt.rule, segment.Options{Scores: testScores})
			now := tt.now
			if now.IsZero() {
				now = base
			}
			f := &segment.Facts{Contact: tt.c, Scores: tt.scores, Consents: tt.consents}
			if got := c.Match(f, now); got != tt.want {
				t.Errorf("%v: Match = %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Behaviour.

// runBehaviour compiles rule, observes events in their order through a
// catalog of that one rule, and matches at now.
func runBehaviour(t *testing.T, rule *segment.Rule, events []segment.Event, now time.Time) (bool, *segment.State, *segment.Catalog) {
	t.Helper()
	c := compileAny(t, rule, segment.Options{Scores: testScores})
	cat, err := segment.NewCatalog([]segment.Def{{Name: "r", Compiled: c}})
	if err != nil {
		t.Fatal(err)
	}
	st := &segment.State{}
	for _, e := range events {
		cat.Observe(st, e, now)
	}
	return c.Match(&segment.Facts{Behaviour: st}, now), st, cat
}

func TestBehaviour(t *testing.T) {
	pricing2in14d := &segment.Rule{Event: "page_viewed", Within: dur(14 * day), Where: `event.url contains "/pricing"`, Op: ">=", Count: intp(2)}
	noClick30d := &segment.Rule{Event: "email_clicked", Within: dur(30 * day), Op: "==", Count: intp(0)}
	everClicked := &segment.Rule{Event: "email_clicked"}
	clicksEver := func(op string, n int) *segment.Rule {
		return &segment.Rule{Event: "email_clicked", Op: op, Count: intp(n)}
	}
	formSince7d := &segment.Rule{Event: "form_submitted", Since: dur(7 * day)}
	ago := func(d time.Duration) time.Time { return base.Add(-d) }
	pv := func(d time.Duration, url string) segment.Event { return pageView(ago(d), url) }
	const pricing, blog = "https://x.test/pricing", "https://x.test/blog/tips"

	tests := []struct {
		name   string
		rule   *segment.Rule
		events []segment.Event // in arrival order
		now    time.Time       // base when zero
		want   bool
	}{
		{"count: two matching in window", pricing2in14d, []segment.Event{pv(3*day, pricing), pv(time.Hour, pricing)}, time.Time{}, true},
		{"count: one matching", pricing2in14d, []segment.Event{pv(time.Hour, pricing)}, time.Time{}, false},
		{"count: where filters out", pricing2in14d, []segment.Event{pv(2*time.Hour, pricing), pv(time.Hour, "https://x.test/about")}, time.Time{}, false},
		{"count: a blog url does not match", pricing2in14d, []segment.Event{pv(2*time.Hour, pricing), pv(time.Hour, blog)}, time.Time{}, false},
		{"count: no url property", pricing2in14d, []segment.Event{pv(2*time.Hour, pricing), {Type: "page_viewed", At: ago(time.Hour)}}, time.Time{}, false},
		{"count: other event type", pricing2in14d, []segment.Event{pv(2*time.Hour, pricing), {Type: "email_clicked", At: ago(time.Hour), Properties: map[string]any{"url": pricing}}}, time.Time{}, false},
		{"count: one out of window", pricing2in14d, []segment.Event{pv(15*day, pricing), pv(time.Hour, pricing)}, time.Time{}, false},
		{"count: exactly window old does not count", pricing2in14d, []segment.Event{pv(14*day, pricing), pv(time.Hour, pricing)}, time.Time{}, false},
		{"count: 1ms younger than window counts", pricing2in14d, []segment.Event{pv(14*day-time.Millisecond, pricing), pv(time.Hour, pricing)}, time.Time{}, true},
		{"count: event at now counts", pricing2in14d, []segment.Event{pv(0, pricing), pv(time.Hour, pricing)}, time.Time{}, true},
		{"count: many", pricing2in14d, []segment.Event{pv(5*day, pricing), pv(4*day, pricing), pv(3*day, pricing), pv(2*day, pricing)}, time.Time{}, true},

		{"count == 0: no clicks", noClick30d, nil, time.Time{}, true},
		{"count == 0: click 29d ago", noClick30d, []segment.Event{event("email_clicked", ago(29*day))}, time.Time{}, false},
		{"count == 0: click exactly 30d ago", noClick30d, []segment.Event{event("email_clicked", ago(30*day))}, time.Time{}, true},
		{"count == 0: click 31d ago", noClick30d, []segment.Event{event("email_clicked", ago(31*day))}, time.Time{}, true},
		{"count == 0: other types", noClick30d, []segment.Event{event("email_opened", ago(day)), pv(day, pricing)}, time.Time{}, true},

		{"ever: default op is >= 1", everClicked, []segment.Event{event("email_clicked", ago(700*day))}, time.Time{}, true},
		{"ever: none", everClicked, []segment.Event{event("email_opened", ago(day))}, time.Time{}, false},
		{"ever: == 0 none", clicksEver("==", 0), nil, time.Time{}, true},
		{"ever: == 3", clicksEver("==", 3), []segment.Event{event("email_clicked", ago(900*day)), event("email_clicked", ago(2*day)), event("email_clicked", ago(day))}, time.Time{}, true},
		{"ever: == 3 with four", clicksEver("==", 3), []segment.Event{event("email_clicked", ago(900*day)), event("email_clicked", ago(3*day)), event("email_clicked", ago(2*day)), event("email_clicked", ago(day))}, time.Time{}, false},
		{"ever: < 2 with two", clicksEver("<", 2), []segment.Event{event("email_clicked", ago(3*day)), event("email_clicked", ago(day))}, time.Time{}, false},
		{"ever: != 1 with two", clicksEver("!=", 1), []segment.Event{event("email_clicked", ago(3*day)), event("email_clicked", ago(day))}, time.Time{}, true},
		{"ever: > 1 with two", clicksEver(">", 1), []segment.Event{event("email_clicked", ago(3*day)), event("email_clicked", ago(day))}, time.Time{}, true},
		{"ever: <= 1 with two", clicksEver("<=", 1), []segment.Event{event("email_clicked", ago(3*day)), event("email_clicked", ago(day))}, time.Time{}, false},

		{"since: none ever", formSince7d, nil, time.Time{}, false},
		{"since: 8 days ago", formSince7d, []segment.Event{event("form_submitted", ago(8*day))}, time.Time{}, true},
		{"since: 6 days ago", formSince7d, []segment.Event{event("form_submitted", ago(6*day))}, time.Time{}, false},
		{"since: exactly 7 days ago", formSince7d, []segment.Event{event("form_submitted", ago(7*day))}, time.Time{}, false},
		{"since: 7 days and 1ms ago", formSince7d, []segment.Event{event("form_submitted", ago(7*day+time.Millisecond))}, time.Time{}, true},
		{"since: the latest counts", formSince7d, []segment.Event{event("form_submitted", ago(10*day)), event("form_submitted", ago(3*day))}, time.Time{}, false},
		{"since: latest arrives first", formSince7d, []segment.Event{event("form_submitted", ago(3*day)), event("form_submitted", ago(10*day))}, time.Time{}, false},
		{"since: with where", &segment.Rule{Event: "form_submitted", Where: `event.form == "demo"`, Since: dur(7 * day)},
			[]segment.Event{{Type: "form_submitted", At: ago(10 * day), Properties: map[string]any{"form": "demo"}}, {Type: "form_submitted", At: ago(day), Properties: map[string]any{"form": "other"}}}, time.Time{}, true},

		{"future: not counted yet", everClicked, []segment.Event{event("email_clicked", base.Add(time.Hour))}, time.Time{}, false},
		{"future: counted from its time", everClicked, []segment.Event{event("email_clicked", base.Add(time.Hour))}, base.Add(time.Hour), true},
		{"future: == 0 before it", noClick30d, []segment.Event{event("email_clicked", base.Add(time.Hour))}, time.Time{}, true},
		{"future: since ignores it", formSince7d, []segment.Event{event("form_submitted", base.Add(time.Hour))}, time.Time{}, false},
		{"future: since after it", formSince7d, []segment.Event{event("form_submitted", base.Add(time.Hour))}, base.Add(time.Hour + 7*day + time.Millisecond), true},

		{"out of order: older after newer", &segment.Rule{Event: "page_viewed", Within: dur(14 * day), Op: ">=", Count: intp(3)},
			[]segment.Event{pv(time.Hour, pricing), pv(2*time.Hour, pricing), pv(13*day, blog)}, time.Time{}, true},
		{"out of order: old one too old", &segment.Rule{Event: "page_viewed", Within: dur(14 * day), Op: ">=", Count: intp(3)},
			[]segment.Event{pv(time.Hour, pricing), pv(2*time.Hour, pricing), pv(20*day, blog)}, time.Time{}, false},

		{"and/or/not", &segment.Rule{All: []*segment.Rule{
			{Not: noClick30d},
			{Any: []*segment.Rule{formSince7d, pricing2in14d}},
		}}, []segment.Event{event("email_clicked", ago(day)), event("form_submitted", ago(8*day))}, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = base
			}
			got, st, _ := runBehaviour(t, tt.rule, tt.events, now)
			if got != tt.want {
				t.Errorf("%s at base%+v: Match = %v, want %v (state %v)", segment.Text(tt.rule), now.Sub(base), got, tt.want, st.Times)
			}
			for k, ts := range st.Times {
				if !slices.IsSorted(ts) {
					t.Errorf("state %q not ascending: %v", k, ts)
				}
			}
		})
	}
}

func TestBehaviourWithoutState(t *testing.T) {
	for _, tt := range []struct {
		rule *segment.Rule
		want bool
	}{
		{&segment.Rule{Event: "email_clicked", Op: "==", Count: intp(0)}, true},
		{&segment.Rule{Event: "email_clicked"}, false},
		{&segment.Rule{Event: "email_clicked", Since: dur(day)}, false},
	} {
		c := compileAny(t, tt.rule, segment.Options{})
		if got := c.Match(&segment.Facts{}, base); got != tt.want {
			t.Errorf("%s with no state: %v, want %v", segment.Text(tt.rule), got, tt.want)
		}
	}
}

// The state keeps the latest count+1 times per tracked kind (compile.go
// asks need(n+1) for every count comparison), ascending, whatever the
// arrival order.
func TestDepthCap(t *testing.T) {
	rule := &segment.Rule{Event: "page_viewed", Within: dur(30 * day), Op: ">=", Count: intp(3)}
	c := compileAny(t, rule, segment.Options{})
	cat, err := segment.NewCatalog([]segment.Def{{Name: "r", Compiled: c}})
	if err != nil {
		t.Fatal(err)
	}
	st := &segment.State{}
	order := []int{4, 9, 0, 7, 2, 8, 1, 6, 3, 5}
	for _, h := range order {
		cat.Observe(st, pageView(base.Add(time.Duration(h)*time.Hour), "https://x.test/"), base.Add(100*time.Hour))
	}
	if len(st.Times) != 1 {
		t.Fatalf("state has %d keys, want 1: %v", len(st.Times), st.Times)
	}
	var times []int64
	for _, ts := range st.Times {
		times = ts
	}
	want := []int64{}
	for h := 6; h <= 9; h++ {
		want = append(want, base.Add(time.Duration(h)*time.Hour).UnixMilli())
	}
	if !slices.Equal(times, want) {
		t.Fatalf("kept %v, want the latest count+1 = 4 times %v", times, want)
	}
	if cat.Observe(st, pageView(base, "https://x.test/"), base.Add(100*time.Hour)) {
		t.Error("an event older than every kept one reported a change")
	}
	if cat.Observe(st, event("email_clicked", base), base.Add(100*time.Hour)) {
		t.Error("an untracked type reported a change")
	}
	if !cat.Observe(st, pageView(base.Add(10*time.Hour), "https://x.test/"), base.Add(100*time.Hour)) {
		t.Error("a newer event did not report a change")
	}
	for _, ts := range st.Times {
		if len(ts) != 4 {
			t.Errorf("kept %d times, want 4", len(ts))
		}
	}
	// A since needs only the latest; two conditions on one kind share the key
	// with the larger depth.
	two := &segment.Rule{All: []*segment.Rule{
		{Event: "form_submitted", Since: dur(day)},
		{Event: "form_submitted", Within: dur(day), Op: ">=", Count: intp(1)},
	}}
	c2 := compileAny(t, two, segment.Options{})
	cat2, _ := segment.NewCatalog([]segment.Def{{Name: "two", Compiled: c2}})
	st2 := &segment.State{}
	for i := range 5 {
		cat2.Observe(st2, event("form_submitted", base.Add(time.Duration(i)*time.Hour)), base.Add(100*time.Hour))
	}
	if len(st2.Times) != 1 {
		t.Fatalf("two conditions on one kind: %d keys", len(st2.Times))
	}
	for _, ts := range st2.Times {
		if len(ts) != 2 {
			t.Errorf("since + count >= 1 keep %d times, want 2", len(ts))
		}
	}
	// The state survives JSON.
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back segment.State
	if err := json.Unmarshal(b, &back); err != nil || !maps.EqualFunc(back.Times, st.Times, slices.Equal) {
		t.Errorf("state JSON round trip: %s -> %v (%v)", b, back.Times, err)
	}
}

// Events stamped after the time they are observed (up to a day ahead is
// accepted) are all kept until they are past: they never push out the past
// times conditions still need.
func TestFutureEventsDoNotCrowdOutPastEvents(t *testing.T) {
	t.Run("count == 0 within 30d", func(t *testing.T) {
		// depth 1: the click of yesterday is dropped for one stamped an hour ahead.
		rule := &segment.Rule{Event: "email_clicked", Within: dur(30 * day), Op: "==", Count: intp(0)}
		got, st, _ := runBehaviour(t, rule, []segment.Event{
			event("email_clicked", base.Add(-day)),
			event("email_clicked", base.Add(time.Hour)),
		}, base)
		if got {
			t.Errorf("no click in 30d = true at base, though a click happened 1 day before (state %v)", st.Times)
		}
	})
	t.Run("since > 7d", func(t *testing.T) {
		rule := &segment.Rule{Event: "form_submitted", Since: dur(7 * day)}
		got, st, _ := runBehaviour(t, rule, []segment.Event{
			event("form_submitted", base.Add(-10*day)),
			event("form_submitted", base.Add(time.Hour)),
		}, base)
		if !got {
			t.Errorf("since > 7d = false at base, though the latest past submission is 10 days old (state %v)", st.Times)
		}
	})
}

func TestNextChange(t *testing.T) {
	t.Run("since", func(t *testing.T) {
		_, st, cat := runBehaviour(t, &segment.Rule{Event: "form_submitted", Since: dur(7 * day)},
			[]segment.Event{event("form_submitted", base.Add(-day))}, base)
		want := base.Add(-day + 7*day + time.Millisecond)
		if got := cat.NextChange(st, base); !got.Equal(want) {
			t.Errorf("NextChange = %v, want %v", got, want)
		}
		if got := cat.NextChange(st, want); !got.IsZero() {
			t.Errorf("NextChange once past = %v, want zero", got)
		}
	})
	t.Run("future event", func(t *testing.T) {
		_, st, cat := runBehaviour(t, &segment.Rule{Event: "email_clicked"},
			[]segment.Event{event("email_clicked", base.Add(time.Hour))}, base)
		if got, want := cat.NextChange(st, base), base.Add(time.Hour); !got.Equal(want) {
			t.Errorf("NextChange = %v, want %v", got, want)
		}
	})
	t.Run("ever count never changes alone", func(t *testing.T) {
		_, st, cat := runBehaviour(t, &segment.Rule{Event: "email_clicked"},
			[]segment.Event{event("email_clicked", base.Add(-time.Hour))}, base)
		if got := cat.NextChange(st, base); !got.IsZero() {
			t.Errorf("NextChange = %v, want zero", got)
		}
	})
	t.Run("no behaviour", func(t *testing.T) {
		c := compileAny(t, `country == "FR"`, segment.Options{})
		cat, _ := segment.NewCatalog([]segment.Def{{Name: "fr", Compiled: c}})
		if got := cat.NextChange(&segment.State{}, base); !got.IsZero() {
			t.Errorf("NextChange = %v, want zero", got)
		}
		if got := cat.NextChange(nil, base); !got.IsZero() {
			t.Errorf("NextChange(nil) = %v, want zero", got)
		}
	})
	t.Run("relative dates: next UTC midnight", func(t *testing.T) {
		c := compileAny(t, `in_days(expected_close_date, 7)`, segment.Options{})
		cat, _ := segment.NewCatalog([]segment.Def{{Name: "closing", Compiled: c}})
		want := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
		for _, st := range []*segment.State{nil, {}} {
			if got := cat.NextChange(st, base); !got.Equal(want) {
				t.Errorf("NextChange = %v, want %v", got, want)
			}
		}
		if got := cat.NextChange(nil, want); !got.Equal(want.Add(day)) {
			t.Errorf("NextChange at midnight = %v, want the next one", got)
		}
	})
}

// ---------------------------------------------------------------------------
// 5. Text form.

func TestTextRoundTrip(t *testing.T) {
	texts := []string{
		`country == "FR"`,
		`country in ["FR", "BE"] and score.fit >= 5`,
		`country not in ["FR"]`,
		`not (country in ["FR"])`,
		`"vip" in tags and "spam" not in tags`,
		`not ("vip" in tags)`,
		`empty(phone) or not empty(email)`,
		`not not (country == "FR")`,
		`email startsWith "a" and email endsWith ".test" and email contains "@"`,
		`not (email contains "x")`,
		`(country == "FR" or country == "BE") and score.engagement > 3`,
		`country == "FR" and (score.fit < 2 or score.fit >= 8) and not segment("customers")`,
		`(country == "FR" and score.fit < 2) or lifecycle == "sql"`,
		`10 <= score.fit`,
		`5 > potential_value`,
		`potential_value in [1, 2.5, -3]`,
		`consent.email == "granted" and consent.sms != "withdrawn"`,
		`custom.plan == "pro" and custom.vip == true and custom.seats >= 10`,
		`custom["plan-name"] == "x"`,
		`in_days(expected_close_date, 30) and anniversary_in_days(custom.birthday, 7)`,
		`since("form_submitted") > "7d"`,
		`since("form_submitted", event.form == "demo") > "36h"`,
		`"7d" < since("form_submitted")`,
		`not (since("form_submitted") > "1w3d")`,
		`segment("hot-intent")`,
		"country == \"FR\"\n  and\n  score.fit >= 1",
		`count("page_viewed", "14d", event.url contains "/pricing") >= 2`,
		`count("email_clicked", "30d") == 0 and since("form_submitted") > "7d"`,
		`2 <= count("page_viewed")`,
		`not (count("email_clicked", "1w3d", event.url startsWith "https") != 0)`,
		`count("form_submitted", event.form in ["quote", "demo"]) > 1 or count("meeting_booked", "90m") < 3`,
		`country in ["FR", "BE"] and "vip" in tags and score.engagement >= 10
and count("page_viewed", "14d", event.url contains "/pricing") >= 2
and count("email_clicked", "30d") == 0
and since("form_submitted") > "7d"
and not segment("customers") and empty(phone) and in_days(custom.renewal, 30)`,
		`country == "\u00e9\"\\"`,
	}
	doc, err := segment.ParseDocument(segment.DefaultSource())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Segments {
		texts = append(texts, s.Rule.Text)
	}
	for _, x := range texts {
		t.Run(x, func(t *testing.T) {
			r, err := segment.TextRule(x)
			if err != nil {
				t.Fatalf("TextRule: %v", err)
			}
			t1 := segment.Text(r)
			r2, err := segment.TextRule(t1)
			if err != nil {
				t.Fatalf("TextRule(Text) of %q: %v", t1, err)
			}
			if t2 := segment.Text(r2); t2 != t1 {
				t.Errorf("not idempotent:\n %s\n %s", t1, t2)
			}
			if j1, j2 := mustJSON(t, r), mustJSON(t, r2); j1 != j2 {
				t.Errorf("the rule changed through its text:\n %s\n %s", j1, j2)
			}
		})
	}
}

func TestTextRuleJSON(t *testing.T) {
	tests := []struct{ text, json string }{
		{`country in ["FR","BE"] and score.fit >= 5`,
			`{"all":[{"field":"country","op":"in","value":["FR","BE"]},{"field":"score.fit","op":">=","value":5}]}`},
		{`10 <= score.fit`, `{"field":"score.fit","op":">=","value":10}`},
		{`10 < score.fit`, `{"field":"score.fit","op":">","value":10}`},
		{`10 > score.fit`, `{"field":"score.fit","op":"<","value":10}`},
		{`10 >= score.fit`, `{"field":"score.fit","op":"<=","value":10}`},
		{`"FR" == country`, `{"field":"country","op":"==","value":"FR"}`},
		{`"FR" != country`, `{"field":"country","op":"!=","value":"FR"}`},
		{`"vip" in tags`, `{"field":"tags","op":"contains","value":"vip"}`},
		{`"vip" not in tags`, `{"field":"tags","op":"not_contains","value":"vip"}`},
		{`not empty(phone)`, `{"field":"phone","op":"not_empty"}`},
		{`country not in ["FR"]`, `{"field":"country","op":"not_in","value":["FR"]}`},
		{`email startsWith "a"`, `{"field":"email","op":"starts_with","value":"a"}`},
		{`custom["plan-name"] == "x"`, `{"field":"custom.plan-name","op":"==","value":"x"}`},
		{`a == 1 or b == 2 or c == 3`, `{"any":[{"field":"a","op":"==","value":1},{"field":"b","op":"==","value":2},{"field":"c","op":"==","value":3}]}`},
		{`not segment("x") and (a == 1 or b == 2)`, `{"all":[{"not":{"segment":"x"}},{"any":[{"field":"a","op":"==","value":1},{"field":"b","op":"==","value":2}]}]}`},
		{`since("form_submitted") > "7d"`, `{"event":"form_submitted","since":"1w"}`},
		{`"7d" < since("form_submitted")`, `{"event":"form_submitted","since":"1w"}`},
		{`in_days(expected_close_date, 30)`, `{"field":"expected_close_date","op":"in_days","value":30}`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			r, err := segment.TextRule(tt.text)
			if err != nil {
				t.Fatalf("TextRule: %v", err)
			}
			if got := mustJSON(t, r); !sameJSON(t, got, tt.json) {
				t.Errorf("JSON\n got  %s\n want %s", got, tt.json)
			}
		})
	}
}

// TestTextCountConditions: count(…) of the text form, which expr's parser
// once read as its own builtin count(array, predicate) (a regression test).
func TestTextCountConditions(t *testing.T) {
	parses := []struct{ text, json string }{
		{`count("email_clicked", "30d") == 0`, `{"event":"email_clicked","within":"30d","op":"==","count":0}`},
		{`count("page_viewed", "14d", event.url contains "/pricing") >= 2`,
			`{"event":"page_viewed","where":"event.url contains \"/pricing\"","within":"2w","op":">=","count":2}`},
		{`count("meeting_booked") >= 1`, `{"event":"meeting_booked","op":">=","count":1}`},
		{`count("form_submitted", event.form == "demo") > 0`, `{"event":"form_submitted","where":"event.form == \"demo\"","op":">","count":0}`},
		{`2 <= count("page_viewed", "14d")`, `{"event":"page_viewed","within":"2w","op":">=","count":2}`},
	}
	for _, tt := range parses {
		t.Run("parse "+tt.text, func(t *testing.T) {
			r, err := segment.TextRule(tt.text)
			if err != nil {
				t.Fatalf("TextRule: %v", err)
			}
			if got := mustJSON(t, r); !sameJSON(t, got, tt.json) {
				t.Errorf("JSON\n got  %s\n want %s", got, tt.json)
			}
			t1 := segment.Text(r)
			r2, err := segment.TextRule(t1)
			if err != nil {
				t.Fatalf("TextRule(%q): %v", t1, err)
			}
			if t2 := segment.Text(r2); t1 != t2 {
				t.Errorf("not idempotent: %q then %q", t1, t2)
			}
		})
	}
	problems := []struct{ text, path, reason, at string }{
		{`count("x", "0d") >= 1`, "rule.within", "must be more than 0", ">="},
		{`count("x", "1000w") >= 1`, "rule.within", "must be more than 0", ">="},
		{`count("x", "14x") >= 1`, "rule", `unknown unit "x"`, `"14x"`},
		{`count("x") >= 1001`, "rule.count", "must be from 0 to 1000", ">="},
		{`count("x") < 0`, "rule.count", "fewer than 0", "<"},
		{"country == \"FR\"\nand count(\"page viewed\") >= 1", "rule.all[1].event", "bad event type", ">="},
	}
	for _, tt := range problems {
		t.Run("problem "+tt.text, func(t *testing.T) {
			c, err := segment.ParseText(tt.text, segment.Options{})
			if c != nil || err == nil {
				t.Fatalf("ParseText = %v, %v; want nil and an error", c, err)
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tt.path, tt.reason)
			if !ok {
				t.Fatalf("problems %+v; want %s: …%s…", ps, tt.path, tt.reason)
			}
			if l, col := posOf(t, tt.text, tt.at); p.Line != l || p.Column != col {
				t.Errorf("at line %d column %d, want %d:%d", p.Line, p.Column, l, col)
			}
		})
	}
}

// TestTextOfLargeNumberParses: print.go valueText writes a float64
// with FormatFloat(x, 'f', -1, 64); 1e21 becomes the integer literal
// 1000000000000000000000, which expr rejects ("invalid integer literal ...
// value out of range"). Any value >= 2^63 prints as text that ParseText
// cannot read back.
func TestTextOfLargeNumberParses(t *testing.T) {
	r := &segment.Rule{Field: "potential_value", Op: ">", Value: 1e21}
	compileAny(t, r, segment.Options{})
	text := segment.Text(r)
	if _, err := segment.TextRule(text); err != nil {
		t.Fatalf("Text = %q, which does not read back: %v", text, err)
	}
}

// TestTextOfCustomKeyWithLeadingDigit: custom keys are letters, digits,
// - and _ (fields.go validKey) so "custom.1st_touch" compiles, but
// print.go fieldText only brackets keys containing "-" and writes
// custom.1st_touch, which expr reads as a bad number (".1s").
func TestTextOfCustomKeyWithLeadingDigit(t *testing.T) {
	r := &segment.Rule{Field: "custom.1st_touch", Op: "==", Value: "web"}
	compileAny(t, r, segment.Options{})
	text := segment.Text(r)
	if _, err := segment.TextRule(text); err != nil {
		t.Fatalf("Text = %q, which does not read back: %v", text, err)
	}
}

// TestTextOfWhereWithLineComment: a JSON-form where may end with an expr
// line comment; print.go writes it verbatim inside since(...)/count(...),
// where the comment swallows the closing parenthesis and the rest.
func TestTextOfWhereWithLineComment(t *testing.T) {
	r := &segment.Rule{Event: "form_submitted", Where: `event.form == "demo" // demo requests`, Since: dur(7 * day)}
	compileAny(t, r, segment.Options{})
	text := segment.Text(r)
	if _, err := segment.TextRule(text); err != nil {
		t.Fatalf("Text = %q, which does not read back: %v", text, err)
	}
}

// ---------------------------------------------------------------------------
// 6. Validation.

func TestValidationJSON(t *testing.T) {
	long := strings.Repeat("x", segment.MaxWhereLen)
	nested := `{"field":"country","op":"==","value":"FR"}`
	for range segment.MaxDepth + 1 {
		nested = `{"not":` + nested + `}`
	}
	var many []string
	for range segment.MaxNodes {
		many = append(many, `{"field":"country","op":"==","value":"FR"}`)
	}
	tests := []struct {
		name, json, path, reason string
	}{
		{"unknown field", `{"field":"colour","op":"==","value":"x"}`, "rule.field", `unknown field "colour"`},
		{"unknown score", `{"field":"score.nope","op":">=","value":1}`, "rule.field", `unknown score "nope"`},
		{"unknown consent channel", `{"field":"consent.fax","op":"==","value":"granted"}`, "rule.field", `unknown consent channel "fax"`},
		{"bad custom key", `{"field":"custom.a b","op":"==","value":"x"}`, "rule.field", "bad custom field name"},
		{"bad consent status", `{"field":"consent.email","op":"==","value":"yes"}`, "rule.value", "want a consent status"},
		{"text field with >=", `{"field":"country","op":">=","value":5}`, "rule.op", `operator ">=" cannot be used on country (a text field)`},
		{"number with contains", `{"field":"potential_value","op":"contains","value":"x"}`, "rule.op", `operator "contains" cannot be used on potential_value (a number field)`},
		{"tags with ==", `{"field":"tags","op":"==","value":"x"}`, "rule.op", `operator "==" cannot be used on tags (a tags field)`},
		{"missing op", `{"field":"country","value":"x"}`, "rule.op", "a missing operator"},
		{"number with a string", `{"field":"potential_value","op":"==","value":"x"}`, "rule.value", "want a number"},
		{"text with a number", `{"field":"country","op":"==","value":5}`, "rule.value", "want a string"},
		{"date with a bad date", `{"field":"expected_close_date","op":"<","value":"31/12/2025"}`, "rule.value", "want a date"},
		{"empty tag", `{"field":"tags","op":"contains","value":""}`, "rule.value", "a tag is a non-empty string"},
		{"in without list", `{"field":"country","op":"in","value":"FR"}`, "rule.value", "takes a list"},
		{"in empty list", `{"field":"country","op":"in","value":[]}`, "rule.value", "takes a list"},
		{"in bad item", `{"field":"potential_value","op":"in","value":[1,"x"]}`, "rule.value", "item 1: want a number"},
		{"empty with value", `{"field":"phone","op":"empty","value":"x"}`, "rule.value", "takes no value"},
		{"in_days negative", `{"field":"expected_close_date","op":"in_days","value":-1}`, "rule.value", "whole number of days"},
		{"in_days fraction", `{"field":"expected_close_date","op":"in_days","value":1.5}`, "rule.value", "whole number of days"},
		{"in_days too far", `{"field":"expected_close_date","op":"in_days","value":3661}`, "rule.value", "whole number of days"},
		{"field with within", `{"field":"country","op":"==","value":"FR","within":"1d"}`, "rule", "belong to event conditions"},
		{"window 0d", `{"event":"page_viewed","within":"0d"}`, "rule.within", "must be more than 0 and at most 730d"},
		{"window 1000w", `{"event":"page_viewed","within":"1000w"}`, "rule.within", "must be more than 0 and at most 730d"},
		{"window just too long", `{"event":"page_viewed","within":"731d"}`, "rule.within", "at most 730d"},
		{"since 0d", `{"event":"page_viewed","since":"0s"}`, "rule.since", "must be more than 0"},
		{"since with count", `{"event":"page_viewed","since":"7d","count":1}`, "rule", "since stands alone"},
		{"count too large", `{"event":"page_viewed","op":">=","count":1001}`, "rule.count", "must be from 0 to 1000"},
		{"count negative", `{"event":"page_viewed","op":">=","count":-1}`, "rule.count", "must be from 0 to 1000"},
		{"count < 0", `{"event":"page_viewed","op":"<","count":0}`, "rule.count", "fewer than 0 events can never happen"},
		{"count op", `{"event":"page_viewed","op":"contains","count":1}`, "rule.op", "cannot compare a count"},
		{"bad event type", `{"event":"page viewed"}`, "rule.event", "bad event type"},
		{"event with value", `{"event":"page_viewed","value":1}`, "rule", "field and value belong to field conditions"},
		{"where does not compile", `{"event":"page_viewed","where":"event.url contains"}`, "rule.where", "does not compile"},
		{"where unknown name", `{"event":"page_viewed","where":"url == 1"}`, "rule.where", "does not compile"},
		{"where not a condition", `{"event":"page_viewed","where":"1 + 1"}`, "rule.where", "does not compile"},
		{"where too long", `{"event":"page_viewed","where":"` + long + `x"}`, "rule.where", "at most 2000 characters"},
		{"where bidi", `{"event":"page_viewed","where":"event.url == \"a\u202eb\""}`, "rule.where", "no control characters"},
		{"unknown segment", `{"segment":"nope"}`, "rule.segment", `unknown segment "nope"`},
		{"field and event mixed", `{"field":"country","op":"==","value":"FR","event":"page_viewed"}`, "rule", "mixes field, event"},
		{"all and any mixed", `{"all":[{"segment":"known"}],"any":[{"segment":"known"}]}`, "rule", "mixes all, any"},
		{"empty all", `{"all":[]}`, "rule.all", "is empty"},
		{"empty any", `{"any":[]}`, "rule.any", "is empty"},
		{"empty object", `{}`, "rule", "is empty"},
		{"null member", `{"all":[null]}`, "rule.all[0]", "is null"},
		{"nested path", `{"all":[{"segment":"known"},{"any":[{"segment":"known"},{"not":{"field":"nope","op":"==","value":1}}]}]}`, "rule.all[1].any[1].not.field", `unknown field "nope"`},
		{"too deep", nested, "rule" + strings.Repeat(".not", segment.MaxDepth+1), "nested more than 16 deep"},
		{"too many", `{"any":[` + strings.Join(many, ",") + `]}`, "rule.any[199]", "at most 200 conditions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in segment.Input
			if err := json.Unmarshal([]byte(tt.json), &in); err != nil {
				t.Fatalf("Input: %v", err)
			}
			c, err := in.Compile(segment.Options{Scores: testScores, Segments: []string{"known"}})
			if c != nil || err == nil {
				t.Fatalf("Compile = %v, %v; want nil and an error", c, err)
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tt.path, tt.reason)
			if !ok {
				t.Fatalf("problems %+v\nwant %s: …%s…", ps, tt.path, tt.reason)
			}
			if p.Line != 0 || p.Column != 0 {
				t.Errorf("a JSON-form problem has a line: %+v", p)
			}
			if !strings.Contains(err.Error(), tt.path+": ") {
				t.Errorf("Error() = %q does not name %s", err, tt.path)
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	r := &segment.Rule{All: []*segment.Rule{
		{Field: "nope", Op: "==", Value: "x"},
		{Field: "country", Op: "==", Value: "FR"},
		{Event: "page_viewed", Within: dur(0)},
		{Segment: "nope"},
	}}
	c, err := segment.Compile(r, segment.Options{})
	if c != nil {
		t.Fatal("compiled with problems")
	}
	ps := problemsOf(t, err)
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	if want := []string{"rule.all[0].field", "rule.all[2].within", "rule.all[3].segment"}; !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	if c, err := segment.Compile(nil, segment.Options{}); c != nil || err == nil {
		t.Errorf("Compile(nil) = %v, %v", c, err)
	}
	if c, err := (segment.Input{}).Compile(segment.Options{}); c != nil || err == nil {
		t.Errorf("empty Input.Compile = %v, %v", c, err)
	}
}

func TestValidationText(t *testing.T) {
	tests := []struct {
		name, text, path, reason string
		at                       string // marker of the reported place; "" for none
	}{
		{"unknown score on line 2", "country == \"FR\"\nand score.nope >= 3", "rule.all[1].field", `unknown score "nope"`, ">= 3"},
		{"column counts characters", `country == "éé" and consent.fax == "granted"`, "rule.all[1].field", `unknown consent channel "fax"`, `== "granted"`},
		{"unknown field on line 3", "country == \"FR\"\nand\n   colour == \"red\"", "rule.all[1].field", `unknown field "colour"`, `== "red"`},
		{"wrong type", `country >= 5`, "rule.op", `operator ">=" cannot be used on country`, ">="},
		{"number contains", `potential_value contains "x"`, "rule.op", `operator "contains" cannot be used on potential_value`, "contains"},
		{"tags ==", `tags == "x"`, "rule.op", `operator "==" cannot be used on tags`, "=="},
		{"bad value", "score.fit == 1 or\n  potential_value == \"x\"", "rule.any[1].value", "want a number", `== "x"`},
		{"unknown segment", "country == \"FR\"\n\n  and not segment(\"nope\")", "rule.all[1].not.segment", `unknown segment "nope"`, `segment(`},
		{"since 0d", `since("x") > "0d"`, "rule.since", "must be more than 0", ">"},
		{"since 1000w", `since("x") > "1000w"`, "rule.since", "at most 730d", ">"},
		{"since bad unit", `since("x") > "14x"`, "rule", `unknown unit "x"`, `"14x"`},
		{"since >=", `since("x") >= "7d"`, "rule", "since(…) is compared with >", ">="},
		{"since where", `since("x", event.url == ) > "7d"`, "rule", "unexpected token", ")"},
		{"where unknown name", "country == \"FR\" and\n  since(\"x\", url == \"a\") > \"7d\"", "rule.all[1].where", "does not compile", `> "7d"`},
		{"unknown function", "country == \"FR\" and\n  foo(country)", "rule", `unknown function "foo"`, "foo"},
		{"not a condition", "country == \"FR\" and true", "rule", "not a condition", "true"},
		{"arithmetic", "country == \"FR\" and 1 + 1", "rule", `operator "+" is not supported`, "+"},
		{"not a value", `country == phone`, "rule", "expected a value", "phone"},
		{"parse error", `country == "FR" +`, "rule", "unexpected token EOF", "+"},
		{"unsupported operator", `country matches "F.*"`, "rule", `operator "matches" is not supported`, "matches"},
		{"empty text", ``, "rule", "", ""},
		{"oversized", `country == "` + strings.Repeat("x", segment.MaxTextLen) + `"`, "rule", "at most 20000 characters", ""},
		{"control character", "country == \"F\x00R\"", "rule", "no control characters", ""},
		{"escape character", "country == \"F\x1bR\"", "rule", "no control characters", ""},
		{"bidi override", "country == \"FR\u202e\"", "rule", "no control characters", ""},
		{"bidi isolate", "country == \"FR\u2066\"", "rule", "no control characters", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := segment.ParseText(tt.text, segment.Options{Scores: testScores, Segments: []string{"known"}})
			if c != nil || err == nil {
				t.Fatalf("ParseText = %v, %v; want nil and an error", c, err)
			}
			if r, err2 := segment.TextRule(tt.text); tt.path == "rule" && (r != nil || err2 == nil) {
				t.Errorf("TextRule = %v, %v; want nil and an error", r, err2)
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tt.path, tt.reason)
			if !ok {
				t.Fatalf("problems %+v\nwant %s: …%s…", ps, tt.path, tt.reason)
			}
			if tt.at == "" {
				if tt.reason != "" && (p.Line != 0 || p.Column != 0) {
					t.Errorf("place %d:%d, want none", p.Line, p.Column)
				}
				return
			}
			line, col := posOf(t, tt.text, tt.at)
			if p.Line != line || p.Column != col {
				t.Errorf("place %d:%d, want %d:%d (at %q)", p.Line, p.Column, line, col, tt.at)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("Error() = %q, want it to start with the line", err)
			}
		})
	}
}

func TestInputJSON(t *testing.T) {
	bad := []struct{ name, json, want string }{
		{"unknown key", `{"feild":"country","op":"==","value":"FR"}`, `"feild"`},
		{"unknown nested key", `{"all":[{"field":"country","op":"==","value":"FR","comment":"x"}]}`, `"comment"`},
		{"bad window", `{"event":"page_viewed","within":"14x"}`, `unknown unit "x"`},
		{"window not a string", `{"event":"page_viewed","within":14}`, "a duration is a string"},
		{"empty window", `{"event":"page_viewed","within":""}`, "empty duration"},
		{"bad count", `{"event":"page_viewed","count":"2"}`, "count"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var in segment.Input
			err := json.Unmarshal([]byte(tt.json), &in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Unmarshal = %v, want an error naming %s", err, tt.want)
			}
		})
	}
	t.Run("text form", func(t *testing.T) {
		var in segment.Input
		if err := json.Unmarshal([]byte(` "country == \"FR\"" `), &in); err != nil || in.Text != `country == "FR"` || in.Rule != nil {
			t.Fatalf("Input = %+v, %v", in, err)
		}
		c, err := in.Compile(segment.Options{})
		if err != nil || !c.Match(&segment.Facts{Contact: &contact.Contact{Country: "FR"}}, base) {
			t.Fatalf("Compile = %v, %v", c, err)
		}
		if b, _ := json.Marshal(in); string(b) != `"country == \"FR\""` {
			t.Errorf("MarshalJSON = %s", b)
		}
	})
	t.Run("json form", func(t *testing.T) {
		src := `{"event":"page_viewed","where":"event.url contains \"/pricing\"","within":"14d","op":">=","count":2}`
		var in segment.Input
		if err := json.Unmarshal([]byte(src), &in); err != nil || in.Rule == nil {
			t.Fatalf("Input = %+v, %v", in, err)
		}
		b, _ := json.Marshal(in)
		if !sameJSON(t, string(b), strings.Replace(src, `"14d"`, `"2w"`, 1)) {
			t.Errorf("MarshalJSON = %s", b)
		}
		if _, err := in.Compile(segment.Options{}); err != nil {
			t.Errorf("Compile: %v", err)
		}
	})
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
		text string
	}{
		{"90m", 90 * time.Minute, "90m"},
		{"36h", 36 * time.Hour, "36h"},
		{"14d", 14 * day, "2w"},
		{"15d", 15 * day, "15d"},
		{"2w", 14 * day, "2w"},
		{"1w3d", 10 * day, "10d"},
		{"45s", 45 * time.Second, "45s"},
		{" 7d ", 7 * day, "1w"},
		{"0d", 0, "0s"},
	}
	for _, tt := range good {
		d, err := segment.ParseDuration(tt.in)
		if err != nil || time.Duration(d) != tt.want || d.String() != tt.text {
			t.Errorf("ParseDuration(%q) = %v (%q), %v; want %v (%q)", tt.in, time.Duration(d), d.String(), err, tt.want, tt.text)
		}
	}
	for _, in := range []string{"", "14", "d", "14x", "1.5d", "-1d", "14d3", "100001d", "1 d"} {
		if d, err := segment.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, time.Duration(d))
		}
	}
}

// TestParseDurationOverflow: rule.go ParseDuration bounds each number
// (<= 100000) but not the total, and `total += time.Duration(n) * unit`
// overflows int64: "30501w" (about 585 years) wraps to 72h25m26.29s, which
// Compile then accepts as a window within MaxWindow.
func TestParseDurationOverflow(t *testing.T) {
	for _, in := range []string{"30501w", "16215w99999d"} {
		d, err := segment.ParseDuration(in)
		if err == nil && time.Duration(d) > 0 && time.Duration(d) <= segment.MaxWindow {
			t.Errorf("ParseDuration(%q) = %v; want an error or a duration longer than MaxWindow", in, time.Duration(d))
		}
	}
	var in segment.Input
	if err := json.Unmarshal([]byte(`{"event":"page_viewed","within":"30501w"}`), &in); err == nil {
		if c, err := in.Compile(segment.Options{}); err == nil {
			t.Errorf("a 30501-week window compiled: %s", segment.Text(c.Rule))
		}
	}
}

// ---------------------------------------------------------------------------
// 7. Catalog and documents.

func chg(name string, entered bool) segment.Change {
	return segment.Change{Segment: name, Entered: entered}
}

// mustCatalog compiles the rules (text or JSON forms) into a catalog; they
// may also read a static list named "list".
func mustCatalog(t *testing.T, rules map[string]any) *segment.Catalog {
	t.Helper()
	names := append(slices.Collect(maps.Keys(rules)), "list")
	var defs []segment.Def
	for n, r := range rules {
		defs = append(defs, segment.Def{Name: n, Compiled: compileAny(t, r, segment.Options{Scores: testScores, Segments: names})})
	}
	cat, err := segment.NewCatalog(defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestCatalogAffected(t *testing.T) {
	cat := mustCatalog(t, map[string]any{
		"french":   `country == "FR"`,
		"viewers":  &segment.Rule{Event: "page_viewed", Within: dur(day)},
		"clickers": &segment.Rule{Any: []*segment.Rule{{Event: "email_clicked"}, {Field: "tags", Op: "contains", Value: "vip"}}},
		"engaged":  `score.engagement >= 10 and segment("french")`,
		"mixed":    &segment.Rule{All: []*segment.Rule{{Event: "page_viewed", Where: `event.url contains "/x"`}, {Field: "country", Op: "empty"}}},
	})
	tests := []struct {
		event  string
		fields []string
		want   []string
	}{
		{"page_viewed", nil, []string{"mixed", "viewers"}},
		{"email_clicked", nil, []string{"clickers"}},
		{"email_clicked", []string{"tags"}, []string{"clickers"}},
		{"", []string{"country"}, []string{"french", "mixed"}},
		{"", []string{"score.engagement"}, []string{"engaged"}},
		{"", []string{"score.fit", "phone"}, nil},
		{"form_submitted", nil, nil},
		{"page_viewed", []string{"country", "tags"}, []string{"clickers", "french", "mixed", "viewers"}},
	}
	for _, tt := range tests {
		idx := cat.Affected(tt.event, tt.fields)
		if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
			t.Errorf("Affected(%q, %v) = %v: not sorted and distinct", tt.event, tt.fields, idx)
		}
		got := slices.Sorted(slices.Values(indexNames(cat, idx)))
		if !slices.Equal(got, append([]string{}, tt.want...)) {
			t.Errorf("Affected(%q, %v) = %v, want %v", tt.event, tt.fields, got, tt.want)
		}
	}
	if !cat.Tracks("page_viewed") || !cat.Tracks("email_clicked") || cat.Tracks("form_submitted") {
		t.Error("Tracks is wrong")
	}
	if _, ok := cat.Get("nope"); ok {
		t.Error("Get of an unknown segment")
	}
}

func TestCatalogEvaluatePropagates(t *testing.T) {
	// Names sort against the dependency order: zeta <- alpha <- mid.
	cat := mustCatalog(t, map[string]any{
		"zeta":  `country == "FR"`,
		"alpha": `segment("zeta") and score.fit >= 0`,
		"mid":   `not segment("alpha")`,
		"other": `empty(phone)`,
	})
	names := defNames(cat)
	at := func(n string) int { return slices.Index(names, n) }
	if !(at("zeta") < at("alpha") && at("alpha") < at("mid")) {
		t.Fatalf("order %v", names)
	}
	members := map[string]bool{"mid": true, "other": true}
	c := &contact.Contact{Country: "FR", Phone: "+33600000000"}
	f := &segment.Facts{Contact: c}
	changes := cat.Evaluate(cat.Affected("", []string{"country"}), f, members, base)
	want := []segment.Change{chg("zeta", true), chg("alpha", true), chg("mid", false)}
	if !slices.Equal(changes, want) {
		t.Fatalf("changes %+v, want %+v (other must not be evaluated)", changes, want)
	}
	if !maps.Equal(members, map[string]bool{"zeta": true, "alpha": true, "other": true}) {
		t.Errorf("members %v", members)
	}
	c.Country = "BE"
	changes = cat.Evaluate(cat.Affected("", []string{"country"}), f, members, base)
	want = []segment.Change{chg("zeta", false), chg("alpha", false), chg("mid", true)}
	if !slices.Equal(changes, want) {
		t.Fatalf("changes %+v, want %+v", changes, want)
	}
	if changes := cat.Evaluate(cat.All(), f, members, base); len(changes) != 1 || changes[0] != chg("other", false) {
		t.Errorf("All: changes %+v, want only other left", changes)
	}
	if changes := cat.Evaluate(cat.All(), f, members, base); len(changes) != 0 {
		t.Errorf("again: changes %+v, want none", changes)
	}
	if changes := cat.Evaluate(nil, f, map[string]bool{}, base); len(changes) != 0 {
		t.Errorf("nothing to do: changes %+v", changes)
	}
}

func TestNewCatalogErrors(t *testing.T) {
	opts := segment.Options{Segments: []string{"a", "b", "c"}}
	a := compileAny(t, `segment("b")`, opts)
	b := compileAny(t, `segment("a")`, opts)
	self := compileAny(t, `segment("c") or country == "FR"`, opts)
	cat, err := segment.NewCatalog([]segment.Def{{Name: "a", Compiled: a}, {Name: "b", Compiled: b}})
	if err == nil || cat != nil || !strings.Contains(err.Error(), "a") || !strings.Contains(err.Error(), "b") || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle a<->b: %v, %v", cat, err)
	}
	if _, err := segment.NewCatalog([]segment.Def{{Name: "c", Compiled: self}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("self cycle: %v", err)
	}
	fr := compileAny(t, `country == "FR"`, opts)
	if _, err := segment.NewCatalog([]segment.Def{{Name: "x", Compiled: fr}, {Name: "x", Compiled: fr}}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
	// A segment read but not defined is a static list: not an error.
	if cat, err := segment.NewCatalog([]segment.Def{{Name: "a", Compiled: a}}); err != nil || len(cat.Defs()) != 1 {
		t.Errorf("reading a list: %v", err)
	}
}

func TestStaticListIsAFact(t *testing.T) {
	cat := docCatalog(t, `
segments:
  - name: vip-list
    kind: static
    description: hand-picked
  - name: vip-fr
    rule: segment("vip-list") and country == "FR"
  - name: not-vip
    kind: dynamic
    rule: {"not": {"segment": "vip-list"}}
`)
	if got := defNames(cat); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"not-vip", "vip-fr"}) {
		t.Fatalf("defs %v: a static list is not a rule", got)
	}
	d, _ := cat.Get("vip-fr")
	fr := &contact.Contact{Country: "FR"}
	inList := func(s string) bool { return s == "vip-list" }
	if !d.Compiled.Match(&segment.Facts{Contact: fr, Member: inList}, base) {
		t.Error("Match with Facts.Member of the list: false")
	}
	if d.Compiled.Match(&segment.Facts{Contact: fr}, base) {
		t.Error("Match without membership: true")
	}
	// Evaluate reads memberships, lists included, from its members map.
	members := map[string]bool{"vip-list": true}
	changes := cat.Evaluate(cat.All(), &segment.Facts{Contact: fr}, members, base)
	if !slices.Equal(changes, []segment.Change{chg("vip-fr", true)}) || !members["vip-list"] {
		t.Errorf("changes %+v, members %v", changes, members)
	}
	members = map[string]bool{}
	changes = cat.Evaluate(cat.All(), &segment.Facts{Contact: fr}, members, base)
	if !slices.Equal(changes, []segment.Change{chg("not-vip", true)}) {
		t.Errorf("not in the list: changes %+v", changes)
	}
}

func TestCheckDocument(t *testing.T) {
	stored := compileAny(t, `country == "FR"`, segment.Options{})
	tests := []struct {
		name, src string
		others    []segment.Def
		path      string
		reason    []string
	}{
		{"cycle names both", `{"segments":[{"name":"ping","rule":"segment(\"pong\")"},{"name":"pong","rule":"not segment(\"ping\")"}]}`, nil,
			"segments", []string{"cycle", "ping", "pong"}},
		{"unknown segment", `{"segments":[{"name":"a","rule":"segment(\"nope\")"}]}`, nil, "segments[0].rule.segment", []string{`unknown segment "nope"`}},
		{"text problem keeps its line", "segments:\n  - name: a\n    rule: |\n      country == \"FR\"\n      and score.nope > 1\n", nil,
			"segments[0].rule.all[1].field", []string{`unknown score "nope"`}},
		{"json problem", `{"segments":[{"name":"a","rule":{"all":[]}}]}`, nil, "segments[0].rule.all", []string{"is empty"}},
		{"bad name", `{"segments":[{"name":"Warm Intent","rule":"country == \"FR\""}]}`, nil, "segments[0].name", []string{"lowercase"}},
		{"empty name", `{"segments":[{"name":"","rule":"country == \"FR\""}]}`, nil, "segments[0].name", []string{"1 to 64"}},
		{"defined twice", `{"segments":[{"name":"a","rule":"country == \"FR\""},{"name":"a","rule":"country == \"BE\""}]}`, nil, "segments[1].name", []string{"twice"}},
		{"dynamic without rule", `{"segments":[{"name":"a"}]}`, nil, "segments[0].rule", []string{"needs a rule"}},
		{"static with rule", `{"segments":[{"name":"a","kind":"static","rule":"country == \"FR\""}]}`, nil, "segments[0].rule", []string{"no rule"}},
		{"bad kind", `{"segments":[{"name":"a","kind":"smart","rule":"country == \"FR\""}]}`, nil, "segments[0].kind", []string{"dynamic or static"}},
		{"cycle through a stored segment", `{"segments":[{"name":"a","rule":"segment(\"b\")"}]}`,
			[]segment.Def{{Name: "b", Compiled: compileAny(t, `segment("a")`, segment.Options{Segments: []string{"a"}})}}, "segments", []string{"cycle", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := segment.ParseDocument([]byte(tt.src))
			if err != nil {
				t.Fatalf("ParseDocument: %v", err)
			}
			cat, err := segment.CheckDocument(doc, testScores, tt.others)
			if cat != nil || err == nil {
				t.Fatalf("CheckDocument = %v, %v; want nil and an error", cat, err)
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tt.path, tt.reason[0])
			if !ok {
				t.Fatalf("problems %+v\nwant %s: …%s…", ps, tt.path, tt.reason[0])
			}
			for _, w := range tt.reason[1:] {
				if !strings.Contains(p.Reason, w) {
					t.Errorf("reason %q does not name %q", p.Reason, w)
				}
			}
			if tt.name == "text problem keeps its line" && (p.Line != 2 || p.Column == 0) {
				t.Errorf("place %d:%d, want line 2 of the rule", p.Line, p.Column)
			}
		})
	}
	t.Run("stored segments are readable", func(t *testing.T) {
		doc, err := segment.ParseDocument([]byte(`{"segments":[{"name":"a","rule":"segment(\"stored\") and score.fit > 1"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		cat, err := segment.CheckDocument(doc, testScores, []segment.Def{{Name: "stored", Compiled: stored}})
		if err != nil {
			t.Fatal(err)
		}
		if got := defNames(cat); !slices.Equal(got, []string{"stored", "a"}) {
			t.Errorf("defs %v", got)
		}
	})
	t.Run("a document replaces a stored segment of its name", func(t *testing.T) {
		doc, _ := segment.ParseDocument([]byte(`{"segments":[{"name":"stored","rule":"country == \"BE\""}]}`))
		cat, err := segment.CheckDocument(doc, testScores, []segment.Def{{Name: "stored", Compiled: stored}})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := cat.Get("stored")
		if !d.Compiled.Match(&segment.Facts{Contact: &contact.Contact{Country: "BE"}}, base) {
			t.Error("the stored rule is still in force")
		}
	})
}

func TestParseDocumentErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"not yaml", "segments: [", "not YAML or JSON"},
		{"unknown key", `{"segments":[{"name":"a","rul":"x"}]}`, "rul"},
		{"unknown key in a JSON rule", `{"segments":[{"name":"a","rule":{"feild":"x"}}]}`, "feild"},
		{"too large", "# " + strings.Repeat("x", segment.MaxDocumentBytes), "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := segment.ParseDocument([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseDocument = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestCatalogLookups(t *testing.T) {
	cat := mustCatalog(t, map[string]any{
		"base":    `country == "FR"`,
		"reader":  `segment("base") or segment("list")`,
		"viewers": &segment.Rule{Event: "page_viewed", Where: `event.url contains "/pricing"`},
	})
	if i := cat.Index("reader"); i < 0 || cat.Defs()[i].Name != "reader" {
		t.Errorf("Index(reader) = %d", i)
	}
	if i := cat.Index("nope"); i != -1 {
		t.Errorf("Index(nope) = %d, want -1", i)
	}
	for _, name := range []string{"base", "list"} {
		if got := indexNames(cat, cat.ReadersOf(name)); !slices.Equal(got, []string{"reader"}) {
			t.Errorf("ReadersOf(%s) = %v, want [reader]", name, got)
		}
	}
	if got := cat.ReadersOf("viewers"); len(got) != 0 {
		t.Errorf("ReadersOf(viewers) = %v", got)
	}
	st := &segment.State{}
	cat.Observe(st, pageView(base, "https://x.test/pricing"), base)
	for key := range st.Times {
		if !cat.TracksKey(key) || !slices.Contains(cat.Keys(), key) {
			t.Errorf("observed key %q is not one the catalog tracks", key)
		}
	}
	if cat.TracksKey("page_viewed\x00nothing") {
		t.Error("TracksKey says yes to a key no segment reads")
	}
	// EvaluateSkipping leaves a segment alone, and so its readers.
	members := map[string]bool{}
	f := &segment.Facts{Contact: &contact.Contact{Country: "FR"}}
	changes := cat.EvaluateSkipping(cat.All(), f, members, base, func(s string) bool { return s == "base" })
	if len(changes) != 0 || len(members) != 0 {
		t.Errorf("skipping base: changes %+v, members %v", changes, members)
	}
	changes = cat.EvaluateSkipping(cat.All(), f, members, base, nil)
	if !slices.Equal(changes, []segment.Change{chg("base", true), chg("reader", true)}) {
		t.Errorf("changes %+v", changes)
	}
}
