package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

const day = 24 * time.Hour

// eachRaw is storetest.Each with a second, independent connection to the
// same database, for the tables the store has no reader for (score_state,
// score_ledger, timers, bant, jobs): Counts and DumpForTest do not cover them.
func eachRaw(t *testing.T, fn func(t *testing.T, s *store.Store, clk *clock.Fake, db *sql.DB)) {
	t.Helper()
	for _, kind := range storetest.DBs() {
		t.Run(kind.Name, func(t *testing.T) {
			clk := clock.NewFake(storetest.Epoch)
			cfg := storetest.Config(t, kind)
			cfg.Clock = clk
			s, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("open %s: %v", kind.Name, err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate %s: %v", kind.Name, err)
			}
			var db *sql.DB
			if kind.Name == "sqlite" {
				db, err = sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, "nurture.db")+
					"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
			} else {
				db, err = sql.Open("pgx", cfg.DatabaseURL)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, s, clk, db)
		})
	}
}

// rowsOf counts a contact's rows in a table.
func rowsOf(t *testing.T, db *sql.DB, table string, contactID int64) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE contact_id = %d", table, contactID)).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// dumpTables returns every value of every row of the tables, in a stable order.
func dumpTables(t *testing.T, db *sql.DB, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY 1, 2")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		fmt.Fprintf(&b, "== %s\n", table)
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v\t", v)
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return b.String()
}

var allTables = []string{"contacts", "contact_tags", "events", "consents", "scoring_rules", "score_state",
	"score_ledger", "timers", "tasks", "bant", "jobs"}

func newContact(t *testing.T, s *store.Store, in contact.Input) int64 {
	t.Helper()
	r, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, in)})
	if err != nil {
		t.Fatalf("WriteContact(%+v): %v", in, err)
	}
	return r.Contact.ID
}

// send appends one event at the clock's time and returns its id.
func send(t *testing.T, s *store.Store, clk *clock.Fake, id int64, typ, props string) int64 {
	t.Helper()
	return sendAt(t, s, id, typ, props, clk.Now())
}

const pricingView = `{"url":"https://x.test/pricing"}`

// makeSalesReady sends the DOMAIN example's three events: 10 + 7 + 15 = 32.
func makeSalesReady(t *testing.T, s *store.Store, clk *clock.Fake, id int64) {
	t.Helper()
	send(t, s, clk, id, "page_viewed", pricingView)
	send(t, s, clk, id, "email_clicked", "")
	send(t, s, clk, id, "email_replied", "")
}

func scoreOf(t *testing.T, s *store.Store, id int64) store.ScoreReport {
	t.Helper()
	rep, err := s.Score(ctx, id)
	if err != nil {
		t.Fatalf("Score(%d): %v", id, err)
	}
	return rep
}

