package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// e2eRun runs the nurture command and fails on error.
func e2eRun(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("nurture %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// e2eAPIKey creates an API key and returns it.
func e2eAPIKey(tb testing.TB, dbArgs []string) string {
	tb.Helper()
	out := strings.TrimSpace(e2eRun(tb, append([]string{"apikey", "create", "--name", "e2e"}, dbArgs...)...))
	return out[strings.LastIndex(out, "\n")+1:]
}

// e2eServe starts `nurture serve` (see serve) and returns its base URL.
func e2eServe(tb testing.TB, args []string) (base string) {
	tb.Helper()
	_, addr, _ := serve(tb, args)
	return "http://" + addr
}

// e2eAPI calls the server's API with a key.
type e2eAPI struct {
	base, key string
}

// do sends a request (a JSON body unless body is nil) and decodes a 2xx
// answer into out; it returns the status and the body read.
func (a e2eAPI) do(method, path string, body, out any) (int, string, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, string(data), err
		}
	}
	return resp.StatusCode, string(data), nil
}

// must is do that fails the test on a transport error or an unexpected status.
func (a e2eAPI) must(tb testing.TB, want int, method, path string, body, out any) {
	tb.Helper()
	code, data, err := a.do(method, path, body, out)
	if err != nil || code != want {
		tb.Fatalf("%s %s = %d %v; want %d\n%s", method, path, code, err, want, data)
	}
}

// e2eClock follows the server's scaled clock from the test: the store's
// time read in an answer, and the wall clock since, times the speed.
type e2eClock struct {
	speed float64
	virt  time.Time // a time the server read
	wall  time.Time // when (midpoint of the request)
	rtt   time.Duration
}

// observe keeps the sample read with the shortest round trip.
func (c *e2eClock) observe(virt, before, after time.Time) {
	rtt := after.Sub(before)
	if c.wall.IsZero() || rtt < c.rtt {
		c.virt, c.wall, c.rtt = virt, before.Add(rtt/2), rtt
	}
}

func (c *e2eClock) now() time.Time {
	return c.virt.Add(time.Duration(float64(time.Since(c.wall)) * c.speed))
}

// wallAt is when the server's clock will read v.
func (c *e2eClock) wallAt(v time.Time) time.Time {
	return c.wall.Add(time.Duration(float64(v.Sub(c.virt)) / c.speed))
}

// sleepUntil waits until the server's clock reads v.
func (c *e2eClock) sleepUntil(v time.Time) {
	if d := time.Until(c.wallAt(v)); d > 0 {
		time.Sleep(d)
	}
}

// e2eLead is a contact of the end-to-end test.
type e2eLead struct {
	name, email, tz string
	loc             *time.Location
	id              int64
}

// e2eMail is a message the SMTP sink received, with its outbox row.
type e2eMail struct {
	id       int64
	template string
	status   string
	listID   string
	queued   time.Time // outbox created_at: when the step ran (scaled clock)
	date     time.Time // Date header: when the dispatcher sent it (scaled clock)
}

// e2eReceived returns, per contact id, the messages the sink received, in
// the order they arrived, each with its outbox row (read through the API).
func e2eReceived(t *testing.T, api e2eAPI, sink *smtptest.Server, leads []*e2eLead) map[int64][]e2eMail {
	t.Helper()
	got := sink.Messages() // before the outbox: every message received has its row
	rows := map[int64]store.Message{}
	for _, l := range leads {
		var ms []store.Message
		api.must(t, 200, "GET", fmt.Sprintf("/api/v1/messages?contact_id=%d&limit=200", l.id), nil, &ms)
		for _, m := range ms {
			rows[m.ID] = m
		}
	}
	out := map[int64][]e2eMail{}
	for _, m := range got {
		p, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("a received message does not parse: %v", err)
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(p.Header.Get("X-Nurture-Message"), "m-"), 10, 64)
		if err != nil {
			t.Fatalf("a received message has X-Nurture-Message %q", p.Header.Get("X-Nurture-Message"))
		}
		row, ok := rows[id]
		if !ok {
			t.Fatalf("received message m-%d (to %v) is in no test contact's outbox", id, m.To)
		}
		date, err := p.Header.Date()
		if err != nil {
			t.Fatalf("message m-%d: Date header %q: %v", id, p.Header.Get("Date"), err)
		}
		out[row.ContactID] = append(out[row.ContactID], e2eMail{id: id, template: row.Template, status: row.Status,
			listID: p.Header.Get("List-Id"), queued: row.CreatedAt, date: date})
	}
	return out
}

