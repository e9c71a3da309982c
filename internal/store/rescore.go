package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/score"
)

// ErrJobNotFound means no job has that id.
var ErrJobNotFound = errors.New("job not found")

// Job is a background job and its progress.
type Job struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind" doc:"rescore"`
	Status     string     `json:"status" enum:"pending,running,done,failed,superseded"`
	Version    int        `json:"rules_version,omitempty"`
	Total      int64      `json:"total" doc:"contacts to process"`
	Done       int64      `json:"done" doc:"contacts processed"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// RulesVersion is one stored version of the scoring rules.
type RulesVersion struct {
	Version   int       `json:"version"`
	Document  string    `json:"document"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// RuleVersions gives each rule the version in which it last changed.
	RuleVersions map[string]int `json:"rule_versions"`
}

// RulesHistory lists the stored versions, newest first.
func (s *Store) RulesHistory(ctx context.Context) ([]RulesVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT version, document, rule_versions, comment, created_by, created_at
		FROM scoring_rules ORDER BY version DESC`)
	if err != nil {
		return nil, s.dbErr("read scoring rules", err)
	}
	defer rows.Close()
	out := []RulesVersion{}
	for rows.Next() {
		var v RulesVersion
		var rv string
		var comment, by sql.NullString
		var at int64
		if err := rows.Scan(&v.Version, &v.Document, &rv, &comment, &by, &at); err != nil {
			return nil, s.dbErr("read scoring rules", err)
		}
		v.Comment, v.CreatedBy, v.CreatedAt = comment.String, by.String, fromMS(at)
		if err := json.Unmarshal([]byte(rv), &v.RuleVersions); err != nil {
			return nil, fmt.Errorf("stored rule versions of version %d: %w", v.Version, err)
		}
		out = append(out, v)
	}
	return out, s.dbErr("read scoring rules", rows.Err())
}

// ApplyRulesParams is a new rules document to put in force.
type ApplyRulesParams struct {
	Rules       *score.Rules // parsed and validated
	Comment, By string
}

// ApplyRules stores a new version of the rules, puts it in force for every
// event from now on, and queues the job that rescores every contact from the
// event log. It returns the version and the job.
func (s *Store) ApplyRules(ctx context.Context, p ApplyRulesParams) (int, Job, error) {
	var job Job
	r := p.Rules
	err := s.writer.do1(func(t *tx) error {
		cur, err := t.s.reloadRules(t.ctx, txQuerier{t})
		if err != nil {
			return err
		}
		var version int
		if err := t.queryRow("SELECT COALESCE(MAX(version), 0) + 1 FROM scoring_rules").Scan(&version); err != nil {
			return err
		}
		r.Stamp(version, cur)
		rv, _ := json.Marshal(r.RuleVersions())
		now := t.s.now()
		if _, err := t.exec(`INSERT INTO scoring_rules (version, document, rule_versions, comment, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, version, string(r.Source), string(rv), null(p.Comment), null(p.By), ms(now)); err != nil {
			return err
		}
		var total int64
		if err := t.queryRow("SELECT COUNT(*) FROM contacts WHERE erased_at IS NULL").Scan(&total); err != nil {
			return err
		}
		params, _ := json.Marshal(map[string]int{"version": version})
		job = Job{Kind: "rescore", Status: "pending", Version: version, Total: total, CreatedAt: now, UpdatedAt: now}
		return t.queryRow(`INSERT INTO jobs (kind, status, params, total, created_at, updated_at)
			VALUES ('rescore', 'pending', ?, ?, ?, ?) RETURNING id`, string(params), total, ms(now), ms(now)).Scan(&job.ID)
	})
	if err != nil {
		return 0, job, err
	}
	s.rules.cur.Store(r)
	s.rules.checked.Store(sinceStart())
	return r.Version, job, nil
}

const jobColumns = "id, kind, status, params, total, done, error, created_at, updated_at, finished_at"

