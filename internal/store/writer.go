package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/score"
)

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("store is closed")

// op is one unit of work that must be all-or-nothing. It may run more than
// once (see writer.run), so it must only write its results, never append.
type op func(tx *tx) error

// request is what one caller submits: one or more ops, each with its own result.
type request struct {
	ops  []op
	errs []error
	done chan struct{}
	// key names the contact the request locks, if it is one: a batch runs its
	// requests in key order, so that writers sharing a database lock contacts
	// in the same order and do not deadlock each other.
	key string
	// contact is the id of the contact whose events the request scores, when
	// known: on PostgreSQL a batch locks them and reads their scoring states
	// in two statements, instead of two per event.
	contact int64
}

// writer group-commits: while one transaction commits, requests queue up, and
// the next transaction takes all of them at once. A lone request waits for
// nobody; a crowd shares one commit. This is what lets SQLite's single writer
// take tens of thousands of events per second.
type writer struct {
	s      *Store
	queue  chan *request
	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup

	commits atomic.Int64 // transactions committed
	ops     atomic.Int64 // operations they carried
}

// maxBatchOps bounds one transaction, so a burst cannot hold the write lock for long.
const maxBatchOps = 4000

func newWriter(s *Store, workers int) *writer {
	w := &writer{s: s, queue: make(chan *request, 1024)}
	for range workers {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// do runs ops, each all-or-nothing, and returns their errors (nil entries for
// successes). It returns once the transaction holding them has committed.
func (w *writer) do(ops ...op) []error {
	return w.submit(&request{ops: ops, errs: make([]error, len(ops)), done: make(chan struct{})})
}

func (w *writer) submit(req *request) []error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		for i := range req.errs {
			req.errs[i] = ErrClosed
		}
		return req.errs
	}
	w.queue <- req
	w.mu.RUnlock()
	<-req.done
	return req.errs
}

func newRequest(key string, o op) *request {
	return &request{ops: []op{o}, errs: make([]error, 1), done: make(chan struct{}), key: key}
}

// submitAll queues requests together and waits for all of them. Requests
// for different contacts can then run in contact-key order across the whole
// batch, which keeps PostgreSQL writers from deadlocking; one request's ops
// stay in order. It returns one error per request (its first op's).
func (w *writer) submitAll(reqs []*request) []error {
	errs := make([]error, len(reqs))
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		for i := range errs {
			errs[i] = ErrClosed
		}
		return errs
	}
	for _, r := range reqs {
		w.queue <- r
	}
	w.mu.RUnlock()
	for i, r := range reqs {
		<-r.done
		errs[i] = r.errs[0]
	}
	return errs
}

// do1 runs a single op.
func (w *writer) do1(o op) error { return w.doKeyed("", o) }

// doKeyed runs a single op that locks the contact named by key.
func (w *writer) doKeyed(key string, o op) error {
	return w.submit(&request{ops: []op{o}, errs: make([]error, 1), done: make(chan struct{}), key: key})[0]
}

// close stops accepting writes and returns when every queued one is committed.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *writer) loop() {
	defer w.wg.Done()
	for req := range w.queue {
		batch, n := []*request{req}, len(req.ops)
	fill:
		for n < maxBatchOps {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
				n += len(r.ops)
			default:
				break fill
			}
		}
		w.run(batch)
		for _, r := range batch {
			close(r.done)
		}
		w.s.prepareWanted()
	}
}

// run commits a batch. First optimistically, every op in one transaction with
// no savepoints (the common case: nothing fails). If any op fails, the
// transaction is rolled back and the batch runs again with a savepoint around
// each op, so one op's failure leaves the others in; ops that lost a race to
// another transaction are retried.
func (w *writer) run(batch []*request) {
	slices.SortStableFunc(batch, func(a, b *request) int { return strings.Compare(a.key, b.key) })
	n := 0
	for _, r := range batch {
		n += len(r.ops)
	}
	err := w.attempt(batch, n == 1)
	if errors.Is(err, errOptimisticFailed) {
		err = w.attempt(batch, true)
	}
	if n > 1 && conflicted(err) {
		// The batch's row locks keep colliding with another writer's (several
		// contacts locked in different orders). Each op in a transaction of its
		// own locks one contact at a time, which cannot form a cycle.
		w.runEach(batch)
		return
	}
	w.settle(batch, n, err)
}