// e2eWarm keeps the messages of sequence A (templates warm-*).
func e2eWarm(ms []e2eMail) []e2eMail {
	var out []e2eMail
	for _, m := range ms {
		if strings.HasPrefix(m.template, "warm-") {
			out = append(out, m)
		}
	}
	return out
}

func e2eTemplates(ms []e2eMail) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.template)
	}
	return strings.Join(out, ",")
}

// e2eQuiet reports whether t falls in the default quiet hours, 21:00–08:00.
func e2eQuiet(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	return m >= 21*60 || m < 8*60
}

// e2eEnrolments reads a contact's enrolments.
func e2eEnrolments(t *testing.T, api e2eAPI, id int64) []store.Enrolment {
	t.Helper()
	var out struct{ Enrolments []store.Enrolment }
	api.must(t, 200, "GET", fmt.Sprintf("/api/v1/contacts/%d/journeys", id), nil, &out)
	return out.Enrolments
}

func e2eEnrolment(ens []store.Enrolment, journey string) (store.Enrolment, bool) {
	for _, e := range ens {
		if e.Journey == journey {
			return e, true
		}
	}
	return store.Enrolment{}, false
}

// e2eDeferrals reads a contact's journey_deferred events.
func e2eDeferrals(t *testing.T, api e2eAPI, id int64) []map[string]any {
	t.Helper()
	var tl struct{ Events []event.Event }
	api.must(t, 200, "GET", fmt.Sprintf("/api/v1/contacts/%d/timeline?limit=200", id), nil, &tl)
	var out []map[string]any
	for _, e := range tl.Events {
		if e.Type == "journey_deferred" {
			var p map[string]any
			json.Unmarshal(e.Properties, &p)
			out = append(out, p)
		}
	}
	return out
}

// The end-to-end run's virtual timeline (UTC, June 2026: no change of
// summer time in New York or Tokyo). Sends drift later by up to a poll
// (250 ms real, 1.5 h virtual) at each step, so each contact enters when
// the first message is held by quiet hours until 08:00 local: every send
// then happens between 08:00 and about 15:00 local, far from the 21:00
// edge the dispatch delay (milliseconds real, minutes virtual) could cross.
var (
	e2eSpeed = 21600.0                                       // a virtual day every 4 s
	e2eStart = time.Date(2026, 6, 1, 23, 30, 0, 0, time.UTC) // Monday evening UTC (19:30 in New York)
	// Ada (New York, 21:15 Monday), Cleo and Dan (Paris, 03:15) enter at
	// 01:15Z, or as soon as the server is up: before 11:45Z, while New York
	// is quiet (01:00Z to 12:00Z). A loaded machine with PostgreSQL was seen
	// to take up to 05:00Z. Paris is quiet from 19:00Z to 06:00Z; Cleo and
	// Dan need not enter then.
	e2eEnterA    = time.Date(2026, 6, 2, 1, 15, 0, 0, time.UTC)
	e2eEnterALim = time.Date(2026, 6, 2, 11, 45, 0, 0, time.UTC)
	// Ben (Tokyo, 21:15 Tuesday) at 12:15Z; Tokyo is quiet from 12:00Z to 23:00Z.
	e2eEnterB    = time.Date(2026, 6, 2, 12, 15, 0, 0, time.UTC)
	e2eEnterBLim = time.Date(2026, 6, 2, 19, 0, 0, 0, time.UTC)
	// D2 of Cleo and Dan (their D0 goes between 06:00Z and about 13:00Z
	// on 2 June, D1 a day later, D3 two days after that).
	e2eD2 = time.Date(2026, 6, 4, 6, 0, 0, 0, time.UTC)
	// Ben's D7 is due near 23:00Z on 9 June, plus the drift.
	e2eEnd = time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
)

// e2eWarmSteps are sequence A's templates and the wait before each.
var e2eWarmSteps = []struct {
	template string
	wait     time.Duration
}{{"warm-d0", 0}, {"warm-d1", 24 * time.Hour}, {"warm-d3", 48 * time.Hour}, {"warm-d5", 48 * time.Hour}, {"warm-d7", 48 * time.Hour}}

