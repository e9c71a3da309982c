// Package store holds all of Nurture's SQL: opening SQLite or PostgreSQL,
// the embedded migrations, the group-committing writer, and one file per
// domain with use-case-shaped methods. Each method is one transaction.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nurturehq/nurture/internal/clock"
)

//go:embed migrations
var migrations embed.FS

// Config says which database to open. The zero value opens SQLite in ./nurture-data.
type Config struct {
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or postgresql://.
	// Empty means SQLite in DataDir.
	DatabaseURL string
	// DataDir holds the SQLite database file (nurture.db). Default ./nurture-data.
	DataDir string
	// Clock stamps received_at and created/updated times. Default: the wall clock.
	Clock clock.Clock
	// Logger receives store-level warnings. Default: slog.Default().
	Logger *slog.Logger
	// Writers is how many group-commit writers run at once. SQLite always uses
	// one (it has one writer); PostgreSQL defaults to 8.
	Writers int
	// StateCache is how many contacts' scoring states SQLite keeps in memory
	// between writes (see scorebuf.go). 0 means the default (131,072);
	// negative turns the cache off. PostgreSQL never caches them: other
	// nodes write too.
	StateCache int
	// CacheMB is the SQLite writer's page cache in MiB. 0 means the default
	// (16); SQLite's allocator holds about twice the figure in memory.
	CacheMB int
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	d      dialect
	w      *sql.DB // the writer pool: one connection on SQLite
	r      *sql.DB // the reader pool (the same pool on PostgreSQL)
	clock  clock.Clock
	log    *slog.Logger
	writer *writer
	secret []byte
	path   string // SQLite file, for size measurements

	queries sync.Map // query text with ? → dialect's placeholders
	stmts   sync.Map // SQLite: query text → *sql.Stmt prepared on the writer connection
	wanted  sync.Map // SQLite: query texts to prepare between transactions
	errors  atomic.Int64
	rules   rulesCache
	states  *stateCache // SQLite: recent contacts' scoring states (see scorebuf.go)
	segs    segmentsCache
	// versions caches template versions, which never change once written.
	versions sync.Map
	// journeyCache keeps the journeys' catalog and compiled versions.
	journeyCache journeyCache
	routingCache routingCache
	queued       chan struct{} // see Queued
	hooked       chan struct{} // see Hooked
	ckpt         *checkpointer // SQLite
	hooks        atomic.Pointer[hookSubs]
}

// dialect is the small seam between the two databases.
type dialect struct {
	name string // "sqlite" or "postgres"
	// Row locks inside write transactions (SQLite's single writer needs none).
	// lockContact takes FOR NO KEY UPDATE: it must not conflict with the FOR KEY
	// SHARE that every event insert takes on its contact (through the foreign
	// key and explicitly), or upserts and appends deadlock each other. Erasure
	// takes FOR UPDATE, which does conflict, so no event slips in beside it.
	forUpdate, forErase, forKeyShare string
	// instr is the function giving a substring's position in a text.
	instr string
}

var (
	sqliteDialect   = dialect{name: "sqlite", instr: "instr"}
	postgresDialect = dialect{name: "postgres", forUpdate: " FOR NO KEY UPDATE", forErase: " FOR UPDATE", forKeyShare: " FOR KEY SHARE", instr: "strpos"}
)

// IsPostgres reports whether url names a PostgreSQL database.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Open connects to the database named by cfg. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Store{clock: cfg.Clock, log: cfg.Logger, queued: make(chan struct{}, 1), hooked: make(chan struct{}, 1)}
	var err error
	switch {
	case IsPostgres(cfg.DatabaseURL):
		err = s.openPostgres(cfg)
	case cfg.DatabaseURL != "":
		return nil, fmt.Errorf("database URL must start with postgres:// (leave it empty for SQLite)")
	default:
		err = s.openSQLite(cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := s.r.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("reach %s database: %w", s.d.name, err)
	}
	writers := 1
	if s.d.name == "postgres" {
		writers = cfg.Writers
		if writers <= 0 {
			writers = 8
		}
	}
	s.writer = newWriter(s, writers)
	return s, nil
}

