package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
)

// mailer is the far end of the outbox in these tests: a real dispatcher
// sending to a real SMTP server on loopback, with the links of its messages
// pointing at the test server.
type mailer struct {
	d    *dispatch.Dispatcher
	smtp *smtptest.Server
}

func (a *api) mailer(t *testing.T) *mailer {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	relay, err := email.ParseRelayURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := email.NewPool(relay, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b, err := email.NewBuilder("test")
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(dispatch.Config{Store: a.st, Clock: a.clk, Email: &dispatch.Email{
		Relay: pool, Builder: b, Signer: a.sign, Tracking: true, PublicURL: a.srv.URL,
		Marketing:     email.Address{Name: "Acme", Addr: "news@acme.test"},
		Transactional: email.Address{Name: "Acme", Addr: "hello@acme.test"},
	}})
	return &mailer{d: d, smtp: srv}
}

// drain sends every due message.
func (m *mailer) drain(t *testing.T) {
	t.Helper()
	for {
		n, err := m.d.Once(ctx)
		if err != nil {
			t.Fatalf("dispatch: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// saveTemplate stores an email template through the API.
func (a *api) saveTemplate(t *testing.T, name string) {
	t.Helper()
	r := a.do(t, "POST", "/api/v1/templates", map[string]any{"name": name, "channel": "email", "subject": "News",
		"html": `<p>Hello {{ contact.first_name | default: "there" }}, <a href="https://acme.test/pricing">see pricing</a>.</p>`})
	wantStatus(t, r, http.StatusCreated)
}

// queue sends a message request that must be accepted.
func (a *api) queue(t *testing.T, body map[string]any) store.Message {
	t.Helper()
	r := a.do(t, "POST", "/api/v1/messages", body)
	wantStatus(t, r, http.StatusAccepted)
	return decode[store.Message](t, r)
}

func (a *api) message(t *testing.T, id int64) store.Message {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/messages/%d", id), nil)
	wantStatus(t, r, http.StatusOK)
	return decode[store.Message](t, r)
}

func (a *api) messages(t *testing.T, query string) []store.Message {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/messages"+query, nil)
	wantStatus(t, r, http.StatusOK)
	return decode[[]store.Message](t, r)
}

func messageIDs(ms []store.Message) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestMessagesSendAndFollow(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		out := a.mailer(t)
		a.saveTemplate(t, "welcome")
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		m := a.queue(t, map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing",
			"list": "Warm leads", "topic": "product-news"})
		want := store.Message{ID: m.ID, ContactID: ada.ID, Channel: "email", Kind: "marketing", Template: "welcome",
			TemplateVersion: 1, Source: "api", List: "Warm leads", Topic: "product-news", Status: "queued"}
		got := m
		got.DueAt, got.CreatedAt = want.DueAt, want.CreatedAt
		if m.ID <= 0 || got.SentAt != nil || fmt.Sprint(got) != fmt.Sprint(want) || !m.DueAt.Equal(a.clk.Now()) {
			t.Errorf("queued = %+v; want %+v due now (%v)", m, want, a.clk.Now())
		}
		if g := a.message(t, m.ID); g.Status != "queued" || g.Template != "welcome" || g.ContactID != ada.ID {
			t.Errorf("GET = %+v; want the queued message", g)
		}

		out.drain(t)
		sent := a.message(t, m.ID)
		if sent.Status != "sent" || sent.SentAt == nil || sent.Attempts != 1 || !strings.Contains(sent.Reply, "queued as") {
			t.Errorf("after sending = %+v; want sent once, with the server's reply", sent)
		}
		if msgs := out.smtp.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"ada@example.com"}) {
			t.Errorf("SMTP got %d messages; want 1 to ada@example.com", len(msgs))
		}

		for _, c := range []struct {
			path   string
			status int
		}{
			{"/api/v1/messages/999999", http.StatusNotFound},
			{"/api/v1/messages/0", http.StatusUnprocessableEntity},
			{"/api/v1/messages/x", http.StatusUnprocessableEntity},
		} {
			wantProblem(t, a.do(t, "GET", c.path, nil), c.status, "")
		}
	})
}