// TestJourneyAEndToEnd runs sequence A (examples/journeys/warm-lead.yaml)
// on a running server whose clock runs 21,600 times faster (a day every 4 s),
// sending through an SMTP sink: Ada (New York) and Ben (Tokyo) get D0, D1,
// D3, D5 and D7 in order, a day or two apart, none in quiet hours in their
// time zone; Cleo books a meeting on D2 and leaves the journey (goal); a call
// logged with Dan on D2 (human_takeover) stops both journeys he is in. Both
// got D0 and D1 only.
func TestJourneyAEndToEnd(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			t.Parallel()
			e2eJourneyA(t, db)
		})
	}
}

func e2eJourneyA(t *testing.T, db storetest.DB) {
	began := time.Now()
	args, _ := dbArgs(t, db)
	e2eRun(t, append([]string{"journeys", "examples"}, args...)...)
	key := e2eAPIKey(t, args)
	sink, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	base := e2eServe(t, append(args, "--smtp-url", sink.URL(), "--mail-from", "Acme <news@acme.test>",
		"--clock-speed", strconv.FormatFloat(e2eSpeed, 'f', -1, 64), "--clock-start", e2eStart.Format(time.RFC3339)))
	api := e2eAPI{base: base, key: key}
	clk := &e2eClock{speed: e2eSpeed}

	ada := &e2eLead{name: "Ada", email: "ada@example.com", tz: "America/New_York"}
	ben := &e2eLead{name: "Ben", email: "ben@example.com", tz: "Asia/Tokyo"}
	cleo := &e2eLead{name: "Cleo", email: "cleo@example.com", tz: "Europe/Paris"}
	dan := &e2eLead{name: "Dan", email: "dan@example.com", tz: "Europe/Paris"}
	leads := []*e2eLead{ada, ben, cleo, dan}
	for _, l := range leads {
		if l.loc, err = time.LoadLocation(l.tz); err != nil {
			t.Fatal(err)
		}
		var c struct {
			ID        int64
			UpdatedAt time.Time `json:"updated_at"`
		}
		before := time.Now()
		api.must(t, 201, "PUT", "/api/v1/contacts", map[string]any{"email": l.email, "first_name": l.name,
			"time_zone": l.tz, "source": "website", "offer": "audit"}, &c)
		clk.observe(c.UpdatedAt, before, time.Now())
		l.id = c.ID
	}
	t.Logf("%s: server clock %s at %.2fs real (round trip %v)", db.Name, clk.now().Format(time.RFC3339), time.Since(began).Seconds(), clk.rtt)
	// Dan is in a second journey (sequence C, first send on D10): a take-over stops it too.
	api.must(t, 201, "POST", "/api/v1/journeys/reactivation/enrolments", map[string]any{"contact_id": dan.id}, nil)

	enter := func(l *e2eLead, from, limit time.Time) {
		t.Helper()
		api.must(t, 201, "POST", "/api/v1/events", map[string]any{"contact_id": l.id, "type": "form_submitted",
			"properties": map[string]any{"form": "contact"}}, nil)
		e, ok := e2eEnrolment(e2eEnrolments(t, api, l.id), "warm-lead")
		if !ok {
			t.Fatalf("%s is not in warm-lead after form_submitted: %+v", l.name, e2eEnrolments(t, api, l.id))
		}
		if e.EnteredAt.Before(from) || !e.EnteredAt.Before(limit) {
			t.Fatalf("%s entered at %s, outside %s–%s: the machine is too slow for this test's timeline",
				l.name, e.EnteredAt.Format(time.RFC3339), from.Format(time.RFC3339), limit.Format(time.RFC3339))
		}
		t.Logf("%-4s enters warm-lead at %s local", l.name, e.EnteredAt.In(l.loc).Format("Mon 02 Jan 15:04 MST"))
	}
	clk.sleepUntil(e2eEnterA)
	for _, l := range []*e2eLead{ada, cleo, dan} {
		enter(l, e2eEnterA.Add(-15*time.Minute), e2eEnterALim)
	}
	clk.sleepUntil(e2eEnterB)
	enter(ben, e2eEnterB.Add(-15*time.Minute), e2eEnterBLim)

	// D2: Cleo books a meeting, a salesperson calls Dan.
	clk.sleepUntil(e2eD2)
	got := e2eReceived(t, api, sink, leads)
	for _, l := range []*e2eLead{cleo, dan} {
		if w := e2eTemplates(e2eWarm(got[l.id])); w != "warm-d0,warm-d1" {
			t.Errorf("%s received %q by D2 (%s); want warm-d0,warm-d1", l.name, w, clk.now().Format(time.RFC3339))
		}
	}
	var ev struct {
		EventID int64 `json:"event_id"`
	}
	api.must(t, 201, "POST", "/api/v1/events", map[string]any{"contact_id": cleo.id, "type": "meeting_booked"}, &ev)
	api.must(t, 201, "POST", fmt.Sprintf("/api/v1/contacts/%d/activities", dan.id), map[string]any{"type": "call", "by": "sam",
		"notes": "Called back, takes it from here"}, nil)
	d2 := clk.now()
	t.Logf("D2 (%s): meeting_booked for Cleo, a call logged with Dan", d2.Format(time.RFC3339))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, _ := e2eEnrolment(e2eEnrolments(t, api, cleo.id), "warm-lead")
		dens := e2eEnrolments(t, api, dan.id)
		dw, _ := e2eEnrolment(dens, "warm-lead")
		dr, _ := e2eEnrolment(dens, "reactivation")
		done := c.Status == "exited" && dw.Status == "exited" && dr.Status == "exited"
		if done || time.Now().After(deadline) {
			if c.Status != "exited" || c.Reason != "goal" {
				t.Errorf("Cleo's warm-lead enrolment after a meeting booked on D2: %s %q; want exited, goal", c.Status, c.Reason)
			}
			for _, e := range dens {
				if slices.Contains([]string{"active", "waiting", "paused"}, e.Status) {
					t.Errorf("Dan's %s enrolment is still %s after a take-over on D2", e.Journey, e.Status)
				}
			}
			for _, e := range []store.Enrolment{dw, dr} {
				if e.Status != "exited" || e.Reason != "human_takeover" {
					t.Errorf("Dan's %s enrolment after a call on D2: %s %q; want exited, human_takeover", e.Journey, e.Status, e.Reason)
				}
			}
			t.Logf("Cleo: warm-lead %s (%s) at %s; Dan: warm-lead %s (%s), reactivation %s (%s)", c.Status, c.Reason,
				c.UpdatedAt.Format(time.RFC3339), dw.Status, dw.Reason, dr.Status, dr.Reason)
			break
		}
	}

	// Until Ada and Ben have the five messages.
	deadline := clk.wallAt(e2eEnd).Add(15 * time.Second)
	for {
		got = e2eReceived(t, api, sink, leads)
		if len(e2eWarm(got[ada.id])) >= 5 && len(e2eWarm(got[ben.id])) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			for _, l := range []*e2eLead{ada, ben} {
				t.Errorf("%s received %q by %s; enrolments %+v", l.name, e2eTemplates(e2eWarm(got[l.id])),
					clk.now().Format(time.RFC3339), e2eEnrolments(t, api, l.id))
			}
			t.FailNow()
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The outcome of the last sends is recorded after the sink accepted them.
	time.Sleep(300 * time.Millisecond)
	got = e2eReceived(t, api, sink, leads)

	want := make([]string, len(e2eWarmSteps))
	for i, s := range e2eWarmSteps {
		want[i] = s.template
	}
	for _, l := range []*e2eLead{ada, ben} {
		ms := e2eWarm(got[l.id])
		if g := e2eTemplates(ms); g != strings.Join(want, ",") {
			t.Errorf("%s received %s; want %s, in that order, once each", l.name, g, strings.Join(want, ","))
		}
		for i, m := range ms {
			local, queued := m.date.In(l.loc), m.queued.In(l.loc)
			gap := ""
			if i > 0 {
				gap = fmt.Sprintf(", %.1f h after the previous", m.date.Sub(ms[i-1].date).Hours())
			}
			t.Logf("%-4s %s sent %s local (%s UTC), queued %s, dispatched %v later%s", l.name, m.template,
				local.Format("Mon 02 Jan 15:04"), m.date.UTC().Format("02 Jan 15:04"), queued.Format("15:04:05"),
				m.date.Sub(m.queued.Truncate(time.Second)).Round(time.Second), gap)
			if e2eQuiet(local) || e2eQuiet(queued) {
				t.Errorf("%s's %s was queued at %s and sent at %s local: in quiet hours (21:00–08:00 %s)", l.name, m.template,
					queued.Format("Mon 15:04:05"), local.Format("Mon 15:04:05"), l.tz)
			}
			if m.status != store.MessageSent {
				t.Errorf("%s's %s (m-%d) is %s in the outbox after it arrived", l.name, m.template, m.id, m.status)
			}
			if !strings.Contains(m.listID, "warm-lead") {
				t.Errorf("%s's %s has List-Id %q; want the journey's", l.name, m.template, m.listID)
			}
			if i == 0 || i >= len(e2eWarmSteps) {
				continue
			}
			// The wait starts when the previous step ran: the queue times
			// are at least the wait apart, exactly; the Date headers up to
			// the dispatch delays of the two messages (minutes virtual).
			w := e2eWarmSteps[i].wait
			if qgap := m.queued.Sub(ms[i-1].queued); qgap < w || qgap > w+12*time.Hour {
				t.Errorf("%s's %s was queued %v after %s; want %v to %v", l.name, m.template, qgap, ms[i-1].template, w, w+12*time.Hour)
			}
			if dgap := m.date.Sub(ms[i-1].date); dgap < w-time.Hour {
				t.Errorf("%s's %s was sent %v after %s; want about %v", l.name, m.template, dgap, ms[i-1].template, w)
			}
		}
		// Each entered in quiet hours: D0 was deferred to 08:00 local, and
		// the timeline says so.
		var d0 map[string]any
		for _, d := range e2eDeferrals(t, api, l.id) {
			u, _ := time.Parse(time.RFC3339, fmt.Sprint(d["until"]))
			t.Logf("%-4s %v step %v deferred (%v) until %s local", l.name, d["journey"], d["step"], d["reason"], u.In(l.loc).Format("Mon 02 Jan 15:04"))
			if d["journey"] == "warm-lead" && d["step"] == "d0" {
				d0 = d
			}
		}
		until, _ := time.Parse(time.RFC3339, fmt.Sprint(d0["until"]))
		if d0 == nil || d0["reason"] != "quiet_hours" || until.In(l.loc).Format("15:04") != "08:00" {
			t.Errorf("%s's D0 deferral on the timeline: %v; want quiet_hours until 08:00 local", l.name, d0)
		} else if len(ms) > 0 && ms[0].queued.Before(until) {
			t.Errorf("%s's D0 was queued at %s, before the end of the quiet hours %s", l.name, ms[0].queued, until)
		}
		if e, _ := e2eEnrolment(e2eEnrolments(t, api, l.id), "warm-lead"); e.Status != "completed" {
			t.Errorf("%s's warm-lead enrolment is %s %q after D7; want completed", l.name, e.Status, e.Reason)
		}
	}
	// Cleo and Dan: D0 and D1, sent before D2, and nothing since (their D3
	// was due about a day after D2, and it is now D8).
	for _, l := range []*e2eLead{cleo, dan} {
		ms := e2eWarm(got[l.id])
		if g := e2eTemplates(ms); g != "warm-d0,warm-d1" {
			t.Errorf("%s received %s by the end; want warm-d0,warm-d1 (stopped on D2)", l.name, g)
		}
		for _, m := range ms {
			t.Logf("%-4s %s sent %s local", l.name, m.template, m.date.In(l.loc).Format("Mon 02 Jan 15:04"))
			if !m.date.Before(d2) || e2eQuiet(m.date.In(l.loc)) {
				t.Errorf("%s's %s was sent at %s local; want before D2 (%s) and outside quiet hours", l.name, m.template,
					m.date.In(l.loc).Format(time.RFC3339), d2.In(l.loc).Format(time.RFC3339))
			}
		}
		var outbox []store.Message
		api.must(t, 200, "GET", fmt.Sprintf("/api/v1/messages?contact_id=%d&limit=200", l.id), nil, &outbox)
		for _, m := range outbox {
			if strings.HasPrefix(m.Template, "warm-") && !slices.Contains([]string{"warm-d0", "warm-d1"}, m.Template) {
				t.Errorf("%s has %s in the outbox (%s, queued %s) after leaving on D2", l.name, m.Template, m.Status, m.CreatedAt.Format(time.RFC3339))
			}
		}
	}
	t.Logf("%s: virtual %s to %s in %.1fs real", db.Name, e2eStart.Format(time.RFC3339), clk.now().Format(time.RFC3339), time.Since(began).Seconds())
}

