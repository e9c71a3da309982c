package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/score"
)

// Journeys: a document applied makes a new version, live at once; the
// event path enrols contacts on the live versions' triggers and moves their
// enrolments on the events they wait for; a worker (RunDueSteps) moves on
// the enrolments whose timers are due. Every move is one transaction: the
// new state, the messages it queues (with an idempotency key of enrolment,
// step and visit), its statistics and its events.

// ErrJourneyNotFound is returned for an unknown journey.
var ErrJourneyNotFound = errors.New("journey not found")

// ErrNotEnrolled says why an explicit enrolment did not happen.
type ErrNotEnrolled struct{ Reason string }

func (e *ErrNotEnrolled) Error() string { return "not enrolled: " + e.Reason }

// Journey statuses.
const (
	JourneyLive   = "live"
	JourneyPaused = "paused"
)

const journeysGenKey = "journeys_generation"

// Journey is a journey's summary.
type Journey struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Version     int       `json:"version"`
	Description string    `json:"description,omitempty"`
	Trigger     string    `json:"trigger"`
	Steps       []string  `json:"steps"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Document    string    `json:"document,omitempty"`
}

// liveJourney is a journey in the catalog the event path reads.
type liveJourney struct {
	id      int64
	version int
	status  string
	j       *journey.Journey
}

type journeyCatalog struct {
	gen  int64
	list []*liveJourney
	// types are the event types any live journey enrols on or reacts to.
	types map[string]bool
	// scores are the scores live journeys' score triggers watch.
	scores map[string]bool
	// cap is the frequency cap (JourneySettings).
	cap journey.Cap
}

// journeyCache keeps the catalog by generation, and compiled versions.
type journeyCache struct {
	mu       sync.Mutex
	cur      *journeyCatalog
	versions sync.Map // "id:version" → *journey.Journey
}

// templateCatalog tells validation which templates exist, reading them in
// the transaction.
type templateCatalog struct{ t *tx }

func (c templateCatalog) TemplateChannel(name string) (string, bool) {
	tp, err := getTemplate(c.t.queryRow, name)
	if err != nil {
		return "", false
	}
	return tp.Channel, true
}

// CheckJourney validates a document against the templates that exist.
func (s *Store) CheckJourney(ctx context.Context, src []byte) (*journey.Journey, error) {
	var j *journey.Journey
	err := s.writer.do1(func(t *tx) error {
		var err error
		j, err = journey.Parse(src, templateCatalog{t})
		return err
	})
	return j, err
}

// SaveJourney validates a document and stores it as the journey's next
// version, live. An unchanged document makes no new version. Contacts in
// the journey stay on their version (PublishJourney can move them).
func (s *Store) SaveJourney(ctx context.Context, src []byte) (Journey, bool, error) {
	p, err := s.PublishJourney(ctx, src, false)
	return p.Journey, p.Changed, err
}

// Published is what PublishJourney did.
type Published struct {
	Journey Journey `json:"journey"`
	Changed bool    `json:"changed"`
	// Migrated and Left count the contacts moved to the new version, and
	// those whose step it no longer has (they left the journey).
	Migrated int `json:"migrated"`
	Left     int `json:"left"`
}

// PublishJourney is SaveJourney, and with migrate it moves the contacts in
// the journey to the new version by step id, in the same transaction (see
// PreviewJourney for what that would do).
func (s *Store) PublishJourney(ctx context.Context, src []byte, migrate bool) (Published, error) {
	var out Published
	err := s.writer.do1(func(t *tx) error {
		out = Published{}
		j, err := journey.Parse(src, templateCatalog{t})
		if err != nil {
			return err
		}
		now := t.s.now()
		var id int64
		var version int
		var doc string
		err = t.queryRow(`SELECT j.id, j.version, v.document FROM journeys j JOIN journey_versions v
			ON v.journey_id = j.id AND v.version = j.version WHERE j.name = ?`, j.Doc.Name).Scan(&id, &version, &doc)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := t.queryRow(`INSERT INTO journeys (name, status, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?) RETURNING id`,
				j.Doc.Name, JourneyLive, ms(now), ms(now)).Scan(&id); err != nil {
				return err
			}
			version, out.Changed = 1, true
		case err != nil:
			return err
		case doc == string(src):
		default:
			version, out.Changed = version+1, true
			if _, err := t.exec("UPDATE journeys SET version = ?, updated_at = ? WHERE id = ?", version, ms(now), id); err != nil {
				return err
			}
		}
		if out.Changed {
			if _, err := t.exec("INSERT INTO journey_versions (journey_id, version, document, created_at) VALUES (?, ?, ?, ?)",
				id, version, string(src), ms(now)); err != nil {
				return err
			}
			if err := t.bumpJourneys(); err != nil {
				return err
			}
		}
		if migrate {
			if out.Migrated, out.Left, err = t.migrate(id, version, j, now); err != nil {
				return err
			}
		}
		out.Journey, err = t.getJourney("j.id = ?", id)
		return err
	})
	return out, err
}

func (t *tx) bumpJourneys() error {
	_, err := t.exec(`INSERT INTO settings (key, value) VALUES ('` + journeysGenKey + `', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`)
	return err
}

// SetJourneyStatus pauses (no enrolment, no step runs) or resumes a journey.
func (s *Store) SetJourneyStatus(ctx context.Context, name, status string) (Journey, error) {
	var out Journey
	err := s.writer.do1(func(t *tx) error {
		res, err := t.exec("UPDATE journeys SET status = ?, updated_at = ? WHERE name = ?", status, ms(t.s.now()), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrJourneyNotFound
		}
		if err := t.bumpJourneys(); err != nil {
			return err
		}
		out, err = t.getJourney("j.name = ?", name)
		return err
	})
	return out, err
}

const journeyColumns = `j.id, j.name, j.status, j.version, j.created_at, j.updated_at, v.document`

func scanJourney(row scanner) (Journey, error) {
	var out Journey
	var created, updated int64
	if err := row.Scan(&out.ID, &out.Name, &out.Status, &out.Version, &created, &updated, &out.Document); err != nil {
		return out, err
	}
	out.CreatedAt, out.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if j, err := journey.Parse([]byte(out.Document), nil); err == nil {
		out.Description, out.Steps = j.Doc.Description, j.Steps()
		out.Trigger = triggerText(j)
	}
	return out, nil
}

// triggerText says what enrols contacts in a journey, in a few words.
func triggerText(j *journey.Journey) string {
	tr := j.Doc.Trigger
	switch j.TriggerKind() {
	case "segment":
		return "segment " + tr.Segment
	case "score":
		return fmt.Sprintf("score %s >= %d", tr.Score.Name, tr.Score.Above)
	case "field":
		return "field " + tr.Field.Name
	case "date":
		return "date " + tr.Date.Field
	case "manual":
		return "manual"
	}
	return tr.Event
}

func (t *tx) getJourney(where string, arg any) (Journey, error) {
	j, err := scanJourney(t.queryRow(`SELECT `+journeyColumns+` FROM journeys j JOIN journey_versions v
		ON v.journey_id = j.id AND v.version = j.version WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrJourneyNotFound
	}
	return j, err
}