func rules(t *testing.T, s *store.Store) *score.Rules {
	t.Helper()
	r, err := s.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkLedger checks a score report against its own ledger: a base score is
// the sum of its rows (the breakdown covers every row), a sum score the sum
// of its parts, and each score's rows chain, each starting where the last ended.
func checkLedger(t *testing.T, r *score.Rules, rep store.ScoreReport) {
	t.Helper()
	sums := map[string]int{}
	for _, b := range rep.Breakdown {
		sums[b.Score] += b.Points
	}
	for name, def := range r.Doc.Scores {
		want := sums[name]
		if len(def.Sum) > 0 {
			want = 0
			for _, part := range def.Sum {
				want += rep.Scores[part]
			}
		}
		if got := rep.Scores[name]; got != want {
			t.Errorf("contact %d: %s = %d; its ledger gives %d", rep.ContactID, name, got, want)
		}
	}
	last := map[string]int{}
	for _, row := range rep.Ledger {
		if row.Before != last[row.Score] || row.After-row.Before != row.Points {
			t.Errorf("contact %d: ledger row %d of %s goes %d → %d by %d; the previous row ended at %d",
				rep.ContactID, row.ID, row.Score, row.Before, row.After, row.Points, last[row.Score])
		}
		last[row.Score] = row.After
	}
}

func fireAll(t *testing.T, s *store.Store) {
	t.Helper()
	for {
		n, err := s.FireTimers(ctx, 100)
		if err != nil {
			t.Fatalf("FireTimers: %v", err)
		}
		if n < 100 {
			return
		}
	}
}

func openTasks(t *testing.T, s *store.Store, id int64) []store.Task {
	t.Helper()
	tasks, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: id, Status: "open", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// history returns a contact's events, oldest first.
func history(t *testing.T, s *store.Store, id int64) []event.Event {
	t.Helper()
	evs, _, err := s.Timeline(ctx, id, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(evs)
	return evs
}

// ofType returns the events of one type.
func ofType(evs []event.Event, typ string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// The DOMAIN example, end to end: a pricing page (+10), a click (+7) and a
// reply (+15) make 32, past the sales-ready threshold of 25.
func TestScoringDomainExample(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "lead@example.com"})
		clk.Advance(time.Minute)
		at := clk.Now()
		res := s.AppendEvents(ctx, []store.EventInput{
			{ContactID: id, Type: "page_viewed", OccurredAt: at, Source: "api", Properties: json.RawMessage(pricingView)},
			{ContactID: id, Type: "email_clicked", OccurredAt: at, Source: "api"},
			{ContactID: id, Type: "email_replied", OccurredAt: at, Source: "api"},
		})
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("event %d: %v", i, r.Err)
			}
		}

		rep := scoreOf(t, s, id)
		if want := map[string]int{"fit": 0, "engagement": 32, "score": 32}; fmt.Sprint(rep.Scores) != fmt.Sprint(want) {
			t.Errorf("Scores = %v; want %v", rep.Scores, want)
		}
		if rep.Band != "sales-ready" || rep.RulesVersion != 1 {
			t.Errorf("band %q, rules version %d; want sales-ready, 1", rep.Band, rep.RulesVersion)
		}
		want := []struct {
			rule           string
			points, before int
			eventID        int64
		}{{"pricing-page", 10, 0, res[0].EventID}, {"email-click", 7, 10, res[1].EventID}, {"email-reply", 15, 17, res[2].EventID}}
		if len(rep.Ledger) != len(want) {
			t.Fatalf("ledger = %+v; want %d rows", rep.Ledger, len(want))
		}
		for i, w := range want {
			got := rep.Ledger[i]
			if got.RuleID != w.rule || got.Score != "engagement" || got.Points != w.points || got.Before != w.before ||
				got.After != w.before+w.points || got.EventID != w.eventID || got.RuleVersion != 1 || !got.At.Equal(at) || got.Reason != "" {
				t.Errorf("ledger[%d] = %+v; want %s +%d on engagement from %d, event %d, rule version 1, at %v",
					i, got.Entry, w.rule, w.points, w.before, w.eventID, at)
			}
		}
		checkLedger(t, rules(t, s), rep)
		if rep.InactiveDue == nil || !rep.InactiveDue.Equal(at.Add(30*day)) {
			t.Errorf("InactiveDue = %v; want %v", rep.InactiveDue, at.Add(30*day))
		}

		c, err := s.GetContact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Lifecycle != contact.LifecycleMQL {
			t.Errorf("lifecycle = %q; want mql", c.Lifecycle)
		}
		for _, tag := range []string{"education", "proof-and-framing"} {
			if slices.Contains(c.Tags, tag) {
				t.Errorf("tags = %v; want no %s once sales-ready", c.Tags, tag)
			}
		}
		tasks := openTasks(t, s, id)
		if len(tasks) != 1 || tasks[0].Title != "Propose a meeting slot + call" || tasks[0].Kind != "call" || tasks[0].Source != "scoring" {
			t.Fatalf("open tasks = %+v; want one call task \"Propose a meeting slot + call\" from scoring", tasks)
		}

		evs := history(t, s, id)
		if n := len(ofType(evs, event.SalesReady)); n != 1 {
			t.Errorf("sales_ready events = %d; want 1", n)
		}
		bands := ofType(evs, event.ScoreBandChanged)
		var moves []string
		for _, e := range bands {
			var p struct{ From, To string }
			json.Unmarshal(e.Properties, &p)
			moves = append(moves, p.From+"→"+p.To)
		}
		if got := strings.Join(moves, " "); got != "education→proof-and-framing proof-and-framing→sales-ready" {
			t.Errorf("score_band_changed moves = %s; want education→proof-and-framing proof-and-framing→sales-ready", got)
		}
		if n := len(ofType(evs, event.TaskCreated)); n != 1 {
			t.Errorf("task_created events = %d; want 1", n)
		}

		// Hysteresis: 31 quiet days take 10 points (32 → 22), still within 5
		// of the floor of 25, so the band holds; a click takes it back to 29,
		// which is no new entry, and so no second task.
		clk.Advance(31 * day)
		fireAll(t, s)
		if rep := scoreOf(t, s, id); rep.Scores["score"] != 22 || rep.Band != "sales-ready" {
			t.Errorf("after 31 quiet days: score %d band %q; want 22, sales-ready", rep.Scores["score"], rep.Band)
		}
		send(t, s, clk, id, "email_clicked", "")
		send(t, s, clk, id, "page_viewed", pricingView)
		rep = scoreOf(t, s, id)
		if rep.Scores["score"] != 39 || rep.Band != "sales-ready" {
			t.Errorf("after a click and a pricing view: score %d band %q; want 39, sales-ready", rep.Scores["score"], rep.Band)
		}
		checkLedger(t, rules(t, s), rep)
		all, _, err := s.ListTasks(ctx, store.ListTasksParams{ContactID: id, Limit: 100})
		if err != nil || len(all) != 1 {
			t.Errorf("tasks = %d, %v; want still 1", len(all), err)
		}
		if n := len(ofType(history(t, s, id), event.SalesReady)); n != 1 {
			t.Errorf("sales_ready events = %d; want still 1", n)
		}
	})
}

