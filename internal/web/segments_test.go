package web_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/web"
)

// pricingTwice is the behaviour condition.
const pricingTwice = `count("page_viewed", "14d", event.url contains "/pricing") >= 2`

// segmentJobPath is where a segment build's progress is read.
const segmentJobPath = "/api/v1/jobs/%d"

// runSegmentJobs does what the server's job worker does: runs every pending
// build to the end.
func (a *api) runSegmentJobs(t *testing.T) {
	t.Helper()
	for range 100 {
		ok, err := a.st.RunJob(ctx, nil)
		if err != nil {
			t.Fatalf("RunJob: %v", err)
		}
		if !ok {
			return
		}
	}
	t.Fatal("RunJob still finds jobs after 100 runs")
}

// saveSegment sends a segment with POST and wants status want.
func (a *api) saveSegment(t *testing.T, body any, want int) store.SavedSegment {
	t.Helper()
	r := a.do(t, "POST", "/api/v1/segments", body)
	wantStatus(t, r, want)
	return decode[store.SavedSegment](t, r)
}

// segments lists every segment over the API.
func (a *api) segments(t *testing.T) []store.Segment {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/segments", nil)
	wantStatus(t, r, http.StatusOK)
	return decode[struct{ Segments []store.Segment }](t, r).Segments
}

func (a *api) segment(t *testing.T, name string) store.Segment {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/segments/"+name, nil)
	wantStatus(t, r, http.StatusOK)
	return decode[store.Segment](t, r)
}

// segmentsOf lists the names of the segments a contact is in.
func (a *api) segmentsOf(t *testing.T, id int64) []string {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/segments", id), nil)
	wantStatus(t, r, http.StatusOK)
	names := []string{}
	for _, s := range decode[struct{ Segments []store.ContactSegment }](t, r).Segments {
		names = append(names, s.Name)
	}
	return names
}

// membersOf reads every member of a segment, page by page.
func (a *api) membersOf(t *testing.T, name string) []int64 {
	t.Helper()
	ids := []int64{}
	var after int64
	for range 100 {
		r := a.do(t, "GET", fmt.Sprintf("/api/v1/segments/%s/members?after=%d&limit=1000", name, after), nil)
		wantStatus(t, r, http.StatusOK)
		page := decode[store.MemberPage](t, r)
		for _, m := range page.Members {
			ids = append(ids, m.ContactID)
		}
		if page.Next == 0 {
			return ids
		}
		after = page.Next
	}
	t.Fatal("more than 100 pages of members")
	return nil
}

// view sends page views of url for a contact, in one batch.
func (a *api) view(t *testing.T, id int64, url string, n int) {
	t.Helper()
	var events []map[string]any
	for range n {
		events = append(events, map[string]any{"contact_id": id, "type": "page_viewed", "properties": map[string]any{"url": url}})
	}
	r := a.do(t, "POST", "/api/v1/events/batch", map[string]any{"events": events})
	wantStatus(t, r, http.StatusOK)
	if res := decode[struct{ Accepted int }](t, r); res.Accepted != n {
		t.Fatalf("batch accepted %d of %d events\n%s", res.Accepted, n, r.Raw)
	}
}

// segmentSnapshot is what a refused request must leave as it was: the
// segments (with versions, statuses and member counts), every segment's
// version history, and the row counts (events included: membership changes
// are events).
func (a *api) segmentSnapshot(t *testing.T) string {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/segments", nil)
	wantStatus(t, r, http.StatusOK)
	var b strings.Builder
	b.Write(r.Raw)
	for _, s := range decode[struct{ Segments []store.Segment }](t, r).Segments {
		v := a.do(t, "GET", "/api/v1/segments/"+s.Name+"/versions", nil)
		wantStatus(t, v, http.StatusOK)
		b.WriteString("\n" + s.Name + ": ")
		b.Write(v.Raw)
		m := a.do(t, "GET", "/api/v1/segments/"+s.Name+"/members?limit=1000", nil)
		wantStatus(t, m, http.StatusOK)
		b.Write(m.Raw)
	}
	fmt.Fprintf(&b, "\n%v", a.counts(t))
	return b.String()
}

func TestSegmentCRUDOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rule := `country == "FR" and ` + pricingTwice
		created := a.saveSegment(t, map[string]any{"name": "fr-pricing", "description": "French, on pricing", "rule": rule}, http.StatusCreated)
		if !created.Changed || created.Segment.Version != 1 || created.Segment.Status != "building" || created.Segment.Kind != "dynamic" {
			t.Errorf("created = %+v; want version 1 of a dynamic segment, building", created)
		}
		if created.Job == nil || created.Job.ID == 0 || created.Job.Kind != "segment_build" || created.Job.Status != "pending" {
			t.Fatalf("created job = %+v; want a pending segment_build job", created.Job)
		}
		// Without a worker the build waits; its job says so.
		job := decode[store.Job](t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, created.Job.ID), nil))
		if job.Status != "pending" || job.Kind != "segment_build" {
			t.Errorf("job before the worker = %+v; want pending", job)
		}
		if s := a.segment(t, "fr-pricing"); s.Status != "building" {
			t.Errorf("status before the build = %q; want building", s.Status)
		}
		a.runSegmentJobs(t)
		job = decode[store.Job](t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, created.Job.ID), nil))
		if job.Status != "done" || job.FinishedAt == nil {
			t.Errorf("job after the worker = %+v; want done", job)
		}
		wantProblem(t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, 9999), nil), http.StatusNotFound, "")

		// The JSON form works as well.
		jsonForm := a.saveSegment(t, map[string]any{"name": "fr", "rule": map[string]any{"field": "country", "op": "==", "value": "FR"}}, http.StatusCreated)
		if jsonForm.Segment.Text != `country == "FR"` || jsonForm.Job == nil {
			t.Errorf("JSON form saved as %+v; want text country == \"FR\" and a build", jsonForm)
		}
		a.runSegmentJobs(t)
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "country": "FR"})

		list := a.segments(t)
		if len(list) != 2 || list[0].Name != "fr" || list[1].Name != "fr-pricing" {
			t.Fatalf("list = %+v; want fr and fr-pricing, by name", list)
		}
		if list[0].Members != 1 || list[1].Members != 0 || list[0].Status != "ready" || list[1].Status != "ready" {
			t.Errorf("list = %+v; want fr with 1 member, fr-pricing with none, both ready", list)
		}

		got := a.segment(t, "fr-pricing")
		if got.Description != "French, on pricing" || got.Version != 1 || got.Members != 0 {
			t.Errorf("segment = %+v", got)
		}
		if got.Rule == nil || len(got.Rule.All) != 2 || got.Rule.All[0].Field != "country" || got.Rule.All[1].Event != "page_viewed" ||
			got.Rule.All[1].Count == nil || *got.Rule.All[1].Count != 2 || got.Rule.All[1].Within == nil || time.Duration(*got.Rule.All[1].Within) != 14*24*time.Hour {
			t.Errorf("rule (JSON form) = %+v; want all of the country and the count", got.Rule)
		}
		// The text form is written back canonically (14 days are 2 weeks).
		if want := strings.Replace(rule, `"14d"`, `"2w"`, 1); got.Text != want {
			t.Errorf("text = %q; want %q", got.Text, want)
		}
		if a.segment(t, "fr").Members != 1 {
			t.Error("GET fr: want 1 member")
		}

		// A new version.
		changed := strings.Replace(rule, ">= 2", ">= 3", 1)
		r := a.do(t, "PUT", "/api/v1/segments/fr-pricing", map[string]any{"description": "French, on pricing", "rule": changed})
		wantStatus(t, r, http.StatusAccepted)
		v2 := decode[store.SavedSegment](t, r)
		if !v2.Changed || v2.Segment.Version != 2 || v2.Job == nil || v2.Segment.Status != "building" {
			t.Errorf("PUT changed rule = %+v; want version 2 with a build", v2)
		}
		a.runSegmentJobs(t)
		// The same again, in the text form, in the JSON form GET gives, or
		// with the name repeated: unchanged.
		cur := a.segment(t, "fr-pricing")
		for i, body := range []any{
			map[string]any{"description": "French, on pricing", "rule": changed},
			map[string]any{"description": "French, on pricing", "rule": cur.Text},
			map[string]any{"description": "French, on pricing", "rule": cur.Rule},
			map[string]any{"name": "fr-pricing", "description": "French, on pricing", "rule": changed},
		} {
			r := a.do(t, "PUT", "/api/v1/segments/fr-pricing", body)
			wantStatus(t, r, http.StatusOK)
			if same := decode[store.SavedSegment](t, r); same.Changed || same.Segment.Version != 2 || same.Job != nil {
				t.Errorf("PUT %d of the same definition = %+v; want unchanged version 2 and no build", i, same)
			}
		}
		hist := decode[struct{ Versions []store.SegmentVersion }](t, a.do(t, "GET", "/api/v1/segments/fr-pricing/versions", nil))
		if len(hist.Versions) != 2 || hist.Versions[0].Version != 2 || hist.Versions[1].Version != 1 {
			t.Fatalf("versions = %+v; want 2 then 1", hist.Versions)
		}
		if hist.Versions[0].Rule == nil || *hist.Versions[0].Rule.All[1].Count != 3 || hist.Versions[1].Rule == nil || *hist.Versions[1].Rule.All[1].Count != 2 ||
			!strings.HasSuffix(hist.Versions[0].Text, ">= 3") || !strings.HasSuffix(hist.Versions[1].Text, ">= 2") || hist.Versions[0].CreatedBy != "api key test" {
			t.Errorf("versions = %+v; want each with its text and who saved it", hist.Versions)
		}

		// POST of an existing name is a conflict and changes nothing.
		wantProblem(t, a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "fr-pricing", "rule": `country == "BE"`}), http.StatusConflict, "")
		if s := a.segment(t, "fr-pricing"); s.Version != 2 || !strings.HasSuffix(s.Text, ">= 3") {
			t.Errorf("after a conflicting POST: %+v; want version 2 unchanged", s)
		}

		// PUT creates too.
		r = a.do(t, "PUT", "/api/v1/segments/be", map[string]any{"rule": `country == "BE"`})
		wantStatus(t, r, http.StatusCreated)
		if s := decode[store.SavedSegment](t, r); s.Segment.Version != 1 || s.Segment.Name != "be" {
			t.Errorf("PUT of a new segment = %+v", s)
		}
		a.runSegmentJobs(t)

		// A segment another reads cannot be deleted.
		a.saveSegment(t, map[string]any{"name": "fr-reader", "rule": `segment("fr") and not empty(email)`}, http.StatusCreated)
		a.runSegmentJobs(t)
		p := wantProblem(t, a.do(t, "DELETE", "/api/v1/segments/fr", nil), http.StatusUnprocessableEntity, "")
		if !strings.Contains(fmt.Sprint(p), "fr-reader") {
			t.Errorf("refused delete = %+v; want the reader named", p)
		}
		if s := a.segment(t, "fr"); s.Members != 1 {
			t.Errorf("fr after a refused delete: %+v", s)
		}
		if got := a.segmentsOf(t, ada.ID); !slices.Equal(got, []string{"fr", "fr-reader"}) {
			t.Errorf("ada's segments = %v; want fr and fr-reader", got)
		}
		r = a.do(t, "DELETE", "/api/v1/segments/fr-reader", nil)
		wantStatus(t, r, http.StatusNoContent)
		wantProblem(t, a.do(t, "GET", "/api/v1/segments/fr-reader", nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "GET", "/api/v1/segments/fr-reader/versions", nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "GET", "/api/v1/segments/fr-reader/members", nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "DELETE", "/api/v1/segments/fr-reader", nil), http.StatusNotFound, "")
		wantStatus(t, a.do(t, "DELETE", "/api/v1/segments/fr", nil), http.StatusNoContent)
		if got := a.segmentsOf(t, ada.ID); len(got) != 0 {
			t.Errorf("ada's segments after the deletes = %v; want none", got)
		}
		if list := a.segments(t); len(list) != 2 || list[0].Name != "be" || list[1].Name != "fr-pricing" {
			t.Errorf("list after the deletes = %+v; want be and fr-pricing", list)
		}
		// A build whose segment is deleted before it runs is superseded.
		gone := a.saveSegment(t, map[string]any{"name": "gone", "rule": `country == "FR"`}, http.StatusCreated)
		wantStatus(t, a.do(t, "DELETE", "/api/v1/segments/gone", nil), http.StatusNoContent)
		a.runSegmentJobs(t)
		if job := decode[store.Job](t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, gone.Job.ID), nil)); job.Status != "superseded" {
			t.Errorf("job of a deleted segment = %+v; want superseded", job)
		}
		// A deleted name can be used again, from version 1.
		if s := a.saveSegment(t, map[string]any{"name": "fr", "rule": `country == "FR"`}, http.StatusCreated); s.Segment.Version != 1 {
			t.Errorf("re-created fr = %+v; want version 1", s)
		}
	})
}

