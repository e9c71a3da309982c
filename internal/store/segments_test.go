package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

func saveSegments(t *testing.T, s *store.Store, src string) []store.SavedSegment {
	t.Helper()
	doc, err := segment.ParseDocument([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc, By: "test"})
	if err != nil {
		t.Fatalf("SaveSegments: %v", err)
	}
	runJobs(t, s)
	return saved
}

// runJobs runs the background jobs until none is left.
func runJobs(t testing.TB, s *store.Store) {
	t.Helper()
	for {
		ok, err := s.RunJob(ctx, nil)
		if err != nil {
			t.Fatalf("RunJob: %v", err)
		}
		if !ok {
			return
		}
	}
}

func segmentsOf(t *testing.T, s *store.Store, id int64) []string {
	t.Helper()
	list, err := s.ContactSegments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cs := range list {
		names = append(names, cs.Name)
	}
	return names
}

// segmentEvents lists a contact's segment_entered/exited events, oldest first, as "+name" / "-name".
func segmentEvents(t *testing.T, s *store.Store, id int64) []string {
	t.Helper()
	evs, _, err := s.Timeline(ctx, id, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		var p struct{ Segment string }
		_ = json.Unmarshal(e.Properties, &p)
		switch e.Type {
		case "segment_entered":
			out = append(out, "+"+p.Segment)
		case "segment_exited":
			out = append(out, "-"+p.Segment)
		}
	}
	return out
}

// The example: two views of /pricing put a contact in warm intent at
// once; it leaves exactly 14 days after the first view, by its timer.
func TestWarmIntentEntersAndExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveSegments(t, s, string(segment.DefaultSource()))
		id := newContact(t, s, contact.Input{Email: "ada@example.com", Country: "FR"})
		if got := segmentsOf(t, s, id); slices.Contains(got, "warm-intent") {
			t.Fatalf("new contact in %v", got)
		}
		first := clk.Now()
		send(t, s, clk, id, "page_viewed", pricingView)
		if got := segmentsOf(t, s, id); slices.Contains(got, "warm-intent") {
			t.Fatalf("after one view: %v; want not yet warm", got)
		}
		clk.Advance(time.Hour)
		send(t, s, clk, id, "page_viewed", pricingView)
		if got := segmentsOf(t, s, id); !slices.Contains(got, "warm-intent") {
			t.Fatalf("after two views: %v; want warm-intent", got)
		}
		// A day before the window closes: still in.
		clk.Set(first.Add(13 * 24 * time.Hour))
		fireAll(t, s)
		if got := segmentsOf(t, s, id); !slices.Contains(got, "warm-intent") {
			t.Fatalf("13 days on: %v; want still warm", got)
		}
		next, err := s.NextTimer(ctx)
		if err != nil || !next.Equal(first.Add(14*24*time.Hour)) {
			t.Fatalf("next timer = %v, %v; want the first view + 14 days (%v)", next, err, first.Add(14*24*time.Hour))
		}
		clk.Set(first.Add(14 * 24 * time.Hour))
		fireAll(t, s)
		if got := segmentsOf(t, s, id); slices.Contains(got, "warm-intent") {
			t.Fatalf("14 days on: %v; want out of warm-intent", got)
		}
		evs := segmentEvents(t, s, id)
		if !slices.Contains(evs, "+warm-intent") || evs[len(evs)-1] != "-warm-intent" {
			t.Errorf("segment events = %v; want warm-intent entered, then exited last", evs)
		}
	})
}

