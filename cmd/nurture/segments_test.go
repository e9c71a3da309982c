package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/web"
)

// shippedSegments are the names in internal/segment/defaults.yaml.
var shippedSegments = []string{"cold-intent", "hot-intent", "icp-fit", "icp-uncertain", "warm-intent"}

// nurtureSplit runs the command with its standard output and error apart.
func nurtureSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// segmentRows reads `nurture segments list` into its rows by name (the
// header left out), each split into its columns.
func segmentRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("segments list = %q; want a header", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Fatalf("segments list row %q: want name, kind, version, status, members and rule", l)
		}
		rows[f[0]] = f
	}
	return rows
}

func TestSegmentsCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defaults := write("defaults.yaml", string(segment.DefaultSource()))
	// A good segment, then one whose rule names an unknown field on its
	// second line: nothing of the document may be saved.
	bad := write("bad.yaml", "segments:\n  - name: fr\n    rule: country == \"FR\"\n  - name: shoes\n    rule: |\n      country == \"FR\"\n      and shoe_size > 4\n")
	notYAML := write("not-yaml.yaml", "segments: [\n")
	badName := write("bad-name.yaml", "segments:\n  - name: A B\n    rule: country == \"FR\"\n")
	huge := write("huge.yaml", strings.Repeat("#", segment.MaxDocumentBytes+1))
	next := write("next.yaml", strings.Replace(string(segment.DefaultSource()),
		"description: looked at pricing twice", "description: viewed pricing twice", 1))
	ruleFile := write("rule.txt", `country == "FR"`)
	lists := write("lists.yaml", "segments:\n  - name: vip-list\n    kind: static\n")

	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, _ := dbArgs(t, db)
			run := func(cmd ...string) (string, string, error) {
				t.Helper()
				return nurtureSplit(t, append(cmd, args...)...)
			}
			if out, _, err := run("migrate", "up"); err != nil {
				t.Fatalf("migrate up: %v\n%s", err, out)
			}
			out, errOut, err := run("segments", "preview", `country == "FR"`)
			if err != nil || out != "0 of 0 contacts match.\n" {
				t.Errorf("preview on an empty database = %q, %q, %v; want \"0 of 0 contacts match.\"", out, errOut, err)
			}

			// Refused documents print every problem with its place and save nothing.
			out, errOut, err = run("segments", "apply", bad)
			if err == nil || !strings.Contains(errOut, "bad.yaml: line 2, column 15 of the rule (segments[1].rule.all[1].field)") ||
				!strings.Contains(errOut, `unknown field "shoe_size"`) || !strings.Contains(errOut, "nothing saved") || strings.Contains(out, "saved") {
				t.Errorf("apply of an invalid document = %q, %q, %v; want the problem with its segment, line and column on stderr, and a failure", out, errOut, err)
			}
			for _, f := range []string{notYAML, badName, huge, filepath.Join(dir, "missing.yaml")} {
				if out, errOut, err := run("segments", "apply", f); err == nil || errOut == "" {
					t.Errorf("apply %s = %q, %q, %v; want a failure explained on stderr", filepath.Base(f), out, errOut, err)
				}
			}
			if _, errOut, _ := run("segments", "apply", badName); !strings.Contains(errOut, "segments[0].name") {
				t.Errorf("apply of a bad name: stderr %q; want segments[0].name", errOut)
			}
			out, _, err = run("segments", "list")
			if err != nil || len(segmentRows(t, out)) != 0 {
				t.Fatalf("list after refused documents = %q, %v; want no segment", out, err)
			}

			// The shipped document.
			out, _, err = run("segments", "show", "--default")
			if err != nil || out != string(segment.DefaultSource()) {
				t.Errorf("show --default = %q, %v; want the shipped document", out, err)
			}
			if out, _, err := run("segments", "show"); err != nil || out != string(segment.DefaultSource()) {
				t.Errorf("show with no name = %q, %v; want the shipped document", out, err)
			}

			out, errOut, err = run("segments", "apply", defaults)
			if err != nil {
				t.Fatalf("apply of the defaults: %v\n%s%s", err, out, errOut)
			}
			for _, name := range shippedSegments {
				if !strings.Contains(out, name+": saved version 1; build job ") {
					t.Errorf("apply of the defaults = %q; want %s saved as version 1 with its build job", out, name)
				}
			}
			if n := strings.Count(out, "build job 1: done, contacts up to id 0 of 0"); n != 1 {
				t.Errorf("apply of the defaults = %q; want one build of them all, reported done", out)
			}
			out, _, err = run("segments", "apply", defaults)
			if err != nil || strings.Count(out, ": unchanged (version 1)") != len(shippedSegments) || strings.Contains(out, "saved") {
				t.Errorf("apply of the same document again = %q, %v; want every segment unchanged", out, err)
			}
			out, _, err = run("segments", "list")
			rows := segmentRows(t, out)
			var names []string
			for name, f := range rows {
				names = append(names, name)
				if f[1] != "dynamic" || f[2] != "1" || f[3] != "ready" || f[4] != "0" {
					t.Errorf("list row %v; want dynamic, version 1, ready, 0 members", f)
				}
			}
			slices.Sort(names)
			if err != nil || !slices.Equal(names, shippedSegments) {
				t.Errorf("list = %q, %v; want the %d shipped segments", out, err, len(shippedSegments))
			}
			if !strings.Contains(out, `not segment("hot-intent") and`) {
				t.Errorf("list = %q; want each rule's text", out)
			}
			out, _, err = run("segments", "show", "warm-intent")
			if err != nil || !strings.HasPrefix(out, "# warm-intent: dynamic segment, version 1, ready, 0 members\n") ||
				!strings.Contains(out, `description: "looked at pricing twice`) || !strings.Contains(out, `segment(\"hot-intent\")`) {
				t.Errorf("show warm-intent = %q, %v", out, err)
			}
			if out, errOut, err := run("segments", "show", "nope"); err == nil {
				t.Errorf("show of an unknown segment = %q, %q; want a failure", out, errOut)
			}

			// One segment changed: only it gets a version and a build.
			out, _, err = run("segments", "apply", "--by", "ci", next)
			if err != nil || !strings.Contains(out, "warm-intent: saved version 2; build job ") || strings.Count(out, "unchanged (version 1)") != 4 {
				t.Errorf("apply of a changed document = %q, %v; want warm-intent version 2, the others unchanged", out, err)
			}

			// Preview: a rule in a file, and a bad rule.
			out, _, err = run("segments", "preview", "--sample", "3", "@"+ruleFile)
			if err != nil || out != "0 of 0 contacts match.\n" {
				t.Errorf("preview @file = %q, %v", out, err)
			}
			out, errOut, err = run("segments", "preview", "shoe_size > 4")
			if err == nil || !strings.Contains(errOut, "line 1, column 11 of the rule") || !strings.Contains(errOut, "shoe_size") {
				t.Errorf("preview of a bad rule = %q, %q, %v; want the problem with its place on stderr, and a failure", out, errOut, err)
			}
			if out, _, _ := run("segments", "list"); len(segmentRows(t, out)) != len(shippedSegments) {
				t.Errorf("previews saved something: %q", out)
			}

			// A static list, then the defaults again: the list must not get in the way.
			out, errOut, err = run("segments", "apply", lists)
			if err != nil || !strings.Contains(out, "vip-list: saved version 1\n") {
				t.Fatalf("apply of a static list = %q, %q, %v", out, errOut, err)
			}
			out, errOut, err = run("segments", "apply", next)
			if err != nil || strings.Count(out, "unchanged") != len(shippedSegments) {
				t.Errorf("apply with a static list stored = %q, %q, %v; want every segment unchanged", out, errOut, err)
			}
			out, _, _ = run("segments", "list")
			if f := segmentRows(t, out)["vip-list"]; len(f) != 5 || f[1] != "static" || f[2] != "1" || f[3] != "ready" || f[4] != "0" {
				t.Errorf("list row of the static list = %q; want static, version 1, ready, 0 members", f)
			}
		})
	}
}

