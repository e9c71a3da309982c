package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"
	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/store"
)

// setUpBooking puts owners alice (Alice Martin) and bob, members of the
// paris team (weekdays 09:00-12:00 and 14:00-18:00, French holidays, the
// default booking: 30-minute calls every 30 minutes, 10 minutes of
// buffer, 2 hours' notice, 14 days ahead), and installs the meeting
// templates. The clock is Monday 2 March 2026, 08:00 in Paris.
func (a *api) setUpBooking(t *testing.T) {
	t.Helper()
	a.clk.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, parisZone(t)))
	wantStatus(t, a.do(t, "PUT", "/api/v1/owners/alice", withField(ownerJSON("alice@example.com"), "display_name", "Alice Martin")), http.StatusCreated)
	wantStatus(t, a.do(t, "PUT", "/api/v1/owners/bob", ownerJSON("bob@example.com")), http.StatusCreated)
	wantStatus(t, a.sendYAML(t, "PUT", "/api/v1/holidays/FR", frHolidays(t)), http.StatusOK)
	wantStatus(t, a.do(t, "PUT", "/api/v1/teams/paris", bookingTeamJSON()), http.StatusCreated)
	for _, f := range []string{"meeting-confirmation", "meeting-booked", "meeting-cancelled"} {
		src, err := examples.File("templates/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		var in store.TemplateInput
		if err := yaml.Unmarshal(src, &in); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.st.SaveTemplate(ctx, in); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// bookingState is everything a refused request must leave alone: the
// row counts, the meetings and the outbox.
func (a *api) bookingState(t *testing.T) string {
	t.Helper()
	ms, _, err := a.st.Meetings(ctx, store.MeetingsParams{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.st.ListMessages(ctx, store.MessagesParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ms)
	return fmt.Sprintf("%v\nmeetings %s\noutbox %d", a.counts(t), b, len(out))
}

// tuesday is a start on Tuesday 3 March 2026, Paris time, as the pages
// write it.
func tuesday(t *testing.T, hour, minute int) string {
	return time.Date(2026, 3, 3, hour, minute, 0, 0, parisZone(t)).UTC().Format(time.RFC3339)
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// bookJSON books through the public page with a JSON body.
func (a *api) bookJSON(t *testing.T, path string, body map[string]any) response {
	t.Helper()
	b, _ := json.Marshal(body)
	r := a.visit(t, "POST", path, string(b), "Content-Type", "application/json", "Accept", "application/json")
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "json") && len(r.Raw) > 0 {
		json.Unmarshal(r.Raw, &r.JSON)
	}
	return r
}

func bodyOf(r response) map[string]any {
	m, _ := r.JSON.(map[string]any)
	return m
}

// TestBookingPages: a visitor sees a week of slots in their zone, picks
// one, books it with a form (or JSON), and gets the manage link; the
// slot is gone from the page; a second booking of it is 409.
func TestBookingPages(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)

		// HTML, the visitor's zone given: no script, slots as links to the form.
		r := a.visit(t, "GET", "/book/alice?tz=Europe/Paris&from=2026-03-03", "")
		wantStatus(t, r, http.StatusOK)
		page := string(r.Raw)
		for _, want := range []string{"Book a call with Alice Martin", "Tuesday 3 March", "Monday 9 March", ">10:00</a>",
			"Times are in Europe/Paris", "30 minutes"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q:\n%s", want, page)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("a page with the zone given runs a script")
		}
		if !strings.Contains(page, `href="/book/alice?start=`+url.QueryEscape(tuesday(t, 10, 0))+`&amp;tz=Europe%2FParis"`) {
			t.Errorf("page lacks the link of Tuesday 10:00:\n%s", page)
		}

		// Without a zone: the page in alice's, with the script sending
		// the browser's, allowed by its hash alone.
		r = a.visit(t, "GET", "/book/alice", "")
		wantStatus(t, r, http.StatusOK)
		m := regexp.MustCompile(`<script>(.*?)</script>`).FindSubmatch(r.Raw)
		if m == nil {
			t.Fatalf("no script in the page without a zone:\n%s", r.Raw)
		}
		sum := sha256.Sum256(m[1])
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("CSP %q does not allow the page's script by its hash", csp)
		}

		// JSON: the same slots, in New York time.
		r = a.visit(t, "GET", "/book/alice?tz=America/New_York&from=2026-03-03&format=json", "")
		wantStatus(t, r, http.StatusOK)
		var slots struct {
			Name          string `json:"name"`
			TimeZone      string `json:"time_zone"`
			LengthMinutes int    `json:"length_minutes"`
			Slots         []struct{ Start, End string }
		}
		if err := json.Unmarshal(r.Raw, &slots); err != nil {
			t.Fatal(err)
		}
		if slots.Name != "Alice Martin" || slots.TimeZone != "America/New_York" || slots.LengthMinutes != 30 || len(slots.Slots) != 14*5 ||
			slots.Slots[0].Start != "2026-03-03T03:00:00-05:00" || slots.Slots[0].End != "2026-03-03T03:30:00-05:00" {
			t.Errorf("JSON slots = %+v", slots)
		}
		// Accept: application/json says the same; a team's page too, without who is free.
		r = a.visit(t, "GET", "/book/team/paris?tz=Europe/Paris&from=2026-03-03", "", "Accept", "application/json")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Raw), `"start":"2026-03-03T09:00:00+01:00"`) || strings.Contains(string(r.Raw), "alice") {
			t.Errorf("team page JSON = %s", r.Raw)
		}

		// The form of one slot, then the booking.
		r = a.visit(t, "GET", "/book/alice?tz=Europe/Paris&start="+url.QueryEscape(tuesday(t, 10, 0)), "")
		wantStatus(t, r, http.StatusOK)
		for _, want := range []string{"Tuesday 3 March 2026, 10:00–10:30 (Europe/Paris)", `name="start" value="` + tuesday(t, 10, 0) + `"`, `name="email"`} {
			if !strings.Contains(string(r.Raw), want) {
				t.Errorf("form lacks %q:\n%s", want, r.Raw)
			}
		}
		r = a.visit(t, "POST", "/book/alice", form("name", "Ada Lovelace", "email", "ada@example.com", "phone", "06 12 34 56 78",
			"company", "Analytical Engines", "notes", "About pricing.", "start", tuesday(t, 10, 0), "tz", "Europe/Paris"))
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Raw), "Tuesday 3 March 2026 at 10:00–10:30 (Europe/Paris)") || !strings.Contains(string(r.Raw), `href="`+a.srv.URL+`/m/`) {
			t.Errorf("confirmation page:\n%s", r.Raw)
		}
		list, _, err := a.st.Meetings(ctx, store.MeetingsParams{})
		if err != nil || len(list) != 1 || list[0].Owner != "alice" || list[0].Notes != "About pricing." || list[0].Source != "booking" {
			t.Fatalf("meetings = %+v, %v", list, err)
		}
		c := a.contactByEmail(t, "ada@example.com")
		if c["first_name"] != "Ada" || c["last_name"] != "Lovelace" || c["phone"] != "+33612345678" || c["owner"] != "alice" {
			t.Errorf("contact = %v", c)
		}

		// The slot is gone from the page, and from the team's at 10:00 only alice's.
		r = a.visit(t, "GET", "/book/alice?tz=Europe/Paris&from=2026-03-03&format=json", "")
		if strings.Contains(string(r.Raw), `"start":"2026-03-03T10:00:00+01:00"`) {
			t.Errorf("the booked slot is still offered: %s", r.Raw)
		}
		// Booking it again: 409, in HTML with the week's slots, in JSON as a problem.
		r = a.visit(t, "POST", "/book/alice", form("name", "Bo", "email", "bo@example.com", "start", tuesday(t, 10, 0)))
		if r.Status != http.StatusConflict || !strings.Contains(string(r.Raw), "That time was just taken; pick another.") ||
			!strings.Contains(string(r.Raw), ">11:00</a>") {
			t.Errorf("second booking: %d\n%s", r.Status, r.Raw)
		}
		r = a.bookJSON(t, "/book/alice", map[string]any{"name": "Bo", "email": "bo@example.com", "start": tuesday(t, 10, 0)})
		if r.Status != http.StatusConflict || bodyOf(r)["detail"] != "That time was just taken; pick another." {
			t.Errorf("second booking in JSON: %d %s", r.Status, r.Raw)
		}

		// JSON booking on the team's page: 201 with the manage link.
		r = a.bookJSON(t, "/book/team/paris", map[string]any{"name": "Bo", "email": "bo@example.com", "start": tuesday(t, 10, 0),
			"time_zone": "America/New_York"})
		wantStatus(t, r, http.StatusCreated)
		b := bodyOf(r)
		if b["status"] != "booked" || b["start"] != "2026-03-03T04:00:00-05:00" || b["time_zone"] != "America/New_York" ||
			b["with"] != "the paris team" || !strings.HasPrefix(fmt.Sprint(b["manage_url"]), a.srv.URL+"/m/") {
			t.Errorf("JSON booking = %s", r.Raw)
		}
		if _, ok := b["contact_id"]; ok {
			t.Errorf("the answer names the contact: %s", r.Raw)
		}
	})
}