func scanJob(row scanner) (Job, error) {
	var j Job
	var params, msg sql.NullString
	var created, updated int64
	var finished sql.NullInt64
	if err := row.Scan(&j.ID, &j.Kind, &j.Status, &params, &j.Total, &j.Done, &msg, &created, &updated, &finished); err != nil {
		return j, err
	}
	if params.Valid {
		var p struct{ Version int }
		_ = json.Unmarshal([]byte(params.String), &p)
		j.Version = p.Version
	}
	j.Error, j.CreatedAt, j.UpdatedAt = msg.String, fromMS(created), fromMS(updated)
	if finished.Valid {
		f := fromMS(finished.Int64)
		j.FinishedAt = &f
	}
	return j, nil
}

// GetJob returns a job's progress.
func (s *Store) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, s.q("SELECT "+jobColumns+" FROM jobs WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrJobNotFound
	}
	return j, s.dbErr("read job", err)
}

// staleJob is how long a running job may go without progress before another
// process takes it over (its process died).
const staleJob = time.Minute

// RunJob claims one pending (or abandoned) job and runs it to the end,
// calling progress after each chunk. It reports whether it found one.
func (s *Store) RunJob(ctx context.Context, progress func(Job)) (bool, error) {
	now := s.now()
	var j Job
	err := s.writer.do1(func(t *tx) error {
		var err error
		j, err = scanJob(t.queryRow(`UPDATE jobs SET status = 'running', updated_at = ?
			WHERE id = (SELECT id FROM jobs WHERE status = 'pending' OR (status = 'running' AND updated_at < ?) ORDER BY id LIMIT 1)
			AND (status = 'pending' OR (status = 'running' AND updated_at < ?))
			RETURNING `+jobColumns, ms(now), ms(now.Add(-staleJob)), ms(now.Add(-staleJob))))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if j.Kind == jobSegmentBuild {
		var params string
		if err := s.r.QueryRowContext(ctx, s.q("SELECT params FROM jobs WHERE id = ?"), j.ID).Scan(&params); err != nil {
			return true, s.dbErr("read job", err)
		}
		return true, s.runSegmentBuild(ctx, j, []byte(params), progress)
	}
	return true, s.runRescore(ctx, j, progress)
}

// Chunk sizes of a rescore: big enough to amortise the statements, small
// enough that ingest waits little for the writer between chunks.
const (
	rescoreChunkSQLite   = 500
	rescoreChunkPostgres = 100
)

func (s *Store) runRescore(ctx context.Context, j Job, progress func(Job)) error {
	var cursor int64
	if err := s.r.QueryRowContext(ctx, s.q("SELECT cursor FROM jobs WHERE id = ?"), j.ID).Scan(&cursor); err != nil {
		return s.dbErr("read job", err)
	}
	chunk := rescoreChunkSQLite
	var ahead <-chan *prefetched
	if s.d.name == "postgres" {
		chunk = rescoreChunkPostgres
	} else {
		// SQLite: the next chunk is read and replayed on a reader connection
		// while the writer stores this one.
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ahead = s.prefetch(pctx, j.Version, cursor, chunk)
	}
	for {
		if ctx.Err() != nil {
			// Stopping: hand the job back; the next worker resumes at the cursor.
			return s.writer.do1(func(t *tx) error {
				_, err := t.exec("UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'running'", j.ID)
				return err
			})
		}
		// The op may run more than once (the writer retries a batch that
		// failed): it computes from the state before it and writes only its
		// own result, which is applied once it has committed.
		start := j
		var pre *prefetched
		if ahead != nil {
			pre = <-ahead // nil once the reader has stopped
		}
		var next Job
		var nextCursor int64
		var done bool
		err := s.writer.do1(func(t *tx) error {
			next, nextCursor, done = start, cursor, false
			r, err := t.s.reloadRules(t.ctx, txQuerier{t})
			if err != nil {
				return err
			}
			now := t.s.now()
			if r.Version != start.Version {
				next.Status, done = "superseded", true // a newer version's job rescores everything again
				_, err := t.exec("UPDATE jobs SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?", next.Status, ms(now), ms(now), j.ID)
				return err
			}
			last, n, err := t.rescoreChunk(r, cursor, chunk, now, pre)
			if err != nil {
				return err
			}
			next.Done += int64(n)
			next.UpdatedAt = now
			nextCursor = last
			if n < chunk {
				next.Status, done = "done", true
				next.Total = next.Done
				next.FinishedAt = &now
				_, err = t.exec("UPDATE jobs SET status = 'done', cursor = ?, done = ?, total = ?, updated_at = ?, finished_at = ? WHERE id = ?",
					last, next.Done, next.Done, ms(now), ms(now), j.ID)
			} else {
				next.Total = max(next.Total, next.Done)
				_, err = t.exec("UPDATE jobs SET cursor = ?, done = ?, total = ?, updated_at = ? WHERE id = ?", last, next.Done, next.Total, ms(now), j.ID)
			}
			return err
		})
		if err == nil {
			j, cursor = next, nextCursor
		}
		if err != nil {
			msg := err.Error()
			s.writer.do1(func(t *tx) error {
				_, err := t.exec("UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?", msg, ms(t.s.now()), j.ID)
				return err
			})
			return fmt.Errorf("rescore job %d: %w", j.ID, err)
		}
		if progress != nil {
			progress(j)
		}
		if done {
			return nil
		}
	}
}

// chunkData is a run of contacts with what scoring needs of them.
type chunkData struct {
	contacts []contact.Contact
	events   map[int64][]score.Event
	events64 int64
	last     int64
}

// storedScores is what a run of contacts' scoring states say now.
type storedScores struct {
	values map[int64]map[string]int
	bands  map[int64]string
}

// loadStored reads the stored scores and bands of the contacts in (after, last].
func loadStored(q rowsQuerier, after, last int64) (storedScores, error) {
	sc := storedScores{values: map[int64]map[string]int{}, bands: map[int64]string{}}
	rows, err := q("SELECT contact_id, state, band FROM score_state WHERE contact_id > ? AND contact_id <= ?", after, last)
	if err != nil {
		return sc, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var raw string
		var band sql.NullString
		if err := rows.Scan(&id, &raw, &band); err != nil {
			return sc, err
		}
		var st score.State
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return sc, fmt.Errorf("decode score state of contact %d: %w", id, err)
		}
		sc.values[id], sc.bands[id] = st.Values, band.String
	}
	return sc, rows.Err()
}

// prefetched is a chunk read and replayed on a reader connection (SQLite).
// The write transaction uses it when no event of its contacts is newer
// than maxEvent: every change to a contact comes with an event, and
// SQLite's one writer gives event ids in commit order.
type prefetched struct {
	after    int64
	d        chunkData
	replays  []replay // one per contact of d
	maxEvent int64
}

type replay struct {
	st      score.State
	entries []score.Entry
}

// prefetch reads and replays the chunks of a rescore under rules version
// version, one ahead of the writer. The channel closes when the contacts
// run out, the rules change, or anything fails: the writer then reads the
// chunk itself.
func (s *Store) prefetch(ctx context.Context, version int, after int64, limit int) <-chan *prefetched {
	ch := make(chan *prefetched, 1)
	go func() {
		defer close(ch)
		r, err := s.reloadRules(ctx, s.r)
		if err != nil || r.Version != version {
			return
		}
		for {
			p, err := s.prefetchOne(ctx, r, after, limit)
			if err != nil {
				return
			}
			select {
			case ch <- p:
			case <-ctx.Done():
				return
			}
			if len(p.d.contacts) < limit {
				return
			}
			after = p.d.last
		}
	}()
	return ch
}

func (s *Store) prefetchOne(ctx context.Context, r *score.Rules, after int64, limit int) (*prefetched, error) {
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer rtx.Rollback()
	p := &prefetched{after: after}
	// Read first: the snapshot starts here, so nothing the chunk reads can
	// be newer than this id.
	if err := rtx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM events").Scan(&p.maxEvent); err != nil {
		return nil, err
	}
	q := func(query string, args ...any) (*sql.Rows, error) { return rtx.QueryContext(ctx, s.q(query), args...) }
	if p.d, err = loadChunk(q, r, after, limit, ""); err != nil {
		return nil, err
	}
	now := s.now()
	p.replays = make([]replay, len(p.d.contacts))
	for i := range p.d.contacts {
		c := &p.d.contacts[i]
		p.replays[i].st, p.replays[i].entries = r.Replay(p.d.events[c.ID], c, now)
	}
	return p, nil
}

