package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/segment"
)

// Segment membership is kept exact in the write path: each event (and each
// field, score or consent change) updates the contact's behaviour state and
// evaluates again only the segments that read what changed, in the same
// transaction. Conditions that change with time alone (an event leaving a
// 14-day window) arm a durable timer at the exact moment.

const (
	timerSegment    = "segment"
	jobSegmentBuild = "segment_build"
	segmentSource   = "segments"
)

// segRow is a contact's segment_state row.
type segRow struct {
	segment.State
	Due int64 `json:"due,omitempty"` // the segment timer as armed, unix ms
	// In is the segments the contact is in (ids, ascending): the same as its
	// segment_members rows, written with them, so that evaluating reads no
	// more than this row. Segment ids are never reused.
	In []int64 `json:"in,omitempty"`
}

func (t *tx) loadSegRow(id int64) (segRow, error) {
	var row segRow
	var raw string
	err := t.queryRow("SELECT state FROM segment_state WHERE contact_id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return row, nil
	}
	if err != nil {
		return row, err
	}
	if err := json.Unmarshal([]byte(raw), &row); err != nil {
		return row, fmt.Errorf("decode segment state of contact %d: %w", id, err)
	}
	return row, nil
}

func (t *tx) saveSegRow(id int64, row *segRow) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO segment_state (contact_id, state) VALUES (?, ?)
		ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state`, id, string(b))
	return err
}

// changedFields reads what an event says changed, as segment rules name
// fields; all reports a new contact (every segment applies).
func changedFields(ev score.Event, scoresChanged bool, scores []string) (fields []string, all bool) {
	switch ev.Type {
	case event.LeadCreated:
		return nil, true
	case event.FieldChanged:
		var p struct {
			Changes []struct{ Field string } `json:"changes"`
		}
		_ = json.Unmarshal(ev.Properties, &p)
		for _, c := range p.Changes {
			f := c.Field
			if f == "custom_fields" {
				return nil, true // which keys is not said: any custom field may have changed
			}
			fields = append(fields, f)
		}
	case event.ConsentChanged:
		for _, ch := range contact.ConsentChannels {
			fields = append(fields, "consent."+ch)
		}
	}
	if scoresChanged {
		// Scoring may also have moved the band's tags and the lifecycle.
		for _, s := range scores {
			fields = append(fields, "score."+s)
		}
		fields = append(fields, "tags", "lifecycle")
	}
	return fields, false
}

// segmentEvent keeps the contact's segments right after an event.
func (t *tx) segmentEvent(id int64, ev score.Event, c *contact.Contact, scoresChanged bool) error {
	cat, err := t.segments()
	if err != nil || cat.empty() {
		return err
	}
	fields, all := changedFields(ev, scoresChanged, t.s.scoreNames())
	tracks := cat.cat.Tracks(ev.Type)
	var todo []int
	if all {
		todo = cat.cat.All()
	} else {
		todo = cat.cat.Affected("", fields)
	}
	if !tracks && len(todo) == 0 {
		return nil
	}
	row, err := t.loadSegRow(id)
	if err != nil {
		return err
	}
	observed := false
	if tracks {
		var props map[string]any
		if len(ev.Properties) > 0 {
			_ = json.Unmarshal(ev.Properties, &props)
		}
		observed = cat.cat.Observe(&row.State, segment.Event{Type: ev.Type, At: ev.At, Properties: props}, t.s.now())
		if observed && !all {
			todo = cat.cat.Affected(ev.Type, fields)
		}
	}
	return t.evaluateSegments(id, cat, todo, &row, observed, c)
}

// evaluateSegments evaluates todo for a contact, writes the membership
// changes with their events, re-arms the contact's segment timer, and saves
// the behaviour state when it changed.
func (t *tx) evaluateSegments(id int64, cat *segCatalog, todo []int, row *segRow, rowChanged bool, c *contact.Contact) error {
	now := t.s.now()
	if len(todo) > 0 {
		if c == nil || t.stale == id {
			cc, err := t.lockContactWith(id, "")
			if err != nil {
				return err
			}
			c = &cc
		}
		facts, members, err := t.segmentFacts(id, cat, c, row)
		if err != nil {
			return err
		}
		skip, err := t.segmentSkip(id, cat)
		if err != nil {
			return err
		}
		for _, ch := range cat.cat.EvaluateSkipping(todo, facts, members, now, skip) {
			if err := t.writeMembership(id, cat, ch, now, row); err != nil {
				return err
			}
			rowChanged = true
		}
	}
	var due int64
	if next := cat.cat.NextChange(&row.State, now); !next.IsZero() {
		due = next.UnixMilli()
	}
	if due != row.Due {
		var err error
		if due == 0 {
			_, err = t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerSegment, id)
		} else {
			_, err = t.exec(`INSERT INTO timers (kind, contact_id, due_at) VALUES (?, ?, ?)
				ON CONFLICT (kind, contact_id) DO UPDATE SET due_at = excluded.due_at`, timerSegment, id, due)
		}
		if err != nil {
			return err
		}
		row.Due, rowChanged = due, true
	}
	if rowChanged {
		// Deleted segments leave the list when the row is next written.
		row.In = slices.DeleteFunc(row.In, func(sid int64) bool { _, ok := cat.names[sid]; return !ok })
		return t.saveSegRow(id, row)
	}
	return nil
}

// segmentFacts gathers what rules read of a contact.
func (t *tx) segmentFacts(id int64, cat *segCatalog, c *contact.Contact, row *segRow) (*segment.Facts, map[string]bool, error) {
	st, err := t.scoreState(id)
	if err != nil {
		return nil, nil, err
	}
	f := &segment.Facts{Contact: c, Scores: st.Values, Behaviour: &row.State}
	if cat.consents {
		ledger, err := t.consentLedger(id)
		if err != nil {
			return nil, nil, err
		}
		f.Consents = map[string]string{}
		for _, cs := range contact.CurrentConsents(ledger) {
			if cs.Purpose == "marketing" {
				f.Consents[cs.Channel] = cs.Status
			}
		}
	}
	return f, memberships(row, cat), nil
}

func memberships(row *segRow, cat *segCatalog) map[string]bool {
	members := make(map[string]bool, len(row.In))
	for _, sid := range row.In {
		if n, ok := cat.names[sid]; ok {
			members[n] = true
		}
	}
	return members
}

// segmentSkip leaves out segments still being built past this contact: the
// build job evaluates them when it reaches it.
func (t *tx) segmentSkip(id int64, cat *segCatalog) (func(string) bool, error) {
	if len(cat.building) == 0 {
		return nil, nil
	}
	if t.segBuilt == nil {
		// One read per transaction; a build chunk that moves a cursor drops it.
		t.segBuilt = map[int64]int64{}
		rows, err := t.query("SELECT id, built_to FROM segments WHERE status = 'building'")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var sid, builtTo int64
			if err := rows.Scan(&sid, &builtTo); err != nil {
				rows.Close()
				return nil, err
			}
			t.segBuilt[sid] = builtTo
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return func(n string) bool {
		if !cat.building[n] || n == t.buildingSeg {
			return false
		}
		builtTo, building := t.segBuilt[cat.ids[n]]
		return building && id > builtTo
	}, nil
}

// writeMembership records that a contact entered or left a segment.
func (t *tx) writeMembership(id int64, cat *segCatalog, ch segment.Change, now time.Time, row *segRow) error {
	sid := cat.ids[ch.Segment]
	i, in := slices.BinarySearch(row.In, sid)
	switch {
	case ch.Entered && !in:
		row.In = slices.Insert(row.In, i, sid)
	case !ch.Entered && in:
		row.In = slices.Delete(row.In, i, i+1)
	}
	typ := event.SegmentExited
	if ch.Entered {
		typ = event.SegmentEntered
		if _, err := t.exec("INSERT INTO segment_members (segment_id, contact_id, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			sid, id, ms(now)); err != nil {
			return err
		}
	} else if _, err := t.exec("DELETE FROM segment_members WHERE segment_id = ? AND contact_id = ?", sid, id); err != nil {
		return err
	}
	// Segments' own events feed neither scoring nor segments again.
	was := t.inEngine
	t.inEngine = true
	defer func() { t.inEngine = was }()
	return t.appendSystemEvent(id, typ, segmentSource, now, map[string]any{"segment": ch.Segment, "version": cat.versions[ch.Segment]})
}

// fireSegmentTimer evaluates a contact's segments when time alone may have
// changed them.
func (t *tx) fireSegmentTimer(id int64) error {
	c, err := t.lockContactWith(id, t.s.d.forUpdate)
	if errors.Is(err, contact.ErrNotFound) {
		_, err := t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerSegment, id)
		return err
	} else if err != nil {
		return err
	}
	t.lock(id)
	cat, err := t.segments()
	if err != nil {
		return err
	}
	row, err := t.loadSegRow(id)
	if err != nil {
		return err
	}
	row.Due = -1 // re-arm whatever was there
	return t.evaluateSegments(id, cat, cat.cat.All(), &row, true, &c)
}

// MemberPage is a page of a segment's members.
type MemberPage struct {
	Members []Member `json:"members"`
	Next    int64    `json:"next,omitempty" doc:"pass as after for the next page; absent on the last one"`
}

// Member is a contact in a segment.
type Member struct {
	ContactID int64     `json:"contact_id"`
	Since     time.Time `json:"since"`
}

// SegmentMembers lists a segment's members by contact id, after the cursor.
func (s *Store) SegmentMembers(ctx context.Context, name string, after int64, limit int) (MemberPage, error) {
	sg, err := s.GetSegment(ctx, name)
	if err != nil {
		return MemberPage{}, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT contact_id, since FROM segment_members WHERE segment_id = ? AND contact_id > ?
		ORDER BY contact_id LIMIT ?`), sg.ID, after, limit+1)
	if err != nil {
		return MemberPage{}, s.dbErr("read segment members", err)
	}
	defer rows.Close()
	page := MemberPage{Members: []Member{}}
	for rows.Next() {
		var m Member
		var since int64
		if err := rows.Scan(&m.ContactID, &since); err != nil {
			return page, s.dbErr("read segment members", err)
		}
		m.Since = fromMS(since)
		page.Members = append(page.Members, m)
	}
	if len(page.Members) > limit {
		page.Members = page.Members[:limit]
		page.Next = page.Members[limit-1].ContactID
	}
	return page, s.dbErr("read segment members", rows.Err())
}

