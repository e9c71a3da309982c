package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

const journeyA = `
name: warm-lead
objective: {event: meeting_booked}
trigger: {event: form_submitted, where: 'event.form == "contact"'}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: a-d0}}
  - {id: w1, wait: 1d}
  - {id: d1, send: {channel: email, template: a-d1}}
  - {id: w3, wait: 2d}
  - {id: d3, send: {channel: email, template: a-d3}}
  - {id: call, send: {channel: task, title: Call them, due_in: 1h}}
`

func saveJourneyTemplates(t testing.TB, s *store.Store, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: n, Channel: store.ChannelEmail, Subject: n,
			HTML: `<p>` + n + ` for {{ contact.first_name | default: "you" }}</p>`}); err != nil {
			t.Fatal(err)
		}
	}
}

// runDue moves the clock to each due step in turn, up to the horizon, and
// runs it, as the worker does.
func runDue(t *testing.T, s *store.Store, clk *clock.Fake, horizon time.Time) {
	t.Helper()
	for {
		due, err := s.NextDueStep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if due.IsZero() || due.After(horizon) {
			return
		}
		if due.After(clk.Now()) {
			clk.Set(due)
		}
		if _, err := s.RunDueSteps(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
}

func journeyMessages(t *testing.T, s *store.Store, id int64) []string {
	t.Helper()
	ms, err := s.ListMessages(ctx, store.MessagesParams{ContactID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, ms[i].Template)
	}
	return out
}

func TestJourneyRunsFromTriggerToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0", "a-d1", "a-d3")
		j, changed, err := s.SaveJourney(ctx, []byte(journeyA))
		if err != nil || !changed || j.Version != 1 || j.Status != store.JourneyLive {
			t.Fatalf("SaveJourney = %+v, %v, %v", j, changed, err)
		}
		if _, changed, _ := s.SaveJourney(ctx, []byte(journeyA)); changed {
			t.Error("the same document again made a new version")
		}
		ada := newContact(t, s, contact.Input{Email: "ada@example.com", FirstName: "Ada", Source: "website", Offer: "audit"})
		bob := newContact(t, s, contact.Input{Email: "bob@example.com", Source: "website"}) // no offer
		start := clk.Now()
		send(t, s, clk, ada, "form_submitted", `{"form":"newsletter"}`) // the condition does not hold
		if got := journeyMessages(t, s, ada); len(got) != 0 {
			t.Fatalf("a newsletter form enrolled: %v", got)
		}
		send(t, s, clk, ada, "form_submitted", `{"form":"contact"}`)
		send(t, s, clk, bob, "form_submitted", `{"form":"contact"}`)
		if got := journeyMessages(t, s, ada); strings.Join(got, ",") != "a-d0" {
			t.Fatalf("after the form: %v; want D0 at once", got)
		}
		// A second trigger while in the journey does not enrol twice.
		send(t, s, clk, ada, "form_submitted", `{"form":"contact"}`)
		runDue(t, s, clk, start.Add(30*24*time.Hour))
		if got := journeyMessages(t, s, ada); strings.Join(got, ",") != "a-d0,a-d1,a-d3" {
			t.Errorf("messages %v; want D0, D1, D3 once each", got)
		}
		ms, _ := s.ListMessages(ctx, store.MessagesParams{ContactID: ada, Limit: 10})
		for _, m := range ms {
			if m.Source != "journey:warm-lead" || m.List != "warm-lead" || m.Kind != store.KindMarketing {
				t.Errorf("message %+v; want a marketing message of the journey", m)
			}
		}
		if d := ms[0].DueAt.Sub(start); d != 3*24*time.Hour {
			t.Errorf("D3 due %v after entry; want 3 days", d)
		}
		tasks, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: ada, Limit: 10})
		if err != nil || len(tasks) != 1 || tasks[0].Title != "Call them" {
			t.Errorf("tasks %+v, %v; want the call task", tasks, err)
		}
		// Running again changes nothing: every step ran once.
		if n, err := s.RunDueSteps(ctx, 100); err != nil || n != 0 {
			t.Errorf("RunDueSteps again = %d, %v", n, err)
		}
		if got := journeyMessages(t, s, bob); len(got) != 0 {
			t.Errorf("bob, without an offer, got %v", got)
		}
		ens, _ := s.ContactEnrolments(ctx, ada)
		if len(ens) != 1 || ens[0].Status != "completed" {
			t.Errorf("ada's enrolments %+v; want one, completed", ens)
		}
		evs := timelineTypes(t, s, bob)
		if !strings.Contains(evs, "journey_entry_refused") {
			t.Errorf("bob's timeline %s; want the refusal recorded", evs)
		}
		_, stats, err := s.JourneyStats(ctx, "warm-lead")
		if err != nil {
			t.Fatal(err)
		}
		count := func(step, metric, detail string) int64 {
			for _, st := range stats {
				if st.Step == step && st.Metric == metric && st.Detail == detail {
					return st.Count
				}
			}
			return 0
		}
		if count("", "entered", "") != 1 || count("d1", "sent", "email") != 1 || count("", "refused", "missing offer") != 1 ||
			count("call", "completed", "") != 1 {
			t.Errorf("stats %+v", stats)
		}
	})
}

func TestJourneyStopsOnGoalAndTakeover(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0", "a-d1", "a-d3")
		if _, _, err := s.SaveJourney(ctx, []byte(journeyA)); err != nil {
			t.Fatal(err)
		}
		ada := newContact(t, s, contact.Input{Email: "ada@example.com", Source: "website", Offer: "audit"})
		bob := newContact(t, s, contact.Input{Email: "bob@example.com", Source: "website", Offer: "audit"})
		start := clk.Now()
		send(t, s, clk, ada, "form_submitted", `{"form":"contact"}`)
		send(t, s, clk, bob, "form_submitted", `{"form":"contact"}`)
		runDue(t, s, clk, start.Add(50*time.Hour)) // D2
		send(t, s, clk, ada, "meeting_booked", "")
		if _, err := s.LogActivity(ctx, bob, pipeline.Activity{Type: "call", By: "sam"}); err != nil {
			t.Fatal(err)
		}
		runDue(t, s, clk, start.Add(30*24*time.Hour))
		for _, c := range []struct {
			id     int64
			reason string
		}{{ada, journey.ReasonGoal}, {bob, "human_takeover"}} {
			if got := journeyMessages(t, s, c.id); strings.Join(got, ",") != "a-d0,a-d1" {
				t.Errorf("contact %d got %v; want D0 and D1 only", c.id, got)
			}
			ens, _ := s.ContactEnrolments(ctx, c.id)
			if len(ens) != 1 || ens[0].Status != "exited" || ens[0].Reason != c.reason {
				t.Errorf("contact %d enrolments %+v; want exited on %s", c.id, ens, c.reason)
			}
		}
	})
}

func TestJourneyDocumentsRejected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		_, _, err := s.SaveJourney(ctx, []byte(journeyA)) // no templates yet
		var de *journey.DocumentError
		if !errors.As(err, &de) || !strings.Contains(de.Error(), `unknown template "a-d0"`) {
			t.Fatalf("err = %v; want the unknown template reported", err)
		}
		if js, _ := s.Journeys(ctx); len(js) != 0 {
			t.Errorf("journeys %+v; want none saved", js)
		}
		if _, err := s.Enrol(ctx, "nope", 1); !errors.Is(err, store.ErrJourneyNotFound) && !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("Enrol(nope) = %v", err)
		}
	})
}

func timelineTypes(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	evs, _, err := s.Timeline(ctx, id, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}
