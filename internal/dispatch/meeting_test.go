package dispatch_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
)

// TestMeetingEmails: a booked meeting's invitations reach the SMTP server
// as text/calendar parts (METHOD:REQUEST), the lead's with a signed link
// to manage the meeting; its cancellation goes out as METHOD:CANCEL with
// a link to book another time on this server.
func TestMeetingEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		r := newRig(t, s, clk)
		paris, _ := time.LoadLocation("Europe/Paris")
		clk.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, paris))
		r.template(t, store.TemplateMeetingConfirmation, "Booked: {{ meeting_start }}",
			`<p>Manage it: <a href="{{ meeting_url }}">here</a>.</p>`)
		r.template(t, store.TemplateMeetingBooked, "New meeting", `<p>{{ meeting_start }} {{ meeting_url }}</p>`)
		r.template(t, store.TemplateMeetingCancelled, "Cancelled",
			`<p>Book again: <a href="{{ booking_url }}">here</a>.</p>`)
		if _, _, err := s.PutOwner(ctx, route.Owner{Name: "alice", Email: "alice@acme.test", TimeZone: "Europe/Paris",
			Hours: map[string]string{"tue": "09:00-18:00"}}); err != nil {
			t.Fatal(err)
		}
		in, err := contact.Normalize(contact.Input{Email: "ada@example.com", FirstName: "Ada"}, "FR")
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.BookMeeting(ctx, store.BookParams{Owner: "alice", Start: time.Date(2026, 3, 3, 10, 0, 0, 0, paris),
			Contact: in, Source: store.SourceBooking, TimeZone: "Europe/Paris"})
		if err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		msgs := r.smtp.Messages()
		if len(msgs) != 2 {
			t.Fatalf("SMTP got %d messages; want the lead's and the owner's", len(msgs))
		}
		for _, msg := range msgs {
			html, cal, method := meetingParts(t, msg.Data)
			if method != "REQUEST" {
				t.Errorf("to %v: calendar part's method %q; want REQUEST", msg.To, method)
			}
			parsed, err := ical.ParseCalendar(bytes.NewReader(cal))
			if err != nil || len(parsed.Events()) != 1 || parsed.Events()[0].Id() != m.UID {
				t.Errorf("to %v: the invitation does not parse as the meeting: %v\n%s", msg.To, err, cal)
			}
			link := regexp.MustCompile(`https://nurture\.acme\.test/m/([A-Za-z0-9_-]+)`).FindStringSubmatch(html)
			if link == nil {
				t.Fatalf("to %v: no manage link in\n%s", msg.To, html)
			}
			if tok, err := r.sign.Parse(link[1]); err != nil || tok.Kind != track.KindMeeting || tok.Meeting != m.ID {
				t.Errorf("manage link token = %+v, %v; want meeting %d", tok, err, m.ID)
			}
		}

		if _, err := s.CancelMeeting(ctx, m.ID, "lead"); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		msgs = r.smtp.Messages()[2:]
		if len(msgs) != 2 {
			t.Fatalf("SMTP got %d cancellations; want 2", len(msgs))
		}
		for _, msg := range msgs {
			html, cal, method := meetingParts(t, msg.Data)
			if method != "CANCEL" || !bytes.Contains(cal, []byte("SEQUENCE:1")) {
				t.Errorf("to %v: method %q, calendar\n%s\nwant a CANCEL of sequence 1", msg.To, method, cal)
			}
			if !strings.Contains(html, `href="https://nurture.acme.test/book/alice"`) {
				t.Errorf("to %v: no link to book again in\n%s", msg.To, html)
			}
		}
	})
}

// meetingParts walks a MIME message: its HTML, its calendar part and
// that part's method.
func meetingParts(t *testing.T, raw []byte) (html string, cal []byte, method string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ct string, body io.Reader)
	walk = func(ct string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if !strings.HasPrefix(mt, "multipart/") {
			b, _ := io.ReadAll(body)
			switch {
			case mt == "text/html":
				html = string(b)
			case mt == "text/calendar" && cal == nil:
				cal, method = b, params["method"]
			}
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var r io.Reader = p
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			walk(p.Header.Get("Content-Type"), r)
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body)
	if cal == nil {
		t.Fatalf("no text/calendar part in\n%s", raw)
	}
	return html, cal, method
}