func nextTimer(t *testing.T, s *store.Store) time.Time {
	t.Helper()
	at, err := s.NextTimer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// decayRows returns a ledger's inactivity rows.
func decayRows(rep store.ScoreReport) []store.LedgerRow {
	var out []store.LedgerRow
	for _, row := range rep.Ledger {
		if row.Reason == score.ReasonDecay {
			out = append(out, row)
		}
	}
	return out
}

// Inactivity decay runs from the durable timers, on the fake clock: due 30
// days after the last activity, once per quiet period, never below the floor,
// and the timer goes away when there is nothing left to take.
func TestDecayByTimers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		at := func(d int) time.Time { return storetest.Epoch.Add(time.Duration(d) * day) }
		id := newContact(t, s, contact.Input{Email: "quiet@example.com"})
		if got := nextTimer(t, s); !got.IsZero() {
			t.Errorf("NextTimer before any activity = %v; want zero", got)
		}
		send(t, s, clk, id, "email_replied", "") // day 0: +15
		if got := nextTimer(t, s); !got.Equal(at(30)) {
			t.Errorf("NextTimer = %v; want day 30 (%v)", got, at(30))
		}

		clk.Advance(29 * day)
		if n, err := s.FireTimers(ctx, 100); n != 0 || err != nil {
			t.Errorf("FireTimers on day 29 = %d, %v; want nothing due", n, err)
		}
		if rep := scoreOf(t, s, id); len(rep.Ledger) != 1 || rep.Scores["engagement"] != 15 {
			t.Fatalf("day 29: engagement %d, ledger %+v; want 15 and the reply alone", rep.Scores["engagement"], rep.Ledger)
		}

		clk.Advance(2 * day) // day 31
		if n, err := s.FireTimers(ctx, 100); n != 1 || err != nil {
			t.Errorf("FireTimers on day 31 = %d, %v; want 1 contact", n, err)
		}
		rep := scoreOf(t, s, id)
		if d := decayRows(rep); len(d) != 1 || len(rep.Ledger) != 2 || d[0].Points != -10 || d[0].RuleID != "inactivity" ||
			d[0].EventID != 0 || !d[0].At.Equal(at(30)) || d[0].Score != "engagement" {
			t.Fatalf("day 31 ledger = %+v; want one decay row of -10 on engagement at day 30", rep.Ledger)
		}
		if n, err := s.FireTimers(ctx, 100); n != 0 || err != nil {
			t.Errorf("FireTimers again on day 31 = %d, %v; want nothing due", n, err)
		}
		if rep := scoreOf(t, s, id); len(rep.Ledger) != 2 || rep.Scores["engagement"] != 5 {
			t.Errorf("after a second FireTimers: engagement %d, %d ledger rows; want 5, 2", rep.Scores["engagement"], len(rep.Ledger))
		}
		if got := nextTimer(t, s); !got.Equal(at(60)) {
			t.Errorf("NextTimer = %v; want day 60", got)
		}

		// Day by day until day 240, with activity now and then: a page view on
		// day 40 (no points) moves the next decay to day 70, where it takes the
		// last 5 and stops; a reply and a click on days 100-101 (+22) start
		// it again: 131, 161, and 191 where it reaches the floor.
		activity := map[int][2]string{
			40:  {"page_viewed", `{"url":"https://x.test/blog"}`},
			100: {"email_replied", ""},
			101: {"email_clicked", ""},
		}
		activeOn := []int{0}
		for d := 32; d <= 240; d++ {
			clk.Set(at(d))
			if a, ok := activity[d]; ok {
				send(t, s, clk, id, a[0], a[1])
				activeOn = append(activeOn, d)
			}
			fireAll(t, s)
			rep := scoreOf(t, s, id)
			if v := rep.Scores["engagement"]; v < 0 {
				t.Fatalf("day %d: engagement %d; want never below 0", d, v)
			}
			if (d > 70 && d < 100 || d > 191) && !nextTimer(t, s).IsZero() {
				t.Fatalf("day %d: NextTimer = %v; want zero, the score is on its floor", d, nextTimer(t, s))
			}
		}
		rep = scoreOf(t, s, id)
		checkLedger(t, rules(t, s), rep)
		var got []string
		for _, row := range decayRows(rep) {
			got = append(got, fmt.Sprintf("day %d: %d", row.At.Sub(storetest.Epoch)/day, row.Points))
		}
		if want := "[day 30: -10 day 70: -5 day 131: -10 day 161: -10 day 191: -2]"; fmt.Sprint(got) != want {
			t.Errorf("decay rows = %v; want %s", got, want)
		}
		// At most one decay per 30 quiet days: each decay comes at least 30
		// days after the latest activity or decay before it.
		var prev time.Time
		for _, row := range rep.Ledger {
			for _, d := range activeOn {
				if a := at(d); !a.After(row.At) && a.After(prev) {
					prev = a
				}
			}
			if row.Reason == score.ReasonDecay {
				if row.At.Sub(prev) < 30*day {
					t.Errorf("decay at %v only %v after the previous activity or decay", row.At, row.At.Sub(prev))
				}
				prev = row.At
			}
		}
		if rep.Scores["engagement"] != 0 || rep.InactiveDue != nil {
			t.Errorf("day 240: engagement %d, inactivity due %v; want 0 and nothing due", rep.Scores["engagement"], rep.InactiveDue)
		}
	})
}

// Each contact decays on its own date.
func TestDecayTimersArePerContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		a := newContact(t, s, contact.Input{Email: "a@example.com"})
		b := newContact(t, s, contact.Input{Email: "b@example.com"})
		send(t, s, clk, a, "email_replied", "") // day 0
		clk.Advance(10 * day)
		send(t, s, clk, b, "email_replied", "") // day 10
		for _, tc := range []struct {
			day        int
			fired      int
			engA, engB int
			next       int
		}{
			{29, 0, 15, 15, 30},
			{31, 1, 5, 15, 40},
			{39, 0, 5, 15, 40},
			{41, 1, 5, 5, 60},
			{61, 1, 0, 5, 70},
			{71, 1, 0, 0, -1},
		} {
			clk.Set(storetest.Epoch.Add(time.Duration(tc.day) * day))
			n, err := s.FireTimers(ctx, 100)
			if err != nil || n != tc.fired {
				t.Errorf("day %d: FireTimers = %d, %v; want %d", tc.day, n, err, tc.fired)
			}
			ea, eb := scoreOf(t, s, a).Scores["engagement"], scoreOf(t, s, b).Scores["engagement"]
			if ea != tc.engA || eb != tc.engB {
				t.Errorf("day %d: engagement a=%d b=%d; want %d, %d", tc.day, ea, eb, tc.engA, tc.engB)
			}
			want := time.Time{}
			if tc.next >= 0 {
				want = storetest.Epoch.Add(time.Duration(tc.next) * day)
			}
			if got := nextTimer(t, s); !got.Equal(want) {
				t.Errorf("day %d: NextTimer = %v; want %v", tc.day, got, want)
			}
		}
	})
}

