package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nurturehq/nurture/internal/score"
)

// Scoring runs on most events, so its reads and writes are kept off the
// per-event path:
//
//   - a write transaction keeps the states it scored and the ledger rows it
//     made in a buffer (scoreBuf), and writes them in a few multi-row
//     statements just before it commits;
//   - on SQLite, whose one writer connection sees every write, the states of
//     recently scored contacts stay in memory between transactions
//     (stateCache), so scoring an event reads nothing from the database.
//
// Code that reads or writes score_state or score_ledger directly first
// flushes the buffer (flushScores) and then forgets what it wrote
// (forgetScores).

// stateCache holds the committed scoring states of recently scored contacts.
// Two generations bound it: when the young one is full it becomes the old
// one and the previous old one is dropped; a hit in the old one moves up.
type stateCache struct {
	mu         sync.Mutex
	young, old map[int64]*score.State // immutable once stored
	half       int
	// dataVersion is SQLite's PRAGMA data_version as last seen on the writer
	// connection: another process that writes the file changes it, and the
	// cache is then dropped.
	dataVersion int64
}

// defaultStateCacheSize is how many contacts' states SQLite keeps in memory.
// A state takes about 500 bytes with its maps: 65,536 of them keep a busy
// hot set in memory and leave room under the 300 MB a million contacts may
// take (BenchmarkSegmentMemory).
const defaultStateCacheSize = 1 << 16

func newStateCache(size int) *stateCache {
	return &stateCache{half: max(size/2, 1)}
}

func (c *stateCache) get(id int64) *score.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.young[id]; st != nil {
		return st
	}
	st := c.old[id]
	if st != nil {
		delete(c.old, id)
		c.putLocked(id, st)
	}
	return st
}

func (c *stateCache) putLocked(id int64, st *score.State) {
	if c.young == nil {
		c.young = make(map[int64]*score.State, c.half)
	}
	if len(c.young) >= c.half {
		c.old, c.young = c.young, make(map[int64]*score.State, c.half)
	}
	delete(c.old, id)
	c.young[id] = st
}

// commit records what a transaction committed: states it wrote, and
// contacts whose state it changed by other means.
func (c *stateCache) commit(states map[int64]*score.State, written, forgotten map[int64]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range forgotten {
		delete(c.young, id)
		delete(c.old, id)
	}
	for id := range written {
		if st := states[id]; st != nil && !forgotten[id] {
			c.putLocked(id, st)
		}
	}
}

