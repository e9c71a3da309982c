package web_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

func pemKey(t *testing.T) string {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestRelaysAndSendingDomains(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		r := a.do(t, "PUT", "/api/v1/relays/eu", map[string]any{"url": "smtp://user:s3cret@smtp.example.com:587?per_second=5&connections=2"})
		if r.Status != http.StatusCreated || strings.Contains(string(r.Raw), "s3cret") {
			t.Fatalf("create relay: %d %s; want 201 without the password", r.Status, r.Raw)
		}
		if r := a.do(t, "PUT", "/api/v1/relays/eu", map[string]any{"url": "smtps://user:s3cret@smtp.example.com"}); r.Status != http.StatusOK {
			t.Errorf("replace relay: %d; want 200", r.Status)
		}
		list := a.do(t, "GET", "/api/v1/relays", nil)
		if strings.Contains(string(list.Raw), "s3cret") || !strings.Contains(string(list.Raw), `"tls":"tls"`) {
			t.Errorf("list = %s; want the relay, TLS, no password", list.Raw)
		}
		for name, c := range map[string]struct {
			path string
			body any
		}{
			"bad url":     {"/api/v1/relays/x", map[string]any{"url": "http://x"}},
			"bad rate":    {"/api/v1/relays/x", map[string]any{"url": "smtp://h?per_second=-1"}},
			"bad name":    {"/api/v1/relays/Bad%20Name", map[string]any{"url": "smtp://h"}},
			"extra field": {"/api/v1/relays/x", map[string]any{"url": "smtp://h", "password": "x"}},
		} {
			if r := a.do(t, "PUT", c.path, c.body); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s; want 422", name, r.Status, r.Raw)
			}
		}
		key := pemKey(t)
		r = a.do(t, "PUT", "/api/v1/sending-domains/Mail.Acme.test", map[string]any{"selector": "nurture", "private_key": key, "relay": "eu"})
		if r.Status != http.StatusCreated || strings.Contains(string(r.Raw), "PRIVATE KEY") {
			t.Fatalf("create domain: %d %s", r.Status, r.Raw)
		}
		d := decode[map[string]any](t, r)
		if d["dns_name"] != "nurture._domainkey.mail.acme.test" || !strings.HasPrefix(d["dns_value"].(string), "v=DKIM1; k=ed25519; p=") {
			t.Errorf("domain = %v; want the TXT record to publish", d)
		}
		for name, body := range map[string]map[string]any{
			"bad key":       {"selector": "s", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
			"no key":        {"selector": "s"},
			"bad selector":  {"selector": "s_1", "private_key": key},
			"unknown relay": {"selector": "s", "private_key": key, "relay": "nope"},
		} {
			if r := a.do(t, "PUT", "/api/v1/sending-domains/acme.test", body); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s; want 422", name, r.Status, r.Raw)
			}
		}
		if r := a.do(t, "PUT", "/api/v1/sending-domains/not_a_domain", map[string]any{"selector": "s", "private_key": key}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("bad domain: %d", r.Status)
		}
		if r := a.do(t, "GET", "/api/v1/sending-domains", nil); strings.Contains(string(r.Raw), "PRIVATE KEY") || !strings.Contains(string(r.Raw), "mail.acme.test") {
			t.Errorf("list domains = %s", r.Raw)
		}
		if r := a.do(t, "DELETE", "/api/v1/relays/eu", nil); r.Status != http.StatusConflict {
			t.Errorf("delete a relay in use: %d; want 409", r.Status)
		}
		// A message may come from a sending domain, not from anywhere.
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		if r := a.do(t, "POST", "/api/v1/templates", map[string]any{"name": "t", "channel": "email", "subject": "s", "html": "<p>x</p>"}); r.Status != http.StatusCreated {
			t.Fatal(r.Status)
		}
		if r := a.do(t, "POST", "/api/v1/messages", map[string]any{"contact_id": c.ID, "template": "t", "kind": "marketing",
			"sender": "Sam <sam@mail.acme.test>"}); r.Status != http.StatusAccepted {
			t.Errorf("sender on a sending domain: %d %s", r.Status, r.Raw)
		}
		for _, bad := range []string{"sam@evil.test", "not an address", "a@b\r\nBcc: x@y"} {
			if r := a.do(t, "POST", "/api/v1/messages", map[string]any{"contact_id": c.ID, "template": "t", "kind": "marketing", "sender": bad}); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("sender %q: %d; want 422", bad, r.Status)
			}
		}
		if r := a.do(t, "DELETE", "/api/v1/sending-domains/mail.acme.test", nil); r.Status != http.StatusNoContent {
			t.Errorf("delete domain: %d", r.Status)
		}
		if r := a.do(t, "DELETE", "/api/v1/relays/eu", nil); r.Status != http.StatusNoContent {
			t.Errorf("delete relay: %d", r.Status)
		}
		if r := a.do(t, "DELETE", "/api/v1/relays/eu", nil); r.Status != http.StatusNotFound {
			t.Errorf("delete again: %d; want 404", r.Status)
		}
	})
}
