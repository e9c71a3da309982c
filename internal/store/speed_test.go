package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

var paris, _ = time.LoadLocation("Europe/Paris")

var parisHours = map[string]string{"mon": "09:00-12:00, 14:00-18:00", "tue": "09:00-12:00, 14:00-18:00",
	"wed": "09:00-12:00, 14:00-18:00", "thu": "09:00-12:00, 14:00-18:00", "fri": "09:00-12:00, 14:00-18:00"}

// salesTeam sets up a Paris team of alice, bob and carol (round robin),
// led by lead and managed by boss, with the shipped first-contact and
// escalation templates, and routing rules sending every lead to it.
func salesTeam(t *testing.T, s *store.Store, strategy string) {
	t.Helper()
	for _, f := range []string{"first-contact-email", "first-contact-closed", "first-contact-sms", "sla-escalation"} {
		src, err := examples.File("templates/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		var in store.TemplateInput
		if err := yaml.Unmarshal(src, &in); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SaveTemplate(ctx, in); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	for _, n := range []string{"alice", "bob", "carol", "lead", "boss"} {
		if _, _, err := s.PutOwner(ctx, route.Owner{Name: n, Email: n + "@sales.example.com", TimeZone: "Europe/Paris"}); err != nil {
			t.Fatal(err)
		}
	}
	src, err := examples.File("holidays/fr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := route.ParseHolidays(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetHolidays(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutTeam(ctx, route.Team{Name: "paris", Strategy: strategy, TimeZone: "Europe/Paris", Hours: parisHours,
		Holidays: "FR", Lead: "lead", Manager: "boss", Members: []string{"alice", "bob", "carol"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyRouting(ctx, []byte("default_team: paris\nrules:\n  - {name: demos, team: paris, request_type: [demo]}\n"), "", "test"); err != nil {
		t.Fatal(err)
	}
}

func newLead(t *testing.T, s *store.Store, in contact.Input, consents ...contact.ConsentInput) contact.Contact {
	t.Helper()
	res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "form", Input: norm(t, in), Consents: consents})
	if err != nil {
		t.Fatal(err)
	}
	return res.Contact
}

func eventsOf(t *testing.T, s *store.Store, id int64, typ string) []map[string]any {
	t.Helper()
	evs, _, err := s.Timeline(ctx, id, nil, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			var p map[string]any
			json.Unmarshal(evs[i].Properties, &p)
			out = append(out, p)
		}
	}
	return out
}

func messagesOf(t *testing.T, s *store.Store, id int64) []store.Message {
	t.Helper()
	ms, err := s.ListMessages(ctx, store.MessagesParams{ContactID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ms)
	return ms
}

func fire(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.FireTimers(ctx, 1000); err != nil {
		t.Fatal(err)
	}
}

// TestSaturdayNightLead is the scenario: a lead on a Saturday at
// 22:00 for a Paris team gets the framing email at once, its SLA clock
// starts Monday 09:00, the owner is reminded at 80 %, the breach at 09:15
// reassigns it to the next owner and notifies the team lead, and the
// manager hears at twice the target.
func TestSaturdayNightLead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		clk.Set(time.Date(2026, 11, 28, 22, 0, 0, 0, paris))
		salesTeam(t, s, route.RoundRobin)
		c := newLead(t, s, contact.Input{Email: "ada@example.com", FirstName: "Ada", Phone: "+33612345678", RequestType: "demo"})
		if c.Owner != "alice" {
			t.Fatalf("owner %q; want alice (first in turn)", c.Owner)
		}
		got := eventsOf(t, s, c.ID, event.OwnerAssigned)
		if len(got) != 1 || got[0]["owner"] != "alice" || got[0]["rule"] != "demos" || got[0]["team"] != "paris" {
			t.Errorf("owner_assigned %v; want alice by rule demos", got)
		}
		ms := messagesOf(t, s, c.ID)
		if len(ms) != 1 || ms[0].Template != "first-contact-closed" || ms[0].Channel != store.ChannelEmail {
			t.Fatalf("messages %+v; want only the framing email (no SMS without consent)", ms)
		}
		if at := ms[0].Data["call_at"]; at != "Monday 30 November at 09:00 (Europe/Paris)" {
			t.Errorf("call_at %q", at)
		}
		if p := ms[0].Data["booking_path"]; p != "/book/alice" {
			t.Errorf("booking_path %q; want alice's booking page", p)
		}
		tasks, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: c.ID, Limit: 10})
		if err != nil || len(tasks) != 1 || tasks[0].Owner != "alice" || tasks[0].Kind != "call" ||
			!tasks[0].DueAt.Equal(time.Date(2026, 11, 30, 9, 15, 0, 0, paris)) {
			t.Errorf("tasks %+v, %v; want alice's call due Monday 09:15", tasks, err)
		}
		sla, err := s.LeadSLA(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sla.State.Status != route.Paused || !sla.OutsideHours || !sla.State.Start.Equal(time.Date(2026, 11, 30, 9, 0, 0, 0, paris)) ||
			!sla.State.Due.Equal(time.Date(2026, 11, 30, 9, 15, 0, 0, paris)) || sla.TargetSecs != 900 {
			t.Errorf("SLA %+v; want paused, from Monday 09:00 to 09:15", sla)
		}

		// Sunday: nothing is due.
		clk.Set(time.Date(2026, 11, 29, 12, 0, 0, 0, paris))
		fire(t, s)
		if got := eventsOf(t, s, c.ID, event.SLAEscalated); len(got) != 0 {
			t.Errorf("escalated on Sunday: %v", got)
		}
		clk.Set(time.Date(2026, 11, 30, 9, 5, 0, 0, paris))
		if sla, _ := s.LeadSLA(ctx, c.ID); sla.State.Status != route.Running || sla.State.Elapsed != 5*time.Minute {
			t.Errorf("Monday 09:05: %+v; want running, 5 minutes elapsed", sla.State)
		}
		if _, err := s.CreateWebhook(ctx, "https://hooks.example.com/sla", []string{event.SLAEscalated}, "chat"); err != nil {
			t.Fatal(err)
		}
		// 80 %: the owner is reminded.
		clk.Set(time.Date(2026, 11, 30, 9, 12, 0, 0, paris))
		fire(t, s)
		ds, err := s.ClaimDeliveries(ctx, 10, time.Minute)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %+v, %v; want the escalation", ds, err)
		}
		var body struct {
			Text  string
			Event struct{ Type string }
		}
		if err := json.Unmarshal(ds[0].Body, &body); err != nil || body.Event.Type != event.SLAEscalated ||
			!strings.HasPrefix(body.Text, "SLA 80% for lead Ada (team paris)") {
			t.Errorf("webhook body %s, %v; want a Slack-ready text", ds[0].Body, err)
		}
		got = eventsOf(t, s, c.ID, event.SLAEscalated)
		if len(got) != 1 || got[0]["at"] != "80%" || !slices.Equal(anyStrings(got[0]["notified"]), []string{"owner:alice"}) {
			t.Fatalf("at 09:12: %v; want the 80%% level notifying alice", got)
		}
		// Breach: reassigned to bob, the team lead notified.
		clk.Set(time.Date(2026, 11, 30, 9, 15, 0, 0, paris))
		fire(t, s)
		got = eventsOf(t, s, c.ID, event.SLAEscalated)
		if len(got) != 2 || got[1]["reassigned_to"] != "bob" || got[1]["breached"] != true ||
			!slices.Equal(anyStrings(got[1]["notified"]), []string{"team_lead:lead"}) {
			t.Fatalf("at 09:15: %v; want the breach reassigning to bob and notifying the lead", got)
		}
		if !strings.Contains(got[1]["text"].(string), "reassigned from alice to bob") {
			t.Errorf("text %q", got[1]["text"])
		}
		if c2, _ := s.GetContact(ctx, c.ID); c2.Owner != "bob" {
			t.Errorf("owner %q after the breach; want bob", c2.Owner)
		}
		assigned := eventsOf(t, s, c.ID, event.OwnerAssigned)
		if len(assigned) != 2 || assigned[1]["owner"] != "bob" || assigned[1]["reason"] != "sla_breach" || assigned[1]["from"] != "alice" {
			t.Errorf("owner_assigned %v", assigned)
		}
		sla, _ = s.LeadSLA(ctx, c.ID)
		if sla.State.Status != route.Breached || sla.BreachedAt == nil || sla.Owner != "bob" {
			t.Errorf("SLA after the breach %+v", sla)
		}
		// Twice the target: the manager.
		clk.Set(time.Date(2026, 11, 30, 9, 30, 0, 0, paris))
		fire(t, s)
		got = eventsOf(t, s, c.ID, event.SLAEscalated)
		if len(got) != 3 || !slices.Equal(anyStrings(got[2]["notified"]), []string{"manager:boss"}) {
			t.Fatalf("at 09:30: %v; want the manager notified", got)
		}
		var internal []string
		for _, m := range messagesOf(t, s, c.ID) {
			if m.Kind == store.KindInternal {
				internal = append(internal, m.Recipient+" "+m.Data["sla_at"])
			}
		}
		want := []string{"alice@sales.example.com 80%", "lead@sales.example.com 100%", "boss@sales.example.com 200%"}
		if !slices.Equal(internal, want) {
			t.Errorf("internal emails %v; want %v", internal, want)
		}
		// Nothing more is armed.
		if next, err := s.NextTimer(ctx); err != nil || !next.IsZero() {
			t.Errorf("next timer %v, %v; want none", next, err)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestFirstContactInHours: in business hours the lead gets the first-touch
// email and, with SMS consent only, the SMS; a logged call stops the clock
// (met) and no escalation follows.
func TestFirstContactInHours(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		clk.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, paris)) // a Tuesday
		salesTeam(t, s, route.RoundRobin)
		a := newLead(t, s, contact.Input{Email: "a@example.com", Phone: "+33612345601"})
		b := newLead(t, s, contact.Input{Email: "b@example.com", Phone: "+33612345602"},
			contact.ConsentInput{Channel: "sms", Purpose: "marketing", Status: "granted"})
		templates := func(id int64) (out []string) {
			for _, m := range messagesOf(t, s, id) {
				out = append(out, m.Template)
			}
			return out
		}
		if got := templates(a.ID); !slices.Equal(got, []string{"first-contact-email"}) {
			t.Errorf("without SMS consent: %v; want the email only", got)
		}
		if got := templates(b.ID); !slices.Equal(got, []string{"first-contact-email", "first-contact-sms"}) {
			t.Errorf("with SMS consent: %v; want the email and the SMS", got)
		}
		if a.Owner != "alice" || b.Owner != "bob" {
			t.Errorf("owners %q %q; want alice then bob", a.Owner, b.Owner)
		}
		sla, err := s.LeadSLA(ctx, a.ID)
		if err != nil || sla.State.Status != route.Running || sla.OutsideHours || sla.FirstTouchAt == nil {
			t.Errorf("SLA %+v, %v; want running, in hours, touched", sla, err)
		}
		clk.Advance(7 * time.Minute)
		if _, err := s.LogActivity(ctx, a.ID, pipeline.Activity{Type: "call", By: "alice"}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		fire(t, s)
		sla, _ = s.LeadSLA(ctx, a.ID)
		if sla.State.Status != route.Met || sla.StoppedBy != event.HumanTakeover || sla.State.Elapsed != 7*time.Minute {
			t.Errorf("after the call: %+v", sla)
		}
		if got := eventsOf(t, s, a.ID, event.SLAEscalated); len(got) != 0 {
			t.Errorf("escalations after the call: %v", got)
		}
		// b was never called: breached, reassigned (to carol, next in turn).
		if got := eventsOf(t, s, b.ID, event.SLAEscalated); len(got) != 3 {
			t.Errorf("b's escalations %v; want three levels", got)
		}
		// An import is not answered.
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "import", Input: norm(t, contact.Input{Email: "old@example.com"})})
		if err != nil {
			t.Fatal(err)
		}
		if ms := messagesOf(t, s, res.Contact.ID); len(ms) != 0 || res.Contact.Owner != "" {
			t.Errorf("an import got %+v, owner %q", ms, res.Contact.Owner)
		}
		if _, err := s.LeadSLA(ctx, res.Contact.ID); !errors.Is(err, store.ErrNoSLA) {
			t.Errorf("import's SLA: %v", err)
		}
	})
}

