package store_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// validation returns err as a *contact.ValidationError naming field, or fails.
func validation(t *testing.T, what string, err error, field string) *contact.ValidationError {
	t.Helper()
	var ve *contact.ValidationError
	if !errors.As(err, &ve) || ve.Field != field {
		t.Fatalf("%s: err = %v; want a ValidationError on %s", what, err, field)
	}
	return ve
}

type stageMove struct{ From, To, Reason, By string }

// stageMoves returns a contact's stage_changed events, oldest first.
func stageMoves(t *testing.T, s *store.Store, id int64) []stageMove {
	t.Helper()
	var out []stageMove
	for _, e := range ofType(history(t, s, id), event.StageChanged) {
		var m stageMove
		if err := json.Unmarshal(e.Properties, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestMoveStage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		before := counts(t, s)
		id := newContact(t, s, contact.Input{Email: "deal@example.com", OpportunityValue: new(8000.0)})

		_, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "won", By: "sam"})
		ve := validation(t, "new → won", err, "stage")
		if !strings.Contains(ve.Reason, "contacted, nurture, meeting_booked, lost") {
			t.Errorf("new → won: %q; want the allowed stages named", ve.Reason)
		}
		_, err = s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"})
		validation(t, "new → qualified", err, "stage")

		for _, stage := range []string{"meeting_booked", "meeting_held"} {
			clk.Advance(time.Hour)
			if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: stage, By: "sam", Reason: "on the phone"}); err != nil {
				t.Fatalf("move to %s: %v", stage, err)
			}
		}
		// Qualified needs need and timing confirmed, and budget or authority.
		_, err = s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"})
		ve = validation(t, "qualified without BANT", err, "bant")
		if !strings.Contains(ve.Reason, "missing: need, timing, one of budget or authority") {
			t.Errorf("qualified without BANT: %q; want the missing criteria named", ve.Reason)
		}
		now := clk.Now()
		confirmed := pipeline.Criterion{Value: "yes", Source: "call", ConfirmedBy: "sam", ConfirmedAt: now}
		if _, err := s.SetBANT(ctx, id, map[string]pipeline.Criterion{"need": confirmed, "timing": confirmed}); err != nil {
			t.Fatal(err)
		}
		_, err = s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"})
		ve = validation(t, "qualified with need and timing only", err, "bant")
		if !strings.Contains(ve.Reason, "missing: one of budget or authority") {
			t.Errorf("qualified with need and timing: %q; want budget or authority named", ve.Reason)
		}
		// A value nobody confirmed does not count.
		bant, err := s.SetBANT(ctx, id, map[string]pipeline.Criterion{"authority": {Value: "the CEO", Source: "form"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"}); err == nil {
			t.Fatalf("qualified with an unconfirmed authority succeeded; BANT %+v", bant)
		}
		bant, err = s.SetBANT(ctx, id, map[string]pipeline.Criterion{"budget": {Value: "€20k", Evidence: "said so", Source: "call", ConfirmedBy: "kim", ConfirmedAt: now}})
		if err != nil {
			t.Fatal(err)
		}
		if b := bant["budget"]; b.ConfirmedBy != "kim" || !b.ConfirmedAt.Equal(now) || b.Evidence != "said so" || len(bant) != 4 {
			t.Errorf("SetBANT = %+v; want budget confirmed by kim at %v, and 4 criteria", bant, now)
		}
		clk.Advance(time.Hour)
		c, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "qualified" || c.Lifecycle != contact.LifecycleOpportunity || c.ClosedAt != nil {
			t.Errorf("qualified: status %q lifecycle %q closed %v; want qualified, opportunity, not closed", c.Status, c.Lifecycle, c.ClosedAt)
		}
		clk.Advance(time.Hour)
		rev := 12000.0
		c, err = s.MoveStage(ctx, id, store.MoveParams{Stage: "won", By: "sam", Revenue: &rev})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "won" || c.Lifecycle != contact.LifecycleCustomer || c.WonRevenue == nil || *c.WonRevenue != 12000 ||
			c.ClosedAt == nil || !c.ClosedAt.Equal(clk.Now()) {
			t.Errorf("won: %+v; want lifecycle customer, won revenue 12000, closed now", c)
		}
		if stored, _ := s.GetContact(ctx, id); !reflect.DeepEqual(stored, c) {
			t.Errorf("MoveStage returned %+v; stored %+v", c, stored)
		}
		_, err = s.MoveStage(ctx, id, store.MoveParams{Stage: "lost", Reason: "other", By: "sam"})
		validation(t, "won → lost", err, "stage")

		want := []stageMove{
			{"new", "meeting_booked", "on the phone", "sam"},
			{"meeting_booked", "meeting_held", "on the phone", "sam"},
			{"meeting_held", "qualified", "", "sam"},
			{"qualified", "won", "", "sam"},
		}
		if got := stageMoves(t, s, id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stage_changed = %+v; want %+v", got, want)
		}
		var lifecycles []string
		for _, e := range ofType(history(t, s, id), event.LifecycleChanged) {
			var p struct{ From, To string }
			json.Unmarshal(e.Properties, &p)
			lifecycles = append(lifecycles, p.From+"→"+p.To)
		}
		if got := strings.Join(lifecycles, " "); got != "lead→opportunity opportunity→customer" {
			t.Errorf("lifecycle_changed = %s; want lead→opportunity opportunity→customer", got)
		}

		// Lost needs a reason from the list; a recycle reopens the deal.
		lost := newContact(t, s, contact.Input{Email: "lost@example.com"})
		n := len(history(t, s, lost))
		_, err = s.MoveStage(ctx, lost, store.MoveParams{Stage: "lost", By: "sam"})
		validation(t, "lost without a reason", err, "reason")
		_, err = s.MoveStage(ctx, lost, store.MoveParams{Stage: "lost", Reason: "meh", By: "sam"})
		validation(t, "lost with an unknown reason", err, "reason")
		if got := len(history(t, s, lost)); got != n {
			t.Errorf("rejected moves wrote %d events", got-n)
		}
		c, err = s.MoveStage(ctx, lost, store.MoveParams{Stage: "lost", Reason: " No_Budget ", By: "sam"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "lost" || c.ClosedAt == nil || !c.ClosedAt.Equal(clk.Now()) || c.Lifecycle != contact.LifecycleLead {
			t.Errorf("lost: %+v; want closed now, lifecycle unchanged", c)
		}
		clk.Advance(time.Hour)
		c, err = s.MoveStage(ctx, lost, store.MoveParams{Stage: "new", Reason: "budget came back", By: "kim"})
		if err != nil || c.ClosedAt != nil {
			t.Errorf("recycled: %+v, %v; want reopened", c, err)
		}
		want = []stageMove{{"new", "lost", "no_budget", "sam"}, {"lost", "new", "budget came back", "kim"}}
		if got := stageMoves(t, s, lost); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stage_changed = %+v; want %+v", got, want)
		}

		if _, err := s.MoveStage(ctx, 424242, store.MoveParams{Stage: "contacted"}); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("move of an unknown contact: %v; want ErrNotFound", err)
		}
		if after := counts(t, s); after["contacts"] != before["contacts"]+2 {
			t.Errorf("contacts %d → %d; want 2 more", before["contacts"], after["contacts"])
		}
	})
}

