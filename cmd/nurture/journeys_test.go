package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/store/storetest"
)

func TestJourneysCommands(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, _ := dbArgs(t, db)
			run := func(cmd ...string) (string, error) { return nurture(t, append(cmd, args...)...) }
			if out, err := run("journeys", "examples"); err != nil || !strings.Contains(out, "journeys/warm-lead.yaml: saved version 1") {
				t.Fatalf("examples: %v\n%s", err, out)
			}
			out, err := run("journeys", "list")
			if err != nil || !strings.Contains(out, "warm-lead") || !strings.Contains(out, "form_submitted") {
				t.Errorf("list: %v\n%s", err, out)
			}
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.yaml")
			os.WriteFile(bad, []byte("name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, send: {channel: email, template: nope}}\n  - {id: b, wait: -1d}\n"), 0o644)
			out, err = run("journeys", "apply", bad)
			if err == nil || !strings.Contains(out, `line 4: steps[0].send.template: unknown template "nope"`) || !strings.Contains(out, "line 5: steps[1].wait") {
				t.Errorf("apply of a bad document: %v\n%s", err, out)
			}
			good := filepath.Join(dir, "good.yaml")
			os.WriteFile(good, []byte("name: later\ntrigger: {manual: true}\nsteps:\n  - {id: a, send: {channel: email, template: warm-d1}}\n"), 0o644)
			if out, err := run("journeys", "validate", good); err != nil || !strings.Contains(out, `valid journey "later"`) {
				t.Errorf("validate: %v\n%s", err, out)
			}
			if out, err := run("journeys", "apply", good); err != nil || !strings.Contains(out, "later: saved version 1") {
				t.Errorf("apply: %v\n%s", err, out)
			}
			v2 := filepath.Join(dir, "v2.yaml")
			os.WriteFile(v2, []byte("name: later\ntrigger: {manual: true}\nsteps:\n  - {id: b, send: {channel: email, template: warm-d1}}\n"), 0o644)
			if out, err := run("journeys", "apply", "--preview", v2); err != nil || !strings.Contains(out, "version 2 would replace version 1") ||
				!strings.Contains(out, "steps removed: a") {
				t.Errorf("apply --preview: %v\n%s", err, out)
			}
			if out, err := run("journeys", "apply", "--migrate", v2); err != nil || !strings.Contains(out, "0 contact(s) moved to version 2, 0 left") {
				t.Errorf("apply --migrate: %v\n%s", err, out)
			}
			if out, err := run("journeys", "show", "later"); err != nil || !strings.Contains(out, "template: warm-d1") || !strings.Contains(out, "version 2") {
				t.Errorf("show: %v\n%s", err, out)
			}
			if _, err := run("journeys", "show", "nope"); err == nil {
				t.Error("show of an unknown journey succeeded")
			}
			if out, err := run("journeys", "simulate", good, "--days", "7"); err != nil || !strings.Contains(out, `Simulation of "later" over 7 days`) ||
				!strings.Contains(out, "Templates failing to render:\n  none") {
				t.Errorf("simulate: %v\n%s", err, out)
			}
			if out, err := run("journeys", "simulate", "examples/journeys/warm-lead.yaml", "--json"); err == nil {
				t.Errorf("simulate of a missing file: %s", out)
			}
			for _, bad := range [][]string{{"--days", "0"}, {"--days", "400"}, {"--sample", "-2"}} {
				if out, err := run(append([]string{"journeys", "simulate", good}, bad...)...); err == nil {
					t.Errorf("simulate %v: %s", bad, out)
				}
			}
			if out, err := run("journeys", "simulate", bad); err == nil || !strings.Contains(out, `unknown template "nope"`) {
				t.Errorf("simulate of a bad document: %v\n%s", err, out)
			}

			// The frequency cap.
			if out, err := run("journeys", "settings"); err != nil || !strings.Contains(out, "frequency_cap:\n  per_day: 1\n  per_week: 4\n") {
				t.Errorf("settings: %v\n%s", err, out)
			}
			capFile := filepath.Join(dir, "cap.yaml")
			os.WriteFile(capFile, []byte("frequency_cap:\n  per_day: 2\n  per_week: 6\n  channels:\n    sms: {per_week: 1}\n"), 0o644)
			if out, err := run("journeys", "settings", capFile); err != nil || !strings.Contains(out, "sms:\n      per_week: 1") {
				t.Errorf("settings FILE: %v\n%s", err, out)
			}
			for name, doc := range map[string]string{
				"bad.yaml":     "frequency_cap:\n  channels:\n    sms: {per_day: 3}\n",
				"unknown.yaml": "frequency_cap:\n  per_month: 3\n",
				"broken.yaml":  "frequency_cap: [\n",
			} {
				f := filepath.Join(dir, name)
				os.WriteFile(f, []byte(doc), 0o644)
				if out, err := run("journeys", "settings", f); err == nil {
					t.Errorf("settings %s accepted:\n%s", name, out)
				}
			}
			if out, err := run("journeys", "settings"); err != nil || !strings.Contains(out, "per_week: 6") {
				t.Errorf("settings after refused files: %v\n%s", err, out)
			}
		})
	}
}
