package journey

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

type templates map[string]string

func (t templates) TemplateChannel(name string) (string, bool) {
	ch, ok := t[name]
	return ch, ok
}

var allTemplates = templates{"d0": "email", "d1": "email", "d3": "email", "d5": "email", "d7": "email", "sms1": "sms"}

const warmLead = `
name: warm-lead
objective: {event: meeting_booked}
trigger: {event: form_submitted, where: 'event.form == "contact"'}
steps:
  - {id: d0, send: {channel: email, template: d0}}
  - {id: w1, wait: 1d}
  - {id: d1, send: {channel: email, template: d1}}
  - {id: w3, wait: 2d}
  - {id: d3, send: {channel: email, template: d3}}
  - {id: w5, wait: 2d}
  - {id: d5, send: {channel: email, template: d5}}
  - {id: w7, wait: 2d}
  - {id: d7, send: {channel: email, template: d7}}
`

func mustParse(t *testing.T, src string) *Journey {
	t.Helper()
	j, err := Parse([]byte(src), allTemplates)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

var paris, _ = time.LoadLocation("Europe/Paris")

// sent is one message a drive of the engine queued.
type sent struct {
	step string
	at   time.Time
}

// drive runs an enrolment from start, firing its timers, until it leaves
// the journey or the horizon; events are delivered at their times. It
// keeps the cap's memory like the store does.
func drive(t *testing.T, j *Journey, c *contact.Contact, start time.Time, horizon time.Duration, events []Event, recent []Sent) (State, []sent, []Effect) {
	t.Helper()
	var out []sent
	var all []Effect
	apply := func(now time.Time, fx []Effect) {
		all = append(all, fx...)
		for _, f := range fx {
			if f.Kind == EffectSend {
				out = append(out, sent{f.Step, now})
				if marketing(f.Send) {
					recent = append(recent, Sent{At: now, Channel: f.Send.Channel})
				}
			}
		}
	}
	st, fx := j.Start(Input{Now: start, Contact: c, Recent: recent})
	apply(start, fx)
	end := start.Add(horizon)
	for st.Status.In() {
		next := st.DueAt
		if len(events) > 0 && (next.IsZero() || !events[0].At.After(next)) {
			ev := events[0]
			events = events[1:]
			st, fx = j.Advance(st, Input{Now: ev.At, Contact: c, Event: &ev, Recent: recent})
			apply(ev.At, fx)
			continue
		}
		if next.IsZero() || next.After(end) {
			break
		}
		st, fx = j.Advance(st, Input{Now: next, Contact: c, Recent: recent})
		apply(next, fx)
	}
	return st, out, all
}

func TestWarmLeadRunsInOrderOutsideQuietHours(t *testing.T) {
	j := mustParse(t, warmLead)
	c := &contact.Contact{ID: 7, TimeZone: "Europe/Paris"}
	// Entered on a Monday at 22:30 in Paris: D0 waits for 08:00.
	start := time.Date(2026, 11, 23, 22, 30, 0, 0, paris)
	st, got, fx := drive(t, j, c, start, 30*24*time.Hour, nil, nil)
	if st.Status != Completed {
		t.Fatalf("status %s (%s); want completed", st.Status, st.Reason)
	}
	want := []string{"d0", "d1", "d3", "d5", "d7"}
	if len(got) != len(want) {
		t.Fatalf("sent %v; want %v", got, want)
	}
	first := got[0].at
	if !first.Equal(time.Date(2026, 11, 24, 8, 0, 0, 0, paris)) {
		t.Errorf("D0 at %v; want the end of quiet hours, 08:00 Paris", first.In(paris))
	}
	days := []int{0, 1, 3, 5, 7}
	for i, s := range got {
		if s.step != want[i] {
			t.Errorf("message %d is %s; want %s", i, s.step, want[i])
		}
		h := s.at.In(paris).Hour()
		if h >= 21 || h < 8 {
			t.Errorf("%s sent at %v, in quiet hours", s.step, s.at.In(paris))
		}
		if d := int(s.at.Sub(first).Hours() / 24); d != days[i] {
			t.Errorf("%s on day %d; want day %d", s.step, d, days[i])
		}
	}
	var deferred []Effect
	for _, f := range fx {
		if f.Kind == EffectDeferred {
			deferred = append(deferred, f)
		}
	}
	if len(deferred) != 1 || deferred[0].Reason != DeferQuiet || deferred[0].Step != "d0" {
		t.Errorf("deferrals %+v; want one of d0 for quiet hours", deferred)
	}
}

func TestGoalAndTakeoverStopTheJourney(t *testing.T) {
	j := mustParse(t, warmLead)
	c := &contact.Contact{ID: 7, TimeZone: "Europe/Paris"}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, paris)
	d2 := start.Add(50 * time.Hour)
	st, got, _ := drive(t, j, c, start, 30*24*time.Hour, []Event{{Type: "meeting_booked", At: d2}}, nil)
	if st.Status != Exited || st.Reason != ReasonGoal || len(got) != 2 {
		t.Errorf("meeting on D2: %s %s, sent %v; want exited on goal after D0 and D1", st.Status, st.Reason, got)
	}
	st, got, _ = drive(t, j, c, start, 30*24*time.Hour, []Event{{Type: "human_takeover", At: d2}}, nil)
	if st.Status != Exited || st.Reason != "human_takeover" || len(got) != 2 {
		t.Errorf("take-over on D2: %s %s, sent %v; want exited after D0 and D1", st.Status, st.Reason, got)
	}
	// A soft bounce does not stop it; a hard one does.
	st, _, _ = drive(t, j, c, start, 30*24*time.Hour, []Event{{Type: "email_bounced", At: d2, Properties: map[string]any{"hard": false}}}, nil)
	if st.Status != Completed {
		t.Errorf("soft bounce: %s; want completed", st.Status)
	}
	st, _, _ = drive(t, j, c, start, 30*24*time.Hour, []Event{{Type: "email_bounced", At: d2, Properties: map[string]any{"hard": true}}}, nil)
	if st.Status != Exited || st.Reason != "hard_bounce" {
		t.Errorf("hard bounce: %s %s; want exited", st.Status, st.Reason)
	}
}