// A status change through PATCH obeys the same transitions.
func TestPatchObeysTheTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "p@example.com"})
		_, err := s.PatchContact(ctx, id, norm(t, contact.Input{Status: "won", Company: "Acme"}), "api")
		validation(t, "PATCH new → won", err, "stage")
		if c, _ := s.GetContact(ctx, id); c.Status != "new" || c.Company != "" {
			t.Errorf("after a rejected PATCH: %+v; want nothing changed", c)
		}
		_, err = s.PatchContact(ctx, id, norm(t, contact.Input{Status: "lost"}), "api")
		validation(t, "PATCH to lost without a reason", err, "reason")
		c, err := s.PatchContact(ctx, id, norm(t, contact.Input{Status: "contacted"}), "api")
		if err != nil || c.Status != "contacted" {
			t.Fatalf("PATCH new → contacted = %+v, %v", c, err)
		}
		_, err = s.PatchContact(ctx, id, norm(t, contact.Input{Status: "qualified"}), "api")
		validation(t, "PATCH contacted → qualified", err, "stage")
		// An upsert too.
		_, err = s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "p@example.com", Status: "won"})})
		validation(t, "upsert contacted → won", err, "stage")
		if got := stageMoves(t, s, id); fmt.Sprint(got) != fmt.Sprint([]stageMove{{From: "new", To: "contacted"}}) {
			t.Errorf("stage_changed = %+v; want new → contacted only", got)
		}
	})
}

func TestStageHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "h@example.com"})
		spans, err := s.StageHistory(ctx, id)
		if err != nil || len(spans) != 1 || spans[0].Stage != "new" || spans[0].LeftAt != nil || spans[0].Seconds != 0 {
			t.Fatalf("StageHistory of a new contact = %+v, %v; want one open span in new", spans, err)
		}
		for _, m := range []struct {
			after time.Duration
			p     store.MoveParams
		}{
			{time.Hour, store.MoveParams{Stage: "contacted", By: "sam", Reason: "called"}},
			{2 * time.Hour, store.MoveParams{Stage: "meeting_booked", By: "kim"}},
		} {
			clk.Advance(m.after)
			if _, err := s.MoveStage(ctx, id, m.p); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(30 * time.Minute)
		spans, err = s.StageHistory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			stage   string
			entered time.Duration
			seconds int64
			by      string
			open    bool
		}{
			{"new", 0, 3600, "", false},
			{"contacted", time.Hour, 7200, "sam", false},
			{"meeting_booked", 3 * time.Hour, 1800, "kim", true},
		}
		if len(spans) != len(want) {
			t.Fatalf("StageHistory = %+v; want %d spans", spans, len(want))
		}
		for i, w := range want {
			got := spans[i]
			if got.Stage != w.stage || !got.EnteredAt.Equal(storetest.Epoch.Add(w.entered)) || got.Seconds != w.seconds ||
				got.By != w.by || (got.LeftAt == nil) != w.open {
				t.Errorf("span %d = %+v; want %s entered at +%v for %ds by %q", i, got, w.stage, w.entered, w.seconds, w.by)
			}
		}
		if spans[1].Reason != "called" || !spans[0].LeftAt.Equal(spans[1].EnteredAt) {
			t.Errorf("spans %+v; want the contacted span's reason and spans that meet", spans)
		}
		if _, err := s.StageHistory(ctx, 424242); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("StageHistory of an unknown contact: %v; want ErrNotFound", err)
		}
	})
}

func TestPipelineTotals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		// new: 1000 (potential) + 5000 (opportunity, preferred over its potential 100) + nothing
		newContact(t, s, contact.Input{Email: "n1@example.com", PotentialValue: new(1000.0)})
		newContact(t, s, contact.Input{Email: "n2@example.com", PotentialValue: new(100.0), OpportunityValue: new(5000.0)})
		newContact(t, s, contact.Input{Email: "n3@example.com"})
		c := newContact(t, s, contact.Input{Email: "c@example.com", PotentialValue: new(300.0)})
		if _, err := s.MoveStage(ctx, c, store.MoveParams{Stage: "contacted"}); err != nil {
			t.Fatal(err)
		}
		// Won without a revenue: the opportunity value.
		w := newContact(t, s, contact.Input{Email: "w@example.com", OpportunityValue: new(2000.0)})
		qualify(t, s, clk, w)
		if c, err := s.MoveStage(ctx, w, store.MoveParams{Stage: "won"}); err != nil || c.WonRevenue == nil || *c.WonRevenue != 2000 {
			t.Fatalf("won without revenue = %+v, %v; want won revenue 2000", c, err)
		}
		// Erased contacts keep their stage for reports but leave the pipeline.
		gone := newContact(t, s, contact.Input{Email: "gone@example.com", PotentialValue: new(99999.0)})
		if err := s.EraseContact(ctx, gone, "api"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Pipeline(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.StageTotals{
			{Stage: "new", Contacts: 3, Value: 6000},
			{Stage: "contacted", Contacts: 1, Value: 300},
			{Stage: "nurture"},
			{Stage: "meeting_booked"},
			{Stage: "meeting_held"},
			{Stage: "qualified"},
			{Stage: "won", Contacts: 1, Value: 2000, WonAmount: 2000},
			{Stage: "lost"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Pipeline =\n%+v; want\n%+v", got, want)
		}
	})
}

func TestHandoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		a := newContact(t, s, contact.Input{Email: "a@example.com"})
		makeSalesReady(t, s, clk, a)
		c, err := s.Handoff(ctx, a, store.HandoffParams{Decision: pipeline.Accept, By: "sam"})
		if err != nil || c.Lifecycle != contact.LifecycleSAL {
			t.Fatalf("accept = %+v, %v; want lifecycle sal", c, err)
		}
		evs := history(t, s, a)
		acc, takeover := ofType(evs, event.HandoffAccepted), ofType(evs, event.HumanTakeover)
		if len(acc) != 1 || string(acc[0].Properties) != `{"by":"sam","from":"mql","to":"sal"}` {
			t.Errorf("handoff_accepted = %+v; want one from mql to sal by sam", acc)
		}
		if len(takeover) != 1 || string(takeover[0].Properties) != `{"by":"sam","via":"handoff"}` {
			t.Errorf("human_takeover = %+v; want one via handoff", takeover)
		}
		_, err = s.Handoff(ctx, a, store.HandoffParams{Decision: pipeline.Accept, By: "sam"})
		validation(t, "a second hand-off", err, "lifecycle")

		b := newContact(t, s, contact.Input{Email: "b@example.com"})
		_, err = s.Handoff(ctx, b, store.HandoffParams{Decision: pipeline.Accept, By: "sam"})
		validation(t, "hand-off of a lead", err, "lifecycle")
		makeSalesReady(t, s, clk, b)
		n := len(history(t, s, b))
		_, err = s.Handoff(ctx, b, store.HandoffParams{Decision: pipeline.Reject, By: "sam"})
		validation(t, "reject without a reason", err, "reason")
		if got := len(history(t, s, b)); got != n {
			t.Errorf("a rejected hand-off wrote %d events", got-n)
		}
		c, err = s.Handoff(ctx, b, store.HandoffParams{Decision: pipeline.Reject, Reason: "student", By: "sam"})
		if err != nil || c.Lifecycle != contact.LifecycleLead {
			t.Fatalf("reject = %+v, %v; want lifecycle lead", c, err)
		}
		evs = history(t, s, b)
		rej := ofType(evs, event.HandoffRejected)
		if len(rej) != 1 || string(rej[0].Properties) != `{"by":"sam","from":"mql","reason":"student","to":"lead"}` {
			t.Errorf("handoff_rejected = %+v; want one from mql to lead for student", rej)
		}
		if n := len(ofType(evs, event.HumanTakeover)); n != 0 {
			t.Errorf("a rejection wrote %d human_takeover; want none", n)
		}

		d := newContact(t, s, contact.Input{Email: "d@example.com", Lifecycle: "mql"})
		c, err = s.Handoff(ctx, d, store.HandoffParams{Decision: pipeline.Reject, Reason: "competitor", Disqualify: true, By: "kim"})
		if err != nil || c.Lifecycle != contact.LifecycleDisqualified {
			t.Errorf("reject and disqualify = %+v, %v; want disqualified", c, err)
		}
	})
}

