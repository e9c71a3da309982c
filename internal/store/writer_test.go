package store

import (
	"context"
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
)

// When the transaction itself fails (here: it cannot even begin), every op of
// the batch must get an error; none may be reported as written.
func TestWriterReportsTransactionFailure(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.WriteStats().Commits // Migrate saves the built-in templates
	s.w.Close()                      // every transaction now fails to begin
	defer s.writer.close()

	if _, err := s.WriteContact(ctx, WriteContactParams{Input: contact.Input{Email: "a@example.com"}}); err == nil {
		t.Error("WriteContact on a broken database returned no error")
	}
	ok := func(*tx) error { return nil }
	for i, err := range s.writer.do(ok, ok, ok) {
		if err == nil {
			t.Errorf("op %d of a batch on a broken database returned no error", i)
		}
	}
	if got := s.WriteStats().Commits - before; got != 0 {
		t.Errorf("commits = %d; want 0", got)
	}
	if s.ErrorCount() == 0 {
		t.Error("database errors were not counted")
	}
}

// TestSQLiteCacheSize: the writer's page cache is the configured size, 16
// MiB by default.
func TestSQLiteCacheSize(t *testing.T) {
	for _, tc := range []struct{ mb, want int }{{0, -16 << 10}, {8, -8 << 10}, {-3, -16 << 10}} {
		s, err := Open(context.Background(), Config{DataDir: t.TempDir(), CacheMB: tc.mb})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := s.w.QueryRow("PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got != tc.want {
			t.Errorf("CacheMB %d: cache_size = %d; want %d", tc.mb, got, tc.want)
		}
	}
}
