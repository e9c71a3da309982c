package contact_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// errField returns the field a *ValidationError names, "" for no error, and
// fails the test for an error of any other type.
func errField(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ve *contact.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *contact.ValidationError", err, err)
	}
	if ve.Field == "" {
		t.Fatalf("error %q names no field", err)
	}
	return ve.Field
}

func ptr(f float64) *float64 { return &f }

// email returns an address of exactly n bytes at example-like domain.
func email(local string, n int) string {
	return local + "@" + strings.Repeat("d", n-len(local)-len("@.com")) + ".com"
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     string // "" means rejected
	}{
		{"bare", "ada@example.com", "ada@example.com"},
		{"C1 control", "ada\u0085@example.com", ""},
		{"right-to-left override", "\u202Eada@example.com", ""},
		{"trimmed", " \tada@example.com\n ", "ada@example.com"},
		{"lower-cased", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"non-ASCII lower-cased", "ÉLODIE@Exemple.FR", "élodie@exemple.fr"},
		{"plus and dots", "ada+news.2@mail.example.co.uk", "ada+news.2@mail.example.co.uk"},
		{"254 bytes", email("ada", 254), email("ada", 254)},

		{"empty", "", ""},
		{"no at", "ada.example.com", ""},
		{"display name", "Ada <ada@example.com>", ""},
		{"quoted display name", `"Ada L" <ada@example.com>`, ""},
		{"angle brackets only", "<ada@example.com>", ""},
		{"trailing comment", "ada@example.com (Ada)", ""},
		{"leading comment", "(Ada) ada@example.com", ""},
		{"quoted local part", `"ada"@example.com`, ""},
		{"two addresses", "ada@example.com, bob@example.com", ""},
		{"space in local part", "ada lovelace@example.com", ""},
		{"space in domain", "ada@exam ple.com", ""},
		{"domain without dot", "ada@localhost", ""},
		{"domain with trailing dot", "ada@example.com.", ""},
		{"empty label", "ada@example..com", ""},
		{"IPv4 literal", "ada@[192.0.2.1]", ""},
		{"IPv6 literal", "ada@[IPv6:2001:db8::1]", ""},
		{"255 bytes", email("ada", 255), ""},
		// Ⱥ takes 2 bytes and ⱥ 3: the address fits, its lower-cased identity does not.
		{"identity longer than 254 bytes", email(strings.Repeat("Ⱥ", 20), 254), ""},
		{"NUL", "ada@example.com\x00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := contact.NormalizeEmail(tt.in)
			if tt.want == "" {
				if f := errField(t, err); f != "email" {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want an error on email", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// The identity is lower-cased; the contact keeps the address as the lead typed it.
func TestNormalizeKeepsEmailDisplay(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	in, err := contact.Normalize(contact.Input{Email: "  Ada.Lovelace@Example.COM "}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "ada.lovelace@example.com"; in.Email != want {
		t.Errorf("Normalize: Email = %q; want %q", in.Email, want)
	}
	c := contact.New(in, now)
	if got, want := c.Email, "ada.lovelace@example.com"; got != want {
		t.Errorf("New: Email = %q; want %q", got, want)
	}
	if got, want := c.EmailDisplay, "Ada.Lovelace@Example.COM"; got != want {
		t.Errorf("New: EmailDisplay = %q; want %q", got, want)
	}

	// Normalising again must not lose the display form.
	again, err := contact.Normalize(in, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := contact.New(again, now).EmailDisplay, "Ada.Lovelace@Example.COM"; got != want {
		t.Errorf("after a second Normalize: EmailDisplay = %q; want %q", got, want)
	}

	// A new spelling of the same identity is no change of identity: the display
	// form follows it but neither a change nor UpdatedAt records it.
	respelled, err := contact.Normalize(contact.Input{Email: "ADA.LOVELACE@EXAMPLE.COM"}, "")
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour)
	got, changes := contact.Merge(c, respelled, false, later)
	if got.EmailDisplay != "ADA.LOVELACE@EXAMPLE.COM" || len(changes) != 0 || !got.UpdatedAt.Equal(now) {
		t.Errorf("Merge(respelled) = display %q, changes %v, updated %v; want display %q, no change, updated %v",
			got.EmailDisplay, changes, got.UpdatedAt, "ADA.LOVELACE@EXAMPLE.COM", now)
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, region string
		want       string // "" means rejected
	}{
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"06 12 34 56 78", "fr", "+33612345678"},
		{"06.12.34.56.78", "FR", "+33612345678"},
		{"+33 6 12 34 56 78", "", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "", "+33612345678"},
		{"+33 6 12 34 56 78", "US", "+33612345678"}, // the prefix wins over the region
		{"0033612345678", "", "+33612345678"},
		{"0033612345678", "FR", "+33612345678"},
		{"00 44 20 7946 0018", "", "+442079460018"},
		{"  +33612345678  ", "", "+33612345678"},
		// United States
		{"(650) 253-0000", "US", "+16502530000"},
		{"650.253.0000", "US", "+16502530000"},
		{"+1 650-253-0000", "", "+16502530000"},
		{"011 33 6 12 34 56 78", "US", "+33612345678"},
		// United Kingdom
		{"020 7946 0018", "GB", "+442079460018"},
		{"07911 123456", "GB", "+447911123456"},
		{"+44 (0)20 7946 0018", "", "+442079460018"},

		{"", "FR", ""},
		{"not a number", "FR", ""},
		{"+33 6 12", "", ""},                // too short
		{"+33 6 12 34 56 78 90 12", "", ""}, // too long
		{"+999 1234 5678", "", ""},          // no such country code
		{"06 12 34 56 78", "US", ""},        // a French number read in the US
		{"(650) 253-0000", "GB", ""},
		{"0033612345678", "US", ""}, // the US dials 011, not 00
		{"06 12 34 56 78", "ZZ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in+" in "+tt.region, func(t *testing.T) {
			t.Parallel()
			got, err := contact.NormalizePhone(tt.in, tt.region)
			if tt.want == "" {
				if f := errField(t, err); f != "phone" {
					t.Errorf("NormalizePhone(%q, %q) = %q, %v; want an error on phone", tt.in, tt.region, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
			}
		})
	}
}

func TestNormalizePhoneNeedsPrefixOrRegion(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"06 12 34 56 78", "(650) 253-0000", "612345678"} {
		_, err := contact.NormalizePhone(in, "")
		if f := errField(t, err); f != "phone" || !strings.Contains(err.Error(), "international prefix") {
			t.Errorf("NormalizePhone(%q, \"\") error = %v; want phone: needs an international prefix", in, err)
		}
	}
}

func TestNormalizeCountry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" means rejected
	}{
		{"FR", "FR"},
		{"fr", "FR"},
		{"FRA", "FR"},
		{"fra", "FR"},
		{"250", "FR"},
		{" gb ", "GB"},
		{"826", "GB"},
		{"UK", "GB"}, // the common alias, which the phone parser would not know
		{"us", "US"},
		{"XK", "XK"},

		{"", ""},
		{"EU", ""},
		{"ZZ", ""},
		{"UN", ""},
		{"EZ", ""},
		{"001", ""}, // the world
		{"419", ""}, // Latin America
		{"France", ""},
		{"F", ""},
		{"999", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := contact.NormalizeCountry(tt.in)
			if tt.want == "" {
				if f := errField(t, err); f != "country" {
					t.Errorf("NormalizeCountry(%q) = %q, %v; want an error on country", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeCountry(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidateTimeZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"Europe/Paris", true},
		{"UTC", true},
		{"America/Argentina/Buenos_Aires", true},
		{"America/Port-au-Prince", true},
		{"Etc/GMT+5", true},

		{"", false},
		{"Local", false},     // the server's zone
		{"localtime", false}, // the server's zone again, as a zoneinfo file
		{"../etc/passwd", false},
		{"Europe/../Europe/Paris", false},
		{"/etc/localtime", false},
		{"/usr/share/zoneinfo/Europe/Paris", false},
		{"Europe//Paris", false},
		{"Europe/./Paris", false},
		{"Europe/Paris/", false},
		{"posixrules", false},
		{"right/Europe/Paris", false},
		{"posix/Europe/Paris", false},
		{"Europe", false},
		{"zone.tab", false},
		{"Mars/Olympus", false},
		{"Europe/Paris\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			err := contact.ValidateTimeZone(tt.in)
			if tt.ok && err != nil {
				t.Errorf("ValidateTimeZone(%q) = %v; want nil", tt.in, err)
			}
			if f := errField(t, err); !tt.ok && f != "time_zone" {
				t.Errorf("ValidateTimeZone(%q) = %v; want an error on time_zone", tt.in, err)
			}
		})
	}
}

// customFields returns n keys k0…k(n-1), each holding value.
func customFields(n int, value any) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = value
	}
	return m
}

func tags(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	// {"k":"…"} is 8 bytes around the value.
	tooBig := map[string]any{"k": strings.Repeat("x", contact.MaxCustomFieldsLen-8+1)}
	tests := []struct {
		name      string
		in        contact.Input
		region    string
		wantField string
	}{
		{"NUL in first_name", contact.Input{FirstName: "Ada\x00"}, "", "first_name"},
		{"right-to-left override in last_name", contact.Input{LastName: "Love\u202Eecal"}, "", "last_name"},
		{"isolate in company", contact.Input{Company: "\u2067ACME"}, "", "company"},
		{"escape in company", contact.Input{Company: "\x1b[31mACME"}, "", "company"},
		{"DEL in owner", contact.Input{Owner: "sam\x7f"}, "", "owner"},
		{"C1 control in role", contact.Input{Role: "C\u0085TO"}, "", "role"},
		{"newline in last_name", contact.Input{LastName: "Love\nlace"}, "", "last_name"},
		{"NUL in next_step", contact.Input{NextStep: "call\x00back"}, "", "next_step"},
		{"escape in next_step", contact.Input{NextStep: "call\x1b back"}, "", "next_step"},
		{"escape in email", contact.Input{Email: "a\x1bda@example.com"}, "", "email"},
		{"NUL in phone", contact.Input{Phone: "+33612345678\x00"}, "", "phone"},
		{"NUL in tag", contact.Input{Tags: []string{"vip", "a\x00"}}, "", "tags[1]"},
		{"invalid UTF-8 in persona", contact.Input{Persona: "\xffdev"}, "", "persona"},

		{"first_name too long", contact.Input{FirstName: strings.Repeat("é", contact.MaxTextLen+1)}, "", "first_name"},
		{"request_type too long", contact.Input{RequestType: strings.Repeat("x", contact.MaxTextLen+1)}, "", "request_type"},
		{"next_step too long", contact.Input{NextStep: strings.Repeat("x", contact.MaxNextStepLen+1)}, "", "next_step"},
		{"email too long", contact.Input{Email: email("ada", 255)}, "", "email"},
		{"phone too long", contact.Input{Phone: "+33 6 12 34 56 78" + strings.Repeat(" ", 20) + "0"}, "", "phone"},

		{"bad email", contact.Input{Email: "Ada <ada@example.com>"}, "", "email"},
		{"bad country", contact.Input{Country: "France"}, "", "country"},
		{"phone without prefix or region", contact.Input{Phone: "06 12 34 56 78"}, "", "phone"},
		{"phone not of the country", contact.Input{Phone: "06 12 34 56 78", Country: "US"}, "FR", "phone"},
		{"bad time zone", contact.Input{TimeZone: "Mars/Olympus"}, "", "time_zone"},
		{"unknown status", contact.Input{Status: "archived"}, "", "status"},
		{"unknown urgency", contact.Input{Urgency: "urgent"}, "", "urgency"},

		{"NaN potential_value", contact.Input{PotentialValue: ptr(math.NaN())}, "", "potential_value"},
		{"negative budget", contact.Input{Budget: ptr(-0.01)}, "", "budget"},
		{"infinite budget", contact.Input{Budget: ptr(math.Inf(1))}, "", "budget"},
		{"potential_value over 1e15", contact.Input{PotentialValue: ptr(1e15 + 1)}, "", "potential_value"},
		{"both numbers bad", contact.Input{PotentialValue: ptr(-1), Budget: ptr(-1)}, "", "potential_value"},

		{"empty tag", contact.Input{Tags: []string{"vip", ""}}, "", "tags[1]"},
		{"blank tag", contact.Input{Tags: []string{"  "}}, "", "tags[0]"},
		{"too many tags", contact.Input{Tags: tags(contact.MaxTags + 1)}, "", "tags"},
		{"tag too long", contact.Input{Tags: []string{strings.Repeat("t", contact.MaxTagLen+1)}}, "", "tags[0]"},

		{"custom key with digit first", contact.Input{CustomFields: map[string]any{"1st": 1}}, "", "custom_fields"},
		{"custom key with dash", contact.Input{CustomFields: map[string]any{"lead-score": 1}}, "", "custom_fields"},
		{"custom key with dot", contact.Input{CustomFields: map[string]any{"a.b": 1}}, "", "custom_fields"},
		{"empty custom key", contact.Input{CustomFields: map[string]any{"": 1}}, "", "custom_fields"},
		{"custom key too long", contact.Input{CustomFields: map[string]any{strings.Repeat("k", 65): 1}}, "", "custom_fields"},
		{"too many custom fields", contact.Input{CustomFields: customFields(contact.MaxCustomFields+1, 1)}, "", "custom_fields"},
		{"custom fields too large", contact.Input{CustomFields: tooBig}, "", "custom_fields"},
		{"custom field not JSON", contact.Input{CustomFields: map[string]any{"k": math.NaN()}}, "", "custom_fields"},

		{"clear status", contact.Input{Clear: []string{"status"}}, "", "status"},
		{"clear unknown field", contact.Input{Clear: []string{"company", "id"}}, "", "id"},
		{"clear created_at", contact.Input{Clear: []string{"created_at"}}, "", "created_at"},
		{"set and clear company", contact.Input{Company: "ACME", Clear: []string{"company"}}, "", "company"},
		{"set and clear email", contact.Input{Email: "ada@example.com", Clear: []string{"email"}}, "", "email"},
		{"set and clear budget", contact.Input{Budget: ptr(1), Clear: []string{"budget"}}, "", "budget"},
		{"set and clear tags", contact.Input{Tags: []string{"a"}, Clear: []string{"tags"}}, "", "tags"},
		{"set and clear custom_fields", contact.Input{CustomFields: map[string]any{"a": 1}, Clear: []string{"custom_fields"}}, "", "custom_fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := contact.Normalize(tt.in, tt.region)
			if f := errField(t, err); f != tt.wantField {
				t.Errorf("Normalize(%+v) = %+v, %v; want an error on %s", tt.in, got, err, tt.wantField)
			}
		})
	}
}

func TestNormalizeAccepts(t *testing.T) {
	t.Parallel()
	justFits := map[string]any{"k": strings.Repeat("x", contact.MaxCustomFieldsLen-8)}
	tests := []struct {
		name   string
		in     contact.Input
		region string
		want   contact.Input
	}{
		{"nothing given", contact.Input{}, "FR", contact.Input{}},
		{"text trimmed",
			contact.Input{FirstName: "  Ada ", LastName: "\tLovelace\n", Company: " ACME\u00a0"},
			"", contact.Input{FirstName: "Ada", LastName: "Lovelace", Company: "ACME"}},
		{"blank fields are not given",
			contact.Input{FirstName: "   ", Country: " ", TimeZone: "\t", Phone: " "},
			"", contact.Input{}},
		{"next_step keeps newlines, tabs and CR",
			contact.Input{NextStep: "  call Monday\r\n\t- then send the deck\n "},
			"", contact.Input{NextStep: "call Monday\r\n\t- then send the deck"}},
		{"longest text fields",
			contact.Input{FirstName: strings.Repeat("é", contact.MaxTextLen), NextStep: strings.Repeat("x", contact.MaxNextStepLen)},
			"", contact.Input{FirstName: strings.Repeat("é", contact.MaxTextLen), NextStep: strings.Repeat("x", contact.MaxNextStepLen)}},
		{"status and urgency in any case",
			contact.Input{Status: "Meeting_Booked", Urgency: "HIGH"},
			"", contact.Input{Status: "meeting_booked", Urgency: "high"}},
		{"every status", contact.Input{Status: " WON "}, "", contact.Input{Status: "won"}},
		{"country codes", contact.Input{Country: "fra"}, "", contact.Input{Country: "FR"}},
		{"phone read in the contact's country over the default region",
			contact.Input{Phone: "020 7946 0018", Country: "uk"},
			"FR", contact.Input{Phone: "+442079460018", Country: "GB"}},
		{"phone read in the default region",
			contact.Input{Phone: "06 12 34 56 78"},
			"FR", contact.Input{Phone: "+33612345678"}},
		{"time zone kept", contact.Input{TimeZone: "Europe/Paris"}, "", contact.Input{TimeZone: "Europe/Paris"}},
		{"numbers at the bounds",
			contact.Input{PotentialValue: ptr(0), Budget: ptr(1e15)},
			"", contact.Input{PotentialValue: ptr(0), Budget: ptr(1e15)}},
		{"tags trimmed and deduplicated in order",
			contact.Input{Tags: []string{" b", "a", "b", "a ", "VIP"}},
			"", contact.Input{Tags: []string{"b", "a", "VIP"}}},
		{"empty tag list kept", contact.Input{Tags: []string{}}, "", contact.Input{Tags: []string{}}},
		{"most tags", contact.Input{Tags: tags(contact.MaxTags)}, "", contact.Input{Tags: tags(contact.MaxTags)}},
		{"longest tag",
			contact.Input{Tags: []string{strings.Repeat("t", contact.MaxTagLen)}},
			"", contact.Input{Tags: []string{strings.Repeat("t", contact.MaxTagLen)}}},
		{"custom fields, a nil value to remove a key",
			contact.Input{CustomFields: map[string]any{"_plan": "pro", "Seats2": 12.0, "old": nil}},
			"", contact.Input{CustomFields: map[string]any{"_plan": "pro", "Seats2": 12.0, "old": nil}}},
		{"longest custom key",
			contact.Input{CustomFields: map[string]any{strings.Repeat("k", 64): 1.0}},
			"", contact.Input{CustomFields: map[string]any{strings.Repeat("k", 64): 1.0}}},
		{"most custom fields", contact.Input{CustomFields: customFields(contact.MaxCustomFields, 1.0)},
			"", contact.Input{CustomFields: customFields(contact.MaxCustomFields, 1.0)}},
		{"largest custom fields", contact.Input{CustomFields: justFits}, "", contact.Input{CustomFields: justFits}},
		{"every clearable field",
			contact.Input{Clear: []string{"email", "phone", "first_name", "last_name", "company", "role", "country",
				"time_zone", "source", "offer", "persona", "request_type", "potential_value", "urgency", "budget",
				"next_step", "owner", "tags", "custom_fields"}},
			"", contact.Input{Clear: []string{"email", "phone", "first_name", "last_name", "company", "role", "country",
				"time_zone", "source", "offer", "persona", "request_type", "potential_value", "urgency", "budget",
				"next_step", "owner", "tags", "custom_fields"}}},
		{"clear one field, set another",
			contact.Input{Company: "ACME", Clear: []string{"role"}},
			"", contact.Input{Company: "ACME", Clear: []string{"role"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := contact.Normalize(tt.in, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%+v, %q) error = %v; want nil", tt.in, tt.region, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize(%+v, %q)\n got %+v\nwant %+v", tt.in, tt.region, got, tt.want)
			}
		})
	}
}
