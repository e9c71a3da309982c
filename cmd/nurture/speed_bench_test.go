package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// BenchmarkFirstTouch measures issue 7's promise on a real `nurture serve`
// with the real clock: from a lead accepted (its POST /api/v1/contacts
// answered 2xx) to its first-touch email received by an SMTP server on
// loopback. Each lead is routed in the transaction that creates it (a team
// open 24/7, three owners in round robin, routing rules with only a default
// team), which queues the in-hours first-contact email and the owner's call
// task. Leads arrive open loop at a fixed rate, each request sent at its
// time on the schedule whatever became of the ones before, for
// NURTURE_BENCH_FIRST_TOUCH_SECONDS (default 10). Reports the latency's
// p50-ms, p99-ms and max-ms (an email read before its lead's answer counts
// as 0 in them; early says how many), the leads/s achieved and the share of
// leads whose email arrived, which must be 1.
//
//	go test -run '^$' -bench FirstTouch -benchtime 1x ./cmd/nurture/
func BenchmarkFirstTouch(b *testing.B) {
	dur := 10 * time.Second
	if v := os.Getenv("NURTURE_BENCH_FIRST_TOUCH_SECONDS"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 {
			b.Fatalf("NURTURE_BENCH_FIRST_TOUCH_SECONDS=%q: want a number of seconds", v)
		}
		dur = time.Duration(s * float64(time.Second))
	}
	for _, db := range storetest.DBs() {
		b.Run(db.Name, func(b *testing.B) {
			for _, rate := range []int{100, 1000} {
				b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) {
					var r ftResult
					for b.Loop() {
						r = firstTouch(b, db, rate, dur)
					}
					b.StopTimer()
					r.report(b, db.Name, rate)
				})
			}
		})
	}
}

// ftOwners are the team's members, in turn order.
var ftOwners = []string{"ann", "ben", "cat"}

// ftLead is one lead of the run and what became of it.
type ftLead struct {
	email    string
	due      time.Time // its time on the schedule
	sent     time.Time // when its request left
	accepted time.Time // when its 2xx was read
	id       int64
	owner    string
	err      error
}

// ftResult is what a run measured.
type ftResult struct {
	leads   int
	late    []time.Duration   // received − accepted, sorted; negative: the email came first
	http    []time.Duration   // request sent → 2xx read, sorted
	lag     []time.Duration   // request sent − its time on the schedule, sorted
	queued  []time.Duration   // outbox created_at (in the lead's transaction) → received, sorted
	commit  []time.Duration   // outbox created_at → 2xx read, sorted
	before  []time.Duration   // request sent → outbox created_at, sorted
	second  [][]time.Duration // late by second of the schedule, sorted
	httpSec [][]time.Duration // http by second of the schedule, sorted
	span    time.Duration     // first request sent → last 2xx read
	cpu     ftCPU
	writes  string // the store's group commits
	bursts  string // how the emails arrived
	arrived int
	owners  map[string]int
}

// ftPct is the p-quantile of sorted durations, in milliseconds; negative
// durations count as 0.
func ftPct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	return float64(max(d[int(p*float64(len(d)-1))], 0)) / float64(time.Millisecond)
}

