package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// browser is a person's User-Agent; Go's own is a bot's.
const browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"

// oneClick is the body of an RFC 8058 unsubscribe.
const oneClick = "List-Unsubscribe=One-Click"

// visit sends a request the way a recipient's client does: no API key, a
// browser's User-Agent, a form body when body is not empty, and redirects
// not followed. header holds extra name, value pairs; an empty value
// removes the header.
func (a *api) visit(t *testing.T, method, path, body string, header ...string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", browser)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	client := *a.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %.80s: read body: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Raw: raw}
}

// recipient is a contact who was sent a marketing message: the state the
// public endpoints are reached from.
type recipient struct {
	contact contact.Contact
	msg     store.Message
	out     *mailer
}

const target = "https://acme.test/pricing?plan=pro"

// sentTo creates a contact with body, sends it a marketing message, and
// leaves the clock at the time it was sent.
func (a *api) sentTo(t *testing.T, body map[string]any) recipient {
	t.Helper()
	out := a.mailer(t)
	a.saveTemplate(t, "news")
	c := a.createContact(t, body)
	m := a.queue(t, map[string]any{"contact_id": c.ID, "template": "news", "kind": "marketing"})
	out.drain(t)
	if m = a.message(t, m.ID); m.Status != "sent" {
		t.Fatalf("message = %+v; want sent", m)
	}
	return recipient{contact: c, msg: m, out: out}
}

func (r recipient) click(t *testing.T, a *api) string {
	t.Helper()
	tok, err := a.sign.Click(r.msg.ID, target)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var adaWithConsents = map[string]any{"email": "ada@example.com", "phone": "+33612345678", "consents": []map[string]any{
	{"channel": "email", "purpose": "marketing", "status": "granted", "source": "form"},
	{"channel": "sms", "purpose": "marketing", "status": "granted", "source": "form"},
}}

func (a *api) timelineOf(t *testing.T, id int64) []event.Event {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline?limit=500", id), nil)
	wantStatus(t, r, http.StatusOK)
	return decode[timeline](t, r).Events
}

// count returns how many of evs have type typ.
func count(evs []event.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (a *api) scoreOf(t *testing.T, id int64) store.ScoreReport {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/score", id), nil)
	wantStatus(t, r, http.StatusOK)
	return decode[store.ScoreReport](t, r)
}

func (a *api) currentConsents(t *testing.T, id int64) []statement {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/consents", id), nil)
	wantStatus(t, r, http.StatusOK)
	return statements(decode[consents](t, r).Current)
}

func (a *api) tagsOf(t *testing.T, id int64) []string {
	t.Helper()
	r := a.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", id), nil)
	wantStatus(t, r, http.StatusOK)
	return decode[contact.Contact](t, r).Tags
}

// The "must show" of one-click unsubscribe: the link in the message's
// List-Unsubscribe header, posted as RFC 8058 says, withdraws consent,
// suppresses the address, and a marketing message queued afterwards is
// stopped at send time (a transactional one still goes).
func TestPublicOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, adaWithConsents)
		msgs := rc.out.smtp.Messages()
		if len(msgs) != 1 {
			t.Fatalf("SMTP got %d messages; want 1", len(msgs))
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
		if err != nil {
			t.Fatal(err)
		}
		if got := parsed.Header.Get("List-Unsubscribe-Post"); got != oneClick {
			t.Errorf("List-Unsubscribe-Post = %q; want %q", got, oneClick)
		}
		link := strings.Trim(parsed.Header.Get("List-Unsubscribe"), "<>")
		path, ok := strings.CutPrefix(link, a.srv.URL)
		if !ok || !strings.HasPrefix(path, "/u/") {
			t.Fatalf("List-Unsubscribe = %q; want a link to %s/u/…", link, a.srv.URL)
		}

		r := a.visit(t, "POST", path, oneClick)
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Raw), "Unsubscribed") {
			t.Errorf("answer does not say Unsubscribed:\n%s", r.Raw)
		}
		id := rc.contact.ID
		wantConsents := []statement{{"email", "marketing", "withdrawn", "unsubscribe"}, {"sms", "marketing", "granted", "form"}}
		if got := a.currentConsents(t, id); !slices.Equal(got, wantConsents) {
			t.Errorf("consents = %v; want %v", got, wantConsents)
		}
		wantList := []entry{{"email", "ada@example.com", "marketing", "unsubscribed"}}
		if got := entries(a.suppressions(t, "")); !slices.Equal(got, wantList) {
			t.Errorf("suppression list = %v; want %v", got, wantList)
		}
		evs := a.timelineOf(t, id)
		if n := count(evs, "unsubscribed"); n != 1 {
			t.Errorf("unsubscribed events = %d; want 1 (timeline %v)", n, eventTypes(evs))
		}

		// The second click of an impatient reader changes nothing.
		before := a.counts(t)
		wantStatus(t, a.visit(t, "POST", path, oneClick), http.StatusOK)
		a.wantCounts(t, before)

		a.clk.Advance(time.Hour)
		later := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "marketing"})
		receipt := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "transactional"})
		rc.out.drain(t)
		if m := a.message(t, later.ID); m.Status != "suppressed" || !strings.Contains(m.Reply, "unsubscribed") {
			t.Errorf("marketing message after unsubscribing = %+v; want suppressed by the unsubscription", m)
		}
		if m := a.message(t, receipt.ID); m.Status != "sent" {
			t.Errorf("transactional message after unsubscribing = %+v; want sent", m)
		}
		if n := len(rc.out.smtp.Messages()); n != 2 {
			t.Errorf("SMTP got %d messages; want 2 (the first and the receipt)", n)
		}
	})
}