func (a *api) contactByEmail(t *testing.T, email string) map[string]any {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/contacts?email="+url.QueryEscape(email), nil)
	wantStatus(t, r, http.StatusOK)
	var list struct{ Contacts []map[string]any }
	if err := json.Unmarshal(r.Raw, &list); err != nil || len(list.Contacts) != 1 {
		t.Fatalf("contacts with %s: %s", email, r.Raw)
	}
	return list.Contacts[0]
}

// TestBookingAnswersAlike: the answer to a booking is the same whether
// the email belongs to a known contact (with a name, a phone, a zone of
// their own) or to nobody; the known contact is not rewritten.
func TestBookingAnswersAlike(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		known := a.createContact(t, map[string]any{"email": "known@example.com", "first_name": "Kim", "phone": "+33611111111",
			"time_zone": "Asia/Tokyo"})
		answer := func(email, start string) map[string]any {
			r := a.bookJSON(t, "/book/alice", map[string]any{"name": "Someone Else", "email": email, "phone": "+33611111111",
				"start": start})
			wantStatus(t, r, http.StatusCreated)
			b := bodyOf(r)
			delete(b, "manage_url")
			delete(b, "start")
			delete(b, "end")
			return b
		}
		a1, a2 := answer("known@example.com", tuesday(t, 14, 0)), answer("nobody@example.com", tuesday(t, 15, 0))
		if fmt.Sprint(a1) != fmt.Sprint(a2) {
			t.Errorf("answers differ: known %v, unknown %v", a1, a2)
		}
		c := a.contactByEmail(t, "known@example.com")
		if c["first_name"] != "Kim" || c["time_zone"] != "Asia/Tokyo" || c["id"] != float64(known.ID) {
			t.Errorf("the known contact was rewritten: %v", c)
		}
		if c := a.contactByEmail(t, "nobody@example.com"); c["phone"] != nil {
			t.Errorf("the new contact took another contact's phone: %v", c)
		}
	})
}

