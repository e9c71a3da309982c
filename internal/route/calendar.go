package route

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/nurturehq/nurture/internal/score"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Interval is an opening interval in local wall time: minutes after
// midnight, 0 <= Start < End <= 1440. Wall time, not a duration, so that
// "09:00-18:00" means the same thing on the days the clocks change.
type Interval struct{ Start, End int }

// Hours are the opening intervals of each weekday, indexed by time.Weekday
// (Sunday = 0), sorted, not overlapping.
type Hours [7][]Interval

// Limits on an hours spec: far more than any real week needs, small enough
// that a hostile spec costs nothing to reject.
const (
	maxHoursValue     = 512 // bytes in one day's value
	maxDayIntervals   = 24
	maxHoursFieldEcho = 32 // bytes of an unknown key echoed back in an error
)

// calDays are the keys of an hours spec, in the order errors are looked
// for, with the weekday each one is.
var calDays = [7]struct {
	key string
	day time.Weekday
}{
	{"mon", time.Monday}, {"tue", time.Tuesday}, {"wed", time.Wednesday},
	{"thu", time.Thursday}, {"fri", time.Friday}, {"sat", time.Saturday}, {"sun", time.Sunday},
}

// ParseHours reads hours written per weekday: keys "mon" "tue" "wed" "thu"
// "fri" "sat" "sun", values like "09:00-12:00, 14:00-18:00"; "" or a
// missing key is closed that day. Errors are *Error with the day (or the
// unknown key) as Field. An all-closed week is valid here: the caller
// decides whether that is acceptable.
func ParseHours(spec map[string]string) (Hours, error) {
	var unknown []string
	for k := range spec {
		if !isDayKey(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown) // the same error every time for the same spec
		return Hours{}, &Error{Field: echoKey(unknown[0]),
			Reason: "unknown day; use mon, tue, wed, thu, fri, sat or sun"}
	}
	var h Hours
	for _, d := range calDays {
		ivs, err := parseDayHours(spec[d.key])
		if err != nil {
			return Hours{}, &Error{Field: d.key, Reason: err.Error()}
		}
		h[d.day] = ivs
	}
	return h, nil
}

func isDayKey(k string) bool {
	for _, d := range calDays {
		if d.key == k {
			return true
		}
	}
	return false
}

// parseDayHours reads one day's value; its errors are the Reason.
func parseDayHours(v string) ([]Interval, error) {
	if len(v) > maxHoursValue {
		return nil, fmt.Errorf("longer than %d bytes", maxHoursValue)
	}
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxDayIntervals {
		return nil, fmt.Errorf("more than %d intervals", maxDayIntervals)
	}
	ivs := make([]Interval, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, errors.New(`empty interval (a stray comma?); want "09:00-12:00, 14:00-18:00"`)
		}
		from, to, ok := strings.Cut(p, "-")
		if !ok {
			return nil, fmt.Errorf("interval %s: want HH:MM-HH:MM", strconv.Quote(p))
		}
		start, err := parseClock(strings.TrimSpace(from), false)
		if err != nil {
			return nil, fmt.Errorf("interval %s: start: %w", strconv.Quote(p), err)
		}
		end, err := parseClock(strings.TrimSpace(to), true)
		if err != nil {
			return nil, fmt.Errorf("interval %s: end: %w", strconv.Quote(p), err)
		}
		switch {
		case start == end:
			return nil, fmt.Errorf("interval %s: start is not before end (the interval is empty)", strconv.Quote(p))
		case start > end:
			return nil, fmt.Errorf("interval %s: start is not before end; overnight intervals are not supported, "+
				"split it at midnight (%s-24:00 on this day, 00:00-%s on the next)",
				strconv.Quote(p), formatClock(start), formatClock(end))
		}
		ivs = append(ivs, Interval{Start: start, End: end})
	}
	slices.SortFunc(ivs, func(a, b Interval) int { return a.Start - b.Start })
	for i := 1; i < len(ivs); i++ {
		a, b := ivs[i-1], ivs[i]
		switch {
		case a == b:
			return nil, fmt.Errorf("interval %s is listed twice", formatInterval(a))
		case b.Start < a.End:
			return nil, fmt.Errorf("intervals %s and %s overlap", formatInterval(a), formatInterval(b))
		}
	}
	return ivs, nil
}

