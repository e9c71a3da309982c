package pipeline_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/pipeline"
)

// checkErr fails t unless err is nil when field is "", or else a
// *contact.ValidationError naming field whose reason contains reason.
func checkErr(t testing.TB, call string, err error, field, reason string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("%s = %v; want nil", call, err)
		}
		return
	}
	ve, ok := errors.AsType[*contact.ValidationError](err)
	if !ok {
		t.Errorf("%s = %v (%T); want a *contact.ValidationError on %s", call, err, err, field)
		return
	}
	if got, want := ve.Field, field; got != want {
		t.Errorf("%s field = %q; want %q (error %q)", call, got, want, err)
	}
	if !strings.Contains(ve.Reason, reason) {
		t.Errorf("%s reason = %q; want it to contain %q", call, ve.Reason, reason)
	}
	// Errors go back to users: they must stay short and printable whatever
	// the input was.
	if len(ve.Reason) > 1000 {
		t.Errorf("%s reason is %d bytes long", call, len(ve.Reason))
	}
	for _, r := range ve.Reason {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
			t.Errorf("%s reason %q holds the character %U", call, ve.Reason, r)
			break
		}
	}
}

var confirmedAt = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func confirmed(value string) pipeline.Criterion {
	return pipeline.Criterion{Value: value, ConfirmedBy: "sam", ConfirmedAt: confirmedAt}
}

// bant returns every named criterion confirmed.
func bant(names ...string) map[string]pipeline.Criterion {
	m := map[string]pipeline.Criterion{}
	for _, n := range names {
		m[n] = confirmed("yes")
	}
	return m
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from string
		want []string
	}{
		{"new", []string{"contacted", "nurture", "meeting_booked", "lost"}},
		{"contacted", []string{"nurture", "meeting_booked", "lost"}},
		{"nurture", []string{"contacted", "meeting_booked", "lost"}},
		{"meeting_booked", []string{"meeting_held", "nurture", "lost"}},
		{"meeting_held", []string{"qualified", "meeting_booked", "nurture", "lost"}},
		{"qualified", []string{"won", "lost", "meeting_booked"}},
		{"won", nil},
		{"lost", []string{"new", "nurture"}},
		{"", nil},
		{"Won", nil},
		{"NEW", nil},
		{"new\x00", nil},
	}
	for _, tt := range tests {
		if got := pipeline.Next(tt.from); !slices.Equal(got, tt.want) {
			t.Errorf("Next(%q) = %q; want %q", tt.from, got, tt.want)
		}
	}
}

func TestNextCoversStatuses(t *testing.T) {
	t.Parallel()
	for _, s := range contact.Statuses {
		for _, n := range pipeline.Next(s) {
			if !slices.Contains(contact.Statuses, n) {
				t.Errorf("Next(%q) holds %q, which is not a status", s, n)
			}
			if n == s {
				t.Errorf("Next(%q) holds the stage itself", s)
			}
		}
		if s != contact.StatusWon && len(pipeline.Next(s)) == 0 {
			t.Errorf("Next(%q) is empty; only won is terminal", s)
		}
	}
}

func TestNextReturnsACopy(t *testing.T) {
	t.Parallel()
	got := pipeline.Next("new")
	got[0] = "won"
	if got, want := pipeline.Next("new")[0], "contacted"; got != want {
		t.Errorf("after changing a result, Next(new)[0] = %q; want %q", got, want)
	}
}

// TestCheckMoveMatrix tries every pair of stages with everything a move could
// need, so that only the transition table decides.
func TestCheckMoveMatrix(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"new":            {"contacted", "nurture", "meeting_booked", "lost"},
		"contacted":      {"nurture", "meeting_booked", "lost"},
		"nurture":        {"contacted", "meeting_booked", "lost"},
		"meeting_booked": {"meeting_held", "nurture", "lost"},
		"meeting_held":   {"qualified", "meeting_booked", "nurture", "lost"},
		"qualified":      {"won", "lost", "meeting_booked"},
		"won":            {},
		"lost":           {"new", "nurture"},
	}
	cfg := pipeline.DefaultConfig()
	for _, from := range contact.Statuses {
		for _, to := range contact.Statuses {
			m := pipeline.Move{From: from, To: to, BANT: bant(pipeline.Criteria...)}
			if to == "lost" {
				m.Reason = "no_budget"
			}
			err := pipeline.CheckMove(cfg, m)
			if got, want := err == nil, slices.Contains(allowed[from], to); got != want {
				t.Errorf("CheckMove(%s → %s) = %v; want allowed %t", from, to, err, want)
			}
		}
	}
}

