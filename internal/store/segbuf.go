package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// A write transaction keeps its segment writes (segment_state rows,
// segment_members changes and segment timers) in a segBuf and sends them
// with the scoring buffer just before it commits (flushScores), in
// multi-row statements: a batch of events that touches a contact many times
// reads its row once and writes it once, and a build chunk writes thousands
// of rows in a few dozen statements.
//
// Code that reads or writes those tables other than through loadSegRow,
// saveSegRow, writeMembership and setSegmentTimer first calls flushScores.

type segBuf struct {
	rows    map[int64]*segRow // rows as this transaction sees them
	dirty   []int64           // rows to write, in the order first changed
	isDirty map[int64]bool
	// members is the net membership change per (segment, contact): the
	// since time of an entry, or 0 for a removal.
	members map[memberKey]int64
	order   []memberKey
	// timers is the segment timer per contact: its due time, or 0 for none.
	timers     map[int64]int64
	timerOrder []int64
}

type memberKey struct{ segment, contact int64 }

func (t *tx) segBuffer() *segBuf {
	if t.segs == nil {
		t.segs = &segBuf{rows: map[int64]*segRow{}, isDirty: map[int64]bool{},
			members: map[memberKey]int64{}, timers: map[int64]int64{}}
	}
	return t.segs
}

// loadSegRow returns a contact's segment_state row. The caller may change
// it; saveSegRow keeps the change.
func (t *tx) loadSegRow(id int64) (segRow, error) {
	b := t.segBuffer()
	if r := b.rows[id]; r != nil {
		return r.clone(), nil
	}
	var row segRow
	var raw string
	err := t.queryRow("SELECT state FROM segment_state WHERE contact_id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		row.missing = true
		return row, nil
	}
	if err != nil {
		return row, err
	}
	if err := row.decode(id, raw); err != nil {
		return row, err
	}
	b.rows[id] = &row
	return row.clone(), nil
}

func (r *segRow) decode(id int64, raw string) error {
	if err := json.Unmarshal([]byte(raw), r); err != nil {
		return fmt.Errorf("decode segment state of contact %d: %w", id, err)
	}
	return nil
}

// clone copies a row deeply enough that changing the copy's times or
// memberships leaves the original alone.
func (r *segRow) clone() segRow {
	c := *r
	if r.Times != nil {
		c.Times = make(map[string][]int64, len(r.Times))
		for k, v := range r.Times {
			c.Times[k] = v // Observe replaces a key's slice, never changes it in place
		}
	}
	c.In = slices.Clone(r.In)
	return c
}

// preloadSegRows reads the segment_state rows of the contacts in
// (after, last] that this transaction has not read yet, in one statement;
// ids (in that range) without a row get an empty one. in, when not empty,
// narrows the contacts: "contact_id IN (…)" with its arguments.
func (t *tx) preloadSegRows(after, last int64, ids []int64, in string, args []any) error {
	b := t.segBuffer()
	rows, err := t.query("SELECT contact_id, state FROM segment_state WHERE contact_id > ? AND contact_id <= ?"+in, append([]any{after, last}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return err
		}
		if b.rows[id] != nil {
			continue
		}
		row := &segRow{}
		if err := row.decode(id, raw); err != nil {
			return err
		}
		b.rows[id] = row
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if b.rows[id] == nil {
			b.rows[id] = &segRow{missing: true}
		}
	}
	return nil
}

// saveSegRow queues a contact's segment_state row for writing.
func (t *tx) saveSegRow(id int64, row *segRow) {
	b := t.segBuffer()
	c := row.clone()
	c.missing = false
	b.rows[id] = &c
	if !b.isDirty[id] {
		b.isDirty[id] = true
		b.dirty = append(b.dirty, id)
	}
}

// queueMember queues a contact's entry into a segment (since, unix ms) or
// its removal (since 0).
func (t *tx) queueMember(sid, id, since int64) {
	b := t.segBuffer()
	k := memberKey{sid, id}
	if _, ok := b.members[k]; !ok {
		b.order = append(b.order, k)
	}
	b.members[k] = since
}

// setSegmentTimer queues a contact's segment timer (due, unix ms; 0 removes it).
func (t *tx) setSegmentTimer(id, due int64) {
	b := t.segBuffer()
	if _, ok := b.timers[id]; !ok {
		b.timerOrder = append(b.timerOrder, id)
	}
	b.timers[id] = due
}

// flushSegments writes the queued segment rows, memberships and timers,
// and forgets the rows it read: from here on they are read again.
func (t *tx) flushSegments() error {
	if err := t.writeSegments(); err != nil {
		return err
	}
	t.segs = nil
	return nil
}

// writeSegments writes the queued segment rows, memberships and timers,
// keeping the rows as read (a build span writes as it goes, so that what
// it queues stays small).
func (t *tx) writeSegments() error {
	b := t.segs
	if b == nil {
		return nil
	}
	if len(b.dirty) > 0 {
		rows := make([][]any, 0, len(b.dirty))
		for _, id := range b.dirty {
			raw, err := json.Marshal(b.rows[id])
			if err != nil {
				return fmt.Errorf("encode segment state: %w", err)
			}
			rows = append(rows, []any{id, string(raw)})
		}
		if err := t.execRows(`INSERT INTO segment_state (contact_id, state) VALUES `, 2,
			` ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state`, rows); err != nil {
			return err
		}
	}
	if len(b.order) > 0 {
		var add [][]any
		del := map[int64][][]any{}
		var sids []int64
		for _, k := range b.order {
			if since := b.members[k]; since != 0 {
				add = append(add, []any{k.segment, k.contact, since})
				continue
			}
			if del[k.segment] == nil {
				sids = append(sids, k.segment)
			}
			del[k.segment] = append(del[k.segment], []any{k.contact})
		}
		for _, sid := range sids {
			// Row values in IN lists differ between SQLite and PostgreSQL:
			// one statement per segment keeps to plain lists.
			if err := t.execRows(fmt.Sprintf(`DELETE FROM segment_members WHERE segment_id = %d AND contact_id IN (`, sid), 1, `)`, del[sid]); err != nil {
				return err
			}
		}
		if err := t.execRows(`INSERT INTO segment_members (segment_id, contact_id, since) VALUES `, 3,
			` ON CONFLICT (segment_id, contact_id) DO UPDATE SET since = excluded.since`, add); err != nil {
			return err
		}
	}
	if len(b.timerOrder) > 0 {
		var set, del [][]any
		for _, id := range b.timerOrder {
			if due := b.timers[id]; due != 0 {
				set = append(set, []any{timerSegment, id, due})
			} else {
				del = append(del, []any{id})
			}
		}
		if err := t.execRows(`DELETE FROM timers WHERE kind = '`+timerSegment+`' AND contact_id IN (`, 1, `)`, del); err != nil {
			return err
		}
		if err := t.execRows(`INSERT INTO timers (kind, contact_id, due_at) VALUES `, 3,
			` ON CONFLICT (kind, contact_id) DO UPDATE SET due_at = excluded.due_at`, set); err != nil {
			return err
		}
	}
	b.dirty, b.order, b.timerOrder = b.dirty[:0], b.order[:0], b.timerOrder[:0]
	clear(b.isDirty)
	clear(b.members)
	clear(b.timers)
	return nil
}

// dropSegments throws away what an op rolled back to its savepoint queued
// (see dropUnflushed).
func (t *tx) dropSegments() { t.segs = nil }
