package contact_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/contact"
)

// FuzzNormalize feeds arbitrary strings into every field. Normalize must not
// panic, must fail only with a *ValidationError, and what it accepts must be
// clean, valid UTF-8 and a fixed point of Normalize. Without -fuzz it runs the
// seeds below.
func FuzzNormalize(f *testing.F) {
	// Accepted whole.
	f.Add("Ada@Example.com", "06 12 34 56 78", "fr", "Europe/Paris", "Won", "HIGH", " Ada ", "call\r\n\tMonday", "vip, VIP,vip", "plan", "pro", "", "FR", 1500.0)
	f.Add("ada@example.com", "+1 650 253 0000", "", "UTC", "", "", "ACME", "", "", "", "", "country", "", 0.0)
	f.Add("ADA@EXAMPLE.COM", "0033612345678", "UK", "", "new", "low", "Zoë", "", "a", "_x", "", "time_zone", "", 1e15)
	// Rejected somewhere.
	f.Add("Ada <ada@example.com>", "0033612345678", "FRA", "Local", "archived", "urgent", "Ada\x00", "call\x1b", "", "1st", "", "status", "", -1.0)
	f.Add("ada@[192.0.2.1]", "+33 6 12", "UK", "../etc/passwd", "new", "low", "\xff", "\x00", " ", "a-b", "\x00", "id", "ZZ", 1e16)
	f.Add("Ⱥ@ȺȺ.com", "(650) 253-0000", "826", "Europe//Paris", "qualified", "medium", "C\u0085TO", "\u202e", "a\nb", "_x", "\x1b", "tags", "US", 0.5)
	f.Add("ada@example.com (Ada)", "", "EU", "localtime", "", "", "", "", "", "", "", "email", "", 0.0)
	f.Add(" ", " ", " ", " ", " ", " ", " ", " ", ",", "k", "v", " ", " ", 0.0)
	// Lower-casing made this identity 274 bytes long.
	f.Add(email(strings.Repeat("Ⱥ", 20), 254), "", "", "", "", "", "", "", "", "", "", "", "", 0.0)
	f.Fuzz(func(t *testing.T, email, phone, country, timeZone, status, urgency, text, nextStep, tag, key, value, clear, region string, number float64) {
		in := contact.Input{
			Email: email, Phone: phone, Country: country, TimeZone: timeZone, Status: status, Urgency: urgency,
			FirstName: text, LastName: text, Company: text, Role: text, Source: text, Offer: text,
			Persona: text, RequestType: text, Owner: text, NextStep: nextStep,
			PotentialValue: &number, Budget: &number,
		}
		// Empty means "not given" for these, as it does for the text fields.
		if tag != "" {
			in.Tags = strings.Split(tag, ",")
		}
		if key != "" {
			in.CustomFields = map[string]any{key: value}
		}
		if clear != "" {
			in.Clear = []string{clear}
		}
		out, err := contact.Normalize(in, region)
		if err != nil {
			var ve *contact.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("Normalize error = %v (%T); want a *contact.ValidationError naming a field", err, err)
			}
			return
		}

		c := contact.New(out, created)
		fields := map[string]string{
			"email": out.Email, "email_display": c.EmailDisplay, "phone": out.Phone, "country": out.Country,
			"time_zone": out.TimeZone, "status": out.Status, "urgency": out.Urgency, "first_name": out.FirstName,
			"last_name": out.LastName, "company": out.Company, "role": out.Role, "source": out.Source,
			"offer": out.Offer, "persona": out.Persona, "request_type": out.RequestType, "owner": out.Owner,
			"next_step": out.NextStep,
		}
		for i, tag := range out.Tags {
			fields[fmt.Sprintf("tags[%d]", i)] = tag
		}
		// Custom field values are free-form JSON, stored encoded; only their keys are checked.
		for k := range out.CustomFields {
			fields["custom_fields key"] = k
		}
		for name, s := range fields {
			if !utf8.ValidString(s) {
				t.Errorf("Normalize accepted %s = %q, which is not valid UTF-8", name, s)
			}
			if s != strings.TrimSpace(s) {
				t.Errorf("Normalize accepted %s = %q, which is not trimmed", name, s)
			}
			for _, r := range s {
				if unicode.IsControl(r) && !(name == "next_step" && (r == '\n' || r == '\t' || r == '\r')) {
					t.Errorf("Normalize accepted %s = %q, which holds control character %U", name, s, r)
				}
			}
		}

		again, err := contact.Normalize(out, region)
		if err != nil {
			t.Fatalf("Normalize(Normalize(in)) error = %v; want nil", err)
		}
		if !reflect.DeepEqual(again, out) {
			t.Fatalf("Normalize(Normalize(in))\n got %+v\nwant %+v", again, out)
		}
	})
}