func TestLogActivity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "act@example.com"})
		call, err := s.LogActivity(ctx, id, pipeline.Activity{Type: "call", By: "sam", Notes: "left a message", Outcome: "no answer"})
		if err != nil {
			t.Fatal(err)
		}
		evs := history(t, s, id)
		logged, takeover := ofType(evs, event.ActivityLogged), ofType(evs, event.HumanTakeover)
		if len(logged) != 1 || logged[0].ID != call ||
			string(logged[0].Properties) != `{"activity":"call","by":"sam","notes":"left a message","outcome":"no answer"}` {
			t.Errorf("activity_logged = %+v; want the call, id %d", logged, call)
		}
		if len(takeover) != 1 || string(takeover[0].Properties) != fmt.Sprintf(`{"activity_event_id":%d,"by":"sam","via":"call"}`, call) {
			t.Errorf("human_takeover = %+v; want one for the call", takeover)
		}

		clk.Advance(time.Hour)
		earlier := clk.Now().Add(-30 * time.Minute)
		note, err := s.LogActivity(ctx, id, pipeline.Activity{Type: "note", By: "sam", Notes: "prefers email", OccurredAt: earlier})
		if err != nil {
			t.Fatal(err)
		}
		evs = history(t, s, id)
		if n := len(ofType(evs, event.HumanTakeover)); n != 1 {
			t.Errorf("human_takeover events after a note = %d; want still 1", n)
		}
		for _, e := range ofType(evs, event.ActivityLogged) {
			if e.ID == note && !e.OccurredAt.Equal(earlier) {
				t.Errorf("note occurred at %v; want %v", e.OccurredAt, earlier)
			}
		}
		if _, err := s.LogActivity(ctx, 424242, pipeline.Activity{Type: "call", By: "sam"}); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("activity on an unknown contact: %v; want ErrNotFound", err)
		}
	})
}

func TestCompleteTask(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "task@example.com", Owner: "sam"})
		makeSalesReady(t, s, clk, id)
		tasks := openTasks(t, s, id)
		if len(tasks) != 1 || tasks[0].Owner != "sam" || tasks[0].DueAt == nil {
			t.Fatalf("open tasks = %+v; want the scoring task for sam", tasks)
		}
		if mine, _, _ := s.ListTasks(ctx, store.ListTasksParams{Owner: "sam", Limit: 10}); len(mine) != 1 {
			t.Errorf("sam's tasks = %+v; want 1", mine)
		}
		clk.Advance(time.Hour)
		done, err := s.CompleteTask(ctx, tasks[0].ID, "sam", "meeting set")
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != "done" || done.CompletedBy != "sam" || done.Outcome != "meeting set" || done.CompletedAt == nil || !done.CompletedAt.Equal(clk.Now()) {
			t.Errorf("CompleteTask = %+v; want done by sam now", done)
		}
		if open := openTasks(t, s, id); len(open) != 0 {
			t.Errorf("open tasks after completion = %+v; want none", open)
		}
		evs := history(t, s, id)
		if got := ofType(evs, event.TaskCompleted); len(got) != 1 {
			t.Errorf("task_completed = %+v; want 1", got)
		}
		takeover := ofType(evs, event.HumanTakeover)
		if len(takeover) != 1 || !strings.Contains(string(takeover[0].Properties), `"via":"task_call"`) {
			t.Errorf("human_takeover = %+v; want one via task_call", takeover)
		}
		_, err = s.CompleteTask(ctx, tasks[0].ID, "kim", "")
		validation(t, "completing twice", err, "task")
		if got := ofType(history(t, s, id), event.TaskCompleted); len(got) != 1 {
			t.Errorf("task_completed after a second completion = %d; want 1", len(got))
		}
		if _, err := s.CompleteTask(ctx, 424242, "sam", ""); !errors.Is(err, store.ErrTaskNotFound) {
			t.Errorf("completing an unknown task: %v; want ErrTaskNotFound", err)
		}
		// A todo is bookkeeping, not a conversation.
		todo, err := s.CreateTask(ctx, store.TaskInput{ContactID: id, Kind: "todo", Title: "send the deck", Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteTask(ctx, todo.ID, "sam", ""); err != nil {
			t.Fatal(err)
		}
		if n := len(ofType(history(t, s, id), event.HumanTakeover)); n != 1 {
			t.Errorf("human_takeover after a todo = %d; want still 1", n)
		}
	})
}

func TestBANTEvidenceBelongsToTheContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		a := newContact(t, s, contact.Input{Email: "a@example.com"})
		b := newContact(t, s, contact.Input{Email: "b@example.com"})
		theirs := send(t, s, clk, a, "form_submitted", `{"form":"quote","budget":"20k"}`)
		mine := send(t, s, clk, b, "form_submitted", `{"form":"quote","budget":"30k"}`)
		n := len(history(t, s, b))
		_, err := s.SetBANT(ctx, b, map[string]pipeline.Criterion{
			"timing": {Value: "Q3", Source: "form"},
			"budget": {Value: "20k", EvidenceEventID: theirs, Source: "form"}})
		validation(t, "evidence from another contact", err, "bant.budget.evidence_event_id")
		if got, err := s.BANT(ctx, b); err != nil || len(got) != 0 {
			t.Errorf("BANT after a rejected SetBANT = %+v, %v; want nothing stored", got, err)
		}
		if got := len(history(t, s, b)); got != n {
			t.Errorf("a rejected SetBANT wrote %d events", got-n)
		}
		got, err := s.SetBANT(ctx, b, map[string]pipeline.Criterion{"budget": {Value: "30k", EvidenceEventID: mine, Source: "form"}})
		if err != nil || got["budget"].EvidenceEventID != mine || got["budget"].Confirmed() {
			t.Errorf("SetBANT with its own event = %+v, %v; want the evidence kept, unconfirmed", got, err)
		}
		if n := len(ofType(history(t, s, b), event.BANTUpdated)); n != 1 {
			t.Errorf("bant_updated events = %d; want 1", n)
		}
	})
}

// An export holds the score, tasks and BANT; an erasure removes the scoring
// state, the ledger, the timer and the BANT, and keeps the task without its
// text.
func TestExportAndErasureOfScoringAndBANT(t *testing.T) {
	eachRaw(t, func(t *testing.T, s *store.Store, clk *clock.Fake, db *sql.DB) {
		id := newContact(t, s, contact.Input{Email: "gone@example.com"})
		other := newContact(t, s, contact.Input{Email: "stays@example.com"})
		for _, c := range []int64{id, other} {
			makeSalesReady(t, s, clk, c)
			need := pipeline.Criterion{Value: fmt.Sprintf("need of %d", c), Evidence: fmt.Sprintf("evidence of %d", c)}
			if _, err := s.SetBANT(ctx, c, map[string]pipeline.Criterion{"need": need}); err != nil {
				t.Fatal(err)
			}
		}
		task := openTasks(t, s, id)[0]
		if _, err := s.CompleteTask(ctx, task.ID, "sam", "a private outcome"); err != nil {
			t.Fatal(err)
		}
		exp, err := s.ExportContact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if exp.Score.Scores["score"] != 32 || len(exp.Score.Ledger) != 3 || exp.Score.Band != "sales-ready" {
			t.Errorf("export score = %+v; want 32 with 3 ledger rows", exp.Score)
		}
		if len(exp.Tasks) != 1 || exp.Tasks[0].Outcome != "a private outcome" {
			t.Errorf("export tasks = %+v; want the completed task", exp.Tasks)
		}
		if exp.BANT["need"].Value != fmt.Sprintf("need of %d", id) {
			t.Errorf("export BANT = %+v; want need", exp.BANT)
		}
		if b, err := json.Marshal(exp); err != nil || !strings.Contains(string(b), `"rule_id":"email-reply"`) {
			t.Errorf("export JSON lacks the ledger: %v", err)
		}

		tables := []string{"score_state", "score_ledger", "timers", "bant", "tasks"}
		for _, table := range tables {
			if rowsOf(t, db, table, id) == 0 {
				t.Fatalf("before erasure: no %s rows for contact %d", table, id)
			}
		}
		kept := map[string]int64{}
		for _, table := range tables {
			kept[table] = rowsOf(t, db, table, other)
		}
		if err := s.EraseContact(ctx, id, "api"); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"score_state", "score_ledger", "timers", "bant"} {
			if n := rowsOf(t, db, table, id); n != 0 {
				t.Errorf("after erasure: %d %s rows left for the contact", n, table)
			}
		}
		for table, n := range kept {
			if got := rowsOf(t, db, table, other); got != n {
				t.Errorf("erasure of another contact changed %s rows: %d → %d", table, n, got)
			}
		}
		dump := dumpTables(t, db, allTables...)
		for _, secret := range []string{"gone@example.com", "a private outcome", fmt.Sprintf("need of %d", id), fmt.Sprintf("evidence of %d", id)} {
			if strings.Contains(dump, secret) {
				t.Errorf("%q still stored after erasure", secret)
			}
		}
		if !strings.Contains(dump, fmt.Sprintf("need of %d", other)) {
			t.Error("the other contact's BANT is gone")
		}
		var title string
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT title FROM tasks WHERE id = %d", task.ID)).Scan(&title); err != nil || title != "call" {
			t.Errorf("erased contact's task title = %q, %v; want the kind, call", title, err)
		}
		if _, err := s.Score(ctx, id); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("Score of an erased contact: %v; want ErrNotFound", err)
		}
		if _, err := s.ExportContact(ctx, id); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("ExportContact of an erased contact: %v; want ErrNotFound", err)
		}
	})
}

