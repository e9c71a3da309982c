package feedback

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseGeneric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []Report
	}{
		{
			"one object, everything given",
			`{"type":"bounce","email":"Jane@Example.com","bounce_type":"soft","status":"4.2.2","reason":"452  mailbox\n full","message_id":"m-1","occurred_at":"2024-06-03T10:00:00+02:00"}`,
			[]Report{{Kind: Bounce, Email: "jane@example.com", Status: "4.2.2", Diagnostic: "452 mailbox full", MessageID: "m-1", At: mustTime("2024-06-03T08:00:00Z")}},
		},
		{
			"bounce defaults to hard",
			`{"type":"bounce","email":"a@b.test"}`,
			[]Report{{Kind: Bounce, Email: "a@b.test", Hard: true}},
		},
		{
			"bounce without bounce_type follows a 4.x.x status",
			` {"type":"bounce","email":"a@b.test","status":"4.4.1"} `,
			[]Report{{Kind: Bounce, Email: "a@b.test", Status: "4.4.1"}},
		},
		{
			"array, nulls as absent, Message-ID form of message_id",
			`[{"type":"complaint","email":"a@b.test","message_id":"<m-2.abc@mail.nurture.test>","reason":null},
			  {"type":"delivery","email":"c@d.test","status":"2.0.0","occurred_at":"2024-06-03T08:00:00.5Z"}]`,
			[]Report{
				{Kind: Complaint, Email: "a@b.test", MessageID: "m-2"},
				{Kind: Delivery, Email: "c@d.test", Status: "2.0.0", At: mustTime("2024-06-03T08:00:00.5Z")},
			},
		},
		{"empty array", `[]`, []Report{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseGeneric([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseGeneric: %v", err)
			}
			if err := sameReports(got, tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseGenericErrors(t *testing.T) {
	t.Parallel()
	many := "[" + strings.Repeat(`{"type":"delivery","email":"a@b.test"},`, MaxRecipients) + `{"type":"delivery","email":"a@b.test"}]`
	tests := []struct {
		name  string
		body  string
		index int
		field string
	}{
		{"empty", ``, -1, ""},
		{"not json", `type=bounce`, -1, ""},
		{"string", `"bounce"`, -1, ""},
		{"null", `null`, -1, ""},
		{"trailing data", `{"type":"bounce","email":"a@b.test"} x`, -1, ""},
		{"array with trailing data", `[] []`, -1, ""},
		{"too many", many, -1, ""},
		{"unknown field", `{"type":"bounce","email":"a@b.test","Email":"x"}`, -1, "Email"},
		{"missing type", `{"email":"a@b.test"}`, -1, "type"},
		{"bad type", `{"type":"open","email":"a@b.test"}`, -1, "type"},
		{"type not a string", `{"type":1,"email":"a@b.test"}`, -1, "type"},
		{"missing email", `{"type":"bounce"}`, -1, "email"},
		{"email with display name", `{"type":"bounce","email":"Jane <jane@b.test>"}`, -1, "email"},
		{"email in brackets", `{"type":"bounce","email":"<jane@b.test>"}`, -1, "email"},
		{"email without @", `{"type":"bounce","email":"jane"}`, -1, "email"},
		{"two emails", `{"type":"bounce","email":"a@b.test, c@d.test"}`, -1, "email"},
		{"bad bounce_type", `{"type":"bounce","email":"a@b.test","bounce_type":"permanent"}`, -1, "bounce_type"},
		{"bounce_type on complaint", `{"type":"complaint","email":"a@b.test","bounce_type":"hard"}`, -1, "bounce_type"},
		{"bad status", `{"type":"bounce","email":"a@b.test","status":"550"}`, -1, "status"},
		{"bad message_id", `{"type":"bounce","email":"a@b.test","message_id":"not ours at all"}`, -1, "message_id"},
		{"foreign Message-ID", `{"type":"bounce","email":"a@b.test","message_id":"<CAF123@mail.gmail.com>"}`, -1, "message_id"},
		{"bad occurred_at", `{"type":"bounce","email":"a@b.test","occurred_at":"03/06/2024"}`, -1, "occurred_at"},
		{"index named", `[{"type":"bounce","email":"a@b.test"},{"type":"bounce","email":"nope"}]`, 1, "email"},
		{"array element not object", `[{"type":"bounce","email":"a@b.test"},7]`, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseGeneric([]byte(tt.body))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseGeneric = %v, %v; want a *FieldError", got, err)
			}
			if fe.Index != tt.index || fe.Field != tt.field {
				t.Errorf("ParseGeneric error %q at index %d field %q; want index %d field %q", err, fe.Index, fe.Field, tt.index, tt.field)
			}
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{Index: 3, Field: "email", Reason: "required"}, "feedback event [3].email: required"},
		{FieldError{Index: -1, Field: "email", Reason: "required"}, "feedback event email: required"},
		{FieldError{Index: 2, Reason: "not a JSON object"}, "feedback event [2]: not a JSON object"},
		{FieldError{Index: -1, Reason: "empty body"}, "feedback event: empty body"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q; want %q", tt.err, got, tt.want)
		}
	}
}

func ExampleParseGeneric() {
	reports, err := ParseGeneric([]byte(`[
		{"type": "bounce", "email": "Jane@Example.com", "status": "5.1.1", "reason": "550 5.1.1 user unknown", "message_id": "m-12345"},
		{"type": "complaint", "email": "sam@example.com", "occurred_at": "2024-06-03T10:00:00Z"}
	]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range reports {
		fmt.Println(r.Kind, r.Email, r.Hard, r.Status, r.MessageID, r.At.Format("2006-01-02"))
	}
	_, err = ParseGeneric([]byte(`{"type": "bounce", "email": "Jane <jane@example.com>"}`))
	fmt.Println(err)
	// Output:
	// bounce jane@example.com true 5.1.1 m-12345 0001-01-01
	// complaint sam@example.com false   2024-06-03
	// feedback event email: "Jane <jane@example.com>" is not an email address
}
