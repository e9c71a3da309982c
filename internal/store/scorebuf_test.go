package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
)

var bufEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// openBoth opens a fresh store on SQLite (with the given state cache size)
// and, when NURTURE_TEST_POSTGRES is set, on PostgreSQL.
func openBoth(t *testing.T, cache int) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	cfgs := map[string]Config{"sqlite": {DataDir: t.TempDir(), StateCache: cache}}
	if dsn := os.Getenv("NURTURE_TEST_POSTGRES"); dsn != "" {
		url, drop, err := FreshSchema(ctx, dsn, "test_")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(drop)
		cfgs["postgres"] = Config{DatabaseURL: url}
	}
	out := map[string]*Store{}
	for name, cfg := range cfgs {
		cfg.Clock = clock.NewFake(bufEpoch)
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func pricing(id int64, min int) EventInput {
	return EventInput{ContactID: id, Type: "page_viewed", Source: "api", OccurredAt: bufEpoch.Add(time.Duration(min) * time.Minute),
		Properties: json.RawMessage(`{"url":"https://x.test/pricing"}`)}
}

func click(id int64, min int) EventInput {
	return EventInput{ContactID: id, Type: "email_clicked", Source: "api", OccurredAt: bufEpoch.Add(time.Duration(min) * time.Minute)}
}

func newLead(t *testing.T, s *Store, email string) int64 {
	t.Helper()
	res := s.AppendEvents(context.Background(), []EventInput{{Email: email, Type: "form_submitted", Source: "api", OccurredAt: bufEpoch}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	return res[0].ContactID
}

// checkScore asserts a contact's score as the database holds it, that its
// ledger adds up to it, and that the next event is scored from it (the
// state the writer holds in memory is the stored one).
func checkScore(t *testing.T, s *Store, id int64, want int) {
	t.Helper()
	ctx := context.Background()
	rep, err := s.Score(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, l := range rep.Ledger {
		if l.Score == "engagement" {
			sum += l.Points
		}
	}
	if rep.Scores["engagement"] != want || sum != want {
		t.Fatalf("contact %d: engagement %d, ledger sum %d; want %d", id, rep.Scores["engagement"], sum, want)
	}
}

// An op that scores and then fails is rolled back to its savepoint: what it
// scored leaves no trace, in the database or in the writer's memory, while
// the ops around it in the same transaction keep theirs.
func TestScoreBufferSavepointRollback(t *testing.T) {
	for name, s := range openBoth(t, 0) {
		t.Run(name, func(t *testing.T) {
			a, b := newLead(t, s, "a@example.com"), newLead(t, s, "b@example.com")
			boom := errors.New("boom")
			ok1 := func(t *tx) error { _, err := t.appendEvent(pricing(a, 1)); return err }
			fails := func(t *tx) error {
				if _, err := t.appendEvent(click(a, 2)); err != nil {
					return err
				}
				if _, err := t.appendEvent(click(b, 2)); err != nil {
					return err
				}
				return boom
			}
			ok2 := func(t *tx) error { _, err := t.appendEvent(pricing(b, 3)); return err }
			errs := s.writer.do(ok1, fails, ok2)
			if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
				t.Fatalf("errors = %v", errs)
			}
			checkScore(t, s, a, 10)
			checkScore(t, s, b, 10)
			// The next events are scored from the committed states.
			for _, r := range s.AppendEvents(context.Background(), []EventInput{click(a, 4), click(b, 4)}) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			checkScore(t, s, a, 17)
			checkScore(t, s, b, 17)
		})
	}
}

// A transaction that fails as a whole (here: at commit of a lone op) leaves
// the writer's memory as it was.
func TestScoreBufferFailedOp(t *testing.T) {
	for name, s := range openBoth(t, 0) {
		t.Run(name, func(t *testing.T) {
			a := newLead(t, s, "a@example.com")
			boom := errors.New("boom")
			err := s.writer.do1(func(t *tx) error {
				if _, err := t.appendEvent(pricing(a, 1)); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			checkScore(t, s, a, 0)
			if r := s.AppendEvents(context.Background(), []EventInput{click(a, 2)}); r[0].Err != nil {
				t.Fatal(r[0].Err)
			}
			checkScore(t, s, a, 7)
		})
	}
}

// Another process writing the same SQLite file (a second store here) makes
// the writer drop the states it holds in memory.
func TestScoreCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *Store {
		s, err := Open(ctx, Config{DataDir: dir, Clock: clock.NewFake(bufEpoch)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1, s2 := open(), open()
	a := newLead(t, s1, "a@example.com")
	if r := s1.AppendEvents(ctx, []EventInput{pricing(a, 1)}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := s2.AppendEvents(ctx, []EventInput{click(a, 2)}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if r := s1.AppendEvents(ctx, []EventInput{{ContactID: a, Type: "email_replied", Source: "api", OccurredAt: bufEpoch.Add(3 * time.Minute)}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	checkScore(t, s1, a, 32)
}

// A cache far smaller than the contacts scored keeps every score right.
func TestScoreCacheEviction(t *testing.T) {
	for name, s := range openBoth(t, 3) {
		t.Run(name, func(t *testing.T) {
			var ids []int64
			for i := range 10 {
				ids = append(ids, newLead(t, s, fmt.Sprintf("c%d@example.com", i)))
			}
			for round := range 3 {
				var batch []EventInput
				for _, id := range ids {
					batch = append(batch, click(id, 10+round*60*24*8)) // a week apart: no limit bites
				}
				for _, r := range s.AppendEvents(context.Background(), batch) {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
				}
			}
			for _, id := range ids {
				checkScore(t, s, id, 21)
			}
			if c := s.states; c != nil && len(c.young)+len(c.old) > 4 {
				t.Errorf("cache holds %d states; want at most 4", len(c.young)+len(c.old))
			}
		})
	}
}

// A rescore chunk read ahead on a reader is used only if no event of its
// contacts came after the read; otherwise the writer reads it again, and
// the late event counts.
func TestRescorePrefetchStaleness(t *testing.T) {
	ctx := context.Background()
	s := openBoth(t, 0)["sqlite"]
	a, b := newLead(t, s, "a@example.com"), newLead(t, s, "b@example.com")
	for _, r := range s.AppendEvents(ctx, []EventInput{pricing(a, 1), pricing(b, 1)}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	r, err := s.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rescore := func(pre *prefetched) {
		t.Helper()
		err := s.writer.do1(func(t *tx) error {
			_, _, err := t.rescoreChunk(r, 0, 500, s.now(), pre)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Fresh: the prefetched chunk gives what a replay gives.
	pre, err := s.prefetchOne(ctx, r, 0, 500)
	if err != nil || len(pre.d.contacts) != 2 {
		t.Fatalf("prefetch = %+v, %v", pre, err)
	}
	rescore(pre)
	checkScore(t, s, a, 10)
	checkScore(t, s, b, 10)
	// Stale: a click for b lands between the read and the write.
	pre, err = s.prefetchOne(ctx, r, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	if res := s.AppendEvents(ctx, []EventInput{click(b, 2)}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	rescore(pre)
	checkScore(t, s, a, 10)
	checkScore(t, s, b, 17)
}
