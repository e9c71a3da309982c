package route_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests need real zones wherever they run

	"pgregory.net/rapid"

	"github.com/nurturehq/nurture/internal/route"
)

var (
	calParis = mustLoc("Europe/Paris")
	calNY    = mustLoc("America/New_York")
)

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// calAt is a wall time in loc, "2026-12-25 17:50".
func calAt(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func mustHours(t testing.TB, spec map[string]string) route.Hours {
	t.Helper()
	h, err := route.ParseHours(spec)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func weekdays(hours string) map[string]string {
	return map[string]string{"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours}
}

func everyDay(hours string) map[string]string {
	m := weekdays(hours)
	m["sat"], m["sun"] = hours, hours
	return m
}

func mustDate(t testing.TB, s string) route.Date {
	t.Helper()
	d, err := route.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec map[string]string
		want route.Hours
	}{
		{"empty", nil, route.Hours{}},
		{"one day", map[string]string{"mon": "09:00-18:00"},
			route.Hours{time.Monday: {{540, 1080}}}},
		{"lunch break, unsorted, spaces", map[string]string{"tue": " 14:00 - 18:00 ,9:00-12:00 "},
			route.Hours{time.Tuesday: {{540, 720}, {840, 1080}}}},
		{"adjacent intervals are kept", map[string]string{"wed": "12:00-14:00, 14:00-18:00"},
			route.Hours{time.Wednesday: {{720, 840}, {840, 1080}}}},
		{"whole day", map[string]string{"sun": "00:00-24:00", "sat": ""},
			route.Hours{time.Sunday: {{0, 1440}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := route.ParseHours(tt.spec)
			if err != nil {
				t.Fatalf("ParseHours(%q): %v", tt.spec, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseHours(%q) = %v; want %v", tt.spec, got, tt.want)
			}
			again, err := route.ParseHours(got.Spec())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("ParseHours(%q) = %v, %v; want %v back", got.Spec(), again, err, got)
			}
		})
	}
}

func TestHoursSpec(t *testing.T) {
	t.Parallel()
	h := mustHours(t, map[string]string{"mon": "14:00-18:00,09:00-12:00", "sun": "00:00-24:00"})
	got := h.Spec()
	want := map[string]string{"mon": "09:00-12:00, 14:00-18:00", "tue": "", "wed": "", "thu": "", "fri": "", "sat": "", "sun": "00:00-24:00"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spec() = %q; want %q", got, want)
	}
}

func TestParseHoursRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spec   map[string]string
		field  string
		reason string // a part of the reason
	}{
		{"unknown key", map[string]string{"monday": "09:00-18:00"}, "monday", "unknown day"},
		{"upper-case key", map[string]string{"Mon": "09:00-18:00"}, "Mon", "unknown day"},
		{"unknown key among good ones", map[string]string{"mon": "09:00-18:00", "xyz": ""}, "xyz", "unknown day"},
		{"huge key", map[string]string{strings.Repeat("k", 1<<20): ""}, strings.Repeat("k", 32) + "…", "unknown day"},
		{"control key", map[string]string{"m\x00n": ""}, "m?n", "unknown day"},
		{"99:99", map[string]string{"mon": "99:99-10:00"}, "mon", "hour over 24"},
		{"minute over 59", map[string]string{"tue": "09:60-10:00"}, "tue", "minute over 59"},
		{"negative", map[string]string{"wed": "-1:00-10:00"}, "wed", "malformed time"},
		{"negative end", map[string]string{"wed": "09:00--1:00"}, "wed", "malformed time"},
		{"plus sign", map[string]string{"wed": "+9:00-10:00"}, "wed", "malformed time"},
		{"no minutes", map[string]string{"thu": "9-17"}, "thu", "malformed time"},
		{"one minute digit", map[string]string{"thu": "9:0-17:00"}, "thu", "malformed time"},
		{"seconds", map[string]string{"thu": "09:00:00-17:00"}, "thu", "malformed time"},
		{"no end", map[string]string{"fri": "09:00"}, "fri", "want HH:MM-HH:MM"},
		{"non-ASCII digits", map[string]string{"fri": "０９:00-17:00"}, "fri", "malformed time"},
		{"empty interval", map[string]string{"sat": "09:00-09:00"}, "sat", "not before end"},
		{"overnight", map[string]string{"sun": "18:00-09:00"}, "sun", "overnight intervals are not supported"},
		{"overlap", map[string]string{"mon": "09:00-12:00,11:00-13:00"}, "mon", "overlap"},
		{"contained", map[string]string{"mon": "09:00-18:00,10:00-11:00"}, "mon", "overlap"},
		{"duplicate", map[string]string{"tue": "09:00-12:00, 09:00-12:00"}, "tue", "listed twice"},
		{"24:00 as a start", map[string]string{"wed": "24:00-24:00"}, "wed", "only an end"},
		{"after 24:00", map[string]string{"wed": "09:00-24:30"}, "wed", "after 24:00"},
		{"stray comma", map[string]string{"thu": "09:00-12:00,"}, "thu", "empty interval"},
		{"control character", map[string]string{"fri": "09:00-\x0012:00"}, "fri", "malformed time"},
		{"huge value", map[string]string{"sat": strings.Repeat("09:00-10:00,", 1<<16)}, "sat", "longer than"},
		{"too many intervals", map[string]string{"sun": strings.Repeat(",", 30)}, "sun", "more than 24 intervals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := route.ParseHours(tt.spec)
			var e *route.Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseHours = %v, %v; want an *Error", got, err)
			}
			if e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("ParseHours error = %q: %q; want %q: …%s…", e.Field, e.Reason, tt.field, tt.reason)
			}
			if len(e.Reason) > 300 {
				t.Errorf("reason is %d bytes long; want a short one", len(e.Reason))
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	good := map[string]route.Date{
		"2026-12-25": {Year: 2026, Month: time.December, Day: 25},
		"2028-02-29": {Year: 2028, Month: time.February, Day: 29},
		"2000-02-29": {Year: 2000, Month: time.February, Day: 29},
	}
	for s, want := range good {
		got, err := route.ParseDate(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01",
		"26-01-01", "2026/01/01", "2026-01-01T00:00:00Z", "0000-01-01", " 2026-01-01", "2026-01-+1", strings.Repeat("9", 1<<20)} {
		got, err := route.ParseDate(s)
		var e *route.Error
		if !errors.As(err, &e) || e.Field != "date" || len(e.Reason) > 100 {
			t.Errorf("ParseDate(%.20q) = %v, %v; want an *Error on date", s, got, err)
		}
	}
	if got, want := route.DateOf(calAt(t, calParis, "2026-12-25 00:30")), (route.Date{Year: 2026, Month: time.December, Day: 25}); got != want {
		t.Errorf("DateOf = %v; want %v (the date in t's location, not UTC's)", got, want)
	}
}

// office is Mon–Fri 09:00–18:00 in Paris, closed on Christmas.
func office(t testing.TB) *route.Calendar {
	return &route.Calendar{
		Loc:    calParis,
		Hours:  mustHours(t, weekdays("09:00-18:00")),
		Closed: map[route.Date]string{mustDate(t, "2026-12-25"): "Christmas Day"},
	}
}

// lunch is Mon–Fri 09:00–12:00 and 14:00–18:00 in Paris.
func lunch(t testing.TB) *route.Calendar {
	return &route.Calendar{Loc: calParis, Hours: mustHours(t, weekdays("09:00-12:00, 14:00-18:00"))}
}

func TestCalendarOpenNext(t *testing.T) {
	t.Parallel()
	absent := lunch(t)
	absent.Absences = []route.Span{{From: calAt(t, calParis, "2026-06-01 10:00"), To: calAt(t, calParis, "2026-06-01 11:30")}}
	tests := []struct {
		name string
		c    *route.Calendar
		at   string
		open bool
		next string
	}{
		{"Saturday night", office(t), "2026-06-06 22:00", false, "2026-06-08 09:00"},
		{"Sunday", office(t), "2026-06-07 13:00", false, "2026-06-08 09:00"},
		{"opening time", office(t), "2026-06-08 09:00", true, "2026-06-08 09:00"},
		{"open", office(t), "2026-06-08 17:59", true, "2026-06-08 17:59"},
		{"closing time", office(t), "2026-06-08 18:00", false, "2026-06-09 09:00"},
		{"before opening", office(t), "2026-06-09 08:59", false, "2026-06-09 09:00"},
		{"Christmas", office(t), "2026-12-25 10:00", false, "2026-12-28 09:00"},
		{"Christmas Eve evening", office(t), "2026-12-24 19:00", false, "2026-12-28 09:00"},
		{"lunch", lunch(t), "2026-06-01 12:30", false, "2026-06-01 14:00"},
		{"absent", absent, "2026-06-01 10:30", false, "2026-06-01 11:30"},
		{"absence ends", absent, "2026-06-01 11:30", true, "2026-06-01 11:30"},
		{"absence starts", absent, "2026-06-01 10:00", false, "2026-06-01 11:30"},
		{"before absence", absent, "2026-06-01 09:59", true, "2026-06-01 09:59"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := calAt(t, calParis, tt.at)
			if got := tt.c.Open(at); got != tt.open {
				t.Errorf("Open(%s) = %v; want %v", tt.at, got, tt.open)
			}
			want := calAt(t, calParis, tt.next)
			got, ok := tt.c.Next(at)
			if !ok || !got.Equal(want) {
				t.Errorf("Next(%s) = %s, %v; want %s", tt.at, got, ok, want)
			}
			if got, ok := tt.c.Next(at.UTC()); !ok || !got.Equal(want) || got.Location() != calParis {
				t.Errorf("Next(%s in UTC) = %s, %v; want %s in Paris", tt.at, got, ok, want)
			}
		})
	}
}

func TestCalendarAdd(t *testing.T) {
	t.Parallel()
	absent := lunch(t)
	absent.Absences = []route.Span{ // out of order and overlapping, as an owner's leave may be entered
		{From: calAt(t, calParis, "2026-06-03 00:00"), To: calAt(t, calParis, "2026-06-06 00:00")},
		{From: calAt(t, calParis, "2026-06-01 10:00"), To: calAt(t, calParis, "2026-06-01 11:30")},
		{From: calAt(t, calParis, "2026-06-02 12:00"), To: calAt(t, calParis, "2026-06-04 12:00")},
		{From: calAt(t, calParis, "2026-06-09 10:00"), To: calAt(t, calParis, "2026-06-09 09:00")}, // backwards: ignored
	}
	tests := []struct {
		name string
		c    *route.Calendar
		from string
		d    time.Duration
		want string
	}{
		{"15 business minutes over a weekend", office(t), "2026-06-05 17:50", 15 * time.Minute, "2026-06-08 09:05"},
		{"exactly at closing", office(t), "2026-06-05 17:45", 15 * time.Minute, "2026-06-05 18:00"},
		{"from a Saturday night", office(t), "2026-06-06 22:00", 15 * time.Minute, "2026-06-08 09:15"},
		{"zero is Next", office(t), "2026-06-06 22:00", 0, "2026-06-08 09:00"},
		{"zero when open", office(t), "2026-06-08 10:17", 0, "2026-06-08 10:17"},
		{"a working week", office(t), "2026-06-08 09:00", 45 * time.Hour, "2026-06-12 18:00"},
		{"a working week and a minute", office(t), "2026-06-08 09:00", 45*time.Hour + time.Minute, "2026-06-15 09:01"},
		{"across Christmas", office(t), "2026-12-24 17:50", 15 * time.Minute, "2026-12-28 09:05"},
		{"lunch break", lunch(t), "2026-06-01 11:50", 20 * time.Minute, "2026-06-01 14:10"},
		{"lunch break, from lunch", lunch(t), "2026-06-01 13:00", 20 * time.Minute, "2026-06-01 14:20"},
		{"absence", absent, "2026-06-01 09:50", 20 * time.Minute, "2026-06-01 11:40"},
		{"leave", absent, "2026-06-02 11:50", 20 * time.Minute, "2026-06-08 09:10"},
		{"backwards absence ignored", absent, "2026-06-09 09:00", 2 * time.Hour, "2026-06-09 11:00"},
		{"negative is zero", office(t), "2026-06-06 22:00", -time.Hour, "2026-06-08 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, want := calAt(t, calParis, tt.from), calAt(t, calParis, tt.want)
			got, ok := tt.c.Add(from, tt.d)
			if !ok || !got.Equal(want) {
				t.Errorf("Add(%s, %v) = %s, %v; want %s", tt.from, tt.d, got, ok, want)
			}
			if tt.d >= 0 {
				if e := tt.c.Elapsed(from, got); e != tt.d {
					t.Errorf("Elapsed(%s, %s) = %v; want %v", tt.from, got, e, tt.d)
				}
			}
		})
	}
}

func TestCalendarNever(t *testing.T) {
	t.Parallel()
	from := calAt(t, calParis, "2026-06-01 10:00")
	yearOff := map[route.Date]string{}
	for d := from; d.Before(from.AddDate(1, 1, 0)); d = d.AddDate(0, 0, 1) {
		yearOff[route.DateOf(d)] = "sabbatical"
	}
	tests := []struct {
		name string
		c    *route.Calendar
	}{
		{"empty week", &route.Calendar{Loc: calParis}},
		{"empty week, nil location", &route.Calendar{}},
		{"closed for over a year", &route.Calendar{Loc: calParis, Hours: mustHours(t, weekdays("09:00-18:00")), Closed: yearOff}},
		{"absent for over a year", &route.Calendar{Loc: calParis, Hours: mustHours(t, weekdays("09:00-18:00")),
			Absences: []route.Span{{From: from.AddDate(0, 0, -1), To: from.AddDate(2, 0, 0)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := tt.c.Next(from); ok {
				t.Errorf("Next = %s, true; want false", got)
			}
			if got, ok := tt.c.Add(from, time.Minute); ok {
				t.Errorf("Add = %s, true; want false", got)
			}
			if tt.c.Open(from) {
				t.Errorf("Open = true; want false")
			}
			if got := tt.c.Elapsed(from, from.AddDate(1, 0, 0)); got != 0 {
				t.Errorf("Elapsed = %v; want 0", got)
			}
			if got := tt.c.Spans(from, from.AddDate(1, 0, 0)); len(got) != 0 {
				t.Errorf("Spans = %v; want none", got)
			}
		})
	}
	// 40 business hours a week cannot make 2,500 within a year.
	if got, ok := office(t).Add(from, 2500*time.Hour); ok {
		t.Errorf("Add(2500h) = %s, true; want false", got)
	}
}

func TestCalendarSpans(t *testing.T) {
	t.Parallel()
	adjacent := &route.Calendar{Loc: calParis, Hours: mustHours(t, map[string]string{
		"mon": "09:00-12:00, 12:00-14:00, 14:00-18:00", "tue": "09:00-12:00, 14:00-18:00",
		"fri": "20:00-24:00", "sat": "00:00-24:00", "sun": "00:00-02:00"})}
	absent := lunch(t)
	absent.Absences = []route.Span{{From: calAt(t, calParis, "2026-06-01 10:00"), To: calAt(t, calParis, "2026-06-01 11:00")},
		{From: calAt(t, calParis, "2026-06-01 11:00"), To: calAt(t, calParis, "2026-06-01 11:30")}}
	type span struct{ from, to string }
	tests := []struct {
		name     string
		c        *route.Calendar
		from, to string
		want     []span
	}{
		{"adjacent intervals merge", adjacent, "2026-06-01 00:00", "2026-06-02 00:00",
			[]span{{"2026-06-01 09:00", "2026-06-01 18:00"}}},
		{"clipped", adjacent, "2026-06-01 10:00", "2026-06-02 15:00",
			[]span{{"2026-06-01 10:00", "2026-06-01 18:00"}, {"2026-06-02 09:00", "2026-06-02 12:00"}, {"2026-06-02 14:00", "2026-06-02 15:00"}}},
		{"across midnights", adjacent, "2026-06-05 00:00", "2026-06-08 00:00",
			[]span{{"2026-06-05 20:00", "2026-06-07 02:00"}}},
		{"absences cut", absent, "2026-06-01 00:00", "2026-06-02 00:00",
			[]span{{"2026-06-01 09:00", "2026-06-01 10:00"}, {"2026-06-01 11:30", "2026-06-01 12:00"}, {"2026-06-01 14:00", "2026-06-01 18:00"}}},
		{"inside one interval", lunch(t), "2026-06-01 09:10", "2026-06-01 09:20",
			[]span{{"2026-06-01 09:10", "2026-06-01 09:20"}}},
		{"closed", lunch(t), "2026-06-01 12:10", "2026-06-01 13:20", nil},
		{"backwards", lunch(t), "2026-06-02 00:00", "2026-06-01 00:00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to := calAt(t, calParis, tt.from), calAt(t, calParis, tt.to)
			got := tt.c.Spans(from, to)
			var gotS []span
			var sum time.Duration
			for _, s := range got {
				gotS = append(gotS, span{s.From.In(calParis).Format("2006-01-02 15:04"), s.To.In(calParis).Format("2006-01-02 15:04")})
				sum += s.To.Sub(s.From)
			}
			if !reflect.DeepEqual(gotS, tt.want) {
				t.Errorf("Spans(%s, %s) = %v; want %v", tt.from, tt.to, gotS, tt.want)
			}
			if e := tt.c.Elapsed(from, to); e != sum {
				t.Errorf("Elapsed(%s, %s) = %v; want %v, the spans' total", tt.from, tt.to, e, sum)
			}
		})
	}
	// A year of spans at most: two years of an always-open calendar are one span of 366 days.
	always := &route.Calendar{Hours: mustHours(t, everyDay("00:00-24:00"))}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := always.Spans(from, from.AddDate(2, 0, 0))
	if want := from.Add(366 * 24 * time.Hour); len(got) != 1 || !got[0].From.Equal(from) || !got[0].To.Equal(want) {
		t.Errorf("Spans over two years = %v; want [%s, %s)", got, from, want)
	}
}

// TestCalendarDST checks the days the clocks change, both ways in both
// zones: 01:00–04:00 lasts two hours in spring and four in autumn.
func TestCalendarDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		loc      *time.Location
		day      string
		night    time.Duration // length of 01:00–04:00
		whole    time.Duration // length of 00:00–24:00
		add90    string        // 01:00 + 90 minutes, in UTC
		business string        // Friday 17:00 before the change + 2 business hours (Mon–Fri 09:00–18:00)
	}{
		{calParis, "2026-03-29", 2 * time.Hour, 23 * time.Hour, "2026-03-29T01:30:00Z", "2026-03-30 10:00"},
		{calParis, "2026-10-25", 4 * time.Hour, 25 * time.Hour, "2026-10-25T00:30:00Z", "2026-10-26 10:00"},
		{calNY, "2026-03-08", 2 * time.Hour, 23 * time.Hour, "2026-03-08T07:30:00Z", "2026-03-09 10:00"},
		{calNY, "2026-11-01", 4 * time.Hour, 25 * time.Hour, "2026-11-01T06:30:00Z", "2026-11-02 10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String()+" "+tt.day, func(t *testing.T) {
			night := &route.Calendar{Loc: tt.loc, Hours: mustHours(t, everyDay("01:00-04:00"))}
			whole := &route.Calendar{Loc: tt.loc, Hours: mustHours(t, map[string]string{"sun": "00:00-24:00"})}
			midnight := calAt(t, tt.loc, tt.day+" 00:00")
			next := calAt(t, tt.loc, route.DateOf(midnight.Add(36*time.Hour)).String()+" 00:00")
			if got := night.Elapsed(midnight, next); got != tt.night {
				t.Errorf("01:00-04:00 lasts %v; want %v", got, tt.night)
			}
			if got := whole.Elapsed(midnight, next); got != tt.whole {
				t.Errorf("00:00-24:00 lasts %v; want %v", got, tt.whole)
			}
			spans := night.Spans(midnight, next)
			one, four := calAt(t, tt.loc, tt.day+" 01:00"), calAt(t, tt.loc, tt.day+" 04:00")
			if len(spans) != 1 || !spans[0].From.Equal(one) || !spans[0].To.Equal(four) {
				t.Errorf("Spans = %v; want [%s, %s)", spans, one, four)
			}
			if got, ok := whole.Add(midnight, tt.whole); !ok || !got.Equal(next) {
				t.Errorf("Add(midnight, %v) = %s, %v; want %s", tt.whole, got, ok, next)
			}
			want, _ := time.Parse(time.RFC3339, tt.add90)
			if got, ok := night.Add(one, 90*time.Minute); !ok || !got.Equal(want) {
				t.Errorf("Add(01:00, 90m) = %s, %v; want %s", got, ok, want)
			}
			if got, ok := night.Add(one, tt.night+time.Minute); !ok || !got.Equal(one.AddDate(0, 0, 1).Add(time.Minute)) {
				t.Errorf("Add(01:00, %v) = %s, %v; want 01:01 the next day", tt.night+time.Minute, got, ok)
			}
			office := &route.Calendar{Loc: tt.loc, Hours: mustHours(t, weekdays("09:00-18:00"))}
			friday := calAt(t, tt.loc, route.DateOf(midnight.AddDate(0, 0, -2)).String()+" 17:00")
			wantMon := calAt(t, tt.loc, tt.business)
			if got, ok := office.Add(friday, 2*time.Hour); !ok || !got.Equal(wantMon) {
				t.Errorf("Add(%s, 2h) = %s, %v; want %s", friday, got, ok, wantMon)
			}
		})
	}
}