func TestMessagesIdempotency(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.saveTemplate(t, "welcome")
		a.saveTemplate(t, "other")
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		body := map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "transactional", "idempotency_key": "order-42"}
		first := a.queue(t, body)
		for _, again := range []map[string]any{body,
			{"contact_id": ada.ID, "template": "other", "kind": "marketing", "idempotency_key": "order-42"}} {
			r := a.do(t, "POST", "/api/v1/messages", again)
			wantStatus(t, r, http.StatusOK)
			if m := decode[store.Message](t, r); m.ID != first.ID || m.Template != "welcome" {
				t.Errorf("repeated key %v = %+v; want message %d again", again, m, first.ID)
			}
		}
		// Without a key, each request is a message; the limits are inclusive.
		plain := map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing"}
		a.queue(t, plain)
		a.queue(t, plain)
		a.queue(t, map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing",
			"list": strings.Repeat("l", 100), "idempotency_key": strings.Repeat("k", 200)})
		if got := a.messages(t, ""); len(got) != 4 {
			t.Errorf("messages = %v; want 4", messageIDs(got))
		}
	})
}

func TestMessagesListFiltersAndRetry(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		out := a.mailer(t)
		a.saveTemplate(t, "welcome")
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		grace := a.createContact(t, map[string]any{"email": "grace@example.com"})
		m1 := a.queue(t, map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing"})
		m2 := a.queue(t, map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "transactional"})
		m3 := a.queue(t, map[string]any{"contact_id": grace.ID, "template": "welcome", "kind": "transactional"})
		out.smtp.Refuse("grace@example.com", 550, "no such user")
		out.drain(t)

		for _, c := range []struct {
			query string
			want  []int64
		}{
			{"", []int64{m3.ID, m2.ID, m1.ID}},
			{fmt.Sprintf("?contact_id=%d", ada.ID), []int64{m2.ID, m1.ID}},
			{fmt.Sprintf("?contact_id=%d", grace.ID), []int64{m3.ID}},
			{"?status=sent", []int64{m2.ID, m1.ID}},
			{"?status=failed", []int64{m3.ID}},
			{"?status=queued", []int64{}},
			{fmt.Sprintf("?contact_id=%d&status=failed", ada.ID), []int64{}},
			{"?limit=1", []int64{m3.ID}},
			{fmt.Sprintf("?limit=1&after=%d", m3.ID), []int64{m2.ID}},
			{fmt.Sprintf("?limit=1&after=%d", m2.ID), []int64{m1.ID}},
			{fmt.Sprintf("?limit=1&after=%d", m1.ID), []int64{}},
			{"?contact_id=999999", []int64{}},
		} {
			if got := messageIDs(a.messages(t, c.query)); !slices.Equal(got, c.want) {
				t.Errorf("GET /api/v1/messages%s = %v; want %v", c.query, got, c.want)
			}
		}
		for _, c := range []struct{ query, location string }{
			{"?status=bogus", "query.status"},
			{"?limit=0", "query.limit"},
			{"?limit=1001", "query.limit"},
			{"?contact_id=-1", "query.contact_id"},
			{"?after=-1", "query.after"},
			{"?colour=red", "query.colour"},
		} {
			wantProblem(t, a.do(t, "GET", "/api/v1/messages"+c.query, nil), http.StatusUnprocessableEntity, c.location)
		}

		retry := func(id int64) response { return a.do(t, "POST", fmt.Sprintf("/api/v1/messages/%d/retry", id), nil) }
		wantProblem(t, retry(m1.ID), http.StatusConflict, "")
		wantProblem(t, retry(999999), http.StatusNotFound, "")
		r := retry(m3.ID)
		wantStatus(t, r, http.StatusOK)
		if m := decode[store.Message](t, r); m.ID != m3.ID || m.Status != "queued" {
			t.Errorf("retried = %+v; want message %d queued", m, m3.ID)
		}
		wantProblem(t, retry(m3.ID), http.StatusConflict, "") // queued now
		out.smtp.Accept("grace@example.com")
		out.drain(t)
		if m := a.message(t, m3.ID); m.Status != "sent" || m.Attempts != 2 {
			t.Errorf("after the retry = %+v; want sent at the second attempt", m)
		}
	})
}

func TestMessagesBadInputQueuesNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.saveTemplate(t, "welcome")
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		gone := a.createContact(t, map[string]any{"email": "gone@example.com"})
		wantStatus(t, a.do(t, "DELETE", fmt.Sprintf("/api/v1/contacts/%d", gone.ID), nil), http.StatusNoContent)
		msg := func(fields ...any) map[string]any {
			b := map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing"}
			for i := 0; i+1 < len(fields); i += 2 {
				if fields[i+1] == nil {
					delete(b, fields[i].(string))
					continue
				}
				b[fields[i].(string)] = fields[i+1]
			}
			return b
		}
		id := fmt.Sprint(ada.ID)
		const (
			bad      = http.StatusBadRequest
			invalid  = http.StatusUnprocessableEntity
			notFound = http.StatusNotFound
		)
		for _, c := range []struct {
			name     string
			body     any
			status   int
			location string
		}{
			{"not JSON", `{"contact_id": ` + id, bad, ""},
			{"not JSON at all", `contact_id=1`, bad, ""},
			{"empty", "", bad, ""},
			{"trailing data", `{"contact_id": ` + id + `, "template": "welcome", "kind": "marketing"} {}`, bad, ""},
			{"an array", `[` + id + `]`, invalid, ""},
			{"contact_id a string", `{"contact_id": "` + id + `", "template": "welcome", "kind": "marketing"}`, invalid, ""},
			{"contact_id a fraction", `{"contact_id": 1.5, "template": "welcome", "kind": "marketing"}`, invalid, ""},
			{"unknown field", msg("priority", "high"), invalid, ""},
			{"misspelt field", msg("kind", nil, "knid", "marketing"), invalid, ""},
			{"null", `null`, invalid, "body.contact_id"},
			{"no contact_id", msg("contact_id", nil), invalid, "body.contact_id"},
			{"negative contact_id", msg("contact_id", -1), invalid, "body.contact_id"},
			{"no template", msg("template", nil), invalid, "body.template"},
			{"template with uppercase", msg("template", "Welcome"), invalid, "body.template"},
			{"template too long", msg("template", strings.Repeat("w", 65)), invalid, "body.template"},
			{"template a path", msg("template", "../welcome"), invalid, "body.template"},
			{"no kind", msg("kind", nil), invalid, "body.kind"},
			{"kind spam", msg("kind", "spam"), invalid, "body.kind"},
			{"kind in capitals", msg("kind", "Marketing"), invalid, "body.kind"},
			{"list with a newline", msg("list", "Warm\nleads"), invalid, "body.list"},
			{"list with NUL", msg("list", "Warm\x00leads"), invalid, "body.list"},
			{"list with DEL", msg("list", "Warm\x7fleads"), invalid, "body.list"},
			{"list over 100 bytes", msg("list", strings.Repeat("l", 101)), invalid, "body.list"},
			{"list of invalid UTF-8", `{"contact_id": ` + id + `, "template": "welcome", "kind": "marketing", "list": "a` + "\xff" + `"}`, invalid, "body.list"},
			{"topic with uppercase", msg("topic", "News"), invalid, "body.topic"},
			{"idempotency_key over 200 bytes", msg("idempotency_key", strings.Repeat("k", 201)), invalid, "body.idempotency_key"},
			{"idempotency_key with CR", msg("idempotency_key", "a\rb"), invalid, "body.idempotency_key"},
			{"unknown contact", msg("contact_id", 999999), notFound, ""},
			{"erased contact", msg("contact_id", gone.ID), notFound, ""},
			{"unknown template", msg("template", "nope"), notFound, ""},
			{"body over 4 KiB", msg("list", strings.Repeat("l", 5000)), http.StatusRequestEntityTooLarge, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, a.do(t, "POST", "/api/v1/messages", c.body), c.status, c.location)
				if got := a.messages(t, ""); len(got) != 0 {
					t.Errorf("messages after a refused request = %v; want none", messageIDs(got))
				}
			})
		}
	})
}

