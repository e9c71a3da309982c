package store_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// Tests of lazy completion (segkeys.go): a new segment's build completes
// the behaviour of the contacts it may match only; any other contact's
// state is completed from the event log when it is first read, and must
// then count every event exactly once.

// pricingTwice uses == so that an event counted twice (or missed) shows.
const pricingTwice = `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") == 2`

// saveRules saves dynamic segments, given as name and rule text pairs, and
// runs their build.
func saveRules(t *testing.T, s *store.Store, nameRule ...string) {
	t.Helper()
	var doc struct {
		Segments []map[string]string `json:"segments"`
	}
	for i := 0; i+1 < len(nameRule); i += 2 {
		doc.Segments = append(doc.Segments, map[string]string{"name": nameRule[i], "rule": nameRule[i+1]})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	saveSegments(t, s, string(b))
}

func isIn(t *testing.T, s *store.Store, id int64, name string) bool {
	t.Helper()
	return slices.Contains(segmentsOf(t, s, id), name)
}

// sendAt appends one event stamped at, and returns its id.
func sendAt(t *testing.T, s *store.Store, id int64, typ, props string, at time.Time) int64 {
	t.Helper()
	in := store.EventInput{ContactID: id, Type: typ, OccurredAt: at, Source: "api"}
	if props != "" {
		in.Properties = json.RawMessage(props)
	}
	r := s.AppendEvents(ctx, []store.EventInput{in})
	if r[0].Err != nil {
		t.Fatalf("append %s to contact %d: %v", typ, id, r[0].Err)
	}
	return r[0].EventID
}

func patch(t *testing.T, s *store.Store, id int64, in contact.Input) {
	t.Helper()
	if _, err := s.PatchContact(ctx, id, norm(t, in), "api"); err != nil {
		t.Fatalf("PatchContact(%d, %+v): %v", id, in, err)
	}
}

func preview(t *testing.T, s *store.Store, rule string) store.Preview {
	t.Helper()
	p, err := s.PreviewSegment(ctx, segment.Input{Text: rule}, 10_000)
	if err != nil {
		t.Fatalf("PreviewSegment(%s): %v", rule, err)
	}
	return p
}

// segState is a contact's segment_state row as stored ("" when it has none).
func segState(t *testing.T, db *sql.DB, id int64) string {
	t.Helper()
	var st string
	err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT state FROM segment_state WHERE contact_id = %d", id)).Scan(&st)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("read segment_state of %d: %v", id, err)
	}
	return st
}

