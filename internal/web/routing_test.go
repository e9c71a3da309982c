package web_test

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
)

// routingRules sends big deals and everything else to paris; the SLA is
// 15 business minutes.
const routingRules = `zones:
  europe: [FR, BE]
rules:
  - name: big-deals
    team: paris
    value: {min: 50000}
default_team: paris
sla:
  target: 15m
`

// parisHours are the team's business hours: Monday to Friday, with lunch.
var parisHours = map[string]any{"mon": "09:00-12:00, 14:00-18:00", "tue": "09:00-12:00, 14:00-18:00",
	"wed": "09:00-12:00, 14:00-18:00", "thu": "09:00-12:00, 14:00-18:00", "fri": "09:00-12:00, 14:00-18:00"}

// frHolidays is the shipped holidays file of France.
func frHolidays(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/holidays/fr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

func parisZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// sendYAML sends a YAML body.
func (a *api) sendYAML(t *testing.T, method, path, body string) response {
	t.Helper()
	return a.do(t, method, path, body, "Content-Type", "application/yaml")
}

// withField is a copy of m with k set to v.
func withField(m map[string]any, k string, v any) map[string]any {
	out := maps.Clone(m)
	out[k] = v
	return out
}

func ownerJSON(email string) map[string]any {
	return map[string]any{"email": email, "time_zone": "Europe/Paris"}
}

func parisTeamJSON() map[string]any {
	return map[string]any{"time_zone": "Europe/Paris", "hours": parisHours, "holidays": "FR",
		"members": []string{"alice", "bob"}, "lead": "carol", "manager": "carol"}
}

// setUpRouting puts owners alice, bob (members of paris, in that order)
// and carol (its lead and manager), France's holidays, the team paris and
// the routing rules.
func (a *api) setUpRouting(t *testing.T) {
	t.Helper()
	for _, name := range []string{"alice", "bob", "carol"} {
		wantStatus(t, a.do(t, "PUT", "/api/v1/owners/"+name, ownerJSON(name+"@example.com")), http.StatusCreated)
	}
	wantStatus(t, a.sendYAML(t, "PUT", "/api/v1/holidays/FR", frHolidays(t)), http.StatusOK)
	wantStatus(t, a.do(t, "PUT", "/api/v1/teams/paris", parisTeamJSON()), http.StatusCreated)
	wantStatus(t, a.sendYAML(t, "PUT", "/api/v1/routing/rules", routingRules), http.StatusCreated)
}

// routingState is everything routing's API lists, to check that a refused
// request changed none of it.
func (a *api) routingState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"/api/v1/owners", "/api/v1/teams", "/api/v1/routing/rules/versions", "/api/v1/holidays/FR"} {
		r := a.do(t, "GET", path, nil)
		wantStatus(t, r, http.StatusOK)
		fmt.Fprintf(&b, "%s\n%s\n", path, r.Raw)
	}
	return b.String()
}

// leadSLA reads a lead's SLA clock.
func (a *api) leadSLA(t *testing.T, id int64) store.SLA {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/sla", id), nil)
	wantStatus(t, r, http.StatusOK)
	return decode[store.SLA](t, r)
}

