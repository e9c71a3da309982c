package clock_test

import (
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() = %v; want %v", got, start)
	}
	c.Advance(30 * 24 * time.Hour)
	if got, want := c.Now(), start.AddDate(0, 0, 30); !got.Equal(want) {
		t.Errorf("after Advance(30 days) Now() = %v; want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("after Set Now() = %v; want %v", got, start)
	}
}
