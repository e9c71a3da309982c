package email_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/ics"
)

// fixedKey is an Ed25519 key from a fixed seed: Ed25519 signatures are
// deterministic, so a signed message is the same bytes on every run.
var fixedKey = ed25519.NewKeyFromSeed([]byte(strings.Repeat("k", 32)))

// TestBuildWithoutCalendarUnchanged: a message without a calendar is byte
// for byte what Build made before calendars were added (captured from that
// code, signed with fixedKey for acme.test, unsigned for other.test).
func TestBuildWithoutCalendarUnchanged(t *testing.T) {
	b, err := email.NewBuilder("inst1", email.DKIM{Domain: "acme.test", Selector: "s1", Key: fixedKey})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		m    *email.Message
		want string
	}{{
		m: &email.Message{
			ID:      "m-7",
			From:    email.Address{Name: "Acme Sales", Addr: "sales@acme.test"},
			ReplyTo: "Grace <grace@acme.test>",
			To:      email.Address{Name: "Ada Lovelace", Addr: "ada@example.com"},
			Subject: "Your meeting with Grace — Tuesday, 10:00",
			Text:    "Hi Ada,\nsee you on Tuesday. \n= 100 % sure\n",
			HTML:    "<p>Hi Ada,</p><p>see you on <b>Tuesday</b>. " + strings.Repeat("More words to fold. ", 6) + "</p>",
			Date:    at, ListID: "Meetings <meetings.acme.test>",
			UnsubscribeURL: "https://acme.test/u/tok", UnsubscribeMailto: "mailto:u@acme.test?subject=tok",
		},
		want: "" +
			"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=acme.test; s=s1;\r\n" +
			" t=1795428000; h=from:reply-to:to:subject:date:message-id:mime-version:\r\n" +
			" content-type:list-unsubscribe:list-unsubscribe-post:list-id:\r\n" +
			" x-nurture-message;\r\n" +
			" bh=XRvdaRO5KLr27LZoXUGALFcBB1vTGNtNr6vwHjX7XbY=;\r\n" +
			" b=TNcgbvsOh6r9iP6K2r71EkMNA4HWfeQuUrFEPPlI3vffk9tKK52gE5cwo5/oFmnFIL01Wp\r\n" +
			"  2thKpGDJdvXL3wAA==\r\n" +
			"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
			"From: \"Acme Sales\" <sales@acme.test>\r\n" +
			"To: \"Ada Lovelace\" <ada@example.com>\r\n" +
			"Reply-To: \"Grace\" <grace@acme.test>\r\n" +
			"Subject: =?UTF-8?q?Your_meeting_with_Grace_=E2=80=94_Tuesday,_10:00?=\r\n" +
			"Message-ID: <m-7.inst1@acme.test>\r\n" +
			"MIME-Version: 1.0\r\n" +
			"X-Nurture-Message: m-7\r\n" +
			"List-Id: Meetings <meetings.acme.test>\r\n" +
			"List-Unsubscribe: <https://acme.test/u/tok>, <mailto:u@acme.test?subject=tok>\r\n" +
			"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
			"Content-Type: multipart/alternative;\r\n" +
			" boundary=\"=_m-7.inst1_acme.test\"\r\n" +
			"\r\n" +
			"--=_m-7.inst1_acme.test\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n" +
			"Content-Type: text/plain; charset=UTF-8\r\n" +
			"\r\n" +
			"Hi Ada,\r\n" +
			"see you on Tuesday.=20\r\n" +
			"=3D 100 % sure\r\n" +
			"\r\n" +
			"--=_m-7.inst1_acme.test\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n" +
			"Content-Type: text/html; charset=UTF-8\r\n" +
			"\r\n" +
			"<p>Hi Ada,</p><p>see you on <b>Tuesday</b>. More words to fold. More words =\r\n" +
			"to fold. More words to fold. More words to fold. More words to fold. More w=\r\n" +
			"ords to fold. </p>\r\n" +
			"--=_m-7.inst1_acme.test--\r\n",
	}, {
		m: &email.Message{
			ID: "m-8", From: email.Address{Addr: "news@other.test"}, To: email.Address{Addr: "bob@example.com"},
			Subject: "HTML only", HTML: "<p>only html é</p>", Date: at,
		},
		want: "" +
			"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
			"From: <news@other.test>\r\n" +
			"To: <bob@example.com>\r\n" +
			"Subject: HTML only\r\n" +
			"Message-ID: <m-8.inst1@other.test>\r\n" +
			"MIME-Version: 1.0\r\n" +
			"X-Nurture-Message: m-8\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n" +
			"Content-Type: text/html; charset=UTF-8\r\n" +
			"\r\n" +
			"<p>only html =C3=A9</p>\r\n",
	}, {
		m: &email.Message{
			ID: "m-9", From: email.Address{Addr: "news@acme.test"}, To: email.Address{Name: "Bob", Addr: "bob@example.com"},
			Subject: "Text only", Text: "only text\n", Date: at,
		},
		want: "" +
			"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=acme.test; s=s1;\r\n" +
			" t=1795428000; h=from:reply-to:to:subject:date:message-id:mime-version:\r\n" +
			" content-type:list-unsubscribe:list-unsubscribe-post:list-id:\r\n" +
			" x-nurture-message;\r\n" +
			" bh=yvQUKX5qsbKy2Zi7QOrRobCjzrHwUwakSS6c0lFJJQI=;\r\n" +
			" b=Omwx3e2hIBdFy2hNOj27G17u7iPsWGvmwrX20nrDE396AZpvaRMan7DAHgUuAqBWw8Jiek\r\n" +
			"  mqNWUuvNpCxKrVCg==\r\n" +
			"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
			"From: <news@acme.test>\r\n" +
			"To: \"Bob\" <bob@example.com>\r\n" +
			"Subject: Text only\r\n" +
			"Message-ID: <m-9.inst1@acme.test>\r\n" +
			"MIME-Version: 1.0\r\n" +
			"X-Nurture-Message: m-9\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n" +
			"Content-Type: text/plain; charset=UTF-8\r\n" +
			"\r\n" +
			"only text\r\n" +
			"\r\n",
	}} {
		got, err := b.Build(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Build(%s) =\n%s\nwant, as before calendars,\n%s", tc.m.ID, got, tc.want)
		}
	}
}

