package web

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Public pages and hooks are limited per client address, so one client
// cannot flood them. The limits are generous: mail providers open pixels
// and post one-click unsubscribes for many recipients from few addresses.
const (
	publicRate  = 50  // requests per second per address, sustained
	publicBurst = 500 // and at once
	// maxClients bounds the table of limiters; past it the table starts
	// over (a flood from many addresses then meets fresh limiters, which
	// is no worse than no limit, and memory stays bounded).
	maxClients = 100_000
)

type limiter struct {
	mu      sync.Mutex
	clients map[string]*rate.Limiter
	rate    rate.Limit
	burst   int
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{clients: map[string]*rate.Limiter{}, rate: rate.Limit(perSecond), burst: burst}
}

func (l *limiter) allow(client string, now time.Time) bool {
	l.mu.Lock()
	lim := l.clients[client]
	if lim == nil {
		if len(l.clients) >= maxClients {
			clear(l.clients)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	return lim.AllowN(now, 1)
}

// isPublic says whether a path is a public page or hook.
func isPublic(path string) bool {
	for _, p := range []string{"/t/", "/u/", "/p/", "/c/", "/hooks/", "/book/", "/m/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// limitPublic answers 429 to a client over its rate on the public paths.
func (s *Server) limitPublic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublic(r.URL.Path) && !s.limits.allow(clientIP(r).String(), time.Now()) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusTooManyRequests, "Too Many Requests", "slow down and retry in a second")
			return
		}
		next.ServeHTTP(w, r)
	})
}