// TestBookingPagesRefuseBadInput: invalid time zones, malformed,
// missing, oversized or hostile fields, starts off the grid or in the
// past, unknown pages, bad tokens and tokens of another kind are refused
// with the field at fault, and change nothing.
func TestBookingPagesRefuseBadInput(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		wantStatus(t, a.do(t, "PUT", "/api/v1/owners/gone", ownerJSON("gone@example.com")), http.StatusCreated)
		wantStatus(t, a.do(t, "DELETE", "/api/v1/owners/gone", nil), http.StatusNoContent)
		r := a.bookJSON(t, "/book/alice", map[string]any{"name": "Ada", "email": "ada@example.com", "start": tuesday(t, 10, 0)})
		wantStatus(t, r, http.StatusCreated)
		manage := strings.TrimPrefix(fmt.Sprint(bodyOf(r)["manage_url"]), a.srv.URL)
		ok := map[string]any{"name": "Bo", "email": "bo@example.com", "start": tuesday(t, 14, 0)}
		with := func(k string, v any) map[string]any { return withField(ok, k, v) }
		before := a.bookingState(t)

		type req struct {
			name, method, path string
			json               map[string]any // sent as JSON when set
			raw                string         // else this body, as a form
			status             int
			field              string // the problem's location, in JSON
		}
		cases := []req{
			{"zone not IANA", "GET", "/book/alice?format=json&tz=Mars/Olympus", nil, "", 400, "query.tz"},
			{"zone Local", "GET", "/book/alice?format=json&tz=Local", nil, "", 400, "query.tz"},
			{"zone a path", "GET", "/book/alice?format=json&tz=../../../etc/passwd", nil, "", 400, "query.tz"},
			{"zone too long", "GET", "/book/alice?format=json&tz=" + strings.Repeat("A", 100), nil, "", 400, "query.tz"},
			{"date that does not exist", "GET", "/book/alice?format=json&from=2026-02-30", nil, "", 400, "query.from"},
			{"date not a date", "GET", "/book/alice?format=json&from=tomorrow", nil, "", 400, "query.from"},
			{"no such owner", "GET", "/book/nobody?format=json", nil, "", 404, ""},
			{"disabled owner", "GET", "/book/gone?format=json", nil, "", 404, ""},
			{"not a name", "GET", "/book/Alice%20Martin?format=json", nil, "", 404, ""},
			{"no such team", "GET", "/book/team/nobody?format=json", nil, "", 404, ""},
			{"no name", "POST", "/book/alice", with("name", ""), "", 422, "body.name"},
			{"no email", "POST", "/book/alice", with("email", ""), "", 422, "body.email"},
			{"not an email", "POST", "/book/alice", with("email", "not-an-email"), "", 422, "body.email"},
			{"email with a header", "POST", "/book/alice", with("email", "a@example.com\r\nBcc: x@evil.test"), "", 422, "body.email"},
			{"name with a line break", "POST", "/book/alice", with("name", "Ada\r\nBCC:x@evil.test"), "", 422, "body.name"},
			{"name with an ICS line", "POST", "/book/alice", with("name", "Ada\nEND:VEVENT"), "", 422, "body.name"},
			{"name with an escape", "POST", "/book/alice", with("name", "Ada\x1b[31m"), "", 422, "body.name"},
			{"name with a bidi override", "POST", "/book/alice", with("name", "Ada \u202egnp.exe"), "", 422, "body.name"},
			{"name too long", "POST", "/book/alice", with("name", strings.Repeat("a", 201)), "", 422, "body.name"},
			{"company too long", "POST", "/book/alice", with("company", strings.Repeat("a", 201)), "", 422, "body.company"},
			{"notes too long", "POST", "/book/alice", with("notes", strings.Repeat("n", 1001)), "", 422, "body.notes"},
			{"notes with a NUL", "POST", "/book/alice", with("notes", "a\x00b"), "", 422, "body.notes"},
			{"phone not a number", "POST", "/book/alice", with("phone", "call me"), "", 422, "body.phone"},
			{"start missing", "POST", "/book/alice", with("start", ""), "", 422, "body.start"},
			{"start not a time", "POST", "/book/alice", with("start", "tomorrow at ten"), "", 422, "body.start"},
			{"start too long", "POST", "/book/alice", with("start", strings.Repeat("2", 100)), "", 422, "body.start"},
			{"start off the grid", "POST", "/book/alice", with("start", tuesday(t, 10, 15)), "", 422, "body.start"},
			{"start in lunch", "POST", "/book/alice", with("start", tuesday(t, 12, 30)), "", 422, "body.start"},
			{"start in the past", "POST", "/book/alice", with("start", "2026-03-01T09:00:00Z"), "", 422, "body.start"},
			{"start beyond the horizon", "POST", "/book/alice", with("start", "2026-06-02T08:00:00Z"), "", 422, "body.start"},
			{"start taken", "POST", "/book/alice", with("start", tuesday(t, 10, 0)), "", 409, "body.start"},
			{"start in the buffer", "POST", "/book/alice", with("start", tuesday(t, 10, 30)), "", 409, "body.start"},
			{"zone not IANA in the body", "POST", "/book/alice", with("time_zone", "Paris"), "", 422, "body.time_zone"},
			{"name not a string", "POST", "/book/alice", with("name", 42), "", 400, "body"},
			{"unknown field", "POST", "/book/alice", with("owner", "bob"), "", 400, "body"},
			{"no such owner", "POST", "/book/nobody", ok, "", 404, ""},
			{"disabled owner", "POST", "/book/gone", ok, "", 404, ""},
			{"no such team", "POST", "/book/team/nobody", ok, "", 404, ""},
			{"token not a token", "GET", "/m/not-a-token?format=json", nil, "", 404, ""},
			{"token of a confirmation", "GET", "/m/" + a.sign.Confirm(1) + "?format=json", nil, "", 404, ""},
			{"token of no meeting", "GET", "/m/" + a.sign.Meeting(999) + "?format=json", nil, "", 404, ""},
			{"cancel by a bad token", "POST", "/m/" + a.sign.Preferences(1), map[string]any{"action": "cancel"}, "", 404, ""},
			{"unknown action", "POST", manage, map[string]any{"action": "explode"}, "", 422, "body.action"},
			{"reschedule without start", "POST", manage, map[string]any{"action": "reschedule"}, "", 422, "body.start"},
			{"reschedule off the grid", "POST", manage, map[string]any{"action": "reschedule", "start": tuesday(t, 11, 10)}, "", 422, "body.start"},
			{"reschedule on Sunday", "POST", manage, map[string]any{"action": "reschedule", "start": "2026-03-08T09:00:00Z"}, "", 422, "body.start"},
			{"manage zone not IANA", "GET", manage + "?format=json&tz=Nowhere", nil, "", 400, "query.tz"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var r response
				switch {
				case tc.json != nil:
					r = a.bookJSON(t, tc.path, tc.json)
				case tc.method == "POST":
					r = a.visit(t, "POST", tc.path, tc.raw, "Accept", "application/json")
				default:
					r = a.visit(t, tc.method, tc.path, "")
				}
				if r.Status != tc.status {
					t.Errorf("status %d; want %d\n%s", r.Status, tc.status, r.Raw)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q; want problem+json", ct)
				}
				var p problem
				json.Unmarshal(r.Raw, &p)
				if tc.field != "" && !slices.Contains(p.locations(), tc.field) {
					t.Errorf("locations %q; want %s\n%s", p.locations(), tc.field, r.Raw)
				}
				if p.Detail == "" {
					t.Errorf("no detail: %s", r.Raw)
				}
			})
		}
		// Bodies past 8 KiB, as a form and as JSON.
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
			big := "name=" + strings.Repeat("a", 9<<10)
			if ct == "application/json" {
				big = `{"name":"` + strings.Repeat("a", 9<<10) + `"}`
			}
			if r := a.visit(t, "POST", "/book/alice", big, "Content-Type", ct); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s body of 9 KiB: status %d; want 413", ct, r.Status)
			}
		}
		// A form field sent twice.
		if r := a.visit(t, "POST", "/book/alice", form("name", "A", "email", "a@example.com", "email", "b@example.com", "start", tuesday(t, 14, 0))); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("email sent twice: status %d; want 422", r.Status)
		}
		if after := a.bookingState(t); after != before {
			t.Errorf("state changed:\n%s\nwant\n%s", after, before)
		}

		// The pages answer the same refusals in HTML, with hostile text escaped.
		r = a.visit(t, "POST", "/book/alice", form("name", `<script>alert(1)</script>`, "email", "nope", "start", tuesday(t, 14, 0)))
		if r.Status != http.StatusUnprocessableEntity || strings.Contains(string(r.Raw), "<script>alert") ||
			!strings.Contains(string(r.Raw), "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(string(r.Raw), "email:") {
			t.Errorf("HTML refusal: %d\n%s", r.Status, r.Raw)
		}
		r = a.visit(t, "GET", "/book/alice?tz=Mars/Olympus", "")
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Raw), "tz: not an IANA time zone") ||
			!strings.Contains(string(r.Raw), "/book/alice?tz=Europe%2FParis") || strings.Contains(string(r.Raw), "<script") {
			t.Errorf("HTML page with a bad zone: %d\n%s", r.Status, r.Raw)
		}
		if r := a.visit(t, "GET", "/book/nobody", ""); r.Status != http.StatusNotFound || !strings.Contains(string(r.Raw), "Page not found") {
			t.Errorf("HTML unknown owner: %d\n%s", r.Status, r.Raw)
		}
		if r := a.visit(t, "GET", "/m/"+a.sign.Unsubscribe(1, 1), ""); r.Status != http.StatusNotFound || !strings.Contains(string(r.Raw), "Link not valid") {
			t.Errorf("HTML wrong-kind token: %d\n%s", r.Status, r.Raw)
		}
		// A name with HTML is a name: accepted, and escaped wherever it shows.
		r = a.bookJSON(t, "/book/alice", withField(ok, "name", `<b>Bo</b> & "Co"`))
		wantStatus(t, r, http.StatusCreated)
	})
}

