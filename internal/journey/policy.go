package journey

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// Limit is at most PerDay messages in any 24 hours and PerWeek in any 7
// days.
type Limit struct {
	PerDay  int `json:"per_day,omitempty" yaml:"per_day,omitempty"`
	PerWeek int `json:"per_week,omitempty" yaml:"per_week,omitempty"`
}

// Cap is the frequency cap on marketing messages: PerDay and PerWeek
// across journeys and channels (zero fields take the defaults, 1 and 4:
// sequence A alone fits), and within that, optional limits per channel
// (a zero field there adds no limit). Transactional messages, tasks and
// webhooks are not counted and never held back.
type Cap struct {
	PerDay   int              `json:"per_day,omitempty" yaml:"per_day,omitempty"`
	PerWeek  int              `json:"per_week,omitempty" yaml:"per_week,omitempty"`
	Channels map[string]Limit `json:"channels,omitempty" yaml:"channels,omitempty"`
}

// DefaultCap is the cap when nothing else is configured.
var DefaultCap = Cap{PerDay: 1, PerWeek: 4}

// CapChannels are the channels a cap can limit: those that carry
// marketing to the contact.
var CapChannels = []string{"email", "sms", "whatsapp"}

// MaxCapPerWeek bounds the limits (a cap above it caps nothing).
const MaxCapPerWeek = 1000

// CapError is a fault in a cap: the field and why.
type CapError struct{ Field, Reason string }

func (e *CapError) Error() string { return e.Field + ": " + e.Reason }

// Effective is the cap with the defaults filled in.
func (c Cap) Effective() Cap {
	if c.PerDay <= 0 {
		c.PerDay = DefaultCap.PerDay
	}
	if c.PerWeek <= 0 {
		c.PerWeek = DefaultCap.PerWeek
	}
	return c
}

// Validate checks a cap: limits within 0..MaxCapPerWeek, no more a day
// than a week, known channels, and no channel limit above the cap across
// channels (it would never apply: a sign the cap is not what was meant).
func (c Cap) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &CapError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	check := func(prefix string, l Limit) error {
		switch {
		case l.PerDay < 0 || l.PerDay > MaxCapPerWeek:
			return bad(prefix+"per_day", "must be between 0 and %d", MaxCapPerWeek)
		case l.PerWeek < 0 || l.PerWeek > MaxCapPerWeek:
			return bad(prefix+"per_week", "must be between 0 and %d", MaxCapPerWeek)
		case l.PerDay > 0 && l.PerWeek > 0 && l.PerDay > l.PerWeek:
			return bad(prefix+"per_day", "%d a day is more than the %d a week allowed", l.PerDay, l.PerWeek)
		}
		return nil
	}
	if err := check("", Limit{c.PerDay, c.PerWeek}); err != nil {
		return err
	}
	all := c.Effective()
	if all.PerDay > all.PerWeek {
		return bad("per_day", "%d a day is more than the %d a week allowed", all.PerDay, all.PerWeek)
	}
	for _, ch := range slices.Sorted(maps.Keys(c.Channels)) {
		l := c.Channels[ch]
		prefix := "channels." + ch + "."
		if !slices.Contains(CapChannels, ch) {
			return bad("channels."+ch, "unknown channel; a cap can limit %v", CapChannels)
		}
		if err := check(prefix, l); err != nil {
			return err
		}
		if l.PerDay > all.PerDay {
			return bad(prefix+"per_day", "%d is above the %d a day across channels, so it would never apply", l.PerDay, all.PerDay)
		}
		if l.PerWeek > all.PerWeek {
			return bad(prefix+"per_week", "%d is above the %d a week across channels, so it would never apply", l.PerWeek, all.PerWeek)
		}
	}
	return nil
}

// Sent is a marketing message queued for a contact: when it goes, on
// which channel.
type Sent struct {
	At      time.Time
	Channel string
}

// Deferral reasons.
const (
	DeferDayCap         = "frequency_cap_day"
	DeferWeekCap        = "frequency_cap_week"
	DeferChannelDayCap  = "channel_cap_day"
	DeferChannelWeekCap = "channel_cap_week"
	DeferQuiet          = "quiet_hours"
)

// window counts the messages in the 24 hours and the 7 days before a
// time, and the oldest of each.
type window struct {
	day, week             int
	oldestDay, oldestWeek time.Time
}

func (w *window) add(t, m time.Time) {
	if t.Sub(m) < 24*time.Hour {
		w.day++
		if w.oldestDay.IsZero() || m.Before(w.oldestDay) {
			w.oldestDay = m
		}
	}
	if t.Sub(m) < 7*24*time.Hour {
		w.week++
		if w.oldestWeek.IsZero() || m.Before(w.oldestWeek) {
			w.oldestWeek = m
		}
	}
}