// TestRoundRobinSkipsAbsent: with carol absent, alice and bob alternate,
// one lead at a time and with 50 created at once.
func TestRoundRobinSkipsAbsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		clk.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, paris))
		salesTeam(t, s, route.RoundRobin)
		if _, err := s.AddAbsence(ctx, store.Absence{Owner: "carol", From: clk.Now().Add(-time.Hour), To: clk.Now().Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		owners, err := s.Owners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range owners {
			if o.Available == (o.Name == "carol") {
				t.Errorf("%s available %v", o.Name, o.Available)
			}
		}
		var seq []string
		for i := range 6 {
			seq = append(seq, newLead(t, s, contact.Input{Email: fmt.Sprintf("one%d@example.com", i)}).Owner)
		}
		if want := []string{"alice", "bob", "alice", "bob", "alice", "bob"}; !slices.Equal(seq, want) {
			t.Errorf("one at a time: %v; want %v", seq, want)
		}
		var wg sync.WaitGroup
		ids := make([]int64, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api",
					Input: norm(t, contact.Input{Email: fmt.Sprintf("many%d@example.com", i)})})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = res.Contact.ID
			}()
		}
		wg.Wait()
		// In the order the turns were taken, owners alternate.
		type assignment struct {
			turn  int64
			owner string
		}
		var all []assignment
		for _, id := range ids {
			evs, _, err := s.Timeline(ctx, id, nil, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Type == event.OwnerAssigned {
					var p map[string]any
					json.Unmarshal(e.Properties, &p)
					all = append(all, assignment{int64(p["turn"].(float64)), p["owner"].(string)})
				}
			}
		}
		slices.SortFunc(all, func(a, b assignment) int { return int(a.turn - b.turn) })
		if len(all) != 50 {
			t.Fatalf("%d assignments; want 50", len(all))
		}
		count := map[string]int{}
		for i, a := range all {
			count[a.owner]++
			if want := []string{"alice", "bob"}[i%2]; a.owner != want {
				t.Errorf("assignment %d went to %s; want %s (they alternate)", i, a.owner, want)
			}
		}
		if count["alice"] != 25 || count["bob"] != 25 {
			t.Errorf("counts %v; want 25 each", count)
		}
	})
}

