package pipeline_test

import (
	"slices"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/pipeline"
)

// genTime draws an instant across a wide range, before 1970 included, with
// nanoseconds, so that rounding to seconds is exercised.
func genTime(t *rapid.T, label string) time.Time {
	sec := rapid.Int64Range(-1<<34, 1<<34).Draw(t, label+".sec")
	nsec := rapid.Int64Range(0, 999_999_999).Draw(t, label+".nsec")
	return time.Unix(sec, nsec).UTC()
}

// In an ordered history the spans add up to exactly the whole-second time
// from the first change to now, each span is within a second of its real
// length, and each one ends where the next begins.
func TestHistoryOrderedProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		first := genTime(t, "first")
		gaps := rapid.SliceOfN(rapid.Int64Range(0, int64(90*24*time.Hour)), 1, 30).Draw(t, "gaps")
		changes := make([]pipeline.StageChange, 0, len(gaps))
		at := first
		for i, g := range gaps {
			if i > 0 {
				at = at.Add(time.Duration(g))
			}
			changes = append(changes, pipeline.StageChange{Stage: rapid.SampledFrom(contact.Statuses).Draw(t, "stage"), At: at})
		}
		now := at.Add(time.Duration(rapid.Int64Range(0, int64(365*24*time.Hour)).Draw(t, "since last")))

		spans := pipeline.History(changes, now)
		if got, want := len(spans), len(changes); got != want {
			t.Fatalf("len(History) = %d; want %d", got, want)
		}
		var sum int64
		for i, s := range spans {
			sum += s.Seconds
			end := now
			if i+1 < len(spans) {
				if s.LeftAt == nil || !s.LeftAt.Equal(spans[i+1].EnteredAt) {
					t.Fatalf("spans[%d].LeftAt = %v; want %v", i, s.LeftAt, spans[i+1].EnteredAt)
				}
				end = *s.LeftAt
			} else if s.LeftAt != nil {
				t.Fatalf("last span's LeftAt = %v; want nil", *s.LeftAt)
			}
			length := end.Sub(s.EnteredAt)
			if d := time.Duration(s.Seconds)*time.Second - length; d <= -time.Second || d >= time.Second {
				t.Fatalf("spans[%d].Seconds = %d; real length %v", i, s.Seconds, length)
			}
		}
		if got, want := sum, now.Unix()-first.Unix(); got != want {
			t.Fatalf("sum of Seconds = %d; want %d", got, want)
		}
	})
}

// Whatever the timestamps, no span is negative and every change gives one.
func TestHistoryAnyOrderProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 20).Draw(t, "n")
		changes := make([]pipeline.StageChange, n)
		for i := range changes {
			changes[i] = pipeline.StageChange{Stage: "new", At: genTime(t, "at")}
		}
		spans := pipeline.History(changes, genTime(t, "now"))
		if spans == nil || len(spans) != n {
			t.Fatalf("History gave %d spans (nil %t); want %d", len(spans), spans == nil, n)
		}
		for i, s := range spans {
			if s.Seconds < 0 {
				t.Fatalf("spans[%d].Seconds = %d", i, s.Seconds)
			}
			if !s.EnteredAt.Equal(changes[i].At) {
				t.Fatalf("spans[%d].EnteredAt = %v; want %v", i, s.EnteredAt, changes[i].At)
			}
		}
	})
}

// Raise only ever moves forward, never into or out of disqualified, is
// idempotent, and only makes moves a person could make without a reason.
func TestRaiseProperty(t *testing.T) {
	t.Parallel()
	stages := append(slices.Clone(pipeline.Lifecycles), "", "MQL", "junk")
	rapid.Check(t, func(t *rapid.T) {
		cur := rapid.SampledFrom(stages).Draw(t, "current")
		target := rapid.SampledFrom(stages).Draw(t, "target")
		got := pipeline.Raise(cur, target)
		if got != cur && got != target {
			t.Fatalf("Raise(%q, %q) = %q, neither", cur, target, got)
		}
		if pipeline.LifecycleRank(got) < pipeline.LifecycleRank(cur) {
			t.Fatalf("Raise(%q, %q) = %q moves back", cur, target, got)
		}
		if got == pipeline.LifecycleDisqualified && cur != pipeline.LifecycleDisqualified {
			t.Fatalf("Raise(%q, %q) disqualifies", cur, target)
		}
		if again := pipeline.Raise(got, target); again != got {
			t.Fatalf("Raise(Raise(%q, %q), %[2]q) = %q; want %q", cur, target, again, got)
		}
		if slices.Contains(pipeline.Lifecycles, cur) && got != cur {
			if err := pipeline.CheckLifecycle(cur, got, ""); err != nil {
				t.Fatalf("Raise(%q, %q) = %q, which CheckLifecycle refuses: %v", cur, target, got, err)
			}
		}
	})
}