func (s *Store) openSQLite(cfg Config) error {
	dir := cfg.DataDir
	if dir == "" {
		dir = "nurture-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	s.path = filepath.Join(dir, "nurture.db")
	switch {
	case cfg.StateCache == 0:
		s.states = newStateCache(defaultStateCacheSize)
	case cfg.StateCache > 0:
		s.states = newStateCache(cfg.StateCache)
	}
	// Pragmas in one place: WAL so readers never block the writer, NORMAL sync
	// (durable against a process crash; a power cut may lose the last commits),
	// a busy timeout for other processes (the CLI) and foreign keys on.
	base := "file:" + s.path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	// The writer gets a 16 MiB page cache (CacheMB). 64 MiB cost 90 MB of
	// RSS more than 16 MiB while sending 100,000 messages, for no
	// difference in ingest or rescore figures beyond their noise
	// (docs/benchmarks.md). Checkpoints run beside it (checkpoint.go).
	cacheMB := cfg.CacheMB
	if cacheMB <= 0 {
		cacheMB = 16
	}
	// secure_delete zeroes freed content, so erased personal data does not
	// linger in free pages of the file.
	w, err := sql.Open("sqlite", base+fmt.Sprintf("&_pragma=cache_size(%d)", -cacheMB<<10)+fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", backstopCheckpoint)+
		"&_pragma=secure_delete(1)&_txlock=immediate")
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.d, s.w, s.r = sqliteDialect, w, r
	s.ckpt, err = startCheckpointer(s, base)
	if err != nil {
		s.closeDBs()
		return err
	}
	return nil
}

func (s *Store) openPostgres(cfg Config) error {
	db, err := sql.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.d, s.w, s.r = postgresDialect, db, db
	return nil
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Close flushes pending writes and closes the database.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.close()
	}
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	err := errors.Join(s.ckpt.close(), s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.r.PingContext(ctx) }

// WriteStats says how well writes are group-committed: Ops per Commits is the
// average number of operations sharing one transaction.
type WriteStats struct {
	Commits, Ops int64
}

// WriteStats returns the writer's totals since Open.
func (s *Store) WriteStats() WriteStats {
	return WriteStats{Commits: s.writer.commits.Load(), Ops: s.writer.ops.Load()}
}

// ErrorCount is how many database errors (not domain errors) the store has seen.
func (s *Store) ErrorCount() int64 { return s.errors.Load() }

func (s *Store) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+s.d.name)
	if err != nil {
		return nil, err
	}
	d := goose.DialectSQLite3
	if s.d.name == "postgres" {
		d = goose.DialectPostgres
	}
	return goose.NewProvider(d, s.w, sub)
}

// Migrate applies pending migrations and makes sure the instance secret exists.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", s.d.name, err)
	}
	if err := s.loadSecret(ctx); err != nil {
		return err
	}
	if err := s.seedRules(ctx); err != nil {
		return err
	}
	return s.seedTemplates(ctx)
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version   int64
	Name      string
	AppliedAt time.Time // zero when pending
}

// MigrationStatuses lists every migration with its state.
func (s *Store) MigrationStatuses(ctx context.Context) ([]MigrationStatus, error) {
	p, err := s.provider()
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, m := range st {
		ms := MigrationStatus{Version: m.Source.Version, Name: filepath.Base(m.Source.Path)}
		if m.State == goose.StateApplied {
			ms.AppliedAt = m.AppliedAt
		}
		out = append(out, ms)
	}
	return out, nil
}

// loadSecret reads (creating on first run) the instance secret used to hash
// erased identities, so tombstones cannot be reversed with a list of addresses.
func (s *Store) loadSecret(ctx context.Context) error {
	b := make([]byte, 32)
	rand.Read(b)
	if _, err := s.w.ExecContext(ctx, s.q("INSERT INTO settings (key, value) VALUES ('secret', ?) ON CONFLICT (key) DO NOTHING"), hex.EncodeToString(b)); err != nil {
		return fmt.Errorf("create instance secret: %w", err)
	}
	var v string
	if err := s.w.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'secret'").Scan(&v); err != nil {
		return fmt.Errorf("read instance secret: %w", err)
	}
	secret, err := hex.DecodeString(v)
	if err != nil {
		return fmt.Errorf("instance secret is corrupt: %w", err)
	}
	s.secret = secret
	return nil
}

// q rewrites ? placeholders for PostgreSQL ($1, $2, …), caching the result.
func (s *Store) q(query string) string {
	if s.d.name != "postgres" {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s.queries.Store(query, b.String())
	return b.String()
}

// dbErr counts a database error and wraps it with what was being done.
func (s *Store) dbErr(what string, err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	s.errors.Add(1)
	return fmt.Errorf("%s: %w", what, err)
}

// Temporary reports whether err is a database conflict that a retry of the
// whole request may get past (the store already retried it).
func Temporary(err error) bool { return retryable(err) }

// retryable reports whether a failed operation may succeed if run again.
func retryable(err error) bool { return lostRace(err) || conflicted(err) }

// lostRace reports a unique key taken by a transaction that committed
// meanwhile (PostgreSQL): running the op again sees the winner's row.
func lostRace(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// conflicted reports a transaction that must start over: a PostgreSQL
// deadlock or serialisation failure, or a SQLite file busy with another process.
func conflicted(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// now is the clock's time at the precision stored (milliseconds, UTC), so a
// value returned from a write equals the value read back later.
func (s *Store) now() time.Time { return fromMS(ms(s.clock.Now())) }