// parseClock reads "HH:MM" (or "H:MM") as minutes after midnight. 24:00
// is the end of the day, so it is only an end.
func parseClock(s string, end bool) (int, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !calDigits(hs) || !calDigits(ms) {
		return 0, fmt.Errorf("malformed time %s; want HH:MM", strconv.Quote(s))
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	switch {
	case h > 24:
		return 0, fmt.Errorf("time %s: hour over 24", strconv.Quote(s))
	case m > 59:
		return 0, fmt.Errorf("time %s: minute over 59", strconv.Quote(s))
	case h == 24 && m != 0:
		return 0, fmt.Errorf("time %s: after 24:00", strconv.Quote(s))
	case h == 24 && !end:
		return 0, errors.New("24:00 is the end of the day, so only an end; a day starts at 00:00")
	}
	return h*60 + m, nil
}

// calDigits reports whether s is ASCII digits only (no sign, no spaces).
func calDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// echoKey is an unknown key made safe to show: short, printable.
func echoKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		if i >= maxHoursFieldEcho {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			r = '?'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return `""`
	}
	return b.String()
}

func formatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func formatInterval(iv Interval) string { return formatClock(iv.Start) + "-" + formatClock(iv.End) }

// Spec renders Hours back in ParseHours's form, for APIs and settings
// pages: every day is present, "" when closed.
func (h Hours) Spec() map[string]string {
	out := make(map[string]string, len(calDays))
	for _, d := range calDays {
		parts := make([]string, 0, len(h[d.day]))
		for _, iv := range h[d.day] {
			parts = append(parts, formatInterval(iv))
		}
		out[d.key] = strings.Join(parts, ", ")
	}
	return out
}

