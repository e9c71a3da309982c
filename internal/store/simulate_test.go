package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

const simJourney = `
name: sim
trigger: {event: form_submitted}
steps:
  - {id: d0, send: {channel: email, template: a-d0}}
  - {id: w1, wait: 1d}
  - id: hot
    branch:
      - {if: 'contact.country == "FR"', goto: d1}
      - {default: call}
  - {id: d1, send: {channel: email, template: a-d1}, next: end}
  - {id: call, send: {channel: task, title: Call them}}
  - {id: end, exit: {reason: done}}
`

func TestSimulateJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0")
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "a-d1", Channel: store.ChannelEmail, Subject: "Budget",
			HTML: `<p>{{ 1000 | divided_by: contact.potential_value }} per euro</p>`}); err != nil {
			t.Fatal(err)
		}
		value := 5000.0
		// Ada is in Los Angeles, where the start (09:00 UTC) is 01:00: quiet.
		newContact(t, s, contact.Input{Email: "ada@example.com", Source: "web", Offer: "audit", Country: "FR",
			TimeZone: "America/Los_Angeles", PotentialValue: &value})
		newContact(t, s, contact.Input{Email: "bob@example.com", Source: "web"}) // no offer: refused
		cy := newContact(t, s, contact.Input{Email: "cy@example.com", Source: "web", Offer: "audit", Country: "FR"})
		newContact(t, s, contact.Input{Email: "dee@example.com", Source: "web", Offer: "audit", Country: "DE"})
		// Cy got a newsletter an hour ago: the day's cap holds D0 back.
		if _, err := s.QueueMessage(ctx, store.MessageInput{ContactID: cy, Template: "a-d0", Kind: store.KindMarketing}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		before, _ := s.ListMessages(ctx, store.MessagesParams{Limit: 100})

		rep, err := s.SimulateJourney(ctx, store.SimulateParams{Document: []byte(simJourney), Days: 30})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Contacts != 4 || rep.Entered != 3 || rep.Refused["missing offer"] != 1 {
			t.Errorf("contacts %d entered %d refused %v; want 4, 3, missing offer 1", rep.Contacts, rep.Entered, rep.Refused)
		}
		steps := map[string]journey.StepCount{}
		for _, st := range rep.Steps {
			steps[st.ID] = st
		}
		if steps["d0"].Sent != 3 || steps["hot"].Ways["d1"] != 2 || steps["hot"].Ways["call"] != 1 || steps["call"].Sent != 1 {
			t.Errorf("steps %+v", rep.Steps)
		}
		if rep.Deferred[journey.DeferQuiet] != 1 || rep.Deferred[journey.DeferDayCap] != 1 {
			t.Errorf("deferred %v; want one for quiet hours (ada), one for the day's cap (cy)", rep.Deferred)
		}
		if rep.Outcomes["exited:done"] != 3 || len(rep.Outcomes) != 1 {
			t.Errorf("outcomes %v; want all 3 exited on done", rep.Outcomes)
		}
		total := 0
		for _, d := range rep.Messages {
			total += d.Total
		}
		if total != 6 || len(rep.Messages) < 2 || rep.Messages[0].Day != 0 {
			t.Errorf("messages %+v; want 6 over days 0 and 1 or 2", rep.Messages)
		}
		if len(rep.RenderFailures) != 1 || rep.RenderFailures[0].Template != "a-d1" || rep.RenderFailures[0].Contacts != 1 ||
			rep.RenderFailures[0].Example != cy {
			t.Errorf("render failures %+v; want a-d1 failing for cy (no potential value) only", rep.RenderFailures)
		}
		// Nothing was written.
		after, _ := s.ListMessages(ctx, store.MessagesParams{Limit: 100})
		if len(after) != len(before) {
			t.Errorf("%d messages after the simulation; want %d", len(after), len(before))
		}
		if js, _ := s.Journeys(ctx); len(js) != 0 {
			t.Errorf("journeys %+v; the simulation saved one", js)
		}

		// A sample of 2 looks at 2; bad parameters and documents change nothing.
		if rep, err := s.SimulateJourney(ctx, store.SimulateParams{Document: []byte(simJourney), Sample: 2}); err != nil || rep.Contacts != 2 {
			t.Errorf("sample 2: %d contacts, %v", rep.Contacts, err)
		}
		var de *journey.DocumentError
		if _, err := s.SimulateJourney(ctx, store.SimulateParams{Document: []byte("name: x\nsteps: []")}); !errors.As(err, &de) {
			t.Errorf("bad document: %v", err)
		}
		if _, err := s.SimulateJourney(ctx, store.SimulateParams{Document: []byte(simJourney), Days: 10000}); err == nil {
			t.Error("10,000 days accepted")
		}
	})
}