// next is the first time at or after t when one more message on channel
// keeps within the cap, given those already queued; reason says which
// limit held it back ("" when t itself is fine).
func (c Cap) next(t time.Time, channel string, recent []Sent) (time.Time, string) {
	c = c.Effective()
	ch := c.Channels[channel]
	reason := ""
	for range 64 {
		var all, on window
		for _, m := range recent {
			if m.At.After(t) {
				continue
			}
			all.add(t, m.At)
			if m.Channel == channel {
				on.add(t, m.At)
			}
		}
		switch {
		case all.day >= c.PerDay:
			t, reason = all.oldestDay.Add(24*time.Hour), DeferDayCap
		case all.week >= c.PerWeek:
			t, reason = all.oldestWeek.Add(7*24*time.Hour), DeferWeekCap
		case ch.PerDay > 0 && on.day >= ch.PerDay:
			t, reason = on.oldestDay.Add(24*time.Hour), DeferChannelDayCap
		case ch.PerWeek > 0 && on.week >= ch.PerWeek:
			t, reason = on.oldestWeek.Add(7*24*time.Hour), DeferChannelWeekCap
		default:
			return t, reason
		}
	}
	return t, reason
}

// quiet is a daily window of minutes [start, end) in which marketing
// waits, overnight when start > end, plus weekends when set.
type quiet struct {
	start, end int
	weekends   bool
	off        bool
}

// defaultQuiet is 21:00 to 08:00, weekends allowed (DOMAIN, and the issue).
var defaultQuiet = quiet{start: 21 * 60, end: 8 * 60}

// next is the first time at or after t outside the window, in loc.
func (q quiet) next(t time.Time, loc *time.Location) time.Time {
	if q.off {
		return t
	}
	for range 10 {
		lt := t.In(loc)
		m := lt.Hour()*60 + lt.Minute()
		in := false
		if q.start < q.end {
			in = m >= q.start && m < q.end
		} else {
			in = m >= q.start || m < q.end
		}
		wd := lt.Weekday()
		if q.weekends && (wd == time.Saturday || wd == time.Sunday) {
			// To the end of the quiet window on Monday morning.
			days := 1
			if wd == time.Saturday {
				days = 2
			}
			t = atMinute(lt.AddDate(0, 0, days), q.end, loc)
			continue
		}
		if !in {
			return t
		}
		end := atMinute(lt, q.end, loc)
		if !end.After(t) {
			end = atMinute(lt.AddDate(0, 0, 1), q.end, loc)
		}
		t = end
	}
	return t
}

// atMinute is the day of t (in loc) at minute m after midnight.
func atMinute(t time.Time, m int, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), m/60, m%60, 0, 0, loc)
}

// slot is when a marketing message may go: not before now, within the cap,
// outside quiet hours; reason is what held it back.
func (j *Journey) slot(now time.Time, in Input, channel string, recent []Sent) (time.Time, string) {
	loc := j.location(in.Contact)
	t, reason := now, ""
	for range 16 {
		t1, r1 := in.Cap.next(t, channel, recent)
		t2 := j.quiet.next(t1, loc)
		if r1 != "" && reason == "" {
			reason = r1
		}
		if t2.After(t1) && reason == "" {
			reason = DeferQuiet
		}
		if t2.Equal(t) {
			return t, reason
		}
		t = t2
	}
	return t, reason
}

// location is the contact's time zone, or the journey's.
func (j *Journey) location(c *contact.Contact) *time.Location {
	if c != nil && c.TimeZone != "" {
		if loc, err := loadLocation(c.TimeZone); err == nil {
			return loc
		}
	}
	return j.tz
}

// waitUntil is when a wait step ends, entered at now.
func (j *Journey) waitUntil(s *step, now time.Time, c *contact.Contact) time.Time {
	t := now.Add(time.Duration(s.Wait.For))
	if s.untilMin < 0 {
		return t
	}
	loc := j.location(c)
	for d := 0; d < 8; d++ {
		cand := atMinute(t.In(loc).AddDate(0, 0, d), s.untilMin, loc)
		if cand.Before(t) {
			continue
		}
		if len(s.days) == 0 || containsDay(s.days, cand.Weekday()) {
			return cand
		}
	}
	return t
}

func containsDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// locations caches time zones by name: loading one reads the zone database.
var locations sync.Map

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// DateDue reports whether a date trigger falls for the contact in
// (from, to], value being its date field (YYYY-MM-DD, or a timestamp
// whose first ten characters are that).
func (j *Journey) DateDue(c *contact.Contact, value string, from, to time.Time) bool {
	d := j.Doc.Trigger.Date
	if d == nil || len(value) < 10 {
		return false
	}
	day, err := time.Parse(time.DateOnly, value[:10])
	if err != nil {
		return false
	}
	loc := j.location(c)
	days := int(j.dateOffset / (24 * time.Hour))
	rest := j.dateOffset % (24 * time.Hour)
	years := []int{day.Year()}
	if d.Yearly {
		years = years[:0]
		for y := from.Year() - 1; y <= to.Year()+1; y++ {
			years = append(years, y)
		}
	}
	for _, y := range years {
		fire := time.Date(y, day.Month(), day.Day()+days, 0, j.dateAt, 0, 0, loc).Add(rest)
		if fire.After(from) && !fire.After(to) {
			return true
		}
	}
	return false
}

// DateWindow is the range of dates (YYYY-MM-DD) whose trigger may fall in
// (from, to]: a day either side covers time zones and the time of day.
func (j *Journey) DateWindow(from, to time.Time) (lo, hi string) {
	return from.Add(-j.dateOffset).AddDate(0, 0, -2).Format(time.DateOnly), to.Add(-j.dateOffset).AddDate(0, 0, 2).Format(time.DateOnly)
}
