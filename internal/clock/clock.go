// Package clock is the time source domain code takes instead of calling time.Now,
// so that tests and the simulator can run weeks of journeys in milliseconds.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns the current wall-clock time.
func (Real) Now() time.Time { return time.Now() }

// Fake is a clock that only moves when told to. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake clock's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Set moves the clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

// Scaled is a clock that runs Speed times faster than the wall clock from
// Start, for demos and tests of long journeys on a running server: at
// speed 3600 an hour passes each second.
type Scaled struct {
	start  time.Time
	origin time.Time
	speed  float64
}

// NewScaled returns a clock that reads start now and then runs speed
// times faster than the wall clock.
func NewScaled(start time.Time, speed float64) *Scaled {
	return &Scaled{start: start, origin: time.Now(), speed: speed}
}

// Now returns the scaled time.
func (s *Scaled) Now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.origin)) * s.speed))
}