func TestCheckMove(t *testing.T) {
	t.Parallel()
	def := pipeline.DefaultConfig()
	tests := []struct {
		name   string
		cfg    pipeline.Config
		move   pipeline.Move
		field  string // "" means allowed
		reason string // the error's reason contains this
	}{
		{"allowed", def, pipeline.Move{From: "new", To: "contacted"}, "", ""},
		{"not allowed", def, pipeline.Move{From: "new", To: "won"}, "stage",
			"cannot move from new to won; allowed from new: contacted, nurture, meeting_booked, lost"},
		{"backwards", def, pipeline.Move{From: "meeting_held", To: "new"}, "stage",
			"cannot move from meeting_held to new; allowed from meeting_held: qualified, meeting_booked, nurture, lost"},
		{"same stage", def, pipeline.Move{From: "nurture", To: "nurture"}, "stage", "already in stage nurture"},
		{"from won", def, pipeline.Move{From: "won", To: "lost", Reason: "other"}, "stage", "cannot move from won to lost; won is final"},
		{"unknown from", def, pipeline.Move{From: "bogus", To: "new"}, "stage",
			`unknown stage "bogus"; stages: new, contacted, nurture, meeting_booked, meeting_held, qualified, won, lost`},
		{"unknown to", def, pipeline.Move{From: "new", To: "closed"}, "stage", `unknown stage "closed"`},
		{"empty from", def, pipeline.Move{From: "", To: "new"}, "stage", `unknown stage ""`},
		{"stage in another case", def, pipeline.Move{From: "new", To: "Contacted"}, "stage", `unknown stage "Contacted"`},
		{"stage with NUL", def, pipeline.Move{From: "new", To: "lost\x00"}, "stage", `unknown stage "lost\x00"`},
		{"stage with bidi override", def, pipeline.Move{From: "new", To: "\u202Etsol"}, "stage", `unknown stage "\u202etsol"`},
		{"oversized stage", def, pipeline.Move{From: "new", To: strings.Repeat("x", 1<<20)}, "stage", `unknown stage "xxxx`},

		{"lost with reason", def, pipeline.Move{From: "new", To: "lost", Reason: "no_budget"}, "", ""},
		{"lost reason in capitals", def, pipeline.Move{From: "new", To: "lost", Reason: "Chose_Competitor"}, "", ""},
		{"lost reason padded", def, pipeline.Move{From: "new", To: "lost", Reason: " no_need\n"}, "", ""},
		{"lost without reason", def, pipeline.Move{From: "qualified", To: "lost"}, "reason",
			"lost requires a reason: one of no_budget, no_need, bad_timing, chose_competitor, no_response, not_a_fit, other"},
		{"lost with blank reason", def, pipeline.Move{From: "qualified", To: "lost", Reason: " \t"}, "reason", "lost requires a reason"},
		{"lost with unknown reason", def, pipeline.Move{From: "new", To: "lost", Reason: "too expensive"}, "reason",
			`unknown lost reason "too expensive"; allowed: no_budget, no_need`},
		{"lost reason with control character", def, pipeline.Move{From: "new", To: "lost", Reason: "no_budget\x1b[31m"}, "reason", `"no_budget\x1b[31m"`},
		{"lost reason with bidi override", def, pipeline.Move{From: "new", To: "lost", Reason: "\u202Eno_budget"}, "reason", "unknown lost reason"},
		{"lost reason oversized", def, pipeline.Move{From: "new", To: "lost", Reason: strings.Repeat("no_budget", 1<<17)}, "reason", "unknown lost reason"},
		{"lost without configured reasons", pipeline.Config{}, pipeline.Move{From: "new", To: "lost", Reason: "other"}, "reason", "none are configured"},

		{"qualified", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("need", "timing", "budget")}, "", ""},
		{"qualified by authority", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("need", "timing", "authority")}, "", ""},
		{"qualified with everything", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant(pipeline.Criteria...)}, "", ""},
		{"qualified without BANT", def, pipeline.Move{From: "meeting_held", To: "qualified"}, "bant",
			"qualified requires need and timing confirmed, and one of budget or authority; missing: need, timing, one of budget or authority"},
		{"qualified missing timing and budget or authority", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("need")}, "bant",
			"qualified requires need and timing confirmed, and one of budget or authority; missing: timing, one of budget or authority"},
		{"qualified missing need", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("timing", "budget", "authority")}, "bant",
			"; missing: need"},
		{"qualified with unconfirmed values", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: map[string]pipeline.Criterion{
			"need": {Value: "a CRM"}, "timing": {Value: "Q3"}, "budget": {Value: "20k"},
		}}, "bant", "missing: need, timing, one of budget or authority"},
		{"qualified with a half confirmation", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: map[string]pipeline.Criterion{
			"need": confirmed("a CRM"), "timing": confirmed("Q3"), "budget": {Value: "20k", ConfirmedBy: "sam"},
		}}, "bant.budget.confirmed_at", "is required with confirmed_by"},
		{"qualified with unknown criterion", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("need", "timing", "budget", "money")}, "bant",
			`unknown criterion "money"; criteria: budget, authority, need, timing`},
		{"qualified with hostile evidence", def, pipeline.Move{From: "meeting_held", To: "qualified", BANT: map[string]pipeline.Criterion{
			"need": confirmed("x"), "timing": confirmed("x"), "budget": {Value: "x", Evidence: "said \u202Eyes", ConfirmedBy: "sam", ConfirmedAt: confirmedAt},
		}}, "bant.budget.evidence", "bidirectional"},
		{"qualified with no requirement", pipeline.Config{}, pipeline.Move{From: "meeting_held", To: "qualified"}, "", ""},
		{"qualified requiring all only", pipeline.Config{Qualified: pipeline.Requirement{All: []string{"budget"}}},
			pipeline.Move{From: "meeting_held", To: "qualified"}, "bant", "qualified requires budget confirmed; missing: budget"},
		{"qualified requiring any of one", pipeline.Config{Qualified: pipeline.Requirement{Any: []string{"need"}}},
			pipeline.Move{From: "meeting_held", To: "qualified"}, "bant", "qualified requires need confirmed; missing: need"},
		{"qualified requiring any of three", pipeline.Config{Qualified: pipeline.Requirement{Any: []string{"budget", "authority", "need"}}},
			pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("timing")}, "bant",
			"qualified requires one of budget, authority or need confirmed; missing: one of budget, authority or need"},
		{"qualified requiring three", pipeline.Config{Qualified: pipeline.Requirement{All: []string{"budget", "authority", "need"}, Any: []string{"timing"}}},
			pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant("authority")}, "bant",
			"qualified requires budget, authority and need confirmed, and timing; missing: budget, need, timing"},
		{"BANT checked on any move", def, pipeline.Move{From: "new", To: "contacted", BANT: map[string]pipeline.Criterion{
			"need": {Value: strings.Repeat("n", 501)},
		}}, "bant.need.value", "longer than 500"},

		{"note on a move", def, pipeline.Move{From: "meeting_booked", To: "nurture", Reason: "no-show"}, "", ""},
		{"longest note", def, pipeline.Move{From: "lost", To: "new", Reason: strings.Repeat("é", 500)}, "", ""},
		{"note too long", def, pipeline.Move{From: "lost", To: "new", Reason: strings.Repeat("é", 501)}, "reason", "longer than 500"},
		{"note with newline", def, pipeline.Move{From: "lost", To: "new", Reason: "came back\nvia webinar"}, "reason", "control character"},
		{"note with bidi isolate", def, pipeline.Move{From: "lost", To: "new", Reason: "came back \u2067"}, "reason", "bidirectional"},
		{"note with invalid UTF-8", def, pipeline.Move{From: "lost", To: "new", Reason: "\xff"}, "reason", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := pipeline.CheckMove(tt.cfg, tt.move)
			checkErr(t, "CheckMove", err, tt.field, tt.reason)
		})
	}
}

