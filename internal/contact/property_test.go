package contact_test

import (
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/nurturehq/nurture/internal/contact"
)

// genInput draws a valid input the way a PATCH builds one: each field is left
// out, given a value, or cleared. Values come from small pools so that merges
// meet the same values, spellings and tags again.
func genInput(t *rapid.T, label string) contact.Input {
	var in contact.Input
	field := func(name string, dst *string, values ...string) {
		switch rapid.IntRange(0, 2).Draw(t, label+"."+name+" action") {
		case 1:
			*dst = rapid.SampledFrom(values).Draw(t, label+"."+name)
		case 2:
			in.Clear = append(in.Clear, name)
		}
	}
	names := []string{"Ada", " Ada ", "ADA", "Grace", "Lin Wei", "Zoë"}
	field("email", &in.Email, "ada@example.com", "Ada@Example.com", " ADA@EXAMPLE.COM ", "grace@example.org")
	field("phone", &in.Phone, "+33612345678", "+33 6 12 34 56 78", "+1 650 253 0000", "+44 20 7946 0018")
	field("first_name", &in.FirstName, names...)
	field("last_name", &in.LastName, names...)
	field("company", &in.Company, "ACME", " ACME", "Analytical Engines")
	field("role", &in.Role, "CTO", "cto")
	field("country", &in.Country, "FR", "fra", "250", "uk", "US")
	field("time_zone", &in.TimeZone, "Europe/Paris", "UTC", "America/Argentina/Buenos_Aires")
	field("source", &in.Source, "webinar", "ads")
	field("offer", &in.Offer, "audit", "trial")
	field("persona", &in.Persona, "dev", "buyer")
	field("request_type", &in.RequestType, "demo", "quote")
	field("urgency", &in.Urgency, "low", "High", "MEDIUM")
	field("next_step", &in.NextStep, "call\nthen mail", " send deck\t", "x")
	field("owner", &in.Owner, "sam", "kim")
	in.Status = rapid.SampledFrom(append([]string{"", "Won", "QUALIFIED"}, contact.Statuses...)).Draw(t, label+".status")

	number := func(name string) *float64 {
		switch rapid.IntRange(0, 2).Draw(t, label+"."+name+" action") {
		case 1:
			v := rapid.SampledFrom([]float64{0, 100, 250.5, 1e15}).Draw(t, label+"."+name)
			return &v
		case 2:
			in.Clear = append(in.Clear, name)
		}
		return nil
	}
	in.PotentialValue = number("potential_value")
	in.Budget = number("budget")

	switch rapid.IntRange(0, 2).Draw(t, label+".tags action") {
	case 1:
		in.Tags = rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "c", "vip", " vip "}), 0, 6).Draw(t, label+".tags")
	case 2:
		in.Clear = append(in.Clear, "tags")
	}
	switch rapid.IntRange(0, 2).Draw(t, label+".custom_fields action") {
	case 1:
		in.CustomFields = rapid.MapOfN(rapid.SampledFrom([]string{"x", "y", "plan"}),
			rapid.SampledFrom([]any{nil, 1.0, 2.0, "pro", true}), 0, 3).Draw(t, label+".custom_fields")
	case 2:
		in.Clear = append(in.Clear, "custom_fields")
	}
	return in
}

// genContact draws a contact as upserts and patches leave it.
func genContact(t *rapid.T) contact.Contact {
	c := contact.New(normRapid(t, genInput(t, "create")), created)
	for range rapid.IntRange(0, 2).Draw(t, "earlier merges") {
		c, _ = contact.Merge(c, normRapid(t, genInput(t, "earlier")), rapid.Bool().Draw(t, "earlier replace"), created)
	}
	return c
}

func normRapid(t *rapid.T, in contact.Input) contact.Input {
	out, err := contact.Normalize(in, "FR")
	if err != nil {
		t.Fatalf("Normalize(%+v) error = %v; generated inputs are valid", in, err)
	}
	return out
}

func TestNormalizeIsIdempotent(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		once := normRapid(t, genInput(t, "in"))
		twice, err := contact.Normalize(once, "FR")
		if err != nil {
			t.Fatalf("Normalize(Normalize(in)) error = %v; want nil", err)
		}
		// DeepEqual sees the unexported display form too.
		if !reflect.DeepEqual(twice, once) {
			t.Fatalf("Normalize(Normalize(in))\n got %+v\nwant %+v", twice, once)
		}
	})
}

func TestMergeIsIdempotent(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		c := genContact(t)
		in := normRapid(t, genInput(t, "in"))
		replace := rapid.Bool().Draw(t, "replaceTags")
		before := toJSON(t, c)

		once, changes := contact.Merge(c, in, replace, later)
		// UpdatedAt moves exactly when something changed.
		want := c.UpdatedAt
		if len(changes) > 0 {
			want = later
		}
		if !once.UpdatedAt.Equal(want) {
			t.Fatalf("UpdatedAt = %v after changes %s; want %v", once.UpdatedAt, toJSON(t, changes), want)
		}
		if after := toJSON(t, c); after != before {
			t.Fatalf("Merge changed its argument\n got %s\nwant %s", after, before)
		}

		twice, again := contact.Merge(once, in, replace, later.Add(1))
		if len(again) != 0 {
			t.Fatalf("second Merge of the same input changes = %s; want none", toJSON(t, again))
		}
		if !reflect.DeepEqual(twice, once) {
			t.Fatalf("second Merge\n got %+v\nwant %+v", twice, once)
		}
	})
}

// An upsert unites tags: the result holds every old and every new tag, once,
// old ones first in their order.
func TestUpsertTagsAreAUnion(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		c := genContact(t)
		in := genInput(t, "upsert")
		in.Clear = nil // an upsert never clears
		if in.Tags == nil {
			in.Tags = rapid.SliceOfN(rapid.SampledFrom([]string{"a", "d", "vip"}), 1, 4).Draw(t, "upsert.tags")
		}
		in = normRapid(t, in)
		oldTags := slices.Clone(c.Tags)

		got, _ := contact.Merge(c, in, false, later)
		for _, tag := range append(slices.Clone(oldTags), in.Tags...) {
			if !slices.Contains(got.Tags, tag) {
				t.Fatalf("tags %q after merging %q into %q lack %q", got.Tags, in.Tags, oldTags, tag)
			}
		}
		seen := map[string]bool{}
		for _, tag := range got.Tags {
			if seen[tag] {
				t.Fatalf("tags %q hold %q twice", got.Tags, tag)
			}
			seen[tag] = true
			if !slices.Contains(oldTags, tag) && !slices.Contains(in.Tags, tag) {
				t.Fatalf("tags %q hold %q, neither old %q nor new %q", got.Tags, tag, oldTags, in.Tags)
			}
		}
		if !slices.Equal(got.Tags[:len(oldTags)], oldTags) {
			t.Fatalf("tags %q do not start with the old tags %q", got.Tags, oldTags)
		}
	})
}