// invitation is a calendar as internal/ics writes it, with text that
// needs escaping and folding.
func invitation(t *testing.T, method string) []byte {
	t.Helper()
	start := time.Date(2026, 12, 1, 14, 30, 0, 0, time.UTC)
	cal, err := ics.Bytes(method, ics.Event{
		UID: "meeting-42@nurture.example.com", Sequence: 1,
		Start: start, End: start.Add(30 * time.Minute), Stamp: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Summary:     "Demo with Acme, Inc.; 30 min",
		Description: "Agenda:\n" + strings.Repeat("Ünïcödé 🎉 points, to cover; ", 12),
		Location:    "Room 4", URL: "https://meet.example.com/abc",
		Organizer: ics.Person{Name: "Grace Hopper", Email: "grace@acme.test"},
		Attendees: []ics.Person{{Name: "Ada Lovelace", Email: "ada@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// leaf is a non-multipart part: the media types leading to it, its header
// and its body, decoded.
type leaf struct {
	path   string // "multipart/mixed > multipart/alternative > text/plain"
	params map[string]string
	header map[string][]string
	body   []byte
}

// leaves walks a MIME entity with the standard library, decoding base64
// (multipart decodes quoted-printable itself).
func leaves(t *testing.T, path, contentType string, header map[string][]string, body io.Reader) []leaf {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("%s: Content-Type %q: %v", path, contentType, err)
	}
	if path != "" {
		path += " > "
	}
	path += mt
	if !strings.HasPrefix(mt, "multipart/") {
		if strings.EqualFold(firstOf(header, "Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return []leaf{{path: path, params: params, header: header, body: b}}
	}
	var out []leaf
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, leaves(t, path, p.Header.Get("Content-Type"), p.Header, p)...)
	}
}

func firstOf(h map[string][]string, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestBuildWithCalendar builds invitations and cancellations, signed,
// parses them with net/mail and mime/multipart, and finds the structure
// multipart/mixed{multipart/alternative{text, HTML, calendar}, invite.ics},
// the calendar twice as written, the method on the calendar part, and a
// DKIM signature that verifies.
func TestBuildWithCalendar(t *testing.T) {
	b, err := email.NewBuilder("inst1", email.DKIM{Domain: "acme.test", Selector: "s1", Key: fixedKey})
	if err != nil {
		t.Fatal(err)
	}
	_, txt, err := email.TXTRecord("acme.test", "s1", fixedKey)
	if err != nil {
		t.Fatal(err)
	}
	const (
		mixed = "multipart/mixed > "
		alt   = mixed + "multipart/alternative > "
	)
	for _, tc := range []struct {
		name, method, text, html string
		want                     []string
	}{
		{"request", "REQUEST", sample().Text, sample().HTML, []string{alt + "text/plain", alt + "text/html", alt + "text/calendar", mixed + "application/ics"}},
		{"cancel", "CANCEL", sample().Text, sample().HTML, []string{alt + "text/plain", alt + "text/html", alt + "text/calendar", mixed + "application/ics"}},
		{"text only", "REQUEST", "Plain words.\n", "", []string{alt + "text/plain", alt + "text/calendar", mixed + "application/ics"}},
		{"html only", "REQUEST", "", "<p>Hi</p>", []string{alt + "text/html", alt + "text/calendar", mixed + "application/ics"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			m.Text, m.HTML = tc.text, tc.html
			m.Calendar, m.CalendarMethod = invitation(t, tc.method), tc.method
			raw, err := b.Build(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > 78 || strings.ContainsAny(line, "\r\n") {
					t.Errorf("line of %d characters or with a bare CR or LF: %q", len(line), line)
				}
			}
			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
				LookupTXT: func(domain string) ([]string, error) {
					if domain != "s1._domainkey.acme.test" {
						return nil, fmt.Errorf("no TXT for %s", domain)
					}
					return []string{txt}, nil
				},
			})
			if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
				t.Fatalf("DKIM verification: %v %+v\n%s", err, verifs, raw)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			parts := leaves(t, "", msg.Header.Get("Content-Type"), msg.Header, msg.Body)
			var paths []string
			for _, p := range parts {
				paths = append(paths, p.path)
			}
			if strings.Join(paths, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("parts:\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, p := range parts {
				switch p.path[strings.LastIndex(p.path, " ")+1:] {
				case "text/plain":
					if got := strings.ReplaceAll(string(p.body), "\r\n", "\n"); got != tc.text {
						t.Errorf("text = %q; want %q", got, tc.text)
					}
				case "text/html":
					if got := string(p.body); got != tc.html {
						t.Errorf("HTML = %q; want %q", got, tc.html)
					}
				case "text/calendar":
					if p.params["method"] != tc.method || !strings.EqualFold(p.params["charset"], "utf-8") {
						t.Errorf("text/calendar parameters %v; want method=%s and charset=UTF-8", p.params, tc.method)
					}
					if !bytes.Equal(p.body, m.Calendar) {
						t.Errorf("text/calendar part =\n%q\nwant\n%q", p.body, m.Calendar)
					}
				case "application/ics":
					disp, dparams, err := mime.ParseMediaType(firstOf(p.header, "Content-Disposition"))
					if err != nil || disp != "attachment" || dparams["filename"] != "invite.ics" || p.params["name"] != "invite.ics" {
						t.Errorf("attachment: Content-Disposition %q (%v), name %q; want an attachment invite.ics",
							firstOf(p.header, "Content-Disposition"), err, p.params["name"])
					}
					if !bytes.Equal(p.body, m.Calendar) {
						t.Errorf("invite.ics =\n%q\nwant\n%q", p.body, m.Calendar)
					}
				}
			}
		})
	}
}

// TestSendCalendarMessage: an invitation goes through SMTP as built, and
// its signature verifies on arrival.
func TestSendCalendarMessage(t *testing.T) {
	srv := newServer(t)
	pool := newPool(t, srv, "")
	b, err := email.NewBuilder("inst1", email.DKIM{Domain: "acme.test", Selector: "s1", Key: fixedKey})
	if err != nil {
		t.Fatal(err)
	}
	m := sample()
	m.Calendar, m.CalendarMethod = invitation(t, "REQUEST"), "REQUEST"
	raw, err := b.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Send(t.Context(), "bounce@acme.test", "ada@example.com", raw); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || !bytes.Equal(got[0].Data, raw) {
		t.Fatalf("server got %d messages; want the one built", len(got))
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(got[0].Data), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{txtRecord(t, fixedKey)}, nil },
	})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Fatalf("DKIM verification on arrival: %v %+v", err, verifs)
	}
}

func TestBuildRefusesBadCalendars(t *testing.T) {
	b, _ := email.NewBuilder("inst1")
	request := invitation(t, "REQUEST")
	for _, tc := range []struct {
		name   string
		cal    []byte
		method string
	}{
		{"no method", request, ""},
		{"lower case", request, "request"},
		{"publish", request, "PUBLISH"},
		{"reply", request, "REPLY"},
		{"line break", request, "REQUEST\r\nBcc: evil@x.test"},
		{"trailing space", request, "REQUEST "},
		{"parameter", request, "REQUEST; x=1"},
		{"not the calendar's", request, "CANCEL"},
		{"method without calendar", nil, "REQUEST"},
		{"calendar without METHOD", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"), "REQUEST"},
	} {
		m := sample()
		m.Calendar, m.CalendarMethod = tc.cal, tc.method
		if raw, err := b.Build(m); err == nil {
			t.Errorf("%s: Build succeeded; want an error\n%s", tc.name, raw)
		}
	}
}
