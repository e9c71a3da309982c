package store

// Read-only views of the whole database, for operators and tests: row counts,
// every event id, every stored value. They scan whole tables.

import (
	"context"
	"fmt"
	"strings"
)

// Counts returns the number of rows in each table, for checks that a
// rejected request wrote nothing.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range []string{"contacts", "contact_tags", "events", "consents", "api_keys", "erasures"} {
		var n int64
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, s.dbErr("count "+t, err)
		}
		out[t] = n
	}
	return out, nil
}

// DumpForTest returns every value of every row of every table as text.
// Tests use it to prove erased data is gone; it is not for production use.
func (s *Store) DumpForTest(ctx context.Context) (string, error) {
	var b strings.Builder
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if s.d.name == "postgres" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	var tables []string
	trows, err := s.r.QueryContext(ctx, q)
	if err != nil {
		return "", err
	}
	for trows.Next() {
		var name string
		if err := trows.Scan(&name); err != nil {
			trows.Close()
			return "", err
		}
		tables = append(tables, name)
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return "", err
	}
	for _, t := range tables {
		rows, err := s.r.QueryContext(ctx, "SELECT * FROM "+t)
		if err != nil {
			return "", err
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v\t", v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String(), nil
}

// EventIDs returns the id of every stored event. For tests on small logs.
func (s *Store) EventIDs(ctx context.Context) (map[int64]bool, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id FROM events")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}
