package ics_test

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/arran4/golang-ical"

	"github.com/nurturehq/nurture/internal/ics"
)

func meeting() ics.Event {
	start := time.Date(2026, 12, 1, 15, 30, 0, 0, time.FixedZone("CET", 3600))
	return ics.Event{
		UID:         "meeting-42@nurture.example.com",
		Sequence:    1,
		Start:       start,
		End:         start.Add(30 * time.Minute),
		Stamp:       time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Summary:     "Demo: Acme, Inc.; 30 min",
		Description: "Agenda:\n1. intro\\setup\r\n2. questions",
		Location:    "Room 4, floor 2",
		URL:         "https://meet.example.com/abc-def?pwd=x;y,z",
		Organizer:   ics.Person{Name: "Grace Hopper", Email: "grace@acme.test"},
		Attendees:   []ics.Person{{Name: "Lovelace, Ada", Email: "ada@example.com"}},
	}
}

// TestBytesExact shows the whole calendar for one meeting: the order of
// the properties, the escapes, the UTC times, the parameters.
func TestBytesExact(t *testing.T) {
	got, err := ics.Bytes(ics.MethodRequest, meeting())
	if err != nil {
		t.Fatal(err)
	}
	want := "BEGIN:VCALENDAR\r\n" +
		"PRODID:-//Nurture//Nurture//EN\r\n" +
		"VERSION:2.0\r\n" +
		"CALSCALE:GREGORIAN\r\n" +
		"METHOD:REQUEST\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:meeting-42@nurture.example.com\r\n" +
		"SEQUENCE:1\r\n" +
		"DTSTAMP:20261123T100000Z\r\n" +
		"DTSTART:20261201T143000Z\r\n" +
		"DTEND:20261201T150000Z\r\n" +
		"SUMMARY:Demo: Acme\\, Inc.\\; 30 min\r\n" +
		"DESCRIPTION:Agenda:\\n1. intro\\\\setup\\n2. questions\r\n" +
		"LOCATION:Room 4\\, floor 2\r\n" +
		"URL:https://meet.example.com/abc-def?pwd=x;y,z\r\n" +
		"STATUS:CONFIRMED\r\n" +
		"ORGANIZER;CN=Grace Hopper:mailto:grace@acme.test\r\n" +
		"ATTENDEE;CN=\"Lovelace, Ada\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP\r\n" +
		" =TRUE:mailto:ada@example.com\r\n" +
		"END:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	if string(got) != want {
		t.Errorf("Bytes =\n%s\nwant\n%s", got, want)
	}
	var buf bytes.Buffer
	if err := ics.Write(&buf, ics.MethodRequest, meeting()); err != nil || !bytes.Equal(buf.Bytes(), got) {
		t.Errorf("Write = %q, %v; want what Bytes gives", buf.Bytes(), err)
	}
}

// TestParsesBack parses what Bytes writes with golang-ical and finds every
// value as written, for a plain meeting, a hostile one and a cancel.
func TestParsesBack(t *testing.T) {
	hostile := meeting()
	hostile.UID = "m-1;x,y\\z@example.com"
	hostile.Summary = "Hi\r\nEND:VEVENT\r\nBEGIN:VEVENT\nSUMMARY:pwned; \"quoted\", ok"
	hostile.Description = strings.Repeat("Ünïcödé 🎉 text, with commas; and\nlines. ", 60)
	hostile.Location = "\"Bureau\" — 5 rue de l'Église\r\nParis"
	hostile.Organizer.Name = "Grace \"Amazing\" Hopper: CEO; Acme, Inc.\r\nATTENDEE:mailto:x@evil.test"
	hostile.Attendees = []ics.Person{
		{Name: "Ada\nLovelace\t\x00(née Byron)", Email: "ada@example.com"},
		{Name: "", Email: "bob@example.com"},
		{Name: strings.Repeat("Jörg-Ünal ", 20), Email: "jorg@example.com"},
	}
	cancel := meeting()
	cancel.Sequence = 2
	for _, tc := range []struct {
		name   string
		method string
		ev     ics.Event
		status string
	}{
		{"plain", ics.MethodRequest, meeting(), "CONFIRMED"},
		{"hostile", ics.MethodRequest, hostile, "CONFIRMED"},
		{"cancel", ics.MethodCancel, cancel, "CANCELLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ics.Bytes(tc.method, tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, b)
			cal, ev := parse(t, b)
			calProps := map[string]string{}
			for _, p := range cal.CalendarProperties {
				calProps[p.IANAToken] = p.Value
			}
			for k, want := range map[string]string{"PRODID": ics.ProdID, "VERSION": "2.0", "CALSCALE": "GREGORIAN", "METHOD": tc.method} {
				if calProps[k] != want {
					t.Errorf("%s = %q; want %q", k, calProps[k], want)
				}
			}
			checkEvent(t, ev, tc.ev, tc.status)
		})
	}
}

