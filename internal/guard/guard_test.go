package guard

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
)

// A guard may rule a condition out only when the condition is false.
func TestGuardsNeverOverrule(t *testing.T) {
	conds := []struct {
		when   string
		guards int
	}{
		{`event.url contains "/pricing"`, 1},
		{`event["url"] startsWith "https://" && event.url endsWith ".pdf"`, 2},
		{`event.form == "quote" and event.url contains "x"`, 2},
		{`event.url contains "/a" || event.url contains "/b"`, 1},
		{`event.url contains "/a" || contact.country == "FR"`, 0},
		{`event.url matches "(?i)/(pricing|b)([/?#]|$)"`, 1},
		{`event.form in ["quote", "demo"] || event.qualification == true`, 0},
		{`event.form in ["quote", "demo"] || event.url == "/b"`, 1},
		{`event.form in ["quote", 1]`, 0},
		{`not (event.url contains "/a")`, 0},
		{`event?.url contains "/a"`, 0},
		{`contact.country == "FR" && event.url contains "/fr/"`, 1},
		{`"/a" in event.tags`, 0},
	}
	props := []map[string]any{
		{}, {"url": "/pricing"}, {"url": "https://x.test/a.pdf"}, {"url": 42}, {"url": nil},
		{"url": "/fr/a", "form": "quote"}, {"form": "quote"}, {"url": "/b"}, {"tags": []any{"/a"}},
		{"url": "/PRICING"}, {"form": "demo"}, {"form": "demo", "url": 1}, {"url": "/a", "form": 1},
	}
	for _, c := range conds {
		prog, err := expr.Compile(c.when, expr.Env(env{}), expr.AsBool())
		if err != nil {
			t.Fatalf("%s: %v", c.when, err)
		}
		gs := Find(prog)
		if len(gs) != c.guards {
			t.Errorf("%s: %d guards %v; want %d", c.when, len(gs), gs, c.guards)
		}
		for _, p := range props {
			got, err := expr.Run(prog, env{Event: p, Contact: contactEnv{Country: "FR"}})
			admitted := true
			for _, g := range gs {
				admitted = admitted && g.Admits(p)
			}
			if !admitted && err == nil && got == true {
				t.Errorf("%s on %v: guard said no, the condition holds", c.when, p)
			}
			// The stored text (json.Marshal escapes no "/") must contain a
			// literal of every guard that gives literals.
			raw, _ := json.Marshal(p)
			for _, g := range gs {
				lits, ok := g.Literals()
				if !ok || err != nil || got != true {
					continue
				}
				found := false
				for _, l := range lits {
					found = found || strings.Contains(string(raw), l)
				}
				if !found {
					t.Errorf("%s on %s: no literal of %v in the text, the condition holds", c.when, raw, lits)
				}
			}
		}
	}
}

type env struct {
	Event   map[string]any `expr:"event"`
	Contact contactEnv     `expr:"contact"`
}

type contactEnv struct {
	Country string `expr:"country"`
}

func TestLiterals(t *testing.T) {
	for _, c := range []struct {
		when string
		want []string
	}{
		{`event.url contains "/pricing"`, []string{"/pricing"}},
		{`event.form in ["quote", "demo"] || event.url == "/b"`, []string{"demo", "quote", "/b"}},
		{`event.url matches "a"`, nil},
		{`event.url contains "say \"hi\""`, nil},
		{`event.url contains "a" || event.url matches "b"`, nil},
	} {
		prog, err := expr.Compile(c.when, expr.Env(env{}), expr.AsBool())
		if err != nil {
			t.Fatalf("%s: %v", c.when, err)
		}
		gs := Find(prog)
		var got []string
		if len(gs) > 0 {
			got, _ = gs[0].Literals()
		}
		slicesSort := func(s []string) []string { s = append([]string(nil), s...); sort.Strings(s); return s }
		if strings.Join(slicesSort(got), ",") != strings.Join(slicesSort(c.want), ",") {
			t.Errorf("%s: literals %q; want %q", c.when, got, c.want)
		}
	}
}
