package pipeline_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/pipeline"
)

var funnel = []string{"subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer"}

func TestLifecycles(t *testing.T) {
	t.Parallel()
	if got, want := pipeline.Lifecycles, append(slices.Clone(funnel), "disqualified"); !slices.Equal(got, want) {
		t.Errorf("Lifecycles = %q; want %q", got, want)
	}
}

func TestLifecycleRank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"subscriber", 0},
		{"lead", 1},
		{"mql", 2},
		{"sal", 3},
		{"sql", 4},
		{"opportunity", 5},
		{"customer", 6},
		{"disqualified", -1},
		{"", -1},
		{"MQL", -1},
		{"customer ", -1},
		{"\u202Elead", -1},
	}
	for _, tt := range tests {
		if got := pipeline.LifecycleRank(tt.in); got != tt.want {
			t.Errorf("LifecycleRank(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

func TestRaise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		current, target, want string
	}{
		{"subscriber", "lead", "lead"},
		{"lead", "mql", "mql"},
		{"lead", "customer", "customer"},
		{"mql", "lead", "mql"},
		{"customer", "opportunity", "customer"},
		{"sql", "sql", "sql"},
		{"disqualified", "customer", "disqualified"},
		{"disqualified", "lead", "disqualified"},
		{"lead", "disqualified", "lead"},
		{"customer", "disqualified", "customer"},
		{"", "subscriber", "subscriber"},
		{"", "disqualified", ""},
		{"lead", "", "lead"},
		{"lead", "vip", "lead"},
		{"lead", "MQL", "lead"},
		{"junk", "mql", "mql"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := pipeline.Raise(tt.current, tt.target); got != tt.want {
			t.Errorf("Raise(%q, %q) = %q; want %q", tt.current, tt.target, got, tt.want)
		}
	}
}

func TestCheckLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to, reason string
		field            string // "" means allowed
		msg              string
	}{
		{"subscriber", "lead", "", "", ""},
		{"lead", "customer", "", "", ""},
		{"mql", "sql", "skipped SAL: referral", "", ""},
		{"opportunity", "customer", "", "", ""},
		{"mql", "mql", "", "lifecycle", "already mql"},

		{"mql", "lead", "not ready", "", ""},
		{"sal", "lead", "no budget this year", "", ""},
		{"sql", "lead", "went quiet", "", ""},
		{"opportunity", "lead", "deal lost", "", ""},
		{"mql", "lead", "", "reason", "recycling a contact from mql to lead requires a reason"},
		{"opportunity", "lead", "  ", "reason", "requires a reason"},
		{"customer", "lead", "churned", "lifecycle", "cannot move back from customer to lead; only mql, sal, sql and opportunity can be recycled to lead"},
		{"lead", "subscriber", "unsubscribed", "lifecycle", "cannot move back from lead to subscriber"},
		{"sql", "mql", "back to marketing", "lifecycle", "cannot move back from sql to mql"},
		{"opportunity", "subscriber", "x", "lifecycle", "cannot move back"},

		{"subscriber", "disqualified", "spam", "", ""},
		{"opportunity", "disqualified", "student", "", ""},
		{"lead", "disqualified", "", "reason", "disqualifying a contact requires a reason"},
		{"customer", "disqualified", "fraud", "lifecycle", "a customer cannot be disqualified"},
		{"disqualified", "disqualified", "x", "lifecycle", "already disqualified"},

		{"disqualified", "lead", "changed company", "", ""},
		{"disqualified", "lead", "", "reason", "recycling a disqualified contact to lead requires a reason"},
		{"disqualified", "mql", "score", "lifecycle", "cannot move from disqualified to mql; a disqualified contact can only be recycled to lead"},
		{"disqualified", "customer", "signed", "lifecycle", "only be recycled to lead"},
		{"disqualified", "subscriber", "x", "lifecycle", "only be recycled to lead"},

		{"", "lead", "", "lifecycle", `unknown lifecycle stage ""; stages: subscriber, lead, mql, sal, sql, opportunity, customer, disqualified`},
		{"lead", "MQL", "", "lifecycle", `unknown lifecycle stage "MQL"`},
		{"lead", "mql\x00", "", "lifecycle", `"mql\x00"`},
		{"lead", "\u202Elqm", "", "lifecycle", `"\u202elqm"`},
		{"lead", strings.Repeat("m", 1<<20), "", "lifecycle", "unknown lifecycle stage"},

		{"lead", "mql", "scored\x1b[2J", "reason", "control character"},
		{"lead", "mql", "line\nbreak", "reason", "control character"},
		{"mql", "lead", "\u202Eydaer ton", "reason", "bidirectional"},
		{"mql", "lead", strings.Repeat("r", 501), "reason", "longer than 500"},
		{"mql", "lead", strings.Repeat("r", 500), "", ""},
		{"lead", "disqualified", "\xff", "reason", "UTF-8"},
	}
	for _, tt := range tests {
		err := pipeline.CheckLifecycle(tt.from, tt.to, tt.reason)
		checkErr(t, "CheckLifecycle("+tt.from[:min(len(tt.from), 20)]+", "+tt.to[:min(len(tt.to), 20)]+")", err, tt.field, tt.msg)
	}
}