type rowsQuerier func(query string, args ...any) (*sql.Rows, error)

// loadChunk reads up to limit live contacts after the id cursor and their
// events of the types the rules read.
// lock is appended to the contacts query (a row lock, or "").
func loadChunk(q rowsQuerier, r *score.Rules, after int64, limit int, lock string) (chunkData, error) {
	d := chunkData{events: map[int64][]score.Event{}, last: after}
	rows, err := q("SELECT "+contactColumns+" FROM contacts WHERE id > ? AND erased_at IS NULL ORDER BY id LIMIT ?"+lock, after, limit)
	if err != nil {
		return d, err
	}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			rows.Close()
			return d, err
		}
		d.contacts = append(d.contacts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(d.contacts) == 0 {
		return d, err
	}
	d.last = d.contacts[len(d.contacts)-1].ID
	types := r.Types()
	args := []any{after, d.last}
	for _, t := range types {
		args = append(args, t)
	}
	rows, err = q(`SELECT id, contact_id, type, source, occurred_at, properties FROM events
		WHERE contact_id > ? AND contact_id <= ? AND type IN (?`+strings.Repeat(", ?", len(types)-1)+`)
		AND source <> 'scoring' ORDER BY contact_id, occurred_at, id`, args...)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		var e score.Event
		var cid, at int64
		var props sql.NullString
		if err := rows.Scan(&e.ID, &cid, &e.Type, &e.Source, &at, &props); err != nil {
			return d, err
		}
		e.At = fromMS(at)
		if props.Valid {
			e.Properties = json.RawMessage(props.String)
		}
		d.events[cid] = append(d.events[cid], e)
		d.events64++
	}
	return d, rows.Err()
}