// A contact the build does not look at (it cannot match) is completed from
// the log when a field change makes it a possible match: it enters at once,
// and its later events count on top of the logged ones.
func TestLazySegmentRowCompletedOnFieldChange(t *testing.T) {
	for _, c := range []struct{ name, before string }{
		{"no state row yet", ""},
		{"state row of an older segment", `count("email_clicked") >= 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachRaw(t, func(t *testing.T, s *store.Store, clk *clock.Fake, db *sql.DB) {
				if c.before != "" {
					saveRules(t, s, "clicked", c.before)
				}
				id := newContact(t, s, contact.Input{Email: "de@example.com", Country: "DE"})
				send(t, s, clk, id, "email_clicked", "")
				send(t, s, clk, id, "page_viewed", pricingView)
				clk.Advance(time.Hour)
				send(t, s, clk, id, "page_viewed", `{"url":"https://x.test/blog"}`)
				send(t, s, clk, id, "page_viewed", pricingView)
				clk.Advance(time.Hour)
				saveRules(t, s, "pricing-twice", pricingTwice)
				if isIn(t, s, id, "pricing-twice") {
					t.Fatalf("DE contact in pricing-twice after the build")
				}
				// Otherwise this test would not exercise lazy completion.
				if st := segState(t, db, id); strings.Contains(st, "page_viewed") {
					t.Fatalf("the build completed a contact outside the segment's necessary condition: %s", st)
				}
				patch(t, s, id, contact.Input{Country: "FR"})
				if !isIn(t, s, id, "pricing-twice") {
					t.Fatalf("after the move to FR: %v; want pricing-twice (2 logged pricing views)", segmentsOf(t, s, id))
				}
				send(t, s, clk, id, "page_viewed", pricingView)
				if isIn(t, s, id, "pricing-twice") {
					t.Errorf("after a third view: still in pricing-twice; want out (3 views)")
				}
				evs := slices.DeleteFunc(segmentEvents(t, s, id), func(e string) bool { return e[1:] != "pricing-twice" })
				if want := []string{"+pricing-twice", "-pricing-twice"}; !slices.Equal(evs, want) {
					t.Errorf("pricing-twice events = %v; want %v", evs, want)
				}
			})
		})
	}
}

// When an event is what completes a contact's state, completion reads the
// log before it, and the event itself is observed once.
func TestLazyCompletionCountsTriggeringEventOnce(t *testing.T) {
	for _, c := range []struct {
		name   string
		before int             // logged pricing views before the segment exists
		after  []time.Duration // then appended in one request, stamped now - d
	}{
		{"one event", 1, []time.Duration{0}},
		{"two events in one request", 1, []time.Duration{time.Minute, 0}},
		{"a late event stamped before the logged one", 1, []time.Duration{3 * time.Hour}},
		{"no logged event", 0, []time.Duration{time.Minute, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
				want := c.before + len(c.after)
				rule := fmt.Sprintf(`country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") == %d`, want)
				id := newContact(t, s, contact.Input{Email: "de@example.com", Country: "DE"})
				for range c.before {
					send(t, s, clk, id, "page_viewed", pricingView)
				}
				clk.Advance(time.Hour)
				saveRules(t, s, "exact", rule)
				clk.Advance(time.Hour)
				var in []store.EventInput
				for _, d := range c.after {
					in = append(in, store.EventInput{ContactID: id, Type: "page_viewed", OccurredAt: clk.Now().Add(-d),
						Source: "api", Properties: json.RawMessage(pricingView)})
				}
				for i, r := range s.AppendEvents(ctx, in) {
					if r.Err != nil {
						t.Fatalf("event %d: %v", i, r.Err)
					}
				}
				if isIn(t, s, id, "exact") {
					t.Fatalf("DE contact in exact")
				}
				patch(t, s, id, contact.Input{Country: "FR"})
				if !isIn(t, s, id, "exact") {
					t.Errorf("after the move to FR: %v; want exact (%d views)", segmentsOf(t, s, id), want)
				}
			})
		})
	}
}

// A where-condition prefiltered in SQL still sees properties whose JSON
// text escapes the literal, in a build, in lazy completion and in preview;
// and a literal found elsewhere in the text does not count.
func TestSegmentPrefilterEscapedProperties(t *testing.T) {
	const (
		contains = `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") == 1`
		equals   = `country == "FR" and count("page_viewed", "14d", event.url == "https://x.test/pricing") == 1`
	)
	for _, c := range []struct {
		props string
		want  bool
	}{
		{`{"url":"https://x.test/pricing"}`, true},
		{`{"url":"https:\/\/x.test\/pricing"}`, true},
		{`{"url":"https://x.test/\u0070ricing"}`, true},
		{`{"url":"https://x.test/blog","ref":"https://x.test/pricing"}`, false},
		{`{"url":"https:\/\/x.test\/blog","ref":"\/pricing"}`, false},
		{`{"ref":"https://x.test/pricing"}`, false},
	} {
		t.Run(c.props, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
				built := newContact(t, s, contact.Input{Email: "fr@example.com", Country: "FR"})
				lazy := newContact(t, s, contact.Input{Email: "de@example.com", Country: "DE"})
				for _, id := range []int64{built, lazy} {
					send(t, s, clk, id, "page_viewed", c.props)
				}
				clk.Advance(time.Hour)
				saveRules(t, s, "contains", contains, "equals", equals)
				for _, name := range []string{"contains", "equals"} {
					if got := isIn(t, s, built, name); got != c.want {
						t.Errorf("built: in %s = %v; want %v", name, got, c.want)
					}
				}
				patch(t, s, lazy, contact.Input{Country: "FR"})
				var want []int64
				if c.want {
					want = []int64{built, lazy}
				}
				for _, rule := range []struct{ name, text string }{{"contains", contains}, {"equals", equals}} {
					if got := isIn(t, s, lazy, rule.name); got != c.want {
						t.Errorf("completed lazily: in %s = %v; want %v", rule.name, got, c.want)
					}
					p := preview(t, s, rule.text)
					if p.Count != int64(len(want)) || !slices.Equal(p.Sample, want) {
						t.Errorf("preview of %s = %d %v; want %d %v", rule.name, p.Count, p.Sample, len(want), want)
					}
				}
			})
		})
	}
}