// ContactSegment is a segment a contact is in.
type ContactSegment struct {
	Name  string    `json:"name"`
	Kind  string    `json:"kind"`
	Since time.Time `json:"since"`
}

// ContactSegments lists the segments a contact is in.
func (s *Store) ContactSegments(ctx context.Context, id int64) ([]ContactSegment, error) {
	if _, err := s.GetContact(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT s.name, s.kind, m.since FROM segment_members m JOIN segments s ON s.id = m.segment_id
		WHERE m.contact_id = ? ORDER BY s.name`), id)
	if err != nil {
		return nil, s.dbErr("read contact segments", err)
	}
	defer rows.Close()
	out := []ContactSegment{}
	for rows.Next() {
		var cs ContactSegment
		var since int64
		if err := rows.Scan(&cs.Name, &cs.Kind, &since); err != nil {
			return nil, s.dbErr("read contact segments", err)
		}
		cs.Since = fromMS(since)
		out = append(out, cs)
	}
	return out, s.dbErr("read contact segments", rows.Err())
}

// Segment build chunk sizes (see the rescore's).
const (
	segmentChunkSQLite   = 500
	segmentChunkPostgres = 100
)

// runSegmentBuild evaluates one segment for every contact, chunk by chunk,
// rebuilding from the event log the behaviour it reads.
func (s *Store) runSegmentBuild(ctx context.Context, j Job, params []byte, progress func(Job)) error {
	var p struct {
		Segment int64  `json:"segment"`
		Name    string `json:"name"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return fmt.Errorf("segment build job %d: %w", j.ID, err)
	}
	var cursor int64
	if err := s.r.QueryRowContext(ctx, s.q("SELECT cursor FROM jobs WHERE id = ?"), j.ID).Scan(&cursor); err != nil {
		return s.dbErr("read job", err)
	}
	chunk := segmentChunkSQLite
	if s.d.name == "postgres" {
		chunk = segmentChunkPostgres
	}
	for {
		if ctx.Err() != nil {
			return s.writer.do1(func(t *tx) error {
				_, err := t.exec("UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'running'", j.ID)
				return err
			})
		}
		start := j
		var next Job
		var nextCursor int64
		var done bool
		err := s.writer.do1(func(t *tx) error {
			next, nextCursor, done = start, cursor, false
			now := t.s.now()
			var version int
			err := t.queryRow("SELECT version FROM segments WHERE id = ?", p.Segment).Scan(&version)
			if errors.Is(err, sql.ErrNoRows) || err == nil && version != p.Version {
				next.Status, done = "superseded", true // deleted, or a newer version's build does it
				_, err := t.exec("UPDATE jobs SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?", next.Status, ms(now), ms(now), j.ID)
				return err
			}
			if err != nil {
				return err
			}
			last, n, err := t.buildSegmentChunk(p.Name, cursor, chunk, now)
			if err != nil {
				return err
			}
			next.Done += int64(n)
			next.UpdatedAt = now
			nextCursor = last
			if _, err := t.exec("UPDATE segments SET built_to = ? WHERE id = ?", last, p.Segment); err != nil {
				return err
			}
			t.segBuilt = nil
			if n < chunk {
				next.Status, done = "done", true
				next.Total = next.Done
				next.FinishedAt = &now
				if _, err := t.exec("UPDATE segments SET status = 'ready' WHERE id = ?", p.Segment); err != nil {
					return err
				}
				if err := t.bumpSegments(); err != nil {
					return err
				}
				_, err = t.exec("UPDATE jobs SET status = 'done', cursor = ?, done = ?, total = ?, updated_at = ?, finished_at = ? WHERE id = ?",
					last, next.Done, next.Done, ms(now), ms(now), j.ID)
				return err
			}
			next.Total = max(next.Total, next.Done)
			_, err = t.exec("UPDATE jobs SET cursor = ?, done = ?, total = ?, updated_at = ? WHERE id = ?", last, next.Done, next.Total, ms(now), j.ID)
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
			return fmt.Errorf("segment build job %d: %w", j.ID, err)
		}
		if progress != nil {
			progress(j)
		}
		if done {
			return nil
		}
	}
}

// buildSegmentChunk evaluates a segment (and the segments that read it) for
// the contacts after the cursor.
func (t *tx) buildSegmentChunk(name string, after int64, limit int, now time.Time) (int64, int, error) {
	cat, err := t.segments()
	if err != nil {
		return 0, 0, err
	}
	def, ok := cat.cat.Get(name)
	if !ok {
		return after, 0, fmt.Errorf("segment %s does not compile", name)
	}
	lock := ""
	if t.s.d.name == "postgres" {
		lock = t.s.d.forUpdate
	}
	if err := t.flushScores(); err != nil {
		return 0, 0, err
	}
	rows, err := t.query("SELECT "+contactColumns+" FROM contacts WHERE id > ? AND erased_at IS NULL ORDER BY id LIMIT ?"+lock, after, limit)
	if err != nil {
		return 0, 0, err
	}
	var contacts []contact.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			rows.Close()
			return 0, 0, err
		}
		contacts = append(contacts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(contacts) == 0 {
		return after, 0, err
	}
	last := contacts[len(contacts)-1].ID
	for _, c := range contacts {
		t.lock(c.ID)
	}
	// The behaviour the segment reads, from the log.
	types := def.Compiled.Events
	events, err := readSegmentEvents(t.query, types, after, last)
	if err != nil {
		return 0, 0, err
	}
	todo := []int{cat.cat.Index(name)}
	t.buildingSeg = name
	defer func() { t.buildingSeg = "" }()
	for i := range contacts {
		c := &contacts[i]
		row, err := t.loadSegRow(c.ID)
		if err != nil {
			return 0, 0, err
		}
		var fresh segment.State
		for _, e := range events[c.ID] {
			cat.cat.Observe(&fresh, e, now)
		}
		changed := false
		for key := range row.Times {
			for _, ty := range types {
				if segment.KeysOf(key, ty) {
					delete(row.Times, key)
					changed = true
				}
			}
		}
		for key, times := range fresh.Times {
			if row.Times == nil {
				row.Times = map[string][]int64{}
			}
			row.Times[key] = times
			changed = true
		}
		if err := t.evaluateSegments(c.ID, cat, todo, &row, changed, c); err != nil {
			return 0, 0, err
		}
	}
	return last, len(contacts), nil
}

// ErrNotAList is returned for member changes on a dynamic segment.
var ErrNotAList = errors.New("a dynamic segment's members follow its rule; only static lists take members")

// ListChange is the outcome of adding or removing list members.
type ListChange struct {
	Changed   int     `json:"changed" doc:"contacts that entered or left"`
	Unchanged int     `json:"unchanged" doc:"contacts already in (or already out of) the list"`
	Unknown   []int64 `json:"unknown,omitempty" doc:"ids of no live contact"`
}

// ChangeList adds contacts to a static list (or removes them), with the
// segment_entered/exited events, and evaluates the segments that read it.
func (s *Store) ChangeList(ctx context.Context, name string, ids []int64, add bool) (ListChange, error) {
	var out ListChange
	err := s.writer.do1(func(t *tx) error {
		out = ListChange{}
		cat, err := t.segments()
		if err != nil {
			return err
		}
		sid, ok := cat.ids[name]
		if !ok {
			return ErrSegmentNotFound
		}
		if _, dynamic := cat.cat.Get(name); dynamic {
			return ErrNotAList
		}
		var kind string
		if err := t.queryRow("SELECT kind FROM segments WHERE id = ?", sid).Scan(&kind); err != nil {
			return err
		}
		if kind != segment.KindStatic {
			return ErrNotAList
		}
		now := t.s.now()
		for _, id := range ids {
			c, err := t.lockContactWith(id, t.s.d.forUpdate)
			if errors.Is(err, contact.ErrNotFound) {
				out.Unknown = append(out.Unknown, id)
				continue
			}
			if err != nil {
				return err
			}
			row, err := t.loadSegRow(id)
			if err != nil {
				return err
			}
			if memberships(&row, cat)[name] == add {
				out.Unchanged++
				continue
			}
			if err := t.writeMembership(id, cat, segment.Change{Segment: name, Entered: add}, now, &row); err != nil {
				return err
			}
			out.Changed++
			if err := t.evaluateSegments(id, cat, cat.cat.ReadersOf(name), &row, true, &c); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Preview is what a draft rule would select now.
type Preview struct {
	Count    int64   `json:"count"`
	Contacts int64   `json:"contacts" doc:"live contacts looked at"`
	Sample   []int64 `json:"sample" doc:"ids of some matching contacts, lowest first"`
}

// PreviewSegment evaluates a draft rule over every live contact, from the
// event log, without saving anything.
func (s *Store) PreviewSegment(ctx context.Context, in segment.Input, sample int) (Preview, error) {
	q := func(query string, args ...any) (*sql.Rows, error) { return s.r.QueryContext(ctx, s.q(query), args...) }
	existing, err := readSegments(q, "")
	if err != nil {
		return Preview{}, s.dbErr("read segments", err)
	}
	var names []string
	ids := map[string]int64{}
	for _, sg := range existing {
		names = append(names, sg.Name)
		ids[sg.Name] = sg.ID
	}
	if _, err := s.Rules(ctx); err != nil {
		return Preview{}, err
	}
	comp, err := in.Compile(segment.Options{Scores: s.scoreNames(), Segments: names})
	if err != nil {
		return Preview{}, err
	}
	// The draft's name cannot be a segment's (names are slugs), so a
	// reference to any saved segment is not read as a cycle.
	cat, err := segment.NewCatalog([]segment.Def{{Name: " draft", Compiled: comp}})
	if err != nil {
		return Preview{}, err
	}
	out := Preview{Sample: []int64{}}
	now := s.now()
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		contacts, err := readContactChunk(q, after, 2000)
		if err != nil || len(contacts) == 0 {
			return out, s.dbErr("preview", err)
		}
		last := contacts[len(contacts)-1].ID
		events, err := readSegmentEvents(q, comp.Events, after, last)
		if err != nil {
			return out, s.dbErr("preview", err)
		}
		scores, err := readScoreValues(q, after, last)
		if err != nil {
			return out, s.dbErr("preview", err)
		}
		memberOf, err := readMemberships(q, ids, comp.Segments, after, last)
		if err != nil {
			return out, s.dbErr("preview", err)
		}
		for i := range contacts {
			c := &contacts[i]
			var st segment.State
			for _, e := range events[c.ID] {
				cat.Observe(&st, e, now)
			}
			f := &segment.Facts{Contact: c, Scores: scores[c.ID], Behaviour: &st,
				Member: func(n string) bool { return memberOf[c.ID][n] }}
			if needsConsents(comp) {
				ledger, err := s.consentsOf(ctx, c.ID)
				if err != nil {
					return out, err
				}
				f.Consents = ledger
			}
			if comp.Match(f, now) {
				out.Count++
				if len(out.Sample) < sample {
					out.Sample = append(out.Sample, c.ID)
				}
			}
		}
		out.Contacts += int64(len(contacts))
		after = last
	}
}

func needsConsents(c *segment.Compiled) bool {
	for _, f := range c.Fields {
		if strings.HasPrefix(f, "consent.") {
			return true
		}
	}
	return false
}

func (s *Store) consentsOf(ctx context.Context, id int64) (map[string]string, error) {
	current, _, err := s.Consents(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, cs := range current {
		if cs.Purpose == "marketing" {
			out[cs.Channel] = cs.Status
		}
	}
	return out, nil
}

func readContactChunk(q rowsQuerier, after int64, limit int) ([]contact.Contact, error) {
	rows, err := q("SELECT "+contactColumns+" FROM contacts WHERE id > ? AND erased_at IS NULL ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []contact.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// readSegmentEvents reads the events of some types of the contacts in (after, last].
func readSegmentEvents(q rowsQuerier, types []string, after, last int64) (map[int64][]segment.Event, error) {
	out := map[int64][]segment.Event{}
	if len(types) == 0 {
		return out, nil
	}
	args := []any{after, last}
	for _, ty := range types {
		args = append(args, ty)
	}
	rows, err := q(`SELECT contact_id, type, occurred_at, properties FROM events
		WHERE contact_id > ? AND contact_id <= ? AND type IN (?`+strings.Repeat(", ?", len(types)-1)+`) ORDER BY contact_id, occurred_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var cid, at int64
		var e segment.Event
		var props sql.NullString
		if err := rows.Scan(&cid, &e.Type, &at, &props); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if props.Valid {
			_ = json.Unmarshal([]byte(props.String), &e.Properties)
		}
		out[cid] = append(out[cid], e)
	}
	return out, rows.Err()
}

func readScoreValues(q rowsQuerier, after, last int64) (map[int64]map[string]int, error) {
	st, err := loadStored(q, after, last)
	return st.values, err
}

// readMemberships reads which of the named segments the contacts in (after, last] are in.
func readMemberships(q rowsQuerier, ids map[string]int64, names []string, after, last int64) (map[int64]map[string]bool, error) {
	out := map[int64]map[string]bool{}
	for _, n := range names {
		rows, err := q("SELECT contact_id FROM segment_members WHERE segment_id = ? AND contact_id > ? AND contact_id <= ?", ids[n], after, last)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if out[id] == nil {
				out[id] = map[string]bool{}
			}
			out[id][n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ContactIDsByEmail maps normalised emails to live contacts' ids; unknown
// emails are left out.
func (s *Store) ContactIDsByEmail(ctx context.Context, emails []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, e := range emails {
		var id int64
		err := s.r.QueryRowContext(ctx, s.q("SELECT id FROM contacts WHERE email = ? AND erased_at IS NULL"), e).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, s.dbErr("find contacts by email", err)
		}
		out[e] = id
	}
	return out, nil
}