func (r ftResult) report(b *testing.B, db string, rate int) {
	b.Helper()
	early := 0
	for _, d := range r.late {
		if d < 0 {
			early++
		}
	}
	b.ReportMetric(ftPct(r.late, 0.50), "p50-ms")
	b.ReportMetric(ftPct(r.late, 0.99), "p99-ms")
	b.ReportMetric(ftPct(r.late, 1), "max-ms")
	b.ReportMetric(float64(r.leads)/r.span.Seconds(), "leads/s")
	b.ReportMetric(float64(r.arrived)/float64(r.leads), "arrived")
	b.ReportMetric(float64(early), "early")
	b.ReportMetric(ftPct(r.http, 0.99), "http-p99-ms")
	ms := func(d []time.Duration) string {
		return fmt.Sprintf("p50 %.1f p99 %.1f max %.1f ms", ftPct(d, 0.5), ftPct(d, 0.99), ftPct(d, 1))
	}
	// The testing package keeps 10 lines of a benchmark's log.
	b.Logf("%s at %d leads/s: %d leads in %v (%.0f/s; requests sent behind the schedule by %s), %d emails arrived, "+
		"%d before their lead's 2xx was read; owners %v", db, rate, r.leads, r.span.Round(time.Millisecond),
		float64(r.leads)/r.span.Seconds(), ms(r.lag), r.arrived, early, r.owners)
	b.Logf("  2xx read → email received:        %s (min %v)", ms(r.late), r.late[0].Round(10*time.Microsecond))
	b.Logf("  request sent → 2xx read (HTTP):    %s", ms(r.http))
	b.Logf("  request sent → outbox created_at:  %s (HTTP, auth, waiting for the writer; created_at is in ms)", ms(r.before))
	b.Logf("  outbox created_at → 2xx read:      %s (the lead's transaction, commit and answer)", ms(r.commit))
	b.Logf("  outbox created_at → email received: %s (commit, wake-up, claim, render, SMTP)", ms(r.queued))
	var p50, p99, h99 []string
	for i, d := range r.second {
		p50 = append(p50, fmt.Sprintf("%.0f", ftPct(d, 0.5)))
		p99 = append(p99, fmt.Sprintf("%.0f", ftPct(d, 0.99)))
		h99 = append(h99, fmt.Sprintf("%.0f", ftPct(r.httpSec[i], 0.99)))
	}
	b.Logf("  by second of the schedule, p50 ms: %s; p99 ms: %s; HTTP p99 ms: %s", strings.Join(p50, " "),
		strings.Join(p99, " "), strings.Join(h99, " "))
	b.Logf("  from the first lead to the last email: %s; CPU %s", r.writes, r.cpu)
	b.Logf("  %s", r.bursts)
}