func TestTakeoverPausesAndResumes(t *testing.T) {
	j := mustParse(t, strings.Replace(warmLead, "steps:", "takeover: pause\nresume: 14d\nsteps:", 1))
	c := &contact.Contact{ID: 7, TimeZone: "Europe/Paris"}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, paris)
	st, got, fx := drive(t, j, c, start, 60*24*time.Hour, []Event{{Type: "human_takeover", At: start.Add(50 * time.Hour)}}, nil)
	if st.Status != Completed || len(got) != 5 {
		t.Fatalf("%s, sent %v; want completed with every message", st.Status, got)
	}
	var paused, resumed bool
	for _, f := range fx {
		paused = paused || f.Kind == EffectPaused
		resumed = resumed || f.Kind == EffectResumed
	}
	if !paused || !resumed {
		t.Errorf("effects %+v; want a pause and a resume", fx)
	}
	if gap := got[2].at.Sub(got[1].at); gap < 14*24*time.Hour {
		t.Errorf("D3 came %v after D1; want the 14 days of the pause", gap)
	}
}

func TestFrequencyCapDefersAcrossJourneys(t *testing.T) {
	j := mustParse(t, warmLead)
	c := &contact.Contact{ID: 7, TimeZone: "Europe/Paris"}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, paris)
	// Another journey sent one two hours ago: D0 waits until 24 h after it.
	other := start.Add(-2 * time.Hour)
	st, fx := j.Start(Input{Now: start, Contact: c, Recent: emails(other)})
	if st.Status != Waiting || st.Step != "d0" || !st.DueAt.Equal(other.Add(24*time.Hour)) || st.Reason != DeferDayCap {
		t.Fatalf("state %+v; want d0 deferred to %v by the day cap", st, other.Add(24*time.Hour))
	}
	if len(fx) != 1 || fx[0].Kind != EffectDeferred || fx[0].Reason != DeferDayCap {
		t.Errorf("effects %+v; want one deferral", fx)
	}
	// Four this week: the fifth waits for the oldest to be 7 days old.
	week := emails(start.Add(-6*24*time.Hour), start.Add(-5*24*time.Hour), start.Add(-4*24*time.Hour), start.Add(-3*24*time.Hour))
	st, _ = j.Start(Input{Now: start, Contact: c, Recent: week})
	if st.Reason != DeferWeekCap || !st.DueAt.Equal(week[0].At.Add(7*24*time.Hour)) {
		t.Errorf("state %+v; want deferred by the week cap to %v", st, week[0].At.Add(7*24*time.Hour))
	}
	// Transactional messages are exempt.
	tj := mustParse(t, `
name: t
trigger: {manual: true}
steps:
  - {id: d0, send: {channel: email, template: d0, kind: transactional}}
`)
	st, fx = tj.Start(Input{Now: start, Contact: c, Recent: week})
	if st.Status != Completed || len(fx) != 3 || fx[1].Kind != EffectSend {
		t.Errorf("transactional: %+v %+v; want sent at once", st, fx)
	}
	// The cap is never exceeded over 30 days, with three journeys at once.
	js := []*Journey{j, mustParse(t, strings.Replace(warmLead, "name: warm-lead", "name: b", 1)), mustParse(t, strings.Replace(warmLead, "name: warm-lead", "name: c", 1))}
	var recent []Sent
	states := make([]State, len(js))
	for i, jj := range js {
		var fx []Effect
		states[i], fx = jj.Start(Input{Now: start, Contact: c, Recent: recent})
		for _, f := range fx {
			if f.Kind == EffectSend {
				recent = append(recent, Sent{At: start, Channel: f.Send.Channel})
			}
		}
	}
	for {
		k := -1
		for i, st := range states {
			if st.Status.In() && (k < 0 || st.DueAt.Before(states[k].DueAt)) {
				k = i
			}
		}
		if k < 0 {
			break
		}
		now := states[k].DueAt
		var fx []Effect
		states[k], fx = js[k].Advance(states[k], Input{Now: now, Contact: c, Recent: recent})
		for _, f := range fx {
			if f.Kind == EffectSend {
				recent = append(recent, Sent{At: now, Channel: f.Send.Channel})
			}
		}
	}
	if len(recent) != 15 {
		t.Fatalf("%d messages; want all 15 eventually", len(recent))
	}
	for i, m := range recent {
		day, week := 0, 0
		for _, o := range recent[:i+1] {
			if m.At.Sub(o.At) < 24*time.Hour {
				day++
			}
			if m.At.Sub(o.At) < 7*24*time.Hour {
				week++
			}
		}
		if day > 1 || week > 4 {
			t.Fatalf("message %d at %v: %d in a day, %d in a week", i, m.At, day, week)
		}
	}
}