// The example over HTTP: a contact is in the segment after its
// second view of the pricing page, not after the first, and leaves it when
// the first view is 14 days old.
func TestSegmentMembershipOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.saveSegment(t, map[string]any{"name": "pricing-twice", "rule": pricingTwice}, http.StatusCreated)
		a.runSegmentJobs(t)
		if s := a.segment(t, "pricing-twice"); s.Status != "ready" {
			t.Fatalf("status after the build = %q; want ready", s.Status)
		}
		var ids []int64
		for _, name := range []string{"ada", "bob", "cy", "dee"} {
			ids = append(ids, a.createContact(t, map[string]any{"email": name + "@example.com"}).ID)
		}
		ada := ids[0]
		a.view(t, ada, "https://x.test/pricing", 1)
		a.view(t, ada, "https://x.test/blog", 2)
		if got := a.segmentsOf(t, ada); len(got) != 0 {
			t.Fatalf("after one pricing view and two blog views ada is in %v; want none", got)
		}
		if got := a.membersOf(t, "pricing-twice"); len(got) != 0 {
			t.Fatalf("members after one view = %v; want none", got)
		}
		first := a.clk.Now()
		a.clk.Advance(time.Hour)
		a.view(t, ada, "https://x.test/pricing?plan=pro", 1)
		if got := a.segmentsOf(t, ada); !slices.Equal(got, []string{"pricing-twice"}) {
			t.Fatalf("after the second view ada is in %v; want pricing-twice", got)
		}
		if got := a.membersOf(t, "pricing-twice"); !slices.Equal(got, []int64{ada}) {
			t.Fatalf("members after the second view = %v; want [%d]", got, ada)
		}
		r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/segments", ada), nil)
		cs := decode[struct{ Segments []store.ContactSegment }](t, r).Segments
		if len(cs) != 1 || cs[0].Kind != "dynamic" || !cs[0].Since.Equal(a.clk.Now()) {
			t.Errorf("contact segments = %+v; want pricing-twice since the second view (%v)", cs, a.clk.Now())
		}

		// Three members, two a page.
		a.view(t, ids[1], "https://x.test/pricing", 2)
		a.view(t, ids[2], "https://x.test/pricing", 3)
		a.view(t, ids[3], "https://x.test/pricing", 1)
		r = a.do(t, "GET", "/api/v1/segments/pricing-twice/members?limit=2", nil)
		wantStatus(t, r, http.StatusOK)
		page := decode[store.MemberPage](t, r)
		if len(page.Members) != 2 || page.Members[0].ContactID != ids[0] || page.Members[1].ContactID != ids[1] || page.Next != ids[1] {
			t.Fatalf("first page = %+v; want %v and next %d", page, ids[:2], ids[1])
		}
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/segments/pricing-twice/members?limit=2&after=%d", page.Next), nil)
		wantStatus(t, r, http.StatusOK)
		page = decode[store.MemberPage](t, r)
		if len(page.Members) != 1 || page.Members[0].ContactID != ids[2] || page.Next != 0 {
			t.Fatalf("last page = %+v; want [%d] and no next", page, ids[2])
		}
		if !strings.Contains(string(r.Raw), `"members"`) || strings.Contains(string(r.Raw), `"next"`) {
			t.Errorf("last page = %s; want no next", r.Raw)
		}
		if got := a.segment(t, "pricing-twice").Members; got != 3 {
			t.Errorf("member count = %d; want 3", got)
		}
		for _, q := range []string{"limit=0", "limit=1001", "after=-1", "limit=x", "cursor=3"} {
			r := a.do(t, "GET", "/api/v1/segments/pricing-twice/members?"+q, nil)
			wantProblem(t, r, http.StatusUnprocessableEntity, "query."+strings.Split(q, "=")[0])
		}
		wantProblem(t, a.do(t, "GET", "/api/v1/contacts/9999/segments", nil), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "GET", "/api/v1/contacts/0/segments", nil), http.StatusUnprocessableEntity, "path.id")

		// A segment saved after the events is built from the log: its
		// members appear when the build is done.
		saved := a.saveSegment(t, map[string]any{"name": "pricing-thrice", "rule": strings.Replace(pricingTwice, ">= 2", ">= 3", 1)}, http.StatusCreated)
		if saved.Job == nil || saved.Job.Total != 4 {
			t.Errorf("build job = %+v; want 4 contacts to go through", saved.Job)
		}
		a.runSegmentJobs(t)
		if got := a.membersOf(t, "pricing-thrice"); !slices.Equal(got, []int64{ids[2]}) {
			t.Errorf("pricing-thrice after its build = %v; want [%d]", got, ids[2])
		}
		if job := decode[store.Job](t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, saved.Job.ID), nil)); job.Status != "done" || job.Done != 4 {
			t.Errorf("job = %+v; want done with 4 contacts", job)
		}

		// Events that arrive while a segment waits for its build count once it is built.
		waiting := a.saveSegment(t, map[string]any{"name": "blog-twice", "rule": `count("page_viewed", "14d", event.url contains "/blog") >= 2`}, http.StatusCreated)
		a.view(t, ids[3], "https://x.test/blog/a", 1)
		if s := a.segment(t, "blog-twice"); s.Status != "building" || s.Members != 0 {
			t.Errorf("blog-twice before its build = %+v; want building, no members", s)
		}
		a.runSegmentJobs(t)
		if got := a.membersOf(t, "blog-twice"); !slices.Equal(got, []int64{ada}) {
			t.Errorf("blog-twice after its build = %v; want [%d] (dee has one blog view)", got, ada)
		}
		a.view(t, ids[3], "https://x.test/blog/b", 1)
		if got := a.membersOf(t, "blog-twice"); !slices.Equal(got, []int64{ada, ids[3]}) {
			t.Errorf("blog-twice after dee's second view = %v; want [%d %d]", got, ada, ids[3])
		}
		if job := decode[store.Job](t, a.do(t, "GET", fmt.Sprintf(segmentJobPath, waiting.Job.ID), nil)); job.Status != "done" {
			t.Errorf("job = %+v; want done", job)
		}

		// An erased contact leaves every segment.
		wantStatus(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/contacts/%d", ids[3]), nil), http.StatusNoContent)
		if got := a.membersOf(t, "blog-twice"); !slices.Equal(got, []int64{ada}) {
			t.Errorf("blog-twice after dee's erasure = %v; want [%d]", got, ada)
		}
		if n := a.segment(t, "blog-twice").Members; n != 1 {
			t.Errorf("blog-twice member count after an erasure = %d; want 1", n)
		}

		// Ada's first view leaves the window 14 days after it: her timer takes her out.
		a.clk.Set(first.Add(14*24*time.Hour - time.Minute))
		if _, err := a.st.FireTimers(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if got := a.segmentsOf(t, ada); !slices.Contains(got, "pricing-twice") {
			t.Fatalf("a minute before 14 days ada is in %v; want still pricing-twice", got)
		}
		a.clk.Set(first.Add(14 * 24 * time.Hour))
		if _, err := a.st.FireTimers(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if got := a.segmentsOf(t, ada); slices.Contains(got, "pricing-twice") {
			t.Errorf("14 days after the first view ada is in %v; want out of pricing-twice", got)
		}
		if got := a.membersOf(t, "pricing-twice"); !slices.Equal(got, []int64{ids[1], ids[2]}) {
			t.Errorf("pricing-twice after ada's timer = %v; want [%d %d]", got, ids[1], ids[2])
		}
	})
}

func TestSegmentPreviewOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "country": "FR"})
		bob := a.createContact(t, map[string]any{"email": "bob@example.com", "country": "FR"})
		a.createContact(t, map[string]any{"email": "cy@example.com", "country": "DE"})
		a.view(t, ada.ID, "https://x.test/pricing", 2)
		a.view(t, bob.ID, "https://x.test/pricing", 1)
		before := a.segmentSnapshot(t)

		preview := func(body any) store.Preview {
			t.Helper()
			r := a.do(t, "POST", "/api/v1/segments/preview", body)
			wantStatus(t, r, http.StatusOK)
			return decode[store.Preview](t, r)
		}
		if p := preview(map[string]any{"rule": `country == "FR"`, "sample": 5}); p.Count != 2 || p.Contacts != 3 || !slices.Equal(p.Sample, []int64{ada.ID, bob.ID}) {
			t.Errorf("preview country == FR = %+v; want 2 of 3, sample [%d %d]", p, ada.ID, bob.ID)
		}
		if p := preview(map[string]any{"rule": `country == "FR"`, "sample": 1}); p.Count != 2 || !slices.Equal(p.Sample, []int64{ada.ID}) {
			t.Errorf("preview with sample 1 = %+v; want 2 matches, sample [%d]", p, ada.ID)
		}
		if p := preview(map[string]any{"rule": `country == "FR"`, "sample": 0}); p.Count != 2 || p.Sample == nil || len(p.Sample) != 0 {
			t.Errorf("preview with sample 0 = %+v; want 2 matches, an empty sample", p)
		}
		if p := preview(map[string]any{"rule": `country == "FR"`}); p.Count != 2 || len(p.Sample) != 2 {
			t.Errorf("preview with the default sample = %+v", p)
		}
		// Behaviour comes from the event log: nothing needs to be saved first.
		if p := preview(map[string]any{"rule": pricingTwice, "sample": 5}); p.Count != 1 || !slices.Equal(p.Sample, []int64{ada.ID}) {
			t.Errorf("preview %s = %+v; want ada alone", pricingTwice, p)
		}
		if p := preview(map[string]any{"rule": map[string]any{"any": []any{
			map[string]any{"field": "country", "op": "==", "value": "DE"},
			map[string]any{"event": "page_viewed", "where": `event.url contains "/pricing"`, "within": "14d", "op": ">=", "count": 2},
		}}, "sample": 5}); p.Count != 2 || p.Contacts != 3 {
			t.Errorf("preview of a JSON form = %+v; want 2 of 3", p)
		}
		if p := preview(map[string]any{"rule": `country == "JP"`, "sample": 5}); p.Count != 0 || p.Contacts != 3 || len(p.Sample) != 0 {
			t.Errorf("preview matching nobody = %+v", p)
		}

		const invalid = http.StatusUnprocessableEntity
		for _, tc := range []badInput{
			{"syntax error", "POST", "", `{"rule": "country == "}`, nil, invalid, "body.rule"},
			{"unknown field", "POST", "", `{"rule": "country == \"FR\" and\nshoe_size > 4"}`, nil, invalid, "body.rule.all[1].field"},
			{"unknown segment", "POST", "", `{"rule": "segment(\"nope\")"}`, nil, invalid, "body.rule.segment"},
			{"where that does not compile", "POST", "", `{"rule": "count(\"page_viewed\", \"14d\", nope == 1) >= 1"}`, nil, invalid, "body.rule.where"},
			{"sample above 100", "POST", "", `{"rule": "country == \"FR\"", "sample": 101}`, nil, invalid, "body.sample"},
			{"negative sample", "POST", "", `{"rule": "country == \"FR\"", "sample": -1}`, nil, invalid, "body.sample"},
			{"sample not a number", "POST", "", `{"rule": "country == \"FR\"", "sample": "5"}`, nil, http.StatusUnprocessableEntity, ""},
			{"missing rule", "POST", "", `{"sample": 5}`, nil, invalid, "body.rule"},
			{"null rule", "POST", "", `{"rule": null}`, nil, invalid, "body.rule"},
			{"empty rule", "POST", "", `{"rule": ""}`, nil, invalid, "body.rule"},
			{"empty JSON form", "POST", "", `{"rule": {}}`, nil, invalid, "body.rule"},
			{"unknown key", "POST", "", `{"rule": "country == \"FR\"", "limit": 5}`, nil, http.StatusUnprocessableEntity, ""},
			{"unknown key in the JSON form", "POST", "", `{"rule": {"field": "country", "op": "==", "value": "FR", "colour": 1}}`, nil, http.StatusUnprocessableEntity, ""},
			{"malformed", "POST", "", `{"rule": `, nil, http.StatusBadRequest, ""},
			{"not an object", "POST", "", `["country == \"FR\""]`, nil, http.StatusUnprocessableEntity, ""},
			{"data after the object", "POST", "", `{"rule": "country == \"FR\""} {}`, nil, http.StatusBadRequest, ""},
			{"bidi override", "POST", "", `{"rule": "country == \"F\u202eR\""}`, nil, invalid, "body.rule"},
			{"oversized", "POST", "", `{"rule": "country == \"` + strings.Repeat("x", 65<<10) + `\""}`, nil, http.StatusRequestEntityTooLarge, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, "/api/v1/segments/preview", tc.body)
				p := wantProblem(t, r, tc.status, tc.location)
				if tc.name == "unknown field" && !strings.Contains(fmt.Sprint(p), "line 2, column 11: ") {
					t.Errorf("problem = %+v; want the place of shoe_size > 4 (line 2, column 11)", p)
				}
				if tc.name == "unknown key" && !strings.Contains(p.Detail, "limit") {
					t.Errorf("problem = %+v; want the unknown key named", p)
				}
			})
		}
		if after := a.segmentSnapshot(t); after != before {
			t.Errorf("previews changed the store:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// A preview reads the saved segments' memberships: a draft rule reading
// segment("draft") must preview the saved segment named draft like any
// other name. The store compiles the draft under the name "draft", so the
// reference is taken for a cycle and the preview fails with a 500.
func TestSegmentPreviewOfARuleReadingASegmentNamedDraft(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "country": "FR"})
		a.createContact(t, map[string]any{"email": "bob@example.com", "country": "DE"})
		for _, name := range []string{"drafts", "draft"} {
			a.saveSegment(t, map[string]any{"name": name, "rule": `country == "FR"`}, http.StatusCreated)
		}
		a.runSegmentJobs(t)
		r := a.do(t, "POST", "/api/v1/segments/preview", map[string]any{"rule": `segment("drafts")`, "sample": 5})
		wantStatus(t, r, http.StatusOK)
		if p := decode[store.Preview](t, r); p.Count != 1 || !slices.Equal(p.Sample, []int64{ada.ID}) {
			t.Errorf("preview of segment(\"drafts\") = %+v; want ada alone", p)
		}
		r = a.do(t, "POST", "/api/v1/segments/preview", map[string]any{"rule": `segment("draft")`, "sample": 5})
		if r.Status != http.StatusOK {
			t.Fatalf("preview of segment(\"draft\") with a saved segment named draft: status %d; want 200\n%s", r.Status, r.Raw)
		}
		if p := decode[store.Preview](t, r); p.Count != 1 || !slices.Equal(p.Sample, []int64{ada.ID}) {
			t.Errorf("preview of segment(\"draft\") = %+v; want ada alone", p)
		}
	})
}

func TestStaticListsOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		list := a.saveSegment(t, map[string]any{"name": "vip-list", "kind": "static", "description": "hand-picked"}, http.StatusCreated)
		if list.Segment.Kind != "static" || list.Segment.Status != "ready" || list.Job != nil || list.Segment.Rule != nil {
			t.Errorf("static list = %+v; want ready at once, with no rule and no build", list)
		}
		a.saveSegment(t, map[string]any{"name": "vip-fr", "rule": `segment("vip-list") and country == "FR"`}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "vip-fr-pricing", "rule": `segment("vip-fr") and ` + pricingTwice}, http.StatusCreated)
		a.runSegmentJobs(t)
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "country": "FR"})
		bob := a.createContact(t, map[string]any{"email": "bob@example.com", "country": "FR"})
		cy := a.createContact(t, map[string]any{"email": "cy@example.com", "country": "DE"})
		a.view(t, ada.ID, "https://x.test/pricing", 2)

		type result struct {
			Changed       int
			Unchanged     int
			Unknown       []int64
			UnknownEmails []string `json:"unknown_emails"`
		}
		r := a.do(t, "POST", "/api/v1/segments/vip-list/members", map[string]any{
			"contact_ids": []int64{ada.ID, 9999}, "emails": []string{"BOB@example.com", "nobody@example.com"}})
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); res.Changed != 2 || res.Unchanged != 0 || !slices.Equal(res.Unknown, []int64{9999}) ||
			!slices.Equal(res.UnknownEmails, []string{"nobody@example.com"}) {
			t.Errorf("add = %+v; want 2 added, 9999 and nobody@ reported unknown", res)
		}
		if got := a.membersOf(t, "vip-list"); !slices.Equal(got, []int64{ada.ID, bob.ID}) {
			t.Fatalf("vip-list = %v; want ada and bob", got)
		}
		// The segments that read the list follow it, through two levels.
		if got := a.membersOf(t, "vip-fr"); !slices.Equal(got, []int64{ada.ID, bob.ID}) {
			t.Errorf("vip-fr = %v; want ada and bob", got)
		}
		if got := a.segmentsOf(t, ada.ID); !slices.Equal(got, []string{"vip-fr", "vip-fr-pricing", "vip-list"}) {
			t.Errorf("ada is in %v; want vip-fr, vip-fr-pricing and vip-list", got)
		}
		r = a.do(t, "POST", "/api/v1/segments/vip-list/members", map[string]any{"contact_ids": []int64{ada.ID, bob.ID}})
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); res.Changed != 0 || res.Unchanged != 2 {
			t.Errorf("adding members again = %+v; want 2 unchanged", res)
		}

		// CSV: a header, emails and ids.
		csv := fmt.Sprintf("email\r\ncy@example.com\r\n%d\r\n\r\n\"nobody@example.com\"\r\n", ada.ID)
		r = a.do(t, "POST", "/api/v1/segments/vip-list/members", csv, "Content-Type", "text/csv")
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); res.Changed != 1 || res.Unchanged != 1 || !slices.Equal(res.UnknownEmails, []string{"nobody@example.com"}) {
			t.Errorf("CSV add = %+v; want cy added, ada unchanged, nobody@ unknown", res)
		}
		if got := a.membersOf(t, "vip-list"); !slices.Equal(got, []int64{ada.ID, bob.ID, cy.ID}) {
			t.Errorf("vip-list after the CSV = %v; want ada, bob and cy", got)
		}
		if got := a.membersOf(t, "vip-fr"); !slices.Equal(got, []int64{ada.ID, bob.ID}) {
			t.Errorf("vip-fr after the CSV = %v; want still ada and bob (cy is in DE)", got)
		}
		if n := a.segment(t, "vip-list").Members; n != 3 {
			t.Errorf("vip-list member count = %d; want 3", n)
		}

		// Removing.
		r = a.do(t, "DELETE", fmt.Sprintf("/api/v1/segments/vip-list/members/%d", ada.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); res.Changed != 1 {
			t.Errorf("remove = %+v; want 1 changed", res)
		}
		if got := a.segmentsOf(t, ada.ID); len(got) != 0 {
			t.Errorf("ada after leaving the list is in %v; want none", got)
		}
		r = a.do(t, "DELETE", fmt.Sprintf("/api/v1/segments/vip-list/members/%d", ada.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); res.Changed != 0 || res.Unchanged != 1 {
			t.Errorf("removing again = %+v; want 1 unchanged", res)
		}
		r = a.do(t, "DELETE", "/api/v1/segments/vip-list/members/9999", nil)
		wantStatus(t, r, http.StatusOK)
		if res := decode[result](t, r); !slices.Equal(res.Unknown, []int64{9999}) {
			t.Errorf("removing an unknown contact = %+v; want it reported", res)
		}
		if got := a.membersOf(t, "vip-list"); !slices.Equal(got, []int64{bob.ID, cy.ID}) {
			t.Errorf("vip-list = %v; want bob and cy", got)
		}
		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/segments", bob.ID), nil)
		if cs := decode[struct{ Segments []store.ContactSegment }](t, r).Segments; len(cs) != 2 || cs[0].Name != "vip-fr" || cs[0].Kind != "dynamic" ||
			cs[1].Name != "vip-list" || cs[1].Kind != "static" {
			t.Errorf("bob's segments = %+v; want vip-fr (dynamic) and vip-list (static)", cs)
		}

		// Only lists take members; refusals change nothing.
		before := a.segmentSnapshot(t)
		const invalid = http.StatusUnprocessableEntity
		members := "/api/v1/segments/vip-list/members"
		many := make([]int64, 10001)
		for i := range many {
			many[i] = int64(i + 1)
		}
		manyCSV := "email\n" + strings.Repeat("1\n", 10001)
		for _, tc := range []badInput{
			{"add to a dynamic segment", "POST", "/api/v1/segments/vip-fr/members", map[string]any{"contact_ids": []int64{cy.ID}}, nil, http.StatusConflict, ""},
			{"remove from a dynamic segment", "DELETE", fmt.Sprintf("/api/v1/segments/vip-fr/members/%d", bob.ID), nil, nil, http.StatusConflict, ""},
			{"add to an unknown list", "POST", "/api/v1/segments/nope/members", map[string]any{"contact_ids": []int64{cy.ID}}, nil, http.StatusNotFound, ""},
			{"remove from an unknown list", "DELETE", "/api/v1/segments/nope/members/1", nil, nil, http.StatusNotFound, ""},
			{"remove contact 0", "DELETE", members + "/0", nil, nil, invalid, "path.contact_id"},
			{"contact id 0", "POST", members, `{"contact_ids": [0]}`, nil, invalid, "body.contact_ids[0]"},
			{"negative contact id", "POST", members, fmt.Sprintf(`{"contact_ids": [%d, -3]}`, ada.ID), nil, invalid, "body.contact_ids[1]"},
			{"negative id in CSV", "POST", members, "id\n-3\n", []string{"Content-Type", "text/csv"}, invalid, ""},
			{"contact id a string", "POST", members, `{"contact_ids": ["1"]}`, nil, http.StatusUnprocessableEntity, ""},
			{"not an email", "POST", members, `{"emails": ["not an email"]}`, nil, invalid, "body.emails[0]"},
			{"nothing", "POST", members, `{}`, nil, invalid, "body.contact_ids"},
			{"empty lists", "POST", members, `{"contact_ids": [], "emails": []}`, nil, invalid, "body.contact_ids"},
			{"empty CSV", "POST", members, "email\n\n", []string{"Content-Type", "text/csv"}, invalid, ""},
			{"more than 10,000", "POST", members, map[string]any{"contact_ids": many}, nil, invalid, "body.contact_ids"},
			{"more than 10,000 in CSV", "POST", members, manyCSV, []string{"Content-Type", "text/csv"}, invalid, ""},
			{"unknown key", "POST", members, `{"contact_ids": [1], "ids": [2]}`, nil, http.StatusUnprocessableEntity, ""},
			{"malformed", "POST", members, `{"contact_ids": [1`, nil, http.StatusBadRequest, ""},
			{"oversized", "POST", members, `{"emails": ["` + strings.Repeat("a", 1<<20) + `@example.com"]}`, nil, http.StatusRequestEntityTooLarge, ""},
			{"delete a list another reads", "DELETE", "/api/v1/segments/vip-list", nil, nil, invalid, ""},
			{"a rule on a list", "PUT", "/api/v1/segments/vip-list", map[string]any{"kind": "static", "rule": `country == "FR"`}, nil, invalid, "body.rule"},
			{"a list made dynamic", "PUT", "/api/v1/segments/vip-list", map[string]any{"rule": `country == "FR"`}, nil, invalid, ""},
			{"a dynamic segment made a list", "PUT", "/api/v1/segments/vip-fr", map[string]any{"kind": "static"}, nil, invalid, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantProblem(t, a.do(t, tc.method, tc.path, tc.body, tc.header...), tc.status, tc.location)
				if after := a.segmentSnapshot(t); after != before {
					t.Errorf("refused request changed the store:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

// Spreadsheets save "CSV UTF-8" with a byte order mark before the header:
// the header must still be read as one, not refused as a bad email.
func TestStaticListCSVWithAByteOrderMark(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		a.saveSegment(t, map[string]any{"name": "vip-list", "kind": "static"}, http.StatusCreated)
		r := a.do(t, "POST", "/api/v1/segments/vip-list/members", "\ufeffemail\r\nada@example.com\r\n", "Content-Type", "text/csv")
		wantStatus(t, r, http.StatusOK)
		if got := a.membersOf(t, "vip-list"); !slices.Equal(got, []int64{ada.ID}) {
			t.Errorf("vip-list = %v; want [%d]", got, ada.ID)
		}
	})
}

// TestSegmentBadInputIsRefused sends the segment endpoints malformed,
// missing, oversized and hostile input; each gets a problem naming the
// fault, and nothing changes.
func TestSegmentBadInputIsRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.createContact(t, map[string]any{"email": "ada@example.com", "country": "FR"})
		a.saveSegment(t, map[string]any{"name": "cycle-a", "rule": `country == "FR"`}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "cycle-b", "rule": `segment("cycle-a")`}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "list", "kind": "static"}, http.StatusCreated)
		a.runSegmentJobs(t)

		const (
			bad      = http.StatusBadRequest
			invalid  = http.StatusUnprocessableEntity
			tooLarge = http.StatusRequestEntityTooLarge
			segs     = "/api/v1/segments"
			fr       = `country == \"FR\"`
		)
		seg := func(fields string) string { return `{"name": "new"` + fields + `}` }
		many := strings.TrimSuffix(strings.Repeat(`country == \"FR\" or `, 201), " or ")
		cases := []badInput{
			{"create: malformed JSON", "POST", segs, `{"name":`, nil, bad, ""},
			{"create: trailing garbage", "POST", segs, `{"name": "new", "rule": "` + fr + `"`, nil, bad, ""},
			{"create: not an object", "POST", segs, `["new"]`, nil, invalid, ""},
			{"create: empty body", "POST", segs, ``, nil, bad, ""},
			{"create: name a number", "POST", segs, `{"name": 5, "rule": "` + fr + `"}`, nil, invalid, ""},
			{"create: missing name", "POST", segs, `{"rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: missing rule", "POST", segs, seg(``), nil, invalid, "body.rule"},
			{"create: null rule", "POST", segs, seg(`, "rule": null`), nil, invalid, "body.rule"},
			{"create: empty rule", "POST", segs, seg(`, "rule": ""`), nil, invalid, "body.rule"},
			{"create: empty JSON form", "POST", segs, seg(`, "rule": {}`), nil, invalid, "body.rule"},
			{"create: name with a space and capitals", "POST", segs, `{"name": "A B", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: name of 65 characters", "POST", segs, `{"name": "` + strings.Repeat("a", 65) + `", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: name with a path", "POST", segs, `{"name": "../x", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: name with a slash", "POST", segs, `{"name": "a/b", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: name not ASCII", "POST", segs, `{"name": "café", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"create: unknown key", "POST", segs, seg(`, "rule": "` + fr + `", "colour": "red"`), nil, invalid, ""},
			{"create: unknown key in the JSON form", "POST", segs, seg(`, "rule": {"field": "country", "op": "==", "value": "FR", "colour": 1}`), nil, invalid, ""},
			{"create: unknown key nested in the JSON form", "POST", segs, seg(`, "rule": {"all": [{"field": "country", "op": "==", "value": "FR", "colour": 1}]}`), nil, invalid, ""},
			{"create: JSON form mixing kinds", "POST", segs, seg(`, "rule": {"field": "country", "op": "==", "value": "FR", "segment": "list"}`), nil, invalid, "body.rule"},
			{"create: unknown kind", "POST", segs, seg(`, "kind": "smart", "rule": "` + fr + `"`), nil, invalid, "body.kind"},
			{"create: a list with a rule", "POST", segs, seg(`, "kind": "static", "rule": "` + fr + `"`), nil, invalid, "body.rule"},
			{"create: unknown contact field", "POST", segs, seg(`, "rule": "shoe_size > 4"`), nil, invalid, "body.rule.field"},
			{"create: unknown contact field in the JSON form", "POST", segs, seg(`, "rule": {"field": "shoe_size", "op": ">", "value": 4}`), nil, invalid, "body.rule.field"},
			{"create: unknown score", "POST", segs, seg(`, "rule": "score.luck > 4"`), nil, invalid, "body.rule.field"},
			{"create: operator the field does not take", "POST", segs, seg(`, "rule": "tags > 4"`), nil, invalid, "body.rule.op"},
			{"create: value of the wrong type", "POST", segs, seg(`, "rule": "budget == \"lots\""`), nil, invalid, "body.rule.value"},
			{"create: syntax error", "POST", segs, seg(`, "rule": "country =="`), nil, invalid, "body.rule"},
			{"create: unknown function", "POST", segs, seg(`, "rule": "frobnicate(country)"`), nil, invalid, "body.rule"},
			{"create: unknown segment", "POST", segs, seg(`, "rule": "segment(\"nope\")"`), nil, invalid, "body.rule.segment"},
			{"create: reads itself", "POST", segs, seg(`, "rule": "segment(\"new\")"`), nil, invalid, ""},
			{"create: window too long", "POST", segs, seg(`, "rule": "count(\"page_viewed\", \"1000d\") >= 1"`), nil, invalid, "body.rule.within"},
			{"create: count too large", "POST", segs, seg(`, "rule": "count(\"page_viewed\", \"14d\") >= 1001"`), nil, invalid, "body.rule.count"},
			{"create: where that does not compile", "POST", segs, seg(`, "rule": "count(\"page_viewed\", \"14d\", nope == 1) >= 1"`), nil, invalid, "body.rule.where"},
			{"create: where that does not compile in the JSON form", "POST", segs, seg(`, "rule": {"event": "page_viewed", "where": "event.url contans \"x\""}`), nil, invalid, "body.rule.where"},
			{"create: 201 conditions", "POST", segs, seg(`, "rule": "` + many + `"`), nil, invalid, ""},
			{"create: nested deeper than 16", "POST", segs, seg(`, "rule": "` + strings.Repeat("not (", 18) + fr + strings.Repeat(")", 18) + `"`), nil, invalid, ""},
			{"create: rule text over 20,000 characters", "POST", segs, seg(`, "rule": "country == \"` + strings.Repeat("x", 20001) + `\""`), nil, invalid, "body.rule"},
			{"create: control character in the description", "POST", segs, seg(`, "description": "a\u0007b", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: escape in the description", "POST", segs, seg(`, "description": "a\u001b[2Jb", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: newline in the description", "POST", segs, seg(`, "description": "a\nb", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: C1 control in the description", "POST", segs, seg(`, "description": "a\u009bb", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: bidi override in the description", "POST", segs, seg(`, "description": "a\u202eb", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: bidi isolate in the description", "POST", segs, seg(`, "description": "a\u2067b", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: description over 500 bytes", "POST", segs, seg(`, "description": "` + strings.Repeat("d", 501) + `", "rule": "` + fr + `"`), nil, invalid, "body.description"},
			{"create: control character in the rule", "POST", segs, seg(`, "rule": "country == \"FR\"\u001b"`), nil, invalid, "body.rule"},
			{"create: NUL in the rule", "POST", segs, seg(`, "rule": "country == \"FR\u0000\""`), nil, invalid, "body.rule"},
			{"create: bidi override in the rule", "POST", segs, seg(`, "rule": "country == \"F\u202eR\""`), nil, invalid, "body.rule"},
			{"create: bidi isolate in the rule", "POST", segs, seg(`, "rule": "country == \"FR\" \u2066"`), nil, invalid, "body.rule"},
			{"create: bidi override in a where of the JSON form", "POST", segs, seg(`, "rule": {"event": "page_viewed", "where": "event.url == \"\u202e\""}`), nil, invalid, "body.rule.where"},
			{"create: oversized", "POST", segs, seg(`, "rule": "country == \"` + strings.Repeat("x", 65<<10) + `\""`), nil, tooLarge, ""},
			{"create: existing name", "POST", segs, `{"name": "cycle-a", "rule": "country == \"BE\""}`, nil, http.StatusConflict, ""},
			{"create: cycle", "PUT", segs + "/cycle-a", `{"rule": "segment(\"cycle-b\")"}`, nil, invalid, ""},
			{"put: name differs from the path", "PUT", segs + "/cycle-a", `{"name": "cycle-b", "rule": "` + fr + `"}`, nil, invalid, "body.name"},
			{"put: bad name in the path", "PUT", segs + "/A%20B", `{"rule": "` + fr + `"}`, nil, invalid, ""},
			{"put: path in the name", "PUT", segs + "/..%2Fx", `{"rule": "` + fr + `"}`, nil, invalid, ""},
			{"put: name of 65 characters in the path", "PUT", segs + "/" + strings.Repeat("a", 65), `{"rule": "` + fr + `"}`, nil, invalid, ""},
			{"put: malformed", "PUT", segs + "/cycle-a", `{"rule": `, nil, bad, ""},
			{"put: unknown key", "PUT", segs + "/cycle-a", `{"rule": "` + fr + `", "version": 3}`, nil, invalid, ""},
			{"put: unknown contact field", "PUT", segs + "/cycle-a", `{"rule": "shoe_size > 4"}`, nil, invalid, "body.rule.field"},
			{"put: bidi override in the description", "PUT", segs + "/cycle-a", `{"description": "\u202e", "rule": "` + fr + `"}`, nil, invalid, "body.description"},
			{"put: oversized", "PUT", segs + "/cycle-a", `{"description": "` + strings.Repeat("x", 65<<10) + `", "rule": "` + fr + `"}`, nil, tooLarge, ""},
			{"put: missing rule", "PUT", segs + "/cycle-a", `{"description": "x"}`, nil, invalid, "body.rule"},
			{"delete: read by another", "DELETE", segs + "/cycle-a", nil, nil, invalid, ""},
			{"delete: unknown", "DELETE", segs + "/nope", nil, nil, http.StatusNotFound, ""},
			{"get: unknown", "GET", segs + "/nope", nil, nil, http.StatusNotFound, ""},
			{"get: name of 65 characters", "GET", segs + "/" + strings.Repeat("a", 65), nil, nil, invalid, "path.name"},
			{"versions: unknown", "GET", segs + "/nope/versions", nil, nil, http.StatusNotFound, ""},
			{"job: unknown", "GET", fmt.Sprintf(segmentJobPath, 9999), nil, nil, http.StatusNotFound, ""},
			{"job: id 0", "GET", fmt.Sprintf(segmentJobPath, 0), nil, nil, invalid, "path.id"},
			{"list: unknown query parameter", "GET", segs + "?kind=static", nil, nil, invalid, "query.kind"},
		}
		before := a.segmentSnapshot(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, tc.body, tc.header...)
				wantProblem(t, r, tc.status, tc.location)
				if after := a.segmentSnapshot(t); after != before {
					t.Errorf("refused request changed the store:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

// The problems of a rule carry their place: the field at fault, its line
// and column in the text form, and the path into the JSON form.
func TestSegmentProblemsCarryTheirPlace(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "shoes", "rule": "shoe_size > 4"})
		p := wantProblem(t, r, http.StatusUnprocessableEntity, "body.rule.field")
		// The place of a comparison is its operator, as in the segment package.
		if len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0].Message, "line 1, column 11: ") || !strings.Contains(p.Errors[0].Message, `"shoe_size"`) {
			t.Errorf("problem = %+v; want shoe_size named, at line 1, column 11", p)
		}
		// Every problem at once, each at its place.
		r = a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "shoes",
			"rule": "country == \"FR\"\n  and shoe_size > 4\n  and count(\"page_viewed\", \"14d\", nope == 1) >= 1"})
		p = wantProblem(t, r, http.StatusUnprocessableEntity, "body.rule.all[1].field")
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.rule.all[2].where")
		msgs := fmt.Sprint(p.Errors)
		if !strings.Contains(msgs, "line 2, column 17: ") || !strings.Contains(msgs, "line 3, column 46: ") {
			t.Errorf("problems = %s; want line 2, column 17 and line 3, column 46", msgs)
		}
		// The JSON form's problems have its path.
		r = a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "shoes", "rule": map[string]any{"any": []any{
			map[string]any{"field": "country", "op": "==", "value": "FR"},
			map[string]any{"field": "shoe_size", "op": ">", "value": 4},
		}}})
		wantProblem(t, r, http.StatusUnprocessableEntity, "body.rule.any[1].field")
		// A cycle names the segments on it.
		a.saveSegment(t, map[string]any{"name": "a", "rule": `country == "FR"`}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "b", "rule": `segment("a")`}, http.StatusCreated)
		p = wantProblem(t, a.do(t, "PUT", "/api/v1/segments/a", map[string]any{"rule": `segment("b")`}), http.StatusUnprocessableEntity, "")
		if msgs := fmt.Sprint(p.Errors); !strings.Contains(msgs, "cycle") {
			t.Errorf("cycle problem = %s; want the cycle named", msgs)
		}
		if s := a.segment(t, "a"); s.Version != 1 || s.Text != `country == "FR"` {
			t.Errorf("a after the refused cycle = %+v; want version 1 unchanged", s)
		}
	})
}