// runEach runs every op of the batch in its own transaction.
func (w *writer) runEach(batch []*request) {
	for _, r := range batch {
		for i, o := range r.ops {
			one := &request{ops: []op{o}, errs: make([]error, 1)}
			w.settle([]*request{one}, 1, w.attempt([]*request{one}, true))
			r.errs[i] = one.errs[0]
		}
	}
}

// settle records the outcome of a batch's transaction.
func (w *writer) settle(batch []*request, n int, err error) {
	switch {
	case err == nil:
		w.commits.Add(1)
		w.ops.Add(int64(n))
	case errors.Is(err, errRolledBack):
		// A lone op failed: its own error is recorded, nothing was committed.
	default:
		// The transaction itself failed (begin, commit, or a race lost on every
		// try): no op of the batch took effect.
		for _, r := range batch {
			for i := range r.errs {
				r.errs[i] = err
			}
		}
	}
}

var (
	errOptimisticFailed = errors.New("an op failed; retrying with savepoints")
	errRolledBack       = errors.New("the op failed; rolled back")
)

const maxTries = 3

func (w *writer) attempt(batch []*request, isolate bool) error {
	ctx := context.Background() // a batch serves many callers; none may cancel it
	for try := 1; ; try++ {
		err := w.attemptOnce(ctx, batch, isolate)
		// A lone op retries its conflicts here; a batch that conflicts is
		// split instead (see run), since the same batch would likely collide again.
		lone := len(batch) == 1 && len(batch[0].ops) == 1
		if err != nil && try < maxTries && (lostRace(err) || conflicted(err) && lone) {
			continue
		}
		if err != nil && !errors.Is(err, errOptimisticFailed) && !errors.Is(err, errRolledBack) {
			w.s.errors.Add(1)
		}
		return err
	}
}

func (w *writer) attemptOnce(ctx context.Context, batch []*request, isolate bool) error {
	sqlTx, err := w.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &tx{Tx: sqlTx, s: w.s, ctx: ctx}
	if c := w.s.states; c != nil {
		if err := c.check(t); err != nil {
			sqlTx.Rollback()
			return err
		}
	}
	single := len(batch) == 1 && len(batch[0].ops) == 1
	if w.s.d.name == "postgres" && !single {
		var ids []int64
		for _, r := range batch {
			if r.contact != 0 {
				ids = append(ids, r.contact)
			}
		}
		if err := t.preloadScores(ids); err != nil {
			sqlTx.Rollback()
			return err
		}
	}
	for _, r := range batch {
		for i, o := range r.ops {
			r.errs[i] = nil
			if !isolate {
				if err := runOp(t, o); err != nil {
					sqlTx.Rollback()
					if conflicted(err) {
						return err // savepoints would not help: run splits the batch
					}
					return errOptimisticFailed
				}
				continue
			}
			if single {
				// One op alone needs no savepoint: its failure is the transaction's.
				if err := runFlushed(t, o); err != nil {
					sqlTx.Rollback()
					if retryable(err) {
						return err
					}
					r.errs[i] = err
					return errRolledBack
				}
				continue
			}
			err := w.isolated(t, o)
			if conflicted(err) {
				// Locks taken by earlier ops of this transaction are part of the
				// cycle: only a fresh transaction can get past it.
				sqlTx.Rollback()
				return err
			}
			r.errs[i] = err
		}
	}
	if err := t.flushScores(); err != nil {
		// Whose rows failed is not known here: the batch runs again with
		// each op flushing its own.
		sqlTx.Rollback()
		if retryable(err) || isolate {
			return err
		}
		return errOptimisticFailed
	}
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	t.committed()
	return nil
}

// runOp runs an op and writes the events scoring queued for it. Its
// journey counters wait for the end of the transaction (flushScores): a
// failed op rolls the whole transaction back.
func runOp(t *tx, o op) error {
	if err := o(t); err != nil {
		t.jstats, t.jsignals = nil, nil
		return err
	}
	if err := t.runSignals(); err != nil {
		return err
	}
	return t.flushEvents()
}

// runFlushed runs an op and writes all the scoring it queued, so that a
// failure of either is the op's.
func runFlushed(t *tx, o op) error {
	if err := o(t); err != nil {
		t.jstats, t.jsignals = nil, nil
		return err
	}
	if err := t.runSignals(); err != nil {
		return err
	}
	if err := t.flushJourneyStats(); err != nil {
		return err
	}
	return t.flushScores()
}