// emails are marketing emails queued at the times given.
func emails(at ...time.Time) []Sent {
	out := make([]Sent, len(at))
	for i, t := range at {
		out[i] = Sent{At: t, Channel: "email"}
	}
	return out
}

func TestChannelCap(t *testing.T) {
	// Two a day and eight a week across channels, but one SMS a week.
	cp := Cap{PerDay: 2, PerWeek: 8, Channels: map[string]Limit{"sms": {PerWeek: 1}}}
	if err := cp.Validate(); err != nil {
		t.Fatal(err)
	}
	j := mustParse(t, `
name: mixed
trigger: {manual: true}
quiet_hours: {start: "00:00", end: "00:00", off: true}
steps:
  - {id: s0, send: {channel: sms, template: sms1}}
  - {id: e0, send: {channel: email, template: d0}}
  - {id: s1, send: {channel: sms, template: sms1}}
  - {id: e1, send: {channel: email, template: d1}}
`)
	c := &contact.Contact{ID: 7, TimeZone: "Europe/Paris"}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, paris)
	var sends []Sent
	var deferred []Effect
	now := start
	st, fx := j.Start(Input{Now: now, Contact: c, Cap: cp})
	for range 20 {
		for _, f := range fx {
			switch f.Kind {
			case EffectSend:
				sends = append(sends, Sent{At: now, Channel: f.Send.Channel})
			case EffectDeferred:
				deferred = append(deferred, f)
			}
		}
		if !st.Status.In() {
			break
		}
		now = st.DueAt
		st, fx = j.Advance(st, Input{Now: now, Contact: c, Cap: cp, Recent: sends})
	}
	if st.Status != Completed {
		t.Fatalf("status %+v; want completed", st)
	}
	want := []Sent{
		{start, "sms"},                           // s0 at once
		{start, "email"},                         // e0 too: two a day across channels
		{start.Add(7 * 24 * time.Hour), "sms"},   // s1: one SMS a week
		{start.Add(7 * 24 * time.Hour), "email"}, // e1 right after it
	}
	if len(sends) != len(want) {
		t.Fatalf("sends %+v; want %+v", sends, want)
	}
	for i := range want {
		if !sends[i].At.Equal(want[i].At) || sends[i].Channel != want[i].Channel {
			t.Errorf("send %d: %+v; want %+v", i, sends[i], want[i])
		}
	}
	if len(deferred) != 1 || deferred[0].Step != "s1" || deferred[0].Reason != DeferChannelWeekCap {
		t.Errorf("deferrals %+v; want s1 by the channel's week cap", deferred)
	}
	// Without the channel limit, s1 goes the next day (two a day).
	st, _ = j.Start(Input{Now: start, Contact: c, Cap: Cap{PerDay: 2, PerWeek: 8}, Recent: []Sent{{start.Add(-time.Hour), "sms"}, {start.Add(-time.Hour), "email"}}})
	if st.Reason != DeferDayCap || !st.DueAt.Equal(start.Add(23*time.Hour)) {
		t.Errorf("state %+v; want the day cap across channels", st)
	}
	// The channel's day limit.
	cp.Channels["sms"] = Limit{PerDay: 1}
	st, _ = j.Start(Input{Now: start, Contact: c, Cap: cp, Recent: []Sent{{start.Add(-time.Hour), "sms"}}})
	if st.Reason != DeferChannelDayCap || !st.DueAt.Equal(start.Add(23*time.Hour)) {
		t.Errorf("state %+v; want the SMS day cap", st)
	}
}