// A machine open (a privacy proxy, a scanner) scores nothing and is no
// activity; a human open scores 3.
func TestMachineOpenAddsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "open@example.com"})
		send(t, s, clk, id, "email_opened", `{"machine":true}`)
		rep := scoreOf(t, s, id)
		if len(rep.Ledger) != 0 || rep.Scores["score"] != 0 || rep.InactiveDue != nil {
			t.Errorf("after a machine open: score %d, ledger %+v, inactivity due %v; want nothing", rep.Scores["score"], rep.Ledger, rep.InactiveDue)
		}
		if got := nextTimer(t, s); !got.IsZero() {
			t.Errorf("NextTimer after a machine open = %v; want zero (not activity)", got)
		}
		clk.Advance(time.Hour)
		ev := send(t, s, clk, id, "email_opened", `{"machine":false}`)
		rep = scoreOf(t, s, id)
		if len(rep.Ledger) != 1 || rep.Ledger[0].RuleID != "email-open" || rep.Ledger[0].Points != 3 ||
			rep.Ledger[0].EventID != ev || rep.Scores["engagement"] != 3 {
			t.Errorf("after a human open: engagement %d, ledger %+v; want one email-open row of +3 for event %d", rep.Scores["engagement"], rep.Ledger, ev)
		}
		if got := nextTimer(t, s); !got.Equal(clk.Now().Add(30 * day)) {
			t.Errorf("NextTimer after a human open = %v; want %v", got, clk.Now().Add(30*day))
		}
	})
}

// traffic is what random traffic sends: scoring and non-scoring events,
// machine and human, activity and not.
var traffic = []struct{ typ, props string }{
	{"page_viewed", pricingView},
	{"page_viewed", `{"url":"https://x.test/fr/devis?ref=ad"}`},
	{"page_viewed", `{"url":"https://x.test/blog/pricing-tips"}`},
	{"email_clicked", `{"url":"https://x.test/a"}`},
	{"email_clicked", `{"url":"https://x.test/a","machine":true}`},
	{"email_opened", `{"machine":false}`},
	{"email_opened", `{"machine":true}`},
	{"email_replied", ""},
	{"form_submitted", `{"form":"demo"}`},
	{"form_submitted", `{"form":"webinar"}`},
	{"form_submitted", `{"form":"newsletter"}`},
	{"meeting_booked", ""},
	{"custom_thing", `{"x":1}`},
}

var gaps = []time.Duration{0, time.Millisecond, time.Minute, 3 * time.Hour, day - time.Millisecond, day, 3 * day, 7 * day, 30 * day, 45 * day}

// Under random traffic, clock moves and timer runs, every contact's scores
// stay the sum of their ledger, and the live scores are what a replay of the
// event log gives (a backtest of the rules in force changes nobody).
func TestLedgerSumsToScoresUnderRandomTraffic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		var ids []int64
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, 42))
			var batch []int64
			for i := range 4 {
				batch = append(batch, newContact(t, s, contact.Input{Email: fmt.Sprintf("r%d-%d@example.com", seed, i)}))
			}
			ids = append(ids, batch...)
			for range 50 {
				switch k := rng.IntN(20); {
				case k < 11:
					var in []store.EventInput
					for range 1 + rng.IntN(3) {
						e := traffic[rng.IntN(len(traffic))]
						ev := store.EventInput{ContactID: batch[rng.IntN(len(batch))], Type: e.typ, OccurredAt: clk.Now(), Source: "api"}
						if e.props != "" {
							ev.Properties = json.RawMessage(e.props)
						}
						in = append(in, ev)
					}
					for _, r := range s.AppendEvents(ctx, in) {
						if r.Err != nil {
							t.Fatalf("seed %d: append: %v", seed, r.Err)
						}
					}
				case k < 16:
					clk.Advance(gaps[rng.IntN(len(gaps))])
					if rng.IntN(3) > 0 {
						fireAll(t, s)
					}
				default:
					// Profile rules: a decision maker with a big potential value is fit.
					in := contact.Input{Role: []string{"CEO", "intern", "Head of Sales"}[rng.IntN(3)]}
					if rng.IntN(2) == 0 {
						v := []float64{100, 5000, 20000}[rng.IntN(3)]
						in.PotentialValue = &v
					}
					if _, err := s.PatchContact(ctx, batch[rng.IntN(len(batch))], norm(t, in), "api"); err != nil {
						t.Fatalf("seed %d: patch: %v", seed, err)
					}
				}
			}
		}
		fireAll(t, s)
		r := rules(t, s)
		for _, id := range ids {
			rep := scoreOf(t, s, id)
			checkLedger(t, r, rep)
			for _, row := range rep.Ledger {
				if row.After < 0 {
					t.Errorf("contact %d: ledger row %+v goes below the floor of 0", id, row.Entry)
				}
			}
		}
		bt, err := s.BacktestRules(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if bt.Contacts != int64(len(ids)) || bt.Changed != 0 {
			t.Errorf("backtest of the rules in force: %d contacts, %d changed; want %d, 0", bt.Contacts, bt.Changed, len(ids))
		}
	})
}

// qualify takes a new contact through the meetings to qualified, with the
// BANT that needs confirmed.
func qualify(t *testing.T, s *store.Store, clk *clock.Fake, id int64) {
	t.Helper()
	for _, stage := range []string{"meeting_booked", "meeting_held"} {
		if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: stage, By: "sam"}); err != nil {
			t.Fatalf("move contact %d to %s: %v", id, stage, err)
		}
	}
	confirmed := func(v string) pipeline.Criterion {
		return pipeline.Criterion{Value: v, Source: "call", ConfirmedBy: "sam", ConfirmedAt: clk.Now()}
	}
	if _, err := s.SetBANT(ctx, id, map[string]pipeline.Criterion{
		"need": confirmed("reporting"), "timing": confirmed("Q3"), "budget": confirmed("€20k")}); err != nil {
		t.Fatalf("SetBANT(%d): %v", id, err)
	}
	if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "qualified", By: "sam"}); err != nil {
		t.Fatalf("move contact %d to qualified: %v", id, err)
	}
}

