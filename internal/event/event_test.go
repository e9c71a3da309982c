package event_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/event"
)

// errField returns the field an *event.ValidationError names, "" for no
// error, and fails the test for an error of any other type.
func errField(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not an *event.ValidationError", err, err)
	}
	return ve.Field
}

func TestCheckType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"page_viewed", true},
		{"demo_requested", true},
		{"trial_day_3", true},
		{"a", true},
		{"a" + strings.Repeat("b", 63), true}, // 64 characters

		{"", false},
		{"a" + strings.Repeat("b", 64), false}, // 65 characters
		{"Page_viewed", false},
		{"pageViewed", false},
		{"page-viewed", false},
		{"page.viewed", false},
		{"page viewed", false},
		{"1st_visit", false},
		{"_private", false},
		{"page_viewed\n", false},
		{"\npage_viewed", false},
		{"pagé_viewed", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			err := event.CheckType(tt.in)
			want := ""
			if !tt.ok {
				want = "type"
			}
			if got := errField(t, err); got != want {
				t.Errorf("CheckType(%q) = %v; want an error on %q", tt.in, err, want)
			}
		})
	}
}

// Clients may send the standard types the engine reads, never the ones
// Nurture writes about itself.
func TestCheckTypeRefusesSystemTypes(t *testing.T) {
	t.Parallel()
	system := 0
	for _, typ := range event.Registry {
		err := event.CheckType(typ.Name)
		if got := event.IsSystem(typ.Name); got != typ.System {
			t.Errorf("IsSystem(%q) = %v; want %v", typ.Name, got, typ.System)
		}
		if !typ.System {
			if err != nil {
				t.Errorf("CheckType(%q) = %v; want nil", typ.Name, err)
			}
			continue
		}
		system++
		if errField(t, err) != "type" || !strings.Contains(err.Error(), typ.Name) {
			t.Errorf("CheckType(%q) = %v; want an error on type naming it", typ.Name, err)
		}
	}
	if system == 0 {
		t.Error("Registry holds no system type")
	}
	if event.IsSystem("demo_requested") {
		t.Error("IsSystem(demo_requested) = true; want false for a type outside the registry")
	}
}

func TestCheckOccurredAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	minTime := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		t    time.Time
		ok   bool
	}{
		{"now", now, true},
		{"last year", now.AddDate(-1, 0, 0), true},
		{"2000-01-01", minTime, true},
		{"2000-01-01 in another zone", minTime.In(paris), true},
		{"clock skew", now.Add(event.MaxFuture), true},

		{"just before 2000", minTime.Add(-time.Nanosecond), false},
		{"1999 in local time, 2000 nowhere", time.Date(2000, 1, 1, 0, 30, 0, 0, paris), false},
		{"zero time", time.Time{}, false},
		{"too far ahead", now.Add(event.MaxFuture + time.Nanosecond), false},
		{"next year", now.AddDate(1, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.CheckOccurredAt(tt.t, now)
			want := ""
			if !tt.ok {
				want = "occurred_at"
			}
			if got := errField(t, err); got != want {
				t.Errorf("CheckOccurredAt(%v, %v) = %v; want an error on %q", tt.t, now, err, want)
			}
		})
	}
}

// object returns a JSON object of exactly n bytes.
func object(n int) string {
	const frame = `{"k":""}`
	return `{"k":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

func TestCheckProperties(t *testing.T) {
	t.Parallel()
	const pretty = `{
	"url": "https://example.com/a?b=<c>",
	"n": 1,
	"tags": [ "a" ]
}`
	tests := []struct {
		name string
		in   string
		want string // compacted output, "" for nil; ignored on error
		ok   bool
	}{
		{"absent", "", "", true},
		{"blank", " \n\t", "", true},
		{"null", "null", "", true},
		{"null in spaces", "  null\n", "", true},
		{"empty object", "{}", "", true},
		{"empty object with space", " { \n } ", "", true},
		{"compacted", `{ "url" : "https://example.com/" , "n" : 1 }`, `{"url":"https://example.com/","n":1}`, true},
		{"pretty-printed, kept in order and unescaped", pretty, `{"url":"https://example.com/a?b=<c>","n":1,"tags":["a"]}`, true},
		{"nested", `{"a":{"b":[1,2,{}]}}`, `{"a":{"b":[1,2,{}]}}`, true},
		{"escaped NUL", `{"a":"\u0000"}`, `{"a":"\u0000"}`, true},
		{"largest", object(event.MaxPropertiesLen), object(event.MaxPropertiesLen), true},
		{"largest in spaces", "  " + object(event.MaxPropertiesLen) + "\n", object(event.MaxPropertiesLen), true},

		{"too large", object(event.MaxPropertiesLen + 1), "", false},
		{"array", `[1,2]`, "", false},
		{"empty array", `[]`, "", false},
		{"string", `"x"`, "", false},
		{"number", `1`, "", false},
		{"true", `true`, "", false},
		{"nul", `nul`, "", false},
		{"unclosed", `{"a":1`, "", false},
		{"missing value", `{"a":}`, "", false},
		{"trailing comma", `{"a":1,}`, "", false},
		{"two objects", `{"a":1}{"b":2}`, "", false},
		{"trailing garbage", `{"a":1} x`, "", false},
		{"single quotes", `{'a':1}`, "", false},
		{"raw newline in string", "{\"a\":\"x\ny\"}", "", false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := event.CheckProperties(json.RawMessage(tt.in))
			if !tt.ok {
				if f := errField(t, err); f != "properties" {
					t.Errorf("CheckProperties(%.40q) = %.40q, %v; want an error on properties", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckProperties(%.40q) error = %v; want nil", tt.in, err)
			}
			if tt.want == "" && got != nil {
				t.Errorf("CheckProperties(%.40q) = %q; want nil", tt.in, got)
			}
			if string(got) != tt.want {
				t.Errorf("CheckProperties(%.40q) = %.60q; want %.60q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"none", "", true},
		{"uuid", "3f1c5a0e-8d4b-4e6f-9a2b-7c1d0e5f6a3b", true},
		{"with spaces and punctuation", "form:contact us/42", true},
		{"non-ASCII", "clé-é", true},
		{"longest", strings.Repeat("k", event.MaxIdempotencyKeyLen), true},

		{"too long", strings.Repeat("k", event.MaxIdempotencyKeyLen+1), false},
		{"too long in bytes", strings.Repeat("é", event.MaxIdempotencyKeyLen/2+1), false},
		{"NUL", "key\x00", false},
		{"newline", "key\n1", false},
		{"tab", "key\t1", false},
		{"DEL", "key\x7f", false},
		{"invalid UTF-8", "key\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.CheckIdempotencyKey(tt.in)
			want := ""
			if !tt.ok {
				want = "idempotency_key"
			}
			if got := errField(t, err); got != want {
				t.Errorf("CheckIdempotencyKey(%q) = %v; want an error on %q", tt.in, err, want)
			}
		})
	}
}