// rescoreChunk replays the contacts after the cursor under r and replaces
// their state and ledger. A contact whose replayed band differs from its
// stored one gets that band's actions, once.
func (t *tx) rescoreChunk(r *score.Rules, after int64, limit int, now time.Time, pre *prefetched) (int64, int, error) {
	lock := ""
	if t.s.d.name == "postgres" {
		lock = t.s.d.forUpdate // no event is scored for these contacts until the chunk commits
	}
	if err := t.flushScores(); err != nil {
		return 0, 0, err
	}
	var d chunkData
	var replays []replay
	if pre != nil && pre.after == after {
		// The prefetched chunk holds if no event of its contacts came since.
		var newer int
		err := t.queryRow("SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE id > ? AND contact_id > ? AND contact_id <= ? LIMIT 1) x",
			pre.maxEvent, after, pre.d.last).Scan(&newer)
		if err != nil {
			return 0, 0, err
		}
		if newer == 0 {
			d, replays = pre.d, pre.replays
		}
	}
	if replays == nil {
		var err error
		if d, err = loadChunk(t.query, r, after, limit, lock); err != nil || len(d.contacts) == 0 {
			return d.last, 0, err
		}
	}
	if len(d.contacts) == 0 {
		return d.last, 0, nil
	}
	stored, err := loadStored(t.query, after, d.last)
	if err != nil {
		return 0, 0, err
	}
	if _, err := t.exec("DELETE FROM score_ledger WHERE contact_id > ? AND contact_id <= ?", after, d.last); err != nil {
		return 0, 0, err
	}
	if _, err := t.exec("DELETE FROM timers WHERE kind = ? AND contact_id > ? AND contact_id <= ?", timerScore, after, d.last); err != nil {
		return 0, 0, err
	}
	for i := range d.contacts {
		c := &d.contacts[i]
		var st score.State
		var entries []score.Entry
		if replays != nil {
			// Replayed a moment ago: bring decay up to now. The op may run
			// again, so the prefetched state is not changed.
			st = replays[i].st.Clone()
			out := r.Tick(&st, now)
			entries = append(slices.Clip(replays[i].entries), out.Entries...)
		} else {
			st, entries = r.Replay(d.events[c.ID], c, now)
		}
		t.putScoreState(c.ID, &st, entries)
		if st.DecayAt != 0 {
			if err := t.armTimer(timerScore, c.ID, st.DecayAt); err != nil {
				return 0, 0, err
			}
		}
		if old := stored.values[c.ID]; !sameValues(old, st.Values) {
			if err := t.appendSystemEvent(c.ID, event.ScoreChanged, scoringSource, now,
				map[string]any{"version": r.Version, "reason": "rescore", "before": nonNil(old), "after": nonNil(st.Values)}); err != nil {
				return 0, 0, err
			}
		}
		if from := stored.bands[c.ID]; from != st.Band && st.Band != "" {
			b, _ := r.Band(st.Band)
			cr := score.Crossing{Score: r.ThresholdScore(), Value: st.Value(r.ThresholdScore()), From: from, To: st.Band, Band: b}
			if from == "" {
				cr.From = "none" // not a new contact's first placement: an existing one's first band
			}
			if err := t.cross(c.ID, cr, c); err != nil {
				return 0, 0, err
			}
		}
		if !sameValues(stored.values[c.ID], st.Values) || stored.bands[c.ID] != st.Band {
			// Segments that read scores, tags or the lifecycle follow.
			if err := t.segmentEvent(c.ID, score.Event{At: now}, nil, true); err != nil {
				return 0, 0, err
			}
		}
	}
	return d.last, len(d.contacts), nil
}