// pricingRules returns the default rules with the pricing page worth points.
func pricingRules(t *testing.T, points int) *score.Rules {
	t.Helper()
	src := string(score.DefaultSource())
	// The first "points: 10" is the pricing page's; the webinar's stays.
	changed := strings.Replace(src, "points: 10", fmt.Sprintf("points: %d", points), 1)
	r, err := score.Parse([]byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	if r.Doc.Rules[0].ID != "pricing-page" || r.Doc.Rules[0].Points != points {
		t.Fatalf("changed rules: first rule %s gives %d; want pricing-page, %d", r.Doc.Rules[0].ID, r.Doc.Rules[0].Points, points)
	}
	return r
}

// checkDistribution checks that a backtest distribution covers n contacts,
// and that every band's conversion rate is its converted over its outcomes.
func checkDistribution(t *testing.T, what string, d store.Distribution, n, outcomes, converted int64) {
	t.Helper()
	var contacts, known, conv, hist int64
	for _, b := range d.Bands {
		contacts += b.Contacts
		known += b.Outcomes
		conv += b.Converted
		switch {
		case b.Outcomes == 0 && b.ConversionRate != nil:
			t.Errorf("%s: band %s has no outcome but a conversion rate %v", what, b.Band, *b.ConversionRate)
		case b.Outcomes > 0 && (b.ConversionRate == nil || *b.ConversionRate != float64(b.Converted)/float64(b.Outcomes)):
			t.Errorf("%s: band %s: %d converted of %d outcomes, conversion rate %v", what, b.Band, b.Converted, b.Outcomes, b.ConversionRate)
		}
	}
	for _, h := range d.Histogram {
		hist += h.Contacts
	}
	if contacts != n || hist != n || known != outcomes || conv != converted {
		t.Errorf("%s: bands count %d contacts (histogram %d), %d outcomes, %d converted; want %d, %d, %d",
			what, contacts, hist, known, conv, n, outcomes, converted)
	}
}

// A rules change is first backtested (reading only), then applied: a new
// version, and a job that rescores every contact from its events.
func TestRescore(t *testing.T) {
	eachRaw(t, func(t *testing.T, s *store.Store, clk *clock.Fake, db *sql.DB) {
		const n = 50
		var ids []int64
		pricing := 0
		for i := range n {
			in := contact.Input{Email: fmt.Sprintf("c%02d@example.com", i)}
			if i%7 == 0 {
				in.Role = "CEO"
			}
			id := newContact(t, s, in)
			ids = append(ids, id)
			if i%2 == 0 {
				send(t, s, clk, id, "page_viewed", pricingView)
				pricing++
			}
			if i%3 == 0 {
				send(t, s, clk, id, "email_clicked", "")
			}
			if i%5 == 0 {
				send(t, s, clk, id, "email_replied", "")
			}
			if i%4 == 1 {
				send(t, s, clk, id, "email_opened", `{"machine":false}`)
			}
			switch i % 10 {
			case 0:
				qualify(t, s, clk, id)
				rev := 1000.0 * float64(i+1)
				if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "won", By: "sam", Revenue: &rev}); err != nil {
					t.Fatal(err)
				}
			case 1:
				if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "lost", Reason: "no_budget", By: "sam"}); err != nil {
					t.Fatal(err)
				}
			case 2:
				send(t, s, clk, id, "converted", "")
			}
			clk.Advance(time.Hour)
		}
		// Outcomes: 5 won, 5 lost, 5 converted; 10 of them converted.
		const outcomes, converted = 15, 10

		next := pricingRules(t, 20)
		before := dumpTables(t, db, allTables...)
		bt, err := s.BacktestRules(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if after := dumpTables(t, db, allTables...); after != before {
			t.Errorf("BacktestRules changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if bt.Contacts != n || bt.CurrentVersion != 1 || bt.Events == 0 {
			t.Errorf("backtest: %d contacts, version %d, %d events; want %d, 1, some", bt.Contacts, bt.CurrentVersion, bt.Events, n)
		}
		// Every contact that saw the pricing page gains 10 points.
		if bt.Changed != int64(pricing) {
			t.Errorf("backtest: %d changed; want %d (the contacts that saw the pricing page)", bt.Changed, pricing)
		}
		checkDistribution(t, "before", bt.Before, n, outcomes, converted)
		checkDistribution(t, "after", bt.After, n, outcomes, converted)
		if bt.After.Mean-bt.Before.Mean != 10*float64(pricing)/n {
			t.Errorf("mean %v → %v; want +%v", bt.Before.Mean, bt.After.Mean, 10*float64(pricing)/n)
		}
		var entering, leaving int64
		for _, c := range bt.Crossings {
			entering += c.Entering
			leaving += c.Leaving
		}
		if entering == 0 || entering != leaving {
			t.Errorf("crossings %+v: %d entering, %d leaving; want some, as many each way", bt.Crossings, entering, leaving)
		}

		version, job, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, 20), Comment: "pricing matters", By: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		if version != 2 || job.Status != "pending" || job.Version != 2 || job.Total != n {
			t.Errorf("ApplyRules = %d, %+v; want version 2 and a pending job for %d contacts", version, job, n)
		}
		var seen []store.Job
		ran, err := s.RunJob(ctx, func(j store.Job) { seen = append(seen, j) })
		if !ran || err != nil {
			t.Fatalf("RunJob = %v, %v; want true, nil", ran, err)
		}
		if len(seen) == 0 || seen[len(seen)-1].Status != "done" {
			t.Errorf("progress saw %+v; want it to end done", seen)
		}
		got, err := s.GetJob(ctx, job.ID)
		if err != nil || got.Status != "done" || got.Done != n || got.Total != n || got.FinishedAt == nil {
			t.Errorf("GetJob = %+v, %v; want done, %d of %d", got, err, n, n)
		}
		if ran, err := s.RunJob(ctx, nil); ran || err != nil {
			t.Errorf("RunJob with nothing pending = %v, %v; want false, nil", ran, err)
		}

		r := rules(t, s)
		if r.Version != 2 {
			t.Errorf("rules in force: version %d; want 2", r.Version)
		}
		for i, id := range ids {
			rep := scoreOf(t, s, id)
			checkLedger(t, r, rep)
			for _, row := range rep.Ledger {
				wantVersion := 1
				if row.RuleID == "pricing-page" {
					wantVersion = 2
					if row.Points != 20 {
						t.Errorf("contact %d: pricing row gives %d; want 20", id, row.Points)
					}
				}
				if row.RuleVersion != wantVersion {
					t.Errorf("contact %d: %s row has rule version %d; want %d", id, row.RuleID, row.RuleVersion, wantVersion)
				}
			}
			if i%2 == 0 {
				rescored := ofType(history(t, s, id), event.ScoreChanged)
				if len(rescored) != 1 || !strings.Contains(string(rescored[0].Properties), `"reason":"rescore"`) {
					t.Errorf("contact %d: score_changed events %+v; want one for the rescore", id, rescored)
				}
			}
		}
		if bt, err := s.BacktestRules(ctx, r); err != nil || bt.Changed != 0 {
			t.Errorf("backtest of the rules just applied: %d changed, %v; want 0", bt.Changed, err)
		}
		hist, err := s.RulesHistory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 || hist[0].Comment != "pricing matters" || hist[0].CreatedBy != "ops" {
			t.Fatalf("RulesHistory = %+v; want versions 2 and 1", hist)
		}
		if rv := hist[0].RuleVersions; rv["pricing-page"] != 2 || rv["email-click"] != 1 || rv["inactivity"] != 1 {
			t.Errorf("version 2 rule versions = %v; want pricing-page 2, the others 1", rv)
		}

		// A version applied before the previous one's job ran supersedes it.
		_, job3, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, 30)})
		if err != nil {
			t.Fatal(err)
		}
		_, job4, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, 40)})
		if err != nil {
			t.Fatal(err)
		}
		if ran, err := s.RunJob(ctx, nil); !ran || err != nil {
			t.Fatalf("RunJob = %v, %v; want true, nil", ran, err)
		}
		if got, _ := s.GetJob(ctx, job3.ID); got.Status != "superseded" {
			t.Errorf("job of version 3 = %+v; want superseded", got)
		}
		if ran, err := s.RunJob(ctx, nil); !ran || err != nil {
			t.Fatalf("RunJob = %v, %v; want true, nil", ran, err)
		}
		if got, _ := s.GetJob(ctx, job4.ID); got.Status != "done" || got.Done != n {
			t.Errorf("job of version 4 = %+v; want done, %d", got, n)
		}
		if ran, _ := s.RunJob(ctx, nil); ran {
			t.Error("RunJob found a third job; want none")
		}
		for _, id := range ids[:4] {
			rep := scoreOf(t, s, id)
			checkLedger(t, rules(t, s), rep)
			for _, row := range rep.Ledger {
				if row.RuleID == "pricing-page" && (row.Points != 40 || row.RuleVersion != 4) {
					t.Errorf("contact %d: pricing row %+v; want 40 points, version 4", id, row.Entry)
				}
			}
		}
	})
}