// Mail scanners follow every link: the page behind the link only asks.
func TestPublicUnsubscribePageDoesNotUnsubscribe(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, adaWithConsents)
		path := "/u/" + a.sign.Unsubscribe(rc.contact.ID, rc.msg.ID)
		consentsBefore := a.currentConsents(t, rc.contact.ID)
		before := a.counts(t)
		for _, method := range []string{"GET", "HEAD"} {
			for _, ua := range []string{browser, "Mimecast Safe Links", ""} {
				r := a.visit(t, method, path, "", "User-Agent", ua)
				wantStatus(t, r, http.StatusOK)
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s Content-Type = %q; want text/html", method, ct)
				}
				if method == "GET" && !strings.Contains(string(r.Raw), `<form method="post" action="`+path+`">`) {
					t.Errorf("GET page has no form posting to %s:\n%s", path, r.Raw)
				}
			}
		}
		a.wantCounts(t, before)
		if got := entries(a.suppressions(t, "")); len(got) != 0 {
			t.Errorf("suppression list after GET = %v; want empty", got)
		}
		if got := a.currentConsents(t, rc.contact.ID); !slices.Equal(got, consentsBefore) {
			t.Errorf("consents after GET = %v; want %v", got, consentsBefore)
		}
	})
}

// reasons returns the machine reasons of evs, oldest first.
func reasons(t *testing.T, evs []event.Event) []string {
	t.Helper()
	var out []string
	for _, e := range slices.Backward(evs) {
		if !strings.HasPrefix(e.Type, "email_machine_") {
			continue
		}
		var p struct{ Reason string }
		if err := json.Unmarshal(e.Properties, &p); err != nil {
			t.Fatalf("event %d properties: %v", e.ID, err)
		}
		out = append(out, e.Type+":"+p.Reason)
	}
	return out
}

