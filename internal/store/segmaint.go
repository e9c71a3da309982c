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
	// Epoch is the key epoch the row was last completed at (segkeys.go).
	Epoch int64 `json:"e,omitempty"`
	// missing: no row is stored yet.
	missing bool
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
	// This event is observed below: completing reads the log before it.
	changed, err := t.completeSegRow(id, cat, &row, ev.ID)
	if err != nil {
		return err
	}
	if tracks {
		var props map[string]any
		if len(ev.Properties) > 0 {
			props = score.DecodeProperties(ev.Properties)
		}
		observed := cat.cat.Observe(&row.State, segment.Event{Type: ev.Type, At: ev.At, Properties: props}, t.s.now())
		if observed && !all {
			todo = cat.cat.Affected(ev.Type, fields)
		}
		changed = changed || observed
	}
	return t.evaluateSegments(id, cat, todo, &row, changed, c)
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
		t.setSegmentTimer(id, due)
		row.Due, rowChanged = due, true
	}
	if rowChanged {
		// Deleted segments leave the list when the row is next written.
		row.In = slices.DeleteFunc(row.In, func(sid int64) bool { _, ok := cat.names[sid]; return !ok })
		t.saveSegRow(id, row)
	}
	return nil
}

// segmentFacts gathers what rules read of a contact.
func (t *tx) segmentFacts(id int64, cat *segCatalog, c *contact.Contact, row *segRow) (*segment.Facts, map[string]bool, error) {
	f := &segment.Facts{Contact: c, Behaviour: &row.State}
	if cat.scores {
		st, err := t.scoreState(id)
		if err != nil {
			return nil, nil, err
		}
		f.Scores = st.Values
	}
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
		if !cat.building[n] || t.building[n] {
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
		t.queueMember(sid, id, ms(now))
		t.signal(id, typ, now, map[string]any{"segment": ch.Segment})
	} else {
		t.queueMember(sid, id, 0)
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
		t.setSegmentTimer(id, 0)
		return nil
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
	if _, err := t.completeSegRow(id, cat, &row, 0); err != nil {
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

// A segment build covers the contact ids in spans: each span is one write
// transaction, short enough that ingest waits little between spans.
const (
	segmentSpanSQLite   = 5_000
	segmentSpanPostgres = 2_000
)

// runSegmentBuild evaluates the segments a save changed for every contact
// that may match one of them or is in one now, span by span, completing
// from the event log the behaviour they read. Progress is in contact ids:
// done is how far the build is, total the highest id when it last looked.
func (s *Store) runSegmentBuild(ctx context.Context, j Job, params []byte, progress func(Job)) error {
	var p struct {
		Segments    []buildTarget `json:"segments"`
		buildTarget               // jobs queued by earlier versions build one segment
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return fmt.Errorf("segment build job %d: %w", j.ID, err)
	}
	targets := p.Segments
	if len(targets) == 0 && p.Segment > 0 {
		targets = []buildTarget{p.buildTarget}
	}
	var cursor int64
	if err := s.r.QueryRowContext(ctx, s.q("SELECT cursor FROM jobs WHERE id = ?"), j.ID).Scan(&cursor); err != nil {
		return s.dbErr("read job", err)
	}
	span := int64(segmentSpanSQLite)
	if s.d.name == "postgres" {
		span = segmentSpanPostgres
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
		var nextTargets []buildTarget
		var done bool
		err := s.writer.do1(func(t *tx) error {
			next, nextCursor, nextTargets, done = start, cursor, nil, false
			now := t.s.now()
			// Segments deleted or changed since are built by a newer job, or not at all.
			for _, tg := range targets {
				var version int
				err := t.queryRow("SELECT version FROM segments WHERE id = ?", tg.Segment).Scan(&version)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if err == nil && version == tg.Version {
					nextTargets = append(nextTargets, tg)
				}
			}
			if len(nextTargets) == 0 {
				next.Status, done = "superseded", true
				_, err := t.exec("UPDATE jobs SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?", next.Status, ms(now), ms(now), j.ID)
				return err
			}
			var top int64
			if err := t.queryRow("SELECT COALESCE(MAX(id), 0) FROM contacts").Scan(&top); err != nil {
				return err
			}
			last := min(cursor+span, top)
			if err := t.buildSegmentSpan(nextTargets, cursor, last, now); err != nil {
				return err
			}
			next.Done, next.Total, next.UpdatedAt = last, top, now
			nextCursor = last
			for _, tg := range nextTargets {
				if _, err := t.exec("UPDATE segments SET built_to = ? WHERE id = ?", last, tg.Segment); err != nil {
					return err
				}
			}
			t.segBuilt = nil
			if last >= top {
				next.Status, done = "done", true
				next.FinishedAt = &now
				for _, tg := range nextTargets {
					if _, err := t.exec("UPDATE segments SET status = 'ready' WHERE id = ?", tg.Segment); err != nil {
						return err
					}
				}
				if err := t.bumpSegments(); err != nil {
					return err
				}
				_, err := t.exec("UPDATE jobs SET status = 'done', cursor = ?, done = ?, total = ?, updated_at = ?, finished_at = ? WHERE id = ?",
					last, last, top, ms(now), ms(now), j.ID)
				return err
			}
			_, err := t.exec("UPDATE jobs SET cursor = ?, done = ?, total = ?, updated_at = ? WHERE id = ?", last, last, top, ms(now), j.ID)
			return err
		})
		if err == nil {
			j, cursor, targets = next, nextCursor, nextTargets
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

// buildSegmentSpan evaluates segments (and the segments that read them)
// for the contacts with ids in (after, last] that may match one of them or
// are in one.
func (t *tx) buildSegmentSpan(targets []buildTarget, after, last int64, now time.Time) error {
	cat, err := t.segments()
	if err != nil {
		return err
	}
	var comps []*segment.Compiled
	var sids []int64
	var todo []int
	t.building = map[string]bool{}
	defer func() { t.building = nil }()
	for _, tg := range targets {
		def, ok := cat.cat.Get(tg.Name)
		if !ok {
			return fmt.Errorf("segment %s does not compile", tg.Name)
		}
		comps, sids = append(comps, def.Compiled), append(sids, tg.Segment)
		todo = append(todo, cat.cat.Index(tg.Name))
		t.building[tg.Name] = true
	}
	slices.Sort(todo) // dependency order
	if err := t.flushScores(); err != nil {
		return err
	}
	if t.s.d.name == "postgres" {
		// Every contact of the span, not only those read below: an event for
		// any of them waits for the span, then sees it built.
		if _, err := t.exec("SELECT id FROM contacts WHERE id > ? AND id <= ? ORDER BY id"+t.s.d.forUpdate, after, last); err != nil {
			return err
		}
	}
	filter, args := candidateFilter(t.s.d, comps, sids, after, last)
	where, whereArgs := "id > ? AND id <= ? AND erased_at IS NULL"+filter, append([]any{after, last}, args...)
	size := 256
	if filter == "" {
		size = int(last - after)
	}
	contacts, err := readContacts(t.query, cat.scan, where, whereArgs, size)
	if err != nil || len(contacts) == 0 {
		return err
	}
	// Rows and events of the contacts read only, when they are a few.
	var in string
	var inArgs []any
	if filter != "" {
		in, inArgs = " AND contact_id IN (SELECT id FROM contacts WHERE "+where+")", whereArgs
	}
	ids := make([]int64, len(contacts))
	for i := range contacts {
		ids[i] = contacts[i].ID
		t.lock(ids[i])
	}
	// One statement each for the span's rows, scores and events.
	if err := t.preloadSegRows(after, last, ids, in, inArgs); err != nil {
		return err
	}
	if cat.scores {
		if err := t.preloadScoreRange(after, last); err != nil {
			return err
		}
	}
	ke, err := t.keyEpochs(cat)
	if err != nil {
		return err
	}
	oldest := ke.max
	for _, id := range ids {
		oldest = min(oldest, t.segs.rows[id].Epoch)
	}
	var events map[int64][]segment.Event
	if keys := ke.since(oldest); len(keys) > 0 {
		if err := t.flushEvents(); err != nil {
			return err
		}
		if events, err = readBackfillEvents(t.query, t.s.d, cat.cat.Backfill(keys, now), after, last, 0, in, inArgs); err != nil {
			return err
		}
	}
	for i := range contacts {
		if i > 0 && i%1000 == 0 {
			// Write as it goes: a span may enter thousands of contacts in
			// dozens of segments, and memory stays bounded.
			if err := t.flushEvents(); err != nil {
				return err
			}
			if err := t.writeSegments(); err != nil {
				return err
			}
		}
		c := &contacts[i]
		row, err := t.loadSegRow(c.ID)
		if err != nil {
			return err
		}
		changed := false
		if row.Epoch < ke.max {
			row.rebuild(cat.cat, ke.since(row.Epoch), events[c.ID], now)
			row.Epoch, row.missing, changed = ke.max, false, true
		}
		if err := t.evaluateSegments(c.ID, cat, todo, &row, changed, c); err != nil {
			return err
		}
	}
	return nil
}

// candidateFilter is the SQL condition (with its arguments) that the
// contacts a build or preview must look at meet: those one of the rules
// may match (segment.Compiled.Necessary) and the members of the saved
// segments sids in (after, last]. Empty when every contact may match.
func candidateFilter(d dialect, comps []*segment.Compiled, sids []int64, after, last int64) (string, []any) {
	var b strings.Builder
	var args []any
	for i, c := range comps {
		cond, ok := c.Necessary()
		if !ok {
			return "", nil
		}
		if i > 0 {
			b.WriteString(" OR ")
		}
		renderCond(&b, &args, d, cond)
	}
	where := " AND (" + b.String()
	if len(sids) > 0 {
		where += " OR id IN (SELECT contact_id FROM segment_members WHERE segment_id IN (?" + strings.Repeat(", ?", len(sids)-1) + ") AND contact_id > ? AND contact_id <= ?)"
		for _, sid := range sids {
			args = append(args, sid)
		}
		args = append(args, after, last)
	}
	return where + ")", args
}

func renderCond(b *strings.Builder, args *[]any, d dialect, c segment.Cond) {
	ops := map[string]string{"eq": " = ", "lt": " < ", "le": " <= ", "gt": " > ", "ge": " >= "}
	switch c.Op {
	case "and", "or":
		b.WriteString("(")
		for i, k := range c.Of {
			if i > 0 {
				b.WriteString(" " + strings.ToUpper(c.Op) + " ")
			}
			renderCond(b, args, d, k)
		}
		b.WriteString(")")
	case "in":
		b.WriteString(c.Column + " IN (?" + strings.Repeat(", ?", len(c.Values)-1) + ")")
		*args = append(*args, c.Values...)
	case "has":
		// The tags' JSON text holds the tag as JSON writes it, unless it
		// escapes something: such text is looked at anyway.
		lit, _ := json.Marshal(c.Values[0])
		b.WriteString("(" + d.instr + "(tags, ?) > 0 OR " + d.instr + "(tags, ?) > 0)")
		*args = append(*args, string(lit), `\`)
	default:
		b.WriteString(c.Column + ops[c.Op] + "?")
		*args = append(*args, c.Values[0])
	}
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
			if _, err := t.completeSegRow(id, cat, &row, 0); err != nil {
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
	bf := cat.Backfill(cat.SegmentKeys(" draft"), now)
	scan := newContactScan(comp.Fields)
	var top int64
	if err := s.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0), COUNT(*) FROM contacts WHERE erased_at IS NULL").Scan(&top, &out.Contacts); err != nil {
		return out, s.dbErr("preview", err)
	}
	const span = 50_000
	for after := int64(0); after < top; after += span {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		last := min(after+span, top)
		filter, args := candidateFilter(s.d, []*segment.Compiled{comp}, nil, after, last)
		size := 256
		if filter == "" {
			size = int(last - after)
		}
		contacts, err := readContacts(q, scan, "id > ? AND id <= ? AND erased_at IS NULL"+filter, append([]any{after, last}, args...), size)
		if err != nil {
			return out, s.dbErr("preview", err)
		}
		if len(contacts) == 0 {
			continue
		}
		var in string
		var inArgs []any
		if filter != "" {
			in, inArgs = " AND contact_id IN (SELECT id FROM contacts WHERE id > ? AND id <= ? AND erased_at IS NULL"+filter+")", append([]any{after, last}, args...)
		}
		events, err := readBackfillEvents(q, s.d, bf, after, last, 0, in, inArgs)
		if err != nil {
			return out, s.dbErr("preview", err)
		}
		var scores map[int64]map[string]int
		if slices.ContainsFunc(comp.Fields, func(f string) bool { return strings.HasPrefix(f, "score.") }) {
			if scores, err = readScoreValues(q, after, last); err != nil {
				return out, s.dbErr("preview", err)
			}
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
	}
	return out, nil
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

// readContacts reads the contacts meeting where (a condition on contacts'
// columns, with its arguments), by id.
// size is how many to expect, for the slice's capacity.
func readContacts(q rowsQuerier, cs contactScan, where string, args []any, size int) ([]contact.Contact, error) {
	rows, err := q("SELECT "+cs.list+" FROM contacts WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]contact.Contact, 0, size)
	for rows.Next() {
		c, err := cs.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// readBackfillEvents reads the events of the contacts in (after, last]
// that a backfill may need, oldest first per contact. The filters of bf
// are applied in SQL, so most events that cannot matter are never read.
// When before is above 0, only events with smaller ids are read.
// in, when not empty, narrows the contacts ("AND contact_id IN (…)", with args).
func readBackfillEvents(q rowsQuerier, d dialect, bf segment.Backfill, after, last, before int64, in string, inArgs []any) (map[int64][]segment.Event, error) {
	out := map[int64][]segment.Event{}
	if len(bf.Types) == 0 {
		return out, nil
	}
	var where strings.Builder
	args := []any{after, last}
	for i, ty := range bf.Types {
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(type = ?")
		args = append(args, ty)
		if since, ok := bf.Since[ty]; ok {
			where.WriteString(" AND occurred_at >= ?")
			args = append(args, since)
		}
		if lits, ok := bf.Contains[ty]; ok {
			where.WriteString(" AND (" + d.instr + "(properties, ?) > 0")
			args = append(args, `\`) // an escape: the text may hide a literal
			for _, l := range lits {
				where.WriteString(" OR " + d.instr + "(properties, ?) > 0")
				args = append(args, l)
			}
			where.WriteString(")")
		}
		where.WriteString(")")
	}
	bound := ""
	if before > 0 {
		bound = " AND id < ?"
		args = slices.Insert(args, 2, any(before))
	}
	// What scoring writes for a band (its event, tags, task) is written
	// without being observed as it happens (see cross): the log is read the
	// same way. A rescore's score_changed is observed, and read.
	rows, err := q(`SELECT contact_id, type, occurred_at, properties FROM events
		WHERE contact_id > ? AND contact_id <= ?`+bound+` AND (source <> '`+scoringSource+`' OR type = '`+event.ScoreChanged+`')
		AND source <> '`+segmentSource+`' AND (`+where.String()+`)`+in+` ORDER BY contact_id, occurred_at, id`, append(args, inArgs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var props []byte
	for rows.Next() {
		var cid, at int64
		var e segment.Event
		if err := rows.Scan(&cid, &e.Type, &at, &props); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if len(props) > 0 {
			e.Properties = score.DecodeProperties(props)
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
