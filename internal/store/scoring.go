package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/score"
)

// scoringSource stamps the events and tasks scoring writes.
const scoringSource = "scoring"

// timerScore is the kind of the per-contact inactivity timer.
const timerScore = "score"

// rulesCache holds the compiled rules in force. A node notices a version
// applied by another node within rulesRecheck; its own applies swap at once.
type rulesCache struct {
	cur     atomic.Pointer[score.Rules]
	checked atomic.Int64 // monotonic nanoseconds of the last look at the database
}

const rulesRecheck = 2 * time.Second

var processStart = time.Now()

func sinceStart() int64 { return int64(time.Since(processStart)) }

// Rules returns the scoring rules in force.
func (s *Store) Rules(ctx context.Context) (*score.Rules, error) {
	if r := s.rules.cur.Load(); r != nil && sinceStart()-s.rules.checked.Load() < int64(rulesRecheck) {
		return r, nil
	}
	return s.reloadRules(ctx, s.r)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reloadRules reads the latest rules version through db (the reader, or the
// writer's transaction) and compiles it if it is not the one in force.
func (s *Store) reloadRules(ctx context.Context, db querier) (*score.Rules, error) {
	var version int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM scoring_rules").Scan(&version); err != nil {
		return nil, s.dbErr("read scoring rules version", err)
	}
	return s.rulesAt(ctx, db, version)
}

// rulesAt returns the rules of a version, compiling them if they are not
// the ones in force.
func (s *Store) rulesAt(ctx context.Context, db querier, version int) (*score.Rules, error) {
	cur := s.rules.cur.Load()
	if cur != nil && cur.Version == version {
		s.rules.checked.Store(sinceStart())
		return cur, nil
	}
	r := score.Default()
	if version > 0 {
		var doc, versions string
		err := db.QueryRowContext(ctx, s.q("SELECT document, rule_versions FROM scoring_rules WHERE version = ?"), version).Scan(&doc, &versions)
		if err != nil {
			return nil, s.dbErr("read scoring rules", err)
		}
		if r, err = score.Parse([]byte(doc)); err != nil {
			return nil, fmt.Errorf("stored scoring rules version %d: %w", version, err)
		}
		var rv map[string]int
		if err := json.Unmarshal([]byte(versions), &rv); err != nil {
			return nil, fmt.Errorf("stored scoring rules version %d: %w", version, err)
		}
		r.Restamp(version, rv)
	}
	s.rules.cur.Store(r)
	s.rules.checked.Store(sinceStart())
	return r, nil
}

// rules is Rules inside a write transaction: each transaction looks at the
// latest version once (one indexed read), so a version applied by another
// node holds for every write that commits after it.
func (t *tx) rules() (*score.Rules, error) {
	if t.rulesRead != nil {
		return t.rulesRead, nil
	}
	if err := t.readVersions(); err != nil {
		return nil, err
	}
	r, err := t.s.rulesAt(t.ctx, txQuerier{t}, t.rulesVersion)
	if err != nil {
		return nil, err
	}
	t.rulesRead = r
	return r, nil
}

// readVersions reads, in one statement per transaction, the versions of
// the configuration the write path applies: the scoring rules and the
// segments.
func (t *tx) readVersions() error {
	if t.versionsRead {
		return nil
	}
	var gen, jgen, rgen sql.NullString
	err := t.queryRow("SELECT COALESCE(MAX(version), 0), (SELECT value FROM settings WHERE key = '"+segmentsGenKey+"'), "+
		"(SELECT value FROM settings WHERE key = '"+journeysGenKey+"'), "+
		"(SELECT value FROM settings WHERE key = '"+routingGenKey+"') FROM scoring_rules").
		Scan(&t.rulesVersion, &gen, &jgen, &rgen)
	if err != nil {
		return t.s.dbErr("read configuration versions", err)
	}
	t.segGen, _ = strconv.ParseInt(gen.String, 10, 64)
	t.journeysGen, _ = strconv.ParseInt(jgen.String, 10, 64)
	t.routingGen = parseGen(rgen)
	t.versionsRead = true
	return nil
}

type txQuerier struct{ t *tx }

func (q txQuerier) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	return q.t.queryRow(query, args...)
}

