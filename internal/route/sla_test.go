package route

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris wherever the tests run

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/score"
)

// slaTeamSet is the teams SLA validation knows (its own, so these tests
// do not lean on the routing rules' fixtures).
type slaTeamSet map[string]bool

func (t slaTeamSet) TeamExists(name string) bool { return t[name] }

var slaTeams = slaTeamSet{"inbound": true, "enterprise": true, "emea": true}

func slaParis(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// slaAt is a Paris wall time, "2026-11-30 09:15".
func slaAt(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, slaParis(t))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// slaCal is a Paris team: Mon–Fri 09:00-12:00 and 14:00-18:00, closed on
// Christmas.
func slaCal(t testing.TB) Calendar {
	t.Helper()
	day := "09:00-12:00, 14:00-18:00"
	h, err := ParseHours(map[string]string{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day})
	if err != nil {
		t.Fatal(err)
	}
	return Calendar{Loc: slaParis(t), Hours: h, Closed: map[Date]string{{2026, time.December, 25}: "Noël"}}
}

func slaVal(v float64) *float64 { return &v }

// checkSLA decodes a document holding an sla: key and validates it, as the
// routing document will.
func checkSLA(t *testing.T, src string) (*SLA, []score.Problem) {
	t.Helper()
	var doc struct {
		SLA *SLA `yaml:"sla"`
	}
	root, problems := score.ReadDocument([]byte(src), MaxDocumentBytes, &doc)
	if problems != nil {
		t.Fatalf("read %q: %v", src, problems)
	}
	c := &checker{root: root}
	c.sla(doc.SLA, slaTeams)
	return doc.SLA, c.problems
}

func TestSLAPlanParis(t *testing.T) {
	t.Parallel()
	cal := slaCal(t)
	p, ok := Plan(cal, slaAt(t, "2026-11-28 22:00"), 15*time.Minute, DefaultEscalation)
	if !ok {
		t.Fatal("Plan: ok = false")
	}
	if want := slaAt(t, "2026-11-30 09:00"); !p.Start.Equal(want) {
		t.Errorf("Start = %s; want %s", p.Start, want)
	}
	if want := slaAt(t, "2026-11-30 09:15"); !p.Due.Equal(want) {
		t.Errorf("Due = %s; want %s", p.Due, want)
	}
	want := []Mark{{0, slaAt(t, "2026-11-30 09:12")}, {1, slaAt(t, "2026-11-30 09:15")}, {2, slaAt(t, "2026-11-30 09:30")}}
	if !marksEqual(p.Marks, want) {
		t.Errorf("Marks = %v; want %v", p.Marks, want)
	}
}

func marksEqual(a, b []Mark) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Level != b[i].Level || !a[i].At.Equal(b[i].At) {
			return false
		}
	}
	return true
}

