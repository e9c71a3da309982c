package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

func TestScoringCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yaml", "scores:\n  fit: {}\nrules:\n  - id: a\n    event: page_viewed\n    when: event.url contans \"x\"\n    score: nope\n    points: 1\n")
	huge := write("huge.yaml", strings.Repeat("#", score.MaxDocumentBytes+1))
	next := write("next.yaml", strings.Replace(string(score.DefaultSource()), "points: 10\n", "points: 20\n", 1))
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, _ := dbArgs(t, db)
			if out, err := nurture(t, append([]string{"migrate", "up"}, args...)...); err != nil {
				t.Fatalf("migrate up: %v\n%s", err, out)
			}
			out, err := nurture(t, append([]string{"scoring", "apply", bad}, args...)...)
			if err == nil || !strings.Contains(out, "bad.yaml:6: rules[0].when") || !strings.Contains(out, "bad.yaml:7: rules[0].score") {
				t.Errorf("apply of an invalid document = %q, %v; want each problem with its line, and a failure", out, err)
			}
			if out, err := nurture(t, append([]string{"scoring", "apply", huge}, args...)...); err == nil {
				t.Errorf("apply of an oversized document succeeded: %q", out)
			}
			if out, err := nurture(t, append([]string{"scoring", "apply", filepath.Join(dir, "missing.yaml")}, args...)...); err == nil {
				t.Errorf("apply of a missing file succeeded: %q", out)
			}
			out, _ = nurture(t, append([]string{"scoring", "show", "--history"}, args...)...)
			if !strings.Contains(out, "defaults shipped") || strings.Count(out, "\n") != 2 {
				t.Errorf("history after refused documents = %q; want only version 1", out)
			}
			out, err = nurture(t, append([]string{"scoring", "apply", "--dry-run", next}, args...)...)
			if err != nil || !strings.Contains(out, "Dry run against rules version 1") || !strings.Contains(out, "sales-ready") {
				t.Errorf("dry run = %q, %v", out, err)
			}
			out, err = nurture(t, append([]string{"scoring", "apply", "--comment", "pricing", next}, args...)...)
			if err != nil || !strings.Contains(out, "version 2") || !strings.Contains(out, "Rescore done") {
				t.Errorf("apply = %q, %v; want version 2 and the rescore done", out, err)
			}
			out, _ = nurture(t, append([]string{"scoring", "show"}, args...)...)
			if !strings.Contains(out, "version 2") || !strings.Contains(out, "points: 20") {
				t.Errorf("show = %q; want version 2 with its document", out)
			}
		})
	}
	if out, err := nurture(t, "scoring", "show", "--default"); err != nil || !strings.Contains(out, "pricing-page") {
		t.Errorf("show --default = %q, %v", out, err)
	}
}