// Date is a civil date (no time zone), as holidays are: Christmas is the
// 25th wherever the office is.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "2026-12-25"; the date must exist (no 2026-02-30).
func ParseDate(s string) (Date, error) {
	bad := func(why string) (Date, error) {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return Date{}, &Error{Field: "date", Reason: fmt.Sprintf("%s %s", strconv.Quote(s), why)}
	}
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !calDigits(s[:4]) || !calDigits(s[5:7]) || !calDigits(s[8:]) {
		return bad("is not a date; want YYYY-MM-DD")
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	switch {
	case y < 1:
		return bad("has no year")
	case m < 1 || m > 12:
		return bad("has no such month")
	case d < 1 || d > calMonthDays(y, time.Month(m)):
		return bad("has no such day")
	}
	return Date{Year: y, Month: time.Month(m), Day: d}, nil
}

// String is the date as YYYY-MM-DD, as ParseDate reads it.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// DateOf is the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// next is the day after d.
func (d Date) next() Date {
	d.Day++
	if d.Day > calMonthDays(d.Year, d.Month) {
		d.Day = 1
		d.Month++
		if d.Month > time.December {
			d.Month = time.January
			d.Year++
		}
	}
	return d
}

// prev is the day before d.
func (d Date) prev() Date {
	d.Day--
	if d.Day < 1 {
		d.Month--
		if d.Month < time.January {
			d.Month = time.December
			d.Year--
		}
		d.Day = calMonthDays(d.Year, d.Month)
	}
	return d
}

func (d Date) after(e Date) bool {
	if d.Year != e.Year {
		return d.Year > e.Year
	}
	if d.Month != e.Month {
		return d.Month > e.Month
	}
	return d.Day > e.Day
}

func (d Date) weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func calMonthDays(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// Holidays is a list of closed dates with their names, as loaded from a
// file (examples/holidays has some).
type Holidays struct {
	Country string    `yaml:"country" json:"country"` // ISO 3166-1 alpha-2, upper case
	Days    []Holiday `yaml:"holidays" json:"holidays"`
}

// Holiday is one closed date in a holidays file.
type Holiday struct {
	Date string `yaml:"date" json:"date"` // YYYY-MM-DD
	Name string `yaml:"name" json:"name"`
}

// Closed is the holidays as a Calendar's Closed days. Dates that do not
// parse (a Holidays not from ParseHolidays) are left out.
func (h Holidays) Closed() map[Date]string {
	out := make(map[Date]string, len(h.Days))
	for _, d := range h.Days {
		if date, err := ParseDate(d.Date); err == nil {
			out[date] = d.Name
		}
	}
	return out
}

// Limits on a holidays file: a country's holidays for decades fit easily.
const (
	maxHolidaysBytes = 256 << 10
	maxHolidays      = 1000
	maxHolidayName   = 100 // characters
)

// ParseHolidays reads a holidays file, YAML or JSON, refusing unknown
// keys. Errors are *Error naming the field ("holidays[3].date"); problems
// with the document as a whole are on Field "document".
func ParseHolidays(src []byte) (Holidays, error) {
	if len(src) > maxHolidaysBytes {
		return Holidays{}, &Error{Field: "document", Reason: fmt.Sprintf("larger than %d KiB", maxHolidaysBytes>>10)}
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return Holidays{}, &Error{Field: "document", Reason: "empty"}
	}
	var h Holidays
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&h); errors.Is(err, io.EOF) {
		return Holidays{}, &Error{Field: "document", Reason: "empty"}
	} else if err != nil {
		return Holidays{}, &Error{Field: "document", Reason: yamlReason(err)}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return Holidays{}, &Error{Field: "document", Reason: "one document only (found a second after ---)"}
	}
	if h.Country == "" {
		return Holidays{}, &Error{Field: "country", Reason: "missing; want an ISO 3166-1 alpha-2 code such as FR"}
	}
	if len(h.Country) != 2 || !isUpperASCII(h.Country[0]) || !isUpperASCII(h.Country[1]) {
		return Holidays{}, &Error{Field: "country",
			Reason: fmt.Sprintf("%s is not an ISO 3166-1 alpha-2 code; want two upper-case letters such as FR", strconv.Quote(echoKey(h.Country)))}
	}
	if len(h.Days) > maxHolidays {
		return Holidays{}, &Error{Field: "holidays", Reason: fmt.Sprintf("more than %d days", maxHolidays)}
	}
	seen := make(map[Date]int, len(h.Days))
	for i, day := range h.Days {
		field := fmt.Sprintf("holidays[%d]", i)
		d, err := ParseDate(day.Date)
		if err != nil {
			return Holidays{}, &Error{Field: field + ".date", Reason: err.(*Error).Reason}
		}
		if j, dup := seen[d]; dup {
			return Holidays{}, &Error{Field: field + ".date", Reason: fmt.Sprintf("%s is listed twice (also holidays[%d])", d, j)}
		}
		seen[d] = i
		if n := utf8.RuneCountInString(day.Name); n > maxHolidayName {
			return Holidays{}, &Error{Field: field + ".name", Reason: fmt.Sprintf("longer than %d characters", maxHolidayName)}
		}
		if !utf8.ValidString(day.Name) || strings.ContainsFunc(day.Name, unicode.IsControl) || score.BadText(day.Name) {
			return Holidays{}, &Error{Field: field + ".name", Reason: "contains control or bidirectional-override characters, or invalid UTF-8"}
		}
	}
	return h, nil
}

func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }

// yamlReason is a decoder error as a reason: without the package prefix,
// and with the first problem only, so the message stays short.
func yamlReason(err error) string {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return strings.ReplaceAll(msg, "route.", "")
}

// Span is [From, To).
type Span struct{ From, To time.Time }

// Calendar is working time in a location: weekly hours, minus whole closed
// days, minus absences. It answers in business time for the SLA clock
// ("15 business minutes"), for the next opening and for booking slots.
// Times it returns are in Loc.
type Calendar struct {
	Loc      *time.Location
	Hours    Hours
	Closed   map[Date]string // whole days closed in Loc (holidays), name as value
	Absences []Span          // instants closed (an owner's leave), any order, may overlap
}

