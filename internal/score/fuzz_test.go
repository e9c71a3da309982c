package score_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// FuzzParse feeds Parse anything: it never panics, and it either returns
// rules that score events, or a *DocumentError that says what is wrong.
func FuzzParse(f *testing.F) {
	f.Add(score.DefaultSource())
	if b, err := json.Marshal(score.Default().Doc); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"# nothing\n",
		"scores: {s: {}}\n",
		"scores: {s: {}}\n---\nrules: []\n",
		"scores: [\n",
		"scores:\n  s: {}\n\tbad: tab\n",
		withHead("  - {id: a, event: hit, score: engagement, points: 1, when: 'event.url contans \"x\"'}"),
		withHead("  - {id: a, profile: true, score: fit, points: 1, when: 'contact.rol == \"x\"'}"),
		withHead("  - {id: a, event: hit, score: engagement, points: 5, limit: {once: true, per_day: 2, per_week: 3, cap: 9}}"),
		withHead("  - {id: a, event: hit, score: score, points: 1001, limit: {cap: -1}}"),
		withHead("  - {id: inactivity, event: hit, score: nope, points: 0}"),
		withHead("  - {id: a, event: hit, score: engagement, points: -5, when: '$env.contact.role == \"CEO\"'}"),
		yamlDoc("scores: {e: {min: 0}}", "inactivity: {after: 30x, points: -1, score: e, activity: [hit]}"),
		yamlDoc("scores: {e: {min: 0}}", "inactivity: {after: 1h, points: -1, score: e, repeat: true, activity: [hit]}"),
		yamlDoc("scores: {e: {}}", "inactivity: {after: 36h30m, points: -1, score: e, activity: [hit]}"),
		yamlDoc("scores: {s: {}}", "thresholds: {score: s, hysteresis: 3, bands: [{name: a, min: 1, lifecycle: sql}, {name: b}]}"),
		yamlDoc("scores: {s: {}}", "thresholds: {score: s, bands: [{name: a, min: 1}, {name: b, min: 1}]}"),
		"a: &a [*a, *a]\n",
		"scores: {s: {description: \"\\u202e\"}}\n",
		`{"scores": {"s": {"min": 0}}, "rules": [{"id": "a", "event": "hit", "score": "s", "points": 2}]}`,
	} {
		f.Add([]byte(s))
	}
	c := &contact.Contact{Role: "CEO", Tags: []string{"vip"}, CustomFields: map[string]any{"n": 3}}
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := score.Parse(src)
		if err != nil {
			var de *score.DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("Parse error %T %v; want *score.DocumentError", err, err)
			}
			if r != nil {
				t.Fatalf("Parse returned rules and an error")
			}
			if len(de.Problems) == 0 || de.Error() == "" {
				t.Fatalf("DocumentError without problems: %v", de)
			}
			for _, p := range de.Problems {
				if p.Line < 0 || p.Path == "" || p.Reason == "" {
					t.Fatalf("problem %+v lacks a path or reason", p)
				}
			}
			return
		}
		if r == nil {
			t.Fatalf("Parse returned neither rules nor an error")
		}
		if string(r.Source) != string(src) {
			t.Fatalf("Source is not the document as written")
		}
		// What was accepted can be written as JSON and read back.
		if b, err := json.Marshal(r.Doc); err != nil {
			t.Fatalf("marshal document: %v", err)
		} else if _, err := score.Parse(b); err != nil && len(b) <= score.MaxDocumentBytes {
			t.Fatalf("the accepted document as JSON is rejected: %v\n%s", err, b)
		}
		// The rules score every event type they name, and tick, without
		// panicking.
		r.Stamp(1, score.Default())
		var st score.State
		types := []string{"lead_created", "field_changed"}
		for _, rl := range r.Doc.Rules {
			types = append(types, rl.Event)
		}
		at := base
		for i, typ := range types {
			at = at.Add(time.Duration(i) * time.Hour)
			r.Apply(&st, score.Event{ID: int64(i + 1), Type: typ, Source: "web", At: at,
				Properties: json.RawMessage(`{"url":"/pricing","form":"demo","machine":false,"n":2}`)}, c)
		}
		if w := r.NextWake(&st); !w.IsZero() {
			r.Tick(&st, w)
		}
		r.Tick(&st, at.Add(400*day))
		if _, ok := r.Band(st.Band); st.Band != "" && !ok {
			t.Fatalf("state in band %q the rules do not have", st.Band)
		}
	})
}
