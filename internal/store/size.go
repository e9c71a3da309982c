package store

import (
	"context"
	"fmt"
)

// Storage is how much room the event log takes.
type Storage struct {
	Events      int64 // rows in events
	EventBytes  int64 // the events table and its indexes
	ContactRows int64
	TotalBytes  int64 // every table and index of the database
}

// MeasureStorage reports the event log's size on disk, indexes included.
func (s *Store) MeasureStorage(ctx context.Context) (Storage, error) {
	var st Storage
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&st.Events); err != nil {
		return st, fmt.Errorf("count events: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM contacts").Scan(&st.ContactRows); err != nil {
		return st, fmt.Errorf("count contacts: %w", err)
	}
	var eventsQ, totalQ string
	switch s.d.name {
	case "sqlite":
		eventsQ = "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ('events', 'events_contact', 'events_idempotency')"
		totalQ = "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat"
	default:
		eventsQ = "SELECT pg_total_relation_size('events')"
		totalQ = `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`
	}
	if err := s.r.QueryRowContext(ctx, eventsQ).Scan(&st.EventBytes); err != nil {
		return st, fmt.Errorf("measure events: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, totalQ).Scan(&st.TotalBytes); err != nil {
		return st, fmt.Errorf("measure database: %w", err)
	}
	return st, nil
}