func TestNormalizeLostReason(t *testing.T) {
	t.Parallel()
	def := pipeline.DefaultConfig()
	tests := []struct {
		in    string
		want  string // "" means rejected
		field string
	}{
		{"no_budget", "no_budget", ""},
		{"NO_BUDGET", "no_budget", ""},
		{"  Not_A_Fit\t", "not_a_fit", ""},
		{"other", "other", ""},
		{"", "", "reason"},
		{"no budget", "", "reason"},
		{"no_budget\u200b", "", "reason"},
		{"\u202Eother", "", "reason"},
		{"oth\x00er", "", "reason"},
		{strings.Repeat("a", 64), "", "reason"},
		{strings.Repeat("other", 1<<20), "", "reason"},
	}
	for _, tt := range tests {
		got, err := pipeline.NormalizeLostReason(def, tt.in)
		if got != tt.want {
			t.Errorf("NormalizeLostReason(%.40q) = %q; want %q", tt.in, got, tt.want)
		}
		checkErr(t, "NormalizeLostReason", err, tt.field, "")
	}
}

// EqualFold folds Unicode: a reason configured as a slug can still only be
// matched by text that folds to it, and comes back in its configured form.
func TestNormalizeLostReasonUnicodeFold(t *testing.T) {
	t.Parallel()
	cfg := pipeline.Config{LostReasons: []string{"kit"}}
	got, err := pipeline.NormalizeLostReason(cfg, "\u212Ait") // KELVIN SIGN
	if got, want := got, "kit"; got != want || err != nil {
		t.Errorf("NormalizeLostReason(KELVIN SIGN + it) = %q, %v; want %q, nil", got, err, want)
	}
}