// An upsert whose field change moves the contact into a band returns the
// contact as scoring left it (lifecycle raised, band tags), as a create does.
func TestUpsertReturnsTheContactAsScoringLeftIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "fit@example.com"})
		send(t, s, clk, id, "page_viewed", pricingView)
		send(t, s, clk, id, "email_clicked", "") // 17: proof-and-framing
		v := 5000.0
		// A decision maker with a fitting potential value: fit 10, score 27.
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api",
			Input: norm(t, contact.Input{Email: "fit@example.com", Role: "CEO", PotentialValue: &v})})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetContact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Lifecycle != contact.LifecycleMQL || scoreOf(t, s, id).Band != "sales-ready" {
			t.Fatalf("stored lifecycle %q, band %q; want mql, sales-ready", stored.Lifecycle, scoreOf(t, s, id).Band)
		}
		if got := res.Contact; got.Lifecycle != stored.Lifecycle || fmt.Sprint(got.Tags) != fmt.Sprint(stored.Tags) {
			t.Errorf("WriteContact returned lifecycle %q tags %v; the stored contact has %q %v",
				got.Lifecycle, got.Tags, stored.Lifecycle, stored.Tags)
		}
	})
}

// Rules may name any event type, including those the store writes itself (a
// logged call, a pipeline move). Live scoring must give them what a replay of
// the log gives them, or a rescore changes scores that no rule change touched.
func TestRulesOnStoreWrittenEventsScoreLiveAsInReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		src := string(score.DefaultSource())
		src = strings.Replace(src, "rules:\n", `rules:
  - id: call-logged
    event: activity_logged
    when: event.activity == "call"
    score: engagement
    points: 5
  - id: meeting-in-pipeline
    event: stage_changed
    when: event.to == "meeting_booked"
    score: engagement
    points: 20
`, 1)
		r, err := score.Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: r}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunJob(ctx, nil); err != nil {
			t.Fatal(err)
		}
		id := newContact(t, s, contact.Input{Email: "sales@example.com"})
		if _, err := s.LogActivity(ctx, id, pipeline.Activity{Type: "call", By: "sam"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MoveStage(ctx, id, store.MoveParams{Stage: "meeting_booked", By: "sam"}); err != nil {
			t.Fatal(err)
		}
		live := scoreOf(t, s, id)
		bt, err := s.BacktestRules(ctx, rules(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if bt.Changed != 0 {
			t.Errorf("live engagement %d (ledger %d rows), but a replay of the log changes %d contact(s)",
				live.Scores["engagement"], len(live.Ledger), bt.Changed)
		}
		if live.Scores["engagement"] != 25 {
			t.Errorf("engagement after a logged call and a move to meeting_booked = %d; want 5 + 20", live.Scores["engagement"])
		}
	})
}

// An activity event that arrives late (it occurred before decays already
// taken) must not make inactivity take points again for a quiet period that
// has already been charged.
func TestLateActivityTakesNoExtraDecay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		id := newContact(t, s, contact.Input{Email: "late@example.com"})
		send(t, s, clk, id, "email_replied", "") // day 0: 15
		send(t, s, clk, id, "email_clicked", "") // 22
		clk.Advance(65 * day)
		fireAll(t, s) // decays on days 30 and 60: 2
		if rep := scoreOf(t, s, id); rep.Scores["engagement"] != 2 || len(decayRows(rep)) != 2 {
			t.Fatalf("day 65: engagement %d, %d decays; want 2 after two", rep.Scores["engagement"], len(decayRows(rep)))
		}
		// A page view from day 20 arrives now, late; it is activity, worth nothing.
		r := s.AppendEvents(ctx, []store.EventInput{{ContactID: id, Type: "page_viewed", Source: "api",
			OccurredAt: storetest.Epoch.Add(20 * day), Properties: json.RawMessage(`{"url":"https://x.test/blog"}`)}})
		if r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		fireAll(t, s)
		rep := scoreOf(t, s, id)
		var days []string
		for _, row := range decayRows(rep) {
			days = append(days, fmt.Sprint(int(row.At.Sub(storetest.Epoch)/day)))
		}
		// Charged on days 30 and 60; the late view cannot undo that, but a
		// third decay on day 50, ten days before the one on day 60, charges the
		// same quiet days twice.
		if len(days) != 2 {
			t.Errorf("decays on days %v, engagement %d; want only days 30 and 60", days, rep.Scores["engagement"])
		}
		checkLedger(t, rules(t, s), rep)
	})
}

