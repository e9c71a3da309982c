package pipeline_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/pipeline"
)

func TestCriterionConfirmed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    pipeline.Criterion
		want bool
	}{
		{pipeline.Criterion{}, false},
		{pipeline.Criterion{Value: "20k", Evidence: "said so"}, false},
		{pipeline.Criterion{ConfirmedBy: "sam"}, false},
		{pipeline.Criterion{ConfirmedAt: confirmedAt}, false},
		{pipeline.Criterion{ConfirmedBy: "sam", ConfirmedAt: confirmedAt}, true},
		{pipeline.Criterion{ConfirmedBy: "sam", ConfirmedAt: time.Unix(0, 0)}, true},
	}
	for _, tt := range tests {
		if got := tt.c.Confirmed(); got != tt.want {
			t.Errorf("%+v.Confirmed() = %t; want %t", tt.c, got, tt.want)
		}
	}
}

func TestCheckCriterion(t *testing.T) {
	t.Parallel()
	ok := confirmed("€20k approved for Q3")
	with := func(f func(*pipeline.Criterion)) pipeline.Criterion {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name      string
		criterion string
		c         pipeline.Criterion
		field     string
		reason    string
	}{
		{"confirmed", "budget", ok, "", ""},
		{"empty", "need", pipeline.Criterion{}, "", ""},
		{"unconfirmed value", "timing", pipeline.Criterion{Value: "Q3", Source: "form"}, "", ""},
		{"full", "authority", pipeline.Criterion{
			Value: "CFO signs", Evidence: "Call notes:\n\t- CFO signs\r\n- COO informed", EvidenceEventID: 42,
			Source: "call", ConfirmedBy: "sam@example.com", ConfirmedAt: confirmedAt,
		}, "", ""},
		{"longest fields", "need", pipeline.Criterion{
			Value: strings.Repeat("v", 500), Evidence: strings.Repeat("é", 2000),
			Source: strings.Repeat("s", 200), ConfirmedBy: strings.Repeat("ß", 200), ConfirmedAt: confirmedAt,
		}, "", ""},

		{"unknown name", "money", ok, "bant", `unknown criterion "money"; criteria: budget, authority, need, timing`},
		{"name in capitals", "Budget", ok, "bant", `"Budget"`},
		{"empty name", "", ok, "bant", `unknown criterion ""`},
		{"name with bidi override", "\u202Etegdub", ok, "bant", `"\u202etegdub"`},
		{"oversized name", strings.Repeat("budget", 1<<16), ok, "bant", "unknown criterion"},

		{"value too long", "budget", with(func(c *pipeline.Criterion) { c.Value = strings.Repeat("v", 501) }), "bant.budget.value", "longer than 500"},
		{"value with newline", "budget", with(func(c *pipeline.Criterion) { c.Value = "20k\nmaybe" }), "bant.budget.value", "control character"},
		{"value with tab", "budget", with(func(c *pipeline.Criterion) { c.Value = "20k\tmaybe" }), "bant.budget.value", "control character"},
		{"value with NUL", "budget", with(func(c *pipeline.Criterion) { c.Value = "20k\x00" }), "bant.budget.value", "control character"},
		{"value with bidi override", "budget", with(func(c *pipeline.Criterion) { c.Value = "k02\u202E" }), "bant.budget.value", "bidirectional"},
		{"value not UTF-8", "budget", with(func(c *pipeline.Criterion) { c.Value = "\xc3\x28" }), "bant.budget.value", "UTF-8"},
		{"evidence too long", "need", with(func(c *pipeline.Criterion) { c.Evidence = strings.Repeat("e", 2001) }), "bant.need.evidence", "longer than 2000"},
		{"evidence oversized", "need", with(func(c *pipeline.Criterion) { c.Evidence = strings.Repeat("e", 10<<20) }), "bant.need.evidence", "longer than 2000"},
		{"evidence with escape", "need", with(func(c *pipeline.Criterion) { c.Evidence = "see \x1b]8;;http://evil\x1b\\" }), "bant.need.evidence", "control character"},
		{"evidence with lone CR", "need", with(func(c *pipeline.Criterion) { c.Evidence = "line\rover" }), "bant.need.evidence", "control character"},
		{"evidence ending in CR", "need", with(func(c *pipeline.Criterion) { c.Evidence = "line\r" }), "bant.need.evidence", "control character"},
		{"evidence with C1 control", "need", with(func(c *pipeline.Criterion) { c.Evidence = "next\u0085line" }), "bant.need.evidence", "control character"},
		{"evidence with DEL", "need", with(func(c *pipeline.Criterion) { c.Evidence = "x\x7f" }), "bant.need.evidence", "control character"},
		{"evidence with bidi isolate", "need", with(func(c *pipeline.Criterion) { c.Evidence = "x\u2066y\u2069" }), "bant.need.evidence", "bidirectional"},
		{"negative event", "need", with(func(c *pipeline.Criterion) { c.EvidenceEventID = -1 }), "bant.need.evidence_event_id", "negative"},
		{"source too long", "timing", with(func(c *pipeline.Criterion) { c.Source = strings.Repeat("s", 201) }), "bant.timing.source", "longer than 200"},
		{"source with newline", "timing", with(func(c *pipeline.Criterion) { c.Source = "form\n" }), "bant.timing.source", "control character"},
		{"confirmed by too long", "timing", with(func(c *pipeline.Criterion) { c.ConfirmedBy = strings.Repeat("s", 201) }), "bant.timing.confirmed_by", "longer than 200"},
		{"confirmed by bidi", "timing", with(func(c *pipeline.Criterion) { c.ConfirmedBy = "\u202Esam" }), "bant.timing.confirmed_by", "bidirectional"},
		{"confirmed by blank", "timing", with(func(c *pipeline.Criterion) { c.ConfirmedBy = "  " }), "bant.timing.confirmed_by", "blank"},
		{"confirmed without time", "timing", with(func(c *pipeline.Criterion) { c.ConfirmedAt = time.Time{} }), "bant.timing.confirmed_at", "required with confirmed_by"},
		{"time without confirmer", "timing", with(func(c *pipeline.Criterion) { c.ConfirmedBy = "" }), "bant.timing.confirmed_by", "required with confirmed_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, "CheckCriterion", pipeline.CheckCriterion(tt.criterion, tt.c), tt.field, tt.reason)
		})
	}
}

func TestCriterionJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    pipeline.Criterion
		want string
	}{
		{pipeline.Criterion{}, `{}`},
		{pipeline.Criterion{Value: "Q3"}, `{"value":"Q3"}`},
		{pipeline.Criterion{Value: "20k", Evidence: "said so", EvidenceEventID: 7, Source: "call", ConfirmedBy: "sam", ConfirmedAt: confirmedAt},
			`{"value":"20k","evidence":"said so","evidence_event_id":7,"source":"call","confirmed_by":"sam","confirmed_at":"2025-03-14T09:30:00Z"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.c)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != tt.want {
			t.Errorf("json.Marshal(%+v) = %s; want %s", tt.c, got, tt.want)
		}
		var back pipeline.Criterion
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != tt.c {
			t.Errorf("json round trip of %+v = %+v", tt.c, back)
		}
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	def := pipeline.DefaultConfig().Qualified
	tests := []struct {
		name string
		req  pipeline.Requirement
		bant map[string]pipeline.Criterion
		want []string
	}{
		{"nothing known", def, nil, []string{"need", "timing", "one of budget or authority"}},
		{"empty map", def, map[string]pipeline.Criterion{}, []string{"need", "timing", "one of budget or authority"}},
		{"need", def, bant("need"), []string{"timing", "one of budget or authority"}},
		{"timing and budget", def, bant("timing", "budget"), []string{"need"}},
		{"need and timing", def, bant("need", "timing"), []string{"one of budget or authority"}},
		{"met by budget", def, bant("need", "timing", "budget"), nil},
		{"met by authority", def, bant("need", "timing", "authority"), nil},
		{"met by both", def, bant(pipeline.Criteria...), nil},
		{"unconfirmed do not count", def, map[string]pipeline.Criterion{
			"need": {Value: "yes", ConfirmedBy: "sam"}, "timing": {Value: "Q3", ConfirmedAt: confirmedAt}, "budget": confirmed("20k"),
		}, []string{"need", "timing"}},
		{"unknown keys ignored", def, bant("money", "need", "timing", "budget"), nil},
		{"no requirement", pipeline.Requirement{}, nil, nil},
		{"all in its own order", pipeline.Requirement{All: []string{"timing", "budget", "need"}}, bant("budget"), []string{"timing", "need"}},
		{"any of one", pipeline.Requirement{Any: []string{"need"}}, nil, []string{"need"}},
		{"any of three", pipeline.Requirement{Any: []string{"need", "timing", "budget"}}, bant("authority"), []string{"one of need, timing or budget"}},
	}
	for _, tt := range tests {
		if got := pipeline.Missing(tt.req, tt.bant); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Missing(%+v, …) = %q; want %q", tt.name, tt.req, got, tt.want)
		}
	}
}
