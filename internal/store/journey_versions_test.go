package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// journeyA2 drops w1 (w2 replaces it) and the call, and moves d1 after
// w3: contacts past d1 would meet it again.
const journeyA2 = `
name: warm-lead
objective: {event: meeting_booked}
trigger: {event: form_submitted, where: 'event.form == "contact"'}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: a-d0}}
  - {id: w2, wait: 1d}
  - {id: w3, wait: 2d}
  - {id: d1, send: {channel: email, template: a-d1}}
  - {id: d3, send: {channel: email, template: a-d3}}
`

func TestJourneyImpactPreviewAndMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "a-d0", "a-d1", "a-d3")
		if _, _, err := s.SaveJourney(ctx, []byte(journeyA)); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range []string{"ada@example.com", "bob@example.com"} {
			id := newContact(t, s, contact.Input{Email: e, Source: "web", Offer: "audit"})
			send(t, s, clk, id, "form_submitted", `{"form":"contact"}`)
			ids = append(ids, id)
		}
		runDue(t, s, clk, clk.Now().Add(25*time.Hour)) // Ada and Bob: D1 sent, waiting at w3
		cy := newContact(t, s, contact.Input{Email: "cy@example.com", Source: "web", Offer: "audit"})
		send(t, s, clk, cy, "form_submitted", `{"form":"contact"}`) // Cy: waiting at w1

		imp, err := s.PreviewJourney(ctx, []byte(journeyA2))
		if err != nil {
			t.Fatal(err)
		}
		steps := ""
		for _, g := range imp.Steps {
			steps += g.Step + ":" + g.Status + ":" + g.Goes + "=" + string(rune('0'+g.Contacts)) + " "
		}
		if !imp.Exists || !imp.Changed || imp.Live != 1 || imp.InFlight != 3 || imp.SendAgain != 2 ||
			strings.Join(imp.Removed, ",") != "w1,call" || strings.Join(imp.Added, ",") != "w2" ||
			steps != "w1:waiting:exit: step_removed=1 w3:waiting:w3=2 " {
			t.Errorf("impact %+v (steps %q)", imp, steps)
		}
		if imp, _ := s.PreviewJourney(ctx, []byte(journeyA)); imp.Changed {
			t.Errorf("the live document previewed as a change: %+v", imp)
		}
		// The preview saved nothing.
		if j, _ := s.GetJourney(ctx, "warm-lead"); j.Version != 1 {
			t.Errorf("version %d after a preview", j.Version)
		}

		p, err := s.PublishJourney(ctx, []byte(journeyA2), true)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Changed || p.Journey.Version != 2 || p.Migrated != 2 || p.Left != 1 {
			t.Errorf("published %+v; want version 2, 2 migrated, 1 left", p)
		}
		ens, _ := s.ContactEnrolments(ctx, cy)
		if len(ens) != 1 || ens[0].Status != "exited" || ens[0].Reason != "step_removed" {
			t.Errorf("cy %+v; want exited, step_removed", ens)
		}
		runDue(t, s, clk, clk.Now().Add(10*24*time.Hour))
		for _, id := range ids {
			ens, _ := s.ContactEnrolments(ctx, id)
			if len(ens) != 1 || ens[0].Version != 2 || ens[0].Status != "completed" {
				t.Errorf("contact %d %+v; want completed on version 2", id, ens)
			}
			// As the preview said: D1 again (its second visit), then D3.
			if got := strings.Join(journeyMessages(t, s, id), ","); got != "a-d0,a-d1,a-d1,a-d3" {
				t.Errorf("contact %d got %s", id, got)
			}
		}
		if got := strings.Join(journeyMessages(t, s, cy), ","); got != "a-d0" {
			t.Errorf("cy got %s; want D0 only", got)
		}
		// Without migrate, those in flight stay on their version.
		dee := newContact(t, s, contact.Input{Email: "dee@example.com", Source: "web", Offer: "audit"})
		send(t, s, clk, dee, "form_submitted", `{"form":"contact"}`)
		p, err = s.PublishJourney(ctx, []byte(journeyA), false)
		if err != nil || p.Journey.Version != 3 || p.Migrated != 0 {
			t.Fatalf("publish v3: %+v, %v", p, err)
		}
		if ens, _ := s.ContactEnrolments(ctx, dee); len(ens) != 1 || ens[0].Version != 2 {
			t.Errorf("dee %+v; want still on version 2", ens)
		}
	})
}
