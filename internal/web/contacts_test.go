package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
)

type timeline struct {
	Events     []event.Event `json:"events"`
	NextCursor string        `json:"next_cursor"`
}

func eventTypes(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// The acceptance scenario: a lead arrives, arrives again with more, and its
// timeline tells both.
func TestUpsertContactAcceptance(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": " Ada@Example.COM ", "phone": "06 12 34 56 78",
			"country": "FR", "source": "webinar", "offer": "audit"})
		wantStatus(t, r, http.StatusCreated)
		first := decode[contact.Contact](t, r)
		if first.Email != "ada@example.com" || first.Phone != "+33612345678" {
			t.Errorf("created email, phone = %q, %q; want ada@example.com, +33612345678", first.Email, first.Phone)
		}
		if first.EmailDisplay != "Ada@Example.COM" || first.Country != "FR" || first.Status != "new" {
			t.Errorf("created = %+v; want email_display Ada@Example.COM, country FR, status new", first)
		}

		a.clk.Advance(time.Minute)
		r = a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": "ada@example.com", "company": "Analytical Engines"})
		wantStatus(t, r, http.StatusOK)
		second := decode[contact.Contact](t, r)
		if second.ID != first.ID {
			t.Errorf("second PUT id = %d; want %d (the same contact)", second.ID, first.ID)
		}
		if second.Company != "Analytical Engines" || second.Offer != "audit" || second.Phone != "+33612345678" {
			t.Errorf("merged = %+v; want company added and offer, phone kept", second)
		}

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline", first.ID), nil)
		wantStatus(t, r, http.StatusOK)
		tl := decode[timeline](t, r)
		if got, want := eventTypes(tl.Events), []string{"field_changed", "lead_created"}; !slices.Equal(got, want) {
			t.Fatalf("timeline types = %v; want %v (newest first)", got, want)
		}
		if got, want := string(tl.Events[1].Properties), `{"offer":"audit","source":"webinar"}`; got != want {
			t.Errorf("lead_created properties = %s; want %s", got, want)
		}
		if got, want := string(tl.Events[0].Properties), `{"changes":[{"field":"company","old":"","new":"Analytical Engines"}]}`; got != want {
			t.Errorf("field_changed properties = %s; want %s", got, want)
		}

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", first.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[contact.Contact](t, r); !reflect.DeepEqual(got, second) {
			t.Errorf("GET = %+v; want what the PUT returned, %+v", got, second)
		}
	})
}

func TestCreateContact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "POST", "/api/v1/contacts", map[string]any{"email": "ada@example.com", "tags": []string{"vip"}})
		wantStatus(t, r, http.StatusCreated)
		c := decode[contact.Contact](t, r)
		// education: a new lead's score puts it in the bottom band.
		if c.ID == 0 || c.Email != "ada@example.com" || !slices.Equal(c.Tags, []string{"vip", "education"}) {
			t.Errorf("created = %+v", c)
		}
		before := a.counts(t)
		r = a.do(t, "POST", "/api/v1/contacts", map[string]any{"email": "ADA@example.com", "company": "X"})
		wantProblem(t, r, http.StatusConflict, "")
		a.wantCounts(t, before)
	})
}

