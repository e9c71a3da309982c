package route_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/route"
)

const slotDay = 24 * time.Hour

// span is [from, to) in loc, both written "2026-06-01 10:00".
func span(t testing.TB, loc *time.Location, from, to string) route.Span {
	t.Helper()
	return route.Span{From: calAt(t, loc, from), To: calAt(t, loc, to)}
}

// clocks are the slots' wall times in loc, in layout.
func clocks(slots []time.Time, loc *time.Location, layout string) []string {
	out := make([]string, 0, len(slots))
	for _, s := range slots {
		out = append(out, s.In(loc).Format(layout))
	}
	return out
}

func TestBookingValidate(t *testing.T) {
	t.Parallel()
	valid := []route.Booking{
		route.DefaultBooking,
		{Length: 15 * time.Minute, Horizon: slotDay, Step: 5 * time.Minute},
		{Length: 4 * time.Hour, Buffer: 2 * time.Hour, Notice: 14 * slotDay, Horizon: 90 * slotDay, Step: 4 * time.Hour},
		{Length: 45 * time.Minute, Horizon: slotDay}, // a 45-minute grid is fine when it is the length
		{Length: 30 * time.Minute, Horizon: slotDay, Step: 6 * time.Minute},
		{Length: 30 * time.Minute, Horizon: slotDay, Step: 3 * time.Hour},
	}
	for _, b := range valid {
		if err := b.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v; want nil", b, err)
		}
	}

	ok := route.DefaultBooking
	with := func(f func(*route.Booking)) route.Booking {
		b := ok
		f(&b)
		return b
	}
	tests := []struct {
		name  string
		b     route.Booking
		field string
	}{
		{"no length", with(func(b *route.Booking) { b.Length = 0 }), "length"},
		{"length too short", with(func(b *route.Booking) { b.Length = 10 * time.Minute }), "length"},
		{"length too long", with(func(b *route.Booking) { b.Length = 4*time.Hour + time.Minute }), "length"},
		{"length not whole minutes", with(func(b *route.Booking) { b.Length = 30*time.Minute + 30*time.Second }), "length"},
		{"negative buffer", with(func(b *route.Booking) { b.Buffer = -time.Minute }), "buffer"},
		{"buffer too long", with(func(b *route.Booking) { b.Buffer = 2*time.Hour + time.Minute }), "buffer"},
		{"negative notice", with(func(b *route.Booking) { b.Notice = -time.Second }), "notice"},
		{"notice too long", with(func(b *route.Booking) { b.Notice = 15 * slotDay }), "notice"},
		{"no horizon", with(func(b *route.Booking) { b.Horizon = 0 }), "horizon"},
		{"horizon under a day", with(func(b *route.Booking) { b.Horizon = 23 * time.Hour }), "horizon"},
		{"horizon too far", with(func(b *route.Booking) { b.Horizon = 91 * slotDay }), "horizon"},
		{"horizon within notice", with(func(b *route.Booking) { b.Notice, b.Horizon = 14*slotDay, 14*slotDay }), "horizon"},
		{"negative step", with(func(b *route.Booking) { b.Step = -5 * time.Minute }), "step"},
		{"step too short", with(func(b *route.Booking) { b.Step = 4 * time.Minute }), "step"},
		{"step too long", with(func(b *route.Booking) { b.Step = 5 * time.Hour }), "step"},
		{"step not whole minutes", with(func(b *route.Booking) { b.Step = 7*time.Minute + 30*time.Second }), "step"},
		{"step 7m", with(func(b *route.Booking) { b.Step = 7 * time.Minute }), "step"},
		{"step 45m", with(func(b *route.Booking) { b.Step = 45 * time.Minute }), "step"},
		{"step 90m", with(func(b *route.Booking) { b.Step = 90 * time.Minute }), "step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.b.Validate()
			var re *route.Error
			if !errors.As(err, &re) {
				t.Fatalf("Validate() = %v; want a *route.Error on %q", err, tt.field)
			}
			if re.Field != tt.field || re.Reason == "" {
				t.Errorf("Validate() = %q; want field %q and a reason", err, tt.field)
			}
			if got := tt.b.Slots(*lunch(t), nil, time.Now(), time.Now(), time.Now().Add(30*slotDay), 100); got != nil {
				t.Errorf("Slots with an invalid booking = %v; want none", got)
			}
		})
	}
	if err := with(func(b *route.Booking) { b.Step = 45 * time.Minute }).Validate(); !strings.Contains(err.Error(), "45m") {
		t.Errorf("Validate() = %q; want the step as written, 45m", err)
	}
}