// A random walk through the pipeline, giving each move what it needs, is
// never refused, and CheckMove never allows a move Next does not list.
func TestPipelineWalkProperty(t *testing.T) {
	t.Parallel()
	cfg := pipeline.DefaultConfig()
	rapid.Check(t, func(t *rapid.T) {
		stage := contact.StatusNew
		for range rapid.IntRange(0, 30).Draw(t, "steps") {
			next := pipeline.Next(stage)
			if len(next) == 0 {
				if stage != contact.StatusWon {
					t.Fatalf("Next(%q) is empty", stage)
				}
				return
			}
			m := pipeline.Move{From: stage, To: rapid.SampledFrom(next).Draw(t, "to"), BANT: bant("need", "timing")}
			m.BANT[rapid.SampledFrom([]string{"budget", "authority"}).Draw(t, "any")] = confirmed("yes")
			if m.To == contact.StatusLost {
				m.Reason = rapid.SampledFrom(cfg.LostReasons).Draw(t, "reason")
			}
			if err := pipeline.CheckMove(cfg, m); err != nil {
				t.Fatalf("CheckMove(%+v) = %v", m, err)
			}
			stage = m.To
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		stages := append(slices.Clone(contact.Statuses), "", "Won")
		m := pipeline.Move{
			From:   rapid.SampledFrom(stages).Draw(t, "from"),
			To:     rapid.SampledFrom(stages).Draw(t, "to"),
			Reason: rapid.SampledFrom([]string{"", "other", "NO_NEED", "why"}).Draw(t, "reason"),
			BANT:   bant(rapid.SliceOfDistinct(rapid.SampledFrom(pipeline.Criteria), rapid.ID).Draw(t, "confirmed")...),
		}
		if err := pipeline.CheckMove(cfg, m); err == nil && !slices.Contains(pipeline.Next(m.From), m.To) {
			t.Fatalf("CheckMove(%s → %s) allowed a move Next does not list", m.From, m.To)
		}
	})
}

// Text that passes validation holds no character that could hide or disguise
// what it says, whatever was drawn.
func TestTextProperty(t *testing.T) {
	t.Parallel()
	hostile := rapid.SampledFrom([]rune{'\x00', '\x1b', '\r', '\n', '\t', '\u0085', '\u202A', '\u202E', '\u2066', '\u2069', '\u200B', 'a', 'é', '\U0001F600'})
	text := rapid.OneOf(
		rapid.String(),
		rapid.StringOfN(hostile, 0, 40, -1),
	)
	rapid.Check(t, func(t *rapid.T) {
		notes := text.Draw(t, "notes")
		by := text.Draw(t, "by")
		err := pipeline.CheckActivity(pipeline.Activity{Type: "call", By: by, Notes: notes})
		if err != nil {
			return
		}
		for name, s := range map[string]string{"by": by, "notes": notes} {
			if !utf8.ValidString(s) {
				t.Fatalf("%s %q accepted, not UTF-8", name, s)
			}
			for i, r := range s {
				switch {
				case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
					t.Fatalf("%s %q accepted with bidi control %U", name, s, r)
				case name == "notes" && (r == '\n' || r == '\t' || r == '\r' && i+1 < len(s) && s[i+1] == '\n'):
				case unicode.IsControl(r):
					t.Fatalf("%s %q accepted with control %U", name, s, r)
				}
			}
		}
	})
}
