package store

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nurturehq/nurture/internal/segment"
)

// A contact's segment_state row keeps the times of the events segment
// conditions count, per behaviour key. A new segment's keys are not
// backfilled for every contact when it is saved: its build completes the
// rows of the contacts it may match (segment.Compiled.Necessary), and any
// other row is completed from the event log the first time it is read
// (completeSegRow). Epochs say which rows are complete for which keys:
//
//   - segment_keys holds every tracked key with what its conditions need
//     (segment.Catalog.KeyNeeds) and the epoch at which it was added or its
//     needs last changed; the epoch counter is the settings row
//     segment_keys_epoch, bumped whenever that table changes;
//   - a row records the epoch it was last completed at (segRow.Epoch): it
//     is complete for every key whose epoch is at most that.
//
// Every write transaction that reads segments first makes segment_keys
// match the catalog it uses (keyEpochs), so a key that leaves the catalog
// and comes back gets a new epoch: rows written meanwhile did not track it.

const segmentKeysEpochKey = "segment_keys_epoch"

type keyEpochs struct {
	of  map[string]int64
	max int64
}

// since returns the keys added after epoch e.
func (k *keyEpochs) since(e int64) []string {
	var out []string
	for key, ke := range k.of {
		if ke > e {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// catalogEpochs is kept with a catalog once a transaction that checked it
// has committed.
type catalogEpochs = atomic.Pointer[keyEpochs]

// keyEpochs returns the epochs of the catalog's keys, making segment_keys
// match the catalog first when it does not.
func (t *tx) keyEpochs(cat *segCatalog) (*keyEpochs, error) {
	if ke := cat.epochs.Load(); ke != nil {
		return ke, nil
	}
	if t.epochs != nil && t.epochsOf == cat {
		return t.epochs, nil
	}
	needs := cat.cat.KeyNeeds()
	type stored struct {
		needs string
		epoch int64
	}
	have := map[string]stored{}
	rows, err := t.query("SELECT key, needs, epoch FROM segment_keys")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k string
		var st stored
		if err := rows.Scan(&k, &st.needs, &st.epoch); err != nil {
			rows.Close()
			return nil, err
		}
		have[strings.ReplaceAll(k, "\n", "\x00")] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var gone, added []string
	for k := range have {
		if _, ok := needs[k]; !ok {
			gone = append(gone, k)
		}
	}
	for k, n := range needs {
		if st, ok := have[k]; !ok || st.needs != n {
			added = append(added, k)
		}
	}
	ke := &keyEpochs{of: make(map[string]int64, len(needs))}
	for k := range needs {
		ke.of[k] = have[k].epoch
	}
	if len(gone)+len(added) > 0 {
		var raw string
		if err := t.queryRow(`INSERT INTO settings (key, value) VALUES ('` + segmentKeysEpochKey + `', '1')
			ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT) RETURNING value`).Scan(&raw); err != nil {
			return nil, err
		}
		epoch, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, err
		}
		for _, k := range gone {
			if _, err := t.exec("DELETE FROM segment_keys WHERE key = ?", storedKey(k)); err != nil {
				return nil, err
			}
		}
		for _, k := range added {
			if _, err := t.exec(`INSERT INTO segment_keys (key, needs, epoch) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET needs = excluded.needs, epoch = excluded.epoch`, storedKey(k), needs[k], epoch); err != nil {
				return nil, err
			}
			ke.of[k] = epoch
		}
	}
	for _, e := range ke.of {
		ke.max = max(ke.max, e)
	}
	t.epochs, t.epochsOf = ke, cat
	return ke, nil
}

// storedKey is a key as segment_keys holds it: PostgreSQL text takes no NUL
// (the separator of a key's type and condition), and a condition has no
// control character, so a newline stands for it.
func storedKey(k string) string { return strings.ReplaceAll(k, "\x00", "\n") }

// publishEpochs keeps what a committed transaction learnt of the epochs.
func (t *tx) publishEpochs() {
	if t.epochs != nil {
		t.epochsOf.epochs.CompareAndSwap(nil, t.epochs)
	}
}

// completeSegRow brings a contact's row up to the keys in force: the keys
// added since it was last completed are rebuilt from the log, from the
// events with ids below before (all when before is 0: the caller observes
// the others itself). It reports whether the row changed.
func (t *tx) completeSegRow(id int64, cat *segCatalog, row *segRow, before int64) (bool, error) {
	ke, err := t.keyEpochs(cat)
	if err != nil || row.Epoch >= ke.max {
		return false, err
	}
	if row.missing {
		// No row was ever written: a contact created in this transaction
		// has nothing in the log to catch up on.
		row.missing = false
		if t.created[id] {
			row.Epoch = ke.max
			return true, nil
		}
	}
	if keys := ke.since(row.Epoch); len(keys) > 0 {
		if err := t.flushEvents(); err != nil {
			return false, err
		}
		now := t.s.now()
		bf := cat.cat.Backfill(keys, now)
		events, err := readBackfillEvents(t.query, t.s.d, bf, id-1, id, before, "", nil)
		if err != nil {
			return false, err
		}
		row.rebuild(cat.cat, bf.Keys, events[id], now)
	}
	row.Epoch = ke.max
	return true, nil
}

// rebuild replaces the times of some keys with those of events (a
// contact's, oldest first), and drops keys no segment tracks any more. It
// reports whether the times changed.
func (r *segRow) rebuild(cat *segment.Catalog, keys []string, events []segment.Event, now time.Time) bool {
	var fresh segment.State
	for _, e := range events {
		cat.ObserveKeys(&fresh, e, now, keys)
	}
	changed := false
	for _, key := range keys {
		if slices.Equal(r.Times[key], fresh.Times[key]) {
			continue
		}
		changed = true
		if times := fresh.Times[key]; len(times) > 0 {
			if r.Times == nil {
				r.Times = map[string][]int64{}
			}
			r.Times[key] = times
		} else {
			delete(r.Times, key)
		}
	}
	for key := range r.Times {
		if !cat.TracksKey(key) {
			delete(r.Times, key)
			changed = true
		}
	}
	return changed
}
