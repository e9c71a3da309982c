package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// triggered is a journey of one send whose trigger is given.
func triggered(name, trigger string) string {
	return "name: " + name + "\ntrigger: " + trigger + "\nentry: {require: [email], reentry: always}\nquiet_hours: {off: true}\n" +
		"steps:\n  - {id: hello, send: {channel: email, template: a-d0, kind: transactional}}\n"
}

func enrolledIn(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	ens, err := s.ContactEnrolments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := len(ens) - 1; i >= 0; i-- {
		names = append(names, ens[i].Journey)
	}
	return strings.Join(names, ",")
}

func TestJourneySegmentScoreAndFieldTriggers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0")
		saveSegments(t, s, "segments:\n  - name: germans\n    rule: country == \"DE\"\n")
		for _, doc := range []string{
			triggered("on-segment", "{segment: germans}"),
			triggered("on-score", "{score: {name: engagement, above: 20}}"),
			triggered("on-field", "{field: {name: status, to: nurture}}"),
		} {
			if _, _, err := s.SaveJourney(ctx, []byte(doc)); err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
		}
		ada := newContact(t, s, contact.Input{Email: "ada@example.com"})
		if got := enrolledIn(t, s, ada); got != "" {
			t.Fatalf("ada is in %q before anything happened", got)
		}
		// Entering the segment.
		if _, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: "ada@example.com", Country: "DE"})}); err != nil {
			t.Fatal(err)
		}
		if got := enrolledIn(t, s, ada); got != "on-segment" {
			t.Errorf("after joining germans, ada is in %q; want on-segment", got)
		}
		// The score crossing 20 upward, once: 10, 17, then 32.
		send(t, s, clk, ada, "page_viewed", pricingView)
		send(t, s, clk, ada, "email_clicked", "")
		if got := enrolledIn(t, s, ada); got != "on-segment" {
			t.Errorf("at 17 points ada is in %q", got)
		}
		send(t, s, clk, ada, "email_replied", "")
		send(t, s, clk, ada, "email_replied", "") // 47: no second crossing
		if got := enrolledIn(t, s, ada); got != "on-segment,on-score" {
			t.Errorf("after crossing 20 ada is in %q; want on-segment,on-score", got)
		}
		// A field changing to a value; other changes do not enrol.
		for _, status := range []string{"contacted", "nurture"} {
			if _, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: "ada@example.com", Status: status})}); err != nil {
				t.Fatal(err)
			}
		}
		if got := enrolledIn(t, s, ada); got != "on-segment,on-score,on-field" {
			t.Errorf("after status nurture ada is in %q", got)
		}
	})
}