// Machine opens and clicks are written as such and never scored; a
// person's click a minute after sending is an email_clicked, and scores
// under the default rules (email-click: 7, email-open: 3).
func TestPublicMachineOpensAndClicksDoNotScore(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, map[string]any{"email": "ada@example.com"})
		id := rc.contact.ID
		open, click := "/t/o/"+a.sign.Open(rc.msg.ID), "/t/c/"+rc.click(t, a)
		scoreBefore := a.scoreOf(t, id)
		for _, c := range []struct {
			name, method, path, ua string
		}{
			{"Gmail's image proxy", "GET", open, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"},
			{"Apple Mail Privacy Protection", "GET", open, "Mozilla/5.0"},
			{"HEAD click", "HEAD", click, browser},
			{"click right after sending", "GET", click, browser},
		} {
			r := a.visit(t, c.method, c.path, "", "User-Agent", c.ua)
			if c.path == open {
				if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/gif" {
					t.Errorf("%s: %d %s; want 200 image/gif", c.name, r.Status, r.Header.Get("Content-Type"))
				}
			} else if r.Status != http.StatusFound || r.Header.Get("Location") != target {
				t.Errorf("%s: %d to %q; want 302 to %s", c.name, r.Status, r.Header.Get("Location"), target)
			}
		}
		evs := a.timelineOf(t, id)
		wantReasons := []string{"email_machine_opened:google-image-proxy", "email_machine_opened:apple-mpp",
			"email_machine_clicked:head-request", "email_machine_clicked:too-fast"}
		if got := reasons(t, evs); !slices.Equal(got, wantReasons) {
			t.Errorf("machine events = %v; want %v", got, wantReasons)
		}
		if n, m := count(evs, "email_opened"), count(evs, "email_clicked"); n+m != 0 {
			t.Errorf("email_opened %d, email_clicked %d after machine hits; want none (timeline %v)", n, m, eventTypes(evs))
		}
		if got := a.scoreOf(t, id); fmt.Sprint(got.Scores) != fmt.Sprint(scoreBefore.Scores) || len(got.Ledger) != len(scoreBefore.Ledger) {
			t.Errorf("score after machine hits = %v (%d ledger rows); want unchanged %v (%d)",
				got.Scores, len(got.Ledger), scoreBefore.Scores, len(scoreBefore.Ledger))
		}

		a.clk.Advance(time.Minute)
		if r := a.visit(t, "GET", click, ""); r.Status != http.StatusFound || r.Header.Get("Location") != target {
			t.Errorf("human click: %d to %q; want 302 to %s", r.Status, r.Header.Get("Location"), target)
		}
		evs = a.timelineOf(t, id)
		if n := count(evs, "email_clicked"); n != 1 {
			t.Errorf("email_clicked events = %d; want 1 (timeline %v)", n, eventTypes(evs))
		}
		sc := a.scoreOf(t, id)
		if got, want := sc.Scores["engagement"], scoreBefore.Scores["engagement"]+7; got != want {
			t.Errorf("engagement after a human click = %d; want %d", got, want)
		}
		if n := len(sc.Ledger); n == 0 || sc.Ledger[n-1].RuleID != "email-click" {
			t.Errorf("ledger = %+v; want the email-click rule last", sc.Ledger)
		}

		wantStatus(t, a.visit(t, "GET", open, ""), http.StatusOK)
		if n := count(a.timelineOf(t, id), "email_opened"); n != 1 {
			t.Errorf("email_opened events after a human open = %d; want 1", n)
		}
		if got, want := a.scoreOf(t, id).Scores["engagement"], scoreBefore.Scores["engagement"]+10; got != want {
			t.Errorf("engagement after a human open = %d; want %d", got, want)
		}
	})
}

// hostile is a request to a public endpoint with a token it must refuse.
type hostile struct {
	name, method, path, body string
}

// forgeries returns tokens that must not parse as tok: altered, cut,
// lengthened, signed with another key, or not tokens at all.
func forgeries(t *testing.T, tok string, resign func(*track.Signer) string) map[string]string {
	t.Helper()
	other, err := track.NewSigner(bytes.Repeat([]byte("another installation's key "), 2))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	return map[string]string{
		"flipped first":   flip(0),
		"flipped middle":  flip(len(tok) / 2),
		"flipped last":    flip(len(tok) - 1),
		"truncated":       tok[:len(tok)-1],
		"cut short":       tok[:8],
		"lengthened":      tok + "A",
		"padded":          tok + "==",
		"another key":     resign(other),
		"5 KB":            strings.Repeat("A", 5000),
		"5 KB after":      tok + strings.Repeat("A", 5000),
		"not base64":      "not*base64!",
		"NUL":             tok[:4] + "%00" + tok[4:],
		"escaped slash":   tok[:4] + "%2F" + tok[4:],
		"invalid UTF-8":   "%C3%28",
		"standard base64": strings.NewReplacer("-", "+", "_", "%2F").Replace(tok) + "=",
	}
}