// A behaviour key that leaves the catalog and comes back is not complete
// in the states written meanwhile: they did not track its events.
func TestSegmentKeyLeavesAndComesBack(t *testing.T) {
	const rule = `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 2`
	for _, c := range []struct {
		name  string
		other bool // a segment on another key is there throughout
		// leave takes the key out of the catalog; back brings it back.
		leave, back func(t *testing.T, s *store.Store)
	}{
		{"segment deleted, saved again", false,
			func(t *testing.T, s *store.Store) { deleteSegment(t, s, "pricing") },
			func(t *testing.T, s *store.Store) { saveRules(t, s, "pricing", rule) }},
		{"segment deleted beside another, saved again", true,
			func(t *testing.T, s *store.Store) { deleteSegment(t, s, "pricing") },
			func(t *testing.T, s *store.Store) { saveRules(t, s, "pricing", rule) }},
		{"rule changed and changed back before its build ran", true,
			func(t *testing.T, s *store.Store) {
				doc, err := segment.ParseDocument([]byte(`segments: [{name: pricing, rule: 'count("email_opened") >= 1'}]`))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc}); err != nil {
					t.Fatal(err)
				}
			},
			func(t *testing.T, s *store.Store) { saveRules(t, s, "pricing", rule) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
				if c.other {
					saveRules(t, s, "clicked", `count("email_clicked") >= 1`)
				}
				saveRules(t, s, "pricing", rule)
				built := newContact(t, s, contact.Input{Email: "fr@example.com", Country: "FR"})
				lazy := newContact(t, s, contact.Input{Email: "de@example.com", Country: "DE"})
				for _, id := range []int64{built, lazy} {
					send(t, s, clk, id, "page_viewed", pricingView)
				}
				if isIn(t, s, built, "pricing") {
					t.Fatal("in pricing after one view")
				}
				c.leave(t, s)
				clk.Advance(time.Hour)
				for _, id := range []int64{built, lazy} {
					send(t, s, clk, id, "page_viewed", pricingView)
				}
				c.back(t, s)
				if !isIn(t, s, built, "pricing") {
					t.Errorf("FR contact (built): not in pricing; want in (2 views, one while no segment tracked them)")
				}
				patch(t, s, lazy, contact.Input{Country: "FR"})
				if !isIn(t, s, lazy, "pricing") {
					t.Errorf("DE contact moved to FR (completed lazily): not in pricing; want in (2 views)")
				}
				if p := preview(t, s, rule); p.Count != 2 {
					t.Errorf("preview = %+v; want both contacts", p)
				}
			})
		})
	}
}

func deleteSegment(t *testing.T, s *store.Store, name string) {
	t.Helper()
	if err := s.DeleteSegment(ctx, name); err != nil {
		t.Fatalf("DeleteSegment(%s): %v", name, err)
	}
}