// newRoutedLead creates a contact through POST /api/v1/contacts and checks that
// routing gave it owner, in the answer and when read back.
func (a *api) newRoutedLead(t *testing.T, email, owner string) contact.Contact {
	t.Helper()
	r := a.do(t, "POST", "/api/v1/contacts", map[string]any{"email": email, "country": "FR"})
	wantStatus(t, r, http.StatusCreated)
	c := decode[contact.Contact](t, r)
	if c.Owner != owner {
		t.Errorf("POST /api/v1/contacts %s: owner %q; want %q", email, c.Owner, owner)
	}
	got := decode[contact.Contact](t, a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", c.ID), nil))
	if got.Owner != owner {
		t.Errorf("GET contact %s: owner %q; want %q", email, got.Owner, owner)
	}
	return c
}

func TestRoutingAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		loc := parisZone(t)
		// Monday 2 March 2026, 10:00 in Paris: the team is open.
		a.clk.Set(time.Date(2026, 3, 2, 10, 0, 0, 0, loc))

		// Owners: created, then replaced.
		r := a.do(t, "PUT", "/api/v1/owners/alice", withField(ownerJSON("alice@example.com"), "display_name", "Alice"))
		wantStatus(t, r, http.StatusCreated)
		first := decode[store.Owner](t, r)
		if first.Name != "alice" || first.DisplayName != "Alice" || first.Weight != 1 || !first.Available || first.Disabled {
			t.Errorf("PUT alice: %s", r.Raw)
		}
		r = a.do(t, "PUT", "/api/v1/owners/alice", withField(ownerJSON("alice@example.com"), "display_name", "Alice Martin"))
		wantStatus(t, r, http.StatusOK)
		if o := decode[store.Owner](t, r); o.DisplayName != "Alice Martin" || !o.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("PUT alice again: %s; want display_name Alice Martin, created_at %v kept", r.Raw, first.CreatedAt)
		}
		for _, name := range []string{"bob", "carol"} {
			wantStatus(t, a.do(t, "PUT", "/api/v1/owners/"+name, ownerJSON(name+"@example.com")), http.StatusCreated)
		}
		owners := decode[struct{ Owners []store.Owner }](t, a.do(t, "GET", "/api/v1/owners", nil)).Owners
		var names []string
		for _, o := range owners {
			names = append(names, o.Name)
			if !o.Available || o.Disabled {
				t.Errorf("owner %s: available %v, disabled %v; want available", o.Name, o.Available, o.Disabled)
			}
		}
		if got := strings.Join(names, ","); got != "alice,bob,carol" {
			t.Errorf("owners %s; want alice,bob,carol", got)
		}

		// An absence that has begun makes the owner unavailable; removing it
		// makes them available again.
		now := a.clk.Now()
		r = a.do(t, "POST", "/api/v1/owners/bob/absences", map[string]any{"from": now.Add(-time.Hour), "to": now.Add(24 * time.Hour),
			"reason": "sick leave"})
		wantStatus(t, r, http.StatusCreated)
		abs := decode[store.Absence](t, r)
		if abs.ID == 0 || abs.Owner != "bob" || abs.Reason != "sick leave" {
			t.Errorf("absence %s", r.Raw)
		}
		bob := decode[store.Owner](t, a.do(t, "GET", "/api/v1/owners/bob", nil))
		if bob.Available || len(bob.Absences) != 1 || bob.Absences[0].ID != abs.ID {
			t.Errorf("bob during an absence: available %v, absences %+v; want unavailable with absence %d", bob.Available, bob.Absences, abs.ID)
		}
		wantStatus(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/owners/bob/absences/%d", abs.ID), nil), http.StatusNoContent)
		bob = decode[store.Owner](t, a.do(t, "GET", "/api/v1/owners/bob", nil))
		if !bob.Available || len(bob.Absences) != 0 {
			t.Errorf("bob after the absence is removed: available %v, absences %+v; want available, none", bob.Available, bob.Absences)
		}
		wantProblem(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/owners/bob/absences/%d", abs.ID), nil), http.StatusNotFound, "")

		// Holidays.
		r = a.sendYAML(t, "PUT", "/api/v1/holidays/FR", frHolidays(t))
		wantStatus(t, r, http.StatusOK)
		if h := decode[route.Holidays](t, r); h.Country != "FR" || len(h.Days) != 22 || h.Days[0].Date != "2026-01-01" {
			t.Errorf("PUT holidays: %s; want FR's 22 days", r.Raw)
		}
		if h := decode[route.Holidays](t, a.do(t, "GET", "/api/v1/holidays/FR", nil)); len(h.Days) != 22 {
			t.Errorf("GET holidays: %d days; want 22", len(h.Days))
		}

		// The team.
		r = a.do(t, "PUT", "/api/v1/teams/paris", parisTeamJSON())
		wantStatus(t, r, http.StatusCreated)
		tm := decode[store.Team](t, r)
		if tm.Strategy != route.RoundRobin || tm.TimeZone != "Europe/Paris" || tm.Holidays != "FR" || tm.Lead != "carol" ||
			tm.Manager != "carol" || strings.Join(tm.Members, ",") != "alice,bob" || tm.Hours["mon"] != "09:00-12:00, 14:00-18:00" {
			t.Errorf("PUT team: %s", r.Raw)
		}
		wantStatus(t, a.do(t, "PUT", "/api/v1/teams/paris", parisTeamJSON()), http.StatusOK)
		if teams := decode[struct{ Teams []store.Team }](t, a.do(t, "GET", "/api/v1/teams", nil)).Teams; len(teams) != 1 || teams[0].Name != "paris" {
			t.Errorf("teams %+v; want paris", teams)
		}

		// The routing rules, and their versions.
		r = a.sendYAML(t, "PUT", "/api/v1/routing/rules?comment=first", routingRules)
		wantStatus(t, r, http.StatusCreated)
		if v := decode[store.RoutingVersion](t, r); v.Version != 1 || v.Document != routingRules || v.Comment != "first" {
			t.Errorf("PUT rules: %s; want version 1", r.Raw)
		}
		if v := decode[store.RoutingVersion](t, a.do(t, "GET", "/api/v1/routing/rules", nil)); v.Version != 1 || v.Document != routingRules {
			t.Errorf("GET rules: version %d; want 1 with the document", v.Version)
		}
		second := strings.Replace(routingRules, "target: 15m", "target: 20m", 1)
		r = a.sendYAML(t, "POST", "/api/v1/routing/rules", second)
		wantStatus(t, r, http.StatusCreated)
		if v := decode[store.RoutingVersion](t, r); v.Version != 2 {
			t.Errorf("POST rules: version %d; want 2", v.Version)
		}
		vs := decode[struct{ Versions []store.RoutingVersion }](t, a.do(t, "GET", "/api/v1/routing/rules/versions", nil)).Versions
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[1].Comment != "first" || vs[0].Document != second {
			t.Errorf("versions %+v; want 2 then 1", vs)
		}
		wantStatus(t, a.sendYAML(t, "PUT", "/api/v1/routing/rules", routingRules), http.StatusCreated) // 15m again, version 3

		// Leads go to the members in turn; the clock runs while the team is open.
		c1 := a.newRoutedLead(t, "lead1@example.com", "alice")
		sla := a.leadSLA(t, c1.ID)
		if sla.ContactID != c1.ID || sla.Team != "paris" || sla.Owner != "alice" || sla.TargetSecs != 900 || sla.OutsideHours ||
			sla.State.Status != route.Running || !sla.State.Start.Equal(now) || !sla.State.Due.Equal(now.Add(15*time.Minute)) {
			t.Errorf("SLA of a lead at 10:00 on a Monday: %+v; want running from %v to %v", sla, now, now.Add(15*time.Minute))
		}
		a.newRoutedLead(t, "lead2@example.com", "bob")

		// At lunch the clock waits for 14:00.
		a.clk.Set(time.Date(2026, 3, 2, 13, 0, 0, 0, loc))
		c3 := a.newRoutedLead(t, "lead3@example.com", "alice")
		if sla := a.leadSLA(t, c3.ID); sla.State.Status != route.Paused || !sla.OutsideHours ||
			!sla.State.Start.Equal(time.Date(2026, 3, 2, 14, 0, 0, 0, loc)) {
			t.Errorf("SLA of a lead at 13:00: %+v; want paused until 14:00 Paris", sla)
		}
		// Easter Monday is a holiday in France: the clock starts on Tuesday.
		a.clk.Set(time.Date(2026, 4, 6, 10, 0, 0, 0, loc))
		c4 := a.newRoutedLead(t, "lead4@example.com", "bob")
		if sla := a.leadSLA(t, c4.ID); sla.State.Status != route.Paused || !sla.OutsideHours ||
			!sla.State.Start.Equal(time.Date(2026, 4, 7, 9, 0, 0, 0, loc)) {
			t.Errorf("SLA of a lead on Easter Monday: %+v; want paused until Tuesday 09:00 Paris", sla)
		}

		// An absent member's turn passes to the next.
		now = a.clk.Now()
		r = a.do(t, "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now.Add(time.Hour)})
		wantStatus(t, r, http.StatusCreated)
		a.newRoutedLead(t, "lead5@example.com", "bob")
		wantStatus(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/owners/alice/absences/%d", decode[store.Absence](t, r).ID), nil), http.StatusNoContent)

		// A team the rules name cannot be deleted; another can.
		p := wantProblem(t, a.do(t, "DELETE", "/api/v1/teams/paris", nil), http.StatusConflict, "")
		if !strings.Contains(p.Detail, `"paris"`) {
			t.Errorf("DELETE paris: detail %q; want it to name the team", p.Detail)
		}
		wantStatus(t, a.do(t, "GET", "/api/v1/teams/paris", nil), http.StatusOK)
		wantStatus(t, a.do(t, "PUT", "/api/v1/teams/spare", withField(parisTeamJSON(), "members", []string{"carol"})), http.StatusCreated)
		wantStatus(t, a.do(t, "DELETE", "/api/v1/teams/spare", nil), http.StatusNoContent)
		wantProblem(t, a.do(t, "GET", "/api/v1/teams/spare", nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "DELETE", "/api/v1/teams/spare", nil), http.StatusNotFound, "")

		// A deleted owner is disabled, not deleted, and gets no new lead.
		wantStatus(t, a.do(t, "DELETE", "/api/v1/owners/alice", nil), http.StatusNoContent)
		r = a.do(t, "GET", "/api/v1/owners/alice", nil)
		wantStatus(t, r, http.StatusOK)
		if o := decode[store.Owner](t, r); !o.Disabled || o.Available {
			t.Errorf("alice after DELETE: %s; want disabled and unavailable", r.Raw)
		}
		if n := len(decode[struct{ Owners []store.Owner }](t, a.do(t, "GET", "/api/v1/owners", nil)).Owners); n != 3 {
			t.Errorf("%d owners after disabling one; want 3 still", n)
		}
		a.newRoutedLead(t, "lead6@example.com", "bob")
		a.newRoutedLead(t, "lead7@example.com", "bob")
		// Her leads stay hers.
		if got := decode[contact.Contact](t, a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", c1.ID), nil)); got.Owner != "alice" {
			t.Errorf("alice's lead after she was disabled: owner %q; want alice", got.Owner)
		}
		// Putting her again enables her.
		r = a.do(t, "PUT", "/api/v1/owners/alice", ownerJSON("alice@example.com"))
		wantStatus(t, r, http.StatusOK)
		if o := decode[store.Owner](t, r); o.Disabled || !o.Available {
			t.Errorf("alice put again: %s; want enabled", r.Raw)
		}
		wantProblem(t, a.do(t, "DELETE", "/api/v1/owners/nobody", nil), http.StatusNotFound, "")
	})
}

func TestRoutingAPIRefusals(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		// A lead from before the routing rules has no clock.
		early := a.createContact(t, map[string]any{"email": "early@example.com"})
		a.setUpRouting(t)
		now := a.clk.Now()
		r := a.do(t, "POST", "/api/v1/owners/bob/absences", map[string]any{"from": now.Add(48 * time.Hour), "to": now.Add(72 * time.Hour)})
		wantStatus(t, r, http.StatusCreated)
		bobAbsence := decode[store.Absence](t, r).ID

		before, state := a.counts(t), a.routingState(t)
		owner := ownerJSON("alice@example.com")
		team := parisTeamJSON()
		hours := func(k, v string) map[string]any { return withField(parisTeamJSON(), "hours", map[string]any{k: v}) }
		ownerHours := func(k, v string) map[string]any { return withField(owner, "hours", map[string]any{k: v}) }
		const yamlType = "application/yaml"
		for _, tc := range []struct {
			name, method, path string
			body               any
			contentType        string // default application/json
			status             int
			location           string // "" when the problem is about the request as a whole
			want               string // in the detail or a message
		}{
			// Time zones.
			{"owner zone on Mars", "PUT", "/api/v1/owners/alice", withField(owner, "time_zone", "Mars/Olympus"), "", 422, "body.time_zone", "IANA"},
			{"owner zone Local", "PUT", "/api/v1/owners/alice", withField(owner, "time_zone", "Local"), "", 422, "body.time_zone", "IANA"},
			{"owner zone a path", "PUT", "/api/v1/owners/alice", withField(owner, "time_zone", "../etc"), "", 422, "body.time_zone", "IANA"},
			{"owner zone empty", "PUT", "/api/v1/owners/alice", withField(owner, "time_zone", ""), "", 422, "body.time_zone", ""},
			{"team zone on Mars", "PUT", "/api/v1/teams/paris", withField(team, "time_zone", "Mars/Olympus"), "", 422, "body.time_zone", "IANA"},
			{"team zone Local", "PUT", "/api/v1/teams/paris", withField(team, "time_zone", "Local"), "", 422, "body.time_zone", "IANA"},
			{"team zone a path", "PUT", "/api/v1/teams/paris", withField(team, "time_zone", "../etc"), "", 422, "body.time_zone", "IANA"},

			// Hours.
			{"overnight", "PUT", "/api/v1/teams/paris", hours("mon", "18:00-09:00"), "", 422, "body.hours.mon", "overnight"},
			{"hour 25", "PUT", "/api/v1/teams/paris", hours("mon", "25:00-26:00"), "", 422, "body.hours.mon", "hour over 24"},
			{"empty interval", "PUT", "/api/v1/teams/paris", hours("mon", "09:00-09:00"), "", 422, "body.hours.mon", "empty"},
			{"overlapping intervals", "PUT", "/api/v1/teams/paris", hours("mon", "09:00-12:00, 11:00-13:00"), "", 422, "body.hours.mon", "overlap"},
			{"funday", "PUT", "/api/v1/teams/paris", hours("funday", "09:00-17:00"), "", 422, "body.hours.funday", "unknown day"},
			{"nine to five", "PUT", "/api/v1/teams/paris", hours("tue", "nine to five"), "", 422, "body.hours.tue", "HH:MM"},
			{"never open", "PUT", "/api/v1/teams/paris", withField(team, "hours", map[string]any{}), "", 422, "body.hours", "at least one day"},
			{"owner overnight", "PUT", "/api/v1/owners/alice", ownerHours("fri", "18:00-09:00"), "", 422, "body.hours.fri", "overnight"},
			{"owner funday", "PUT", "/api/v1/owners/alice", ownerHours("funday", "09:00-17:00"), "", 422, "body.hours.funday", "unknown day"},
			{"owner nine to five", "PUT", "/api/v1/owners/alice", ownerHours("mon", "nine to five"), "", 422, "body.hours.mon", "HH:MM"},

			// Owners' other fields.
			{"owner unknown field", "PUT", "/api/v1/owners/alice", withField(owner, "nickname", "Al"), "", 422, "body.nickname", ""},
			{"owner max_open a word", "PUT", "/api/v1/owners/alice", withField(owner, "max_open", "ten"), "", 422, "body.max_open", ""},
			{"owner max_open negative", "PUT", "/api/v1/owners/alice", withField(owner, "max_open", -1), "", 422, "body.max_open", ""},
			{"owner weight too big", "PUT", "/api/v1/owners/alice", withField(owner, "weight", 101), "", 422, "body.weight", ""},
			{"owner territory a string", "PUT", "/api/v1/owners/alice", withField(owner, "territory", "FR"), "", 422, "body.territory", ""},
			{"owner territory garbage", "PUT", "/api/v1/owners/alice", withField(owner, "territory", []string{"FR", "<b>"}), "", 422, "body.territory[1]", ""},
			{"owner email", "PUT", "/api/v1/owners/alice", withField(owner, "email", "not an email"), "", 422, "body.email", ""},
			{"owner without email", "PUT", "/api/v1/owners/alice", map[string]any{"time_zone": "Europe/Paris"}, "", 422, "", "email"},
			{"owner body a list", "PUT", "/api/v1/owners/alice", "[]", "", 422, "", ""},
			{"owner body empty", "PUT", "/api/v1/owners/alice", "", "", 400, "", ""},
			{"owner body malformed", "PUT", "/api/v1/owners/alice", `{"email": `, "", 400, "", ""},

			// Hostile strings.
			{"display_name control", "PUT", "/api/v1/owners/alice", withField(owner, "display_name", "Ali\x07ce"), "", 422, "body.display_name", ""},
			{"display_name bidi", "PUT", "/api/v1/owners/alice", withField(owner, "display_name", "Alice \u202egnp.exe"), "", 422, "body.display_name", ""},
			{"display_name newline", "PUT", "/api/v1/owners/alice", withField(owner, "display_name", "Alice\nMartin"), "", 422, "body.display_name", ""},
			{"display_name too long", "PUT", "/api/v1/owners/alice", withField(owner, "display_name", strings.Repeat("é", 201)), "", 422, "body.display_name", ""},
			{"owner name upper case", "PUT", "/api/v1/owners/Alice", owner, "", 422, "path.name", ""},
			{"owner name with a space", "PUT", "/api/v1/owners/al%20ice", owner, "", 422, "path.name", ""},
			{"owner name with a slash", "PUT", "/api/v1/owners/al%2Fice", owner, "", 422, "path.name", ""},
			{"owner name of 65", "PUT", "/api/v1/owners/" + strings.Repeat("a", 65), owner, "", 422, "path.name", ""},
			{"owner name of 5000", "PUT", "/api/v1/owners/" + strings.Repeat("a", 5000), owner, "", 422, "path.name", ""},
			{"owner name SQL", "PUT", "/api/v1/owners/x'%3B%20DROP%20TABLE%20owners%3B--", owner, "", 422, "path.name", ""},
			{"owner name bidi", "PUT", "/api/v1/owners/ali%E2%80%AEce", owner, "", 422, "path.name", ""},
			{"get owner SQL", "GET", "/api/v1/owners/x'%20OR%20'1'%3D'1", nil, "", 404, "", "owner not found"},
			{"team name upper case", "PUT", "/api/v1/teams/Paris", team, "", 422, "path.name", ""},
			{"team name SQL", "PUT", "/api/v1/teams/x'%20OR%20'1'%3D'1", team, "", 422, "path.name", ""},
			{"team name of 65", "PUT", "/api/v1/teams/" + strings.Repeat("p", 65), team, "", 422, "path.name", ""},

			// Teams' other fields.
			{"member missing", "PUT", "/api/v1/teams/paris", withField(team, "members", []string{"alice", "ghost"}), "", 422, "body.members[1]", `no owner "ghost"`},
			{"member SQL", "PUT", "/api/v1/teams/paris", withField(team, "members", []string{"alice' --"}), "", 422, "body.members[0]", ""},
			{"member twice", "PUT", "/api/v1/teams/paris", withField(team, "members", []string{"alice", "bob", "alice"}), "", 422, "body.members[2]", "twice"},
			{"members a string", "PUT", "/api/v1/teams/paris", withField(team, "members", "alice"), "", 422, "body.members", ""},
			{"lead missing", "PUT", "/api/v1/teams/paris", withField(team, "lead", "ghost"), "", 422, "body.lead", `no owner "ghost"`},
			{"manager missing", "PUT", "/api/v1/teams/paris", withField(team, "manager", "ghost"), "", 422, "body.manager", `no owner "ghost"`},
			{"holidays not loaded", "PUT", "/api/v1/teams/paris", withField(team, "holidays", "US"), "", 422, "body.holidays", "load them first"},
			{"holidays lower case", "PUT", "/api/v1/teams/paris", withField(team, "holidays", "fr"), "", 422, "body.holidays", ""},
			{"strategy unknown", "PUT", "/api/v1/teams/paris", withField(team, "strategy", "random"), "", 422, "body.strategy", ""},
			{"team unknown field", "PUT", "/api/v1/teams/paris", withField(team, "colour", "blue"), "", 422, "body.colour", ""},
			{"team hours a string", "PUT", "/api/v1/teams/paris", withField(team, "hours", "9 to 5"), "", 422, "body.hours", ""},

			// Routing rules.
			{"overlapping bands", "PUT", "/api/v1/routing/rules", `rules:
  - name: small
    team: paris
    country: [FR]
    value: {min: 0, max: 1000}
  - name: medium
    team: paris
    country: [FR]
    value: {min: 500, max: 5000}
default_team: paris
`, yamlType, 422, "body.rules[1].value", "overlaps"},
			{"shadowed rule", "PUT", "/api/v1/routing/rules", `rules:
  - name: france
    team: paris
    country: [FR]
  - name: france-demos
    team: paris
    country: [FR]
    request_type: [demo]
default_team: paris
`, yamlType, 422, "body.rules[1]", "no lead can reach"},
			{"shadowed by a zone", "PUT", "/api/v1/routing/rules", `zones:
  europe: [FR, BE]
rules:
  - name: europe
    team: paris
    zone: [europe]
  - name: belgium
    team: paris
    country: [BE]
default_team: paris
`, yamlType, 422, "body.rules[1]", "no lead can reach"},
			{"unknown default team", "PUT", "/api/v1/routing/rules", "default_team: ghost\n", yamlType, 422, "body.default_team", `no team "ghost"`},
			{"unknown rule team", "PUT", "/api/v1/routing/rules", "rules:\n  - {name: a, team: ghost, country: [FR]}\ndefault_team: paris\n", yamlType, 422, "body.rules[0].team", `no team "ghost"`},
			{"unknown zone", "PUT", "/api/v1/routing/rules", "rules:\n  - {name: a, team: paris, zone: [asia]}\ndefault_team: paris\n", yamlType, 422, "body.rules[0].zone[0]", "asia"},
			{"unknown top key", "PUT", "/api/v1/routing/rules", "default_team: paris\ncolour: red\n", yamlType, 422, "body", "line 2"},
			{"unknown rule key", "PUT", "/api/v1/routing/rules", "rules:\n  - name: a\n    teem: paris\ndefault_team: paris\n", yamlType, 422, "body", "line 3"},
			{"syntax error", "PUT", "/api/v1/routing/rules", "default_team: paris\nrules:\n  - name: a\n    team: [paris\n", yamlType, 422, "body", "line "},
			{"tab indent", "PUT", "/api/v1/routing/rules", "default_team: paris\nrules:\n\t- name: a\n", yamlType, 422, "body", "line 3"},
			{"rules a number", "PUT", "/api/v1/routing/rules", "rules: 5\ndefault_team: paris\n", yamlType, 422, "body", "line 1"},
			{"where does not compile", "PUT", "/api/v1/routing/rules", "rules:\n  - {name: a, team: paris, where: 'scores.engagement >='}\ndefault_team: paris\n", yamlType, 422, "body.rules[0].where", "compile"},
			{"rule name bidi", "PUT", "/api/v1/routing/rules", "rules:\n  - {name: \"big\\u202edeals\", team: paris, country: [FR]}\ndefault_team: paris\n", yamlType, 422, "body.rules[0].name", ""},
			{"SLA target a word", "PUT", "/api/v1/routing/rules", "default_team: paris\nsla: {target: soon}\n", yamlType, 422, "body.sla.target", "line 2"},
			{"SLA target too short", "PUT", "/api/v1/routing/rules", "default_team: paris\nsla: {target: 10s}\n", yamlType, 422, "body.sla.target", "1m"},
			{"rules empty", "PUT", "/api/v1/routing/rules", "", yamlType, 400, "", "body is required"},
			{"rules blank", "POST", "/api/v1/routing/rules", " \n\n", yamlType, 422, "body", "empty"},
			{"rules JSON unknown field", "PUT", "/api/v1/routing/rules", `{"default_team": "paris", "extra": 1}`, "application/json", 422, "body", "extra"},
			{"rules oversized", "PUT", "/api/v1/routing/rules", routingRules + "# " + strings.Repeat("x", route.MaxDocumentBytes) + "\n", yamlType, 413, "", ""},
			{"rules comment control", "PUT", "/api/v1/routing/rules?comment=a%07b", routingRules, yamlType, 422, "query.comment", ""},

			// Holidays.
			{"holidays of another country", "PUT", "/api/v1/holidays/US", frHolidays(t), yamlType, 422, "body.country", "FR"},
			{"holidays bad date", "PUT", "/api/v1/holidays/FR", "country: FR\nholidays:\n  - {date: \"2026-02-30\", name: Nope}\n", yamlType, 422, "body.holidays[0].date", "2026-02-30"},
			{"holidays date twice", "PUT", "/api/v1/holidays/FR", "country: FR\nholidays:\n  - {date: \"2026-12-25\", name: A}\n  - {date: \"2026-12-25\", name: B}\n", yamlType, 422, "body.holidays[1].date", "twice"},
			{"holidays unknown key", "PUT", "/api/v1/holidays/FR", "country: FR\nregion: alsace\nholidays: []\n", yamlType, 422, "body", "region"},
			{"holidays syntax error", "PUT", "/api/v1/holidays/FR", "country: FR\nholidays: [\n", yamlType, 422, "body", "line"},
			{"holidays empty", "PUT", "/api/v1/holidays/FR", "", yamlType, 400, "", "body is required"},
			{"holidays blank", "PUT", "/api/v1/holidays/FR", "\n \n", yamlType, 422, "body", "empty"},
			{"holiday name control", "PUT", "/api/v1/holidays/FR", "country: FR\nholidays:\n  - {date: \"2026-12-25\", name: \"No\\u0007el\"}\n", yamlType, 422, "body.holidays[0].name", ""},
			{"holiday name bidi", "PUT", "/api/v1/holidays/FR", "country: FR\nholidays:\n  - {date: \"2026-12-25\", name: \"No\\u202eel\"}\n", yamlType, 422, "body.holidays[0].name", ""},
			{"holidays path lower case", "PUT", "/api/v1/holidays/fr", frHolidays(t), yamlType, 422, "path.country", ""},
			{"holidays path traversal", "PUT", "/api/v1/holidays/..%2FFR", frHolidays(t), yamlType, 422, "path.country", ""},
			{"holidays not loaded", "GET", "/api/v1/holidays/US", nil, "", 404, "", "no holidays"},

			// Absences.
			{"absence backwards", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now.Add(time.Hour), "to": now}, "", 422, "body.to", "after from"},
			{"absence empty", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now}, "", 422, "body.to", "after from"},
			{"absence too long", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now.Add(400 * 24 * time.Hour)}, "", 422, "body.to", "366 days"},
			{"absence from a word", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": "next monday", "to": now}, "", 422, "body.from", ""},
			{"absence unknown field", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now.Add(time.Hour), "note": "x"}, "", 422, "body.note", ""},
			{"absence reason control", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now.Add(time.Hour), "reason": "ill\x1b[31m"}, "", 422, "body.reason", ""},
			{"absence reason bidi", "POST", "/api/v1/owners/alice/absences", map[string]any{"from": now, "to": now.Add(time.Hour), "reason": "ill \u202eexe.pdf"}, "", 422, "body.reason", ""},
			{"absence of nobody", "POST", "/api/v1/owners/ghost/absences", map[string]any{"from": now, "to": now.Add(time.Hour)}, "", 404, "", "owner not found"},
			{"absence of SQL", "POST", "/api/v1/owners/x'%20OR%201%3D1%20--/absences", map[string]any{"from": now, "to": now.Add(time.Hour)}, "", 404, "", "owner not found"},
			{"delete another's absence", "DELETE", fmt.Sprintf("/api/v1/owners/alice/absences/%d", bobAbsence), nil, "", 404, "", "absence not found"},
			{"delete absence 0", "DELETE", "/api/v1/owners/bob/absences/0", nil, "", 422, "path.id", ""},
			{"delete absence missing", "DELETE", "/api/v1/owners/bob/absences/999999", nil, "", 404, "", "absence not found"},

			// Deletes of what is not there or still used.
			{"delete team in use", "DELETE", "/api/v1/teams/paris", nil, "", 409, "", `"paris"`},
			{"delete unknown team", "DELETE", "/api/v1/teams/ghost", nil, "", 404, "", "team not found"},
			{"delete unknown owner", "DELETE", "/api/v1/owners/ghost", nil, "", 404, "", "owner not found"},

			// SLA clocks.
			{"SLA of a lead without a clock", "GET", fmt.Sprintf("/api/v1/contacts/%d/sla", early.ID), nil, "", 404, "", "no SLA clock"},
			{"SLA of no contact", "GET", "/api/v1/contacts/999999/sla", nil, "", 404, "", "contact not found"},
			{"SLA of contact 0", "GET", "/api/v1/contacts/0/sla", nil, "", 422, "path.id", ""},
			{"SLA of contact abc", "GET", "/api/v1/contacts/abc/sla", nil, "", 422, "path.id", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var header []string
				if tc.contentType != "" {
					header = []string{"Content-Type", tc.contentType}
				}
				r := a.do(t, tc.method, tc.path, tc.body, header...)
				p := wantProblem(t, r, tc.status, tc.location)
				if tc.want != "" && !strings.Contains(problemText(p), tc.want) {
					t.Errorf("problem %s; want it to say %q", r.Raw, tc.want)
				}
				// Messages are for the API's users: no Go type names.
				if text := problemText(p); strings.Contains(text, "route.") {
					t.Errorf("problem %s names a Go type", r.Raw)
				}
			})
		}
		// An unescaped slash is another path.
		if r := a.do(t, "PUT", "/api/v1/owners/al/ice", owner); r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("PUT /api/v1/owners/al/ice: status %d; want 404 or 405\n%s", r.Status, r.Raw)
		}
		a.wantCounts(t, before)
		if got := a.routingState(t); got != state {
			t.Errorf("routing after refused requests:\n%s\nwant unchanged:\n%s", got, state)
		}
		// The longest name is accepted.
		wantStatus(t, a.do(t, "PUT", "/api/v1/owners/"+strings.Repeat("a", 64), owner), http.StatusCreated)
	})
}

