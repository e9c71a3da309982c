package contact_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

func TestNormalizeConsent(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	valid := contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "granted", Source: "form"}
	with := func(edit func(*contact.ConsentInput)) contact.ConsentInput {
		in := valid
		edit(&in)
		return in
	}
	tests := []struct {
		name      string
		in        contact.ConsentInput
		want      contact.ConsentInput // when wantField is ""
		wantField string
	}{
		{"plain", valid, valid, ""},
		{"enums trimmed and lower-cased",
			contact.ConsentInput{Channel: " SMS ", Purpose: "Transactional", Status: "PENDING_CONFIRMATION", Source: "Import",
				WordingVersion: " v2 ", OccurredAt: at},
			contact.ConsentInput{Channel: "sms", Purpose: "transactional", Status: "pending_confirmation", Source: "import",
				WordingVersion: "v2", OccurredAt: at}, ""},
		{"IPv4", with(func(c *contact.ConsentInput) { c.IP = " 192.0.2.1 " }), with(func(c *contact.ConsentInput) { c.IP = "192.0.2.1" }), ""},
		{"IPv6 in canonical form", with(func(c *contact.ConsentInput) { c.IP = "2001:DB8:0:0::1" }),
			with(func(c *contact.ConsentInput) { c.IP = "2001:db8::1" }), ""},
		{"IPv4-mapped IPv6 unmapped", with(func(c *contact.ConsentInput) { c.IP = "::ffff:192.0.2.1" }),
			with(func(c *contact.ConsentInput) { c.IP = "192.0.2.1" }), ""},
		{"withdrawn", with(func(c *contact.ConsentInput) { c.Status = "withdrawn" }), with(func(c *contact.ConsentInput) { c.Status = "withdrawn" }), ""},

		{"unknown channel", with(func(c *contact.ConsentInput) { c.Channel = "fax" }), contact.ConsentInput{}, "consents[0].channel"},
		{"unknown purpose", with(func(c *contact.ConsentInput) { c.Purpose = "resale" }), contact.ConsentInput{}, "consents[0].purpose"},
		{"unknown status", with(func(c *contact.ConsentInput) { c.Status = "maybe" }), contact.ConsentInput{}, "consents[0].status"},
		{"no source", with(func(c *contact.ConsentInput) { c.Source = "" }), contact.ConsentInput{}, "consents[0].source"},
		{"wording_version too long", with(func(c *contact.ConsentInput) { c.WordingVersion = strings.Repeat("v", 65) }),
			contact.ConsentInput{}, "consents[0].wording_version"},
		{"control character in wording_version", with(func(c *contact.ConsentInput) { c.WordingVersion = "v2\x1b" }),
			contact.ConsentInput{}, "consents[0].wording_version"},
		{"not an IP", with(func(c *contact.ConsentInput) { c.IP = "localhost" }), contact.ConsentInput{}, "consents[0].ip"},
		{"IP with port", with(func(c *contact.ConsentInput) { c.IP = "192.0.2.1:443" }), contact.ConsentInput{}, "consents[0].ip"},
		{"IP network", with(func(c *contact.ConsentInput) { c.IP = "192.0.2.0/24" }), contact.ConsentInput{}, "consents[0].ip"},
		{"IPv4 with leading zero", with(func(c *contact.ConsentInput) { c.IP = "192.0.2.01" }), contact.ConsentInput{}, "consents[0].ip"},
		// A zone is free text: it could carry anything into the ledger.
		{"IPv6 with zone", with(func(c *contact.ConsentInput) { c.IP = "fe80::1%eth0" }), contact.ConsentInput{}, "consents[0].ip"},
		{"IPv6 with NUL zone", with(func(c *contact.ConsentInput) { c.IP = "fe80::1%\x00" }), contact.ConsentInput{}, "consents[0].ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := contact.NormalizeConsent(tt.in, "consents[0].")
			if f := errField(t, err); f != tt.wantField {
				t.Fatalf("NormalizeConsent(%+v) error = %v; want an error on %q", tt.in, err, tt.wantField)
			}
			if tt.wantField == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeConsent(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeConsentWithoutPrefix(t *testing.T) {
	t.Parallel()
	_, err := contact.NormalizeConsent(contact.ConsentInput{Channel: "pigeon"}, "")
	if got, want := errField(t, err), "channel"; got != want {
		t.Errorf("NormalizeConsent error on %q; want %q", got, want)
	}
}

func TestCurrentConsents(t *testing.T) {
	t.Parallel()
	row := func(id int64, channel, purpose, status string) contact.Consent {
		return contact.Consent{ID: id, Channel: channel, Purpose: purpose, Status: status}
	}
	tests := []struct {
		name   string
		ledger []contact.Consent
		want   []int64 // IDs of the rows in force, by channel then purpose
	}{
		{"empty", nil, []int64{}},
		{"one", []contact.Consent{row(1, "email", "marketing", "granted")}, []int64{1}},
		{"the last row per channel and purpose wins",
			[]contact.Consent{
				row(1, "sms", "marketing", contact.ConsentGranted),
				row(2, "email", "marketing", contact.ConsentPending),
				row(3, "email", "transactional", contact.ConsentGranted),
				row(4, "email", "marketing", contact.ConsentGranted),
				row(5, "sms", "marketing", contact.ConsentWithdrawn),
				row(6, "email", "marketing", contact.ConsentWithdrawn),
			},
			[]int64{6, 3, 5}},
		// Ledger order, not OccurredAt, decides: a back-dated row still wins.
		{"written order wins over occurred_at",
			[]contact.Consent{
				{ID: 1, Channel: "push", Purpose: "marketing", Status: contact.ConsentGranted, OccurredAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
				{ID: 2, Channel: "push", Purpose: "marketing", Status: contact.ConsentWithdrawn, OccurredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			},
			[]int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur := contact.CurrentConsents(tt.ledger)
			if cur == nil {
				t.Fatal("CurrentConsents = nil; want an empty slice, which encodes as []")
			}
			got := []int64{}
			for _, c := range cur {
				got = append(got, c.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CurrentConsents IDs = %v; want %v", got, tt.want)
			}
		})
	}
}