func firstTouch(b *testing.B, db storetest.DB, rate int, dur time.Duration) ftResult {
	args, _ := dbArgs(b, db)
	key := e2eAPIKey(b, args)
	sink, err := ftStartSink()
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	srv, addr, _ := serve(b, append(args, "--smtp-url", sink.URL(), "--mail-from", "Acme <hello@acme.test>"))
	base := "http://" + addr
	api := e2eAPI{base: base, key: key}
	subject := ftSetup(b, api)

	// Open loop: a goroutine per request, sent at its time on the schedule,
	// over keep-alive connections opened beforehand.
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	ftWarm(b, client, base, 64)
	n := max(1, int(float64(rate)*dur.Seconds()))
	every := time.Second / time.Duration(rate)
	leads := make([]*ftLead, n)
	for i := range leads {
		leads[i] = &ftLead{email: fmt.Sprintf("lead-%d@example.com", i)}
	}
	commits0, writes0, errs0 := ftWriteStats(b, base)
	cpu0 := ftReadCPU(srv.Process.Pid)
	start := time.Now().Add(20 * time.Millisecond)
	var wg sync.WaitGroup
	for i, l := range leads {
		l.due = start.Add(time.Duration(i) * every)
		if d := time.Until(l.due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() { ftPost(client, base, key, l) })
	}
	wg.Wait()

	var errs []string
	for _, l := range leads {
		if l.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", l.email, l.err))
		}
	}
	if len(errs) > 0 {
		b.Fatalf("%d of %d leads not accepted; the first: %s", len(errs), n, strings.Join(errs[:min(5, len(errs))], "; "))
	}

	// Every email, or none for a while: the end.
	for last, seen := time.Now(), 0; ; time.Sleep(20 * time.Millisecond) {
		k := sink.Count()
		if k >= n {
			break
		}
		if k > seen {
			last, seen = time.Now(), k
		}
		if time.Since(last) > 15*time.Second {
			break
		}
	}
	got := sink.Arrivals()
	r := ftResult{leads: n, owners: map[string]int{}, cpu: ftReadCPU(srv.Process.Pid).since(cpu0)}
	commits, writes, dbErrs := ftWriteStats(b, base)
	commits, writes, dbErrs = commits-commits0, writes-writes0, dbErrs-errs0
	r.writes = fmt.Sprintf("%.0f writes in %.0f write transactions (%.1f a commit, %.0f commits/s, %.0f database errors)",
		writes, commits, writes/commits, commits/r.cpu.wall.Seconds(), dbErrs)
	if args[0] == "--data-dir" {
		// The checkpointer keeps SQLite's write-ahead log small (store/checkpoint.go).
		if fi, err := os.Stat(filepath.Join(args[1], "nurture.db-wal")); err == nil {
			r.writes += fmt.Sprintf(", WAL file %.1f MiB", float64(fi.Size())/(1<<20))
		}
	}
	first, lastOK := leads[0].sent, leads[0].accepted
	var missing []string
	wrong := 0
	for _, l := range leads {
		first, lastOK = minTime(first, l.sent), maxTime(lastOK, l.accepted)
		r.http = append(r.http, l.accepted.Sub(l.sent))
		r.lag = append(r.lag, l.sent.Sub(l.due))
		r.owners[l.owner]++
		a, ok := got[l.email]
		if !ok {
			missing = append(missing, l.email)
			continue
		}
		r.arrived++
		r.late = append(r.late, a.at.Sub(l.accepted))
		sec := int(l.due.Sub(leads[0].due) / time.Second)
		for len(r.second) <= sec {
			r.second, r.httpSec = append(r.second, nil), append(r.httpSec, nil)
		}
		r.second[sec] = append(r.second[sec], a.at.Sub(l.accepted))
		r.httpSec[sec] = append(r.httpSec[sec], l.accepted.Sub(l.sent))
		if a.count != 1 || a.subject != subject {
			if wrong++; wrong > 5 {
				continue
			}
			b.Errorf("%s received %d emails, the first with subject %q; want one, %q", l.email, a.count, a.subject, subject)
		}
	}
	if wrong > 5 {
		b.Errorf("… %d leads in all without exactly one in-hours first-touch email", wrong)
	}
	r.span = lastOK.Sub(first)
	if len(missing) > 0 {
		b.Fatalf("%d of %d first-touch emails did not arrive (15 s without a new one); the first: %v", len(missing), n,
			missing[:min(5, len(missing))])
	}
	if extra := sink.Unknown(); extra > 0 {
		b.Errorf("the sink received %d emails to addresses no lead has", extra)
	}
	r.bursts = ftBursts(got)
	r.before, r.commit, r.queued = ftOutbox(b, api, leads, got)
	ftCheckRouting(b, api, leads)
	for _, d := range slices.Concat([][]time.Duration{r.late, r.http, r.lag, r.queued, r.commit, r.before}, r.second, r.httpSec) {
		slices.Sort(d)
	}
	return r
}

// ftSetup gives the server a team open 24/7 with three owners in round
// robin, the shipped first-contact templates and routing rules naming only
// the default team. It returns the subject of the in-hours email.
func ftSetup(b *testing.B, api e2eAPI) (subject string) {
	b.Helper()
	for _, o := range ftOwners {
		api.must(b, 201, "PUT", "/api/v1/owners/"+o, map[string]any{"display_name": strings.ToUpper(o[:1]) + o[1:],
			"email": o + "@acme.test", "time_zone": "UTC"}, nil)
	}
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = "00:00-24:00"
	}
	api.must(b, 201, "PUT", "/api/v1/teams/sales", map[string]any{"strategy": "round_robin", "time_zone": "UTC",
		"hours": hours, "members": ftOwners}, nil)
	for _, f := range []string{"first-contact-email", "first-contact-closed"} {
		src, err := examples.File("templates/" + f + ".yaml")
		if err != nil {
			b.Fatal(err)
		}
		var tp map[string]string
		if err := yaml.Unmarshal(src, &tp); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		api.must(b, 201, "POST", "/api/v1/templates", tp, nil)
		if f == "first-contact-email" {
			subject = tp["subject"]
		}
	}
	req, _ := http.NewRequest("PUT", api.base+"/api/v1/routing/rules", strings.NewReader("default_team: sales\n"))
	req.Header.Set("Authorization", "Bearer "+api.key)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		b.Fatalf("PUT /api/v1/routing/rules = %d; want 201\n%s", resp.StatusCode, body)
	}
	return subject
}