// problemText is a problem's detail and messages, for checks that it
// says something.
func problemText(p problem) string {
	s := []string{p.Detail}
	for _, e := range p.Errors {
		s = append(s, e.Location+": "+e.Message)
	}
	return strings.Join(s, "\n")
}

// TestSpeedReportRefusals: the report's range is required, ordered and
// bounded; the grouping is one of three; a good range answers.
func TestSpeedReportRefusals(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		const path = "/api/v1/reports/speed-to-lead"
		for _, c := range []struct{ query, location string }{
			{"", "query.from"},
			{"?from=yesterday", "query.from"},
			{"?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "query.to"},
			{"?from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z", "query.to"},
			{"?from=2025-01-01T00:00:00Z&to=2026-03-02T00:00:00Z", "query.to"},
			{"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=planet", "query.by"},
			{"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=owner%27%3B--", "query.by"},
		} {
			wantProblem(t, a.do(t, "GET", path+c.query, nil), http.StatusUnprocessableEntity, c.location)
		}
		wantProblem(t, a.do(t, "GET", path+"?from=2026-03-01T00:00:00Z&colour=red", nil), http.StatusUnprocessableEntity, "")
		r := a.do(t, "GET", path+"?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&by=team", nil)
		wantStatus(t, r, http.StatusOK)
		if rep := decode[store.SpeedReport](t, r); rep.By != "team" || rep.Groups == nil || len(rep.Groups) != 0 {
			t.Errorf("report %+v; want no groups", rep)
		}
	})
}