func TestCapValidate(t *testing.T) {
	for _, tc := range []struct {
		cap   Cap
		field string
	}{
		{Cap{}, ""},
		{DefaultCap, ""},
		{Cap{PerDay: 2, PerWeek: 8, Channels: map[string]Limit{"sms": {PerDay: 1, PerWeek: 2}, "email": {PerWeek: 5}}}, ""},
		{Cap{PerDay: -1}, "per_day"},
		{Cap{PerWeek: MaxCapPerWeek + 1}, "per_week"},
		{Cap{PerDay: 5, PerWeek: 3}, "per_day"},
		{Cap{PerDay: 5}, "per_day"}, // above the default week of 4
		{Cap{Channels: map[string]Limit{"fax": {PerDay: 1}}}, "channels.fax"},
		{Cap{Channels: map[string]Limit{"task": {PerDay: 1}}}, "channels.task"},
		{Cap{Channels: map[string]Limit{"sms": {PerDay: 2}}}, "channels.sms.per_day"},
		{Cap{Channels: map[string]Limit{"sms": {PerWeek: 5}}}, "channels.sms.per_week"},
		{Cap{PerDay: 3, PerWeek: 9, Channels: map[string]Limit{"sms": {PerDay: 3, PerWeek: 2}}}, "channels.sms.per_day"},
		{Cap{Channels: map[string]Limit{"sms": {PerDay: -1}}}, "channels.sms.per_day"},
	} {
		err := tc.cap.Validate()
		var ce *CapError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v; want valid", tc.cap, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
			t.Errorf("%+v: %v; want an error on %s", tc.cap, err, tc.field)
		}
	}
}

