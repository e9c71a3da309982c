package score

import (
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
		prog, err := expr.Compile(c.when, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			t.Fatalf("%s: %v", c.when, err)
		}
		rl := &rule{prog: prog, guards: guards(prog)}
		if len(rl.guards) != c.guards {
			t.Errorf("%s: %d guards %v; want %d", c.when, len(rl.guards), rl.guards, c.guards)
		}
		for _, p := range props {
			got, err := expr.Run(prog, Env{Event: p, Contact: ContactEnv{Country: "FR"}})
			if !rl.admits(p) && err == nil && got == true {
				t.Errorf("%s on %v: guard said no, the condition holds", c.when, p)
			}
		}
	}
}