// TestRandomTextRoundTrips writes events whose free text is random bytes
// from an alphabet of troublemakers, parses them back, and finds the text
// as written, less what RFC 5545 cannot carry.
func TestRandomTextRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(5545, 5546))
	alphabet := []string{"a", "Z", " ", "\t", "\r", "\n", "\r\n", ";", ",", ":", "\\", "\"", "'", "=", "N", "n",
		"é", "€", "🎉", "\x00", "\x1b", "\x7f", "\xff", "\xe2\x82", "BEGIN:VEVENT", "END:VCALENDAR"}
	str := func(max int) string {
		var b strings.Builder
		for range r.IntN(max) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 500 {
		ev := meeting()
		ev.UID = "x" + str(40)
		ev.Summary, ev.Description, ev.Location = str(120), str(400), str(60)
		ev.Organizer.Name = str(80)
		ev.Attendees[0].Name = str(80)
		b, err := ics.Bytes(ics.MethodRequest, ev)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		checkLines(t, b)
		_, got := parse(t, b)
		checkEvent(t, got, ev, "CONFIRMED")
	}
}

// FuzzBytes: whatever the text, the calendar parses and the text comes back.
func FuzzBytes(f *testing.F) {
	f.Add("Demo, 30 min", "Agenda;\n1.", "Ada \"the\" Lovelace")
	f.Add("\r\n\r\nEND:VCALENDAR", "\\N\\n\\", "a:b;c,d")
	f.Add(strings.Repeat("🎉", 40), strings.Repeat("é", 100), "\x00\xff")
	f.Fuzz(func(t *testing.T, summary, description, name string) {
		ev := meeting()
		ev.Summary, ev.Description, ev.Attendees[0].Name = summary, description, name
		b, err := ics.Bytes(ics.MethodRequest, ev)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, b)
		_, got := parse(t, b)
		checkEvent(t, got, ev, "CONFIRMED")
	})
}

func TestBytesRefusesBadEvents(t *testing.T) {
	for name, edit := range map[string]func(*ics.Event){
		"end at start":          func(e *ics.Event) { e.End = e.Start },
		"end before start":      func(e *ics.Event) { e.End = e.Start.Add(-time.Hour) },
		"end within the second": func(e *ics.Event) { e.End = e.Start.Add(time.Millisecond) },
		"no start":              func(e *ics.Event) { e.Start = time.Time{} },
		"no stamp":              func(e *ics.Event) { e.Stamp = time.Time{} },
		"empty uid":             func(e *ics.Event) { e.UID = "" },
		"blank uid":             func(e *ics.Event) { e.UID = " \r\n" },
		"negative sequence":     func(e *ics.Event) { e.Sequence = -1 },
		"organizer with CRLF":   func(e *ics.Event) { e.Organizer.Email = "grace@acme.test\r\nATTENDEE:mailto:x@y.test" },
		"organizer with LF":     func(e *ics.Event) { e.Organizer.Email = "grace@acme.test\n" },
		"organizer without @":   func(e *ics.Event) { e.Organizer.Email = "grace.acme.test" },
		"organizer missing":     func(e *ics.Event) { e.Organizer = ics.Person{Name: "Grace"} },
		"attendee with CR":      func(e *ics.Event) { e.Attendees[0].Email = "ada@example.com\rX" },
		"attendee without @":    func(e *ics.Event) { e.Attendees[0].Email = "ada" },
		"attendee with name":    func(e *ics.Event) { e.Attendees[0].Email = "Ada <ada@example.com>" },
		"attendee quoted":       func(e *ics.Event) { e.Attendees[0].Email = `"a b"@example.com` },
		"attendee empty domain": func(e *ics.Event) { e.Attendees[0].Email = "ada@" },
		"no attendee":           func(e *ics.Event) { e.Attendees = nil },
		"url with CRLF":         func(e *ics.Event) { e.URL = "https://x.test/\r\nATTENDEE:mailto:x@y.test" },
		"url with space":        func(e *ics.Event) { e.URL = "https://x.test/a b" },
		"relative url":          func(e *ics.Event) { e.URL = "/meet/1" },
		"unknown status":        func(e *ics.Event) { e.Status = "TENTATIVE" },
		"request cancelled":     func(e *ics.Event) { e.Status = ics.StatusCancelled },
	} {
		ev := meeting()
		edit(&ev)
		if b, err := ics.Bytes(ics.MethodRequest, ev); err == nil {
			t.Errorf("%s: Bytes succeeded:\n%s", name, b)
		}
		var buf bytes.Buffer
		if err := ics.Write(&buf, ics.MethodRequest, ev); err == nil || buf.Len() > 0 {
			t.Errorf("%s: Write = %v and wrote %d bytes; want an error and nothing written", name, err, buf.Len())
		}
	}
	for _, m := range []string{"", "request", "PUBLISH", "REPLY", "REQUEST\r\n", "CANCEL;X=1"} {
		if _, err := ics.Bytes(m, meeting()); err == nil {
			t.Errorf("Bytes(%q) succeeded; want an error", m)
		}
	}
	ev := meeting()
	ev.Status = ics.StatusConfirmed
	if _, err := ics.Bytes(ics.MethodCancel, ev); err == nil {
		t.Error("a CANCEL with STATUS:CONFIRMED was written")
	}
}

