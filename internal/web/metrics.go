package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nurturehq/nurture/internal/store"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ingested prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, st *store.Store) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nurture_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nurture_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nurture_events_ingested_total", Help: "Events accepted through the API (duplicates excluded).",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.ingested,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nurture_db_errors_total", Help: "Database errors (not validation errors).",
		}, func() float64 { return float64(st.ErrorCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nurture_store_commits_total", Help: "Write transactions committed (each carries one or more grouped writes).",
		}, func() float64 { return float64(st.WriteStats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nurture_store_writes_total", Help: "Writes committed; divided by commits, the average group-commit size.",
		}, func() float64 { return float64(st.WriteStats().Ops) }))
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap counts and times requests, labelled by the ServeMux pattern that
// matched (never the raw path, which would explode the label set).
func (m *metrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}