// Journeys lists the journeys, with their live documents.
func (s *Store) Journeys(ctx context.Context) ([]Journey, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+journeyColumns+` FROM journeys j JOIN journey_versions v
		ON v.journey_id = j.id AND v.version = j.version ORDER BY j.name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Journey{}
	for rows.Next() {
		j, err := scanJourney(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// GetJourney is one journey by name, or by id when ref is a number.
func (s *Store) GetJourney(ctx context.Context, ref string) (Journey, error) {
	where, arg := journeyRef(ref)
	j, err := scanJourney(s.r.QueryRowContext(ctx, s.q(`SELECT `+journeyColumns+` FROM journeys j JOIN journey_versions v
		ON v.journey_id = j.id AND v.version = j.version WHERE `+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrJourneyNotFound
	}
	return j, err
}

func journeyRef(ref string) (string, any) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return "j.id = ?", id
	}
	return "j.name = ?", ref
}

// journeys is the catalog of journeys as of this transaction.
func (t *tx) journeys() (*journeyCatalog, error) {
	if t.journeyCat != nil {
		return t.journeyCat, nil
	}
	if err := t.readVersions(); err != nil {
		return nil, err
	}
	g := t.journeysGen
	c := &t.s.journeyCache
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil && cur.gen == g {
		t.journeyCat = cur
		return cur, nil
	}
	cat := &journeyCatalog{gen: g, types: map[string]bool{}, scores: map[string]bool{}}
	set, err := t.s.journeySettings(t.ctx, txQuerier{t})
	if err != nil {
		return nil, err
	}
	cat.cap = set.FrequencyCap
	rows, err := t.query(`SELECT j.id, j.version, j.status FROM journeys j ORDER BY j.id`)
	if err != nil {
		return nil, err
	}
	var list []*liveJourney
	for rows.Next() {
		lj := &liveJourney{}
		if err := rows.Scan(&lj.id, &lj.version, &lj.status); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, lj)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, lj := range list {
		j, err := t.journeyVersion(lj.id, lj.version)
		if err != nil {
			return nil, err
		}
		lj.j = j
		cat.list = append(cat.list, lj)
		if e := j.TriggerEvent(); e != "" && lj.status == JourneyLive {
			cat.types[e] = true
			if sc := j.Doc.Trigger.Score; sc != nil {
				cat.scores[sc.Name] = true
			}
		}
	}
	// Events that move enrolments matter whatever the live versions say:
	// older versions' wait_for events are read from the enrolments' own.
	for _, typ := range []string{"unsubscribed", "email_bounced", "email_complained", "contact_erased", "human_takeover"} {
		cat.types[typ] = true
	}
	for _, lj := range cat.list {
		for _, typ := range interestingTypes(lj.j) {
			cat.types[typ] = true
		}
	}
	c.mu.Lock()
	c.cur = cat
	c.mu.Unlock()
	t.journeyCat = cat
	return cat, nil
}

func interestingTypes(j *journey.Journey) []string {
	var out []string
	if o := j.Doc.Objective; o != nil {
		out = append(out, o.Event)
	}
	for _, s := range j.Doc.Steps {
		if s.WaitFor != nil {
			out = append(out, s.WaitFor.Event)
		}
	}
	if j.Doc.Resume != "" && j.Interested(j.Doc.Resume) {
		out = append(out, j.Doc.Resume)
	}
	return out
}

// journeyVersion is a journey's version, compiled once.
func (t *tx) journeyVersion(id int64, version int) (*journey.Journey, error) {
	key := strconv.FormatInt(id, 10) + ":" + strconv.Itoa(version)
	if j, ok := t.s.journeyCache.versions.Load(key); ok {
		return j.(*journey.Journey), nil
	}
	var doc string
	if err := t.queryRow("SELECT document FROM journey_versions WHERE journey_id = ? AND version = ?", id, version).Scan(&doc); err != nil {
		return nil, err
	}
	// Templates were checked when the version was saved; one deleted since
	// fails its sends, not the journey.
	j, err := journey.Parse([]byte(doc), nil)
	if err != nil {
		return nil, fmt.Errorf("journey %d version %d: %w", id, version, err)
	}
	t.s.journeyCache.versions.Store(key, j)
	return j, nil
}

// enrolment is a row of enrolments.
type enrolment struct {
	id, journeyID, contactID int64
	version                  int
	enteredAt                time.Time
	state                    journey.State
}

const enrolmentColumns = "id, journey_id, version, contact_id, entered_at, state"

func scanEnrolment(row scanner) (enrolment, error) {
	var e enrolment
	var entered int64
	var state string
	if err := row.Scan(&e.id, &e.journeyID, &e.version, &e.contactID, &entered, &state); err != nil {
		return e, err
	}
	e.enteredAt = time.UnixMilli(entered).UTC()
	return e, json.Unmarshal([]byte(state), &e.state)
}

// journeyEvent lets the journeys see an event of a contact: it moves the
// contact's enrolments that wait for it or leave on it, and enrols the
// contact in the live journeys it triggers.
func (t *tx) journeyEvent(contactID int64, ev score.Event, c *contact.Contact) error {
	if t.journeyDepth > 2 {
		return nil // journeys' own events may trigger journeys, not without end
	}
	cat, err := t.journeys()
	if err != nil {
		return err
	}
	if len(cat.list) == 0 || !cat.types[ev.Type] {
		return nil // no journey, or none that this event moves
	}
	t.journeyDepth++
	defer func() { t.journeyDepth-- }()
	if ev.Type == "contact_erased" || c == nil || t.stale == contactID {
		cc, err := t.lockContactWith(contactID, "")
		if ev.Type == "contact_erased" || errors.Is(err, contact.ErrNotFound) {
			// Erased: whatever journeys the contact was in end here.
			_, err := t.exec(`UPDATE enrolments SET status = 'exited', reason = 'erased', due_at = NULL, updated_at = ?
				WHERE contact_id = ? AND status IN ('active', 'waiting', 'paused')`, ms(t.s.now()), contactID)
			return err
		}
		if err != nil {
			return err
		}
		c = &cc
	}
	var props map[string]any
	if len(ev.Properties) > 0 {
		_ = json.Unmarshal(ev.Properties, &props)
	}
	jev := &journey.Event{Type: ev.Type, Properties: props, At: ev.At}
	now := t.s.now()
	ens, err := t.contactEnrolments(contactID)
	if err != nil {
		return err
	}
	for _, e := range ens {
		j, err := t.journeyVersion(e.journeyID, e.version)
		if err != nil {
			return err
		}
		if !j.Interested(ev.Type) {
			continue
		}
		in, err := t.journeyInput(j, e, c, now)
		if err != nil {
			return err
		}
		in.Event = jev
		st, fx := j.Advance(e.state, in)
		if err := t.saveEnrolment(j, &e, st, fx, c, now); err != nil {
			return err
		}
	}
	for _, lj := range cat.list {
		if lj.status != JourneyLive || !lj.j.Triggered(ev.Type) {
			continue
		}
		if !lj.j.Matches(journey.Input{Now: now, Contact: c, Event: jev}) {
			continue
		}
		if _, err := t.enrol(lj, c, now); err != nil {
			var ne *ErrNotEnrolled
			if errors.As(err, &ne) {
				continue // recorded by enrol
			}
			return err
		}
	}
	return nil
}

// jsignal is a trigger for journeys that is not an event of the log.
type jsignal struct {
	contactID int64
	ev        score.Event
}

// signal notes a trigger for journeys, run when the op ends (runSignals).
func (t *tx) signal(contactID int64, typ string, at time.Time, props map[string]any) {
	raw, _ := json.Marshal(props)
	t.jsignals = append(t.jsignals, jsignal{contactID, score.Event{Type: typ, At: at, Properties: raw}})
}

// scoreSignals notes the scores live journeys watch that changed.
func (t *tx) scoreSignals(contactID int64, before, after map[string]int, at time.Time) error {
	cat, err := t.journeys()
	if err != nil || len(cat.scores) == 0 {
		return err
	}
	for name := range cat.scores {
		if before[name] != after[name] {
			t.signal(contactID, journey.SignalScoreCrossed, at, map[string]any{"score": name, "from": before[name], "to": after[name]})
		}
	}
	return nil
}

// runSignals lets the journeys see the signals the op noted. Enrolling may
// note more (a journey's update joins a segment): they run too, as deep as
// journeyEvent allows.
func (t *tx) runSignals() error {
	for range 4 {
		if len(t.jsignals) == 0 {
			return nil
		}
		sigs := t.jsignals
		t.jsignals = nil
		for _, sg := range sigs {
			if err := t.journeyEvent(sg.contactID, sg.ev, nil); err != nil {
				return err
			}
		}
	}
	t.jsignals = nil
	return nil
}

// contactEnrolments are the contact's enrolments still in a journey,
// locked for the transaction on PostgreSQL.
func (t *tx) contactEnrolments(contactID int64) ([]enrolment, error) {
	if t.created[contactID] && !t.enrolled[contactID] {
		return nil, nil
	}
	return t.enrolments(`WHERE contact_id = ? AND status IN ('active', 'waiting', 'paused') ORDER BY id`+t.s.d.forUpdate, contactID)
}

// enrolments reads the enrolments a condition (and order, limit, lock) selects.
func (t *tx) enrolments(where string, args ...any) ([]enrolment, error) {
	if err := t.flushSteps(); err != nil {
		return nil, err
	}
	rows, err := t.query(`SELECT `+enrolmentColumns+` FROM enrolments `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []enrolment
	for rows.Next() {
		e, err := scanEnrolment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Enrol puts a contact in a journey through the API, whatever its trigger
// says; the entry rules still apply.
func (s *Store) Enrol(ctx context.Context, ref string, contactID int64) (int64, error) {
	var id int64
	err := s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		c, err := t.lockContact(contactID)
		if err != nil {
			return err
		}
		cat, err := t.journeys()
		if err != nil {
			return err
		}
		var lj *liveJourney
		for _, x := range cat.list {
			if x.j.Doc.Name == ref || strconv.FormatInt(x.id, 10) == ref {
				lj = x
			}
		}
		if lj == nil {
			return ErrJourneyNotFound
		}
		if lj.status != JourneyLive {
			return &ErrNotEnrolled{Reason: "the journey is paused"}
		}
		id, err = t.enrol(lj, &c, t.s.now())
		return err
	})
	return id, err
}

// enrol checks the entry rules and starts an enrolment. A refusal is
// recorded (journey_entry_refused, with the reason) and returned as
// *ErrNotEnrolled.
func (t *tx) enrol(lj *liveJourney, c *contact.Contact, now time.Time) (int64, error) {
	j := lj.j
	refuse := func(reason string) (int64, error) {
		t.journeyStat(lj.id, lj.version, "", "refused", reason)
		if err := t.appendSystemEvent(c.ID, "journey_entry_refused", "journey", now,
			map[string]any{"journey": j.Doc.Name, "reason": reason}); err != nil {
			return 0, err
		}
		return 0, &ErrNotEnrolled{Reason: reason}
	}
	var granted map[string]bool
	if len(j.Consents()) > 0 {
		ledger, err := t.consentLedger(c.ID)
		if err != nil {
			return 0, err
		}
		granted = map[string]bool{}
		for _, cs := range contact.CurrentConsents(ledger) {
			if cs.Purpose == KindMarketing && cs.Status == contact.ConsentGranted {
				granted[cs.Channel] = true
			}
		}
	}
	var last sql.NullInt64
	var in bool
	if err := t.flushSteps(); err != nil {
		return 0, err
	}
	var err error
	if !t.created[c.ID] || t.enrolled[c.ID] {
		err = t.queryRow(`SELECT MAX(entered_at), COALESCE(MAX(CASE WHEN status IN ('active', 'waiting', 'paused') THEN 1 ELSE 0 END), 0) = 1
		FROM enrolments WHERE journey_id = ? AND contact_id = ?`, lj.id, c.ID).Scan(&last, &in)
	}
	if err != nil {
		return 0, err
	}
	var lastAt time.Time
	if last.Valid {
		lastAt = time.UnixMilli(last.Int64)
	}
	if reason := j.Refusal(c, granted, in, lastAt, now); reason != "" {
		return refuse(reason)
	}
	e := enrolment{journeyID: lj.id, version: lj.version, contactID: c.ID, enteredAt: now}
	in0, err := t.journeyInput(j, e, c, now)
	if err != nil {
		return 0, err
	}
	st, fx := j.Start(in0)
	state, _ := json.Marshal(st)
	if err := t.queryRow(`INSERT INTO enrolments (journey_id, version, contact_id, status, step, due_at, state, reason, entered_at, updated_at, priority)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, lj.id, lj.version, c.ID, string(st.Status), st.Step, dueMs(st),
		string(state), null(st.Reason), ms(now), ms(now), j.Doc.Priority).Scan(&e.id); err != nil {
		return 0, err
	}
	if t.enrolled == nil {
		t.enrolled = map[int64]bool{}
	}
	t.enrolled[c.ID] = true
	t.journeyStat(lj.id, lj.version, "", "entered", "")
	if err := t.appendSystemEvent(c.ID, "journey_entered", "journey", now, map[string]any{"journey": j.Doc.Name, "enrolment": e.id}); err != nil {
		return 0, err
	}
	e.state = journey.State{Status: journey.Active}
	return e.id, t.applyJourneyEffects(j, &e, st, fx, c, now)
}

