package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// TestJourneyStepSeesItsOwnEvent: a step's event (here a webhook step's
// journey_webhook) moves the contact's enrolments in the same batch of due
// steps, its own included, so the batched writes of PostgreSQL must be in
// the database before the enrolments are read again.
func TestJourneyStepSeesItsOwnEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "echo-after", "echo-late")
		if _, _, err := s.SaveJourney(ctx, []byte(`name: echo
trigger: {manual: true}
entry: {require: [email]}
quiet_hours: {off: true}
steps:
  - {id: w, wait: 1h}
  - {id: hook, send: {channel: webhook, topic: echo}}
  - {id: wf, wait_for: {event: journey_webhook, timeout: 1d, then: after, else: late}}
  - {id: after, send: {channel: email, template: echo-after, kind: transactional}, next: end}
  - {id: late, send: {channel: email, template: echo-late, kind: transactional}}
  - {id: end, exit: {reason: done}}
`)); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := range 3 {
			id := newContact(t, s, contact.Input{Email: fmt.Sprintf("echo%d@example.com", i)})
			if _, err := s.Enrol(ctx, "echo", id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		clk.Set(clk.Now().Add(time.Hour))
		if n, err := s.RunDueSteps(ctx, 100); err != nil || n != 3 {
			t.Fatalf("RunDueSteps = %d, %v; want the 3 in one batch", n, err)
		}
		for _, id := range ids {
			if got := strings.Join(journeyMessages(t, s, id), ","); got != "echo-after" {
				t.Errorf("contact %d got %q; want echo-after (its webhook event seen at once)", id, got)
			}
			ens, err := s.ContactEnrolments(ctx, id)
			if err != nil || len(ens) != 1 || ens[0].Status != "exited" && ens[0].Status != "completed" {
				t.Errorf("contact %d enrolments %+v, %v; want out of the journey", id, ens, err)
			}
		}
	})
}

// TestNewContactEntersOnce: two events of a contact the batch creates both
// trigger the journey; the second finds the enrolment the first made (the
// reads skipped for new contacts are not skipped once it is enrolled).
func TestNewContactEntersOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "once-d0")
		if _, _, err := s.SaveJourney(ctx, []byte(`name: once
trigger: {event: form_submitted}
entry: {require: [email]}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: once-d0}}
  - {id: w, wait: 3d}
`)); err != nil {
			t.Fatal(err)
		}
		in := store.EventInput{Email: "new@example.com", Type: "form_submitted", OccurredAt: clk.Now(), Source: "api"}
		for _, r := range s.AppendEvents(ctx, []store.EventInput{in, in}) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		res := s.AppendEvents(ctx, []store.EventInput{in})
		id := res[0].ContactID
		ens, err := s.ContactEnrolments(ctx, id)
		if err != nil || len(ens) != 1 {
			t.Fatalf("enrolments %+v, %v; want one", ens, err)
		}
		if got := strings.Join(journeyMessages(t, s, id), ","); got != "once-d0" {
			t.Errorf("messages %q; want once-d0 once", got)
		}
		_, stats, err := s.JourneyStats(ctx, "once")
		if err != nil {
			t.Fatal(err)
		}
		var entered, refused int64
		for _, st := range stats {
			switch {
			case st.Step == "" && st.Metric == "entered":
				entered += st.Count
			case st.Metric == "refused" && st.Detail == "already in the journey":
				refused += st.Count
			}
		}
		if entered != 1 || refused != 2 {
			t.Errorf("entered %d, refused %d; want 1 and 2 (stats %+v)", entered, refused, stats)
		}
	})
}
