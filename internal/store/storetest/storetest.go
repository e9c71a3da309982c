// Package storetest opens real, migrated, throwaway stores for tests: SQLite
// in a temporary directory always, and PostgreSQL (a fresh schema per test)
// whenever NURTURE_TEST_POSTGRES holds a DSN. Every store test runs on both.
package storetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/store"
)

// Epoch is where test clocks start.
var Epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// DB is one database kind to test against.
type DB struct {
	Name string // "sqlite" or "postgres"
	dsn  string
}

// DBs lists the databases available to this test run.
func DBs() []DB {
	dbs := []DB{{Name: "sqlite"}}
	if dsn := os.Getenv("NURTURE_TEST_POSTGRES"); dsn != "" {
		dbs = append(dbs, DB{Name: "postgres", dsn: dsn})
	}
	return dbs
}

// Each runs fn as a subtest on a fresh store of every available database.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store, clk *clock.Fake)) {
	t.Helper()
	for _, db := range DBs() {
		t.Run(db.Name, func(t *testing.T) {
			clk := clock.NewFake(Epoch)
			fn(t, Open(t, db, clk), clk)
		})
	}
}

// Open returns a fresh migrated store on db, closed when the test ends.
func Open(t testing.TB, db DB, clk clock.Clock) *store.Store {
	t.Helper()
	cfg := Config(t, db)
	cfg.Clock = clk
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", db.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", db.Name, err)
	}
	return s
}

// Config returns the store configuration of a fresh, empty database of kind
// db: a temporary directory for SQLite, a new schema for PostgreSQL (dropped
// when the test ends).
func Config(t testing.TB, db DB) store.Config {
	t.Helper()
	if db.Name == "sqlite" {
		return store.Config{DataDir: t.TempDir()}
	}
	dsn, drop, err := store.FreshSchema(context.Background(), db.dsn, "test_")
	if err != nil {
		t.Fatalf("fresh schema: %v", err)
	}
	t.Cleanup(drop)
	return store.Config{DatabaseURL: dsn}
}

// Dump returns the text of every column of every row of the store's tables,
// for checks that some value is nowhere left (erasure).
func Dump(s *store.Store) (string, error) {
	return s.DumpForTest(context.Background())
}

// Contains reports whether dump holds v.
func Contains(dump, v string) bool { return strings.Contains(dump, v) }