// A rescore stopped part way resumes where it was, and events ingested
// meanwhile end up scored as a replay of the log scores them.
func TestRescoreResumesAndRunsBesideIngest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		const n = 120 // more than one PostgreSQL chunk (100); one SQLite chunk (500)
		var ids []int64
		for i := range n {
			id := newContact(t, s, contact.Input{Email: fmt.Sprintf("j%03d@example.com", i)})
			ids = append(ids, id)
			if i%2 == 0 {
				send(t, s, clk, id, "page_viewed", pricingView)
			}
		}
		_, job, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, 20)})
		if err != nil {
			t.Fatal(err)
		}

		stop := ingest(s, clk, ids, false)
		// The worker stops (a shutdown) after the first chunk.
		runCtx, cancel := context.WithCancel(ctx)
		var first []store.Job
		ran, err := s.RunJob(runCtx, func(j store.Job) { first = append(first, j); cancel() })
		cancel()
		if !ran || err != nil && !errors.Is(err, context.Canceled) || len(first) != 1 {
			t.Fatalf("RunJob = %v, %v after progress %+v; want one chunk done", ran, err, first)
		}
		got, _ := s.GetJob(ctx, job.ID)
		if s.Dialect() == "postgres" {
			if got.Status == "done" || got.Status == "failed" || got.Done != 100 {
				t.Fatalf("stopped job = %+v; want unfinished with 100 done", got)
			}
			if got.Status == "running" {
				clk.Advance(2 * time.Minute) // not handed back: taken over once stale
			}
			var second []store.Job
			if ran, err := s.RunJob(ctx, func(j store.Job) { second = append(second, j) }); !ran || err != nil {
				t.Fatalf("RunJob on the stopped job = %v, %v; want it resumed", ran, err)
			}
			if len(second) != 1 || second[0].Done != n {
				t.Errorf("resumed progress = %+v; want one chunk, ending at %d", second, n)
			}
			got, _ = s.GetJob(ctx, job.ID)
		}
		if err := stop(); err != nil {
			t.Fatalf("ingest beside the rescore: %v", err)
		}
		if got.Status != "done" || got.Done != n || got.Total != n {
			t.Errorf("job = %+v; want done, %d of %d", got, n, n)
		}
		fireAll(t, s)
		r := rules(t, s)
		for _, id := range ids {
			checkLedger(t, r, scoreOf(t, s, id))
		}
		bt, err := s.BacktestRules(ctx, r)
		if err != nil || bt.Changed != 0 {
			t.Errorf("backtest of the rules in force after the rescore: %d changed, %v; want 0", bt.Changed, err)
		}
	})
}