func TestMessagesSuppressionsAndTopicsNeedAKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.saveTemplate(t, "welcome")
		ada := a.createContact(t, map[string]any{"email": "ada@example.com"})
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/messages", map[string]any{"contact_id": ada.ID, "template": "welcome", "kind": "marketing"}},
			{"GET", "/api/v1/messages", nil},
			{"GET", "/api/v1/messages/1", nil},
			{"POST", "/api/v1/messages/1/retry", nil},
			{"GET", "/api/v1/topics", nil},
			{"PUT", "/api/v1/topics", `[{"name": "events", "label": "Events"}]`},
			{"POST", "/api/v1/suppressions", map[string]any{"channel": "email", "address": "ada@example.com"}},
			{"GET", "/api/v1/suppressions", nil},
			{"DELETE", "/api/v1/suppressions/email/ada@example.com", nil},
		} {
			for _, authorization := range []string{"", "Bearer wrong"} {
				before := a.counts(t)
				r := a.send(t, c.method, c.path, c.body, "Authorization", authorization)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s with Authorization %q: %d; want 401", c.method, c.path, authorization, r.Status)
				}
				a.wantCounts(t, before)
			}
		}
		if tps := decode[[]store.Topic](t, a.do(t, "GET", "/api/v1/topics", nil)); len(tps) != 0 {
			t.Errorf("topics after unauthorised PUT = %+v; want none", tps)
		}
	})
}

func (a *api) suppressions(t *testing.T, query string) []store.Suppression {
	t.Helper()
	r := a.do(t, "GET", "/api/v1/suppressions"+query, nil)
	wantStatus(t, r, http.StatusOK)
	return decode[[]store.Suppression](t, r)
}

// entry is a suppression in a form easy to compare.
type entry struct{ channel, address, scope, reason string }

func entries(xs []store.Suppression) []entry {
	out := []entry{}
	for _, x := range xs {
		out = append(out, entry{x.Channel, x.Address, x.Scope, x.Reason})
	}
	return out
}