// TestCalendarProperties checks, for many start times and durations, that
// Add and Elapsed agree, that Add is monotonic, and that Next, Open and
// Spans tell the same story.
func TestCalendarProperties(t *testing.T) {
	t.Parallel()
	hols, err := route.ParseHolidays(mustRead(t, "../../examples/holidays/fr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	closed := map[route.Date]string{}
	for _, h := range hols.Days {
		closed[mustDate(t, h.Date)] = h.Name
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cals := []struct {
		c    *route.Calendar
		maxD time.Duration // about what the calendar is open in a year
	}{
		{&route.Calendar{Loc: calParis, Hours: mustHours(t, weekdays("09:00-12:00, 14:00-18:00")), Closed: closed}, 2000 * time.Hour},
		{&route.Calendar{Loc: calNY, Hours: mustHours(t, map[string]string{
			"mon": "00:30-03:30, 08:00-17:00", "wed": "01:00-04:00", "sun": "00:00-24:00"})}, 1900 * time.Hour},
		{&route.Calendar{Hours: mustHours(t, map[string]string{"sat": "10:00-10:01"})}, time.Hour},
		{&route.Calendar{Loc: calParis, Hours: mustHours(t, everyDay("00:00-02:30, 02:30-24:00")), Absences: []route.Span{
			{From: base.Add(100 * time.Hour), To: base.Add(300 * time.Hour)},
			{From: base.Add(200 * time.Hour), To: base.Add(250 * time.Hour)},
			{From: base.Add(2000*time.Hour + 17*time.Minute), To: base.Add(2000*time.Hour + 19*time.Minute)},
		}}, 8000 * time.Hour},
	}
	rapid.Check(t, func(t *rapid.T) {
		for i := range 10 { // several per check: many start times, still shrinkable
			cal := rapid.SampledFrom(cals).Draw(t, fmt.Sprint("calendar ", i))
			calProperties(t, cal.c,
				base.Add(time.Duration(rapid.Int64Range(0, int64(700*24*time.Hour)).Draw(t, fmt.Sprint("from ", i)))),
				time.Duration(rapid.Int64Range(0, int64(cal.maxD)).Draw(t, fmt.Sprint("d1 ", i))),
				time.Duration(rapid.Int64Range(0, int64(10*time.Hour)).Draw(t, fmt.Sprint("extra ", i))),
				rapid.Bool().Draw(t, fmt.Sprint("whole minutes ", i)))
		}
	})
}

// calProperties checks one start time and two durations, d1 <= d2.
func calProperties(t *rapid.T, c *route.Calendar, from time.Time, d1, extra time.Duration, minutes bool) {
	d2 := d1 + extra
	if minutes {
		from, d1, d2 = from.Truncate(time.Minute), d1.Truncate(time.Minute), d2.Truncate(time.Minute)
	}
	at1, ok1 := c.Add(from, d1)
	at2, ok2 := c.Add(from, d2)
	if !ok1 || !ok2 {
		if ok2 && !ok1 {
			t.Fatalf("Add(%s, %v) failed but Add(%s, %v) = %s", from, d1, from, d2, at2)
		}
		if c.Elapsed(from, from.Add(366*24*time.Hour)) >= d2 {
			t.Fatalf("Add(%s, %v) failed; want it reached within 366 days", from, d2)
		}
		return
	}
	if got := c.Elapsed(from, at1); got != d1 {
		t.Fatalf("Elapsed(%s, Add(%s, %v) = %s) = %v; want %v", from, from, d1, at1, got, d1)
	}
	if at2.Before(at1) {
		t.Fatalf("Add(%s, %v) = %s before Add(%s, %v) = %s", from, d2, at2, from, d1, at1)
	}
	if got := c.Elapsed(at1, at2); got != d2-d1 {
		t.Fatalf("Elapsed(%s, %s) = %v; want %v", at1, at2, got, d2-d1)
	}
	next, ok := c.Next(from)
	if !ok || !c.Open(next) || c.Elapsed(from, next) != 0 || next.Before(from) || next.After(at1) {
		t.Fatalf("Next(%s) = %s, %v: open %v, elapsed %v; want an open instant no later than %s",
			from, next, ok, c.Open(next), c.Elapsed(from, next), at1)
	}
	if d1 > 0 && !c.Open(at1.Add(-time.Nanosecond)) {
		t.Fatalf("Add(%s, %v) = %s, but the instant before is closed", from, d1, at1)
	}
	var sum time.Duration
	for _, s := range c.Spans(from, at2) {
		if !c.Open(s.From) || (s.To.Before(at2) && c.Open(s.To)) {
			t.Fatalf("span %v: open at start %v, at end %v; want true, false", s, c.Open(s.From), c.Open(s.To))
		}
		sum += s.To.Sub(s.From)
	}
	if sum != d2 {
		t.Fatalf("Spans(%s, %s) total %v; want %v", from, at2, sum, d2)
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestParseHolidays(t *testing.T) {
	t.Parallel()
	json := `{"country": "DE", "holidays": [{"date": "2026-10-03", "name": "Tag der Deutschen Einheit"}]}`
	got, err := route.ParseHolidays([]byte(json))
	want := route.Holidays{Country: "DE", Days: []route.Holiday{{Date: "2026-10-03", Name: "Tag der Deutschen Einheit"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseHolidays(JSON) = %+v, %v; want %+v", got, err, want)
	}
	yaml := "country: IE\nholidays:\n  - date: 2026-03-17\n    name: Saint Patrick's Day\n"
	got, err = route.ParseHolidays([]byte(yaml))
	want = route.Holidays{Country: "IE", Days: []route.Holiday{{Date: "2026-03-17", Name: "Saint Patrick's Day"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseHolidays(unquoted dates) = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseHolidaysRejected(t *testing.T) {
	t.Parallel()
	day := func(date, name string) string { return fmt.Sprintf("  - date: %q\n    name: %q\n", date, name) }
	four := day("2026-01-01", "a") + day("2026-01-02", "b") + day("2026-01-03", "c")
	many := "country: FR\nholidays:\n"
	for i := range 1001 {
		many += day(time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), "x")
	}
	tests := []struct {
		name   string
		src    string
		field  string
		reason string
	}{
		{"empty", "", "document", "empty"},
		{"comment only", "# nothing\n", "document", "empty"},
		{"not YAML", "country: [FR\n", "document", ""},
		{"not a map", "- FR\n", "document", ""},
		{"unknown key", "country: FR\nyear: 2026\n", "document", "year"},
		{"unknown day key", "country: FR\nholidays:\n  - date: 2026-01-01\n    nom: x\n", "document", "nom"},
		{"two documents", "country: FR\n---\ncountry: GB\n", "document", "one document"},
		{"too large", "country: FR\n#" + strings.Repeat("x", 256<<10), "document", "256 KiB"},
		{"no country", "holidays: []\n", "country", "missing"},
		{"lower-case country", "country: fr\n", "country", "upper-case"},
		{"three letters", "country: FRA\n", "country", "alpha-2"},
		{"non-ASCII country", "country: ÉU\n", "country", "alpha-2"},
		{"control country", "country: \"F\\0\"\n", "country", "alpha-2"},
		{"bad date", "country: FR\nholidays:\n" + four + day("2026-02-30", "d"), "holidays[3].date", "no such day"},
		{"not a date", "country: FR\nholidays:\n" + day("Christmas", "d"), "holidays[0].date", "YYYY-MM-DD"},
		{"missing date", "country: FR\nholidays:\n  - name: x\n", "holidays[0].date", "YYYY-MM-DD"},
		{"duplicate", "country: FR\nholidays:\n" + four + day("2026-01-02", "d"), "holidays[3].date", "listed twice"},
		{"long name", "country: FR\nholidays:\n" + four + day("2026-01-04", strings.Repeat("é", 101)), "holidays[3].name", "longer than 100"},
		{"control name", "country: FR\nholidays:\n" + four + day("2026-01-04", "bell\a"), "holidays[3].name", "control"},
		{"newline name", "country: FR\nholidays:\n" + day("2026-01-04", "two\nlines"), "holidays[0].name", "control"},
		{"too many", many, "holidays", "more than 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := route.ParseHolidays([]byte(tt.src))
			var e *route.Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseHolidays = %+v, %v; want an *Error", got, err)
			}
			if e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("ParseHolidays error = %q: %q; want %q: …%s…", e.Field, e.Reason, tt.field, tt.reason)
			}
		})
	}
	// A name of exactly 100 characters is fine.
	src := "country: FR\nholidays:\n" + day("2026-01-04", strings.Repeat("é", 100))
	if _, err := route.ParseHolidays([]byte(src)); err != nil {
		t.Errorf("ParseHolidays(100-character name) = %v; want no error", err)
	}
}

// TestShippedHolidays parses the holiday files in examples/holidays and
// checks dates that are easy to get wrong.
func TestShippedHolidays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, country string
		days          int
		has           []string
		hasNot        []string
	}{
		{"fr.yaml", "FR", 22,
			[]string{"2026-04-06", "2026-05-14", "2026-05-25", "2026-07-14", "2027-03-29", "2027-05-06", "2027-05-17", "2027-12-25"},
			[]string{"2026-04-03", "2026-12-26"}},
		{"us.yaml", "US", 23,
			[]string{"2026-07-03", "2026-11-26", "2026-01-19", "2027-06-18", "2027-07-05", "2027-12-24", "2027-12-31"},
			[]string{"2026-07-04", "2027-12-25"}},
		{"gb.yaml", "GB", 16,
			[]string{"2026-04-03", "2026-04-06", "2026-08-31", "2026-12-28", "2027-03-26", "2027-12-27", "2027-12-28"},
			[]string{"2026-12-26", "2027-12-25"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, err := route.ParseHolidays(mustRead(t, "../../examples/holidays/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if h.Country != tt.country || len(h.Days) != tt.days {
				t.Errorf("%s: country %s, %d days; want %s, %d", tt.file, h.Country, len(h.Days), tt.country, tt.days)
			}
			dates := map[string]bool{}
			for _, d := range h.Days {
				dates[d.Date] = true
				// France closes on the day itself; the US and GB move a weekend holiday to a weekday.
				day, _ := time.Parse(time.DateOnly, d.Date)
				if wd := day.Weekday(); tt.country != "FR" && (wd == time.Saturday || wd == time.Sunday) {
					t.Errorf("%s: %s (%s) is on a %s; want the weekday it is observed on", tt.file, d.Date, d.Name, wd)
				}
			}
			for _, d := range tt.has {
				if !dates[d] {
					t.Errorf("%s has no %s; want it", tt.file, d)
				}
			}
			for _, d := range tt.hasNot {
				if dates[d] {
					t.Errorf("%s has %s; want it not", tt.file, d)
				}
			}
		})
	}
}

func BenchmarkCalendarAdd(b *testing.B) {
	c := lunch(b)
	c.Closed = map[route.Date]string{mustDate(b, "2026-05-14"): "Ascension Day", mustDate(b, "2026-05-25"): "Whit Monday"}
	c.Absences = []route.Span{{From: calAt(b, calParis, "2026-05-18 00:00"), To: calAt(b, calParis, "2026-05-20 00:00")}}
	from := calAt(b, calParis, "2026-05-04 09:00")
	for b.Loop() {
		if _, ok := c.Add(from, 200*time.Hour); !ok {
			b.Fatal("Add failed")
		}
	}
}
