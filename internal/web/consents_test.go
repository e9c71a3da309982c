package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

type consents struct {
	Current []contact.Consent `json:"current"`
	Ledger  []contact.Consent `json:"ledger"`
}

// statement is a consent in a form easy to compare.
type statement struct{ channel, purpose, status, source string }

func statements(cs []contact.Consent) []statement {
	var out []statement
	for _, c := range cs {
		out = append(out, statement{c.Channel, c.Purpose, c.Status, c.Source})
	}
	return out
}

func TestConsentLedger(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com", "consents": []map[string]any{
			{"channel": "email", "purpose": "marketing", "status": "pending_confirmation", "source": "form", "wording_version": "v1"},
		}})
		path := fmt.Sprintf("/api/v1/contacts/%d/consents", c.ID)

		r := a.do(t, "GET", path, nil)
		wantStatus(t, r, http.StatusOK)
		got := decode[consents](t, r)
		want := []statement{{"email", "marketing", "pending_confirmation", "form"}}
		if !slices.Equal(statements(got.Ledger), want) || !slices.Equal(statements(got.Current), want) {
			t.Fatalf("after the upsert: current %v, ledger %v; want both %v", statements(got.Current), statements(got.Ledger), want)
		}

		a.clk.Advance(time.Hour)
		confirmedAt := a.clk.Now().Add(-time.Minute)
		r = a.do(t, "POST", path, map[string]any{"consents": []map[string]any{
			{"channel": "email", "purpose": "marketing", "status": "granted", "wording_version": "v1",
				"ip": "::ffff:192.0.2.7", "occurred_at": confirmedAt},
			{"channel": "sms", "purpose": "transactional", "status": "granted"},
		}})
		wantStatus(t, r, http.StatusOK)
		posted := decode[consents](t, r)
		wantCurrent := []statement{{"email", "marketing", "granted", "api"}, {"sms", "transactional", "granted", "api"}}
		if !slices.Equal(statements(posted.Current), wantCurrent) {
			t.Errorf("POST current = %v; want %v", statements(posted.Current), wantCurrent)
		}
		if g := posted.Current[0]; g.IP != "192.0.2.7" || !g.OccurredAt.Equal(confirmedAt) || g.WordingVersion != "v1" {
			t.Errorf("granted consent = %+v; want ip 192.0.2.7, occurred_at %v, wording v1", g, confirmedAt)
		}

		// Withdrawing appends; a statement repeating the current state adds nothing.
		a.clk.Advance(time.Hour)
		r = a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": "ada@example.com", "consents": []map[string]any{
			{"channel": "email", "purpose": "marketing", "status": "withdrawn"},
			{"channel": "sms", "purpose": "transactional", "status": "granted"},
		}})
		wantStatus(t, r, http.StatusOK)

		r = a.do(t, "GET", path, nil)
		wantStatus(t, r, http.StatusOK)
		got = decode[consents](t, r)
		wantLedger := []statement{
			{"email", "marketing", "pending_confirmation", "form"},
			{"email", "marketing", "granted", "api"},
			{"sms", "transactional", "granted", "api"},
			{"email", "marketing", "withdrawn", "api"},
		}
		if !slices.Equal(statements(got.Ledger), wantLedger) {
			t.Errorf("ledger = %v; want %v", statements(got.Ledger), wantLedger)
		}
		wantCurrent = []statement{{"email", "marketing", "withdrawn", "api"}, {"sms", "transactional", "granted", "api"}}
		if !slices.Equal(statements(got.Current), wantCurrent) {
			t.Errorf("current = %v; want %v (the latest per channel and purpose)", statements(got.Current), wantCurrent)
		}

		r = a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline?limit=500", c.ID), nil)
		n := 0
		for _, e := range decode[timeline](t, r).Events {
			if e.Type == "consent_changed" {
				n++
			}
		}
		if n != len(wantLedger) {
			t.Errorf("consent_changed events = %d; want one per ledger row, %d", n, len(wantLedger))
		}
	})
}

func TestConsentsOfANewContact(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/consents", c.ID), nil)
		wantStatus(t, r, http.StatusOK)
		if got := decode[consents](t, r); len(got.Current) != 0 || len(got.Ledger) != 0 {
			t.Errorf("consents = %+v; want none", got)
		}
	})
}
