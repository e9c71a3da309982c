// Command nurture is the Nurture server and its administration commands.
// It is the only place that knows every package: it reads configuration,
// wires the store, the engine and the HTTP handler, and handles signals.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
	_ "time/tzdata"
	"unicode"
	"unicode/utf8" // IANA zones even on machines without /usr/share/zoneinfo

	"github.com/alecthomas/kong"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
	"github.com/nurturehq/nurture/internal/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Globals are the flags every command that touches the database shares.
type Globals struct {
	DataDir  string `name:"data-dir" env:"NURTURE_DATA_DIR" default:"nurture-data" help:"Directory of the SQLite database (ignored with --database)."`
	Database string `name:"database" env:"NURTURE_DATABASE_URL" help:"PostgreSQL URL (postgres://…). Empty: SQLite in --data-dir."`
	CacheMB  int    `name:"sqlite-cache-mb" env:"NURTURE_SQLITE_CACHE_MB" default:"16" help:"SQLite's page cache for writes, in MiB: more helps imports of millions of events a little, and costs about twice as much memory."`

	stdout io.Writer
	stderr io.Writer
	clock  clock.Clock // nil: the wall clock
}

func (g *Globals) storeConfig(log *slog.Logger) store.Config {
	return store.Config{DataDir: g.DataDir, DatabaseURL: g.Database, CacheMB: g.CacheMB, Logger: log, Clock: g.clock}
}