func TestSuppressionsAddListDelete(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for _, c := range []struct {
			body any
			want entry
		}{
			{map[string]any{"channel": "email", "address": "  Ada@Example.COM "}, entry{"email", "ada@example.com", "all", "manual"}},
			{map[string]any{"channel": "sms", "address": "06 12 34 56 78", "reason": "complaint", "detail": "STOP by phone"},
				entry{"sms", "+33612345678", "all", "complaint"}},
			{map[string]any{"channel": "whatsapp", "address": "+33 6 12 34 56 78", "reason": "hard_bounce"},
				entry{"whatsapp", "+33612345678", "all", "hard_bounce"}},
			{map[string]any{"channel": "email", "address": "grace@example.com", "reason": "unsubscribed"},
				entry{"email", "grace@example.com", "marketing", "unsubscribed"}},
		} {
			r := a.do(t, "POST", "/api/v1/suppressions", c.body)
			wantStatus(t, r, http.StatusCreated)
			x := decode[store.Suppression](t, r)
			if got := (entry{x.Channel, x.Address, x.Scope, x.Reason}); got != c.want || x.Source != "api" {
				t.Errorf("POST %v = %+v; want %+v from api", c.body, x, c.want)
			}
		}
		sms := entry{"sms", "+33612345678", "all", "complaint"}
		wa := entry{"whatsapp", "+33612345678", "all", "hard_bounce"}
		ada := entry{"email", "ada@example.com", "all", "manual"}
		grace := entry{"email", "grace@example.com", "marketing", "unsubscribed"}
		for _, c := range []struct {
			query string
			want  []entry
		}{
			{"", []entry{sms, wa, ada, grace}},
			{"?channel=email", []entry{ada, grace}},
			{"?channel=sms", []entry{sms}},
			{"?reason=unsubscribed", []entry{grace}},
			{"?reason=soft_bounce", []entry{}},
			{"?channel=email&reason=complaint", []entry{}},
			{"?after=ada@example.com", []entry{grace}},
		} {
			if got := entries(a.suppressions(t, c.query)); !slices.Equal(got, c.want) {
				t.Errorf("GET /api/v1/suppressions%s = %v; want %v", c.query, got, c.want)
			}
		}
		if x := a.suppressions(t, "?channel=sms"); len(x) != 1 || x[0].Detail != "STOP by phone" {
			t.Errorf("sms entry = %+v; want its detail", x)
		}

		// A weaker entry does not replace a stronger one.
		r := a.do(t, "POST", "/api/v1/suppressions", map[string]any{"channel": "email", "address": "ada@example.com", "reason": "unsubscribed"})
		if x := decode[store.Suppression](t, r); x.Scope != "all" || x.Reason != "manual" {
			t.Errorf("unsubscribed over manual = %+v; want manual kept", x)
		}

		for _, c := range []struct {
			path   string
			status int
		}{
			{"/api/v1/suppressions/email/ADA@example.com", http.StatusNoContent},
			{"/api/v1/suppressions/email/ada@example.com", http.StatusNotFound},
			{"/api/v1/suppressions/sms/" + url.PathEscape("06 12 34 56 78"), http.StatusNoContent},
			{"/api/v1/suppressions/sms/" + url.PathEscape("+33612345678"), http.StatusNotFound},
			{"/api/v1/suppressions/email/nobody@example.com", http.StatusNotFound},
		} {
			r := a.do(t, "DELETE", c.path, nil)
			if c.status == http.StatusNoContent {
				wantStatus(t, r, c.status)
				continue
			}
			wantProblem(t, r, c.status, "")
		}
		if got := entries(a.suppressions(t, "")); !slices.Equal(got, []entry{wa, grace}) {
			t.Errorf("after deletes = %v; want %v", got, []entry{wa, grace})
		}
	})
}

// The address cursor must page through entries that share an address on
// several channels (a phone number on sms and whatsapp).
func TestSuppressionsPageThroughSharedAddresses(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for _, ch := range []string{"sms", "whatsapp"} {
			wantStatus(t, a.do(t, "POST", "/api/v1/suppressions", map[string]any{"channel": ch, "address": "+33612345678"}), http.StatusCreated)
		}
		wantStatus(t, a.do(t, "POST", "/api/v1/suppressions", map[string]any{"channel": "email", "address": "ada@example.com"}), http.StatusCreated)
		var seen []entry
		after, afterChannel := "", ""
		for range 10 {
			page := a.suppressions(t, "?limit=1&after="+url.QueryEscape(after)+"&after_channel="+afterChannel)
			if len(page) == 0 {
				break
			}
			seen = append(seen, entries(page)...)
			after, afterChannel = page[len(page)-1].Address, page[len(page)-1].Channel
		}
		if len(seen) != 3 {
			t.Errorf("paging with limit=1 saw %v; want all 3 entries", seen)
		}
	})
}

func TestSuppressionsBadInputIsRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		const invalid = http.StatusUnprocessableEntity
		for _, c := range []struct {
			name     string
			body     any
			status   int
			location string
		}{
			{"not JSON", `{"channel": "email"`, http.StatusBadRequest, ""},
			{"an array", `["email"]`, invalid, ""},
			{"unknown field", map[string]any{"channel": "email", "address": "a@example.com", "scope": "all"}, invalid, ""},
			{"no channel", map[string]any{"address": "a@example.com"}, invalid, "body.channel"},
			{"channel fax", map[string]any{"channel": "fax", "address": "a@example.com"}, invalid, "body.channel"},
			{"channel in capitals", map[string]any{"channel": "EMAIL", "address": "a@example.com"}, invalid, "body.channel"},
			{"no address", map[string]any{"channel": "email"}, invalid, "body.address"},
			{"email not an address", map[string]any{"channel": "email", "address": "not an address"}, invalid, "body.address"},
			{"email with CRLF", map[string]any{"channel": "email", "address": "a@example.com\r\nBcc: b@example.com"}, invalid, "body.address"},
			{"phone not a number", map[string]any{"channel": "sms", "address": "call me"}, invalid, "body.address"},
			{"phone an email", map[string]any{"channel": "whatsapp", "address": "a@example.com"}, invalid, "body.address"},
			{"reason erased", map[string]any{"channel": "email", "address": "a@example.com", "reason": "erased"}, invalid, "body.reason"},
			{"reason soft_bounce", map[string]any{"channel": "email", "address": "a@example.com", "reason": "soft_bounce"}, invalid, "body.reason"},
			{"reason spam", map[string]any{"channel": "email", "address": "a@example.com", "reason": "spam"}, invalid, "body.reason"},
			{"detail over 1,000 bytes", map[string]any{"channel": "email", "address": "a@example.com", "detail": strings.Repeat("d", 1001)}, invalid, "body.detail"},
			{"detail with a control character", map[string]any{"channel": "email", "address": "a@example.com", "detail": "a\x1bb"}, invalid, "body.detail"},
			{"body over 4 KiB", map[string]any{"channel": "email", "address": "a@example.com", "detail": strings.Repeat("d", 5000)}, http.StatusRequestEntityTooLarge, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, a.do(t, "POST", "/api/v1/suppressions", c.body), c.status, c.location)
				if got := a.suppressions(t, ""); len(got) != 0 {
					t.Errorf("list after a refused request = %v; want empty", entries(got))
				}
			})
		}
		for _, c := range []struct{ name, path, location string }{
			{"list: channel fax", "/api/v1/suppressions?channel=fax", "query.channel"},
			{"list: reason spam", "/api/v1/suppressions?reason=spam", "query.reason"},
			{"list: limit 0", "/api/v1/suppressions?limit=0", "query.limit"},
			{"list: unknown parameter", "/api/v1/suppressions?address=a", "query.address"},
		} {
			wantProblem(t, a.do(t, "GET", c.path, nil), invalid, c.location)
		}
		// The address of a DELETE is in the path, and the problem says so.
		for _, c := range []struct{ name, path, location string }{
			{"delete: channel fax", "/api/v1/suppressions/fax/a@example.com", "path.channel"},
			{"delete: not an email", "/api/v1/suppressions/email/nobody", "path.address"},
			{"delete: not a phone", "/api/v1/suppressions/sms/nobody", "path.address"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, a.do(t, "DELETE", c.path, nil), invalid, c.location)
			})
		}
	})
}

// An upsert granting consent does not lift a suppression: the list wins
// over what API callers say later.
func TestSuppressionSurvivesUpserts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		granted := []map[string]any{{"channel": "email", "purpose": "marketing", "status": "granted"}}
		a.createContact(t, map[string]any{"email": "ada@example.com"})
		for _, body := range []map[string]any{
			{"channel": "email", "address": "ada@example.com"},
			{"channel": "email", "address": "grace@example.com", "reason": "unsubscribed"},
		} {
			wantStatus(t, a.do(t, "POST", "/api/v1/suppressions", body), http.StatusCreated)
		}
		before := entries(a.suppressions(t, ""))
		for _, addr := range []string{"ADA@example.com", "grace@example.com"} {
			r := a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": addr, "first_name": "Again", "consents": granted})
			if r.Status != http.StatusOK && r.Status != http.StatusCreated {
				t.Fatalf("upsert %s: %d\n%s", addr, r.Status, r.Raw)
			}
		}
		if after := entries(a.suppressions(t, "")); !slices.Equal(after, before) {
			t.Errorf("list after upserts = %v; want unchanged %v", after, before)
		}
	})
}

