package webhook

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 30 * time.Second},
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{4, 4 * time.Minute},
		{5, 8 * time.Minute},
		{6, 16 * time.Minute},
		{7, 32 * time.Minute},
		{8, 64 * time.Minute},
		{9, 2 * time.Hour},
		{10, 2 * time.Hour},
		{16, 2 * time.Hour},
		{17, 2 * time.Hour},
		{64, 2 * time.Hour},
		{1 << 30, 2 * time.Hour},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt); got != tt.want {
			t.Errorf("Backoff(%d) = %v; want %v", tt.attempt, got, tt.want)
		}
	}
}

// TestSchedule plays a delivery that always fails, as the documented
// schedule says: a delivery is retried over a day, then given up.
func TestSchedule(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := first
	var at []time.Duration
	for attempt := 1; ; attempt++ {
		at = append(at, now.Sub(first))
		if GiveUp(first, now) {
			break
		}
		now = now.Add(Backoff(attempt))
	}
	if len(at) != 20 {
		t.Errorf("%d attempts; want 20", len(at))
	}
	want := map[int]time.Duration{
		1: 0, 2: 30 * time.Second, 3: 90 * time.Second, 9: 2*time.Hour + 7*time.Minute + 30*time.Second,
		10: 4*time.Hour + 7*time.Minute + 30*time.Second, 19: 22*time.Hour + 7*time.Minute + 30*time.Second,
		20: 24*time.Hour + 7*time.Minute + 30*time.Second,
	}
	for n, w := range want {
		if n <= len(at) && at[n-1] != w {
			t.Errorf("attempt %d at %v; want %v", n, at[n-1], w)
		}
	}
}

func TestGiveUp(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]bool{
		0: false, time.Hour: false, MaxAge - time.Second: false, MaxAge: true, 48 * time.Hour: true,
	} {
		if got := GiveUp(first, first.Add(d)); got != want {
			t.Errorf("GiveUp(first, first+%v) = %v; want %v", d, got, want)
		}
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	d := 10 * time.Minute
	for _, seed := range []uint64{0, 1, 12345, 1 << 63, ^uint64(0)} {
		got := Jitter(d, seed)
		if got < 9*time.Minute || got > 11*time.Minute {
			t.Errorf("Jitter(%v, %d) = %v; want within ±10%%", d, seed, got)
		}
		if again := Jitter(d, seed); again != got {
			t.Errorf("Jitter(%v, %d) = %v, then %v; want the same", d, seed, got, again)
		}
	}
	if Jitter(d, 1) == Jitter(d, 2) {
		t.Error("Jitter ignores its seed")
	}
	if got := Jitter(0, 7); got != 0 {
		t.Errorf("Jitter(0, 7) = %v; want 0", got)
	}
}