// Builds read events no older than the longest window: events just outside
// it do not count, events just inside do; and "since" has no horizon, even
// on a key first read with a short window.
func TestSegmentWindowHorizon(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		now := clk.Now()
		type who struct {
			name    string
			country string
			view    time.Duration // age of its one view
			form    time.Duration // age of its one form, 0 for none
		}
		people := []who{
			{"fr-view-7d", "FR", 7 * day, 0},
			{"fr-view-7d-less-1ms", "FR", 7*day - time.Millisecond, 0},
			{"de-view-7d", "DE", 7 * day, 0},
			{"de-view-7d-less-1ms", "DE", 7*day - time.Millisecond, 0},
			{"fr-form-200d", "FR", 30 * day, 200 * day},
			{"de-form-200d", "DE", 30 * day, 200 * day},
			{"fr-form-3d", "FR", 30 * day, 3 * day},
		}
		ids := map[string]int64{}
		for _, p := range people {
			id := newContact(t, s, contact.Input{Email: p.name + "@example.com", Country: p.country})
			ids[p.name] = id
			sendAt(t, s, id, "page_viewed", pricingView, now.Add(-p.view))
			if p.form > 0 {
				sendAt(t, s, id, "form_submitted", `{"form":"quote"}`, now.Add(-p.form))
			}
		}
		// A short window on form_submitted first: its build reads a day of forms.
		saveRules(t, s, "viewed-7d", `country == "FR" and count("page_viewed", "7d") >= 1`,
			"form-1d", `count("form_submitted", "1d") >= 1`)
		// The same key read by since: it now needs every form ever.
		saveRules(t, s, "form-long-ago", `since("form_submitted") > "7d"`,
			"fr-form-long-ago", `country == "FR" and since("form_submitted") > "7d"`)
		for _, p := range people {
			if p.country == "DE" {
				patch(t, s, ids[p.name], contact.Input{Country: "FR"})
			}
		}
		want := map[string][]string{
			"viewed-7d":        {"de-view-7d-less-1ms", "fr-view-7d-less-1ms"},
			"form-1d":          nil,
			"form-long-ago":    {"de-form-200d", "fr-form-200d"},
			"fr-form-long-ago": {"de-form-200d", "fr-form-200d"},
		}
		for seg, names := range want {
			var got []string
			for _, p := range people {
				if isIn(t, s, ids[p.name], seg) {
					got = append(got, p.name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, names) {
				t.Errorf("%s: members %v; want %v", seg, got, names)
			}
		}
		// The views just inside the window leave when it closes.
		clk.Advance(time.Millisecond)
		fireAll(t, s)
		if got := members(t, s, "viewed-7d"); len(got) != 0 {
			t.Errorf("viewed-7d a millisecond on: %v; want nobody", got)
		}
	})
}

// A tags condition is prefiltered on the tags' JSON text: tags JSON escapes
// (a<b is stored as a\u003cb) are still found, and a tag that merely
// contains another is not taken for it.
func TestSegmentTagsPrefilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		rules := []string{
			"vip", `"vip" in tags and count("page_viewed", "30d") >= 1`,
			"odd", `"a<b" in tags and count("page_viewed", "30d") >= 1`,
			"quote", `"say \"hi\"" in tags and count("page_viewed", "30d") >= 1`,
			"accent", `"privé" in tags and count("page_viewed", "30d") >= 1`,
		}
		people := []struct {
			tags []string
			want []string
		}{
			{[]string{"vip"}, []string{"vip"}},
			{[]string{"other", "vip"}, []string{"vip"}},
			{[]string{"vipx", "not-vip"}, nil},
			{[]string{"a<b"}, []string{"odd"}},
			{[]string{"a<bc", "vip"}, []string{"vip"}},
			{[]string{`say "hi"`}, []string{"quote"}},
			{[]string{"privé"}, []string{"accent"}},
			{nil, nil},
		}
		var ids []int64
		for i, p := range people {
			id := newContact(t, s, contact.Input{Email: fmt.Sprintf("t%d@example.com", i), Tags: p.tags})
			ids = append(ids, id)
			send(t, s, clk, id, "page_viewed", pricingView)
		}
		saveRules(t, s, rules...)
		for i, p := range people {
			if got := segmentsOf(t, s, ids[i]); !slices.Equal(got, p.want) {
				t.Errorf("tags %q: segments %v; want %v", p.tags, got, p.want)
			}
		}
		for i := 0; i < len(rules); i += 2 {
			got := preview(t, s, rules[i+1])
			if m := members(t, s, rules[i]); got.Count != int64(len(m)) || !slices.Equal(got.Sample, m) {
				t.Errorf("preview of %s = %d %v; members %v", rules[i], got.Count, got.Sample, m)
			}
		}
		// Tags given later complete the state lazily.
		last := ids[len(ids)-1]
		patch(t, s, last, contact.Input{Tags: []string{"a<b", "vip"}})
		if got, want := segmentsOf(t, s, last), []string{"odd", "vip"}; !slices.Equal(got, want) {
			t.Errorf("after tagging: %v; want %v", got, want)
		}
	})
}

