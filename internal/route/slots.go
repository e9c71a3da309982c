package route

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// Booking is how a booking page cuts a calendar into slots.
type Booking struct {
	Length  time.Duration // meeting length, 15m..4h, whole minutes
	Buffer  time.Duration // free time kept before and after every meeting, 0..2h
	Notice  time.Duration // earliest slot is at least this far from now, 0..14 days
	Horizon time.Duration // latest slot starts before now + Horizon, 1..90 days, longer than Notice
	Step    time.Duration // slot starts every Step (0 → Length), 5m..4h, divides an hour or is a multiple of it
}

// DefaultBooking is a half-hour call: 10 minutes kept free either side,
// bookable from two hours to two weeks ahead, starts every 30 minutes.
var DefaultBooking = Booking{
	Length:  30 * time.Minute,
	Buffer:  10 * time.Minute,
	Notice:  2 * time.Hour,
	Horizon: 14 * bookingDay,
}

// Limits on a Booking: wide enough for any sales call, narrow enough that a
// public page never walks more than a season of days.
const (
	bookingDay        = 24 * time.Hour
	bookingMinLength  = 15 * time.Minute
	bookingMaxLength  = 4 * time.Hour
	bookingMaxBuffer  = 2 * time.Hour
	bookingMaxNotice  = 14 * bookingDay
	bookingMinHorizon = bookingDay
	bookingMaxHorizon = 90 * bookingDay
	bookingMinStep    = 5 * time.Minute
	bookingMaxStep    = 4 * time.Hour
)

// Validate reports the first setting out of bounds as an *Error whose Field
// is "length", "buffer", "notice", "horizon" or "step". Length and Step are
// whole minutes because slots sit on a wall-clock grid of minutes.
func (b Booking) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case b.Length < bookingMinLength || b.Length > bookingMaxLength:
		return bad("length", "%s is out of range; want 15m to 4h", shortDuration(b.Length))
	case b.Length%time.Minute != 0:
		return bad("length", "%s is not whole minutes", shortDuration(b.Length))
	case b.Buffer < 0 || b.Buffer > bookingMaxBuffer:
		return bad("buffer", "%s is out of range; want 0 to 2h", shortDuration(b.Buffer))
	case b.Notice < 0 || b.Notice > bookingMaxNotice:
		return bad("notice", "%s is out of range; want 0 to 14 days", shortDuration(b.Notice))
	case b.Horizon < bookingMinHorizon || b.Horizon > bookingMaxHorizon:
		return bad("horizon", "%s is out of range; want 1 to 90 days", shortDuration(b.Horizon))
	case b.Horizon <= b.Notice:
		return bad("horizon", "%s is not longer than the notice (%s), so no slot could ever be offered",
			shortDuration(b.Horizon), shortDuration(b.Notice))
	case b.Step == 0:
		return nil
	case b.Step < bookingMinStep || b.Step > bookingMaxStep:
		return bad("step", "%s is out of range; want 5m to 4h, or 0 for the meeting length", shortDuration(b.Step))
	case b.Step%time.Minute != 0:
		return bad("step", "%s is not whole minutes", shortDuration(b.Step))
	case time.Hour%b.Step != 0 && b.Step%time.Hour != 0:
		return bad("step", "%s neither divides an hour nor is whole hours; want 5m, 10m, 15m, 20m, 30m, 1h, 2h…",
			shortDuration(b.Step))
	}
	return nil
}

// shortDuration is d as people write it: "30m", "2h", "1h30m", "336h".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func (b Booking) step() time.Duration {
	if b.Step == 0 {
		return b.Length
	}
	return b.Step
}

// Slots lists the free slot starts in [from, to), clamped to
// [now+Notice, now+Horizon), in order, at most max of them (none when max
// <= 0 or b is not valid).
//
// A start is on the grid of its day: every Step in wall-clock time from the
// start of each of the day's openings (adjacent intervals count as one
// opening), so a 30-minute grid is 09:00, 09:30 … whatever the offset from
// UTC that day. Neither the notice nor an absence shifts the grid: with
// notice reaching 10:07, the first slot is 10:30. A wall time that does not
// exist (skipped by a clock change) is no start; one that happens twice
// is a start once, at the instant time.Date gives.
//
// The slot [s, s+Length) is free when it lies inside one open span of cal
// (within working hours, across no break, closed day or absence) and
// [s-Buffer, s+Length+Buffer) overlaps no busy span. busy may be in any
// order, overlap, and reach outside the range; it is left unchanged.
//
// The cost is a sort of busy plus one pass over the grid of the days that
// have open time.
func (b Booking) Slots(cal Calendar, busy []Span, now, from, to time.Time, max int) []time.Time {
	if max <= 0 || b.Validate() != nil {
		return nil
	}
	lo, hi := from, to
	if first := now.Add(b.Notice); lo.Before(first) {
		lo = first
	}
	if last := now.Add(b.Horizon); hi.After(last) {
		hi = last
	}
	if !lo.Before(hi) {
		return nil
	}
	open := cal.Spans(lo, hi.Add(b.Length))
	if len(open) == 0 {
		return nil
	}
	taken := takenSpans(busy, lo.Add(-b.Buffer), hi.Add(b.Length+b.Buffer))
	g := newGrid(&cal, b.step())

	out := make([]time.Time, 0, min(max, 64))
	si, bi := 0, 0 // the first open span and the first busy span that can still matter
	var prev time.Time
	lastDay := DateOf(hi.In(g.loc))
	for day := DateOf(lo.In(g.loc)); !day.after(lastDay); day = day.next() {
		// Days with no open time cost nothing: a closed week, a long leave.
		if d := DateOf(open[si].From.In(g.loc)); d.after(day) {
			if day = d; day.after(lastDay) {
				break
			}
		}
		if _, closed := cal.Closed[day]; closed {
			continue
		}
		for s := range g.starts(day) {
			// Starts come in order of wall time, which is the order of
			// instants in every real zone; were it not, the sweep below
			// would be wrong, so a start that goes back is dropped.
			if !s.After(prev) {
				continue
			}
			prev = s
			if s.Before(lo) {
				continue
			}
			if !s.Before(hi) {
				return out
			}
			end := s.Add(b.Length)
			for si < len(open) && !open[si].To.After(s) {
				si++
			}
			if si == len(open) {
				return out
			}
			if s.Before(open[si].From) || end.After(open[si].To) {
				continue
			}
			for bi < len(taken) && !taken[bi].To.After(s.Add(-b.Buffer)) {
				bi++
			}
			if bi < len(taken) && taken[bi].From.Before(end.Add(b.Buffer)) {
				continue
			}
			out = append(out, s)
			if len(out) == max {
				return out
			}
		}
	}
	return out
}