// PATCH and upsert return the contact as stored, whatever the write set off
// (a stage move's lifecycle and revenue, a band's tags and lifecycle).
func TestWritesReturnTheStoredContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "w@example.com", Tags: []string{"a"}})
		send(t, s, clk, id, "page_viewed", pricingView)
		send(t, s, clk, id, "email_clicked", "") // 17
		check := func(what string, got contact.Contact, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			stored, err := s.GetContact(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("%s returned\n%+v; stored\n%+v", what, got, stored)
			}
		}
		patch := func(what string, in contact.Input) {
			t.Helper()
			clk.Advance(time.Minute)
			got, err := s.PatchContact(ctx, id, norm(t, in), "api")
			check(what, got, err)
		}
		upsert := func(what string, in contact.Input) {
			t.Helper()
			clk.Advance(time.Minute)
			in.Email = "w@example.com"
			got, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, in)})
			check(what, got.Contact, err)
		}
		patch("PATCH company and stage", contact.Input{Company: "Acme", Status: "contacted"})
		upsert("upsert a tag", contact.Input{Tags: []string{"b"}})
		patch("PATCH into sales-ready", contact.Input{Role: "CEO", PotentialValue: new(5000.0)}) // fit 10: 27
		upsert("upsert a lifecycle raise", contact.Input{Lifecycle: "sql"})
		patch("PATCH a clear and an opportunity value", contact.Input{Clear: []string{"company"}, OpportunityValue: new(9000.0)})
		patch("PATCH to meeting_booked", contact.Input{Status: "meeting_booked"})
		upsert("upsert to meeting_held", contact.Input{Status: "meeting_held"})
		qualified := pipeline.Criterion{Value: "yes", ConfirmedBy: "sam", ConfirmedAt: clk.Now()}
		if _, err := s.SetBANT(ctx, id, map[string]pipeline.Criterion{"need": qualified, "timing": qualified, "authority": qualified}); err != nil {
			t.Fatal(err)
		}
		patch("PATCH to qualified", contact.Input{Status: "qualified"})
		patch("PATCH to won", contact.Input{Status: "won"})
		c, _ := s.GetContact(ctx, id)
		if c.Lifecycle != contact.LifecycleCustomer || c.WonRevenue == nil || *c.WonRevenue != 9000 || c.ClosedAt == nil {
			t.Errorf("won through PATCH: %+v; want customer, won revenue 9000, closed", c)
		}
	})
}