// Forged, cut, oversized and misdirected tokens on every public endpoint:
// never a 5xx, never a change, and the answer each endpoint gives when the
// token is not valid (a pixel still, a 404 page, or for one-click the same
// answer as a valid token's).
func TestPublicHostileTokensChangeNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		wantStatus(t, a.do(t, "PUT", "/api/v1/topics", `[{"name": "events", "label": "Events"}]`), http.StatusOK)
		rc := a.sentTo(t, adaWithConsents)
		id, msg := rc.contact.ID, rc.msg.ID
		open, unsub, prefs := a.sign.Open(msg), a.sign.Unsubscribe(id, msg), a.sign.Preferences(id)
		click := rc.click(t, a)
		// A valid token for nobody is answered like a valid one (nothing
		// to change): the reference answer of every refused one-click.
		ref := a.visit(t, "POST", "/u/"+a.sign.Unsubscribe(999999, 0), oneClick)
		wantStatus(t, ref, http.StatusOK)
		const prefsForm = "paused=on&no_tracking=on&channel.sms=on" // email and events off

		var cases []hostile
		add := func(kind, tok string, resign func(*track.Signer) string, paths ...hostile) {
			forged := forgeries(t, tok, resign)
			for _, p := range paths {
				for name, f := range forged {
					cases = append(cases, hostile{kind + " " + name + ": " + p.method + " " + p.path, p.method, p.path + f, p.body})
				}
			}
		}
		add("open", open, func(s *track.Signer) string { return s.Open(msg) }, hostile{method: "GET", path: "/t/o/"})
		add("click", click, func(s *track.Signer) string { tok, _ := s.Click(msg, target); return tok },
			hostile{method: "GET", path: "/t/c/"}, hostile{method: "HEAD", path: "/t/c/"})
		add("unsubscribe", unsub, func(s *track.Signer) string { return s.Unsubscribe(id, msg) },
			hostile{method: "GET", path: "/u/"}, hostile{method: "POST", path: "/u/", body: oneClick})
		add("preferences", prefs, func(s *track.Signer) string { return s.Preferences(id) },
			hostile{method: "GET", path: "/p/"}, hostile{method: "POST", path: "/p/", body: prefsForm})
		// Valid tokens of another kind.
		cases = append(cases,
			hostile{"click token on the pixel", "GET", "/t/o/" + click, ""},
			hostile{"unsubscribe token on the pixel", "GET", "/t/o/" + unsub, ""},
			hostile{"open token on a link", "GET", "/t/c/" + open, ""},
			hostile{"unsubscribe token on a link", "GET", "/t/c/" + unsub, ""},
			hostile{"open token on unsubscribe", "POST", "/u/" + open, oneClick},
			hostile{"click token on unsubscribe", "POST", "/u/" + click, oneClick},
			hostile{"preferences token on unsubscribe", "POST", "/u/" + prefs, oneClick},
			hostile{"preferences token on the unsubscribe page", "GET", "/u/" + prefs, ""},
			hostile{"unsubscribe token on preferences", "POST", "/p/" + unsub, prefsForm},
			hostile{"open token on preferences", "POST", "/p/" + open, prefsForm},
			hostile{"unsubscribe token on the preferences page", "GET", "/p/" + unsub, ""},
		)

		a.clk.Advance(time.Minute) // past the timing rules: a valid hit now would count
		tagsBefore, consentsBefore := a.tagsOf(t, id), a.currentConsents(t, id)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := a.counts(t)
				r := a.visit(t, c.method, c.path, c.body)
				if r.Status >= 500 {
					t.Fatalf("status %d; want no 5xx\n%s", r.Status, r.Raw)
				}
				if loc := r.Header.Get("Location"); loc != "" {
					t.Errorf("redirects to %q; want no redirect", loc)
				}
				switch {
				case strings.HasPrefix(c.path, "/t/o/"):
					if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/gif" {
						t.Errorf("pixel: %d %s; want 200 image/gif", r.Status, r.Header.Get("Content-Type"))
					}
				case strings.HasPrefix(c.path, "/u/") && c.method == "POST":
					if r.Status != ref.Status || !bytes.Equal(r.Raw, ref.Raw) {
						t.Errorf("one-click answer %d differs from a valid token's %d:\n%s", r.Status, ref.Status, r.Raw)
					}
				default:
					if r.Status != http.StatusNotFound {
						t.Errorf("status %d; want 404", r.Status)
					}
				}
				a.wantCounts(t, before)
			})
		}
		evs := a.timelineOf(t, id)
		for _, typ := range []string{"unsubscribed", "email_opened", "email_clicked", "email_machine_opened", "email_machine_clicked"} {
			if n := count(evs, typ); n != 0 {
				t.Errorf("%d %s events after hostile requests; want none", n, typ)
			}
		}
		if got := entries(a.suppressions(t, "")); len(got) != 0 {
			t.Errorf("suppression list = %v; want empty", got)
		}
		if got := a.tagsOf(t, id); !slices.Equal(got, tagsBefore) {
			t.Errorf("tags = %v; want unchanged %v", got, tagsBefore)
		}
		if got := a.currentConsents(t, id); !slices.Equal(got, consentsBefore) {
			t.Errorf("consents = %v; want unchanged %v", got, consentsBefore)
		}
	})
}

