package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
)

// The DOMAIN example over HTTP: pricing, a click and a reply make 32, an
// MQL with one sales task, and the score explains itself.
func TestScoreOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "POST", "/api/v1/events/batch", `[
			{"email": "ada@example.com", "type": "page_viewed", "properties": {"url": "https://x.test/pricing"}},
			{"email": "ada@example.com", "type": "email_opened", "properties": {"machine": true}},
			{"email": "ada@example.com", "type": "email_clicked", "properties": {"url": "https://x.test/a"}},
			{"email": "ada@example.com", "type": "email_replied"}]`)
		wantStatus(t, r, http.StatusOK)
		sc := decode[store.ScoreReport](t, a.do(t, "GET", "/api/v1/contacts/1/score", nil))
		if sc.Scores["score"] != 32 || sc.Band != "sales-ready" || len(sc.Ledger) != 3 {
			t.Fatalf("score = %+v; want 32, sales-ready, 3 ledger rows", sc)
		}
		for i, rule := range []string{"pricing-page", "email-click", "email-reply"} {
			if sc.Ledger[i].RuleID != rule || sc.Ledger[i].EventID == 0 {
				t.Errorf("ledger[%d] = %+v; want rule %s with its event", i, sc.Ledger[i], rule)
			}
		}
		tasks := decode[struct{ Tasks []store.Task }](t, a.do(t, "GET", "/api/v1/tasks?status=open", nil))
		if len(tasks.Tasks) != 1 || tasks.Tasks[0].Title != "Propose a meeting slot + call" {
			t.Errorf("tasks = %+v; want the one sales task", tasks.Tasks)
		}
	})
}

func TestScoringRulesOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.createContact(t, map[string]any{"email": "ada@example.com"})
		cur := decode[struct{ Version int }](t, a.do(t, "GET", "/api/v1/scoring/rules", nil))
		if cur.Version != 1 {
			t.Fatalf("rules version = %d; want 1 (the defaults)", cur.Version)
		}
		bad := "scores:\n  fit: {}\nrules:\n  - id: a\n    event: page_viewed\n    when: event.url contans \"x\"\n    score: fit\n    points: 1\n"
		p := wantProblem(t, a.do(t, "PUT", "/api/v1/scoring/rules", bad, "Content-Type", "application/yaml"),
			http.StatusUnprocessableEntity, "body.rules[0].when")
		if !strings.Contains(fmt.Sprint(p), "line 6") {
			t.Errorf("problem = %+v; want the line of the bad expression", p)
		}
		wantProblem(t, a.do(t, "PUT", "/api/v1/scoring/rules", strings.Repeat("#", score.MaxDocumentBytes+1)),
			http.StatusRequestEntityTooLarge, "")
		wantProblem(t, a.do(t, "PUT", "/api/v1/scoring/rules", ""), http.StatusBadRequest, "")
		if v := decode[struct{ Version int }](t, a.do(t, "GET", "/api/v1/scoring/rules", nil)); v.Version != 1 {
			t.Fatalf("after refused documents version = %d; want still 1", v.Version)
		}
		next := strings.Replace(string(score.DefaultSource()), "points: 10\n", "points: 20\n", 1)
		dry := a.do(t, "PUT", "/api/v1/scoring/rules?dry_run=true", next, "Content-Type", "application/yaml")
		wantStatus(t, dry, http.StatusOK)
		if bt := decode[struct{ Backtest store.Backtest }](t, dry).Backtest; bt.Contacts != 1 || len(bt.After.Bands) != 3 {
			t.Errorf("backtest = %+v; want 1 contact and 3 bands", bt)
		}
		applied := a.do(t, "PUT", "/api/v1/scoring/rules?comment=pricing", next, "Content-Type", "application/yaml")
		wantStatus(t, applied, http.StatusAccepted)
		res := decode[struct {
			Version int
			Job     store.Job
		}](t, applied)
		if res.Version != 2 || res.Job.ID == 0 {
			t.Fatalf("apply = %+v; want version 2 and a job", res)
		}
		job := decode[store.Job](t, a.do(t, "GET", fmt.Sprintf("/api/v1/scoring/jobs/%d", res.Job.ID), nil))
		if job.Version != 2 || job.Kind != "rescore" {
			t.Errorf("job = %+v", job)
		}
		hist := decode[struct{ Versions []store.RulesVersion }](t, a.do(t, "GET", "/api/v1/scoring/rules/versions", nil))
		if len(hist.Versions) != 2 || hist.Versions[0].Comment != "pricing" {
			t.Errorf("history = %+v; want 2 versions, the newest with its comment", hist.Versions)
		}
	})
}

