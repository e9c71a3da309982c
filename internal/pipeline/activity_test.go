package pipeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/pipeline"
)

func TestCheckActivity(t *testing.T) {
	t.Parallel()
	when := time.Date(2025, 2, 3, 14, 0, 0, 0, time.UTC)
	ok := pipeline.Activity{Type: "call", By: "sam", Notes: "Talked budget.\n\t- 20k\r\n- Q3", Outcome: "meeting booked", OccurredAt: when}
	with := func(f func(*pipeline.Activity)) pipeline.Activity {
		a := ok
		f(&a)
		return a
	}
	tests := []struct {
		name   string
		a      pipeline.Activity
		field  string
		reason string
	}{
		{"call", ok, "", ""},
		{"meeting", with(func(a *pipeline.Activity) { a.Type = "meeting" }), "", ""},
		{"email reply", with(func(a *pipeline.Activity) { a.Type = "email_reply" }), "", ""},
		{"note", with(func(a *pipeline.Activity) { a.Type = "note" }), "", ""},
		{"minimal", pipeline.Activity{Type: "note", By: "kim"}, "", ""},
		{"longest", with(func(a *pipeline.Activity) {
			a.By, a.Notes, a.Outcome = strings.Repeat("ñ", 200), strings.Repeat("ñ", 5000), strings.Repeat("ñ", 200)
		}), "", ""},

		{"unknown type", with(func(a *pipeline.Activity) { a.Type = "sms" }), "type", `unknown activity "sms"; activities: call, meeting, email_reply, note`},
		{"empty type", with(func(a *pipeline.Activity) { a.Type = "" }), "type", `unknown activity ""`},
		{"type in capitals", with(func(a *pipeline.Activity) { a.Type = "Call" }), "type", `"Call"`},
		{"type with bidi", with(func(a *pipeline.Activity) { a.Type = "\u202Ellac" }), "type", `"\u202ellac"`},
		{"oversized type", with(func(a *pipeline.Activity) { a.Type = strings.Repeat("c", 1<<20) }), "type", "unknown activity"},
		{"no author", with(func(a *pipeline.Activity) { a.By = "" }), "by", "is required"},
		{"blank author", with(func(a *pipeline.Activity) { a.By = " \t\n" }), "by", "is required"},
		{"author too long", with(func(a *pipeline.Activity) { a.By = strings.Repeat("b", 201) }), "by", "longer than 200"},
		{"author with newline", with(func(a *pipeline.Activity) { a.By = "sam\nadmin" }), "by", "control character"},
		{"author with bidi", with(func(a *pipeline.Activity) { a.By = "sam\u202Enimda" }), "by", "bidirectional"},
		{"author not UTF-8", with(func(a *pipeline.Activity) { a.By = "sam\xfe" }), "by", "UTF-8"},
		{"notes too long", with(func(a *pipeline.Activity) { a.Notes = strings.Repeat("n", 5001) }), "notes", "longer than 5000"},
		{"notes oversized", with(func(a *pipeline.Activity) { a.Notes = strings.Repeat("n", 16<<20) }), "notes", "longer than 5000"},
		{"notes with NUL", with(func(a *pipeline.Activity) { a.Notes = "ok\x00" }), "notes", "control character"},
		{"notes with escape", with(func(a *pipeline.Activity) { a.Notes = "\x1b[2J" }), "notes", "control character"},
		{"notes with form feed", with(func(a *pipeline.Activity) { a.Notes = "page\fbreak" }), "notes", "control character"},
		{"notes with lone CR", with(func(a *pipeline.Activity) { a.Notes = "a\rb" }), "notes", "control character"},
		{"notes with bidi override", with(func(a *pipeline.Activity) { a.Notes = "invoice \u202Efdp.exe" }), "notes", "bidirectional"},
		{"notes with bidi isolate", with(func(a *pipeline.Activity) { a.Notes = "\u2068x\u2069" }), "notes", "bidirectional"},
		{"notes not UTF-8", with(func(a *pipeline.Activity) { a.Notes = "\xed\xa0\x80" }), "notes", "UTF-8"},
		{"outcome too long", with(func(a *pipeline.Activity) { a.Outcome = strings.Repeat("o", 201) }), "outcome", "longer than 200"},
		{"outcome with tab", with(func(a *pipeline.Activity) { a.Outcome = "booked\tQ3" }), "outcome", "control character"},
		{"outcome with bidi", with(func(a *pipeline.Activity) { a.Outcome = "\u202Bbooked" }), "outcome", "bidirectional"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, "CheckActivity", pipeline.CheckActivity(tt.a), tt.field, tt.reason)
		})
	}
}

func TestTakesOver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"call", true},
		{"meeting", true},
		{"email_reply", true},
		{"note", false},
		{"", false},
		{"Call", false},
		{"sms", false},
		{"email", false},
	}
	for _, tt := range tests {
		if got := pipeline.TakesOver(tt.in); got != tt.want {
			t.Errorf("TakesOver(%q) = %t; want %t", tt.in, got, tt.want)
		}
	}
	// Only a known activity can take over, and all but note do.
	for _, a := range pipeline.Activities {
		if got, want := pipeline.TakesOver(a), a != "note"; got != want {
			t.Errorf("TakesOver(%q) = %t; want %t", a, got, want)
		}
	}
}