func TestSlotsDay(t *testing.T) {
	t.Parallel()
	const lunchHours = "09:00-12:00, 14:00-18:00"
	afternoon := []string{"14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00", "17:30"}
	noBuffer := route.DefaultBooking
	noBuffer.Buffer = 0
	tests := []struct {
		name  string
		hours string // Mon–Fri
		b     route.Booking
		busy  [][2]string
		want  []string
	}{
		{"meeting at 10:00 takes 09:30 and 10:30 with the buffer", lunchHours, route.DefaultBooking,
			[][2]string{{"2026-06-01 10:00", "2026-06-01 10:30"}, {"2026-06-02 09:00", "2026-06-02 10:00"}, {"2026-05-31 20:00", "2026-05-31 21:00"}},
			append([]string{"09:00", "11:00", "11:30"}, afternoon...)},
		{"meeting at 10:00 without a buffer", lunchHours, noBuffer,
			[][2]string{{"2026-06-01 10:00", "2026-06-01 10:30"}},
			append([]string{"09:00", "09:30", "10:30", "11:00", "11:30"}, afternoon...)},
		{"busy unsorted, overlapping, and before the opening", lunchHours, route.DefaultBooking,
			[][2]string{
				{"2026-06-01 11:15", "2026-06-01 11:45"}, {"2026-06-01 14:50", "2026-06-01 15:00"},
				{"2026-06-01 11:00", "2026-06-01 11:20"}, {"2026-06-01 08:00", "2026-06-01 08:55"},
				{"2026-06-01 16:00", "2026-06-01 16:00"}, // empty: takes nothing
			},
			[]string{"09:30", "10:00", "14:00", "15:30", "16:00", "16:30", "17:00", "17:30"}},
		{"no slot across 12:00 or 18:00", lunchHours, route.Booking{Length: 45 * time.Minute, Horizon: slotDay * 14, Step: 30 * time.Minute}, nil,
			[]string{"09:00", "09:30", "10:00", "10:30", "11:00", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"}},
		{"step defaults to the length", lunchHours, route.Booking{Length: 45 * time.Minute, Horizon: slotDay * 14}, nil,
			[]string{"09:00", "09:45", "10:30", "11:15", "14:00", "14:45", "15:30", "16:15", "17:00"}},
		{"adjacent intervals are one opening", "09:00-12:00, 12:00-13:00", route.Booking{Length: time.Hour, Horizon: 14 * slotDay, Step: 30 * time.Minute}, nil,
			[]string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00"}},
		{"the grid starts at the opening", "09:10-12:00", route.DefaultBooking, nil,
			[]string{"09:10", "09:40", "10:10", "10:40", "11:10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cal := route.Calendar{Loc: calParis, Hours: mustHours(t, weekdays(tt.hours))}
			var busy []route.Span
			for _, b := range tt.busy {
				busy = append(busy, span(t, calParis, b[0], b[1]))
			}
			kept := slices.Clone(busy)
			now := calAt(t, calParis, "2026-05-29 12:00")
			from, to := calAt(t, calParis, "2026-06-01 00:00"), calAt(t, calParis, "2026-06-02 00:00")
			got := tt.b.Slots(cal, busy, now, from, to, 100)
			if g := clocks(got, calParis, "15:04"); !slices.Equal(g, tt.want) {
				t.Errorf("Slots = %v;\nwant %v", g, tt.want)
			}
			if !slices.Equal(busy, kept) {
				t.Errorf("Slots reordered busy: %v", busy)
			}
			for _, s := range got {
				if s.Location() != calParis {
					t.Errorf("slot %s is in %v; want the calendar's zone", s, s.Location())
				}
				if !tt.b.Free(cal, busy, now, s) {
					t.Errorf("Free(%s) = false; want true for a listed slot", s.Format("15:04"))
				}
			}
		})
	}
}

func TestSlotsClosed(t *testing.T) {
	t.Parallel()
	cal := *lunch(t)
	cal.Closed = map[route.Date]string{mustDate(t, "2026-07-14"): "Bastille Day"}
	cal.Absences = []route.Span{
		span(t, calParis, "2026-06-03 00:00", "2026-06-04 12:00"), // leave, Wednesday and Thursday morning
		span(t, calParis, "2026-06-01 10:00", "2026-06-01 11:17"), // dentist
	}
	b := route.DefaultBooking
	b.Horizon = 60 * slotDay
	now := calAt(t, calParis, "2026-05-29 12:00")
	perDay := func(from, to string) map[string]int {
		n := map[string]int{}
		for _, d := range clocks(b.Slots(cal, nil, now, calAt(t, calParis, from), calAt(t, calParis, to), 1000), calParis, "2006-01-02") {
			n[d]++
		}
		return n
	}

	if got := perDay("2026-06-06 00:00", "2026-06-08 00:00"); len(got) != 0 {
		t.Errorf("weekend slots = %v; want none", got)
	}
	if got, want := perDay("2026-07-13 00:00", "2026-07-16 00:00"), map[string]int{"2026-07-13": 14, "2026-07-15": 14}; !maps.Equal(got, want) {
		t.Errorf("slots around a holiday = %v; want %v", got, want)
	}
	if got, want := perDay("2026-06-01 00:00", "2026-06-06 00:00"),
		map[string]int{"2026-06-01": 11, "2026-06-02": 14, "2026-06-04": 8, "2026-06-05": 14}; !maps.Equal(got, want) {
		t.Errorf("slots in a week with absences = %v; want %v", got, want)
	}
	monday := b.Slots(cal, nil, now, calAt(t, calParis, "2026-06-01 00:00"), calAt(t, calParis, "2026-06-01 12:00"), 100)
	// The absence ends at 11:17; the grid stays on the half hours.
	if got, want := clocks(monday, calParis, "15:04"), []string{"09:00", "09:30", "11:30"}; !slices.Equal(got, want) {
		t.Errorf("Monday morning = %v; want %v", got, want)
	}
	for _, at := range []string{"2026-06-06 10:00", "2026-07-14 10:00", "2026-06-03 10:00", "2026-06-01 10:30", "2026-06-01 11:17"} {
		if b.Free(cal, nil, now, calAt(t, calParis, at)) {
			t.Errorf("Free(%s) = true; want false (closed)", at)
		}
	}
}

func TestSlotsNoticeHorizon(t *testing.T) {
	t.Parallel()
	cal := *lunch(t)
	b := route.DefaultBooking
	now := calAt(t, calParis, "2026-06-01 08:07")

	all := b.Slots(cal, nil, now, now.Add(-2*slotDay), now.Add(60*slotDay), 1000)
	// Notice reaches 10:07: the next start on the grid is 10:30. The horizon
	// ends Monday 15 June 08:07, before that day opens.
	if len(all) != 137 {
		t.Errorf("len(Slots) = %d; want 137 (10 days of 14, less 09:00-10:00 on the first)", len(all))
	}
	if got, want := clocks(all[:1], calParis, "2006-01-02 15:04"), "2026-06-01 10:30"; len(all) == 0 || got[0] != want {
		t.Errorf("first slot = %v; want %s", got, want)
	}
	if got, want := all[len(all)-1].Format("2006-01-02 15:04"), "2026-06-12 17:30"; got != want {
		t.Errorf("last slot = %s; want %s", got, want)
	}
	if !slices.IsSortedFunc(all, time.Time.Compare) || len(slices.CompactFunc(slices.Clone(all), time.Time.Equal)) != len(all) {
		t.Errorf("Slots are not strictly increasing")
	}
	if got := b.Slots(cal, nil, now, now.Add(-2*slotDay), now.Add(60*slotDay), 3); !slices.Equal(got, all[:3]) {
		t.Errorf("Slots(max 3) = %v; want %v", got, all[:3])
	}

	// Bounds: notice at least, horizon strictly before.
	day := route.Booking{Length: 30 * time.Minute, Horizon: slotDay}
	at930 := calAt(t, calParis, "2026-06-01 09:30")
	edge := day.Slots(cal, nil, at930, at930, at930.Add(7*slotDay), 100)
	if got, want := clocks([]time.Time{edge[0], edge[len(edge)-1]}, calParis, "Mon 15:04"), []string{"Mon 09:30", "Tue 09:00"}; !slices.Equal(got, want) {
		t.Errorf("first and last slot with no notice and a day's horizon = %v; want %v", got, want)
	}
	if !day.Free(cal, nil, at930, at930) || day.Free(cal, nil, at930, at930.Add(slotDay)) {
		t.Errorf("Free at now and at now+horizon = %v, %v; want true, false",
			day.Free(cal, nil, at930, at930), day.Free(cal, nil, at930, at930.Add(slotDay)))
	}

	empty := []struct {
		name     string
		from, to time.Time
		max      int
	}{
		{"from after to", now.Add(3 * slotDay), now.Add(2 * slotDay), 100},
		{"from equals to", now.Add(3 * slotDay), now.Add(3 * slotDay), 100},
		{"ends within notice", now.Add(-slotDay), now.Add(b.Notice), 100},
		{"starts after horizon", now.Add(b.Horizon), now.Add(b.Horizon + 7*slotDay), 100},
		{"max 0", now, now.Add(7 * slotDay), 0},
		{"max -1", now, now.Add(7 * slotDay), -1},
	}
	for _, tt := range empty {
		if got := b.Slots(cal, nil, now, tt.from, tt.to, tt.max); len(got) != 0 {
			t.Errorf("%s: Slots = %v; want none", tt.name, got)
		}
	}
	if got := b.Slots(route.Calendar{Loc: calParis}, nil, now, now, now.Add(7*slotDay), 100); len(got) != 0 {
		t.Errorf("Slots on a calendar never open = %v; want none", got)
	}
}

// TestSlotsDST checks that slots keep to the wall clock on the days the
// clocks change, in Europe and in the US (which change on other dates and
// at other hours).
func TestSlotsDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		loc  *time.Location
		day  string // a Sunday the clocks change
		skip int    // the hour that does not exist, or -1
		fold int    // the hour that happens twice, or -1
	}{
		{calParis, "2026-03-29", 2, -1},
		{calParis, "2026-10-25", -1, 2},
		{calNY, "2026-03-08", 2, -1},
		{calNY, "2026-11-01", -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String()+" "+tt.day, func(t *testing.T) {
			t.Parallel()
			sunday := calAt(t, tt.loc, tt.day+" 00:00")

			// A week of mornings around the change: 09:00 … 11:30 every day.
			mornings := route.Calendar{Loc: tt.loc, Hours: mustHours(t, everyDay("09:00-12:00"))}
			b := route.Booking{Length: 30 * time.Minute, Horizon: 14 * slotDay}
			now := sunday.AddDate(0, 0, -3)
			got := b.Slots(mornings, nil, now, now, sunday.AddDate(0, 0, 4), 100)
			var want []time.Time
			for d := now; d.Before(sunday.AddDate(0, 0, 4)); d = d.AddDate(0, 0, 1) {
				for _, hm := range []string{"09:00", "09:30", "10:00", "10:30", "11:00", "11:30"} {
					want = append(want, calAt(t, tt.loc, d.Format("2006-01-02 ")+hm))
				}
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("Slots = %v;\nwant %v", clocks(got, tt.loc, "Mon 15:04 MST"), clocks(want, tt.loc, "Mon 15:04 MST"))
			}

			// The whole Sunday, hour by hour: one start per wall-clock hour
			// that exists, each once.
			whole := route.Calendar{Loc: tt.loc, Hours: mustHours(t, map[string]string{"sun": "00:00-24:00"})}
			hourly := route.Booking{Length: time.Hour, Horizon: 7 * slotDay}
			slots := hourly.Slots(whole, nil, now, sunday, sunday.AddDate(0, 0, 1), 100)
			var wantHours []string
			for h := range 24 {
				if h != tt.skip {
					wantHours = append(wantHours, fmt.Sprintf("%02d:00", h))
				}
			}
			if got := clocks(slots, tt.loc, "15:04"); !slices.Equal(got, wantHours) {
				t.Errorf("hourly slots = %v;\nwant %v", got, wantHours)
			}
			for _, s := range slots {
				if !hourly.Free(whole, nil, now, s) {
					t.Errorf("Free(%s) = false; want true", s)
				}
				if s.In(tt.loc).Hour() != tt.fold {
					continue
				}
				// The other instant with the same wall time is not a slot.
				for _, other := range []time.Time{s.Add(-time.Hour), s.Add(time.Hour)} {
					if other.In(tt.loc).Hour() == tt.fold && hourly.Free(whole, nil, now, other) {
						t.Errorf("Free(%s) = true; want false, %s is the slot at that wall time", other, s)
					}
				}
			}
		})
	}
}

// TestFreeAgreesWithSlots checks Slots and Free against a direct reading
// of the rules, minute by minute, on random calendars, bookings and busy
// spans, over weeks with and without a clock change.
func TestFreeAgreesWithSlots(t *testing.T) {
	t.Parallel()
	weeks := []struct {
		loc   *time.Location
		start string
	}{
		{calParis, "2026-06-01 06:00"},
		{calParis, "2026-03-26 06:00"}, // Sunday 29 March loses an hour
		{calNY, "2026-10-29 06:00"},    // Sunday 1 November repeats one
	}
	pick := func(r *rand.Rand, ds ...time.Duration) time.Duration { return ds[r.IntN(len(ds))] }
	m := time.Minute
	for i := range 30 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(uint64(i), 2026))
			week := weeks[i%len(weeks)]
			loc := week.loc
			var b route.Booking
			for {
				b = route.Booking{
					Length:  pick(r, 15*m, 30*m, 45*m, 60*m, 90*m, 120*m),
					Buffer:  pick(r, 0, 5*m, 10*m, 15*m, 30*m),
					Notice:  pick(r, 0, 2*time.Hour, 26*time.Hour, 90*m),
					Horizon: pick(r, slotDay, 3*slotDay, 7*slotDay, 9*slotDay),
					Step:    pick(r, 0, 5*m, 10*m, 15*m, 20*m, 30*m, 60*m, 120*m),
				}
				if b.Validate() == nil {
					break
				}
			}
			cal := route.Calendar{
				Loc: loc,
				Hours: mustHours(t, map[string]string{
					"mon": "08:00-12:00, 13:07-18:00", "tue": "08:00-12:00, 13:07-18:00",
					"wed": "09:00-12:00, 12:00-13:30", "thu": "09:00-17:00", "fri": "08:30-16:45",
					"sat": "10:00-12:00", "sun": "00:00-24:00",
				}),
			}
			now := calAt(t, loc, week.start).Add(time.Duration(r.IntN(600))*m + time.Duration(r.IntN(60))*time.Second)
			base := now.Truncate(m).Add(-slotDay)
			randSpan := func(maxLen int) route.Span {
				from := base.Add(time.Duration(r.IntN(11*24*60)) * m)
				return route.Span{From: from, To: from.Add(time.Duration(r.IntN(maxLen+20)-20) * m)} // some empty or reversed
			}
			if r.IntN(2) == 0 {
				cal.Closed = map[route.Date]string{route.DateOf(now.AddDate(0, 0, 1+r.IntN(5))): "holiday"}
			}
			for range r.IntN(4) {
				cal.Absences = append(cal.Absences, randSpan(600))
			}
			busy := make([]route.Span, 5+r.IntN(50))
			for j := range busy {
				busy[j] = randSpan(150)
			}
			from := base.Add(time.Duration(r.IntN(2*24*60)) * m)
			to := from.Add(time.Duration(r.IntN(9*24*60)) * m)
			desc := fmt.Sprintf("booking %+v, now %s, [%s, %s)", b, now, from, to)

			got := b.Slots(cal, busy, now, from, to, 10000)
			var want []time.Time
			for s := base; s.Before(base.Add(11 * slotDay)); s = s.Add(m) {
				free := bruteFree(b, cal, busy, now, s)
				if got := b.Free(cal, busy, now, s); got != free {
					t.Fatalf("%s: Free(%s) = %v; want %v", desc, s, got, free)
				}
				if free && !s.Before(from) && s.Before(to) {
					want = append(want, s)
				}
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Fatalf("%s:\nSlots = %v\nwant    %v", desc, clocks(got, loc, "Mon 15:04"), clocks(want, loc, "Mon 15:04"))
			}
			if n := len(want) / 2; n > 0 {
				if short := b.Slots(cal, busy, now, from, to, n); !slices.EqualFunc(short, want[:n], time.Time.Equal) {
					t.Errorf("%s: Slots(max %d) is not the first %d slots", desc, n, n)
				}
			}
			if len(want) > 0 && b.Free(cal, busy, now, want[0].Add(time.Second)) {
				t.Errorf("%s: Free(%s + 1s) = true; want false, off the grid", desc, want[0])
			}
		})
	}
}