// check drops the cache when another connection wrote the database since
// the writer last looked. It runs at the start of each write transaction.
func (c *stateCache) check(t *tx) error {
	var v int64
	if err := t.Tx.QueryRowContext(t.ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.dataVersion {
		c.young, c.old, c.dataVersion = nil, nil, v
	}
	return nil
}

// scoreBuf is one transaction's scoring writes, not yet sent.
type scoreBuf struct {
	states    map[int64]*score.State // the states as this transaction sees them; never changed in place
	dirty     []int64                // states to write, in the order first changed
	isDirty   map[int64]bool
	ledger    []ledgerRow // rows to insert
	events    [][]any     // scoring's own events to insert, in order
	written   map[int64]bool
	forgotten map[int64]bool // states this transaction must read from the database
}

func (t *tx) buf() *scoreBuf {
	if t.scores == nil {
		t.scores = &scoreBuf{states: map[int64]*score.State{}, isDirty: map[int64]bool{},
			written: map[int64]bool{}, forgotten: map[int64]bool{}}
	}
	return t.scores
}

// scoreState returns a contact's scoring state, which the caller may change.
func (t *tx) scoreState(id int64) (score.State, error) {
	b := t.buf()
	if st := b.states[id]; st != nil {
		return st.Clone(), nil
	}
	if c := t.s.states; c != nil && !b.forgotten[id] {
		if st := c.get(id); st != nil {
			b.states[id] = st
			return st.Clone(), nil
		}
	}
	st, err := t.loadScoreState(id)
	if err != nil {
		return st, err
	}
	b.states[id] = &st
	return st.Clone(), nil
}

// loadScoreState reads a contact's state from the database.
func (t *tx) loadScoreState(id int64) (score.State, error) {
	var st score.State
	if b := t.buf(); t.created[id] && !b.forgotten[id] && !b.written[id] {
		return st, nil // created by this transaction: no state written yet
	}
	var raw string
	err := t.queryRow("SELECT state FROM score_state WHERE contact_id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, fmt.Errorf("decode score state of contact %d: %w", id, err)
	}
	return st, nil
}

// putScoreState takes st (the caller must not change it after) as the
// contact's state, and queues it and its ledger entries for writing.
func (t *tx) putScoreState(id int64, st *score.State, entries []score.Entry) {
	b := t.buf()
	b.states[id] = st
	if !b.isDirty[id] {
		b.isDirty[id] = true
		b.dirty = append(b.dirty, id)
	}
	for _, e := range entries {
		b.ledger = append(b.ledger, ledgerRow{id, e})
	}
}

// flushEvents writes the queued events of scoring. Each op ends with it,
// so events keep the order of the ops that caused them, and so does any
// read of events inside a transaction.
func (t *tx) flushEvents() error {
	b := t.scores
	if b == nil || len(b.events) == 0 {
		return nil
	}
	// Events a webhook subscribes to are written one by one, for their
	// ids; the others in bulk.
	bulk := b.events[:0:0]
	for _, row := range b.events {
		typ := row[1].(string)
		subs, err := t.subscribers(typ)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			bulk = append(bulk, row)
			continue
		}
		var id int64
		if err := t.queryRow(`INSERT INTO events (contact_id, type, occurred_at, received_at, source, properties)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, row...).Scan(&id); err != nil {
			return err
		}
		if err := t.fanOut(row[0].(int64), id, typ, fromMS(row[2].(int64))); err != nil {
			return err
		}
	}
	err := t.execRows(`INSERT INTO events (contact_id, type, occurred_at, received_at, source, properties) VALUES `, 6, "", bulk)
	b.events = b.events[:0]
	return err
}

// flushScores writes the queued events, states and ledger rows.
func (t *tx) flushScores() error {
	if err := t.flushEvents(); err != nil {
		return err
	}
	if err := t.flushJourneyStats(); err != nil {
		return err
	}
	if err := t.flushSegments(); err != nil {
		return err
	}
	b := t.scores
	if b == nil || len(b.dirty) == 0 && len(b.ledger) == 0 {
		return nil
	}
	r, err := t.rules()
	if err != nil {
		return err
	}
	thr := r.ThresholdScore()
	rows := make([][]any, 0, len(b.dirty))
	for _, id := range b.dirty {
		st := b.states[id]
		raw, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode score state: %w", err)
		}
		rows = append(rows, []any{id, st.Value(thr), null(st.Band), string(raw)})
	}
	if err := t.execRows(`INSERT INTO score_state (contact_id, score, band, state) VALUES `, 4,
		` ON CONFLICT (contact_id) DO UPDATE SET score = excluded.score, band = excluded.band, state = excluded.state`, rows); err != nil {
		return err
	}
	if err := t.insertLedgerRows(b.ledger); err != nil {
		return err
	}
	for _, id := range b.dirty {
		b.written[id] = true
	}
	b.dirty, b.ledger = b.dirty[:0], b.ledger[:0]
	clear(b.isDirty)
	return nil
}

// forgetScores notes contacts whose state was written or removed other than
// through putScoreState: they are read from the database from now on, and
// leave the cache when the transaction commits. Flush first.
func (t *tx) forgetScores(ids ...int64) {
	b := t.buf()
	for _, id := range ids {
		delete(b.states, id)
		b.forgotten[id] = true
	}
}

// dropUnflushed throws away what an op that was rolled back to its
// savepoint queued. Earlier ops flushed theirs, so the database is right
// for every contact the op touched.
func (t *tx) dropUnflushed() {
	t.dropSegments()
	t.epochs, t.epochsOf = nil, nil // what it wrote of segment_keys is rolled back too
	t.templates, t.recent = nil, nil
	b := t.scores
	if b == nil {
		return
	}
	t.forgetScores(b.dirty...)
	b.dirty, b.ledger, b.events = b.dirty[:0], b.ledger[:0], b.events[:0]
	clear(b.isDirty)
}

// committed hands what the transaction wrote to the cache.
func (t *tx) committed() {
	t.publishEpochs()
	if t.queued {
		wake(t.s.queued)
	}
	if t.hooked {
		wake(t.s.hooked)
	}
	if t.scores != nil && t.s.states != nil {
		t.s.states.commit(t.scores.states, t.scores.written, t.scores.forgotten)
	}
}

// rowBatches are the row counts multi-row statements are prepared for.
var rowBatches = []int{64, 16, 4, 1}

// execRows runs head + "(?, …), (?, …)" + tail over rows of cols values,
// in as few statements of the sizes in rowBatches as it can.
func (t *tx) execRows(head string, cols int, tail string, rows [][]any) error {
	one := "(?" + strings.Repeat(", ?", cols-1) + ")"
	for len(rows) > 0 {
		n := 1
		for _, size := range rowBatches {
			if len(rows) >= size {
				n = size
				break
			}
		}
		args := make([]any, 0, n*cols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := t.exec(head+one+strings.Repeat(", "+one, n-1)+tail, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (t *tx) lock(id int64) {
	if t.locked == nil {
		t.locked = map[int64]bool{}
	}
	t.locked[id] = true
}

// preloadScoreRange reads the scoring states of the contacts in
// (after, last] that this transaction has not read yet, in one statement;
// the caller holds their locks.
func (t *tx) preloadScoreRange(after, last int64) error {
	return t.readScoreStates("SELECT contact_id, state FROM score_state WHERE contact_id > ? AND contact_id <= ?", after, last)
}

// readScoreStates reads (contact_id, state) rows into the buffer, leaving
// alone the states it holds already or must read again.
func (t *tx) readScoreStates(query string, args ...any) error {
	rows, err := t.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	b := t.buf()
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return err
		}
		if b.states[id] != nil || b.forgotten[id] {
			continue
		}
		var st score.State
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return fmt.Errorf("decode score state of contact %d: %w", id, err)
		}
		b.states[id] = &st
	}
	return rows.Err()
}

// preloadScores locks the contacts a batch will score, in id order, and
// reads their scoring states: two statements for the whole batch
// (PostgreSQL, where each statement is a round trip).
func (t *tx) preloadScores(ids []int64) error {
	if len(ids) < 2 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := t.query("SELECT id FROM contacts WHERE id = ANY(?) ORDER BY id"+t.s.d.forUpdate, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		t.lock(id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Read once the locks are held: each statement sees what committed before it.
	if err := t.readScoreStates("SELECT contact_id, state FROM score_state WHERE contact_id = ANY(?)", ids); err != nil {
		return err
	}
	b := t.buf()
	for _, id := range ids {
		if t.locked[id] && b.states[id] == nil {
			b.states[id] = &score.State{} // none stored yet
		}
	}
	return nil
}