// TestCheckLifecycleForward checks the general rule over every pair of funnel
// stages: forward is always allowed, backward never without a reason.
func TestCheckLifecycleForward(t *testing.T) {
	t.Parallel()
	for i, from := range funnel {
		for j, to := range funnel {
			err := pipeline.CheckLifecycle(from, to, "")
			if got, want := err == nil, j > i; got != want {
				t.Errorf("CheckLifecycle(%s, %s, \"\") = %v; want allowed %t", from, to, err, want)
			}
		}
	}
}

func TestHandoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lifecycle  string
		d          pipeline.Decision
		reason     string
		disqualify bool
		want       string
		field      string
		msg        string
	}{
		{"mql", pipeline.Accept, "", false, "sal", "", ""},
		{"mql", pipeline.Accept, "good fit", false, "sal", "", ""},
		{"mql", pipeline.Reject, "no project yet", false, "lead", "", ""},
		{"mql", pipeline.Reject, "competitor", true, "disqualified", "", ""},

		{"mql", pipeline.Reject, "", false, "", "reason", "rejecting a hand-off requires a reason"},
		{"mql", pipeline.Reject, " \t ", true, "", "reason", "requires a reason"},
		{"mql", pipeline.Accept, "", true, "", "disqualify", "only a rejected hand-off can disqualify"},
		{"mql", "", "", false, "", "decision", "must be accept or reject"},
		{"mql", "ACCEPT", "", false, "", "decision", "must be accept or reject"},
		{"mql", "accept\x00", "", false, "", "decision", "must be accept or reject"},

		{"lead", pipeline.Accept, "", false, "", "lifecycle", "hand-off is only from mql; contact is lead"},
		{"sal", pipeline.Reject, "x", false, "", "lifecycle", "contact is sal"},
		{"disqualified", pipeline.Accept, "", false, "", "lifecycle", "contact is disqualified"},
		{"", pipeline.Accept, "", false, "", "lifecycle", `contact is ""`},
		{"MQL", pipeline.Accept, "", false, "", "lifecycle", `contact is "MQL"`},
		{"\u202Elqm", pipeline.Accept, "", false, "", "lifecycle", `contact is "\u202elqm"`},

		{"mql", pipeline.Reject, "no\x00project", false, "", "reason", "control character"},
		{"mql", pipeline.Reject, "\u202Etcejorp on", false, "", "reason", "bidirectional"},
		{"mql", pipeline.Accept, "\u202Etcejorp", false, "", "reason", "bidirectional"},
		{"mql", pipeline.Reject, strings.Repeat("x", 501), false, "", "reason", "longer than 500"},
	}
	for _, tt := range tests {
		got, err := pipeline.Handoff(tt.lifecycle, tt.d, tt.reason, tt.disqualify)
		if got != tt.want {
			t.Errorf("Handoff(%q, %q, %.20q, %t) = %q; want %q", tt.lifecycle, tt.d, tt.reason, tt.disqualify, got, tt.want)
		}
		checkErr(t, "Handoff", err, tt.field, tt.msg)
		// What a hand-off does must also be a move a person could make.
		if err == nil {
			if err := pipeline.CheckLifecycle(tt.lifecycle, got, tt.reason); err != nil {
				t.Errorf("Handoff(%q, %q) = %q, but CheckLifecycle refuses it: %v", tt.lifecycle, tt.d, got, err)
			}
		}
	}
}

func TestLifecycleForStage(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"new": "", "contacted": "", "nurture": "", "meeting_booked": "", "meeting_held": "",
		"qualified": "opportunity", "won": "customer", "lost": "",
	}
	for _, s := range contact.Statuses {
		if got := pipeline.LifecycleForStage(s); got != want[s] {
			t.Errorf("LifecycleForStage(%q) = %q; want %q", s, got, want[s])
		}
		if got := pipeline.LifecycleForStage(s); got != "" && pipeline.LifecycleRank(got) < 0 {
			t.Errorf("LifecycleForStage(%q) = %q, not a funnel stage", s, got)
		}
	}
	for _, s := range []string{"", "Won", "QUALIFIED", "opportunity"} {
		if got := pipeline.LifecycleForStage(s); got != "" {
			t.Errorf("LifecycleForStage(%q) = %q; want \"\"", s, got)
		}
	}
}