func TestJourneyDateTriggers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0")
		for _, doc := range []string{
			triggered("renewal", `{date: {field: renewal_date, before: 3d, at: "09:00"}}`),
			triggered("birthday", `{date: {field: birthday, yearly: true, at: "10:00"}, where: 'contact.country != "US"'}`),
		} {
			if _, _, err := s.SaveJourney(ctx, []byte(doc)); err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
		}
		// The epoch is Monday 2 March 2026, 09:00 UTC.
		ada := newContact(t, s, contact.Input{Email: "ada@example.com", CustomFields: map[string]any{"renewal_date": "2026-03-10"}})
		bea := newContact(t, s, contact.Input{Email: "bea@example.com", TimeZone: "Europe/Paris", Country: "FR",
			CustomFields: map[string]any{"birthday": "1990-03-05", "renewal_date": "2027-01-01"}})
		cal := newContact(t, s, contact.Input{Email: "cal@example.com", Country: "US", CustomFields: map[string]any{"birthday": "1985-03-05"}})
		dan := newContact(t, s, contact.Input{Email: "dan@example.com", CustomFields: map[string]any{"renewal_date": "not a date"}})
		sweep := func(at time.Time) int {
			clk.Set(at)
			n, err := s.RunDateTriggers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := sweep(clk.Now()); n != 0 {
			t.Errorf("the first sweep enrolled %d; it only notes the time", n)
		}
		day := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }
		if n := sweep(day(5, 8, 30)); n != 0 { // Bea's birthday at 10:00 Paris is 09:00 UTC
			t.Errorf("08:30 UTC on the 5th enrolled %d", n)
		}
		if n := sweep(day(5, 9, 1)); n != 1 || enrolledIn(t, s, bea) != "birthday" || enrolledIn(t, s, cal) != "" {
			t.Errorf("09:01 UTC on the 5th enrolled %d: bea in %q, cal (US, excluded) in %q", n, enrolledIn(t, s, bea), enrolledIn(t, s, cal))
		}
		if n := sweep(day(7, 8, 59)); n != 0 {
			t.Errorf("before 09:00 on the 7th enrolled %d", n)
		}
		if n := sweep(day(7, 9, 0)); n != 1 || enrolledIn(t, s, ada) != "renewal" {
			t.Errorf("09:00 on the 7th (3 days before the 10th) enrolled %d; ada in %q", n, enrolledIn(t, s, ada))
		}
		if n := sweep(day(8, 9, 0)); n != 0 || enrolledIn(t, s, dan) != "" {
			t.Errorf("the 8th enrolled %d; dan (a bad date) in %q", n, enrolledIn(t, s, dan))
		}
		// A year later, the birthday again.
		if n := sweep(time.Date(2027, 3, 5, 9, 30, 0, 0, time.UTC)); n != 1 || enrolledIn(t, s, bea) != "birthday,birthday" {
			t.Errorf("the next birthday enrolled %d; bea in %q", n, enrolledIn(t, s, bea))
		}
	})
}

func TestJourneyTriggersRejected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0")
		for _, tc := range []struct{ trigger, want string }{
			{"{segment: germans, event: form_submitted}", "not several"},
			{"{}", "say what enrols"},
			{"{segment: 'Bad Name'}", "segment name"},
			{"{score: {name: '', above: 3}}", "score name"},
			{"{field: {name: 'no spaces'}}", "field name"},
			{"{date: {field: renewal_date, before: 3d, after: 2d}}", "not both"},
			{"{date: {field: renewal_date, at: '25:00'}}", "HH:MM"},
			{"{date: {field: renewal_date, before: -3d}}", "before"},
			{"{date: {field: 'x y'}}", "custom field"},
		} {
			_, _, err := s.SaveJourney(ctx, []byte(triggered("bad", tc.trigger)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("trigger %s: %v; want %q", tc.trigger, err, tc.want)
			}
		}
		if js, _ := s.Journeys(ctx); len(js) != 0 {
			t.Errorf("saved %+v", js)
		}
	})
}