func TestSLAPlan(t *testing.T) {
	t.Parallel()
	cal := slaCal(t)
	for _, tt := range []struct {
		name, arrived string
		target        time.Duration
		start, due    string
		marks         []string // of DefaultEscalation, in order
	}{
		{"open, no break", "2026-12-01 10:00", 15 * time.Minute, "2026-12-01 10:00", "2026-12-01 10:15",
			[]string{"2026-12-01 10:12", "2026-12-01 10:15", "2026-12-01 10:30"}},
		{"over lunch", "2026-12-01 11:55", 15 * time.Minute, "2026-12-01 11:55", "2026-12-01 14:10",
			[]string{"2026-12-01 14:07", "2026-12-01 14:10", "2026-12-01 14:25"}},
		{"in the lunch break", "2026-12-01 12:30", 15 * time.Minute, "2026-12-01 14:00", "2026-12-01 14:15",
			[]string{"2026-12-01 14:12", "2026-12-01 14:15", "2026-12-01 14:30"}},
		{"due at closing time", "2026-12-01 11:45", 15 * time.Minute, "2026-12-01 11:45", "2026-12-01 12:00",
			[]string{"2026-12-01 11:57", "2026-12-01 12:00", "2026-12-01 14:15"}},
		{"Friday evening", "2026-12-04 17:55", 15 * time.Minute, "2026-12-04 17:55", "2026-12-07 09:10",
			[]string{"2026-12-07 09:07", "2026-12-07 09:10", "2026-12-07 09:25"}},
		{"Christmas skipped", "2026-12-24 17:55", 15 * time.Minute, "2026-12-24 17:55", "2026-12-28 09:10",
			[]string{"2026-12-28 09:07", "2026-12-28 09:10", "2026-12-28 09:25"}},
		{"arrived on Christmas", "2026-12-25 10:00", time.Hour, "2026-12-28 09:00", "2026-12-28 10:00",
			[]string{"2026-12-28 09:48", "2026-12-28 10:00", "2026-12-28 11:00"}},
		// 7 open hours a day: "1d" is three days and three hours.
		{"a day of business time", "2026-12-01 09:00", 24 * time.Hour, "2026-12-01 09:00", "2026-12-04 12:00",
			[]string{"2026-12-03 16:12", "2026-12-04 12:00", "2026-12-09 17:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, ok := Plan(cal, slaAt(t, tt.arrived), tt.target, DefaultEscalation)
			if !ok {
				t.Fatal("ok = false")
			}
			if want := slaAt(t, tt.start); !p.Start.Equal(want) {
				t.Errorf("Start = %s; want %s", p.Start, want)
			}
			if want := slaAt(t, tt.due); !p.Due.Equal(want) {
				t.Errorf("Due = %s; want %s", p.Due, want)
			}
			var want []Mark
			for k, m := range tt.marks {
				want = append(want, Mark{k, slaAt(t, m)})
			}
			if !marksEqual(p.Marks, want) {
				t.Errorf("Marks = %v; want %v", p.Marks, want)
			}
			if p.Start.Location() != cal.Loc || p.Due.Location() != cal.Loc {
				t.Errorf("Start, Due in %s, %s; want Paris", p.Start.Location(), p.Due.Location())
			}
		})
	}
}