func dueMs(st journey.State) any {
	if st.DueAt.IsZero() {
		return nil
	}
	return ms(st.DueAt)
}

// journeyInput gathers what the engine needs about the contact: the
// marketing messages of the last 7 days (the cap), and whether the
// objective happened since the contact entered.
func (t *tx) journeyInput(j *journey.Journey, e enrolment, c *contact.Contact, now time.Time) (journey.Input, error) {
	cat, err := t.journeys()
	if err != nil {
		return journey.Input{}, err
	}
	in := journey.Input{Now: now, Contact: c, Cap: cat.cap}
	if r, ok := t.recent[c.ID]; ok {
		in.Recent = r
	} else {
		m, err := t.readRecent(now, "contact_id = ?", c.ID)
		if err != nil {
			return in, err
		}
		in.Recent = m[c.ID]
		if t.recent != nil {
			t.recent[c.ID] = in.Recent
		}
	}
	if j.HasBranch() {
		st, err := t.scoreState(c.ID)
		if err != nil {
			return in, err
		}
		in.Scores = st.Values
	}
	if o := j.Doc.Objective; o != nil && j.HasGoalStep() && e.id != 0 {
		var n int
		if err := t.queryRow(`SELECT COUNT(*) FROM events WHERE contact_id = ? AND type = ? AND occurred_at >= ?`,
			c.ID, o.Event, ms(e.enteredAt)).Scan(&n); err != nil {
			return in, err
		}
		in.Reached = n > 0
	}
	return in, nil
}