// open opens and migrates the store.
func (g *Globals) open(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	s, err := store.Open(ctx, g.storeConfig(log))
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// withStore runs fn with the migrated store, closed afterwards.
func (g *Globals) withStore(fn func(ctx context.Context, st *store.Store) error) error {
	ctx := context.Background()
	st, err := g.open(ctx, newLogger(g.stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

// CLI is the command line.
type CLI struct {
	Globals

	Serve   ServeCmd   `cmd:"" help:"Run the HTTP API and the background workers."`
	Version VersionCmd `cmd:"" help:"Print the version."`
	Apikey  struct {
		Create APIKeyCreateCmd `cmd:"" help:"Create an API key; prints it once, alone on the last line."`
		List   APIKeyListCmd   `cmd:"" help:"List API keys (never the secrets)."`
		Revoke APIKeyRevokeCmd `cmd:"" help:"Revoke an API key by id or prefix."`
	} `cmd:"" help:"Manage API keys."`
	Migrate struct {
		Up     MigrateUpCmd     `cmd:"" help:"Apply pending migrations (serve does this too)."`
		Status MigrateStatusCmd `cmd:"" help:"Show which migrations are applied."`
	} `cmd:"" help:"Database migrations."`
	Scoring struct {
		Apply ScoringApplyCmd `cmd:"" help:"Validate a scoring rules document and apply it (or --dry-run it against the stored events)."`
		Show  ScoringShowCmd  `cmd:"" help:"Print the scoring rules in force (or a version, the defaults, or the history)."`
	} `cmd:"" help:"Scoring rules."`
	Segments struct {
		Apply   SegmentsApplyCmd   `cmd:"" help:"Validate a document of segments and save it; new and changed ones are built from the event log."`
		Preview SegmentsPreviewCmd `cmd:"" help:"Count and sample the contacts a draft rule selects, without saving it."`
		List    SegmentsListCmd    `cmd:"" help:"List the segments with their member counts."`
		Show    SegmentsShowCmd    `cmd:"" help:"Print a segment (or, with no name or --default, the segments shipped with Nurture)."`
	} `cmd:"" help:"Segments."`
	Journeys struct {
		Validate JourneysValidateCmd `cmd:"" help:"Check a journey document (steps, templates, conditions) without saving it."`
		Apply    JourneysApplyCmd    `cmd:"" help:"Save journey documents as their next live versions."`
		List     JourneysListCmd     `cmd:"" help:"List the journeys."`
		Show     JourneysShowCmd     `cmd:"" help:"Print a journey's live document."`
		Simulate JourneysSimulateCmd `cmd:"" help:"Dry run: what a journey document would do to the current contacts, sending nothing."`
		Examples JourneysExamplesCmd `cmd:"" help:"Install the journeys and templates shipped with Nurture (first contact, sequences A, B, C)."`
		Settings JourneysSettingsCmd `cmd:"" help:"Print what all journeys share (the frequency cap), or set it from a file."`
	} `cmd:"" help:"Journeys: nurture sequences as code."`
	Owners struct {
		Apply OwnersApplyCmd `cmd:"" help:"Create or replace the sales owners a file lists."`
		List  OwnersListCmd  `cmd:"" help:"List the owners and whether they take new leads now."`
	} `cmd:"" help:"Sales owners: the people leads are assigned to."`
	Teams struct {
		Apply TeamsApplyCmd `cmd:"" help:"Create or replace the teams a file lists."`
		List  TeamsListCmd  `cmd:"" help:"List the teams."`
	} `cmd:"" help:"Teams: members, assignment strategy, business calendar."`
	Holidays struct {
		Load HolidaysLoadCmd `cmd:"" help:"Load public holidays files (examples/holidays has FR, US, GB)."`
	} `cmd:"" help:"Public holidays, which close teams' business calendars."`
	Routing struct {
		Apply RoutingApplyCmd `cmd:"" help:"Validate routing rules and apply them to every new lead from now on."`
		Show  RoutingShowCmd  `cmd:"" help:"Print the routing rules in force."`
	} `cmd:"" help:"Routing rules: which team answers which lead, the first contact and the SLA."`
	Hooks struct {
		Secret HooksSecretCmd `cmd:"" help:"Print the secret that signs what is posted to /hooks/email/* (Nurture-Signature)."`
	} `cmd:"" help:"Inbound hooks (bounces, complaints, replies)."`
	Bench BenchCmd `cmd:"" help:"Measure ingest speed and storage on a throwaway database."`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cli CLI
	cli.stdout, cli.stderr = stdout, stderr
	helped := false // --help printed its page: run nothing
	parser, err := kong.New(&cli, kong.Name("nurture"),
		kong.Description("Nurture: capture leads, answer in milliseconds, nurture them to a meeting."),
		kong.UsageOnError(), kong.Writers(stdout, stderr), kong.Exit(func(int) { helped = true }),
		kong.Vars{"version": version})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "nurture:", err)
		return 2
	}
	if helped || kctx.Command() == "" {
		return 0 // --help was shown
	}
	if err := kctx.Run(&cli.Globals); err != nil {
		fmt.Fprintln(stderr, "nurture:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// ServeCmd runs the server.
type ServeCmd struct {
	Addr                 string        `name:"addr" env:"NURTURE_ADDR" default:"127.0.0.1:8080" help:"Address to listen on."`
	DefaultRegion        string        `name:"default-region" env:"NURTURE_DEFAULT_REGION" help:"ISO country used to read phone numbers without +prefix when the contact has no country."`
	ShutdownGrace        time.Duration `name:"shutdown-grace" env:"NURTURE_SHUTDOWN_GRACE" default:"30s" help:"How long in-flight requests may take to finish on SIGTERM."`
	OutboxLease          time.Duration `name:"outbox-lease" env:"NURTURE_OUTBOX_LEASE" default:"5m" help:"How long a worker has to report a message it claimed before the message is in doubt (longer than any send takes)."`
	WebhooksAllowPrivate bool          `name:"webhooks-allow-private" env:"NURTURE_WEBHOOKS_ALLOW_PRIVATE" help:"Let webhooks post to loopback and private addresses (development only)."`
	// Demos and tests of long journeys: time runs faster (never in production).
	ClockSpeed float64 `name:"clock-speed" env:"NURTURE_CLOCK_SPEED" default:"1" hidden:"" help:"Run the clock this many times faster than the wall clock (demos and tests only)."`
	ClockStart string  `name:"clock-start" env:"NURTURE_CLOCK_START" hidden:"" help:"With --clock-speed: the time the clock reads at start (RFC 3339; default now)."`
	MailFlags  `embed:""`
	SMSFlags   `embed:""`
}

// Run serves until SIGINT or SIGTERM, then drains: stop accepting, finish
// in-flight requests, commit pending writes, exit 0.
func (c *ServeCmd) Run(g *Globals) error {
	log := newLogger(g.stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.ClockSpeed != 1 || c.ClockStart != "" {
		if c.ClockSpeed <= 0 || c.ClockSpeed > 1e6 {
			return fmt.Errorf("--clock-speed %v: want more than 0 and at most 1000000", c.ClockSpeed)
		}
		start := time.Now()
		if c.ClockStart != "" {
			var err error
			if start, err = time.Parse(time.RFC3339, c.ClockStart); err != nil {
				return fmt.Errorf("--clock-start %q: want an RFC 3339 time", c.ClockStart)
			}
		}
		g.clock = clock.NewScaled(start, c.ClockSpeed)
		log.Warn("the clock is scaled: for demos and tests only", "speed", c.ClockSpeed, "start", start)
	}
	st, err := g.open(ctx, log)
	if err != nil {
		return err
	}
	if _, err := st.SeedSegments(ctx, segment.DefaultSource()); err != nil {
		st.Close()
		return fmt.Errorf("seed the default segments: %w", err)
	}
	if c.DefaultRegion != "" {
		r, err := contact.NormalizeCountry(c.DefaultRegion)
		if err != nil {
			st.Close()
			return fmt.Errorf("--default-region %q is not an ISO 3166-1 country code", c.DefaultRegion)
		}
		c.DefaultRegion = r
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		st.Close()
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	public, err := c.publicURL(ln.Addr().String())
	var mailer *dispatch.Email
	var pool *email.Pool
	var signer *track.Signer
	var texter *dispatch.SMS
	if err == nil {
		mailer, pool, signer, err = c.mailer(st, public)
	}
	if err == nil {
		texter, err = c.texter(public)
	}
	if err != nil {
		ln.Close()
		st.Close()
		return err
	}
	if pool != nil {
		defer pool.Close()
	}
	if mailer == nil {
		log.Warn("no SMTP relay (NURTURE_SMTP_URL): email waits in the outbox")
	}
	hooks := &webhook.Client{HTTP: &http.Client{Transport: webhook.PublicTransport()}, Clock: time.Now}
	if c.WebhooksAllowPrivate {
		hooks.HTTP = &http.Client{}
	}
	sender := dispatch.New(dispatch.Config{Store: st, Logger: log, Email: mailer, SMS: texter, Webhooks: hooks, Lease: c.OutboxLease, Clock: g.clock})
	routesCtx, stopRoutes := context.WithCancel(context.Background())
	routesDone := make(chan struct{})
	if mailer != nil {
		go func() { defer close(routesDone); c.routes(routesCtx, st, sender, log) }()
	} else {
		close(routesDone)
	}
	stopRoutesOnce := sync.OnceFunc(func() { stopRoutes(); <-routesDone })
	defer stopRoutesOnce()
	var senderDomains []string
	if mailer != nil {
		senderDomains = []string{mailer.Marketing.Domain(), mailer.Transactional.Domain()}
	}
	srv := &http.Server{
		Handler: web.New(web.Config{Store: st, Logger: log, DefaultRegion: c.DefaultRegion, Version: version, Signer: signer, Clock: g.clock,
			PublicURL: public, HookSecret: []byte(hex.EncodeToString(st.Key("hooks"))), TwilioToken: c.TwilioToken, SMSHelp: c.SMSHelp,
			AllowPrivateWebhooks: c.WebhooksAllowPrivate, SenderDomains: senderDomains}),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 120 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	where := "SQLite in " + filepath.Join(g.DataDir, "nurture.db")
	if g.Database != "" {
		where = "PostgreSQL"
	}
	fmt.Fprintf(g.stdout, "Nurture %s listening on http://%s (%s)\n", version, ln.Addr(), where)
	fmt.Fprintf(g.stdout, "Create an API key: nurture apikey create --name my-key%s\n", g.flagsForHint())
	fmt.Fprintf(g.stdout, "API reference: http://%s/api/v1/openapi.json\n", ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "database", st.Dialect(), "version", version)

	stopWorkers := startWorkers(st, log, sender)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopWorkers()
		stopRoutesOnce()
		st.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	stopWorkers() // a rescore in progress stops between chunks and resumes on the next start
	stopRoutesOnce()
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	if shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	log.Info("stopped")
	return nil
}

// flagsForHint repeats the database flags the server was started with, so the
// printed apikey command opens the same database.
func (g *Globals) flagsForHint() string {
	switch {
	case g.Database != "":
		return " --database '<the same URL>'"
	case g.DataDir != "nurture-data":
		return " --data-dir " + g.DataDir
	}
	return ""
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(g *Globals) error {
	fmt.Fprintln(g.stdout, "nurture", version)
	return nil
}

// APIKeyCreateCmd creates a key.
type APIKeyCreateCmd struct {
	Name string `name:"name" default:"default" help:"A label to recognise the key by."`
}

// Run creates the key and prints it alone on the last line.
func (c *APIKeyCreateCmd) Run(g *Globals) error {
	if c.Name == "" || utf8.RuneCountInString(c.Name) > 100 || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
		return errors.New("--name must be 1 to 100 characters, without control characters")
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		key, k, err := st.CreateAPIKey(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "Created API key %d (%q, prefix %s). It is shown once; keep it secret:\n", k.ID, k.Name, k.Prefix)
		fmt.Fprintln(g.stdout, key)
		return nil
	})
}

// APIKeyListCmd lists keys.
type APIKeyListCmd struct{}

// Run lists keys.
func (APIKeyListCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		keys, err := st.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
}

// APIKeyRevokeCmd revokes a key.
type APIKeyRevokeCmd struct {
	Key string `arg:"" help:"The key's id or prefix (see apikey list)."`
}

// Run revokes the key.
func (c *APIKeyRevokeCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		k, err := st.RevokeAPIKey(ctx, c.Key)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "Revoked API key %d (%q).\n", k.ID, k.Name)
		return nil
	})
}

// MigrateUpCmd applies migrations.
type MigrateUpCmd struct{}

// Run applies migrations.
func (MigrateUpCmd) Run(g *Globals) error {
	return g.withStore(func(context.Context, *store.Store) error {
		fmt.Fprintln(g.stdout, "Migrations applied.")
		return nil
	})
}

// MigrateStatusCmd shows migration state.
type MigrateStatusCmd struct{}

// Run shows migration state without applying anything.
func (MigrateStatusCmd) Run(g *Globals) error {
	ctx := context.Background()
	st, err := store.Open(ctx, g.storeConfig(newLogger(g.stderr)))
	if err != nil {
		return err
	}
	defer st.Close()
	ms, err := st.MigrationStatuses(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range ms {
		applied := "pending"
		if !m.AppliedAt.IsZero() {
			applied = m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return tw.Flush()
}