// Control and bidirectional characters are refused in a rule whichever form
// it comes in: the text form refuses them (see TestSegmentBadInputIsRefused),
// so the same values in the JSON form, or escaped in the text form, must be
// refused too. They are stored and served back as they came.
func TestSegmentRuleValuesRefuseControlAndBidiCharacters(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for _, tc := range []struct {
			name string
			rule any
		}{
			{"bidi override in a JSON form value", map[string]any{"field": "company", "op": "==", "value": "Acme\u202e"}},
			{"escape in a JSON form value", map[string]any{"field": "company", "op": "==", "value": "Acme\x1b[2J"}},
			{"bidi override in a JSON form list", map[string]any{"field": "country", "op": "in", "value": []any{"FR", "\u2066BE"}}},
			{"escaped bidi override in a text form value", `company == "Acme\u202e"`},
			{"escaped escape in a text form value", `company == "Acme\x1b[2J"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "hostile", "rule": tc.rule})
				if r.Status != http.StatusUnprocessableEntity {
					t.Errorf("status = %d; want 422\n%s", r.Status, r.Raw)
				}
				if r.Status < 300 {
					wantStatus(t, a.do(t, "DELETE", "/api/v1/segments/hostile", nil), http.StatusNoContent)
				}
			})
		}
	})
}

// Every segment route needs an API key.
func TestSegmentRoutesNeedAKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		a.saveSegment(t, map[string]any{"name": "list", "kind": "static"}, http.StatusCreated)
		saved := a.saveSegment(t, map[string]any{"name": "fr", "rule": `country == "FR"`}, http.StatusCreated)
		before := a.segmentSnapshot(t)
		for _, rt := range []struct{ method, path, body string }{
			{"GET", "/api/v1/segments", ""},
			{"POST", "/api/v1/segments", `{"name": "x", "rule": "country == \"FR\""}`},
			{"POST", "/api/v1/segments/preview", `{"rule": "country == \"FR\""}`},
			{"GET", "/api/v1/segments/fr", ""},
			{"PUT", "/api/v1/segments/fr", `{"rule": "country == \"BE\""}`},
			{"DELETE", "/api/v1/segments/fr", ""},
			{"GET", "/api/v1/segments/fr/versions", ""},
			{"GET", "/api/v1/segments/fr/members", ""},
			{"POST", "/api/v1/segments/list/members", fmt.Sprintf(`{"contact_ids": [%d]}`, ada.ID)},
			{"DELETE", fmt.Sprintf("/api/v1/segments/list/members/%d", ada.ID), ""},
			{"GET", fmt.Sprintf(segmentJobPath, saved.Job.ID), ""},
			{"GET", fmt.Sprintf("/api/v1/contacts/%d/segments", ada.ID), ""},
		} {
			var body any
			if rt.body != "" {
				body = rt.body
			}
			for _, auth := range []string{"", "Bearer nrt_wrong", "Basic " + a.key} {
				r := a.send(t, rt.method, rt.path, body, "Authorization", auth)
				wantProblem(t, r, http.StatusUnauthorized, "")
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s with %q: no WWW-Authenticate", rt.method, rt.path, auth)
				}
			}
		}
		if after := a.segmentSnapshot(t); after != before {
			t.Errorf("unauthenticated requests changed the store:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// The segment routes must not break the server: web.New registers every
// route on one http.ServeMux, which panics on conflicting patterns (GET
// /api/v1/segments/jobs/{id} against GET /api/v1/segments/{name}/versions
// and /api/v1/segments/{name}/members).
func TestSegmentRoutesRegister(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store, clk *clock.Fake) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("web.New panics: %v", p)
			}
		}()
		_ = web.New(web.Config{Store: st, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	})
}

// The segment write endpoints read their JSON bodies themselves: huma must
// not first validate them against the schema of a raw []byte body (a
// string), which refuses every JSON object with 422 "expected string".
func TestSegmentWritesAcceptJSONObjects(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		for _, rq := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"POST", "/api/v1/segments", map[string]any{"name": "fr", "rule": `country == "FR"`}, http.StatusCreated},
			{"PUT", "/api/v1/segments/be", map[string]any{"rule": `country == "BE"`}, http.StatusCreated},
			{"PUT", "/api/v1/segments/vip-list", map[string]any{"kind": "static"}, http.StatusCreated},
			{"POST", "/api/v1/segments/preview", map[string]any{"rule": `country == "FR"`}, http.StatusOK},
			{"POST", "/api/v1/segments/vip-list/members", map[string]any{"contact_ids": []int64{ada.ID}}, http.StatusOK},
		} {
			if r := a.do(t, rq.method, rq.path, rq.body); r.Status != rq.want {
				t.Errorf("%s %s: status %d; want %d\n%s", rq.method, rq.path, r.Status, rq.want, r.Raw)
			}
		}
	})
}

// Once a static list exists, saving any other segment must work. The store
// hands static lists to segment.NewCatalog as definitions without a
// compiled rule, which it dereferences: the panic is in the store's writer
// goroutine, so it takes the whole process down.
func TestSavingASegmentWhileAStaticListExists(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.saveSegment(t, map[string]any{"name": "vip-list", "kind": "static"}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "fr", "rule": `country == "FR"`}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "other-list", "kind": "static"}, http.StatusCreated)
		a.saveSegment(t, map[string]any{"name": "vip-fr", "rule": `segment("vip-list") and segment("fr")`}, http.StatusCreated)
		if list := a.segments(t); len(list) != 4 {
			t.Errorf("segments = %+v; want 4", list)
		}
	})
}

// The segment operations are in the OpenAPI document.
func TestSegmentRoutesAreDocumented(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.send(t, "GET", "/api/v1/openapi.json", nil)
		wantStatus(t, r, http.StatusOK)
		var doc struct {
			Paths map[string]map[string]struct {
				OperationID string `json:"operationId"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(r.Raw, &doc); err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, methods := range doc.Paths {
			for _, op := range methods {
				ops = append(ops, op.OperationID)
			}
		}
		for _, want := range []string{"create-segment", "put-segment", "list-segments", "get-segment", "delete-segment",
			"list-segment-versions", "list-segment-members", "add-list-members", "remove-list-member", "preview-segment",
			"get-job", "get-contact-segments"} {
			if !slices.Contains(ops, want) {
				t.Errorf("OpenAPI document has no operation %s", want)
			}
		}
	})
}

// Creates of one name racing each other: one is created, the others are
// told the name is taken, whatever their order.
func TestSegmentCreatesRacingForOneName(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		const n = 8
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := a.do(t, "POST", "/api/v1/segments", map[string]any{"name": "raced", "rule": fmt.Sprintf(`potential_value > %d`, i)})
				codes <- r.Status
			})
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
			t.Errorf("statuses = %v; want one 201 and %d 409", count, n-1)
		}
		if s := a.segment(t, "raced"); s.Version != 1 {
			t.Errorf("raced = %+v; want version 1 only", s)
		}
	})
}