// bruteFree is the rules of Slots read one by one, for one start.
func bruteFree(b route.Booking, cal route.Calendar, busy []route.Span, now, s time.Time) bool {
	if s.Before(now.Add(b.Notice)) || !s.Before(now.Add(b.Horizon)) {
		return false
	}
	step := b.Step
	if step == 0 {
		step = b.Length
	}
	ls := s.In(cal.Loc)
	if ls.Second() != 0 || ls.Nanosecond() != 0 {
		return false
	}
	// On the grid: whole steps after the start of the opening, intervals
	// that touch being one opening.
	wall := ls.Hour()*60 + ls.Minute()
	ivs := cal.Hours[ls.Weekday()]
	anchor := -1
	for i, iv := range ivs {
		if iv.Start <= wall && wall < iv.End {
			anchor = iv.Start
			for j := i; j > 0 && ivs[j-1].End == ivs[j].Start; j-- {
				anchor = ivs[j-1].Start
			}
		}
	}
	if anchor < 0 || (wall-anchor)%int(step/time.Minute) != 0 {
		return false
	}
	if y, mo, d := ls.Date(); !time.Date(y, mo, d, ls.Hour(), ls.Minute(), 0, 0, cal.Loc).Equal(s) {
		return false // the other instant of a repeated wall time
	}
	if cal.Elapsed(s, s.Add(b.Length)) != b.Length {
		return false // not all working time
	}
	for _, x := range busy {
		if x.From.Before(x.To) && x.From.Before(s.Add(b.Length+b.Buffer)) && x.To.After(s.Add(-b.Buffer)) {
			return false
		}
	}
	return true
}

