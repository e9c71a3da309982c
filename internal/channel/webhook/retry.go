package webhook

import "time"

// The retry schedule.
const (
	// FirstBackoff is the wait after a first failed attempt; each later
	// wait doubles, up to MaxBackoff.
	FirstBackoff = 30 * time.Second
	MaxBackoff   = 2 * time.Hour
	// MaxAge is how long after its first attempt a delivery is given up.
	MaxAge = 24 * time.Hour
)

// Backoff returns how long to wait after failed attempt number attempt
// (the first attempt is 1) before the next one. It is deterministic; see
// Jitter to spread retries that failed together.
//
// With every attempt failing and requests taking no time, the attempts of
// a delivery are made at:
//
//	attempt   1   2    3      4      5      6       7       8       9        10       …  19        20
//	after     0   30s  1m30s  3m30s  7m30s  15m30s  31m30s  1h3m30s 2h7m30s  4h7m30s  …  22h7m30s  24h7m30s
//
// that is, doubling waits for two hours, then every two hours: 20 attempts
// over a day, after which GiveUp is true.
func Backoff(attempt int) time.Duration {
	attempt = max(attempt, 1)
	if attempt > 16 { // FirstBackoff<<15 is past MaxBackoff; avoid overflowing the shift
		return MaxBackoff
	}
	return min(FirstBackoff<<(attempt-1), MaxBackoff)
}

// Jitter spreads a wait over ±10% by seed, which the caller supplies (a
// hash of the delivery id keeps one delivery's schedule reproducible
// while the deliveries that failed together, when a subscriber was down,
// come back at different times).
func Jitter(d time.Duration, seed uint64) time.Duration {
	if d <= 0 {
		return d
	}
	spread := uint64(d / 5)
	return d - d/10 + time.Duration(seed%(spread+1))
}

// GiveUp reports whether a delivery whose first attempt was at first should
// no longer be tried at now. Ask after each failed attempt, before
// scheduling the next.
func GiveUp(first, now time.Time) bool {
	return now.Sub(first) >= MaxAge
}