// calHorizon is how far ahead Next, Add and Spans look: a year, leap or
// not, so a yearly closure is never mistaken for a calendar that never opens.
const calHorizon = 366 * 24 * time.Hour

// Open reports whether t is in working time.
func (c *Calendar) Open(t time.Time) bool {
	w := c.walk(t, t)
	for s, ok := w.next(); ok; s, ok = w.next() {
		if s.To.After(t) {
			return !s.From.After(t)
		}
	}
	return false
}

// Next is the first open instant at or after t (t itself when open);
// ok=false when there is none within 366 days of t.
func (c *Calendar) Next(t time.Time) (at time.Time, ok bool) {
	return c.Add(t, 0)
}

// Add is the instant at which d of open time has passed, counting from t.
// If t is closed, counting starts at Next(t), so Add(t, 0) == Next(t); when
// d runs out exactly at a closing time, Add is that closing time. ok=false
// when it cannot be reached within 366 days of t (an empty week, say). A
// negative d counts as 0.
func (c *Calendar) Add(t time.Time, d time.Duration) (at time.Time, ok bool) {
	d = max(d, 0)
	limit := t.Add(calHorizon)
	w := c.walk(t, limit)
	for s, ok := w.next(); ok; s, ok = w.next() {
		if !s.To.After(t) {
			continue
		}
		from := s.From
		if from.Before(t) {
			from = t
		}
		if from.After(limit) {
			break
		}
		if n := s.To.Sub(from); d > n {
			d -= n
			continue
		}
		at = from.Add(d)
		if at.After(limit) {
			break
		}
		return at.In(w.loc), true
	}
	return time.Time{}, false
}

// Elapsed is the open time within [from, to); 0 when to <= from. It walks
// the days in between, so its cost grows with the length of the range.
func (c *Calendar) Elapsed(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	var sum time.Duration
	w := c.walk(from, to)
	for s, ok := w.next(); ok && s.From.Before(to); s, ok = w.next() {
		if a, b, in := clip(s, from, to); in {
			n := b.Sub(a)
			if sum > maxDuration-n {
				return maxDuration
			}
			sum += n
		}
	}
	return sum
}

const maxDuration = time.Duration(1<<63 - 1)

// clip is s within [from, to); in is false when nothing is left.
func clip(s Span, from, to time.Time) (a, b time.Time, in bool) {
	a, b = s.From, s.To
	if a.Before(from) {
		a = from
	}
	if b.After(to) {
		b = to
	}
	return a, b, a.Before(b)
}

// Spans are the open spans within [from, to), in order, adjacent and
// overlapping ones merged (12:00-14:00 and 14:00-18:00 make one span),
// clipped to [from, to). At most 366 days from from are looked at.
func (c *Calendar) Spans(from, to time.Time) []Span {
	if limit := from.Add(calHorizon); to.After(limit) {
		to = limit
	}
	if !to.After(from) {
		return nil
	}
	var out []Span
	w := c.walk(from, to)
	for s, ok := w.next(); ok && s.From.Before(to); s, ok = w.next() {
		a, b, in := clip(s, from, to)
		if !in {
			continue
		}
		a, b = a.In(w.loc), b.In(w.loc)
		if n := len(out); n > 0 && !a.After(out[n-1].To) {
			if b.After(out[n-1].To) {
				out[n-1].To = b
			}
			continue
		}
		out = append(out, Span{From: a, To: b})
	}
	return out
}

// spanWalker yields a calendar's open spans in order, one local day at a
// time: each day's intervals become instants with time.Date in the
// location (so a day the clocks change has its real length), closed days
// are skipped and absences cut out. Spans never overlap, even in zones
// whose odd transitions make time.Date fold two wall times onto one instant.
type spanWalker struct {
	c    *Calendar
	loc  *time.Location
	abs  []Span // absences, sorted and merged
	ai   int    // first absence that can still cut a span
	day  Date   // next day to expand
	wd   time.Weekday
	last Date // last day to expand
	raw  []Span
	out  []Span // the expanded day's spans not yet yielded
	oi   int
	end  time.Time // end of the latest span expanded; later ones start no earlier
}