type ledgerRow struct {
	contactID int64
	score.Entry
}

func (t *tx) insertLedgerRows(rows []ledgerRow) error {
	values := make([][]any, len(rows))
	for i, r := range rows {
		var eventID any
		if r.EventID != 0 {
			eventID = r.EventID
		}
		values[i] = []any{r.contactID, ms(r.At), eventID, r.Points, r.Before, r.After, r.RuleVersion, r.Score, r.RuleID, null(r.Reason)}
	}
	return t.execRows(`INSERT INTO score_ledger (contact_id, at, event_id, points, before_value, after_value,
	rule_version, score, rule_id, reason) VALUES `, 10, "", values)
}

func sameValues(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// Backtest is what applying new rules would do, computed over the stored
// events without changing anything.
type Backtest struct {
	CurrentVersion int   `json:"current_version"`
	Contacts       int64 `json:"contacts"`
	Events         int64 `json:"events" doc:"events replayed"`
	// Changed counts contacts whose threshold score would change.
	Changed   int64          `json:"changed"`
	Before    Distribution   `json:"before"`
	After     Distribution   `json:"after"`
	Crossings []BandCrossing `json:"crossings" doc:"contacts that would enter or leave each band"`
	Seconds   float64        `json:"seconds"`
}

// Distribution describes the threshold score over all contacts.
type Distribution struct {
	Mean      float64    `json:"mean"`
	Median    int        `json:"median"`
	Histogram []Bucket   `json:"histogram"`
	Bands     []BandStat `json:"bands"`
}

// Bucket counts the contacts with a score in [From, To] (To nil: no upper end; From nil: no lower end).
type Bucket struct {
	From     *int  `json:"from"`
	To       *int  `json:"to"`
	Contacts int64 `json:"contacts"`
}

// BandStat is one band's contacts and, among those with a known outcome
// (won or lost, or a converted event), how many converted.
type BandStat struct {
	Band           string   `json:"band"`
	Contacts       int64    `json:"contacts"`
	Outcomes       int64    `json:"outcomes" doc:"contacts with a known outcome"`
	Converted      int64    `json:"converted"`
	ConversionRate *float64 `json:"conversion_rate,omitempty" doc:"converted / outcomes"`
}

// BandCrossing counts the contacts a rule change would move into and out of a band.
type BandCrossing struct {
	Band     string `json:"band"`
	Entering int64  `json:"entering"`
	Leaving  int64  `json:"leaving"`
}

type tally struct {
	scores []int
	bands  map[string]*BandStat
}

func newTally() *tally { return &tally{bands: map[string]*BandStat{}} }

func (t *tally) add(v int, band string, known, converted bool) {
	t.scores = append(t.scores, v)
	b := t.bands[band]
	if b == nil {
		b = &BandStat{Band: band}
		t.bands[band] = b
	}
	b.Contacts++
	if known {
		b.Outcomes++
	}
	if converted {
		b.Converted++
	}
}

// histogram edges: scores are small integers; buckets of 10 up to 100.
func (t *tally) distribution(order []string) Distribution {
	d := Distribution{Histogram: []Bucket{}, Bands: []BandStat{}}
	if n := len(t.scores); n > 0 {
		sort.Ints(t.scores)
		sum := 0
		for _, v := range t.scores {
			sum += v
		}
		d.Mean = float64(sum) / float64(n)
		d.Median = t.scores[n/2]
	}
	counts := map[int]int64{}
	for _, v := range t.scores {
		k := -1
		switch {
		case v >= 100:
			k = 10
		case v >= 0:
			k = v / 10
		}
		counts[k]++
	}
	for k := -1; k <= 10; k++ {
		b := Bucket{Contacts: counts[k]}
		switch {
		case k == -1:
			to := -1
			b.To = &to
		case k == 10:
			from := 100
			b.From = &from
		default:
			from, to := k*10, k*10+9
			b.From, b.To = &from, &to
		}
		d.Histogram = append(d.Histogram, b)
	}
	for _, name := range order {
		b := t.bands[name]
		if b == nil {
			b = &BandStat{Band: name}
		}
		if b.Outcomes > 0 {
			r := float64(b.Converted) / float64(b.Outcomes)
			b.ConversionRate = &r
		}
		d.Bands = append(d.Bands, *b)
	}
	return d
}

// BacktestRules replays every contact's stored events under next and
// compares with the scores in force: distributions, band crossings, and the
// conversion rate per band where outcomes are known. It reads only.
func (s *Store) BacktestRules(ctx context.Context, next *score.Rules) (Backtest, error) {
	start := time.Now()
	cur, err := s.Rules(ctx)
	if err != nil {
		return Backtest{}, err
	}
	bt := Backtest{CurrentVersion: cur.Version}
	before, after := newTally(), newTally()
	enter, leave := map[string]int64{}, map[string]int64{}
	now := s.now()
	q := func(query string, args ...any) (*sql.Rows, error) { return s.r.QueryContext(ctx, s.q(query), args...) }
	var cursor int64
	for {
		if err := ctx.Err(); err != nil {
			return bt, err
		}
		d, err := loadChunk(q, next, cursor, 2000, "")
		if err != nil {
			return bt, s.dbErr("backtest", err)
		}
		if len(d.contacts) == 0 {
			break
		}
		converted, err := s.convertedIn(ctx, cursor, d.last)
		if err != nil {
			return bt, err
		}
		stored, err := loadStored(q, cursor, d.last)
		if err != nil {
			return bt, s.dbErr("backtest", err)
		}
		for i := range d.contacts {
			c := &d.contacts[i]
			won := c.Status == contact.StatusWon || converted[c.ID]
			known := won || c.Status == contact.StatusLost
			old := score.State{Values: stored.values[c.ID]}
			oldBand := stored.bands[c.ID]
			if oldBand == "" && len(cur.Bands()) > 0 {
				oldBand = "none"
			}
			st, _ := next.Replay(d.events[c.ID], c, now)
			ov, nv := old.Value(cur.ThresholdScore()), st.Value(next.ThresholdScore())
			before.add(ov, oldBand, known, won)
			after.add(nv, st.Band, known, won)
			if ov != nv {
				bt.Changed++
			}
			if oldBand != st.Band {
				enter[st.Band]++
				leave[oldBand]++
			}
		}
		bt.Contacts += int64(len(d.contacts))
		bt.Events += d.events64
		cursor = d.last
	}
	names := func(r *score.Rules) []string {
		var out []string
		for _, b := range r.Bands() {
			out = append(out, b.Name)
		}
		return out
	}
	beforeOrder := names(cur)
	if before.bands["none"] != nil {
		beforeOrder = append(beforeOrder, "none")
	}
	bt.Before = before.distribution(beforeOrder)
	bt.After = after.distribution(names(next))
	bandNames := names(next)
	for name := range leave {
		if !slices.Contains(bandNames, name) {
			bandNames = append(bandNames, name)
		}
	}
	bt.Crossings = []BandCrossing{}
	for _, name := range bandNames {
		bt.Crossings = append(bt.Crossings, BandCrossing{Band: name, Entering: enter[name], Leaving: leave[name]})
	}
	bt.Seconds = time.Since(start).Seconds()
	return bt, nil
}

func (s *Store) convertedIn(ctx context.Context, after, last int64) (map[int64]bool, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT DISTINCT contact_id FROM events WHERE contact_id > ? AND contact_id <= ? AND type = ?"),
		after, last, event.Converted)
	if err != nil {
		return nil, s.dbErr("backtest", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, s.dbErr("backtest", err)
		}
		out[id] = true
	}
	return out, s.dbErr("backtest", rows.Err())
}