// A segment created over existing contacts is built in the background, and
// the build takes the log into account.
func TestSegmentBuildOverExistingContacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		var ids []int64
		for i := range 7 {
			id := newContact(t, s, contact.Input{Email: fmt.Sprintf("b%d@example.com", i), Country: []string{"FR", "DE"}[i%2]})
			ids = append(ids, id)
			for range i % 3 {
				send(t, s, clk, id, "page_viewed", pricingView)
			}
		}
		saved := saveSegments(t, s, `segments:
  - name: french-pricing
    rule: country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 1
`)
		if len(saved) != 1 || !saved[0].Changed || saved[0].Job == nil {
			t.Fatalf("saved = %+v", saved)
		}
		for i, id := range ids {
			want := i%2 == 0 && i%3 > 0
			if got := slices.Contains(segmentsOf(t, s, id), "french-pricing"); got != want {
				t.Errorf("contact %d (FR %v, %d views): member %v; want %v", i, i%2 == 0, i%3, got, want)
			}
		}
		sg, err := s.GetSegment(ctx, "french-pricing")
		if err != nil || sg.Status != "ready" || sg.Members != 2 || sg.Version != 1 {
			t.Errorf("segment = %+v, %v; want ready, 2 members, version 1", sg, err)
		}
		// Saving the same definition again changes nothing.
		again := saveSegments(t, s, `segments:
  - name: french-pricing
    rule: country == "FR" and count("page_viewed", "14d", event.url contains "/pricing") >= 1
`)
		if again[0].Changed || again[0].Job != nil {
			t.Errorf("same definition saved again = %+v; want unchanged", again[0])
		}
		// A new version: German contacts instead.
		saveSegments(t, s, `segments:
  - name: french-pricing
    rule: country == "DE" and count("page_viewed", "14d", event.url contains "/pricing") >= 1
`)
		for i, id := range ids {
			want := i%2 == 1 && i%3 > 0
			if got := slices.Contains(segmentsOf(t, s, id), "french-pricing"); got != want {
				t.Errorf("after the change, contact %d: member %v; want %v", i, got, want)
			}
		}
		versions, err := s.SegmentVersions(ctx, "french-pricing")
		if err != nil || len(versions) != 2 || versions[0].Version != 2 || !strings.Contains(versions[0].Text, `"DE"`) {
			t.Errorf("versions = %+v, %v", versions, err)
		}
	})
}

// A score that inactivity lowers takes the contact out of the segments that
// read it, as it would if an event had lowered it.
func TestSegmentFollowsScoreDecay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveSegments(t, s, `segments:
  - name: engaged
    rule: score.engagement >= 10
`)
		id := newContact(t, s, contact.Input{Email: "ada@example.com", Country: "FR"})
		send(t, s, clk, id, "page_viewed", pricingView)
		if got := scoreOf(t, s, id).Scores["engagement"]; got < 10 || !isIn(t, s, id, "engaged") {
			t.Fatalf("after a pricing view: engagement %d, segments %v; want >= 10 and engaged", got, segmentsOf(t, s, id))
		}
		clk.Advance(31 * day)
		fireAll(t, s)
		got := scoreOf(t, s, id).Scores["engagement"]
		if got >= 10 {
			t.Fatalf("31 idle days on: engagement %d; want decayed below 10", got)
		}
		if isIn(t, s, id, "engaged") {
			t.Errorf("engagement decayed to %d: still in engaged (segment events %v); want out", got, segmentEvents(t, s, id))
		}
		if p := preview(t, s, "score.engagement >= 10"); p.Count != 0 {
			t.Errorf("preview = %+v; want nobody", p)
		}
	})
}

// Bad documents are refused whole, naming the place; nothing is saved.
func TestSaveSegmentsRejectsBadDocuments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		for _, c := range []struct{ name, src, want string }{
			{"missing field", "segments:\n  - name: a\n    rule: shoe_size > 40\n", "shoe_size"},
			{"cycle", "segments:\n  - name: a\n    rule: segment(\"b\")\n  - name: b\n    rule: segment(\"a\")\n", "cycle"},
			{"unknown segment", "segments:\n  - name: a\n    rule: segment(\"nope\")\n", "nope"},
			{"bad name", "segments:\n  - name: A B\n    rule: country == \"FR\"\n", "name"},
			{"bad window", "segments:\n  - name: a\n    rule: count(\"page_viewed\", \"0d\") >= 1\n", "within"},
		} {
			doc, err := segment.ParseDocument([]byte(c.src))
			if err == nil {
				_, err = s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc})
			}
			var se *segment.Error
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v; want a segment.Error naming %q", c.name, err, c.want)
			}
		}
		list, err := s.Segments(ctx)
		if err != nil || len(list) != 0 {
			t.Errorf("segments after rejected saves = %+v, %v; want none", list, err)
		}
	})
}