func TestSLAPlanNever(t *testing.T) {
	t.Parallel()
	if _, ok := Plan(Calendar{Loc: slaParis(t)}, slaAt(t, "2026-12-01 10:00"), 15*time.Minute, DefaultEscalation); ok {
		t.Error("Plan on an empty week: ok = true; want false")
	}
	// One open hour a week cannot give 30 days of business time within a year.
	h, err := ParseHours(map[string]string{"mon": "09:00-10:00"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Plan(Calendar{Loc: slaParis(t), Hours: h}, slaAt(t, "2026-12-01 10:00"), MaxTarget, nil); ok {
		t.Error("Plan beyond the horizon: ok = true; want false")
	}
	// A level beyond the horizon has no mark; the others do.
	p, ok := Plan(slaCal(t), slaAt(t, "2026-12-01 10:00"), MaxTarget, []Level{{At: 50}, {At: 1000}})
	if !ok || len(p.Marks) != 1 || p.Marks[0].Level != 0 {
		t.Errorf("Plan(30d, 50%% and 1000%%) = %v, %v; want one mark, level 0", p.Marks, ok)
	}
}

func TestSLAState(t *testing.T) {
	t.Parallel()
	cal := slaCal(t)
	const target = 15 * time.Minute
	weekend, _ := Plan(cal, slaAt(t, "2026-11-28 22:00"), target, DefaultEscalation)
	lunch, _ := Plan(cal, slaAt(t, "2026-12-01 11:55"), target, DefaultEscalation)
	at := func(s string) *time.Time { v := slaAt(t, s); return &v }
	for _, tt := range []struct {
		name      string
		p         ClockPlan
		now       string
		stopped   *time.Time
		status    Status
		elapsed   time.Duration
		remaining time.Duration
		capped    bool
	}{
		{"not started, Saturday", weekend, "2026-11-28 23:00", nil, Paused, 0, target, false},
		{"paused Sunday", weekend, "2026-11-29 12:00", nil, Paused, 0, target, false},
		{"running Monday", weekend, "2026-11-30 09:05", nil, Running, 5 * time.Minute, 10 * time.Minute, false},
		{"met", weekend, "2026-11-30 10:00", at("2026-11-30 09:10"), Met, 10 * time.Minute, 5 * time.Minute, false},
		{"met at the due time", weekend, "2026-11-30 10:00", at("2026-11-30 09:15"), Met, target, 0, false},
		{"met before opening", weekend, "2026-11-30 10:00", at("2026-11-29 11:00"), Met, 0, target, false},
		{"stopped later than now", weekend, "2026-11-30 09:05", at("2026-11-30 09:10"), Met, 5 * time.Minute, 10 * time.Minute, false},
		{"due now", weekend, "2026-11-30 09:15", nil, Breached, target, 0, false},
		{"breached", weekend, "2026-11-30 09:16", nil, Breached, 16 * time.Minute, 0, false},
		{"breached, stopped late", weekend, "2026-11-30 11:00", at("2026-11-30 09:20"), Breached, 20 * time.Minute, 0, false},
		{"paused over lunch", lunch, "2026-12-01 13:00", nil, Paused, 5 * time.Minute, 10 * time.Minute, false},
		{"running after lunch", lunch, "2026-12-01 14:05", nil, Running, 10 * time.Minute, 5 * time.Minute, false},
		{"long breached: counted to 10 targets", weekend, "2027-03-01 10:00", nil, Breached, 10 * target, 0, true},
		{"answered weeks late", weekend, "2027-03-01 10:00", at("2026-12-20 10:00"), Breached, 10 * target, 0, true},
		{"just under the cap", weekend, "2026-11-30 11:29", nil, Breached, 149 * time.Minute, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := State(cal, tt.p, target, slaAt(t, tt.now), tt.stopped)
			if got.Status != tt.status || got.Elapsed != tt.elapsed || got.Remaining != tt.remaining || got.Capped != tt.capped {
				t.Errorf("State at %s = %s, elapsed %s, remaining %s, capped %v; want %s, %s, %s, %v",
					tt.now, got.Status, got.Elapsed, got.Remaining, got.Capped, tt.status, tt.elapsed, tt.remaining, tt.capped)
			}
			if !got.Start.Equal(tt.p.Start) || !got.Due.Equal(tt.p.Due) {
				t.Errorf("Start, Due = %s, %s; want the plan's", got.Start, got.Due)
			}
			if (got.StoppedAt == nil) != (tt.stopped == nil) || (got.StoppedAt != nil && !got.StoppedAt.Equal(*tt.stopped)) {
				t.Errorf("StoppedAt = %v; want %v", got.StoppedAt, tt.stopped)
			}
			if got.StoppedAt != nil && got.StoppedAt == tt.stopped {
				t.Error("StoppedAt is the caller's pointer; want a copy")
			}
		})
	}
}

func TestSLAStateJSON(t *testing.T) {
	t.Parallel()
	cal := slaCal(t)
	p, _ := Plan(cal, slaAt(t, "2026-11-28 22:00"), 15*time.Minute, nil)
	now := slaAt(t, "2026-11-30 09:05").Add(500 * time.Millisecond)
	b, err := json.Marshal(State(cal, p, 15*time.Minute, now, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"running","start":"2026-11-30T09:00:00+01:00","due":"2026-11-30T09:15:00+01:00",` +
		`"elapsed_seconds":300,"remaining_seconds":600}`
	if string(b) != want {
		t.Errorf("JSON = %s; want %s", b, want)
	}
}

func TestSLATargetFor(t *testing.T) {
	t.Parallel()
	s, problems := checkSLA(t, `
sla:
  target: 30m
  overrides:
    - {team: enterprise, value: {min: 100000}, target: 5m}
    - {team: enterprise, target: 10m}
    - {request_type: [demo, Quote], target: 20m}
    - {value: {max: 1000}, target: 2h}
`)
	if problems != nil {
		t.Fatal(problems)
	}
	for _, tt := range []struct {
		name, team, requestType string
		value                   *float64
		want                    time.Duration
	}{
		{"big enterprise deal", "enterprise", "demo", slaVal(250000), 5 * time.Minute},
		{"band min is included", "enterprise", "", slaVal(100000), 5 * time.Minute},
		{"small enterprise deal", "enterprise", "demo", slaVal(99999), 10 * time.Minute},
		{"enterprise, no value", "enterprise", "", nil, 10 * time.Minute},
		{"a demo elsewhere", "inbound", "demo", slaVal(500), 20 * time.Minute},
		{"request type without case", "inbound", "QUOTE", nil, 20 * time.Minute},
		{"small deal", "inbound", "support", slaVal(999.5), 2 * time.Hour},
		{"band max is excluded", "inbound", "support", slaVal(1000), 30 * time.Minute},
		{"no value matches no band", "inbound", "support", nil, 30 * time.Minute},
	} {
		if got := s.TargetFor(tt.team, tt.requestType, tt.value); got != tt.want {
			t.Errorf("%s: TargetFor(%q, %q, %v) = %s; want %s", tt.name, tt.team, tt.requestType, tt.value, got, tt.want)
		}
	}
	var none *SLA
	if got := none.TargetFor("inbound", "demo", nil); got != DefaultTarget {
		t.Errorf("nil SLA: TargetFor = %s; want %s", got, DefaultTarget)
	}
	if got := (&SLA{}).TargetFor("inbound", "demo", nil); got != DefaultTarget {
		t.Errorf("no target: TargetFor = %s; want %s", got, DefaultTarget)
	}
}

func TestSLALevels(t *testing.T) {
	t.Parallel()
	var none *SLA
	got := none.Levels()
	if !reflect.DeepEqual(got, DefaultEscalation) {
		t.Errorf("nil SLA: Levels = %v; want %v", got, DefaultEscalation)
	}
	got[0].Notify[0] = "changed"
	if DefaultEscalation[0].Notify[0] != NotifyOwner {
		t.Error("changing what Levels returned changed DefaultEscalation")
	}
	own := []Level{{At: 50, Notify: []string{NotifyOwner}}}
	if got := (&SLA{Escalation: own}).Levels(); !reflect.DeepEqual(got, own) {
		t.Errorf("Levels = %v; want %v", got, own)
	}
	if _, problems := checkSLA(t, "sla: {target: 15m}\n"); problems != nil {
		t.Errorf("default ladder: %v", problems)
	}
	// The default ladder passes the checker.
	b, err := yaml.Marshal(map[string]any{"sla": SLA{Escalation: DefaultEscalation}})
	if err != nil {
		t.Fatal(err)
	}
	if _, problems := checkSLA(t, string(b)); problems != nil {
		t.Errorf("DefaultEscalation written out:\n%s: %v", b, problems)
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		yaml string
		want Percent
	}{
		{`"80%"`, 80}, {`80%`, 80}, {`80`, 80}, {`"80"`, 80}, {`200 %`, 200}, {`1000%`, 1000},
		{`80.5%`, badPercent}, {`eighty`, badPercent}, {`"%"`, badPercent}, {`[80]`, badPercent}, {`99999999999%`, badPercent},
		{`-5%`, -5},
	} {
		var p Percent
		if err := yaml.Unmarshal([]byte(tt.yaml), &p); err != nil || p != tt.want {
			t.Errorf("YAML %s: %d, %v; want %d", tt.yaml, p, err, tt.want)
		}
	}
	for _, tt := range []struct {
		json string
		want Percent
	}{{`"80%"`, 80}, {`80`, 80}, {`"80"`, 80}} {
		var p Percent
		if err := json.Unmarshal([]byte(tt.json), &p); err != nil || p != tt.want {
			t.Errorf("JSON %s: %d, %v; want %d", tt.json, p, err, tt.want)
		}
	}
	for _, bad := range []string{`"80.5%"`, `true`, `"x"`, `{}`} {
		var p Percent
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("JSON %s: no error; want one", bad)
		}
	}
	if p := Percent(80); json.Unmarshal([]byte(`null`), &p) != nil || p != 80 {
		t.Errorf("JSON null: %d; want 80 left alone", p)
	}
	// Round trips.
	l := Level{At: 80, Notify: []string{NotifyOwner}}
	b, err := json.Marshal(l)
	if err != nil || string(b) != `{"at":"80%","notify":["owner"]}` {
		t.Errorf("JSON = %s, %v; want {\"at\":\"80%%\",...}", b, err)
	}
	var back Level
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("JSON round trip = %+v, %v; want %+v", back, err, l)
	}
	y, err := yaml.Marshal(l)
	if err != nil || !strings.Contains(string(y), "at: 80%") {
		t.Errorf("YAML = %s, %v; want at: 80%%", y, err)
	}
	back = Level{}
	if err := yaml.Unmarshal(y, &back); err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("YAML round trip = %+v, %v; want %+v", back, err, l)
	}
}

func TestSLARejected(t *testing.T) {
	t.Parallel()
	over := func(n int) string {
		var b strings.Builder
		b.WriteString("sla:\n  overrides:\n")
		for i := range n {
			fmt.Fprintf(&b, "    - {request_type: [t%d], target: 5m}\n", i)
		}
		return b.String()
	}
	levels := func(n int) string {
		var b strings.Builder
		b.WriteString("sla:\n  escalation:\n")
		for i := range n {
			fmt.Fprintf(&b, "    - {at: %d%%, notify: [owner]}\n", (i+1)*10)
		}
		return b.String()
	}
	for _, tt := range []struct {
		name, doc, path, reason string
	}{
		{"target not a duration", "sla: {target: soon}\n", "sla.target", "want a duration"},
		{"target too short", "sla: {target: 30s}\n", "sla.target", "from 1m to 30d"},
		{"target too long", "sla: {target: 31d}\n", "sla.target", "from 1m to 30d"},
		{"negative target", "sla: {target: -5m}\n", "sla.target", "from 1m to 30d"},
		{"override without condition", "sla:\n  overrides:\n    - {target: 5m}\n", "sla.overrides[0]", "at least one condition"},
		{"override without target", "sla:\n  overrides:\n    - {team: emea}\n", "sla.overrides[0].target", "missing"},
		{"override target too long", "sla:\n  overrides:\n    - {team: emea, target: 60d}\n", "sla.overrides[0].target", "from 1m to 30d"},
		{"unknown team", "sla:\n  overrides:\n    - {team: apac, target: 5m}\n", "sla.overrides[0].team", `no team "apac"`},
		{"bad team name", "sla:\n  overrides:\n    - {team: EMEA!, target: 5m}\n", "sla.overrides[0].team", "a team name is"},
		{"bad request type", "sla:\n  overrides:\n    - {request_type: [\"<demo>\"], target: 5m}\n", "sla.overrides[0].request_type[0]", "letters"},
		{"request type twice", "sla:\n  overrides:\n    - {request_type: [demo, demo], target: 5m}\n", "sla.overrides[0].request_type[1]", "twice"},
		{"empty band", "sla:\n  overrides:\n    - {value: {}, target: 5m}\n", "sla.overrides[0].value", "min, max or both"},
		{"inverted band", "sla:\n  overrides:\n    - {value: {min: 10, max: 5}, target: 5m}\n", "sla.overrides[0].value", "below max"},
		{"equal ends", "sla:\n  overrides:\n    - {value: {min: 10, max: 10}, target: 5m}\n", "sla.overrides[0].value", "below max"},
		{"negative band", "sla:\n  overrides:\n    - {value: {min: -1}, target: 5m}\n", "sla.overrides[0].value", "not negative"},
		{"infinite band", "sla:\n  overrides:\n    - {value: {max: .inf}, target: 5m}\n", "sla.overrides[0].value", "not .inf"},
		{"NaN band", "sla:\n  overrides:\n    - {value: {min: .nan}, target: 5m}\n", "sla.overrides[0].value", "not .inf or .nan"},
		{"overlapping bands", "sla:\n  overrides:\n    - {team: emea, value: {max: 10000}, target: 5m}\n    - {team: emea, value: {min: 5000}, target: 10m}\n",
			"sla.overrides[1].value", "overlaps that of overrides[0]"},
		{"overlapping bands, request types in another order and case", "sla:\n  overrides:\n" +
			"    - {request_type: [demo, quote], value: {min: 0, max: 10}, target: 5m}\n" +
			"    - {request_type: [Quote, demo], value: {min: 5, max: 20}, target: 10m}\n",
			"sla.overrides[1].value", "overlaps"},
		{"copy", "sla:\n  overrides:\n    - {team: emea, target: 5m}\n    - {team: emea, target: 10m}\n",
			"sla.overrides[1]", "no lead can reach this override: overrides[0]"},
		{"shadowed", "sla:\n  overrides:\n    - {team: emea, target: 5m}\n    - {team: emea, request_type: [demo], value: {min: 10}, target: 10m}\n",
			"sla.overrides[1]", "no lead can reach"},
		{"band inside a band", "sla:\n  overrides:\n    - {value: {min: 10}, target: 5m}\n    - {team: emea, value: {min: 20, max: 30}, target: 10m}\n",
			"sla.overrides[1]", "no lead can reach"},
		{"too many overrides", over(MaxOverrides + 1), "sla.overrides", "at most 100 overrides"},
		{"too many levels", levels(MaxLevels + 1), "sla.escalation", "at most 10 levels"},
		{"at not a percent", "sla:\n  escalation:\n    - {at: soon, notify: [owner]}\n", "sla.escalation[0].at", "whole percent"},
		{"at fractional", "sla:\n  escalation:\n    - {at: 80.5%, notify: [owner]}\n", "sla.escalation[0].at", "whole percent"},
		{"at zero", "sla:\n  escalation:\n    - {at: 0%, notify: [owner]}\n", "sla.escalation[0].at", "from 1% to 1000%"},
		{"at too high", "sla:\n  escalation:\n    - {at: 1001%, notify: [owner]}\n", "sla.escalation[0].at", "from 1% to 1000%"},
		{"at missing", "sla:\n  escalation:\n    - {notify: [owner]}\n", "sla.escalation[0].at", "from 1% to 1000%"},
		{"levels out of order", "sla:\n  escalation:\n    - {at: 100%, notify: [owner]}\n    - {at: 80%, notify: [manager]}\n",
			"sla.escalation[1].at", "increasing order"},
		{"levels at the same share", "sla:\n  escalation:\n    - {at: 80%, notify: [owner]}\n    - {at: 80, notify: [manager]}\n",
			"sla.escalation[1].at", "after escalation[0] (80%)"},
		{"unknown recipient", "sla:\n  escalation:\n    - {at: 80%, notify: [boss]}\n", "sla.escalation[0].notify[0]", `"boss" is not someone to notify; use owner, team_lead, manager`},
		{"recipient twice", "sla:\n  escalation:\n    - {at: 80%, notify: [owner, manager, owner]}\n", "sla.escalation[0].notify[2]", "twice"},
		{"level doing nothing", "sla:\n  escalation:\n    - {at: 80%}\n", "sla.escalation[0]", "must do something"},
		{"level doing nothing, notify empty", "sla:\n  escalation:\n    - {at: 80%, notify: [], reassign: false}\n", "sla.escalation[0]", "must do something"},
		{"two reassignments", "sla:\n  escalation:\n    - {at: 100%, reassign: true}\n    - {at: 150%, notify: [manager]}\n    - {at: 200%, reassign: true}\n",
			"sla.escalation[2].reassign", "escalation[0] does already"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := checkSLA(t, tt.doc)
			for _, p := range problems {
				if p.Path == tt.path && strings.Contains(p.Reason, tt.reason) {
					if p.Line == 0 {
						t.Errorf("%v: no line", p)
					}
					return
				}
			}
			t.Errorf("problems %v; want %q at %s", problems, tt.reason, tt.path)
		})
	}
}

func TestSLAAccepted(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"sla: {}\n",
		"sla: {target: 1m}\n",
		"sla: {target: 30d}\n",
		"sla:\n  target: 2h\n  escalation:\n    - {at: 50%, notify: [owner]}\n    - {at: 100, reassign: true}\n    - {at: \"1000%\", notify: [team_lead, manager]}\n",
		// Specific first, general after.
		"sla:\n  overrides:\n    - {team: emea, request_type: [demo], target: 5m}\n    - {team: emea, target: 10m}\n",
		// Bands that meet without overlapping.
		"sla:\n  overrides:\n    - {team: emea, value: {max: 10000}, target: 10m}\n    - {team: emea, value: {min: 10000}, target: 5m}\n",
		// A band-less override after a banded one still takes leads without a value.
		"sla:\n  overrides:\n    - {team: emea, value: {min: 0}, target: 10m}\n    - {team: emea, target: 5m}\n",
		// Same bands, other teams.
		"sla:\n  overrides:\n    - {team: emea, value: {min: 10}, target: 10m}\n    - {team: inbound, value: {min: 10}, target: 5m}\n",
		// JSON is YAML.
		`{"sla": {"target": "20m", "overrides": [{"request_type": ["demo"], "target": "5m"}], "escalation": [{"at": "100%", "reassign": true}]}}`,
		// Nothing to check.
		"sla: null\n",
	} {
		if _, problems := checkSLA(t, doc); problems != nil {
			t.Errorf("%s: %v", doc, problems)
		}
	}
}
