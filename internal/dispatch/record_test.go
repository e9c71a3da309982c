package dispatch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/nurturehq/nurture/internal/store"
)

// TestRecordRetries: outcomes whose write failed are kept and written
// later, each once; senders are never held up meanwhile.
func TestRecordRetries(t *testing.T) {
	var mu sync.Mutex
	calls, failures := 0, 3
	var written []int64
	complete := func(_ context.Context, os []store.Outcome) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= failures {
			return errors.New("database is locked")
		}
		for _, o := range os {
			written = append(written, o.ID)
		}
		return nil
	}
	results := make(chan store.Outcome) // unbuffered: a blocked recorder would block this test
	done := make(chan error, 1)
	go func() { done <- record(context.Background(), results, complete) }()
	for i := range 300 {
		results <- store.Outcome{ID: int64(i + 1)}
	}
	close(results)
	if err := <-done; err != nil {
		t.Fatalf("record = %v; want nil once the retries succeed", err)
	}
	if len(written) != 300 {
		t.Fatalf("%d outcomes written; want 300", len(written))
	}
	seen := map[int64]bool{}
	for _, id := range written {
		if seen[id] {
			t.Fatalf("outcome %d written twice", id)
		}
		seen[id] = true
	}
}

// TestRecordGivesUp: when the writes never succeed, the senders still go
// on, and the error says how many outcomes were lost.
func TestRecordGivesUp(t *testing.T) {
	complete := func(context.Context, []store.Outcome) error { return errors.New("disk full") }
	results := make(chan store.Outcome)
	done := make(chan error, 1)
	go func() { done <- record(context.Background(), results, complete) }()
	for i := range 100 {
		results <- store.Outcome{ID: int64(i + 1)}
	}
	close(results)
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "100 messages") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("record = %v; want the 100 lost outcomes reported", err)
	}
}