// ftWarm opens n keep-alive connections to the server, so the first
// leads do not pay for them.
func ftWarm(b *testing.B, client *http.Client, base string, n int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := client.Get(base + "/healthz")
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// ftPost creates a lead and notes when it was answered, with its id and owner.
func ftPost(client *http.Client, base, key string, l *ftLead) {
	body, _ := json.Marshal(map[string]any{"email": l.email, "first_name": "Lead", "source": "website", "offer": "demo"})
	req, err := http.NewRequest("POST", base+"/api/v1/contacts", bytes.NewReader(body))
	if err != nil {
		l.err = err
		return
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	l.sent = time.Now()
	resp, err := client.Do(req)
	if err != nil {
		l.err = err
		return
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	l.accepted = time.Now()
	if err != nil {
		l.err = err
		return
	}
	if resp.StatusCode/100 != 2 {
		l.err = fmt.Errorf("POST /api/v1/contacts = %d: %s", resp.StatusCode, data)
		return
	}
	var c struct {
		ID    int64
		Owner string
	}
	if err := json.Unmarshal(data, &c); err != nil {
		l.err = err
		return
	}
	l.id, l.owner = c.ID, c.Owner
}

// ftOutbox reads the first-touch messages and returns, per lead, the time
// from its request sent to its message's created_at (set in the
// transaction that created the lead), and from that to its 2xx read and to
// its email received.
func ftOutbox(b *testing.B, api e2eAPI, leads []*ftLead, got map[string]ftArrival) (before, commit, queued []time.Duration) {
	b.Helper()
	// The outcome of a send is recorded after the SMTP server accepted it:
	// the last ones may not be yet.
	var msgs []store.Message
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		msgs = msgs[:0]
		for after := int64(0); ; {
			var page []store.Message
			q := "/api/v1/messages?limit=1000"
			if after > 0 {
				q += "&after=" + strconv.FormatInt(after, 10)
			}
			api.must(b, 200, "GET", q, nil, &page)
			if len(page) == 0 {
				break
			}
			msgs = append(msgs, page...)
			after = page[len(page)-1].ID
		}
		if !slices.ContainsFunc(msgs, func(m store.Message) bool { return m.Status == store.MessageSending }) ||
			time.Now().After(deadline) {
			break
		}
	}
	created := map[int64]time.Time{}
	bad := 0
	for _, m := range msgs {
		var problem string
		_, twice := created[m.ContactID]
		switch {
		case m.Source != "first-contact" || m.Template != "first-contact-email":
			problem = fmt.Sprintf("%s from %s; want only first-contact-email from first-contact", m.Template, m.Source)
		case twice:
			problem = "a second first-touch message"
		case m.Status != store.MessageSent:
			problem = m.Status + " 30 s after it arrived; want sent"
		}
		if m.Source == "first-contact" && !twice {
			created[m.ContactID] = m.CreatedAt
		}
		if problem != "" {
			if bad++; bad <= 5 {
				b.Errorf("message m-%d to contact %d: %s", m.ID, m.ContactID, problem)
			}
		}
	}
	if bad > 5 {
		b.Errorf("… %d messages in all", bad)
	}
	for _, l := range leads {
		c, ok := created[l.id]
		if !ok {
			b.Errorf("lead %d (%s) has no first-touch message in the outbox", l.id, l.email)
			continue
		}
		before = append(before, c.Sub(l.sent.Round(0)))
		commit = append(commit, l.accepted.Round(0).Sub(c))
		queued = append(queued, got[l.email].at.Round(0).Sub(c))
	}
	return before, commit, queued
}

// ftCheckRouting checks that every lead was given an owner, in turn, and
// that owner a call task about it.
func ftCheckRouting(b *testing.B, api e2eAPI, leads []*ftLead) {
	b.Helper()
	count := map[string]int{}
	for _, l := range leads {
		count[l.owner]++
	}
	for o, n := range count {
		if !slices.Contains(ftOwners, o) {
			b.Errorf("%d leads have owner %q; want one of %v", n, o, ftOwners)
		}
	}
	lo, hi := len(leads), 0
	for _, o := range ftOwners {
		lo, hi = min(lo, count[o]), max(hi, count[o])
	}
	if hi-lo > 1 {
		b.Errorf("owners' shares of %d leads: %v; want round robin (within one)", len(leads), count)
	}
	tasks := map[int64][]store.Task{}
	for cursor := ""; ; {
		var page struct {
			Tasks      []store.Task
			NextCursor string `json:"next_cursor"`
		}
		api.must(b, 200, "GET", "/api/v1/tasks?limit=500&cursor="+cursor, nil, &page)
		for _, t := range page.Tasks {
			tasks[t.ContactID] = append(tasks[t.ContactID], t)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	bad := 0
	for _, l := range leads {
		ts := tasks[l.id]
		if len(ts) != 1 || ts[0].Kind != "call" || ts[0].Owner != l.owner || ts[0].Source != "first-contact" || ts[0].Status != "open" {
			if bad++; bad <= 5 {
				b.Errorf("lead %d (%s, owner %s) has tasks %+v; want one open call task of its owner from first-contact",
					l.id, l.email, l.owner, ts)
			}
		}
	}
	if bad > 5 {
		b.Errorf("… %d leads in all without their call task", bad)
	}
	// A few leads read back on their own: the owner is on the contact.
	for _, l := range []*ftLead{leads[0], leads[len(leads)/2], leads[len(leads)-1]} {
		var c struct{ Owner string }
		api.must(b, 200, "GET", "/api/v1/contacts/"+strconv.FormatInt(l.id, 10), nil, &c)
		if c.Owner != l.owner {
			b.Errorf("contact %d has owner %q; its 2xx said %q", l.id, c.Owner, l.owner)
		}
	}
}

// ftBursts says how the emails arrived: in bursts separated by 2 ms or
// more without one (the dispatcher sends what each claim took, then
// claims again).
func ftBursts(got map[string]ftArrival) string {
	var at []time.Time
	for _, a := range got {
		at = append(at, a.at)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	var sizes []int
	var apart []time.Duration
	start := 0
	for i := 1; i <= len(at); i++ {
		if i == len(at) || at[i].Sub(at[i-1]) >= 2*time.Millisecond {
			sizes = append(sizes, i-start)
			if i < len(at) {
				apart = append(apart, at[i].Sub(at[start]))
			}
			start = i
		}
	}
	slices.Sort(sizes)
	slices.Sort(apart)
	return fmt.Sprintf("emails arrived in %d bursts (2 ms apart or more): p50 %d, p99 %d, max %d emails a burst; "+
		"burst starts p50 %.1f ms, p99 %.1f ms apart", len(sizes), sizes[len(sizes)/2], sizes[len(sizes)*99/100],
		sizes[len(sizes)-1], ftPct(apart, 0.5), ftPct(apart, 0.99))
}

// ftWriteStats reads the store's write transactions, the writes they
// carried and its database errors from /metrics.
func ftWriteStats(b *testing.B, base string) (commits, writes, errs float64) {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		name, v, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil {
			continue
		}
		switch name {
		case "nurture_store_commits_total":
			commits = f
		case "nurture_store_writes_total":
			writes = f
		case "nurture_db_errors_total":
			errs = f
		}
	}
	return commits, writes, errs
}

// ftCPU is CPU time spent, from Linux's /proc and getrusage: by the
// machine, the server, and this process (the load generator and the SMTP
// server). The rest of the machine's is the database server's (PostgreSQL)
// and anything else running. Zero where /proc cannot be read.
type ftCPU struct {
	wall, machine, server, self time.Duration
	cores                       int
}

func ftReadCPU(pid int) ftCPU {
	c := ftCPU{wall: time.Duration(time.Now().UnixNano()), cores: runtime.NumCPU()}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseInt(f, 10, 64)
			if i != 3 && i != 4 && i < 7 { // user, nice, system, irq, softirq (guest time is in user)
				c.machine += time.Duration(v) * tick
			}
		}
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// After the command's name (in parentheses): utime and stime are
		// the 12th and 13th fields.
		if _, rest, ok := strings.Cut(string(data), ") "); ok {
			if f := strings.Fields(rest); len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				c.server = time.Duration(u+s) * tick
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c
}

func (c ftCPU) since(c0 ftCPU) ftCPU {
	return ftCPU{wall: c.wall - c0.wall, machine: c.machine - c0.machine, server: c.server - c0.server,
		self: c.self - c0.self, cores: c.cores}
}

func (c ftCPU) String() string {
	s := func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
	return fmt.Sprintf("%s of %s (%d cores × %s wall): server %s, load generator and SMTP sink %s, the rest %s",
		s(c.machine), s(time.Duration(c.cores)*c.wall), c.cores, s(c.wall), s(c.server), s(c.self),
		s(c.machine-c.server-c.self))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ftSink is an SMTP server on loopback (go-smtp, as smtptest.Server) that
// notes when each message's data has been read, by recipient.
// smtptest.Server keeps no arrival times, and reading its Messages at
// every arrival copies the whole list: quadratic over 10,000 messages, on
// the cores the server under test needs.
type ftSink struct {
	srv     *smtp.Server
	ln      net.Listener
	mu      sync.Mutex
	at      map[string]ftArrival
	unknown int
}

// ftArrival is the first message to a recipient: when its last byte was
// read, its subject, and how many came.
type ftArrival struct {
	at      time.Time
	subject string
	count   int
}

func ftStartSink() (*ftSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &ftSink{ln: ln, at: map[string]ftArrival{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &ftSession{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = 10 << 20
	go s.srv.Serve(ln)
	return s, nil
}

func (s *ftSink) URL() string { return "smtp://" + s.ln.Addr().String() + "?tls=none" }

func (s *ftSink) Close() { s.srv.Close() }

// Arrivals is a copy of the arrivals so far, by recipient.
func (s *ftSink) Arrivals() map[string]ftArrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ftArrival, len(s.at))
	for k, v := range s.at {
		out[k] = v
	}
	return out
}

// Count is how many leads' emails arrived.
func (s *ftSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

// Unknown is how many messages went to addresses not of a lead.
func (s *ftSink) Unknown() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unknown
}

type ftSession struct {
	s  *ftSink
	to []string
}

func (x *ftSession) Reset()                                    { x.to = nil }
func (x *ftSession) Logout() error                             { return nil }
func (x *ftSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (x *ftSession) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }

func (x *ftSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, m.Body); err != nil {
		return err
	}
	now := time.Now()
	subject := m.Header.Get("Subject")
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	for _, to := range x.to {
		to = strings.ToLower(to)
		if !strings.HasPrefix(to, "lead-") {
			x.s.unknown++
			continue
		}
		a, ok := x.s.at[to]
		if !ok {
			a = ftArrival{at: now, subject: subject}
		}
		a.count++
		x.s.at[to] = a
	}
	return nil
}