// seedRules stores the shipped defaults as version 1 on a fresh database.
func (s *Store) seedRules(ctx context.Context) error {
	r := score.Default()
	r.Stamp(1, nil)
	versions, _ := json.Marshal(r.RuleVersions())
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO scoring_rules (version, document, rule_versions, comment, created_by, created_at)
		SELECT 1, ?, ?, 'the defaults shipped with Nurture', 'nurture', ? WHERE NOT EXISTS (SELECT 1 FROM scoring_rules)`),
		string(r.Source), string(versions), ms(s.now()))
	if err != nil {
		return fmt.Errorf("seed scoring rules: %w", err)
	}
	_, err = s.reloadRules(ctx, s.w)
	return err
}

// scoreEvent runs scoring on an event just written, and applies what it
// decides in the same transaction. c is the contact when the caller has it.
func (t *tx) scoreEvent(contactID int64, ev score.Event, c *contact.Contact) error {
	if t.inEngine {
		return nil // what scoring itself writes does not feed scoring again
	}
	changed, err := t.scoreOnly(contactID, ev, c)
	if err != nil {
		return err
	}
	if err := t.segmentEvent(contactID, ev, c, changed); err != nil {
		return err
	}
	if slaStops[ev.Type] {
		if err := t.stopSLA(contactID, ev); err != nil {
			return err
		}
	}
	return t.journeyEvent(contactID, ev, c)
}

// scoreOnly is the scoring part of scoreEvent. It reports whether the
// contact's scores changed.
func (t *tx) scoreOnly(contactID int64, ev score.Event, c *contact.Contact) (bool, error) {
	r, err := t.rules()
	if err != nil {
		return false, err
	}
	if !r.Interested(ev.Type) {
		return false, nil
	}
	if t.s.d.name == "postgres" && !t.locked[contactID] {
		// One contact's events are scored one after the other: the state row
		// is read, changed and written under the contact's row lock.
		if _, err := t.exec("SELECT id FROM contacts WHERE id = ?"+t.s.d.forUpdate, contactID); err != nil {
			return false, err
		}
		t.lock(contactID)
	}
	st, err := t.scoreState(contactID)
	if err != nil {
		return false, err
	}
	if c == nil && r.NeedsContact(ev.Type) {
		cc, err := t.lockContactWith(contactID, "")
		if err != nil {
			return false, err
		}
		c = &cc
	}
	if st.DecayAt != 0 && st.DecayAt <= ev.At.UnixMilli() {
		// Decay looks due, but activity that was not written may say otherwise.
		evs, err := t.activitySince(r, contactID, st.LastActivity)
		if err != nil {
			return false, err
		}
		for _, e := range evs {
			if e.ID != ev.ID && !e.At.After(ev.At) {
				r.Touch(&st, e)
			}
		}
	}
	before := st
	out := r.Apply(&st, ev, c)
	if score.Quiet(&before, &st, out) {
		return false, nil // activity only: the armed timer reads it from the log when it fires
	}
	if out.Changed {
		if err := t.scoreSignals(contactID, before.Values, st.Values, ev.At); err != nil {
			return false, err
		}
	}
	return len(out.Entries) > 0, t.persistScore(contactID, r, &st, before.DecayAt, out, c)
}

// persistScore writes what the engine decided: the state (which it takes:
// the caller must not change st after), the ledger, the timer, and the
// actions of a band crossing.
func (t *tx) persistScore(id int64, r *score.Rules, st *score.State, decayBefore int64, out score.Outcome, c *contact.Contact) error {
	if !out.Changed {
		return nil
	}
	t.putScoreState(id, st, out.Entries)
	// The timer is re-armed lazily: activity only ever moves DecayAt later,
	// so a timer that exists fires early at worst, finds nothing due, and
	// moves itself. Only a timer that did not exist must be created here.
	if st.DecayAt != 0 && (decayBefore == 0 || st.DecayAt < decayBefore) {
		if err := t.armTimer(timerScore, id, st.DecayAt); err != nil {
			return err
		}
	}
	if out.Crossing != nil {
		return t.cross(id, *out.Crossing, c)
	}
	return nil
}

// armTimer makes the timer of a kind and contact due no later than due.
func (t *tx) armTimer(kind string, id, due int64) error {
	_, err := t.exec(`INSERT INTO timers (kind, contact_id, due_at) VALUES (?, ?, ?)
		ON CONFLICT (kind, contact_id) DO UPDATE SET due_at = CASE WHEN excluded.due_at < timers.due_at
		THEN excluded.due_at ELSE timers.due_at END`, kind, id, due)
	return err
}

// cross carries out the actions of the band a contact entered: the events,
// the lifecycle raise and tags, and the sales task. c is the contact as
// stored, when the caller has it.
func (t *tx) cross(id int64, cr score.Crossing, c *contact.Contact) error {
	// What a crossing writes is not scored again.
	t.inEngine = true
	defer func() { t.inEngine = false }()
	now := t.s.now()
	b := cr.Band
	// The first placement of a new contact is not news; its actions still run
	// (a new lead gets its education tag).
	if cr.From != "" {
		if err := t.appendSystemEvent(id, event.ScoreBandChanged, scoringSource, now,
			map[string]any{"score": cr.Score, "value": cr.Value, "from": cr.From, "to": cr.To}); err != nil {
			return err
		}
	}
	if b.Emit != "" {
		if err := t.appendSystemEvent(id, b.Emit, scoringSource, now,
			map[string]any{"score": cr.Score, "value": cr.Value, "band": cr.To}); err != nil {
			return err
		}
	}
	if b.Lifecycle == "" && len(b.AddTags) == 0 && len(b.RemoveTags) == 0 && b.Task == "" {
		return nil
	}
	var old contact.Contact
	if c != nil {
		old = *c
	} else {
		var err error
		if old, err = t.lockContact(id); err != nil {
			return err
		}
	}
	nc, changes := enterBand(old, b)
	switch {
	case len(changes) > 0 && cr.From == "":
		// A new contact's first band is part of its creation: no event.
		t.stale = id
		if err := t.writeContactRow(old, nc); err != nil {
			return err
		}
	case len(changes) > 0:
		t.stale = id
		nc.UpdatedAt = now
		if err := t.updateContact(old, nc, changes, scoringSource, now, change{Reason: "score band " + cr.To}); err != nil {
			return err
		}
	}
	if b.Task != "" {
		if _, err := t.createTask(TaskInput{ContactID: id, Kind: "call", Title: b.Task, Owner: nc.Owner,
			Source: scoringSource, DueAt: now}, now); err != nil {
			return err
		}
	}
	return nil
}

// enterBand returns the contact with a band's tags and lifecycle applied,
// and the changes that makes.
func enterBand(old contact.Contact, b score.BandDef) (contact.Contact, []contact.Change) {
	c := old
	c.Tags = slices.DeleteFunc(slices.Clone(old.Tags), func(tag string) bool { return slices.Contains(b.RemoveTags, tag) })
	for _, tag := range b.AddTags {
		if !slices.Contains(c.Tags, tag) && len(c.Tags) < contact.MaxTags {
			c.Tags = append(c.Tags, tag)
		}
	}
	var changes []contact.Change
	if !slices.Equal(c.Tags, old.Tags) {
		changes = append(changes, contact.Change{Field: "tags", Old: old.Tags, New: c.Tags})
	} else {
		c.Tags = old.Tags
	}
	if b.Lifecycle != "" && old.Lifecycle != contact.LifecycleDisqualified &&
		contact.LifecycleRank(b.Lifecycle) > contact.LifecycleRank(old.Lifecycle) {
		c.Lifecycle = b.Lifecycle
		changes = append(changes, contact.Change{Field: "lifecycle", Old: old.Lifecycle, New: c.Lifecycle})
	}
	return c, changes
}

// firstBand gives a contact about to be created the tags and lifecycle of
// the band its creation will place it in, so that the row is written once.
// The lead_created event, scored after the insert, finds them in place.
func (t *tx) firstBand(c contact.Contact, ev score.Event) (contact.Contact, error) {
	r, err := t.rules()
	if err != nil || !r.Interested(ev.Type) {
		return c, err
	}
	var st score.State
	out := r.Apply(&st, ev, &c)
	if out.Crossing == nil || out.Crossing.From != "" {
		return c, nil
	}
	c, _ = enterBand(c, out.Crossing.Band)
	return c, nil
}

// FireTimers runs the timers due now: scoring's inactivity decay,
// segments' time windows and SLA clocks' escalation levels. It returns how many it looked at; call it again
// while that equals limit.
func (s *Store) FireTimers(ctx context.Context, limit int) (int, error) {
	now := s.now()
	rows, err := s.r.QueryContext(ctx, s.q("SELECT kind, contact_id FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?"),
		ms(now), limit)
	if err != nil {
		return 0, s.dbErr("read due timers", err)
	}
	type due struct {
		kind string
		id   int64
	}
	var dues []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.kind, &d.id); err != nil {
			rows.Close()
			return 0, s.dbErr("read due timers", err)
		}
		dues = append(dues, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.dbErr("read due timers", err)
	}
	// Several nodes may pick the same timer: firing is idempotent (the state,
	// read under the contact's lock, says whether anything is still due).
	reqs := make([]*request, len(dues))
	for i, d := range dues {
		fire := func(t *tx) error { return t.fireScoreTimer(d.id) }
		switch d.kind {
		case timerSegment:
			fire = func(t *tx) error { return t.fireSegmentTimer(d.id) }
		case timerSLA:
			fire = func(t *tx) error { return t.fireSLATimer(d.id) }
		case timerScore:
		default:
			fire = func(t *tx) error {
				_, err := t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", d.kind, d.id)
				return err
			}
		}
		reqs[i] = newRequest(idKey(d.id), fire)
		reqs[i].contact = d.id
	}
	for _, err := range s.writer.submitAll(reqs) {
		if err != nil {
			return len(dues), err
		}
	}
	return len(dues), nil
}

func (t *tx) fireScoreTimer(id int64) error {
	now := t.s.now()
	c, err := t.lockContactWith(id, t.s.d.forUpdate)
	if errors.Is(err, contact.ErrNotFound) {
		_, err := t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerScore, id)
		return err
	} else if err != nil {
		return err
	}
	r, err := t.rules()
	if err != nil {
		return err
	}
	st, err := t.scoreState(id)
	if err != nil {
		return err
	}
	// Activity since the state was written (see score.Quiet) moves the clock first.
	touched := false
	if st.LastActivity != 0 || st.DecayAt != 0 {
		evs, err := t.activitySince(r, id, st.LastActivity)
		if err != nil {
			return err
		}
		for _, e := range evs {
			touched = r.Touch(&st, e) || touched
		}
	}
	out := r.Tick(&st, now)
	out.Changed = out.Changed || touched
	if err := t.persistScore(id, r, &st, st.DecayAt, out, &c); err != nil {
		return err
	}
	if len(out.Entries) > 0 {
		// Decay moved a score: segments that read scores follow.
		if err := t.segmentEvent(id, score.Event{At: now}, nil, true); err != nil {
			return err
		}
	}
	if st.DecayAt == 0 {
		_, err = t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerScore, id)
	} else {
		_, err = t.exec("UPDATE timers SET due_at = ? WHERE kind = ? AND contact_id = ?", st.DecayAt, timerScore, id)
	}
	return err
}

// activitySince reads a contact's events after a time, of the types that
// count as activity.
func (t *tx) activitySince(r *score.Rules, id int64, after int64) ([]score.Event, error) {
	types := r.ActivityTypes()
	if len(types) == 0 {
		return nil, nil
	}
	if err := t.flushEvents(); err != nil {
		return nil, err
	}
	args := []any{id, after}
	for _, ty := range types {
		args = append(args, ty)
	}
	rows, err := t.query(`SELECT id, type, source, occurred_at, properties FROM events
		WHERE contact_id = ? AND occurred_at > ? AND type IN (?`+strings.Repeat(", ?", len(types)-1)+`) ORDER BY occurred_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []score.Event
	for rows.Next() {
		var e score.Event
		var at int64
		var props sql.NullString
		if err := rows.Scan(&e.ID, &e.Type, &e.Source, &at, &props); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if props.Valid {
			e.Properties = json.RawMessage(props.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// NextTimer returns when the earliest timer falls due (zero when none is armed).
func (s *Store) NextTimer(ctx context.Context) (time.Time, error) {
	var due sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT MIN(due_at) FROM timers").Scan(&due); err != nil {
		return time.Time{}, s.dbErr("read next timer", err)
	}
	return nullMS(due), nil
}

// ScoreReport is a contact's scores and where every point came from.
type ScoreReport struct {
	ContactID int64          `json:"contact_id"`
	Scores    map[string]int `json:"scores"`
	Band      string         `json:"band,omitempty"`
	// RulesVersion is the version of the rules in force.
	RulesVersion int `json:"rules_version"`
	// Breakdown sums the ledger by score and rule.
	Breakdown []RuleTotal `json:"breakdown"`
	// Ledger is every change, oldest first.
	Ledger      []LedgerRow `json:"ledger"`
	InactiveDue *time.Time  `json:"inactivity_due,omitempty" doc:"when inactivity next takes points, if no activity comes first"`
}

// RuleTotal is what one rule gave one score, from which events.
type RuleTotal struct {
	Score    string  `json:"score"`
	RuleID   string  `json:"rule_id"`
	Points   int     `json:"points"`
	Count    int     `json:"count"`
	EventIDs []int64 `json:"event_ids,omitempty"`
}

// LedgerRow is one stored ledger entry.
type LedgerRow struct {
	ID int64 `json:"id"`
	score.Entry
}

// maxLedgerRows bounds a score report; the breakdown still covers every row.
const maxLedgerRows = 1000

// Score returns a live contact's scores with their ledger and breakdown.
func (s *Store) Score(ctx context.Context, id int64) (ScoreReport, error) {
	if _, err := s.GetContact(ctx, id); err != nil {
		return ScoreReport{}, err
	}
	r, err := s.Rules(ctx)
	if err != nil {
		return ScoreReport{}, err
	}
	rep := ScoreReport{ContactID: id, Scores: map[string]int{}, RulesVersion: r.Version, Breakdown: []RuleTotal{}, Ledger: []LedgerRow{}}
	var raw sql.NullString
	var band sql.NullString
	err = s.r.QueryRowContext(ctx, s.q("SELECT state, band FROM score_state WHERE contact_id = ?"), id).Scan(&raw, &band)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rep, s.dbErr("read score", err)
	}
	var st score.State
	if raw.Valid {
		if err := json.Unmarshal([]byte(raw.String), &st); err != nil {
			return rep, fmt.Errorf("decode score state of contact %d: %w", id, err)
		}
	}
	for _, name := range r.Scores() {
		rep.Scores[name] = st.Value(name)
	}
	for name, v := range st.Values {
		rep.Scores[name] = v // a score the current rules no longer declare, until a rescore
	}
	rep.Band = band.String
	if st.DecayAt != 0 {
		due := fromMS(st.DecayAt)
		rep.InactiveDue = &due
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, at, event_id, points, before_value, after_value, rule_version,
		score, rule_id, reason FROM score_ledger WHERE contact_id = ? ORDER BY id`), id)
	if err != nil {
		return rep, s.dbErr("read score ledger", err)
	}
	defer rows.Close()
	totals := map[[2]string]int{} // index into Breakdown
	for rows.Next() {
		var row LedgerRow
		var at int64
		var eventID sql.NullInt64
		var reason sql.NullString
		if err := rows.Scan(&row.ID, &at, &eventID, &row.Points, &row.Before, &row.After, &row.RuleVersion,
			&row.Score, &row.RuleID, &reason); err != nil {
			return rep, s.dbErr("read score ledger", err)
		}
		row.At, row.EventID, row.Reason = fromMS(at), eventID.Int64, reason.String
		k := [2]string{row.Score, row.RuleID}
		i, ok := totals[k]
		if !ok {
			i = len(rep.Breakdown)
			rep.Breakdown = append(rep.Breakdown, RuleTotal{Score: row.Score, RuleID: row.RuleID})
			totals[k] = i
		}
		tot := &rep.Breakdown[i]
		tot.Points += row.Points
		tot.Count++
		if row.EventID != 0 && len(tot.EventIDs) < 100 && !slices.Contains(tot.EventIDs, row.EventID) {
			tot.EventIDs = append(tot.EventIDs, row.EventID)
		}
		if len(rep.Ledger) < maxLedgerRows {
			rep.Ledger = append(rep.Ledger, row)
		}
	}
	if err := rows.Err(); err != nil {
		return rep, s.dbErr("read score ledger", err)
	}
	return rep, nil
}