func TestWaitForBranchAndSplit(t *testing.T) {
	j := mustParse(t, `
name: paths
trigger: {manual: true}
quiet_hours: {off: true}
steps:
  - id: ask
    wait_for: {event: email_clicked, where: 'event.url contains "pricing"', timeout: 3d, then: hot, else: cold}
  - id: hot
    branch:
      - {if: 'contact.company == "Acme"', goto: acme}
      - {default: ab}
  - {id: acme, update: {tag: [acme]}, next: ab}
  - id: ab
    split: [{name: a, percent: 50, goto: d1}, {name: b, percent: 50, goto: d3}]
  - {id: d1, send: {channel: email, template: d1}, next: done}
  - {id: d3, send: {channel: email, template: d3}, next: done}
  - {id: cold, send: {channel: email, template: d5}}
  - {id: done, exit: {reason: finished}}
`)
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	c := &contact.Contact{ID: 1, Company: "Acme"}
	// A click elsewhere does not count; one on pricing does.
	st, got, fx := drive(t, j, c, start, 10*24*time.Hour, []Event{
		{Type: "email_clicked", At: start.Add(time.Hour), Properties: map[string]any{"url": "https://x.test/blog"}},
		{Type: "email_clicked", At: start.Add(2 * time.Hour), Properties: map[string]any{"url": "https://x.test/pricing"}},
	}, nil)
	if st.Status != Exited || st.Reason != "finished" || len(got) != 1 || got[0].at != start.Add(2*time.Hour) {
		t.Fatalf("clicked: %+v sent %v", st, got)
	}
	var tagged bool
	for _, f := range fx {
		tagged = tagged || f.Kind == EffectUpdate && f.Update.Tag[0] == "acme"
	}
	if !tagged {
		t.Errorf("the Acme branch did not tag: %+v", fx)
	}
	// No click: the timeout path.
	st, got, _ = drive(t, j, c, start, 10*24*time.Hour, nil, nil)
	if st.Status != Exited || len(got) != 1 || got[0].step != "cold" || got[0].at != start.Add(72*time.Hour) {
		t.Errorf("no click: %+v sent %v; want cold at the timeout", st, got)
	}
	// The split is sticky per contact and near its percentages.
	arms := map[string]int{}
	for id := range int64(2000) {
		c := &contact.Contact{ID: id}
		_, got1, _ := drive(t, j, c, start, 10*24*time.Hour, []Event{{Type: "email_clicked", At: start, Properties: map[string]any{"url": "pricing"}}}, nil)
		_, got2, _ := drive(t, j, c, start, 10*24*time.Hour, []Event{{Type: "email_clicked", At: start, Properties: map[string]any{"url": "pricing"}}}, nil)
		if got1[0].step != got2[0].step {
			t.Fatalf("contact %d got %s then %s", id, got1[0].step, got2[0].step)
		}
		arms[got1[0].step]++
	}
	if arms["d1"] < 900 || arms["d3"] < 900 {
		t.Errorf("split %v; want about 1,000 each", arms)
	}
}