// serverStarts fails the test at once when the HTTP handler cannot be built
// (serve would then die, and the serve helper wait its full 20 s).
func serverStarts(t *testing.T, db storetest.DB) {
	t.Helper()
	st := storetest.Open(t, db, clock.Real{})
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("nurture serve cannot start: web.New panics: %v", p)
		}
	}()
	web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
}

// The must-show, on a real server with the wall clock: two views of
// the pricing page put the contact in warm-intent within a second of the
// second view being acknowledged.
func TestWarmIntentWithinASecondOnARunningServer(t *testing.T) {
	dir := t.TempDir()
	defaults := filepath.Join(dir, "defaults.yaml")
	if err := os.WriteFile(defaults, segment.DefaultSource(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			serverStarts(t, db)
			args, _ := dbArgs(t, db)
			if out, err := nurture(t, append([]string{"segments", "apply", defaults}, args...)...); err != nil {
				t.Fatalf("segments apply: %v\n%s", err, out)
			}
			out, err := nurture(t, append([]string{"apikey", "create", "--name", "must-show"}, args...)...)
			if err != nil {
				t.Fatalf("apikey create: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			key := lines[len(lines)-1]
			_, addr, _ := serve(t, args)

			call := func(method, path string, body any) (int, []byte) {
				t.Helper()
				var r io.Reader
				if body != nil {
					b, _ := json.Marshal(body)
					r = bytes.NewReader(b)
				}
				req, err := http.NewRequest(method, "http://"+addr+path, r)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, raw
			}
			inWarmIntent := func(id int64) bool {
				t.Helper()
				status, raw := call("GET", fmt.Sprintf("/api/v1/contacts/%d/segments", id), nil)
				if status != http.StatusOK {
					t.Fatalf("GET contact segments: %d\n%s", status, raw)
				}
				var res struct{ Segments []struct{ Name string } }
				if err := json.Unmarshal(raw, &res); err != nil {
					t.Fatal(err)
				}
				for _, s := range res.Segments {
					if s.Name == "warm-intent" {
						return true
					}
				}
				return false
			}

			status, raw := call("PUT", "/api/v1/contacts", map[string]any{"email": "ada@example.com", "country": "FR"})
			if status != http.StatusCreated {
				t.Fatalf("PUT contact: %d\n%s", status, raw)
			}
			var ada struct{ ID int64 }
			if err := json.Unmarshal(raw, &ada); err != nil || ada.ID == 0 {
				t.Fatalf("PUT contact answered %s", raw)
			}
			view := map[string]any{"contact_id": ada.ID, "type": "page_viewed", "properties": map[string]any{"url": "https://x.test/pricing"}}
			if status, raw := call("POST", "/api/v1/events", view); status/100 != 2 {
				t.Fatalf("first view: %d\n%s", status, raw)
			}
			if inWarmIntent(ada.ID) {
				t.Fatal("in warm-intent after one view; want two")
			}
			status, raw = call("POST", "/api/v1/events", view)
			acked := time.Now()
			if status/100 != 2 {
				t.Fatalf("second view: %d\n%s", status, raw)
			}
			for !inWarmIntent(ada.ID) {
				if time.Since(acked) > time.Second {
					t.Fatal("not in warm-intent 1 s after the second view was acknowledged")
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("in warm-intent %v after the second view was acknowledged", time.Since(acked))
		})
	}
}