// checkLines: every line ends in CRLF, has no other CR or LF, is at most
// 75 octets and is valid UTF-8 on its own (no sequence split by a fold).
func checkLines(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("calendar does not end in CRLF: %q", b)
	}
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if line == "" {
			continue
		}
		body := strings.TrimSuffix(line, "\r\n")
		if len(body) > 75 {
			t.Errorf("line of %d octets: %q", len(body), body)
		}
		if strings.ContainsAny(body, "\r\n") {
			t.Errorf("bare CR or LF in %q", body)
		}
		if !utf8.ValidString(body) {
			t.Errorf("line is not valid UTF-8 (a sequence split?): %q", body)
		}
		for _, c := range []byte(body) {
			if c < ' ' && c != '\t' || c == 0x7f {
				t.Errorf("control character %#x in %q", c, body)
			}
		}
	}
}

func parse(t *testing.T, b []byte) (*ical.Calendar, *ical.VEvent) {
	t.Helper()
	cal, err := ical.ParseCalendar(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("golang-ical: %v\n%s", err, b)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("parsed %d events; want 1\n%s", len(evs), b)
	}
	return cal, evs[0]
}

// checkEvent compares a parsed event with the one written.
func checkEvent(t *testing.T, got *ical.VEvent, want ics.Event, status string) {
	t.Helper()
	prop := func(p ical.ComponentProperty) string {
		if v := got.GetProperty(p); v != nil {
			return v.Value
		}
		return ""
	}
	for _, c := range []struct {
		p    ical.ComponentProperty
		want string
	}{
		{ical.ComponentPropertyUniqueId, plain(want.UID)},
		{ical.ComponentPropertySequence, strconv.Itoa(want.Sequence)},
		{ical.ComponentPropertySummary, plain(want.Summary)},
		{ical.ComponentPropertyDescription, plain(want.Description)},
		{ical.ComponentPropertyLocation, plain(want.Location)},
		{ical.ComponentPropertyUrl, want.URL},
		{ical.ComponentPropertyStatus, status},
		{ical.ComponentPropertyOrganizer, "mailto:" + want.Organizer.Email},
	} {
		if g := prop(c.p); g != c.want {
			t.Errorf("%s = %q; want %q", c.p, g, c.want)
		}
	}
	for _, tc := range []struct {
		name string
		get  func() (time.Time, error)
		want time.Time
	}{
		{"DTSTART", got.GetStartAt, want.Start}, {"DTEND", got.GetEndAt, want.End}, {"DTSTAMP", got.GetDtStampTime, want.Stamp},
	} {
		g, err := tc.get()
		if err != nil || !g.Equal(tc.want.Truncate(time.Second)) || g.Location() != time.UTC {
			t.Errorf("%s = %v, %v; want %v in UTC", tc.name, g, err, tc.want)
		}
	}
	org := got.GetProperty(ical.ComponentPropertyOrganizer)
	if g, w := param(org.ICalParameters, "CN"), name(want.Organizer.Name); g != w {
		t.Errorf("ORGANIZER CN = %q; want %q", g, w)
	}
	atts := got.Attendees()
	if len(atts) != len(want.Attendees) {
		t.Fatalf("%d attendees; want %d", len(atts), len(want.Attendees))
	}
	for i, a := range atts {
		w := want.Attendees[i]
		if a.Email() != w.Email || param(a.ICalParameters, "CN") != name(w.Name) {
			t.Errorf("attendee %d = %q %q; want %q %q", i, param(a.ICalParameters, "CN"), a.Email(), name(w.Name), w.Email)
		}
		for k, v := range map[string]string{"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"} {
			if g := param(a.ICalParameters, k); g != v {
				t.Errorf("attendee %d %s = %q; want %q", i, k, g, v)
			}
		}
	}
}

func param(ps map[string][]string, k string) string {
	if v := ps[k]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// plain is s as a TEXT value carries it: line breaks as LF, no control
// characters but the tab, valid UTF-8.
func plain(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// name is s as a CN parameter carries it: no quotes, backslashes or
// control characters, white space runs made one space.
func name(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' && r != '\t' && r != '\r' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
