package contact_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

var (
	created = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	later   = created.Add(time.Hour)
)

func norm(t testing.TB, in contact.Input) contact.Input {
	t.Helper()
	out, err := contact.Normalize(in, "FR")
	if err != nil {
		t.Fatalf("Normalize(%+v): %v", in, err)
	}
	return out
}

// toJSON takes a *testing.T or a *rapid.T.
func toJSON(t interface{ Fatal(...any) }, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNew(t *testing.T) {
	t.Parallel()
	got := contact.New(norm(t, contact.Input{Email: "Ada@Example.com", Company: "ACME"}), created)
	want := contact.Contact{Email: "ada@example.com", EmailDisplay: "Ada@Example.com", Company: "ACME",
		Status: contact.StatusNew, Lifecycle: contact.LifecycleLead, Tags: []string{}, CustomFields: map[string]any{}, CreatedAt: created, UpdatedAt: created}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("New\n got %+v\nwant %+v", got, want)
	}
	if got := contact.New(norm(t, contact.Input{Phone: "+33612345678", Status: "Qualified"}), created).Status; got != contact.StatusQualified {
		t.Errorf("New with status Qualified: Status = %q; want %q", got, contact.StatusQualified)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	base := contact.Input{
		Email: "Ada@Example.com", Phone: "+33612345678", Company: "Old Co", Source: "webinar", Offer: "audit",
		PotentialValue: ptr(100), Tags: []string{"a", "b"}, CustomFields: map[string]any{"x": 1.0, "y": "keep"},
	}
	tests := []struct {
		name        string
		in          contact.Input
		replaceTags bool
		// edit turns the base contact into the wanted one; UpdatedAt is set
		// to later whenever changes is not empty.
		edit    func(c *contact.Contact)
		changes string // the change list as JSON, as field_changed events carry it
	}{
		{"nothing given", contact.Input{}, false, func(*contact.Contact) {}, `null`},
		{"same values", base, false, func(*contact.Contact) {}, `null`},
		{"later non-empty values win, empty ones keep the old",
			contact.Input{Company: "New Co", Source: "ads", Offer: ""}, false,
			func(c *contact.Contact) { c.Company, c.Source = "New Co", "ads" },
			`[{"field":"company","old":"Old Co","new":"New Co"},{"field":"source","old":"webinar","new":"ads"}]`},
		{"first value of a field",
			contact.Input{Role: "CTO", Status: "contacted"}, false,
			func(c *contact.Contact) { c.Role, c.Status = "CTO", contact.StatusContacted },
			`[{"field":"status","old":"new","new":"contacted"},{"field":"role","old":"","new":"CTO"}]`},
		{"new email identity",
			contact.Input{Email: "Bob@Example.com"}, false,
			func(c *contact.Contact) { c.Email, c.EmailDisplay = "bob@example.com", "Bob@Example.com" },
			`[{"field":"email","old":"ada@example.com","new":"bob@example.com"}]`},
		{"numbers",
			contact.Input{PotentialValue: ptr(250), Budget: ptr(5000)}, false,
			func(c *contact.Contact) { c.PotentialValue, c.Budget = ptr(250), ptr(5000) },
			`[{"field":"potential_value","old":100,"new":250},{"field":"budget","new":5000}]`},
		{"same number", contact.Input{PotentialValue: ptr(100)}, false, func(*contact.Contact) {}, `null`},

		{"tags united",
			contact.Input{Tags: []string{"c", "a"}}, false,
			func(c *contact.Contact) { c.Tags = []string{"a", "b", "c"} },
			`[{"field":"tags","old":["a","b"],"new":["a","b","c"]}]`},
		{"tags already held", contact.Input{Tags: []string{"b"}}, false, func(*contact.Contact) {}, `null`},
		{"tags replaced",
			contact.Input{Tags: []string{"c", "a"}}, true,
			func(c *contact.Contact) { c.Tags = []string{"c", "a"} },
			`[{"field":"tags","old":["a","b"],"new":["c","a"]}]`},
		{"tags replaced by the same", contact.Input{Tags: []string{"a", "b"}}, true, func(*contact.Contact) {}, `null`},
		{"tags replaced by none",
			contact.Input{Tags: []string{}}, true,
			func(c *contact.Contact) { c.Tags = []string{} },
			`[{"field":"tags","old":["a","b"],"new":[]}]`},
		{"no tags given, tags kept even when replacing", contact.Input{Company: "Old Co"}, true, func(*contact.Contact) {}, `null`},

		{"custom fields merged key by key, nil removes",
			contact.Input{CustomFields: map[string]any{"x": 2.0, "y": nil, "z": true}}, false,
			func(c *contact.Contact) { c.CustomFields = map[string]any{"x": 2.0, "z": true} },
			`[{"field":"custom_fields","old":{"x":1,"y":"keep"},"new":{"x":2,"z":true}}]`},
		{"removing an absent custom field", contact.Input{CustomFields: map[string]any{"nope": nil}}, false, func(*contact.Contact) {}, `null`},
		{"same custom field", contact.Input{CustomFields: map[string]any{"y": "keep"}}, false, func(*contact.Contact) {}, `null`},

		{"clear",
			contact.Input{Clear: []string{"company", "potential_value", "tags", "custom_fields", "email"}}, false,
			func(c *contact.Contact) {
				c.Company, c.PotentialValue, c.Tags, c.CustomFields = "", nil, []string{}, map[string]any{}
				c.Email, c.EmailDisplay = "", ""
			},
			`[{"field":"company","old":"Old Co","new":""},{"field":"potential_value","old":100},` +
				`{"field":"tags","old":["a","b"]},{"field":"custom_fields","old":{"x":1,"y":"keep"}},` +
				`{"field":"email","old":"ada@example.com","new":""}]`},
		{"clear what is already empty",
			contact.Input{Clear: []string{"role", "budget", "owner"}}, false, func(*contact.Contact) {}, `null`},
		{"clear one field, set another",
			contact.Input{Company: "New Co", Clear: []string{"offer"}}, false,
			func(c *contact.Contact) { c.Company, c.Offer = "New Co", "" },
			`[{"field":"company","old":"Old Co","new":"New Co"},{"field":"offer","old":"audit","new":""}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := contact.New(norm(t, base), created)
			before := toJSON(t, c)
			got, changes := contact.Merge(c, norm(t, tt.in), tt.replaceTags, later)

			if g := toJSON(t, changes); g != tt.changes {
				t.Errorf("Merge changes\n got %s\nwant %s", g, tt.changes)
			}
			want := contact.New(norm(t, base), created)
			tt.edit(&want)
			if len(changes) > 0 {
				want.UpdatedAt = later
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Merge contact\n got %+v\nwant %+v", got, want)
			}
			if after := toJSON(t, c); after != before {
				t.Errorf("Merge changed its argument\n got %s\nwant %s", after, before)
			}
		})
	}
}

// A contact read back from the store may hold nil tags and custom fields.
func TestMergeIntoBareContact(t *testing.T) {
	t.Parallel()
	c := contact.Contact{Email: "ada@example.com", Status: contact.StatusNew}
	got, changes := contact.Merge(c, norm(t, contact.Input{Tags: []string{"a"}, CustomFields: map[string]any{"x": 1.0}}), false, later)
	if want := []string{"a"}; !reflect.DeepEqual(got.Tags, want) {
		t.Errorf("Tags = %v; want %v", got.Tags, want)
	}
	if want := map[string]any{"x": 1.0}; !reflect.DeepEqual(got.CustomFields, want) {
		t.Errorf("CustomFields = %v; want %v", got.CustomFields, want)
	}
	if len(changes) != 2 || !got.UpdatedAt.Equal(later) {
		t.Errorf("changes %v, UpdatedAt %v; want 2 changes at %v", changes, got.UpdatedAt, later)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	manyTags := tags(contact.MaxTags + 1)
	manyFields := map[string]any{}
	for i := range contact.MaxCustomFields + 1 {
		manyFields[fmt.Sprintf("f%d", i)] = 1
	}
	bigField := map[string]any{"notes": strings.Repeat("x", contact.MaxCustomFieldsLen)}
	tests := []struct {
		c    contact.Contact
		want string // field named by the error, "" for none
	}{
		{contact.Contact{Email: "ada@example.com"}, ""},
		{contact.Contact{Phone: "+33612345678"}, ""},
		{contact.Contact{FirstName: "Ada"}, "email"},
		{contact.Contact{Email: "ada@example.com", Tags: manyTags}, "tags"},
		{contact.Contact{Email: "ada@example.com", CustomFields: manyFields}, "custom_fields"},
		{contact.Contact{Email: "ada@example.com", CustomFields: bigField}, "custom_fields"},
	}
	for _, tt := range tests {
		if got := errField(t, contact.Check(tt.c)); got != tt.want {
			t.Errorf("Check(contact with %d tags, %d custom fields) error on %q; want %q", len(tt.c.Tags), len(tt.c.CustomFields), got, tt.want)
		}
	}
}

// Upserts accumulate tags: a union past the limit is refused, not stored.
func TestMergeCanExceedLimitsAndCheckRefuses(t *testing.T) {
	t.Parallel()
	c := contact.New(norm(t, contact.Input{Email: "a@example.com", Tags: tags(30)}), time.Time{})
	more := tags(60)[30:]
	merged, _ := contact.Merge(c, norm(t, contact.Input{Tags: more}), false, time.Time{})
	if err := contact.Check(merged); errField(t, err) != "tags" {
		t.Errorf("Check after a union of 60 tags = %v; want a tags error", err)
	}
}