// walk yields the spans that can touch [from, until]. It starts the day
// before from's: an interval ending at 24:00 belongs to the day before.
func (c *Calendar) walk(from, until time.Time) spanWalker {
	loc := c.Loc
	if loc == nil {
		loc = time.UTC
	}
	day := DateOf(from.In(loc)).prev()
	w := spanWalker{c: c, loc: loc, day: day, wd: day.weekday(), last: DateOf(until.In(loc)).next()}
	if len(c.Absences) > 0 {
		w.abs = mergeSpans(c.Absences, nil)
	}
	return w
}

// mergeSpans sorts the non-empty spans keep accepts (all, if nil) and
// merges the ones that overlap or touch, in a new slice.
func mergeSpans(in []Span, keep func(Span) bool) []Span {
	count := 0
	for _, x := range in {
		if x.From.Before(x.To) && (keep == nil || keep(x)) {
			count++
		}
	}
	spans := make([]Span, 0, count) // sized first: growing it cost more than the sort
	for _, x := range in {
		if x.From.Before(x.To) && (keep == nil || keep(x)) {
			spans = append(spans, x)
		}
	}
	slices.SortFunc(spans, func(a, b Span) int { return a.From.Compare(b.From) })
	out := spans[:0]
	for _, x := range spans {
		if n := len(out); n > 0 && !x.From.After(out[n-1].To) {
			if x.To.After(out[n-1].To) {
				out[n-1].To = x.To
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// next is the next open span; false when the last day has been expanded.
func (w *spanWalker) next() (Span, bool) {
	for w.oi >= len(w.out) {
		if w.day.after(w.last) {
			return Span{}, false
		}
		w.expand()
	}
	s := w.out[w.oi]
	w.oi++
	return s, true
}

// expand turns the next day into spans.
func (w *spanWalker) expand() {
	day, wd := w.day, w.wd
	w.day, w.wd = day.next(), (wd+1)%7
	w.out, w.oi = w.out[:0], 0
	ivs := w.c.Hours[wd]
	if len(ivs) == 0 {
		return
	}
	if _, closed := w.c.Closed[day]; closed {
		return
	}
	w.raw = w.raw[:0]
	for _, iv := range ivs {
		s, e := max(iv.Start, 0), min(iv.End, 1440)
		if s >= e {
			continue
		}
		a := time.Date(day.Year, day.Month, day.Day, s/60, s%60, 0, 0, w.loc)
		b := time.Date(day.Year, day.Month, day.Day, e/60, e%60, 0, 0, w.loc) // 24:00 is the next midnight
		if a.Before(b) {
			w.raw = append(w.raw, Span{From: a, To: b})
		}
	}
	if !slices.IsSortedFunc(w.raw, func(a, b Span) int { return a.From.Compare(b.From) }) {
		slices.SortFunc(w.raw, func(a, b Span) int { return a.From.Compare(b.From) })
	}
	for _, r := range w.raw {
		if r.From.Before(w.end) {
			r.From = w.end
		}
		if !r.From.Before(r.To) {
			continue
		}
		w.end = r.To
		w.cut(r)
	}
}

// cut appends what is left of r once the absences are taken out. Spans
// come in order, so absences that end before r are never looked at again.
func (w *spanWalker) cut(r Span) {
	for w.ai < len(w.abs) && !w.abs[w.ai].To.After(r.From) {
		w.ai++
	}
	a := r.From
	for _, x := range w.abs[w.ai:] {
		if !x.From.Before(r.To) {
			break
		}
		if x.From.After(a) {
			w.out = append(w.out, Span{From: a, To: x.From})
		}
		if x.To.After(a) {
			a = x.To
		}
	}
	if a.Before(r.To) {
		w.out = append(w.out, Span{From: a, To: r.To})
	}
}
