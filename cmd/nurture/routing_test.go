package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/store/storetest"
)

// TestRoutingCommands sets up speed to lead from the shipped examples and
// shows a refused document's problems with their lines.
func TestRoutingCommands(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, _ := dbArgs(t, db)
			run := func(cmd ...string) (string, error) { return nurture(t, append(cmd, args...)...) }
			ex := filepath.Join("..", "..", "examples")
			steps := []struct {
				cmd  []string
				want string
			}{
				{[]string{"holidays", "load", filepath.Join(ex, "holidays", "fr.yaml"), filepath.Join(ex, "holidays", "us.yaml")}, "holidays for US"},
				{[]string{"owners", "apply", filepath.Join(ex, "speed-to-lead", "owners.yaml")}, "owner dana: created"},
				{[]string{"teams", "apply", filepath.Join(ex, "speed-to-lead", "teams.yaml")}, "team enterprise: created"},
				{[]string{"routing", "apply", filepath.Join(ex, "speed-to-lead", "routing.yaml")}, "routing rules version 1 in force"},
				{[]string{"routing", "show"}, "default_team: paris"},
				{[]string{"owners", "list"}, "carol  carol@example.com  America/New_York  true"},
				{[]string{"teams", "list"}, "paris       round_robin  Europe/Paris"},
			}
			for _, s := range steps {
				if out, err := run(s.cmd...); err != nil || !strings.Contains(out, s.want) {
					t.Fatalf("%v: %v\n%s", s.cmd, err, out)
				}
			}
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.yaml")
			os.WriteFile(bad, []byte("default_team: paris\nrules:\n  - {name: a, team: nowhere}\n  - {name: b, team: paris, value: {min: 10, max: 5}}\n"), 0o644)
			out, err := run("routing", "apply", bad)
			if err == nil || !strings.Contains(out, `line 3: rules[0].team: no team "nowhere"`) || !strings.Contains(out, "nothing was applied") {
				t.Errorf("a bad document: %v\n%s", err, out)
			}
			owners := filepath.Join(dir, "owners.yaml")
			os.WriteFile(owners, []byte("owners:\n  - {name: zed, email: z@example.com, time_zone: Mars/Olympus}\n"), 0o644)
			if out, err := run("owners", "apply", owners); err == nil || !strings.Contains(out, "owners[0].time_zone") {
				t.Errorf("a bad owner: %v\n%s", err, out)
			}
		})
	}
}