// One-click answers the same whoever the token names, so that it does not
// tell which contacts exist.
func TestPublicUnsubscribeAnswersAlike(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, adaWithConsents)
		genuine := "/u/" + a.sign.Unsubscribe(rc.contact.ID, rc.msg.ID)
		answers := map[string]response{}
		for name, path := range map[string]string{
			"unknown contact":              "/u/" + a.sign.Unsubscribe(999999, 0),
			"unknown contact, its message": "/u/" + a.sign.Unsubscribe(999999, rc.msg.ID),
			"forged":                       genuine[:len(genuine)-3] + "AAA",
		} {
			answers[name] = a.visit(t, "POST", path, oneClick)
		}
		answers["real contact"] = a.visit(t, "POST", genuine, oneClick)
		want := answers["real contact"]
		wantStatus(t, want, http.StatusOK)
		for name, r := range answers {
			if r.Status != want.Status || !bytes.Equal(r.Raw, want.Raw) || r.Header.Get("Content-Type") != want.Header.Get("Content-Type") {
				t.Errorf("%s: %d %s\n%s\nwant as the real contact's: %d %s\n%s", name, r.Status, r.Header.Get("Content-Type"), r.Raw,
					want.Status, want.Header.Get("Content-Type"), want.Raw)
			}
		}
		if got := entries(a.suppressions(t, "")); len(got) != 1 {
			t.Errorf("suppression list = %v; want only the real contact's address", got)
		}
	})
}

// The click endpoint redirects to the URL inside its token and nowhere
// else, whatever is added to the request.
func TestPublicClickRedirectsOnlyToItsURL(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, map[string]any{"email": "ada@example.com"})
		tok := rc.click(t, a)
		a.clk.Advance(time.Minute)
		// offsite reports whether loc leaves this server for anywhere but the signed target.
		offsite := func(loc string) bool {
			u, err := url.Parse(loc)
			return loc != target && (err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\"))
		}
		for _, c := range []struct {
			name, method, path string
			signed             bool // redirects to the target; otherwise ends in a 404
		}{
			{"as signed", "GET", "/t/c/" + tok, true},
			{"url parameter", "GET", "/t/c/" + tok + "?url=https://evil.example", true},
			{"next parameter", "GET", "/t/c/" + tok + "?next=//evil.example&redirect=https%3A%2F%2Fevil.example", true},
			{"HEAD with url parameter", "HEAD", "/t/c/" + tok + "?url=https://evil.example", true},
			{"path suffix", "GET", "/t/c/" + tok + "/https://evil.example", false},
			{"path suffix of a host", "GET", "/t/c/" + tok + "//evil.example", false},
			{"escaped path suffix", "GET", "/t/c/" + tok + "%2Fhttps:%2F%2Fevil.example", false},
			{"dot segments", "GET", "/t/c/" + tok + "%2F..%2F..%2Fevil.example", false},
			{"appended host", "GET", "/t/c/" + tok + "@evil.example", false},
			{"no token", "GET", "/t/c/?url=https://evil.example", false},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := a.visit(t, c.method, c.path, "")
				loc := r.Header.Get("Location")
				if c.signed {
					if r.Status != http.StatusFound || loc != target {
						t.Errorf("%d to %q; want 302 to %s", r.Status, loc, target)
					}
					return
				}
				// The router may tidy the path with a redirect of its own: to
				// this server, never elsewhere, and on to a 404.
				for range 3 {
					if offsite(loc) {
						t.Fatalf("%d to %q; want no redirect off this server", r.Status, loc)
					}
					if loc == "" {
						break
					}
					r = a.visit(t, c.method, loc, "")
					loc = r.Header.Get("Location")
				}
				if r.Status != http.StatusNotFound || loc != "" {
					t.Errorf("ends in %d to %q; want 404", r.Status, loc)
				}
			})
		}
		evs := a.timelineOf(t, rc.contact.ID)
		if n := count(evs, "email_clicked") + count(evs, "email_machine_clicked"); n != 4 {
			t.Errorf("click events = %d; want 4 (one per redirect)", n)
		}
	})
}

