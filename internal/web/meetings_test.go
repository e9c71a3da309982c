package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/store"
)

// TestMeetingsAPI books for a contact, lists, reads, moves, cancels and
// logs outcomes through the API.
func TestMeetingsAPI(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		c := a.createContact(t, map[string]any{"email": "ada@example.com", "first_name": "Ada", "time_zone": "America/New_York"})

		// The team's slots say who is free.
		r := a.do(t, "GET", "/api/v1/meetings/slots?team=paris&from=2026-03-03T00:00:00%2B01:00&to=2026-03-04T00:00:00%2B01:00", nil)
		wantStatus(t, r, http.StatusOK)
		slots := decode[struct {
			Team          string       `json:"team"`
			TimeZone      string       `json:"time_zone"`
			LengthMinutes int          `json:"length_minutes"`
			Slots         []store.Slot `json:"slots"`
		}](t, r)
		if slots.Team != "paris" || slots.TimeZone != "Europe/Paris" || slots.LengthMinutes != 30 || len(slots.Slots) != 14 ||
			!slices.Equal(slots.Slots[0].Owners, []string{"alice", "bob"}) {
			t.Errorf("slots = %s", r.Raw)
		}

		r = a.do(t, "POST", "/api/v1/meetings", map[string]any{"contact_id": c.ID, "team": "paris", "start": tuesday(t, 10, 0),
			"notes": "Demo of the API."})
		wantStatus(t, r, http.StatusCreated)
		m := decode[store.Meeting](t, r)
		if m.Owner != "alice" || m.Team != "paris" || m.Status != "booked" || m.Source != "api" || m.TimeZone != "America/New_York" ||
			m.Notes != "Demo of the API." {
			t.Errorf("booked = %s", r.Raw)
		}
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/meetings/%d", m.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[store.Meeting](t, r); got != m {
			t.Errorf("GET = %+v; want %+v", got, m)
		}
		evs := a.timelineOf(t, c.ID)
		if count(evs, "meeting_booked") != 1 {
			t.Errorf("timeline %v; want meeting_booked", eventTypes(evs))
		}

		r = a.do(t, "POST", "/api/v1/meetings", map[string]any{"contact_id": c.ID, "owner": "bob", "start": tuesday(t, 14, 0)})
		wantStatus(t, r, http.StatusCreated)
		second := decode[store.Meeting](t, r)

		// Lists.
		for _, tc := range []struct {
			query string
			want  []int64
		}{
			{"", []int64{m.ID, second.ID}},
			{"?owner=bob", []int64{second.ID}},
			{"?team=paris", []int64{m.ID}},
			{fmt.Sprintf("?contact_id=%d&status=booked", c.ID), []int64{m.ID, second.ID}},
			{"?status=held", nil},
			{"?from=2026-03-03T12:00:00Z", []int64{second.ID}},
			{"?to=2026-03-03T12:00:00Z", []int64{m.ID}},
		} {
			r := a.do(t, "GET", "/api/v1/meetings"+tc.query, nil)
			wantStatus(t, r, http.StatusOK)
			var ids []int64
			for _, x := range decode[struct{ Meetings []store.Meeting }](t, r).Meetings {
				ids = append(ids, x.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("GET /api/v1/meetings%s = %v; want %v", tc.query, ids, tc.want)
			}
		}
		r = a.do(t, "GET", "/api/v1/meetings?limit=1", nil)
		page := decode[struct {
			Meetings []store.Meeting
			Next     string `json:"next_cursor"`
		}](t, r)
		if len(page.Meetings) != 1 || page.Next == "" {
			t.Errorf("first page = %s", r.Raw)
		}
		r = a.do(t, "GET", "/api/v1/meetings?limit=1&cursor="+page.Next, nil)
		if p := decode[struct{ Meetings []store.Meeting }](t, r); len(p.Meetings) != 1 || p.Meetings[0].ID != second.ID {
			t.Errorf("second page = %s", r.Raw)
		}

		// Move, then cancel, the second.
		r = a.do(t, "POST", fmt.Sprintf("/api/v1/meetings/%d/reschedule", second.ID), map[string]any{"start": tuesday(t, 15, 0)})
		wantStatus(t, r, http.StatusOK)
		if got := decode[store.Meeting](t, r); got.Sequence != 1 || got.Start.Format(time.RFC3339) != tuesday(t, 15, 0) {
			t.Errorf("moved = %s", r.Raw)
		}
		r = a.do(t, "POST", fmt.Sprintf("/api/v1/meetings/%d/cancel", second.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[store.Meeting](t, r); got.Status != "cancelled" || got.Sequence != 2 {
			t.Errorf("cancelled = %s", r.Raw)
		}

		// Outcomes: not before the start; once; not of a cancelled meeting.
		outcome := func(id int64, body map[string]any) response {
			return a.do(t, "POST", fmt.Sprintf("/api/v1/meetings/%d/outcome", id), body)
		}
		wantProblem(t, outcome(m.ID, map[string]any{"outcome": "held"}), http.StatusConflict, "")
		a.clk.Set(time.Date(2026, 3, 3, 10, 35, 0, 0, parisZone(t)))
		r = outcome(m.ID, map[string]any{"outcome": "held", "notes": "Good call; wants a quote."})
		wantStatus(t, r, http.StatusOK)
		if got := decode[store.Meeting](t, r); got.Status != "held" || got.OutcomeNotes != "Good call; wants a quote." {
			t.Errorf("held = %s", r.Raw)
		}
		wantStatus(t, outcome(m.ID, map[string]any{"outcome": "held"}), http.StatusOK)
		wantProblem(t, outcome(m.ID, map[string]any{"outcome": "no_show"}), http.StatusConflict, "")
		wantProblem(t, outcome(second.ID, map[string]any{"outcome": "no_show"}), http.StatusConflict, "")
		evs = a.timelineOf(t, c.ID)
		for typ, want := range map[string]int{"meeting_booked": 2, "meeting_rescheduled": 1, "meeting_cancelled": 1, "meeting_held": 1, "meeting_no_show": 0} {
			if n := count(evs, typ); n != want {
				t.Errorf("%d %s events; want %d (timeline %v)", n, typ, want, eventTypes(evs))
			}
		}
	})
}