// What incremental maintenance keeps equals the rules evaluated from the
// event log (PreviewSegment) and a build of copies, after a random stream of
// events, field changes and time passing. Midway, segments with new keys are
// saved (their states are completed lazily), and later two are deleted and
// saved again (a key leaves the catalog and comes back, another one's needs
// change twice).
func TestIncrementalSegmentsEqualRebuild(t *testing.T) {
	const rules = `
  - name: %[1]swarm
    rule: count("page_viewed", "14d", event.url contains "/pricing") >= 2
  - name: %[1]squiet
    rule: count("email_clicked", "10d") == 0 and not empty(company)
  - name: %[1]sfr-engaged
    rule: country in ["FR", "BE"] and (score.engagement >= 10 or "vip" in tags)
  - name: %[1]slapsed
    rule: since("form_submitted") > "5d" and not segment("%[1]swarm")
`
	// Saved midway, one at a time: fr-clicks alone is built for French
	// contacts only (the others are completed lazily, from every click they
	// ever made); blog for everyone.
	const frClicks = `segments: [{name: fr-clicks, rule: 'country == "FR" and count("email_clicked") >= 3'}]`
	const blog = `segments: [{name: blog, rule: 'count("page_viewed", "30d", event.url contains "/blog") >= 1'}]`
	events := 3000 // NURTURE_TEST_SEGMENT_EVENTS=100000 for the long run
	if n, err := strconv.Atoi(os.Getenv("NURTURE_TEST_SEGMENT_EVENTS")); err == nil && n > 0 {
		events = n
	} else if testing.Short() {
		events = 600
	}
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveSegments(t, s, "segments:"+fmt.Sprintf(rules, ""))
		rng := rand.New(rand.NewPCG(7, 7))
		var ids []int64
		for i := range 40 {
			ids = append(ids, newContact(t, s, contact.Input{Email: fmt.Sprintf("r%d@example.com", i), Country: []string{"FR", "BE", "DE"}[i%3]}))
		}
		views := []string{`{"url":"https://x.test/pricing"}`, `{"url":"https://x.test/blog"}`, `{"url":"https://x.test/pricing?a=1"}`,
			`{"url":"https:\/\/x.test\/blog"}`, `{"url":"https://x.test/blog","ref":"https://x.test/pricing"}`}
		// Every live segment's members are its rule evaluated from the log.
		checkLog := func(when string) {
			t.Helper()
			list, err := s.Segments(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, sg := range list {
				live := members(t, s, sg.Name)
				p, err := s.PreviewSegment(ctx, segment.Input{Rule: sg.Rule}, len(ids)+1)
				if err != nil {
					t.Fatalf("PreviewSegment(%s): %v", sg.Name, err)
				}
				if p.Count != int64(len(live)) || !slices.Equal(p.Sample, live) {
					t.Errorf("%s: %s: incremental %v; from the log %v", when, sg.Name, live, p.Sample)
				}
				if when == "at the end" {
					t.Logf("%s: %d members", sg.Name, len(live))
				}
			}
		}
		for n := range events {
			switch n {
			case events / 4:
				checkLog("before new keys")
				saveSegments(t, s, frClicks)
				checkLog("after fr-clicks")
			case events / 3:
				saveSegments(t, s, blog)
				checkLog("after blog")
			case events / 2:
				checkLog("before deletes")
				deleteSegment(t, s, "blog")
				deleteSegment(t, s, "fr-clicks")
			case 2 * events / 3:
				checkLog("before saving again")
				saveSegments(t, s, frClicks)
				checkLog("after saving fr-clicks again")
			case 3 * events / 4:
				saveSegments(t, s, blog)
				checkLog("after saving blog again")
			}
			id := ids[rng.IntN(len(ids))]
			switch k := rng.IntN(20); {
			case k < 8:
				send(t, s, clk, id, "page_viewed", views[rng.IntN(len(views))])
			case k < 12:
				send(t, s, clk, id, "email_clicked", "")
			case k < 14:
				send(t, s, clk, id, "form_submitted", `{"form":"newsletter"}`)
			case k < 16:
				in := contact.Input{Email: fmt.Sprintf("r%d@example.com", id-ids[0])}
				switch rng.IntN(3) {
				case 0:
					in.Company = fmt.Sprintf("Co %d", n)
				case 1:
					in.Tags = []string{"vip"}
				default:
					in.Country = []string{"FR", "BE", "DE"}[rng.IntN(3)]
				}
				newContact(t, s, in)
			default:
				clk.Advance(time.Duration(rng.IntN(36)) * time.Hour)
				fireAll(t, s)
			}
			if rng.IntN(50) == 0 {
				clk.Advance(time.Duration(rng.IntN(6*24)) * time.Hour)
				fireAll(t, s)
			}
		}
		fireAll(t, s)
		checkLog("at the end")
		saveSegments(t, s, "segments:"+fmt.Sprintf(rules, "copy-"))
		for _, name := range []string{"warm", "quiet", "fr-engaged", "lapsed"} {
			live, rebuilt := members(t, s, name), members(t, s, "copy-"+name)
			if !slices.Equal(live, rebuilt) {
				t.Errorf("%s: incremental %v; rebuilt %v", name, live, rebuilt)
			}
		}
	})
}

func members(t *testing.T, s *store.Store, name string) []int64 {
	t.Helper()
	var out []int64
	var after int64
	for {
		page, err := s.SegmentMembers(ctx, name, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Members {
			out = append(out, m.ContactID)
		}
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}