func TestPatchIsMergePatch(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com", "phone": "+33612345678",
			"first_name": "Ada", "company": "AE", "role": "CTO", "budget": 1000, "tags": []string{"a", "b"},
			"custom_fields": map[string]any{"plan": "pro", "seats": 3, "region": "eu"}})
		other := a.createContact(t, map[string]any{"email": "grace@example.com"})
		path := fmt.Sprintf("/api/v1/contacts/%d", c.ID)

		a.clk.Advance(time.Minute)
		r := a.do(t, "PATCH", path, `{"first_name": null, "company": "", "budget": null, "tags": ["c"],
			"custom_fields": {"seats": 4, "region": null, "team": "core"}, "last_name": "Lovelace"}`)
		wantStatus(t, r, http.StatusOK)
		got := decode[contact.Contact](t, r)
		if got.FirstName != "" || got.Company != "" || got.Budget != nil {
			t.Errorf("first_name, company, budget = %q, %q, %v; want all cleared", got.FirstName, got.Company, got.Budget)
		}
		if got.LastName != "Lovelace" || got.Role != "CTO" || got.Email != "ada@example.com" || got.Phone != "+33612345678" {
			t.Errorf("patched = %+v; want last_name set and absent fields kept", got)
		}
		if !slices.Equal(got.Tags, []string{"c"}) {
			t.Errorf("tags = %v; want [c] (replaced, not united)", got.Tags)
		}
		if want := map[string]any{"plan": "pro", "seats": 4.0, "team": "core"}; !reflect.DeepEqual(got.CustomFields, want) {
			t.Errorf("custom_fields = %v; want %v (merged per key, null removing region)", got.CustomFields, want)
		}
		if !got.UpdatedAt.Equal(c.UpdatedAt.Add(time.Minute)) {
			t.Errorf("updated_at = %v; want %v", got.UpdatedAt, c.UpdatedAt.Add(time.Minute))
		}
		r = a.do(t, "GET", path, nil)
		if stored := decode[contact.Contact](t, r); !reflect.DeepEqual(stored, got) {
			t.Errorf("GET after PATCH = %+v; want %+v", stored, got)
		}

		// The media type of RFC 7396 is accepted as well as application/json.
		r = a.do(t, "PATCH", path, `{"tags": [], "custom_fields": null}`, "Content-Type", "application/merge-patch+json")
		wantStatus(t, r, http.StatusOK)
		got = decode[contact.Contact](t, r)
		if len(got.Tags) != 0 || len(got.CustomFields) != 0 {
			t.Errorf("tags, custom_fields = %v, %v; want both empty", got.Tags, got.CustomFields)
		}

		r = a.do(t, "PATCH", path, `{"phone": null}`)
		wantStatus(t, r, http.StatusOK)
		if got := decode[contact.Contact](t, r); got.Phone != "" || got.Email != "ada@example.com" {
			t.Errorf("after clearing phone: email, phone = %q, %q; want ada@example.com and none", got.Email, got.Phone)
		}

		before := a.counts(t)
		for _, tc := range []struct {
			name, body, location string
		}{
			{"clearing the last identity", `{"email": null}`, "body.email"},
			{"clearing both identities", `{"email": "", "phone": null}`, "body.email"},
			{"another contact's email", `{"email": "Grace@Example.com"}`, "body.email"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "PATCH", path, tc.body)
				wantProblem(t, r, http.StatusUnprocessableEntity, tc.location)
				a.wantCounts(t, before)
			})
		}
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", other.ID), nil)
		if got := decode[contact.Contact](t, r); got.Email != "grace@example.com" {
			t.Errorf("other contact's email = %q; want grace@example.com", got.Email)
		}
	})
}

func TestEraseContact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "first_name": "Ada",
			"consents": []map[string]any{{"channel": "email", "purpose": "marketing", "status": "granted", "ip": "192.0.2.1"}}})
		grace := a.createContact(t, map[string]any{"email": "grace@example.com"})
		r := a.do(t, "POST", "/api/v1/events", map[string]any{"contact_id": ada.ID, "type": "page_viewed",
			"properties": map[string]any{"url": "https://example.com/pricing"}})
		wantStatus(t, r, http.StatusCreated)

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/export", ada.ID), nil)
		wantStatus(t, r, http.StatusOK)
		x := decode[store.Export](t, r)
		if x.Contact.ID != ada.ID || x.Contact.FirstName != "Ada" {
			t.Errorf("export contact = %+v; want Ada", x.Contact)
		}
		if len(x.Consents) != 1 || x.Consents[0].IP != "192.0.2.1" {
			t.Errorf("export consents = %+v; want the one granted from 192.0.2.1", x.Consents)
		}
		// The pricing page moved the lead up a score band: scoring's events follow.
		if got, want := eventTypes(x.Events), []string{"lead_created", "consent_changed", "page_viewed", "score_band_changed", "field_changed"}; !slices.Equal(got, want) {
			t.Errorf("export event types = %v; want %v (oldest first)", got, want)
		}

		adaPath := fmt.Sprintf("/api/v1/contacts/%d", ada.ID)
		r = a.do(t, "DELETE", adaPath, nil)
		wantStatus(t, r, http.StatusNoContent)
		if len(r.Raw) != 0 {
			t.Errorf("DELETE body = %q; want none", r.Raw)
		}
		for _, path := range []string{adaPath, adaPath + "/timeline", adaPath + "/export", adaPath + "/consents"} {
			wantProblem(t, a.do(t, "GET", path, nil), http.StatusNotFound, "")
		}
		wantProblem(t, a.do(t, "DELETE", adaPath, nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "PATCH", adaPath, `{"company": "X"}`), http.StatusNotFound, "")

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/export", grace.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[store.Export](t, r); got.Contact.Email != "grace@example.com" || len(got.Events) != 1 {
			t.Errorf("export of another contact = %+v; want grace with her lead_created", got)
		}
	})
}

type contactList struct {
	Contacts   []contact.Contact `json:"contacts"`
	NextCursor string            `json:"next_cursor"`
}

func TestListVisitsEveryContactOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		var want []int64
		for i := range 23 {
			c := a.createContact(t, map[string]any{"email": fmt.Sprintf("lead%d@example.com", i)})
			want = append(want, c.ID)
		}
		erased := a.createContact(t, map[string]any{"email": "gone@example.com"})
		wantStatus(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/contacts/%d", erased.ID), nil), http.StatusNoContent)

		var got []int64
		pages := 0
		for cursor := ""; ; {
			r := a.do(t, "GET", "/api/v1/contacts?limit=5&cursor="+cursor, nil)
			wantStatus(t, r, http.StatusOK)
			page := decode[contactList](t, r)
			pages++
			for _, c := range page.Contacts {
				got = append(got, c.ID)
			}
			if page.NextCursor == "" {
				break
			}
			if pages > 10 {
				t.Fatalf("more than 10 pages of 5 for 23 contacts; cursor %q", page.NextCursor)
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("ids over all pages = %v; want %v", got, want)
		}
		if pages != 5 {
			t.Errorf("pages = %d; want 5", pages)
		}
	})
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "phone": "+33612345678",
			"owner": "alice", "source": "webinar", "tags": []string{"vip", "fr"}})
		a.clk.Advance(time.Hour)
		since := a.clk.Now()
		grace := a.createContact(t, map[string]any{"email": "grace@example.com", "owner": "bob",
			"source": "webinar", "tags": []string{"fr"}})
		linus := a.createContact(t, map[string]any{"phone": "+33698765432", "owner": "alice", "source": "ads"})

		for _, tc := range []struct {
			query string
			want  []int64
		}{
			{"", []int64{ada.ID, grace.ID, linus.ID}},
			{"email=" + url.QueryEscape(" ADA@example.com"), []int64{ada.ID}},
			{"phone=" + url.QueryEscape("06 12 34 56 78"), []int64{ada.ID}},
			{"tag=fr", []int64{ada.ID, grace.ID}},
			{"tag=vip", []int64{ada.ID}},
			{"tag=none", nil},
			{"owner=alice", []int64{ada.ID, linus.ID}},
			{"source=webinar", []int64{ada.ID, grace.ID}},
			{"source=webinar&owner=alice", []int64{ada.ID}},
			{"tag=fr&owner=bob", []int64{grace.ID}},
			{"updated_since=" + url.QueryEscape(since.Format(time.RFC3339)), []int64{grace.ID, linus.ID}},
			{"email=nobody@example.com", nil},
		} {
			t.Run(tc.query, func(t *testing.T) {
				r := a.do(t, "GET", "/api/v1/contacts?"+tc.query, nil)
				wantStatus(t, r, http.StatusOK)
				var got []int64
				for _, c := range decode[contactList](t, r).Contacts {
					got = append(got, c.ID)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("GET /api/v1/contacts?%s ids = %v; want %v", tc.query, got, tc.want)
				}
			})
		}
	})
}

func TestTimelinePages(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		for i := range 6 {
			a.clk.Advance(time.Second)
			r := a.do(t, "POST", "/api/v1/events", map[string]any{"contact_id": c.ID, "type": fmt.Sprintf("step_%d", i)})
			wantStatus(t, r, http.StatusCreated)
		}
		var got []string
		cursor := ""
		for range 10 {
			r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline?limit=3&cursor=%s", c.ID, cursor), nil)
			wantStatus(t, r, http.StatusOK)
			page := decode[timeline](t, r)
			got = append(got, eventTypes(page.Events)...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		want := []string{"step_5", "step_4", "step_3", "step_2", "step_1", "step_0", "lead_created"}
		if !slices.Equal(got, want) {
			t.Errorf("timeline over pages = %v; want %v", got, want)
		}
	})
}

// Two copies of one form submitted at once must make one contact, not two
// and not an error.
func TestConcurrentUpsertsMakeOneContact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		const n = 8
		rs := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				rs[i] = a.do(t, "PUT", "/api/v1/contacts", fmt.Sprintf(`{"email": "ada@example.com", "tags": ["t%d"]}`, i))
			})
		}
		wg.Wait()
		created := 0
		ids := make([]int64, n)
		for i, r := range rs {
			switch r.Status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("PUT %d: status %d; want 200 or 201\n%s", i, r.Status, r.Raw)
			}
			if ids[i] = decode[contact.Contact](t, r).ID; ids[i] != ids[0] {
				t.Errorf("PUT %d: id %d; want %d, like the others", i, ids[i], ids[0])
			}
		}
		if created != 1 {
			t.Errorf("201 answers = %d; want 1", created)
		}
		r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", ids[0]), nil)
		if got := decode[contact.Contact](t, r); len(got.Tags) != n+1 { // and the score band's education tag
			t.Errorf("tags = %v; want all %d united", got.Tags, n)
		}
		if got := a.counts(t)["contacts"]; got != 1 {
			t.Errorf("contacts = %d; want 1", got)
		}
	})
}

// The API reads a body sent without a type, or with the form type curl -d
// puts on, as JSON.
func TestBodyWithoutJSONType(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for i, contentType := range []string{"", "application/x-www-form-urlencoded"} {
			r := a.do(t, "PUT", "/api/v1/contacts", fmt.Sprintf(`{"email": "lead%d@example.com"}`, i), "Content-Type", contentType)
			if r.Status != http.StatusCreated {
				t.Errorf("PUT with Content-Type %q: status %d; want 201\n%s", contentType, r.Status, r.Raw)
			}
		}
	})
}