// readRecent reads the marketing messages of the last 7 days
// (the frequency cap) of the contacts the condition selects, by contact;
// every contact named has an entry, with or without messages.
func (t *tx) readRecent(now time.Time, where string, ids any) (map[int64][]journey.Sent, error) {
	if err := t.flushSteps(); err != nil {
		return nil, err
	}
	out := map[int64][]journey.Sent{}
	arg := ids
	switch v := ids.(type) {
	case int64:
		out[v] = nil
	case []int64:
		for _, id := range v {
			out[id] = nil
		}
		arg = t.s.idsArg(v)
	}
	rows, err := t.query(`SELECT contact_id, due_at, channel FROM outbox WHERE `+where+` AND kind = ? AND due_at > ?
		AND status NOT IN ('suppressed', 'failed')`, arg, KindMarketing, ms(now.Add(-7*24*time.Hour)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var channel string
		if err := rows.Scan(&id, &at, &channel); err != nil {
			return nil, err
		}
		out[id] = append(out[id], journey.Sent{At: time.UnixMilli(at).UTC(), Channel: channel})
	}
	return out, rows.Err()
}

// saveEnrolment writes an enrolment's new state and applies the effects.
func (t *tx) saveEnrolment(j *journey.Journey, e *enrolment, st journey.State, fx []journey.Effect, c *contact.Contact, now time.Time) error {
	if len(fx) == 0 && st.Status == e.state.Status && st.Step == e.state.Step && st.DueAt.Equal(e.state.DueAt) {
		return nil
	}
	if st.Status == e.state.Status {
		// The status is in an index's condition: left out of the statement,
		// SQLite does not touch that index (most moves: waiting to waiting).
		state, _ := json.Marshal(st)
		if !t.moveLater(e.id, st.Step, dueMs(st), string(state), null(st.Reason), ms(now)) {
			if _, err := t.exec(`UPDATE enrolments SET step = ?, due_at = ?, state = ?, reason = ?, updated_at = ? WHERE id = ?`,
				st.Step, dueMs(st), string(state), null(st.Reason), ms(now), e.id); err != nil {
				return err
			}
		}
	} else if err := t.saveEnrolmentRow(e, st, now); err != nil {
		return err
	}
	return t.applyJourneyEffects(j, e, st, fx, c, now)
}

// applyJourneyEffects does what the engine decided.
func (t *tx) applyJourneyEffects(j *journey.Journey, e *enrolment, st journey.State, fx []journey.Effect, c *contact.Contact, now time.Time) error {
	name := j.Doc.Name
	source := "journey:" + name
	for _, f := range fx {
		switch f.Kind {
		case journey.EffectStep:
			t.journeyStat(e.journeyID, e.version, f.Step, "entered", f.Reason)
		case journey.EffectSend:
			if err := t.journeySend(j, e, f, c, now); err != nil {
				return err
			}
		case journey.EffectUpdate:
			if err := t.journeyUpdate(j, e, f, c, source, now); err != nil {
				return err
			}
		case journey.EffectDeferred:
			t.journeyStat(e.journeyID, e.version, f.Step, "deferred", f.Reason)
			if err := t.appendSystemEvent(c.ID, "journey_deferred", "journey", now, map[string]any{"journey": name,
				"enrolment": e.id, "step": f.Step, "reason": f.Reason, "until": f.Until.UTC().Format(time.RFC3339)}); err != nil {
				return err
			}
		case journey.EffectCompleted, journey.EffectExited, journey.EffectConverted, journey.EffectPaused, journey.EffectResumed:
			t.journeyStat(e.journeyID, e.version, f.Step, f.Kind, f.Reason)
			props := map[string]any{"journey": name, "enrolment": e.id, "step": f.Step}
			if f.Reason != "" {
				props["reason"] = f.Reason
			}
			if err := t.appendSystemEvent(c.ID, "journey_"+f.Kind, "journey", now, props); err != nil {
				return err
			}
		}
	}
	return nil
}

// journeySend queues a step's message, or creates its task. The key makes
// the same step's same visit queue one message, whatever happens.
func (t *tx) journeySend(j *journey.Journey, e *enrolment, f journey.Effect, c *contact.Contact, now time.Time) error {
	s := f.Send
	key := fmt.Sprintf("journey:%d:%s:%d", e.id, f.Step, f.Visit)
	if s.Channel == "task" {
		var exists bool
		if err := t.queryRow("SELECT COUNT(*) > 0 FROM tasks WHERE contact_id = ? AND source = ?", c.ID, key).Scan(&exists); err != nil || exists {
			return err
		}
		_, err := t.createTask(TaskInput{ContactID: c.ID, Kind: "call", Title: s.Title, Owner: c.Owner,
			DueAt: now.Add(time.Duration(s.DueIn)), Source: key}, now)
		if err == nil {
			t.journeyStat(e.journeyID, e.version, f.Step, "sent", "task")
		}
		return err
	}
	if s.Channel == "webhook" {
		// The event's webhooks are queued with it (fanOut): one event per
		// visit, written with the state that ran the step.
		t.journeyStat(e.journeyID, e.version, f.Step, "sent", "webhook")
		return t.appendSystemEvent(c.ID, "journey_webhook", "journey", now, map[string]any{"journey": j.Doc.Name,
			"enrolment": e.id, "step": f.Step, "visit": f.Visit, "topic": s.Topic})
	}
	kind := s.Kind
	if kind == "" {
		kind = KindMarketing
	}
	_, err := t.queueLocked(MessageInput{ContactID: c.ID, Template: s.Template, Kind: kind,
		Source: "journey:" + j.Doc.Name, List: j.List(), IdempotencyKey: key}, now)
	switch {
	case errors.Is(err, ErrTemplateNotFound):
		t.journeyStat(e.journeyID, e.version, f.Step, "failed", "template_not_found")
		return t.appendSystemEvent(c.ID, "journey_send_failed", "journey", now,
			map[string]any{"journey": j.Doc.Name, "step": f.Step, "reason": "template " + s.Template + " not found"})
	case err != nil:
		return err
	}
	t.journeyStat(e.journeyID, e.version, f.Step, "sent", s.Channel)
	return nil
}

// journeyUpdate changes the contact as an update step says: tags, owner,
// custom fields, and the pipeline stage when the pipeline allows the move
// (when it does not, the rest is done and the refusal recorded).
func (t *tx) journeyUpdate(j *journey.Journey, e *enrolment, f journey.Effect, c *contact.Contact, source string, now time.Time) error {
	u := f.Update
	tags := slices.Clone(c.Tags)
	for _, tag := range u.Tag {
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	tags = slices.DeleteFunc(tags, func(s string) bool { return slices.Contains(u.Untag, s) })
	in := contact.Input{Tags: tags, Owner: u.Owner}
	if len(u.Fields) > 0 {
		in.CustomFields = make(map[string]any, len(u.Fields))
		for k, v := range u.Fields {
			in.CustomFields[k] = v
		}
	}
	next, changes := contact.Merge(*c, in, true, now)
	if u.Stage != "" && u.Stage != next.Status {
		moved := next
		moved.Status = u.Stage
		more, _, err := t.stageMove(*c, &moved, MoveParams{Stage: u.Stage, By: source}, now)
		var ve *contact.ValidationError
		switch {
		case errors.As(err, &ve):
			t.journeyStat(e.journeyID, e.version, f.Step, "failed", "stage")
			if err := t.appendSystemEvent(c.ID, "journey_update_failed", "journey", now, map[string]any{"journey": j.Doc.Name,
				"enrolment": e.id, "step": f.Step, "reason": ve.Error()}); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			changes = append(changes, contact.Change{Field: "status", Old: next.Status, New: moved.Status})
			next = moved
			changes = append(changes, more...)
		}
	}
	if err := t.updateContact(*c, next, changes, source, now, change{Reason: "journey step"}); err != nil {
		return err
	}
	*c = next
	if u.Points != 0 {
		// An event, so that a rescore from the log gives the points again.
		if err := t.appendSystemEvent(c.ID, score.AdjustEvent, source, now, map[string]any{"score": u.Score,
			"points": u.Points, "reason": "journey " + j.Doc.Name + ", step " + f.Step}); err != nil {
			return err
		}
		if t.stale == c.ID {
			fresh, err := t.lockContactWith(c.ID, "")
			if err != nil {
				return err
			}
			*c = fresh
		}
	}
	return nil
}

// journeyStat counts one thing for a journey's statistics; the counts are
// written with the transaction (flushJourneyStats).
func (t *tx) journeyStat(journeyID int64, version int, step, metric, detail string) {
	if t.jstats == nil {
		t.jstats = map[jstatKey]int64{}
	}
	t.jstats[jstatKey{journeyID, version, step, metric, detail}]++
}

type jstatKey struct {
	journeyID            int64
	version              int
	step, metric, detail string
}

// flushJourneyStats writes the counts the transaction made.
func (t *tx) flushJourneyStats() error {
	if len(t.jstats) == 0 {
		return nil
	}
	keys := make([]jstatKey, 0, len(t.jstats))
	for k := range t.jstats {
		keys = append(keys, k)
	}
	// One order, so that two PostgreSQL transactions never wait on each other's rows.
	slices.SortFunc(keys, func(a, b jstatKey) int {
		return cmp.Or(cmp.Compare(a.journeyID, b.journeyID), cmp.Compare(a.version, b.version),
			strings.Compare(a.step, b.step), strings.Compare(a.metric, b.metric), strings.Compare(a.detail, b.detail))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.journeyID, k.version, k.step, k.metric, k.detail, t.jstats[k]}
	}
	t.jstats = nil
	return t.execRows(`INSERT INTO journey_stats (journey_id, version, step, metric, detail, count) VALUES `, 6,
		` ON CONFLICT (journey_id, version, step, metric, detail) DO UPDATE SET count = journey_stats.count + excluded.count`, rows)
}

// RunDueSteps moves on up to limit enrolments whose timers are due, in one
// transaction, and reports how many it took. Several processes may run it
// on one PostgreSQL database: each takes rows the others have not locked.
func (s *Store) RunDueSteps(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.writer.do1(func(t *tx) error {
		n = 0
		now := t.s.now()
		skip := ""
		if t.s.d.name == "postgres" {
			skip = " FOR UPDATE SKIP LOCKED"
		}
		due, err := t.enrolments(`WHERE due_at <= ? ORDER BY due_at, priority DESC, id LIMIT ?`+skip, ms(now), limit)
		if err != nil {
			return err
		}
		cat, err := t.journeys()
		if err != nil {
			return err
		}
		paused := map[int64]bool{}
		for _, lj := range cat.list {
			paused[lj.id] = lj.status == JourneyPaused
		}
		ids := make([]int64, 0, len(due))
		for _, e := range due {
			if !paused[e.journeyID] {
				ids = append(ids, e.contactID)
			}
		}
		// The contacts, locked in id order (PostgreSQL), and their recent
		// messages: two statements for the batch.
		contacts, err := t.lockContacts(ids)
		if err != nil {
			return err
		}
		defer func() { t.recent, t.steps = nil, nil }()
		if t.recent, err = t.readRecent(now, t.s.inIDs("contact_id"), ids); err != nil {
			return err
		}
		t.batchSteps()
		for i := range due {
			e := &due[i]
			if paused[e.journeyID] {
				continue
			}
			j, err := t.journeyVersion(e.journeyID, e.version)
			if err != nil {
				return err
			}
			c, ok := contacts[e.contactID]
			if !ok {
				st := e.state
				st.Status, st.Reason, st.DueAt = journey.Exited, "erased", time.Time{}
				if err := t.saveEnrolmentRow(e, st, now); err != nil {
					return err
				}
				continue
			}
			in, err := t.journeyInput(j, *e, c, now)
			if err != nil {
				return err
			}
			st, fx := j.Advance(e.state, in)
			if st.DueAt.Equal(e.state.DueAt) && st.Status == e.state.Status && len(fx) == 0 {
				// Not movable now (a stale timer): leave it, without the timer.
				st.DueAt = time.Time{}
			}
			if err := t.saveEnrolment(j, e, st, fx, c, now); err != nil {
				return err
			}
			n++
		}
		return t.flushSteps()
	})
	return n, err
}

// lockContacts reads the live contacts among ids, locking them in id
// order on PostgreSQL, in one statement.
func (t *tx) lockContacts(ids []int64) (map[int64]*contact.Contact, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[int64]*contact.Contact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query("SELECT "+contactColumns+" FROM contacts WHERE "+t.s.inIDs("id")+" AND erased_at IS NULL ORDER BY id"+t.s.d.forUpdate,
		t.s.idsArg(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		if t.s.d.name == "postgres" {
			t.lock(c.ID)
		}
		out[c.ID] = &c
	}
	return out, rows.Err()
}

func (t *tx) saveEnrolmentRow(e *enrolment, st journey.State, now time.Time) error {
	state, _ := json.Marshal(st)
	_, err := t.exec(`UPDATE enrolments SET status = ?, step = ?, due_at = ?, state = ?, reason = ?, updated_at = ? WHERE id = ?`,
		string(st.Status), st.Step, dueMs(st), string(state), null(st.Reason), ms(now), e.id)
	return err
}

// NextDueStep is when the earliest enrolment timer falls (zero: none).
func (s *Store) NextDueStep(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT MIN(due_at) FROM enrolments WHERE due_at IS NOT NULL").Scan(&at)
	if err != nil || !at.Valid {
		return time.Time{}, err
	}
	return time.UnixMilli(at.Int64).UTC(), nil
}

// Enrolment is a contact's pass through a journey, as the API shows it.
type Enrolment struct {
	ID        int64     `json:"id"`
	Journey   string    `json:"journey"`
	Version   int       `json:"version"`
	ContactID int64     `json:"contact_id"`
	Status    string    `json:"status"`
	Step      string    `json:"step,omitempty"`
	DueAt     time.Time `json:"due_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	EnteredAt time.Time `json:"entered_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ContactEnrolments are a contact's enrolments, newest first.
func (s *Store) ContactEnrolments(ctx context.Context, contactID int64) ([]Enrolment, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT e.id, j.name, e.version, e.contact_id, e.status, COALESCE(e.step, ''), e.due_at,
		COALESCE(e.reason, ''), e.entered_at, e.updated_at FROM enrolments e JOIN journeys j ON j.id = e.journey_id
		WHERE e.contact_id = ? ORDER BY e.id DESC`), contactID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Enrolment{}
	for rows.Next() {
		var e Enrolment
		var due sql.NullInt64
		var entered, updated int64
		if err := rows.Scan(&e.ID, &e.Journey, &e.Version, &e.ContactID, &e.Status, &e.Step, &due, &e.Reason, &entered, &updated); err != nil {
			return nil, err
		}
		if due.Valid {
			e.DueAt = time.UnixMilli(due.Int64).UTC()
		}
		e.EnteredAt, e.UpdatedAt = time.UnixMilli(entered).UTC(), time.UnixMilli(updated).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// JourneyStat is one counter of a journey's statistics.
type JourneyStat struct {
	Version int    `json:"version"`
	Step    string `json:"step,omitempty"`
	Metric  string `json:"metric"`
	Detail  string `json:"detail,omitempty"`
	Count   int64  `json:"count"`
}

// JourneyStats are a journey's counters, and how many enrolments are at
// each step now (metric "waiting" or "active" or "paused").
func (s *Store) JourneyStats(ctx context.Context, ref string) (Journey, []JourneyStat, error) {
	j, err := s.GetJourney(ctx, ref)
	if err != nil {
		return j, nil, err
	}
	out := []JourneyStat{}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT version, step, metric, detail, count FROM journey_stats WHERE journey_id = ?
		ORDER BY version, step, metric, detail`), j.ID)
	if err != nil {
		return j, nil, err
	}
	for rows.Next() {
		var st JourneyStat
		if err := rows.Scan(&st.Version, &st.Step, &st.Metric, &st.Detail, &st.Count); err != nil {
			rows.Close()
			return j, nil, err
		}
		out = append(out, st)
	}
	rows.Close()
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT version, COALESCE(step, ''), status, COUNT(*) FROM enrolments
		WHERE journey_id = ? AND status IN ('active', 'waiting', 'paused') GROUP BY version, step, status ORDER BY version, 2, status`), j.ID)
	if err != nil {
		return j, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var st JourneyStat
		if err := rows.Scan(&st.Version, &st.Step, &st.Metric, &st.Count); err != nil {
			return j, nil, err
		}
		st.Metric = "now_" + st.Metric
		out = append(out, st)
	}
	return j, out, rows.Err()
}

// dateSweepKey is the settings key of how far a date trigger was swept.
func dateSweepKey(journeyID int64) string {
	return "journey_date_sweep:" + strconv.FormatInt(journeyID, 10)
}

// maxDateCatchUp bounds how far back a sweep looks after the workers were
// stopped: dates that fell longer ago than this do not enrol anyone.
const maxDateCatchUp = 7 * 24 * time.Hour

// RunDateTriggers enrols the contacts whose date triggers fell since the
// last sweep (the first sweep of a journey only notes the time: dates
// that fell before a journey existed enrol no one). It reports how many
// contacts entered. Several nodes may run it: each journey's sweep mark
// is locked while it moves.
func (s *Store) RunDateTriggers(ctx context.Context) (int, error) {
	var n int
	err := s.writer.do1(func(t *tx) error {
		n = 0
		cat, err := t.journeys()
		if err != nil {
			return err
		}
		now := t.s.now()
		for _, lj := range cat.list {
			if lj.status != JourneyLive || lj.j.Doc.Trigger.Date == nil {
				continue
			}
			k, err := t.sweepDates(lj, now)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}

func (t *tx) sweepDates(lj *liveJourney, now time.Time) (int, error) {
	key := dateSweepKey(lj.id)
	var mark string
	err := t.queryRow("SELECT value FROM settings WHERE key = ?"+t.s.d.forUpdate, key).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		_, err := t.exec("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, strconv.FormatInt(ms(now), 10))
		return 0, err
	} else if err != nil {
		return 0, err
	}
	fromMs, _ := strconv.ParseInt(mark, 10, 64)
	from := fromMS(fromMs)
	if !from.Before(now) {
		return 0, nil
	}
	if from.Before(now.Add(-maxDateCatchUp)) {
		from = now.Add(-maxDateCatchUp)
	}
	j := lj.j
	d := j.Doc.Trigger.Date
	value := "substr(json_extract(custom_fields, ?), 1, 10)"
	path := "$." + d.Field
	if t.s.d.name == "postgres" {
		value, path = "substr(custom_fields::jsonb ->> ?, 1, 10)", d.Field
	}
	lo, hi := j.DateWindow(from, now)
	cond := value + " BETWEEN ? AND ?"
	args := []any{path, path, lo, hi}
	if d.Yearly {
		md := "substr(" + value + ", 6, 5)"
		switch {
		case now.Sub(from) > 300*24*time.Hour:
			cond, args = value+" IS NOT NULL", []any{path, path}
		case lo[5:] <= hi[5:]:
			cond, args = md+" BETWEEN ? AND ?", []any{path, path, lo[5:], hi[5:]}
		default: // the window spans the new year
			cond, args = "("+md+" >= ? OR "+md+" <= ?)", []any{path, path, lo[5:], path, hi[5:]}
		}
	}
	rows, err := t.query("SELECT id, "+value+" FROM contacts WHERE erased_at IS NULL AND custom_fields IS NOT NULL AND "+cond+" ORDER BY id", args...)
	if err != nil {
		return 0, err
	}
	type cand struct {
		id    int64
		value string
	}
	var cands []cand
	for rows.Next() {
		var c cand
		var v sql.NullString
		if err := rows.Scan(&c.id, &v); err != nil {
			rows.Close()
			return 0, err
		}
		c.value = v.String
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	ids := make([]int64, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	contacts, err := t.lockContacts(ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, cd := range cands {
		c := contacts[cd.id]
		if c == nil || !j.DateDue(c, cd.value, from, now) || !j.WhereHolds(c) {
			continue
		}
		if _, err := t.enrol(lj, c, now); err != nil {
			var ne *ErrNotEnrolled
			if errors.As(err, &ne) {
				continue
			}
			return n, err
		}
		n++
	}
	_, err = t.exec("UPDATE settings SET value = ? WHERE key = ?", strconv.FormatInt(ms(now), 10), key)
	return n, err
}
