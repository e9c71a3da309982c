package examples_test

import (
	"context"
	"testing"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// TestInstall installs the shipped journeys and templates (every one
// valid), again without change, and a new lead then gets the first-contact
// email and call task at once.
func TestInstall(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		got, err := examples.Install(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		journeys := 0
		for _, in := range got {
			if !in.Changed || in.Version != 1 {
				t.Errorf("%s: %+v; want a first version", in.File, in)
			}
			if len(in.File) > 9 && in.File[:9] == "journeys/" {
				journeys++
			}
		}
		if journeys != 4 {
			t.Errorf("%d journeys installed; want 4", journeys)
		}
		again, err := examples.Install(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range again {
			if in.Changed {
				t.Errorf("%s changed on the second install", in.File)
			}
		}
		in, err := contact.Normalize(contact.Input{Email: "ada@example.com", FirstName: "Ada"}, "FR")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: in})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := s.ListMessages(ctx, store.MessagesParams{ContactID: res.Contact.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		templates := map[string]bool{}
		for _, m := range ms {
			templates[m.Template] = true
		}
		if !templates["first-contact-email"] || !templates["first-contact-sms"] {
			t.Errorf("messages %+v; want the first-contact email and SMS queued (the SMS goes only with consent)", ms)
		}
		tasks, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: res.Contact.ID, Limit: 10})
		if err != nil || len(tasks) != 1 {
			t.Errorf("tasks %+v, %v; want the call task", tasks, err)
		}
	})
}