// TestRoutingConfigRefused: bad owners, teams, absences and routing rules
// are refused with the field named, and change nothing.
func TestRoutingConfigRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		salesTeam(t, s, route.RoundRobin)
		field := func(err error) string {
			var re *route.Error
			if errors.As(err, &re) {
				return re.Field
			}
			return fmt.Sprint(err)
		}
		for _, c := range []struct {
			in    route.Owner
			field string
		}{
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "Mars/Olympus"}, "time_zone"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "Local"}, "time_zone"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "UTC", Hours: map[string]string{"mon": "18:00-09:00"}}, "hours.mon"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "UTC", Hours: map[string]string{"mon": "09:00-25:00"}}, "hours.mon"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "UTC", Hours: map[string]string{"someday": "09:00-10:00"}}, "hours.someday"},
			{route.Owner{Name: "X Y", Email: "x@example.com", TimeZone: "UTC"}, "name"},
			{route.Owner{Name: "x", Email: "not an email", TimeZone: "UTC"}, "email"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "UTC", MaxOpen: -1}, "max_open"},
			{route.Owner{Name: "x", Email: "x@example.com", TimeZone: "UTC", DisplayName: "a\u202eb"}, "display_name"},
		} {
			if _, _, err := s.PutOwner(ctx, c.in); field(err) != c.field {
				t.Errorf("%+v: %v; want an error on %s", c.in, err, c.field)
			}
		}
		for _, c := range []struct {
			in    route.Team
			field string
		}{
			{route.Team{Name: "t", TimeZone: "Europe/Paris", Hours: map[string]string{}}, "hours"},
			{route.Team{Name: "t", TimeZone: "Europe/Pariss", Hours: parisHours}, "time_zone"},
			{route.Team{Name: "t", TimeZone: "UTC", Hours: parisHours, Strategy: "random"}, "strategy"},
			{route.Team{Name: "t", TimeZone: "UTC", Hours: parisHours, Members: []string{"nobody"}}, "members[0]"},
			{route.Team{Name: "t", TimeZone: "UTC", Hours: parisHours, Members: []string{"alice", "alice"}}, "members[1]"},
			{route.Team{Name: "t", TimeZone: "UTC", Hours: parisHours, Holidays: "US"}, "holidays"},
			{route.Team{Name: "t", TimeZone: "UTC", Hours: parisHours, Lead: "ghost"}, "lead"},
		} {
			if _, _, err := s.PutTeam(ctx, c.in); field(err) != c.field {
				t.Errorf("%+v: %v; want an error on %s", c.in, err, c.field)
			}
		}
		if _, err := s.AddAbsence(ctx, store.Absence{Owner: "alice", From: clk.Now(), To: clk.Now().Add(-time.Hour)}); field(err) != "to" {
			t.Errorf("absence ending before it starts: %v", err)
		}
		if _, err := s.AddAbsence(ctx, store.Absence{Owner: "ghost", From: clk.Now(), To: clk.Now().Add(time.Hour)}); !errors.Is(err, store.ErrOwnerNotFound) {
			t.Errorf("absence of nobody: %v", err)
		}
		var de *route.DocumentError
		for _, doc := range []string{
			"default_team: nowhere\n",
			"default_team: paris\nrules:\n  - {name: a, team: paris, request_type: [demo]}\n  - {name: b, team: paris, request_type: [demo]}\n",
			"default_team: paris\nrules:\n  - {name: a, team: paris, value: {min: 0, max: 100}}\n  - {name: b, team: paris, value: {min: 50}}\n",
			"default_team: paris\nsla: {target: 30s}\n",
		} {
			if _, err := s.ApplyRouting(ctx, []byte(doc), "", ""); !errors.As(err, &de) {
				t.Errorf("%q: %v; want a document error", doc, err)
			}
		}
		if err := s.DeleteTeam(ctx, "paris"); err == nil {
			t.Error("deleted the team the rules name")
		}
		hist, err := s.RoutingHistory(ctx)
		if err != nil || len(hist) != 1 {
			t.Errorf("history %d versions, %v; want the one applied", len(hist), err)
		}
		teams, _ := s.Teams(ctx)
		owners, _ := s.Owners(ctx)
		if len(teams) != 1 || len(owners) != 5 {
			t.Errorf("%d teams, %d owners after refusals; want 1 and 5", len(teams), len(owners))
		}
	})
}