// TestManageLink: the link of a meeting's emails shows it, moves it to
// another free time and cancels it; a started or cancelled meeting can
// no longer be changed there.
func TestManageLink(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		r := a.bookJSON(t, "/book/alice", map[string]any{"name": "Ada", "email": "ada@example.com", "start": tuesday(t, 10, 0),
			"time_zone": "Europe/Paris"})
		wantStatus(t, r, http.StatusCreated)
		manage := strings.TrimPrefix(fmt.Sprint(bodyOf(r)["manage_url"]), a.srv.URL)

		r = a.visit(t, "GET", manage, "")
		wantStatus(t, r, http.StatusOK)
		for _, want := range []string{"Your call with Alice Martin", "Tuesday 3 March 2026 at 10:00–10:30 (Europe/Paris)",
			`name="action" value="cancel"`, `name="action" value="reschedule"`, `<button name="start" value="` + tuesday(t, 14, 0) + `">14:00</button>`} {
			if !strings.Contains(string(r.Raw), want) {
				t.Errorf("manage page lacks %q:\n%s", want, r.Raw)
			}
		}
		if r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("Referrer-Policy %q; want no-referrer: the link is a credential", r.Header.Get("Referrer-Policy"))
		}
		r = a.visit(t, "GET", manage+"?format=json", "")
		wantStatus(t, r, http.StatusOK)
		var view struct {
			Status, With, Start string
			Slots               []struct{ Start string }
		}
		json.Unmarshal(r.Raw, &view)
		if view.Status != "booked" || view.With != "Alice Martin" || view.Start != "2026-03-03T10:00:00+01:00" || len(view.Slots) == 0 {
			t.Errorf("manage JSON = %s", r.Raw)
		}

		// Move it with the page's button (a form post).
		r = a.visit(t, "POST", manage, form("action", "reschedule", "start", tuesday(t, 14, 0), "tz", "Europe/Paris"))
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Raw), "Your call has moved") || !strings.Contains(string(r.Raw), "14:00–14:30") {
			t.Errorf("reschedule answer:\n%s", r.Raw)
		}
		list, _, _ := a.st.Meetings(ctx, store.MeetingsParams{})
		if len(list) != 1 || list[0].Sequence != 1 || list[0].Start.Format(time.RFC3339) != tuesday(t, 14, 0) {
			t.Errorf("meetings after the move: %+v", list)
		}
		// Cancel it in JSON; again changes nothing; moving it now is 409.
		r = a.bookJSON(t, manage, map[string]any{"action": "cancel"})
		if r.Status != http.StatusOK || bodyOf(r)["status"] != "cancelled" {
			t.Errorf("cancel: %d %s", r.Status, r.Raw)
		}
		before := a.bookingState(t)
		wantStatus(t, a.visit(t, "POST", manage, form("action", "cancel")), http.StatusOK)
		r = a.bookJSON(t, manage, map[string]any{"action": "reschedule", "start": tuesday(t, 15, 0)})
		if r.Status != http.StatusConflict {
			t.Errorf("moving a cancelled meeting: %d %s", r.Status, r.Raw)
		}
		if after := a.bookingState(t); after != before {
			t.Errorf("state changed:\n%s\nwant\n%s", after, before)
		}
		r = a.visit(t, "GET", manage, "")
		if !strings.Contains(string(r.Raw), "It is cancelled.") || strings.Contains(string(r.Raw), `value="cancel"`) {
			t.Errorf("page of a cancelled meeting:\n%s", r.Raw)
		}

		// A meeting under way cannot be changed.
		r = a.bookJSON(t, "/book/alice", map[string]any{"name": "Bo", "email": "bo@example.com", "start": tuesday(t, 11, 0)})
		wantStatus(t, r, http.StatusCreated)
		other := strings.TrimPrefix(fmt.Sprint(bodyOf(r)["manage_url"]), a.srv.URL)
		a.clk.Set(time.Date(2026, 3, 3, 11, 5, 0, 0, parisZone(t)))
		if r := a.bookJSON(t, other, map[string]any{"action": "cancel"}); r.Status != http.StatusConflict {
			t.Errorf("cancelling a meeting under way: %d %s", r.Status, r.Raw)
		}
	})
}