// TestMeetingsAPIRefusals: bad input names its field and changes nothing.
func TestMeetingsAPIRefusals(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		r := a.do(t, "POST", "/api/v1/meetings", map[string]any{"contact_id": c.ID, "owner": "alice", "start": tuesday(t, 10, 0)})
		wantStatus(t, r, http.StatusCreated)
		m := decode[store.Meeting](t, r)
		ok := map[string]any{"contact_id": c.ID, "owner": "alice", "start": tuesday(t, 14, 0)}
		with := func(k string, v any) map[string]any { return withField(ok, k, v) }
		without := func(k string) map[string]any {
			out := withField(ok, "x", nil)
			delete(out, "x")
			delete(out, k)
			return out
		}
		meeting := fmt.Sprintf("/api/v1/meetings/%d", m.ID)
		before := a.bookingState(t)
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			location           string
		}{
			{"no contact", "POST", "/api/v1/meetings", without("contact_id"), 422, "body"},
			{"contact 0", "POST", "/api/v1/meetings", with("contact_id", 0), 422, "body.contact_id"},
			{"no such contact", "POST", "/api/v1/meetings", with("contact_id", 99999), 404, ""},
			{"owner and team", "POST", "/api/v1/meetings", with("team", "paris"), 422, "body.owner"},
			{"neither owner nor team", "POST", "/api/v1/meetings", without("owner"), 422, "body.owner"},
			{"no such owner", "POST", "/api/v1/meetings", with("owner", "zed"), 422, "body.owner"},
			{"owner not a name", "POST", "/api/v1/meetings", with("owner", "Zed Zed"), 422, "body.owner"},
			{"no such team", "POST", "/api/v1/meetings", withField(without("owner"), "team", "zed"), 422, "body.team"},
			{"no start", "POST", "/api/v1/meetings", without("start"), 422, "body"},
			{"start not a time", "POST", "/api/v1/meetings", with("start", "Tuesday"), 422, "body.start"},
			{"start off the grid", "POST", "/api/v1/meetings", with("start", tuesday(t, 14, 5)), 422, "body.start"},
			{"start in the past", "POST", "/api/v1/meetings", with("start", "2026-02-27T09:00:00Z"), 422, "body.start"},
			{"start taken", "POST", "/api/v1/meetings", with("start", tuesday(t, 10, 0)), 409, "body.start"},
			{"bad zone", "POST", "/api/v1/meetings", with("time_zone", "Europe/Atlantis"), 422, "body.time_zone"},
			{"notes with an escape", "POST", "/api/v1/meetings", with("notes", "a\x1bb"), 422, "body.notes"},
			{"notes too long", "POST", "/api/v1/meetings", with("notes", strings.Repeat("n", 1001)), 422, "body.notes"},
			{"unknown field", "POST", "/api/v1/meetings", with("room", "blue"), 422, ""},
			{"no such meeting", "GET", "/api/v1/meetings/99999", nil, 404, ""},
			{"meeting 0", "GET", "/api/v1/meetings/0", nil, 422, "path.id"},
			{"bad status", "GET", "/api/v1/meetings?status=maybe", nil, 422, "query.status"},
			{"bad cursor", "GET", "/api/v1/meetings?cursor=nope", nil, 422, "query.cursor"},
			{"limit too big", "GET", "/api/v1/meetings?limit=501", nil, 422, "query.limit"},
			{"slots without from", "GET", "/api/v1/meetings/slots?owner=alice", nil, 422, "query.from"},
			{"slots of both", "GET", "/api/v1/meetings/slots?owner=alice&team=paris&from=2026-03-03T00:00:00Z", nil, 422, "query.owner"},
			{"slots over 31 days", "GET", "/api/v1/meetings/slots?owner=alice&from=2026-03-03T00:00:00Z&to=2026-05-03T00:00:00Z", nil, 422, "query.to"},
			{"slots backwards", "GET", "/api/v1/meetings/slots?owner=alice&from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z", nil, 422, "query.to"},
			{"slots of nobody", "GET", "/api/v1/meetings/slots?owner=zed&from=2026-03-03T00:00:00Z", nil, 404, ""},
			{"outcome unknown", "POST", meeting + "/outcome", map[string]any{"outcome": "maybe"}, 422, "body.outcome"},
			{"outcome too early", "POST", meeting + "/outcome", map[string]any{"outcome": "held"}, 409, ""},
			{"outcome of nothing", "POST", "/api/v1/meetings/99999/outcome", map[string]any{"outcome": "held"}, 404, ""},
			{"reschedule without start", "POST", meeting + "/reschedule", map[string]any{}, 422, "body"},
			{"reschedule off the grid", "POST", meeting + "/reschedule", map[string]any{"start": tuesday(t, 9, 10)}, 422, "body.start"},
			{"reschedule into lunch", "POST", meeting + "/reschedule", map[string]any{"start": tuesday(t, 12, 0)}, 422, "body.start"},
			{"reschedule of nothing", "POST", "/api/v1/meetings/99999/reschedule", map[string]any{"start": tuesday(t, 15, 0)}, 404, ""},
			{"cancel of nothing", "POST", "/api/v1/meetings/99999/cancel", nil, 404, ""},
			{"team booking unknown field", "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"length": "30m", "colour": "red"}), 422, ""},
			{"team booking too short", "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"length": "5m"}), 422, "body.booking.length"},
			{"team booking not a duration", "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"buffer": "a while"}), 422, "body.booking.buffer"},
			{"team booking step", "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"step": "7m"}), 422, "body.booking.step"},
			{"team booking horizon", "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"notice": "3d", "horizon": "2d"}), 422, "body.booking.horizon"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, tc.body)
				wantProblem(t, r, tc.status, tc.location)
			})
		}
		if after := a.bookingState(t); after != before {
			t.Errorf("state changed:\n%s\nwant\n%s", after, before)
		}
		// A good booking setting is taken and shown.
		r = a.do(t, "PUT", "/api/v1/teams/paris", withField(bookingTeamJSON(), "booking", map[string]any{"length": "45m", "step": "15m"}))
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Raw), `"booking":{"length":"45m","step":"15m"}`) {
			t.Errorf("team = %s", r.Raw)
		}
	})
}

// bookingTeamJSON is the paris team of setUpBooking.
func bookingTeamJSON() map[string]any {
	team := parisTeamJSON()
	delete(team, "lead")
	delete(team, "manager")
	return team
}