// A contact created after the segments exist is right from its first
// event: its state starts complete and nothing is counted twice.
func TestSegmentNewContactFirstEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveRules(t, s,
			"one", `count("page_viewed", "14d", event.url contains "/pricing") == 1`,
			"two", `count("page_viewed", "14d", event.url contains "/pricing") == 2`,
			"fr-one", `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") == 1`,
			"created", `count("lead_created") == 1`)
		// Created by its first event.
		r := s.AppendEvents(ctx, []store.EventInput{{Email: "new@example.com", Type: "page_viewed", OccurredAt: clk.Now(),
			Source: "api", Properties: json.RawMessage(pricingView)}})
		if r[0].Err != nil || !r[0].ContactCreated {
			t.Fatalf("append by email = %+v; want a new contact", r[0])
		}
		byEvent := r[0].ContactID
		if got, want := segmentsOf(t, s, byEvent), []string{"created", "one"}; !slices.Equal(got, want) {
			t.Errorf("created by a view: %v; want %v", got, want)
		}
		// Created by a write, then events.
		byWrite := newContact(t, s, contact.Input{Email: "fr@example.com", Country: "FR"})
		if got, want := segmentsOf(t, s, byWrite), []string{"created"}; !slices.Equal(got, want) {
			t.Errorf("created by a write: %v; want %v", got, want)
		}
		send(t, s, clk, byWrite, "page_viewed", pricingView)
		if got, want := segmentsOf(t, s, byWrite), []string{"created", "fr-one", "one"}; !slices.Equal(got, want) {
			t.Errorf("after one view: %v; want %v", got, want)
		}
		for _, id := range []int64{byEvent, byWrite} {
			send(t, s, clk, id, "page_viewed", pricingView)
			if got, want := segmentsOf(t, s, id), []string{"created", "two"}; !slices.Equal(got, want) {
				t.Errorf("contact %d after two views: %v; want %v", id, got, want)
			}
		}
		// Two contacts created by events of one request.
		r = s.AppendEvents(ctx, []store.EventInput{
			{Email: "a@example.com", Type: "page_viewed", OccurredAt: clk.Now(), Source: "api", Properties: json.RawMessage(pricingView)},
			{Email: "b@example.com", Type: "page_viewed", OccurredAt: clk.Now(), Source: "api", Properties: json.RawMessage(pricingView)},
			{Email: "a@example.com", Type: "page_viewed", OccurredAt: clk.Now(), Source: "api", Properties: json.RawMessage(pricingView)},
		})
		for i, want := range [][]string{{"created", "two"}, {"created", "one"}} {
			if r[i].Err != nil {
				t.Fatal(r[i].Err)
			}
			if got := segmentsOf(t, s, r[i].ContactID); !slices.Equal(got, want) {
				t.Errorf("contact %d created in a batch: %v; want %v", i, got, want)
			}
		}
	})
}

// A preview evaluates a rule from the log; once the same rule is saved and
// built, its members are the preview's, while time passes too.
func TestPreviewEqualsMembers(t *testing.T) {
	rules := []string{
		"fr-pricing", `country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 2`,
		"any-pricing", `count("page_viewed", "14d", event.url contains "/pricing") >= 1`,
		"quiet-be", `country in ["BE", "DE"] and count("email_clicked", "10d") == 0`,
		"vip-or-fr", `"vip" in tags or country == "FR" and count("email_clicked", "7d") >= 1`,
		"lapsed", `since("form_submitted") > "5d" and not segment("any-pricing")`,
		"co", `company == "Acme" and since("form_submitted", event.form == "quote") > "1d"`,
	}
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		var ids []int64
		for i := range 24 {
			in := contact.Input{Email: fmt.Sprintf("p%d@example.com", i), Country: []string{"FR", "BE", "DE"}[i%3]}
			if i%5 == 0 {
				in.Tags = []string{"vip"}
			}
			if i%4 == 0 {
				in.Company = "Acme"
			}
			ids = append(ids, newContact(t, s, in))
		}
		for n := range 150 {
			id := ids[(n*7)%len(ids)]
			switch n % 5 {
			case 0, 1:
				send(t, s, clk, id, "page_viewed", []string{pricingView, `{"url":"https:\/\/x.test\/pricing"}`, `{"url":"/blog"}`}[n%3])
			case 2:
				send(t, s, clk, id, "email_clicked", "")
			case 3:
				send(t, s, clk, id, "form_submitted", []string{`{"form":"quote"}`, `{"form":"newsletter"}`}[n%2])
			}
			clk.Advance(time.Duration(n%9) * time.Hour)
		}
		if err := s.EraseContact(ctx, ids[3], "test"); err != nil {
			t.Fatal(err)
		}
		saveRules(t, s, rules...)
		check := func(when string) {
			t.Helper()
			for i := 0; i < len(rules); i += 2 {
				got, want := preview(t, s, rules[i+1]), members(t, s, rules[i])
				if got.Count != int64(len(want)) || !slices.Equal(got.Sample, want) {
					t.Errorf("%s: preview of %s = %d %v; members %v", when, rules[i], got.Count, got.Sample, want)
				}
				if got.Contacts != int64(len(ids)-1) {
					t.Errorf("%s: preview of %s looked at %d contacts; want %d live", when, rules[i], got.Contacts, len(ids)-1)
				}
			}
		}
		check("after the build")
		for _, d := range []time.Duration{day, 4 * day, 10 * day} {
			clk.Advance(d)
			fireAll(t, s)
			check(fmt.Sprintf("%v later", d))
		}
	})
}

