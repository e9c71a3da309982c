// Package web is Nurture's http.Handler: the JSON API under /api/v1 (with its
// OpenAPI 3.1 document), health and metrics endpoints. It validates input at
// the edge and is the only place that turns errors into status codes.
package web

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// Config is what the handler needs. Store is required; the rest have defaults.
type Config struct {
	Store *store.Store
	// Clock stamps events sent without occurred_at. Default: the wall clock.
	Clock clock.Clock
	// Logger receives request errors. Default: slog.Default().
	Logger *slog.Logger
	// DefaultRegion is the ISO country used to read phone numbers written
	// without an international prefix when the contact has no country.
	DefaultRegion string
	// Version is reported in the OpenAPI document.
	Version string
	// Signer checks the tokens of the public links in messages (tracking,
	// unsubscribe, preferences); nil turns those endpoints off.
	Signer *track.Signer
	// PublicURL is where providers reach this server: callbacks' signatures
	// cover the URL they called.
	PublicURL string
	// HookSecret signs what Nurture's own inbound hooks receive
	// (Nurture-Signature); nil turns them off.
	HookSecret []byte
	// TwilioToken checks Twilio's callback signatures; empty turns the
	// Twilio hooks off. SMSHelp answers a HELP text.
	TwilioToken, SMSHelp string
	// SNSCert fetches (and should cache) the certificate an Amazon SNS
	// message names; nil: fetched over HTTPS from the allowed AWS hosts.
	SNSCert func(ctx context.Context, url string) (*x509.Certificate, error)
	// AllowPrivateWebhooks lets webhooks post to loopback and private
	// addresses (development, tests); off, such URLs are refused.
	AllowPrivateWebhooks bool
	// SenderDomains are the domains of the default From addresses, which a
	// message's sender may use beside the sending domains.
	SenderDomains []string
	// PublicRate and PublicBurst limit each client address on the public
	// pages and hooks (default 50 per second, 500 at once).
	PublicRate  float64
	PublicBurst int
}

// Server is the HTTP handler.
type Server struct {
	cfg     Config
	store   *store.Store
	clock   clock.Clock
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	// snsCerts caches Amazon SNS signing certificates.
	snsCerts snsCerts
	// limits bound each client's rate on the public pages and hooks.
	limits *limiter
}

// Request body limits. A contact is small; a batch holds up to 1,000 events.
const (
	maxContactBody = 64 << 10
	maxEventBody   = 32 << 10
	maxBatchBody   = 8 << 20
	maxBatchEvents = 1000
)

// New builds the handler.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.PublicRate <= 0 {
		cfg.PublicRate, cfg.PublicBurst = publicRate, publicBurst
	}
	if cfg.PublicBurst <= 0 {
		cfg.PublicBurst = max(1, int(cfg.PublicRate))
	}
	s := &Server{cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, mux: http.NewServeMux()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = newMetrics(reg, cfg.Store)

	hc := huma.DefaultConfig("Nurture API", cfg.Version)
	hc.Info.Description = "Lead capture, CRM and event log. Every route needs `Authorization: Bearer <API key>`; " +
		"create one with `nurture apikey create`. Errors are RFC 9457 problem+json naming the field at fault."
	hc.OpenAPIPath = "/api/v1/openapi"
	hc.DocsPath = ""
	hc.SchemasPath = ""
	hc.CreateHooks = nil // no $schema links in bodies: responses stay plain JSON
	hc.RejectUnknownQueryParameters = true
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "an API key from `nurture apikey create`"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	api := humago.New(s.mux, hc)
	s.registerContacts(api)
	s.registerEvents(api)
	s.registerScoring(api)
	s.registerPipeline(api)
	s.registerSegments(api)
	s.registerTemplates(api)
	s.registerMessages(api)
	s.registerWebhooks(api)
	s.registerMailConfig(api)
	s.registerJourneys(api)
	s.registerRouting(api)
	s.registerMeetings(api)
	s.registerPublic()
	s.registerBooking()
	s.registerHooks()

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", s.noRoute)
	s.limits = newLimiter(cfg.PublicRate, cfg.PublicBurst)
	s.handler = s.metrics.wrap(s.limitPublic(s.authenticate(s.mux)))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "the database does not answer")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// noRoute answers what no route took. The catch-all pattern matches every
// method, so it also hides ServeMux's own 405: a path served under other
// methods gets 405 with Allow here, any other path 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, http.StatusMethodNotAllowed, "Method Not Allowed",
			r.Method+" "+r.URL.Path+" is not a route; allowed: "+strings.Join(allow, ", "))
		return
	}
	writeProblem(w, http.StatusNotFound, "Not Found", "no such route: "+r.Method+" "+r.URL.Path)
}

func ptr[T any](v T) *T { return &v }

func reflectType[T any]() reflect.Type { return reflect.TypeFor[T]() }
