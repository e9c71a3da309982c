package pipeline_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/pipeline"
)

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	cfg := pipeline.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v; want nil", err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"lost_reasons":["no_budget","no_need","bad_timing","chose_competitor","no_response","not_a_fit","other"],` +
		`"qualified_requires":{"all":["need","timing"],"any":["budget","authority"]}}`
	if got := string(b); got != want {
		t.Errorf("json.Marshal(DefaultConfig()) = %s; want %s", got, want)
	}
	var back pipeline.Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Errorf("decoded DefaultConfig().Validate() = %v; want nil", err)
	}
}

func TestDefaultConfigIsFresh(t *testing.T) {
	t.Parallel()
	a := pipeline.DefaultConfig()
	a.LostReasons[0] = "changed"
	a.Qualified.All[0] = "changed"
	b := pipeline.DefaultConfig()
	if got, want := b.LostReasons[0], "no_budget"; got != want {
		t.Errorf("DefaultConfig().LostReasons[0] = %q after changing another; want %q", got, want)
	}
	if got, want := b.Qualified.All[0], "need"; got != want {
		t.Errorf("DefaultConfig().Qualified.All[0] = %q after changing another; want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	many := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("r%d", i))
		}
		return s
	}
	req := pipeline.DefaultConfig().Qualified
	tests := []struct {
		name   string
		cfg    pipeline.Config
		field  string
		reason string
	}{
		{"one reason, no requirement", pipeline.Config{LostReasons: []string{"other"}}, "", ""},
		{"fifty reasons", pipeline.Config{LostReasons: many(50)}, "", ""},
		{"longest slug", pipeline.Config{LostReasons: []string{strings.Repeat("a", 64)}}, "", ""},
		{"all only", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{All: []string{"budget", "authority", "need", "timing"}}}, "", ""},
		{"any only", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{Any: []string{"timing"}}}, "", ""},

		{"zero", pipeline.Config{}, "lost_reasons", "at least one"},
		{"empty list", pipeline.Config{LostReasons: []string{}, Qualified: req}, "lost_reasons", "at least one"},
		{"fifty-one reasons", pipeline.Config{LostReasons: many(51)}, "lost_reasons", "more than 50"},
		{"empty reason", pipeline.Config{LostReasons: []string{"a", ""}}, "lost_reasons[1]", `""`},
		{"slug too long", pipeline.Config{LostReasons: []string{strings.Repeat("a", 65)}}, "lost_reasons[0]", "1 to 64"},
		{"capitals", pipeline.Config{LostReasons: []string{"No_Budget"}}, "lost_reasons[0]", `"No_Budget"`},
		{"space", pipeline.Config{LostReasons: []string{"no budget"}}, "lost_reasons[0]", "lower-case"},
		{"hyphen", pipeline.Config{LostReasons: []string{"no-budget"}}, "lost_reasons[0]", "lower-case"},
		{"trailing newline", pipeline.Config{LostReasons: []string{"other\n"}}, "lost_reasons[0]", `"other\n"`},
		{"bidi override", pipeline.Config{LostReasons: []string{"\u202Eother"}}, "lost_reasons[0]", `"\u202eother"`},
		{"non-ASCII letter", pipeline.Config{LostReasons: []string{"coût"}}, "lost_reasons[0]", "lower-case"},
		{"duplicate reason", pipeline.Config{LostReasons: []string{"other", "no_need", "other"}}, "lost_reasons[2]", "other is listed twice"},
		{"oversized reason", pipeline.Config{LostReasons: []string{strings.Repeat("a", 1<<20)}}, "lost_reasons[0]", "1 to 64"},

		{"unknown in all", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{All: []string{"need", "money"}}},
			"qualified_requires.all[1]", `unknown criterion "money"; criteria: budget, authority, need, timing`},
		{"unknown in any", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{Any: []string{"Budget"}}},
			"qualified_requires.any[0]", `unknown criterion "Budget"`},
		{"empty criterion", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{All: []string{""}}},
			"qualified_requires.all[0]", `unknown criterion ""`},
		{"duplicate in all", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{All: []string{"need", "need"}}},
			"qualified_requires.all[1]", "need is listed twice"},
		{"duplicate in any", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{Any: []string{"budget", "authority", "budget"}}},
			"qualified_requires.any[2]", "budget is listed twice"},
		{"in all and any", pipeline.Config{LostReasons: []string{"x"}, Qualified: pipeline.Requirement{All: []string{"need"}, Any: []string{"budget", "need"}}},
			"qualified_requires.any[1]", "need is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, "Validate", tt.cfg.Validate(), tt.field, tt.reason)
		})
	}
}

func TestConfigFromJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		field string
	}{
		{`{"lost_reasons":["price"],"qualified_requires":{"all":["budget"],"any":[]}}`, ""},
		{`{"lost_reasons":["price"]}`, ""},
		{`{"lost_reasons":["price"],"qualified_requires":{"all":["budget","budget"]}}`, "qualified_requires.all[1]"},
		{`{"qualified_requires":{"all":["budget"]}}`, "lost_reasons"},
	}
	for _, tt := range tests {
		var cfg pipeline.Config
		if err := json.Unmarshal([]byte(tt.in), &cfg); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", tt.in, err)
		}
		checkErr(t, "Validate("+tt.in+")", cfg.Validate(), tt.field, "")
	}
}