// TestSpeedReport: time to first touch and to first human contact, SLA
// attainment, escalations and meetings, by owner.
func TestSpeedReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		start := time.Date(2026, 12, 1, 10, 0, 0, 0, paris) // a Tuesday
		clk.Set(start)
		salesTeam(t, s, route.RoundRobin)
		a := newLead(t, s, contact.Input{Email: "a@example.com", Source: "ads"}) // alice: called at 7 min
		newLead(t, s, contact.Input{Email: "b@example.com", Source: "ads"})      // bob: nobody calls
		c := newLead(t, s, contact.Input{Email: "c@example.com", Source: "seo"}) // carol: books at 3 min
		clk.Advance(2 * time.Second)
		claimed, err := s.ClaimMessages(ctx, store.ClaimParams{Channels: []string{store.ChannelEmail}, Limit: 10, Lease: time.Minute})
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claimed %d, %v", len(claimed), err)
		}
		for _, m := range claimed {
			if m.ContactID == a.ID {
				if err := s.CompleteMessages(ctx, []store.Outcome{{ID: m.ID, Attempt: m.Attempts, Status: store.MessageSent, Event: "email_sent"}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		clk.Set(start.Add(3 * time.Minute))
		if r := s.AppendEvents(ctx, []store.EventInput{{ContactID: c.ID, Type: event.MeetingBooked, Source: "api", OccurredAt: clk.Now()}}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		clk.Set(start.Add(7 * time.Minute))
		if _, err := s.LogActivity(ctx, a.ID, pipeline.Activity{Type: "call", By: "alice"}); err != nil {
			t.Fatal(err)
		}
		clk.Set(start.Add(time.Hour))
		fire(t, s) // b breaches
		r, err := s.SpeedToLead(ctx, store.SpeedReportParams{From: start.Add(-time.Hour), To: start.Add(time.Hour), By: "owner"})
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]store.SpeedGroup{}
		for _, g := range r.Groups {
			byKey[g.Key] = g
		}
		// b breached and went to alice, next in turn after carol.
		al, ca := byKey["alice"], byKey["carol"]
		if al.Leads != 2 || al.Met != 1 || al.Breached != 1 || *al.Attainment != 50 || *al.FirstHuman.P50 != 420 ||
			al.FirstTouch.N != 1 || *al.FirstTouch.P50 != 2 || !slices.Equal(al.Levels, []int{1, 1, 1}) {
			t.Errorf("alice %+v", al)
		}
		if ca.Leads != 1 || ca.Met != 1 || *ca.Attainment != 100 || ca.Booked != 1 || len(ca.Levels) != 0 ||
			ca.FirstHuman.N != 1 || *ca.FirstHuman.P50 != 180 {
			t.Errorf("carol %+v", ca)
		}
		all, err := s.SpeedToLead(ctx, store.SpeedReportParams{From: start.Add(-time.Hour), To: start.Add(time.Hour), By: "source"})
		if err != nil || len(all.Groups) != 2 || all.Groups[0].Key != "ads" || all.Groups[0].Leads != 2 {
			t.Errorf("by source %+v, %v", all, err)
		}
	})
}