// ingest sends events to the contacts from a few goroutines until the
// returned stop is called, which returns the first unexpected error. With
// unknown, every other request names a contact that does not exist (an
// erased one, say), which the store rejects on its own.
func ingest(s *store.Store, clk *clock.Fake, ids []int64, unknown bool) (stop func() error) {
	quit := make(chan struct{})
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			var err error
			defer func() { errs <- err }()
			for i := g; ; i += 4 {
				select {
				case <-quit:
					return
				default:
				}
				in := []store.EventInput{{ContactID: ids[i*7%len(ids)], Type: "email_clicked", OccurredAt: clk.Now(), Source: "api"}}
				if unknown && i%2 == 0 {
					in = []store.EventInput{{ContactID: 1 << 40, Type: "email_clicked", OccurredAt: clk.Now(), Source: "api"}}
				}
				for _, r := range s.AppendEvents(ctx, in) {
					if r.Err != nil && !(unknown && errors.Is(r.Err, contact.ErrNotFound)) {
						err = errors.Join(err, r.Err)
					}
				}
			}
		}()
	}
	return func() error {
		close(quit)
		var err error
		for range 4 {
			err = errors.Join(err, <-errs)
		}
		return err
	}
}

// A rescore chunk may share its transaction with ingest requests; one of
// those failing on its own (an event for a contact that is gone) must not
// make the rescore skip or double-count contacts.
func TestRescoreBesideFailingIngest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		const n = 40
		var ids []int64
		for i := range n {
			id := newContact(t, s, contact.Input{Email: fmt.Sprintf("f%03d@example.com", i)})
			ids = append(ids, id)
			send(t, s, clk, id, "page_viewed", pricingView)
		}
		// Whether a chunk shares a transaction with a failing request is up
		// to timing: a few rounds make it near certain on SQLite.
		for points := 20; points <= 70; points += 10 {
			_, job, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, points)})
			if err != nil {
				t.Fatal(err)
			}
			stop := ingest(s, clk, ids, true)
			ran, err := s.RunJob(ctx, nil)
			if err := stop(); err != nil {
				t.Fatalf("ingest: %v", err)
			}
			if !ran || err != nil {
				t.Fatalf("RunJob = %v, %v", ran, err)
			}
			if got, _ := s.GetJob(ctx, job.ID); got.Status != "done" || got.Done != n || got.Total != n {
				t.Errorf("pricing %d: job = %+v; want done, %d of %d", points, got, n, n)
			}
			skipped := 0
			for _, id := range ids {
				for _, row := range scoreOf(t, s, id).Ledger {
					if row.RuleID == "pricing-page" && row.Points != points {
						skipped++
					}
				}
			}
			if skipped > 0 {
				t.Errorf("pricing %d: %d of %d contacts not rescored", points, skipped, n)
			}
		}
	})
}

// What scoring writes itself (a band's lifecycle raise, sales_ready, the
// task) is never scored live; a replay of the log must not score it either,
// or a rescore under unchanged rules changes scores.
func TestRulesOnScoringsOwnEventsScoreLiveAsInReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		src := strings.Replace(string(score.DefaultSource()), "rules:\n", `rules:
  - id: became-mql
    event: lifecycle_changed
    when: event.to == "mql"
    score: engagement
    points: 5
`, 1)
		r, err := score.Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ApplyRules(ctx, store.ApplyRulesParams{Rules: r}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunJob(ctx, nil); err != nil {
			t.Fatal(err)
		}
		id := newContact(t, s, contact.Input{Email: "mql@example.com"})
		makeSalesReady(t, s, clk, id) // the band raises the lifecycle to mql
		if c, _ := s.GetContact(ctx, id); c.Lifecycle != contact.LifecycleMQL {
			t.Fatalf("lifecycle = %q; want mql", c.Lifecycle)
		}
		live := scoreOf(t, s, id)
		bt, err := s.BacktestRules(ctx, rules(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if bt.Changed != 0 {
			t.Errorf("live engagement %d, but a replay of the log changes %d contact(s)", live.Scores["engagement"], bt.Changed)
		}
	})
}

// Two nodes share a database. Rules applied on one are in force on the
// other "within rulesRecheck"; meanwhile the rescore may already have passed
// the contacts the other node scores with the old rules, and nothing scores
// them again. Every event after the apply must end up scored by the new rules.
func TestRulesAppliedOnOneNodeHoldOnTheOther(t *testing.T) {
	for _, kind := range storetest.DBs() {
		t.Run(kind.Name, func(t *testing.T) {
			clk := clock.NewFake(storetest.Epoch)
			cfg := storetest.Config(t, kind)
			cfg.Clock = clk
			var nodes [2]*store.Store
			for i := range nodes {
				s, err := store.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if err := s.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				nodes[i] = s
			}
			a, b := nodes[0], nodes[1]
			id := newContact(t, a, contact.Input{Email: "two@example.com"})
			send(t, b, clk, id, "email_clicked", "") // b has the rules in force at hand
			if _, _, err := a.ApplyRules(ctx, store.ApplyRulesParams{Rules: pricingRules(t, 20)}); err != nil {
				t.Fatal(err)
			}
			if ran, err := a.RunJob(ctx, nil); !ran || err != nil {
				t.Fatalf("RunJob = %v, %v", ran, err)
			}
			send(t, b, clk, id, "page_viewed", pricingView) // after the apply, and after the rescore
			rep := scoreOf(t, a, id)
			for _, row := range rep.Ledger {
				if row.RuleID == "pricing-page" && (row.Points != 20 || row.RuleVersion != 2) {
					t.Errorf("pricing view after the apply scored %+d under rule version %d; want +20 under version 2", row.Points, row.RuleVersion)
				}
			}
			if bt, err := a.BacktestRules(ctx, rules(t, a)); err != nil || bt.Changed != 0 {
				t.Errorf("backtest of the rules in force: %d changed, %v; want 0", bt.Changed, err)
			}
		})
	}
}