func TestWaitUntilTimeOfDay(t *testing.T) {
	j := mustParse(t, `
name: tuesday
trigger: {manual: true}
steps:
  - {id: w, wait: {for: 1d, until: "09:30", days: [tue]}}
  - {id: d1, send: {channel: email, template: d1}}
`)
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, paris) // a Monday
	_, got, _ := drive(t, j, &contact.Contact{TimeZone: "Europe/Paris"}, start, 30*24*time.Hour, nil, nil)
	want := time.Date(2026, 12, 1, 9, 30, 0, 0, paris) // a day later is Tuesday 10:00, past 09:30: next Tuesday
	if len(got) != 1 || !got[0].at.Equal(want) {
		t.Errorf("sent %v; want one at %v", got, want)
	}
}

func TestInvalidDocumentsSayWhereAndWhy(t *testing.T) {
	cases := []struct{ name, src, path, reason string }{
		{"unknown step type", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, sned: {channel: email}}\n", "steps[0].sned", "unknown step type"},
		{"dangling id", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, wait: 1d, next: nowhere}\n", "steps[0].next", `no step has the id "nowhere"`},
		{"branch without default", "name: x\ntrigger: {manual: true}\nsteps:\n  - id: a\n    branch: [{if: 'contact.company == \"x\"', goto: b}]\n  - {id: b, wait: 1d}\n", "steps[0].branch", "default arm"},
		{"unknown template", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, send: {channel: email, template: nope}}\n", "steps[0].send.template", `unknown template "nope"`},
		{"unreachable", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, exit: {}}\n  - {id: b, wait: 1d}\n", "steps[1]", "unreachable"},
		{"negative wait", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, wait: -2h}\n", "steps[0].wait", "negative"},
		{"loop without wait", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, update: {tag: [x]}, next: b}\n  - {id: b, update: {tag: [y]}, next: a}\n", "steps[", "loop with no wait"},
		{"two kinds", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, wait: 1d, exit: {}}\n", "steps[0]", "one kind per step"},
		{"duplicate id", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, wait: 1d}\n  - {id: a, wait: 1d}\n", "steps[1].id", "used twice"},
		{"bad condition", "name: x\ntrigger: {event: lead_created, where: 'contact.nope == 1'}\nsteps:\n  - {id: a, wait: 1d}\n", "trigger.where", "does not compile"},
		{"no trigger", "name: x\nsteps:\n  - {id: a, wait: 1d}\n", "trigger", "missing"},
		{"wrong channel", "name: x\ntrigger: {manual: true}\nsteps:\n  - {id: a, send: {channel: email, template: sms1}}\n", "steps[0].send.template", "is for sms"},
		{"split not 100", "name: x\ntrigger: {manual: true}\nsteps:\n  - id: a\n    split: [{percent: 30, goto: b}, {percent: 30, goto: b}]\n  - {id: b, wait: 1d}\n", "steps[0].split", "add up to 100"},
		{"bad time zone", "name: x\ntime_zone: Mars/Olympus\ntrigger: {manual: true}\nsteps:\n  - {id: a, wait: 1d}\n", "time_zone", "unknown time zone"},
		{"unknown top-level key", "name: x\ntrigger: {manual: true}\nstepz: []\nsteps:\n  - {id: a, wait: 1d}\n", "document", "stepz"},
		{"no steps", "name: x\ntrigger: {manual: true}\nsteps: []\n", "steps", "at least one step"},
		{"empty", "  \n", "document", "empty"},
		{"not yaml", "name: [x\n", "document", ""},
		{"huge", "name: x\n#" + strings.Repeat("x", MaxDocumentBytes), "document", "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), allTemplates)
			de, ok := err.(*DocumentError)
			if !ok {
				t.Fatalf("err = %v; want a DocumentError", err)
			}
			for _, p := range de.Problems {
				if strings.HasPrefix(p.Path, tc.path) && strings.Contains(p.Reason, tc.reason) {
					if tc.path != "document" && tc.path != "trigger" && p.Line == 0 {
						t.Errorf("problem %+v has no line", p)
					}
					return
				}
			}
			t.Errorf("problems %+v; want one at %s saying %q", de.Problems, tc.path, tc.reason)
		})
	}
}
