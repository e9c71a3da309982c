package web_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
)

const browserUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"

func TestDoubleOptInOneClick(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		c := a.createContact(t, map[string]any{"email": "ada@example.com",
			"consents": []map[string]any{{"channel": "email", "purpose": "marketing", "status": "pending_confirmation"}}})
		// The confirmation email is queued at once, in the contact's transaction.
		msgs := decode[[]store.Message](t, a.do(t, "GET", "/api/v1/messages?contact_id="+itoa(c.ID), nil))
		if len(msgs) != 1 || msgs[0].Template != store.ConfirmTemplate || msgs[0].Kind != store.KindTransactional {
			t.Fatalf("messages = %+v; want the confirmation, transactional", msgs)
		}
		status := func() string {
			current, _, err := a.st.Consents(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range current {
				if x.Channel == "email" && x.Purpose == "marketing" {
					return x.Status
				}
			}
			return ""
		}
		tok := a.sign.Confirm(c.ID)
		// Forged or foreign tokens: 404, nothing confirmed.
		for _, bad := range []string{tok[:len(tok)-2] + "AA", a.sign.Preferences(c.ID), a.sign.Unsubscribe(c.ID, 0), strings.Repeat("A", 5000)} {
			if r := a.do(t, "GET", "/c/"+bad, nil, "Authorization", "", "User-Agent", browserUA); r.Status != http.StatusNotFound {
				t.Errorf("bad token: %d; want 404", r.Status)
			}
		}
		// A link scanner gets a button, and confirms nothing.
		r := a.do(t, "GET", "/c/"+tok, nil, "Authorization", "", "User-Agent", "Mozilla/5.0 (compatible; Barracuda Sentinel)")
		if r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "<button") || status() != contact.ConsentPending {
			t.Fatalf("scanner: %d, consent %s; want a button page and still pending", r.Status, status())
		}
		// One click of a person confirms.
		r = a.do(t, "GET", "/c/"+tok, nil, "Authorization", "", "User-Agent", browserUA)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "confirmed") {
			t.Fatalf("person: %d %s", r.Status, r.Raw)
		}
		current, ledger, _ := a.st.Consents(ctx, c.ID)
		last := ledger[len(ledger)-1]
		if status() != contact.ConsentGranted || last.Source != "double_opt_in" || last.IP == "" {
			t.Errorf("ledger = %+v (current %+v); want granted by double_opt_in with the IP", last, current)
		}
		if evs := a.eventTypes(t, c.ID); !slices.Contains(evs, "subscription_confirmed") {
			t.Errorf("events = %v", evs)
		}
		// Again: nothing new.
		a.do(t, "GET", "/c/"+tok, nil, "Authorization", "", "User-Agent", browserUA)
		if _, again, _ := a.st.Consents(ctx, c.ID); len(again) != len(ledger) {
			t.Errorf("a second click added to the ledger: %d → %d", len(ledger), len(again))
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