// More than 8 KiB to a form endpoint is refused without a 5xx and without
// acting, even with a valid token.
func TestPublicOversizedBodiesChangeNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, adaWithConsents)
		pad := "&pad=" + strings.Repeat("x", 9<<10)
		for _, c := range []struct{ name, path, body string }{
			{"one-click, forged token", "/u/AAAAAAAAAAAAAAAAAAAAAAAAAAAA", oneClick + pad},
			{"preferences, forged token", "/p/AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "paused=on" + pad},
			{"preferences, valid token", "/p/" + a.sign.Preferences(rc.contact.ID), "paused=on" + pad},
			{"one-click, valid token", "/u/" + a.sign.Unsubscribe(rc.contact.ID, rc.msg.ID), oneClick + pad},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := a.counts(t)
				r := a.visit(t, "POST", c.path, c.body)
				if r.Status >= 500 {
					t.Errorf("status %d; want no 5xx\n%s", r.Status, r.Raw)
				}
				a.wantCounts(t, before)
				if got := entries(a.suppressions(t, "")); len(got) != 0 {
					t.Errorf("suppression list = %v; want empty", got)
				}
			})
		}
		if tags := a.tagsOf(t, rc.contact.ID); slices.Contains(tags, store.PrefPaused) {
			t.Errorf("tags = %v; want no pause from an oversized form", tags)
		}
	})
}

// checkbox reports whether page has the checkbox named name, and whether it is checked.
func checkbox(page []byte, name string) (present, checked bool) {
	_, rest, found := strings.Cut(string(page), `name="`+name+`"`)
	return found, strings.HasPrefix(rest, " checked")
}

func wantBoxes(t *testing.T, page []byte, want map[string]bool) {
	t.Helper()
	for name, on := range want {
		present, checked := checkbox(page, name)
		if !present || checked != on {
			t.Errorf("checkbox %s: present %v, checked %v; want checked %v", name, present, checked, on)
		}
	}
}