func TestJourneyUpdateAndWebhookSteps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		hook, err := s.CreateWebhook(ctx, "https://hooks.example.com/n", []string{"journey_webhook"}, "sales channel")
		if err != nil {
			t.Fatal(err)
		}
		doc := `name: hand-off
trigger: {manual: true}
entry: {require: [email]}
steps:
  - {id: mark, update: {stage: contacted, fields: {plan: pro, seats: "12"}, tag: [hot], points: 5, score: engagement}}
  - {id: tell, send: {channel: webhook, topic: hot-lead}}
  - {id: leap, update: {stage: won}}
`
		if _, _, err := s.SaveJourney(ctx, []byte(doc)); err != nil {
			t.Fatal(err)
		}
		ada := newContact(t, s, contact.Input{Email: "ada@example.com"})
		if _, err := s.Enrol(ctx, "hand-off", ada); err != nil {
			t.Fatal(err)
		}
		c, err := s.GetContact(ctx, ada)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "contacted" || c.CustomFields["plan"] != "pro" || c.CustomFields["seats"] != "12" || !strings.Contains(strings.Join(c.Tags, ","), "hot") {
			t.Errorf("contact %+v; want contacted, plan pro, 12 seats, tagged hot", c)
		}
		rep, err := s.Score(ctx, ada)
		if err != nil || rep.Scores["engagement"] != 5 || len(rep.Ledger) == 0 || !strings.Contains(rep.Ledger[len(rep.Ledger)-1].Reason, "journey hand-off, step mark") {
			t.Errorf("score %+v, %v; want 5 engagement points from the journey, in the ledger", rep, err)
		}
		// The points are an event: a rescore from the log gives them again.
		applyRules(t, s, strings.Replace(string(score.DefaultSource()), "points: 10", "points: 11", 1))
		runJobs(t, s)
		if rep, err := s.Score(ctx, ada); err != nil || rep.Scores["engagement"] != 5 {
			t.Errorf("after a rescore: %+v, %v; want engagement 5", rep.Scores, err)
		}
		evs := timelineTypes(t, s, ada)
		for _, want := range []string{"journey_webhook", "journey_update_failed", "stage_changed", "score_adjusted"} {
			if !strings.Contains(evs, want) {
				t.Errorf("timeline %s; want %s", evs, want)
			}
		}
		ds, err := s.WebhookDeliveries(ctx, hook.ID, 0, 10)
		if err != nil || len(ds) != 1 {
			t.Errorf("deliveries %+v, %v; want the journey_webhook event queued for the subscriber", ds, err)
		}
		for _, bad := range []string{
			"{id: x, update: {points: 5}}",
			"{id: x, update: {score: engagement}}",
			"{id: x, update: {points: 5000, score: engagement}}",
			"{id: x, update: {stage: nowhere}}",
			"{id: x, update: {fields: {'Bad Key': v}}}",
			"{id: x, send: {channel: webhook}}",
			"{id: x, send: {channel: webhook, topic: t, template: a-d0}}",
		} {
			_, _, err := s.SaveJourney(ctx, []byte("name: bad\ntrigger: {manual: true}\nsteps:\n  - "+bad+"\n"))
			if err == nil {
				t.Errorf("step %s accepted", bad)
			}
		}
	})
}

func TestJourneyPriorityTakesTheSlot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "low-1", "high-1")
		for _, doc := range []string{
			"name: low\ntrigger: {manual: true}\nentry: {require: [email]}\nquiet_hours: {off: true}\nsteps:\n  - {id: w, wait: 1h}\n  - {id: m, send: {channel: email, template: low-1}}\n",
			"name: high\npriority: 10\ntrigger: {manual: true}\nentry: {require: [email]}\nquiet_hours: {off: true}\nsteps:\n  - {id: w, wait: 1h}\n  - {id: m, send: {channel: email, template: high-1}}\n",
		} {
			if _, _, err := s.SaveJourney(ctx, []byte(doc)); err != nil {
				t.Fatal(err)
			}
		}
		ada := newContact(t, s, contact.Input{Email: "ada@example.com"})
		for _, j := range []string{"low", "high"} { // low enrols first: without priority it would go first
			if _, err := s.Enrol(ctx, j, ada); err != nil {
				t.Fatal(err)
			}
		}
		start := clk.Now()
		runDue(t, s, clk, start.Add(2*time.Hour))
		if got := strings.Join(journeyMessages(t, s, ada), ","); got != "high-1" {
			t.Errorf("after 2 hours ada got %s; want high-1 only (low deferred by the day's cap)", got)
		}
		runDue(t, s, clk, start.Add(26*time.Hour))
		if got := strings.Join(journeyMessages(t, s, ada), ","); got != "high-1,low-1" {
			t.Errorf("after 26 hours ada got %s; want high-1 then low-1", got)
		}
		if _, _, err := s.SaveJourney(ctx, []byte("name: bad\npriority: 5000\ntrigger: {manual: true}\nsteps:\n  - {id: w, wait: 1h}\n")); err == nil {
			t.Error("priority 5000 accepted")
		}
	})
}