// Free reports whether start is a bookable slot now, by the rules of Slots:
// on the grid, inside working hours, within notice and horizon, and clear
// of busy, buffer included. It is what the booking transaction asks, under
// its lock, before it takes a slot; its cost is one pass over busy.
func (b Booking) Free(cal Calendar, busy []Span, now, start time.Time) bool {
	if b.Validate() != nil || start.Before(now.Add(b.Notice)) || !start.Before(now.Add(b.Horizon)) {
		return false
	}
	g := newGrid(&cal, b.step())
	if !g.on(start) {
		return false
	}
	end := start.Add(b.Length)
	// Spans merges what touches, so one span exactly the slot means the
	// whole meeting is open time.
	if open := cal.Spans(start, end); len(open) != 1 || !open[0].From.Equal(start) || !open[0].To.Equal(end) {
		return false
	}
	from, to := start.Add(-b.Buffer), end.Add(b.Buffer)
	for _, x := range busy {
		if x.From.Before(x.To) && x.From.Before(to) && x.To.After(from) {
			return false
		}
	}
	return true
}

// takenSpans are the busy spans that touch [from, to), sorted, overlapping
// and touching ones merged, in a new slice.
func takenSpans(busy []Span, from, to time.Time) []Span {
	return mergeSpans(busy, func(x Span) bool { return x.From.Before(to) && x.To.After(from) })
}

// grid is where slots may start: every step minutes of wall time from the
// start of each opening of the day.
type grid struct {
	loc   *time.Location
	step  int           // minutes
	opens [7][]Interval // each weekday's openings, sorted, adjacent intervals joined
}

func newGrid(c *Calendar, step time.Duration) *grid {
	g := &grid{loc: c.Loc, step: int(step / time.Minute)}
	if g.loc == nil {
		g.loc = time.UTC // as the calendar's walker does
	}
	for wd, ivs := range c.Hours {
		g.opens[wd] = openings(ivs)
	}
	return g
}

// openings are a day's intervals clipped to the day, sorted, and joined
// where they overlap or touch, as Calendar.Spans joins them.
func openings(ivs []Interval) []Interval {
	var out []Interval
	for _, iv := range ivs {
		if s, e := max(iv.Start, 0), min(iv.End, 1440); s < e {
			out = append(out, Interval{Start: s, End: e})
		}
	}
	slices.SortFunc(out, func(a, b Interval) int { return a.Start - b.Start })
	joined := out[:0]
	for _, iv := range out {
		if n := len(joined); n > 0 && iv.Start <= joined[n-1].End {
			joined[n-1].End = max(joined[n-1].End, iv.End)
			continue
		}
		joined = append(joined, iv)
	}
	return joined
}

// starts yields the grid's instants on day, in order of wall time,
// leaving out wall times the clocks skip.
func (g *grid) starts(day Date) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for _, iv := range g.opens[day.weekday()] {
			for m := iv.Start; m < iv.End; m += g.step {
				t := time.Date(day.Year, day.Month, day.Day, m/60, m%60, 0, 0, g.loc)
				if h, mi, _ := t.Clock(); h != m/60 || mi != m%60 {
					continue // in a gap: time.Date moved it to another wall time
				}
				if !yield(t) {
					return
				}
			}
		}
	}
}

// on reports whether t is one of the instants starts yields.
func (g *grid) on(t time.Time) bool {
	lt := t.In(g.loc)
	h, m, sec := lt.Clock()
	if sec != 0 || lt.Nanosecond() != 0 {
		return false
	}
	wall := h*60 + m
	for _, iv := range g.opens[lt.Weekday()] {
		if iv.Start <= wall && wall < iv.End {
			y, mo, d := lt.Date()
			// time.Date picks one instant of a wall time that happens twice;
			// only that one is on the grid.
			return (wall-iv.Start)%g.step == 0 && time.Date(y, mo, d, h, m, 0, 0, g.loc).Equal(t)
		}
	}
	return false
}