// TestBookingEmailsReachSMTP: the invitations of a booking reach an SMTP
// server as text/calendar parts that parse; the lead's email links to
// the manage page, which works.
func TestBookingEmailsReachSMTP(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		out := a.mailer(t)
		r := a.bookJSON(t, "/book/alice", map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "start": tuesday(t, 10, 0),
			"time_zone": "Europe/Paris"})
		wantStatus(t, r, http.StatusCreated)
		out.drain(t)
		msgs := out.smtp.Messages()
		if len(msgs) != 2 {
			t.Fatalf("SMTP got %d messages; want the lead's and alice's", len(msgs))
		}
		for _, msg := range msgs {
			parsed, err := mail.ReadMessage(bytes.NewReader(msg.Data))
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string][]byte{}
			readParts(t, parsed.Header.Get("Content-Type"), parsed.Body, parts)
			cal := parts["text/calendar"]
			cal2, err := ical.ParseCalendar(bytes.NewReader(cal))
			if err != nil || len(cal2.Events()) != 1 {
				t.Fatalf("to %v: the calendar part does not parse: %v\n%s", msg.To, err, cal)
			}
			if !bytes.Contains(cal, []byte("METHOD:REQUEST")) {
				t.Errorf("to %v: calendar without METHOD:REQUEST:\n%s", msg.To, cal)
			}
			if !slices.Equal(msg.To, []string{"ada@example.com"}) {
				continue
			}
			link := regexp.MustCompile(`href="` + regexp.QuoteMeta(a.srv.URL) + `(/m/[A-Za-z0-9_-]+)"`).FindSubmatch(parts["text/html"])
			if link == nil {
				t.Fatalf("the lead's email has no manage link:\n%s", parts["text/html"])
			}
			page := a.visit(t, "GET", string(link[1]), "")
			if page.Status != http.StatusOK || !strings.Contains(string(page.Raw), "Your call with Alice Martin") {
				t.Errorf("the email's manage link: %d\n%s", page.Status, page.Raw)
			}
		}
	})
}

