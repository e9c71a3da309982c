package examples_test

import (
	"context"
	"testing"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"go.yaml.in/yaml/v3"
)

// TestInstall installs the shipped journeys and templates (every one
// valid), again without change, and a new lead, once routing is set up,
// gets the first-contact email, the SMS (it consented) and a call task.
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
		if journeys != 3 {
			t.Errorf("%d journeys installed; want 3", journeys)
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
		// The first contact comes with routing: an owner, a team, rules.
		h, err := route.ParseHolidays(mustFile(t, "holidays/fr.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetHolidays(ctx, h); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutOwner(ctx, route.Owner{Name: "sam", Email: "sam@example.com", TimeZone: "Europe/Paris"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutTeam(ctx, route.Team{Name: "paris", TimeZone: "Europe/Paris", Holidays: "FR", Members: []string{"sam"},
			Hours: map[string]string{"mon": "00:00-24:00", "tue": "00:00-24:00", "wed": "00:00-24:00", "thu": "00:00-24:00",
				"fri": "00:00-24:00", "sat": "00:00-24:00", "sun": "00:00-24:00"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyRouting(ctx, []byte("default_team: paris\n"), "", "test"); err != nil {
			t.Fatal(err)
		}
		in, err := contact.Normalize(contact.Input{Email: "ada@example.com", FirstName: "Ada", Phone: "+33612345678"}, "FR")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: in,
			Consents: []contact.ConsentInput{{Channel: "sms", Purpose: "marketing", Status: "granted"}}})
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
			t.Errorf("messages %+v; want the first-contact email and SMS queued", ms)
		}
		tasks, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: res.Contact.ID, Limit: 10})
		if err != nil || len(tasks) != 1 || tasks[0].Owner != "sam" {
			t.Errorf("tasks %+v, %v; want sam's call task", tasks, err)
		}
	})
}

func mustFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := examples.File(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSpeedToLeadExamples: the shipped owners, teams and routing rules
// are valid together.
func TestSpeedToLeadExamples(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		if _, err := examples.Install(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"holidays/fr.yaml", "holidays/us.yaml", "holidays/gb.yaml"} {
			h, err := route.ParseHolidays(mustFile(t, f))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := s.SetHolidays(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		var owners struct{ Owners []route.Owner }
		var teams struct{ Teams []route.Team }
		if err := yaml.Unmarshal(mustFile(t, "speed-to-lead/owners.yaml"), &owners); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(mustFile(t, "speed-to-lead/teams.yaml"), &teams); err != nil {
			t.Fatal(err)
		}
		for _, o := range owners.Owners {
			if _, _, err := s.PutOwner(ctx, o); err != nil {
				t.Fatalf("owner %s: %v", o.Name, err)
			}
		}
		for _, tm := range teams.Teams {
			if _, _, err := s.PutTeam(ctx, tm); err != nil {
				t.Fatalf("team %s: %v", tm.Name, err)
			}
		}
		if _, err := s.ApplyRouting(ctx, mustFile(t, "speed-to-lead/routing.yaml"), "", "test"); err != nil {
			t.Fatal(err)
		}
		in, err := contact.Normalize(contact.Input{Email: "big@example.com", PotentialValue: ptr(80000.0)}, "FR")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "form", Input: in})
		if err != nil {
			t.Fatal(err)
		}
		sla, err := s.LeadSLA(ctx, res.Contact.ID)
		if err != nil || sla.Team != "enterprise" || sla.TargetSecs != 600 {
			t.Errorf("a big deal: %+v, %v; want the enterprise team with a 10-minute SLA", sla, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