func TestPreferencesCentre(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		wantStatus(t, a.do(t, "PUT", "/api/v1/topics",
			`[{"name": "product-news", "label": "Product news"}, {"name": "events", "label": "Events"}]`), http.StatusOK)
		rc := a.sentTo(t, adaWithConsents)
		id := rc.contact.ID
		path := "/p/" + a.sign.Preferences(id)

		before := a.counts(t)
		r := a.visit(t, "GET", path, "")
		wantStatus(t, r, http.StatusOK)
		a.wantCounts(t, before)
		if !strings.Contains(string(r.Raw), "Product news") || !strings.Contains(string(r.Raw), `action="`+path+`"`) {
			t.Errorf("page lacks the topic labels or the form:\n%s", r.Raw)
		}
		wantBoxes(t, r.Raw, map[string]bool{"channel.email": true, "channel.sms": true, "channel.whatsapp": false,
			"topic.product-news": true, "topic.events": true, "paused": false, "no_tracking": false})

		// Email off, events off.
		r = a.visit(t, "POST", path, "channel.sms=on&topic.product-news=on")
		wantStatus(t, r, http.StatusOK)
		wantList := []entry{{"email", "ada@example.com", "marketing", "unsubscribed"}}
		if got := entries(a.suppressions(t, "")); !slices.Equal(got, wantList) {
			t.Errorf("suppression list = %v; want %v", got, wantList)
		}
		wantConsents := []statement{{"email", "marketing", "withdrawn", "preferences"}, {"sms", "marketing", "granted", "form"}}
		if got := a.currentConsents(t, id); !slices.Equal(got, wantConsents) {
			t.Errorf("consents = %v; want %v", got, wantConsents)
		}
		if tags := a.tagsOf(t, id); !slices.Contains(tags, "pref:no-events") || slices.Contains(tags, "pref:no-product-news") || slices.Contains(tags, "pref:paused") {
			t.Errorf("tags = %v; want pref:no-events only among pref: tags", tags)
		}
		if n := count(a.timelineOf(t, id), "unsubscribed"); n != 1 {
			t.Errorf("unsubscribed events = %d; want 1", n)
		}
		wantBoxes(t, a.visit(t, "GET", path, "").Raw, map[string]bool{"channel.email": false, "channel.sms": true,
			"topic.product-news": true, "topic.events": false, "paused": false})
		stopped := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "marketing"})
		rc.out.drain(t)
		if m := a.message(t, stopped.ID); m.Status != "suppressed" {
			t.Errorf("marketing message after email off = %+v; want suppressed", m)
		}

		// Email back on (lifts the unsubscription), events back, paused.
		r = a.visit(t, "POST", path, "channel.email=on&channel.sms=on&topic.product-news=on&topic.events=on&paused=on")
		wantStatus(t, r, http.StatusOK)
		if got := entries(a.suppressions(t, "")); len(got) != 0 {
			t.Errorf("suppression list after email back on = %v; want empty", got)
		}
		wantConsents = []statement{{"email", "marketing", "granted", "preferences"}, {"sms", "marketing", "granted", "form"}}
		if got := a.currentConsents(t, id); !slices.Equal(got, wantConsents) {
			t.Errorf("consents = %v; want %v", got, wantConsents)
		}
		if tags := a.tagsOf(t, id); !slices.Contains(tags, "pref:paused") || slices.Contains(tags, "pref:no-events") {
			t.Errorf("tags = %v; want pref:paused and no pref:no-events", tags)
		}
		wantBoxes(t, a.visit(t, "GET", path, "").Raw, map[string]bool{"channel.email": true, "topic.events": true, "paused": true})
		paused := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "marketing"})
		rc.out.drain(t)
		if m := a.message(t, paused.ID); m.Status != "suppressed" || !strings.Contains(m.Reply, "paused") {
			t.Errorf("marketing message while paused = %+v; want suppressed: paused", m)
		}

		// Unpaused, out of events: a message on that topic is stopped, another goes.
		wantStatus(t, a.visit(t, "POST", path, "channel.email=on&channel.sms=on&topic.product-news=on"), http.StatusOK)
		if tags := a.tagsOf(t, id); slices.Contains(tags, "pref:paused") || !slices.Contains(tags, "pref:no-events") {
			t.Errorf("tags = %v; want pref:no-events and no pref:paused", tags)
		}
		onEvents := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "marketing", "topic": "events"})
		onNews := a.queue(t, map[string]any{"contact_id": id, "template": "news", "kind": "marketing", "topic": "product-news"})
		rc.out.drain(t)
		if m := a.message(t, onEvents.ID); m.Status != "suppressed" {
			t.Errorf("message on a topic left = %+v; want suppressed", m)
		}
		if m := a.message(t, onNews.ID); m.Status != "sent" {
			t.Errorf("message on a topic kept = %+v; want sent", m)
		}
	})
}

// "Do not track my opens and clicks" holds for the messages already in the
// inbox too: their links still work, but record nothing that scores.
func TestPreferencesNoTrackingStopsRecordingHits(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		rc := a.sentTo(t, map[string]any{"email": "ada@example.com"})
		id := rc.contact.ID
		wantStatus(t, a.visit(t, "POST", "/p/"+a.sign.Preferences(id), "channel.email=on&no_tracking=on"), http.StatusOK)
		if tags := a.tagsOf(t, id); !slices.Contains(tags, store.PrefNoTracking) {
			t.Fatalf("tags = %v; want %s", tags, store.PrefNoTracking)
		}
		scoreBefore := a.scoreOf(t, id).Scores["engagement"]
		a.clk.Advance(time.Minute)
		wantStatus(t, a.visit(t, "GET", "/t/o/"+a.sign.Open(rc.msg.ID), ""), http.StatusOK)
		if r := a.visit(t, "GET", "/t/c/"+rc.click(t, a), ""); r.Status != http.StatusFound || r.Header.Get("Location") != target {
			t.Errorf("click: %d to %q; want 302 to %s", r.Status, r.Header.Get("Location"), target)
		}
		evs := a.timelineOf(t, id)
		if n, m := count(evs, "email_opened"), count(evs, "email_clicked"); n+m != 0 {
			t.Errorf("after opting out of tracking: %d email_opened, %d email_clicked; want none", n, m)
		}
		if got := a.scoreOf(t, id).Scores["engagement"]; got != scoreBefore {
			t.Errorf("engagement = %d; want unchanged %d", got, scoreBefore)
		}
	})
}