// Events Nurture writes itself (segment_entered, score_band_changed…) are
// in the log, so builds, lazy completion and previews count them: a contact
// whose state is kept as events come must count them too, or its
// Events Nurture writes while scoring and keeping segments are not seen as
// they happen: rules cannot count segment or band events, and a band's own
// event counts neither live nor from the log, so every path agrees.
func TestSegmentCountsEngineEventsLikeTheLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		for _, typ := range []string{"segment_entered", "segment_exited", "score_band_changed"} {
			doc, err := segment.ParseDocument([]byte(`segments: [{name: x, rule: 'count("` + typ + `", "30d") >= 1'}]`))
			if err == nil {
				_, err = s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc})
			}
			if err == nil || !strings.Contains(err.Error(), typ) {
				t.Errorf("a rule counting %s: err = %v; want it refused, naming the type", typ, err)
			}
		}
		// The shipped rules tag a new contact "education" through a band,
		// with a field_changed from source scoring on later moves; a rule
		// counting field_changed sees the client's changes only, on every path.
		const rule = `country == "FR" and count("field_changed", "30d") >= 1`
		built := newContact(t, s, contact.Input{Email: "fr@example.com", Country: "FR"})
		lazy := newContact(t, s, contact.Input{Email: "de@example.com", Country: "DE"})
		patch(t, s, built, contact.Input{Company: "Acme"})
		saveRules(t, s, "changed", rule)
		patch(t, s, lazy, contact.Input{Country: "FR"})
		kept := newContact(t, s, contact.Input{Email: "new@example.com", Country: "FR"})
		patch(t, s, kept, contact.Input{Company: "Beta"})
		for _, id := range []int64{built, lazy, kept} {
			if !isIn(t, s, id, "changed") {
				t.Errorf("contact %d: not in changed", id)
			}
		}
		if p, m := preview(t, s, rule), members(t, s, "changed"); !slices.Equal(p.Sample, m) {
			t.Errorf("preview %v; members %v", p.Sample, m)
		}
	})
}

// A build's progress is in contact ids: when it is done, how far it went
// and the highest id are both the highest contact id, erased or not.
func TestSegmentBuildProgressInContactIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		var last int64
		for i := range 5 {
			last = newContact(t, s, contact.Input{Email: fmt.Sprintf("g%d@example.com", i), Country: "FR"})
		}
		if err := s.EraseContact(ctx, last, "test"); err != nil {
			t.Fatal(err)
		}
		saved := saveSegments(t, s, `segments: [{name: fr, rule: 'country == "FR"'}, {name: de, rule: 'country == "DE"'}]`)
		if len(saved) != 2 || saved[0].Job == nil || saved[1].Job == nil || saved[0].Job.ID != saved[1].Job.ID {
			t.Fatalf("saved = %+v; want one build job for both", saved)
		}
		j, err := s.GetJob(ctx, saved[0].Job.ID)
		if err != nil || j.Status != "done" || j.Done != last || j.Total != last {
			t.Errorf("job = %+v, %v; want done, %d of %d", j, err, last, last)
		}
		if got := members(t, s, "fr"); len(got) != 4 {
			t.Errorf("fr members = %v; want the 4 live contacts", got)
		}
	})
}