func ExampleBooking_Slots() {
	paris, _ := time.LoadLocation("Europe/Paris")
	hours, _ := route.ParseHours(map[string]string{"mon": "09:00-12:00"})
	cal := route.Calendar{Loc: paris, Hours: hours}
	monday := time.Date(2026, 6, 1, 0, 0, 0, 0, paris)
	meeting := route.Span{From: monday.Add(10 * time.Hour), To: monday.Add(10*time.Hour + 30*time.Minute)}
	now := monday.AddDate(0, 0, -1)
	for _, s := range route.DefaultBooking.Slots(cal, []route.Span{meeting}, now, monday, monday.AddDate(0, 0, 1), 10) {
		fmt.Println(s.Format("Mon 15:04"))
	}
	// Output:
	// Mon 09:00
	// Mon 11:00
	// Mon 11:30
}

func BenchmarkSlots(b *testing.B) {
	cal := *lunch(b)
	cal.Closed = map[route.Date]string{mustDate(b, "2026-05-14"): "Ascension Day", mustDate(b, "2026-05-25"): "Whit Monday"}
	now := calAt(b, calParis, "2026-05-04 08:00")
	r := rand.New(rand.NewPCG(1, 2))
	busy := make([]route.Span, 200)
	for i := range busy {
		from := now.Add(time.Duration(r.IntN(14*24*60)) * time.Minute)
		busy[i] = route.Span{From: from, To: from.Add(time.Duration(15+r.IntN(90)) * time.Minute)}
	}
	bk := route.DefaultBooking
	for b.Loop() {
		if len(bk.Slots(cal, busy, now, now, now.Add(14*slotDay), 1000)) == 0 {
			b.Fatal("no slots")
		}
	}
}