func TestTopicsReplaceAndRefuse(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		get := func() []store.Topic {
			t.Helper()
			r := a.do(t, "GET", "/api/v1/topics", nil)
			wantStatus(t, r, http.StatusOK)
			return decode[[]store.Topic](t, r)
		}
		if got := get(); len(got) != 0 {
			t.Fatalf("topics at first = %+v; want none", got)
		}
		want := []store.Topic{{Name: "product-news", Label: "Product news"}, {Name: "events", Label: "Événements & webinaires"}}
		r := a.do(t, "PUT", "/api/v1/topics", want)
		wantStatus(t, r, http.StatusOK)
		if got := decode[[]store.Topic](t, r); !slices.Equal(got, want) {
			t.Errorf("PUT answered %+v; want %+v", got, want)
		}
		if got := get(); !slices.Equal(got, want) {
			t.Errorf("GET = %+v; want %+v", got, want)
		}

		topic := func(name, label string) map[string]any { return map[string]any{"name": name, "label": label} }
		var many []map[string]any
		for i := range 51 {
			many = append(many, topic(fmt.Sprintf("t%d", i), "T"))
		}
		const invalid = http.StatusUnprocessableEntity
		for _, c := range []struct {
			name   string
			body   any
			status int
			at     string // the end of the problem's location, "" when it names none
		}{
			{"not JSON", `[{"name": `, http.StatusBadRequest, ""},
			{"an object", topic("events", "Events"), invalid, ""},
			{"unknown field", []map[string]any{{"name": "events", "label": "Events", "default": true}}, invalid, ""},
			{"duplicate", []map[string]any{topic("events", "Events"), topic("events", "Events again")}, invalid, "[1].name"},
			{"no name", []map[string]any{{"label": "Events"}}, invalid, "[0].name"},
			{"name with uppercase", []map[string]any{topic("Events", "Events")}, invalid, "[0].name"},
			{"name with a space", []map[string]any{topic("product news", "Product news")}, invalid, "[0].name"},
			{"name too long", []map[string]any{topic(strings.Repeat("n", 65), "N")}, invalid, "[0].name"},
			{"empty label", []map[string]any{topic("events", "")}, invalid, "[0].label"},
			{"no label", []map[string]any{{"name": "events"}}, invalid, "[0].label"},
			{"label with a newline", []map[string]any{topic("events", "Ev\nents")}, invalid, "[0].label"},
			{"label over 100 bytes", []map[string]any{topic("events", strings.Repeat("L", 101))}, invalid, "[0].label"},
			{"51 topics", many, invalid, ""},
			{"over 16 KiB", []map[string]any{topic("events", strings.Repeat("L", 17<<10))}, http.StatusRequestEntityTooLarge, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := wantProblem(t, a.do(t, "PUT", "/api/v1/topics", c.body), c.status, "")
				if c.at != "" && !slices.ContainsFunc(p.locations(), func(l string) bool { return strings.HasSuffix(l, c.at) }) {
					t.Errorf("error locations = %q; want one ending in %q", p.locations(), c.at)
				}
				if got := get(); !slices.Equal(got, want) {
					t.Errorf("topics after a refused PUT = %+v; want unchanged %+v", got, want)
				}
			})
		}

		r = a.do(t, "PUT", "/api/v1/topics", `[]`)
		wantStatus(t, r, http.StatusOK)
		if got := get(); len(got) != 0 {
			t.Errorf("after PUT [] = %+v; want none", got)
		}
	})
}