// isolated runs one op inside a savepoint, retrying it when it lost a race to
// a transaction that has since committed (a unique key taken meanwhile). A
// deadlock or serialisation failure is returned for the caller to retry the
// whole transaction.
func (w *writer) isolated(t *tx, o op) error {
	for try := 1; ; try++ {
		if _, err := t.Tx.ExecContext(t.ctx, "SAVEPOINT op"); err != nil {
			return err
		}
		err := runFlushed(t, o)
		if err == nil {
			_, err = t.Tx.ExecContext(t.ctx, "RELEASE SAVEPOINT op")
			return err
		}
		t.dropUnflushed()
		if _, rerr := t.Tx.ExecContext(t.ctx, "ROLLBACK TO SAVEPOINT op"); rerr != nil {
			return errors.Join(err, rerr)
		}
		if !lostRace(err) || try >= maxTries {
			return err
		}
	}
}

// tx is a write transaction with the store's placeholder rewriting.
type tx struct {
	*sql.Tx
	s   *Store
	ctx context.Context
	// inEngine is set while scoring applies its own effects, which must not
	// be scored again.
	inEngine bool
	// stale is the contact whose row scoring rewrote (a band's tags or
	// lifecycle), so a caller holding that contact knows to read it again.
	stale int64
	// rulesRead is the scoring rules this transaction read.
	rulesRead *score.Rules
	// scores is the scoring this transaction did, written before it commits.
	scores *scoreBuf
	// segs is its segment writes, written with scores (segbuf.go).
	segs *segBuf
	// epochs is the segment key epochs it read or wrote, for epochsOf (segkeys.go).
	epochs   *keyEpochs
	epochsOf *segCatalog
	// created is the contacts it created; enrolled those of them it
	// enrolled in a journey. A created contact has no rows in other
	// tables but those this transaction wrote, so reads can be skipped.
	created  map[int64]bool
	enrolled map[int64]bool
	// queued says it queued messages, hooked webhook deliveries: the
	// dispatcher is woken when it commits.
	queued, hooked bool
	// locked is the contacts this transaction has locked for scoring (PostgreSQL).
	locked map[int64]bool
	// segRead is the segments this transaction read.
	segRead *segCatalog
	// The configuration versions this transaction read (readVersions).
	versionsRead bool
	rulesVersion int
	segGen       int64
	journeysGen  int64
	routingGen   int64
	// routingCat is the routing catalog this transaction read.
	routingCat *routingCatalog
	// building is the segments a build span is evaluating.
	building map[string]bool
	// segBuilt is how far each segment being built is, as this transaction read it.
	segBuilt map[int64]int64
	// journeyCat is the journeys this transaction read; journeyDepth how
	// deep journeys' own events have fed journeys; jstats the journey
	// counters it made, written at the end of each op.
	journeyCat   *journeyCatalog
	journeyDepth int
	jstats       map[jstatKey]int64
	// templates are the templates it read (template); recent the
	// marketing messages of the last 7 days of the contacts whose steps it
	// runs, kept as it queues more (the frequency cap).
	templates map[string]Template
	recent    map[int64][]journey.Sent
	// steps batches a due-steps run's writes on PostgreSQL (stepWrites).
	steps *stepWrites
	// jsignals are what scoring and segments noticed for journeys'
	// triggers (a segment entered, a score crossing), run at the op's end.
	jsignals []jsignal
}

// stmt returns query prepared on SQLite's writer connection, bound to this
// transaction, or nil when it is not prepared yet. The modernc driver would
// parse the SQL again on every call, so prepared statements matter there
// (pgx caches them by itself). A statement cannot be prepared while the
// transaction holds the only connection: it is noted, and the writer
// prepares it between transactions (prepareWanted).
func (t *tx) stmt(query string) *sql.Stmt {
	if t.s.d.name != "sqlite" {
		return nil
	}
	if v, ok := t.s.stmts.Load(query); ok {
		return t.Tx.StmtContext(t.ctx, v.(*sql.Stmt))
	}
	t.s.wanted.Store(query, true)
	return nil
}

// prepareWanted prepares the statements transactions asked for. The writer
// calls it between transactions, when the connection is free.
func (s *Store) prepareWanted() {
	s.wanted.Range(func(k, _ any) bool {
		s.wanted.Delete(k)
		st, err := s.w.Prepare(k.(string))
		if err != nil {
			return true // the query's own call reports the error
		}
		s.stmts.Store(k, st)
		return true
	})
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.Tx.ExecContext(t.ctx, t.s.q(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.Tx.QueryContext(t.ctx, t.s.q(query), args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.Tx.QueryRowContext(t.ctx, t.s.q(query), args...)
}