// e2eTimerJourney is the benchmark's journey: D0, 10 s, D1, transactional
// (exempt from the frequency cap) and without quiet hours.
const e2eTimerJourney = `name: timer-bench
trigger: {event: form_submitted}
entry: {require: [email]}
quiet_hours: {off: true}
steps:
  - {id: d0, send: {channel: email, template: bench-d0, kind: transactional}}
  - {id: w, wait: 10s}
  - {id: d1, send: {channel: email, template: bench-d1, kind: transactional}}
`

// BenchmarkJourneyTimerLateness measures how late due journey steps run on
// a server with the real clock: 2,000 contacts enter a journey over 10 s
// (a batch of 10 every 50 ms), each D1 falls due 10 s after its D0, and the
// lateness of a D1 is its message's created_at minus (D0's created_at +
// 10 s). Reports p50-ms, p99-ms and max-ms; the work is done once.
//
//	go test -run '^$' -bench JourneyTimerLateness -benchtime 1x ./cmd/nurture/
func BenchmarkJourneyTimerLateness(b *testing.B) {
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			var late []time.Duration
			for b.Loop() {
				late = e2eTimerLateness(b, db)
			}
			b.StopTimer()
			slices.Sort(late)
			pct := func(p float64) float64 {
				return float64(late[int(p*float64(len(late)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(late[len(late)-1])/float64(time.Millisecond), "max-ms")
			b.Logf("%s: %d D1 steps; lateness min %v p50 %.0fms p99 %.0fms max %v", db.Name, len(late), late[0], pct(0.5), pct(0.99), late[len(late)-1])
		})
	}
}

func e2eTimerLateness(b *testing.B, db storetest.DB) []time.Duration {
	const contacts, perBatch, every, wait = 2000, 10, 50 * time.Millisecond, 10 * time.Second
	ctx := context.Background()
	args, cfg := dbArgs(b, db)
	st, err := store.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"bench-d0", "bench-d1"} {
		if _, _, err := st.SaveTemplate(ctx, store.TemplateInput{Name: name, Channel: "email", Subject: name + " for {{ contact.email }}",
			HTML: "<p>Hello</p>", By: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := st.SaveJourney(ctx, []byte(e2eTimerJourney)); err != nil {
		b.Fatal(err)
	}
	key := e2eAPIKey(b, args)
	sink, err := smtptest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	sink.Discard()
	api := e2eAPI{base: e2eServe(b, append(args, "--smtp-url", sink.URL(), "--mail-from", "Acme <news@acme.test>")), key: key}

	// Enrol: a batch every 50 ms, each on its own so a slow answer does
	// not hold the next one back.
	var wg sync.WaitGroup
	errs := make(chan error, contacts/perBatch)
	tick := time.NewTicker(every)
	for i := 0; i < contacts; i += perBatch {
		<-tick.C
		wg.Go(func() {
			var evs []map[string]any
			for k := i; k < i+perBatch; k++ {
				evs = append(evs, map[string]any{"email": fmt.Sprintf("t%d@example.com", k), "type": "form_submitted"})
			}
			var res struct{ Accepted int }
			code, body, err := api.do("POST", "/api/v1/events/batch", map[string]any{"events": evs}, &res)
			if err == nil && (code != 200 || res.Accepted != perBatch) {
				err = fmt.Errorf("batch %d: %d, %d accepted\n%s", i/perBatch, code, res.Accepted, body)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	tick.Stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	// The last D1 falls due 10 s after the last batch: look then.
	time.Sleep(wait)
	var msgs []store.Message
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if msgs, err = st.ListMessages(ctx, store.MessagesParams{Limit: 3 * contacts}); err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.Template == "bench-d1" {
				n++
			}
		}
		if n == contacts {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d D1 messages queued a minute after they fell due", n, contacts)
		}
	}
	d0 := map[int64]time.Time{}
	for _, m := range msgs {
		if m.Template == "bench-d0" {
			d0[m.ContactID] = m.CreatedAt
		}
	}
	var late []time.Duration
	for _, m := range msgs {
		if m.Template != "bench-d1" {
			continue
		}
		t0, ok := d0[m.ContactID]
		if !ok {
			b.Fatalf("contact %d has a D1 and no D0", m.ContactID)
		}
		late = append(late, m.CreatedAt.Sub(t0.Add(wait)))
	}
	return late
}
