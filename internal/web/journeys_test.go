package web_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
)

const apiJourney = `name: welcome
trigger: {manual: true}
entry: {require: [email]}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: welcome-d0}}
  - {id: w, wait: 2d}
  - {id: d2, send: {channel: email, template: welcome-d0}}
`

func TestJourneysAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		wantStatus(t, a.do(t, "POST", "/api/v1/templates", map[string]any{"name": "welcome-d0", "channel": "email",
			"subject": "Welcome", "html": "<p>Hi {{ contact.first_name }}</p>"}), http.StatusCreated)
		// Validation alone saves nothing.
		r := a.do(t, "POST", "/api/v1/journeys/validate", apiJourney, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusOK)
		if js := decode[struct{ Journeys []store.Journey }](t, a.do(t, "GET", "/api/v1/journeys", nil)).Journeys; len(js) != 0 {
			t.Fatalf("validate saved %+v", js)
		}
		r = a.do(t, "POST", "/api/v1/journeys", apiJourney, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusCreated)
		j := decode[store.Journey](t, r)
		if j.Name != "welcome" || j.Version != 1 || j.Status != "live" || strings.Join(j.Steps, ",") != "d0,w,d2" {
			t.Errorf("journey %+v", j)
		}
		wantStatus(t, a.do(t, "POST", "/api/v1/journeys", apiJourney, "Content-Type", "application/yaml"), http.StatusOK)
		for _, ref := range []string{"welcome", fmt.Sprint(j.ID)} {
			wantStatus(t, a.do(t, "GET", "/api/v1/journeys/"+ref, nil), http.StatusOK)
		}
		wantProblem(t, a.do(t, "GET", "/api/v1/journeys/nope", nil), http.StatusNotFound, "")

		c := a.createContact(t, map[string]any{"email": "ada@example.com", "first_name": "Ada"})
		r = a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": c.ID})
		wantStatus(t, r, http.StatusCreated)
		// Once in, not twice: 409 with the reason.
		p := wantProblem(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": c.ID}), http.StatusConflict, "")
		if !strings.Contains(p.Detail, "already in the journey") {
			t.Errorf("detail %q", p.Detail)
		}
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": 999999}), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys/nope/enrolments", map[string]any{"contact_id": c.ID}), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": "x"}), http.StatusUnprocessableEntity, "")

		ens := decode[struct{ Enrolments []store.Enrolment }](t, a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/journeys", c.ID), nil)).Enrolments
		if len(ens) != 1 || ens[0].Journey != "welcome" || ens[0].Status != "waiting" || ens[0].Step != "w" {
			t.Errorf("enrolments %+v; want one waiting at w", ens)
		}
		st := decode[struct {
			Stats []store.JourneyStat
		}](t, a.do(t, "GET", "/api/v1/journeys/welcome/stats", nil)).Stats
		var sent, waiting int64
		for _, s := range st {
			if s.Step == "d0" && s.Metric == "sent" {
				sent = s.Count
			}
			if s.Step == "w" && s.Metric == "now_waiting" {
				waiting = s.Count
			}
		}
		if sent != 1 || waiting != 1 {
			t.Errorf("stats %+v; want d0 sent once and one waiting at w", st)
		}
		// Pause and resume.
		r = a.do(t, "POST", "/api/v1/journeys/welcome/pause", nil)
		wantStatus(t, r, http.StatusOK)
		if decode[store.Journey](t, r).Status != "paused" {
			t.Errorf("pause: %s", r.Raw)
		}
		bob := a.createContact(t, map[string]any{"email": "bob@example.com"})
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": bob.ID}), http.StatusConflict, "")
		wantStatus(t, a.do(t, "POST", "/api/v1/journeys/welcome/resume", nil), http.StatusOK)
		wantStatus(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": bob.ID}), http.StatusCreated)
	})
}

func TestJourneysAPIRejectsBadDocuments(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		before := a.counts(t)
		for _, tc := range []struct{ name, body, location string }{
			{"unknown template", strings.Replace(apiJourney, "welcome-d0}", "nope}", 1), "body.steps[0].send.template"},
			{"unknown step type", strings.Replace(apiJourney, "wait: 2d", "sleep: 2d", 1), "body.steps[1].sleep"},
			{"dangling id", strings.Replace(apiJourney, "wait: 2d}", "wait: 2d, next: nowhere}", 1), "body.steps[1].next"},
			{"negative wait", strings.Replace(apiJourney, "wait: 2d", "wait: -2d", 1), "body.steps[1].wait"},
			{"empty", "", ""},
			{"not YAML", "name: [", ""},
			{"control characters", strings.Replace(apiJourney, "name: welcome", "name: \"wel\\u202ecome\"", 1), "body.name"},
			{"a list", "- 1\n- 2\n", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", "/api/v1/journeys", tc.body, "Content-Type", "application/yaml")
				if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
					t.Fatalf("status %d; want 422 or 400\n%s", r.Status, r.Raw)
				}
				if tc.location != "" {
					wantProblem(t, r, http.StatusUnprocessableEntity, tc.location)
				}
			})
		}
		huge := apiJourney + "# " + strings.Repeat("x", 300<<10) + "\n"
		if r := a.do(t, "POST", "/api/v1/journeys", huge, "Content-Type", "application/yaml"); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("huge document: status %d; want 413", r.Status)
		}
		if r := a.send(t, "POST", "/api/v1/journeys", apiJourney); r.Status != http.StatusUnauthorized {
			t.Errorf("no key: status %d; want 401", r.Status)
		}
		a.wantCounts(t, before)
	})
}

func TestJourneySimulateAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		wantStatus(t, a.do(t, "POST", "/api/v1/templates", map[string]any{"name": "welcome-d0", "channel": "email",
			"subject": "Welcome", "html": "<p>Hi {{ contact.first_name }}</p>"}), http.StatusCreated)
		a.createContact(t, map[string]any{"email": "ada@example.com", "first_name": "Ada"})
		a.createContact(t, map[string]any{"email": "bob@example.com"})
		a.createContact(t, map[string]any{"phone": "+33612345678"}) // no address: refused
		before := a.counts(t)
		r := a.do(t, "POST", "/api/v1/journeys/simulate?days=10", apiJourney, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusOK)
		rep := decode[journey.Report](t, r)
		if rep.Contacts != 3 || rep.Entered != 2 || rep.Refused["missing email"] != 1 || rep.Days != 10 ||
			len(rep.Messages) != 2 || rep.Messages[0].Channels["email"] != 2 || rep.Messages[1].Day != 2 || rep.Outcomes["completed"] != 2 {
			t.Errorf("report %s", r.Raw)
		}
		r = a.do(t, "POST", "/api/v1/journeys/simulate?sample=1", apiJourney, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusOK)
		if rep := decode[journey.Report](t, r); rep.Contacts != 1 || rep.Days != 30 {
			t.Errorf("sample of 1: %s", r.Raw)
		}
		for _, tc := range []struct{ name, query, body, location string }{
			{"no days", "?days=0", apiJourney, "query.days"},
			{"too many days", "?days=367", apiJourney, "query.days"},
			{"days not a number", "?days=x", apiJourney, "query.days"},
			{"negative sample", "?sample=-1", apiJourney, "query.sample"},
			{"bad start", "?start=yesterday", apiJourney, "query.start"},
			{"unknown template", "", strings.Replace(apiJourney, "welcome-d0}", "nope}", 1), "body.steps[0].send.template"},
			{"empty", "", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", "/api/v1/journeys/simulate"+tc.query, tc.body, "Content-Type", "application/yaml")
				if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
					t.Fatalf("status %d; want 422 or 400\n%s", r.Status, r.Raw)
				}
				if tc.location != "" {
					wantProblem(t, r, r.Status, tc.location)
				}
			})
		}
		huge := apiJourney + "# " + strings.Repeat("x", 300<<10) + "\n"
		if r := a.do(t, "POST", "/api/v1/journeys/simulate", huge, "Content-Type", "application/yaml"); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("huge document: status %d; want 413", r.Status)
		}
		a.wantCounts(t, before)
	})
}

func TestJourneyPreviewAndMigrateAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		wantStatus(t, a.do(t, "POST", "/api/v1/templates", map[string]any{"name": "welcome-d0", "channel": "email",
			"subject": "Welcome", "html": "<p>Hi {{ contact.first_name }}</p>"}), http.StatusCreated)
		wantStatus(t, a.do(t, "POST", "/api/v1/journeys", apiJourney, "Content-Type", "application/yaml"), http.StatusCreated)
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		wantStatus(t, a.do(t, "POST", "/api/v1/journeys/welcome/enrolments", map[string]any{"contact_id": c.ID}), http.StatusCreated)
		v2 := strings.Replace(apiJourney, "{id: w, wait: 2d}", "{id: w2, wait: 3d}", 1)
		r := a.do(t, "POST", "/api/v1/journeys/preview", v2, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusOK)
		imp := decode[store.JourneyImpact](t, r)
		if !imp.Changed || imp.InFlight != 1 || len(imp.Steps) != 1 || imp.Steps[0].Goes != "exit: step_removed" ||
			strings.Join(imp.Removed, ",") != "w" || strings.Join(imp.Added, ",") != "w2" {
			t.Errorf("impact %s", r.Raw)
		}
		before := a.counts(t)
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys/preview", strings.Replace(v2, "welcome-d0}", "nope}", 1),
			"Content-Type", "application/yaml"), http.StatusUnprocessableEntity, "body.steps[0].send.template")
		if r := a.do(t, "POST", "/api/v1/journeys?migrate=perhaps", v2, "Content-Type", "application/yaml"); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("migrate=perhaps: %d", r.Status)
		}
		huge := v2 + "# " + strings.Repeat("x", 300<<10) + "\n"
		if r := a.do(t, "POST", "/api/v1/journeys/preview", huge, "Content-Type", "application/yaml"); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("huge document: status %d; want 413", r.Status)
		}
		if r := a.do(t, "POST", "/api/v1/journeys/preview", "", "Content-Type", "application/yaml"); r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
			t.Errorf("empty document: status %d", r.Status)
		}
		a.wantCounts(t, before)
		r = a.do(t, "POST", "/api/v1/journeys?migrate=true", v2, "Content-Type", "application/yaml")
		wantStatus(t, r, http.StatusCreated)
		if !strings.Contains(string(r.Raw), `"migrated":0`) || !strings.Contains(string(r.Raw), `"left":1`) || !strings.Contains(string(r.Raw), `"version":2`) {
			t.Errorf("publish with migrate: %s", r.Raw)
		}
	})
}

func TestJourneySettingsAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		type settings struct {
			FrequencyCap journey.Cap `json:"frequency_cap"`
		}
		got := decode[settings](t, a.do(t, "GET", "/api/v1/journeys/settings", nil))
		if !reflect.DeepEqual(got.FrequencyCap, journey.DefaultCap) {
			t.Errorf("default settings %+v; want %+v", got, journey.DefaultCap)
		}
		want := journey.Cap{PerDay: 2, PerWeek: 6, Channels: map[string]journey.Limit{"sms": {PerDay: 1, PerWeek: 2}}}
		r := a.do(t, "PUT", "/api/v1/journeys/settings", map[string]any{"frequency_cap": map[string]any{"per_day": 2, "per_week": 6,
			"channels": map[string]any{"sms": map[string]any{"per_day": 1, "per_week": 2}}}})
		wantStatus(t, r, http.StatusOK)
		if got := decode[settings](t, r); !reflect.DeepEqual(got.FrequencyCap, want) {
			t.Errorf("PUT answered %+v; want %+v", got.FrequencyCap, want)
		}
		for _, tc := range []struct {
			name, body, location string
		}{
			{"negative", `{"frequency_cap": {"per_day": -1}}`, "body.frequency_cap.per_day"},
			{"day above week", `{"frequency_cap": {"per_day": 5, "per_week": 3}}`, "body.frequency_cap.per_day"},
			{"huge", `{"frequency_cap": {"per_week": 99999999}}`, "body.frequency_cap.per_week"},
			{"unknown channel", `{"frequency_cap": {"channels": {"fax": {"per_day": 1}}}}`, "body.frequency_cap.channels.fax"},
			{"channel above the cap", `{"frequency_cap": {"per_day": 1, "channels": {"email": {"per_day": 2}}}}`, "body.frequency_cap.channels.email.per_day"},
			{"hostile channel", `{"frequency_cap": {"channels": {"<script>": {"per_day": 1}}}}`, ""},
			{"not a number", `{"frequency_cap": {"per_day": "one"}}`, ""},
			{"unknown field", `{"frequency_cap": {"per_month": 10}}`, ""},
			{"malformed", `{"frequency_cap": {`, ""},
			{"empty", ``, ""},
			{"oversized", `{"frequency_cap": {"channels": {"` + strings.Repeat("x", 20<<10) + `": {}}}}`, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "PUT", "/api/v1/journeys/settings", tc.body, "Content-Type", "application/json")
				if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest && r.Status != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d; want 4xx\n%s", r.Status, r.Raw)
				}
				if tc.location != "" {
					wantProblem(t, r, http.StatusUnprocessableEntity, tc.location)
				}
			})
		}
		if got := decode[settings](t, a.do(t, "GET", "/api/v1/journeys/settings", nil)); !reflect.DeepEqual(got.FrequencyCap, want) {
			t.Errorf("after refused changes %+v; want %+v unchanged", got.FrequencyCap, want)
		}
		if r := a.send(t, "GET", "/api/v1/journeys/settings", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("no key: status %d; want 401", r.Status)
		}
		// The name is the API's: no journey may take it.
		wantStatus(t, a.do(t, "POST", "/api/v1/templates", map[string]any{"name": "welcome-d0", "channel": "email",
			"subject": "Welcome", "html": "<p>Hi</p>"}), http.StatusCreated)
		doc := strings.Replace(apiJourney, "name: welcome", "name: settings", 1)
		wantProblem(t, a.do(t, "POST", "/api/v1/journeys", doc, "Content-Type", "application/yaml"), http.StatusUnprocessableEntity, "")
	})
}