// TestPipelineBadInputIsRefused sends the scoring, pipeline and task
// endpoints bad input; each gets a problem naming the fault.
func TestPipelineBadInputIsRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		c := fmt.Sprintf("/api/v1/contacts/%d", ada.ID)
		const invalid, notFound = http.StatusUnprocessableEntity, http.StatusNotFound
		long := strings.Repeat("x", 501)
		cases := []badInput{
			{"stage: illegal move", "POST", c + "/stage", `{"stage": "won"}`, nil, invalid, "body.stage"},
			{"stage: lost without reason", "POST", c + "/stage", `{"stage": "lost"}`, nil, invalid, "body.reason"},
			{"stage: lost with an unknown reason", "POST", c + "/stage", `{"stage": "lost", "reason": "aliens"}`, nil, invalid, "body.reason"},
			{"stage: qualified without BANT", "POST", c + "/stage", `{"stage": "qualified"}`, nil, invalid, "body.stage"},
			{"stage: unknown stage", "POST", c + "/stage", `{"stage": "archived"}`, nil, invalid, "body.stage"},
			{"stage: missing", "POST", c + "/stage", `{}`, nil, invalid, "body"},
			{"stage: malformed", "POST", c + "/stage", `{"stage":`, nil, http.StatusBadRequest, "body"},
			{"stage: reason with a control character", "POST", c + "/stage", `{"stage": "lost", "reason": "no_budget\u001b"}`, nil, invalid, "body.reason"},
			{"stage: by with a bidi override", "POST", c + "/stage", `{"stage": "contacted", "by": "sam\u202e"}`, nil, invalid, "body.by"},
			{"stage: reason too long", "POST", c + "/stage", `{"stage": "lost", "reason": "` + long + `"}`, nil, invalid, "body.reason"},
			{"stage: negative revenue", "POST", c + "/stage", `{"stage": "contacted", "revenue": -1}`, nil, invalid, "body.revenue"},
			{"stage: unknown contact", "POST", "/api/v1/contacts/999/stage", `{"stage": "contacted"}`, nil, notFound, ""},
			{"stage: unknown field", "POST", c + "/stage", `{"stage": "contacted", "force": true}`, nil, invalid, "body.force"},
			{"lifecycle: back to lead without reason", "POST", c + "/lifecycle", `{"lifecycle": "disqualified"}`, nil, invalid, ""},
			{"lifecycle: unknown", "POST", c + "/lifecycle", `{"lifecycle": "vip"}`, nil, invalid, "body.lifecycle"},
			{"handoff: not an MQL", "POST", c + "/handoff", `{"decision": "accept"}`, nil, invalid, ""},
			{"handoff: unknown decision", "POST", c + "/handoff", `{"decision": "maybe"}`, nil, invalid, "body.decision"},
			{"bant: empty", "PUT", c + "/bant", `{}`, nil, invalid, ""},
			{"bant: unknown criterion", "PUT", c + "/bant", `{"money": {"value": "10k"}}`, nil, invalid, "body.money"},
			{"bant: evidence too long", "PUT", c + "/bant", `{"need": {"evidence": "` + strings.Repeat("e", 2001) + `"}}`, nil, invalid, "body.need.evidence"},
			{"bant: value with a bidi override", "PUT", c + "/bant", `{"need": {"value": "a\u202eb"}}`, nil, invalid, ""},
			{"bant: evidence event of nobody", "PUT", c + "/bant", `{"need": {"evidence_event_id": 999999}}`, nil, invalid, ""},
			{"activity: no by", "POST", c + "/activities", `{"type": "call"}`, nil, invalid, "body"},
			{"activity: unknown type", "POST", c + "/activities", `{"type": "fax", "by": "sam"}`, nil, invalid, "body.type"},
			{"activity: notes too long", "POST", c + "/activities", `{"type": "note", "by": "sam", "notes": "` + strings.Repeat("n", 5001) + `"}`, nil, invalid, "body.notes"},
			{"task: no title", "POST", "/api/v1/tasks", fmt.Sprintf(`{"contact_id": %d, "kind": "call"}`, ada.ID), nil, invalid, "body"},
			{"task: unknown contact", "POST", "/api/v1/tasks", `{"contact_id": 999, "kind": "call", "title": "x"}`, nil, notFound, ""},
			{"task: unknown kind", "POST", "/api/v1/tasks", fmt.Sprintf(`{"contact_id": %d, "kind": "lunch", "title": "x"}`, ada.ID), nil, invalid, "body.kind"},
			{"task: complete unknown", "POST", "/api/v1/tasks/999/complete", `{}`, nil, notFound, ""},
			{"tasks: bad cursor", "GET", "/api/v1/tasks?cursor=abc", nil, nil, invalid, "query.cursor"},
			{"tasks: unknown status", "GET", "/api/v1/tasks?status=late", nil, nil, invalid, "query.status"},
			{"score: unknown contact", "GET", "/api/v1/contacts/999/score", nil, nil, notFound, ""},
			{"job: unknown", "GET", "/api/v1/scoring/jobs/999", nil, nil, notFound, ""},
			{"rules: unknown version", "GET", "/api/v1/scoring/rules/versions/99", nil, nil, notFound, ""},
			{"rules: unknown query parameter", "PUT", "/api/v1/scoring/rules?force=1", "scores: {s: {}}", nil, invalid, "query.force"},
			{"pipeline settings: no lost reasons", "PUT", "/api/v1/pipeline/settings", `{"lost_reasons": [], "qualified_requires": {"all": ["need"]}}`, nil, invalid, ""},
			{"pipeline settings: unknown criterion", "PUT", "/api/v1/pipeline/settings", `{"lost_reasons": ["x"], "qualified_requires": {"all": ["luck"]}}`, nil, invalid, ""},
		}
		before := a.counts(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, tc.body, tc.header...)
				wantProblem(t, r, tc.status, tc.location)
				a.wantCounts(t, before)
			})
		}
	})
}