// readParts collects the decoded leaf parts of a MIME body by type.
func readParts(t *testing.T, contentType string, body io.Reader, out map[string][]byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", contentType, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(body)
		if _, ok := out[mt]; !ok {
			out[mt] = b
		}
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, p)
		case "quoted-printable":
			r = quotedprintable.NewReader(p)
		}
		readParts(t, p.Header.Get("Content-Type"), r, out)
	}
}

// TestBookingPageLongWeek: a week with more slots than a page shows (every
// 5 minutes around the clock) is cut at a day's start, where the next
// page begins.
func TestBookingPageLongWeek(t *testing.T) {
	each(t, func(t *testing.T, a *api) {
		a.setUpBooking(t)
		allDay := map[string]any{}
		for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			allDay[d] = "00:00-24:00"
		}
		wantStatus(t, a.do(t, "PUT", "/api/v1/owners/night", withField(ownerJSON("night@example.com"), "hours", allDay)), http.StatusCreated)
		wantStatus(t, a.do(t, "PUT", "/api/v1/teams/allday", map[string]any{"time_zone": "Europe/Paris", "hours": allDay,
			"members": []string{"night"}, "booking": map[string]any{"length": "15m", "step": "5m", "buffer": "0", "notice": "0"}}), http.StatusCreated)
		r := a.visit(t, "GET", "/book/night?tz=Europe/Paris&from=2026-03-03&format=json", "")
		wantStatus(t, r, http.StatusOK)
		var page struct {
			Next  string `json:"next_from"`
			Slots []struct{ Start string }
		}
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatal(err)
		}
		// 288 slots a day: the first day whole, the second cut, so the page ends with the first.
		if len(page.Slots) != 288 || page.Next != "2026-03-04" || !strings.HasPrefix(page.Slots[287].Start, "2026-03-03T23:55") {
			t.Errorf("%d slots, next %s, last %s; want the 288 of 3 March and the next page from 4 March",
				len(page.Slots), page.Next, page.Slots[len(page.Slots)-1].Start)
		}
	})
}
