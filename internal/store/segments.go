package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/segment"
)

// ErrSegmentNotFound means no segment has that name.
var ErrSegmentNotFound = errors.New("segment not found")

// Segment is a segment as stored.
type Segment struct {
	ID          int64         `json:"id"`
	Name        string        `json:"name"`
	Kind        string        `json:"kind" enum:"dynamic,static"`
	Description string        `json:"description,omitempty"`
	Rule        *segment.Rule `json:"rule,omitempty" doc:"the JSON form of the rule"`
	Text        string        `json:"text,omitempty" doc:"the rule's text form"`
	Version     int           `json:"version"`
	Status      string        `json:"status" enum:"building,ready" doc:"a dynamic segment is built in the background after a change"`
	Members     int64         `json:"members"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	builtTo     int64
}

// segmentsGenKey is the settings row every segment change bumps, so that
// every node reloads its catalog.
const segmentsGenKey = "segments_generation"

// segmentsCache holds the compiled dynamic segments in force.
type segmentsCache struct {
	mu  sync.Mutex
	gen int64
	cur *segCatalog
}

// segCatalog is the segments as the write path uses them.
type segCatalog struct {
	gen      int64
	cat      *segment.Catalog
	ids      map[string]int64 // every segment, dynamic or static
	names    map[int64]string // ids reversed
	versions map[string]int
	building map[string]bool
	consents bool // some rule reads consent.*
	scores   bool // some rule reads score.*
	// scan reads contacts as builds need them: only what rules read.
	scan contactScan
	// epochs is its behaviour keys' epochs, once known (segkeys.go).
	epochs catalogEpochs
}

func (c *segCatalog) empty() bool { return c == nil || len(c.cat.Defs()) == 0 }

// segments returns the catalog in force for this transaction (one read of
// the generation per transaction).
func (t *tx) segments() (*segCatalog, error) {
	if t.segRead != nil {
		return t.segRead, nil
	}
	if err := t.readVersions(); err != nil {
		return nil, err
	}
	c, err := t.s.loadSegments(t.ctx, t.segGen, func(q string, args ...any) (*sql.Rows, error) { return t.query(q, args...) })
	if err != nil {
		return nil, err
	}
	t.segRead = c
	return c, nil
}

func (s *Store) loadSegments(ctx context.Context, gen int64, q rowsQuerier) (*segCatalog, error) {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	if s.segs.cur != nil && s.segs.cur.gen == gen {
		return s.segs.cur, nil
	}
	list, err := readSegments(q, "")
	if err != nil {
		return nil, err
	}
	c, err := s.compileSegments(list)
	if err != nil {
		return nil, err
	}
	c.gen = gen
	s.segs.cur = c
	return c, nil
}

// compileSegments builds the catalog of the stored segments. A stored rule
// that no longer compiles (a score it read was removed) is left out and
// logged: it can match nobody until it is fixed.
func (s *Store) compileSegments(list []Segment) (*segCatalog, error) {
	c := &segCatalog{ids: map[string]int64{}, names: map[int64]string{}, versions: map[string]int{}, building: map[string]bool{}}
	names := make([]string, 0, len(list))
	for _, sg := range list {
		c.ids[sg.Name], c.versions[sg.Name], c.names[sg.ID] = sg.ID, sg.Version, sg.Name
		names = append(names, sg.Name)
	}
	scores := s.scoreNames()
	var defs []segment.Def
	var fields []string
	for _, sg := range list {
		if sg.Kind != segment.KindDynamic || sg.Rule == nil {
			continue
		}
		comp, err := segment.Compile(sg.Rule, segment.Options{Scores: scores, Segments: names})
		if err != nil {
			s.log.Warn("stored segment rule does not compile; it matches nobody", "segment", sg.Name, "err", err)
			continue
		}
		fields = append(fields, comp.Fields...)
		for _, f := range comp.Fields {
			if strings.HasPrefix(f, "consent.") {
				c.consents = true
			}
			if strings.HasPrefix(f, "score.") {
				c.scores = true
			}
		}
		if sg.Status == "building" {
			c.building[sg.Name] = true
		}
		defs = append(defs, segment.Def{Name: sg.Name, Compiled: comp})
	}
	cat, err := segment.NewCatalog(defs)
	if err != nil {
		return nil, fmt.Errorf("stored segments: %w", err)
	}
	c.cat = cat
	c.scan = newContactScan(fields)
	return c, nil
}

// scoreNames are the scores of the rules in force.
func (s *Store) scoreNames() []string {
	if r := s.rules.cur.Load(); r != nil {
		return r.Scores()
	}
	return nil
}

const segmentColumns = "id, name, kind, description, rule, version, status, built_to, created_at, updated_at"

func scanSegment(row scanner) (Segment, error) {
	var sg Segment
	var desc, rule sql.NullString
	var created, updated int64
	if err := row.Scan(&sg.ID, &sg.Name, &sg.Kind, &desc, &rule, &sg.Version, &sg.Status, &sg.builtTo, &created, &updated); err != nil {
		return sg, err
	}
	sg.Description, sg.CreatedAt, sg.UpdatedAt = desc.String, fromMS(created), fromMS(updated)
	if rule.Valid {
		var r segment.Rule
		if err := json.Unmarshal([]byte(rule.String), &r); err != nil {
			return sg, fmt.Errorf("stored rule of segment %s: %w", sg.Name, err)
		}
		sg.Rule, sg.Text = &r, segment.Text(&r)
	}
	return sg, nil
}

func readSegments(q rowsQuerier, where string, args ...any) ([]Segment, error) {
	rows, err := q("SELECT "+segmentColumns+" FROM segments "+where+" ORDER BY name", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Segment
	for rows.Next() {
		sg, err := scanSegment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sg)
	}
	return out, rows.Err()
}

// Segments lists every segment with its member count.
func (s *Store) Segments(ctx context.Context) ([]Segment, error) {
	q := func(query string, args ...any) (*sql.Rows, error) { return s.r.QueryContext(ctx, s.q(query), args...) }
	list, err := readSegments(q, "")
	if err != nil {
		return nil, s.dbErr("list segments", err)
	}
	counts := map[int64]int64{}
	rows, err := s.r.QueryContext(ctx, "SELECT segment_id, COUNT(*) FROM segment_members GROUP BY segment_id")
	if err != nil {
		return nil, s.dbErr("count segment members", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, s.dbErr("count segment members", err)
		}
		counts[id] = n
	}
	for i := range list {
		list[i].Members = counts[list[i].ID]
	}
	if list == nil {
		list = []Segment{}
	}
	return list, rows.Err()
}

// GetSegment returns one segment by name.
func (s *Store) GetSegment(ctx context.Context, name string) (Segment, error) {
	sg, err := scanSegment(s.r.QueryRowContext(ctx, s.q("SELECT "+segmentColumns+" FROM segments WHERE name = ?"), name))
	if errors.Is(err, sql.ErrNoRows) {
		return sg, ErrSegmentNotFound
	}
	if err != nil {
		return sg, s.dbErr("read segment", err)
	}
	err = s.r.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM segment_members WHERE segment_id = ?"), sg.ID).Scan(&sg.Members)
	return sg, s.dbErr("count segment members", err)
}

// SegmentVersion is one stored version of a segment's definition.
type SegmentVersion struct {
	Version     int           `json:"version"`
	Description string        `json:"description,omitempty"`
	Rule        *segment.Rule `json:"rule,omitempty"`
	Text        string        `json:"text,omitempty"`
	CreatedBy   string        `json:"created_by,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
}

// SegmentVersions lists a segment's versions, newest first.
func (s *Store) SegmentVersions(ctx context.Context, name string) ([]SegmentVersion, error) {
	sg, err := s.GetSegment(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT version, description, rule, created_by, created_at FROM segment_versions
		WHERE segment_id = ? ORDER BY version DESC`), sg.ID)
	if err != nil {
		return nil, s.dbErr("read segment versions", err)
	}
	defer rows.Close()
	out := []SegmentVersion{}
	for rows.Next() {
		var v SegmentVersion
		var desc, rule, by sql.NullString
		var at int64
		if err := rows.Scan(&v.Version, &desc, &rule, &by, &at); err != nil {
			return nil, s.dbErr("read segment versions", err)
		}
		v.Description, v.CreatedBy, v.CreatedAt = desc.String, by.String, fromMS(at)
		if rule.Valid {
			var r segment.Rule
			if json.Unmarshal([]byte(rule.String), &r) == nil {
				v.Rule, v.Text = &r, segment.Text(&r)
			}
		}
		out = append(out, v)
	}
	return out, s.dbErr("read segment versions", rows.Err())
}

// SaveSegmentsParams are segments to create or change, checked together.
type SaveSegmentsParams struct {
	Document segment.Document
	By       string
	// New refuses (ErrSegmentExists) to change a segment already stored.
	New bool
}

// ErrSegmentExists is returned by a save of new segments when one exists.
var ErrSegmentExists = errors.New("segment exists")

// SavedSegment is the outcome for one segment of a save.
type SavedSegment struct {
	Segment Segment `json:"segment"`
	Changed bool    `json:"changed" doc:"false when the definition was already the one in force"`
	Job     *Job    `json:"job,omitempty" doc:"the background build of a new or changed dynamic segment"`
}

// SaveSegments validates the document against the segments already stored
// and, if every segment is right, stores a new version of each one that
// changed and queues a build for each changed dynamic segment. Nothing is
// saved when any problem is found (a *segment.Error lists them).
func (s *Store) SaveSegments(ctx context.Context, p SaveSegmentsParams) ([]SavedSegment, error) {
	var out []SavedSegment
	err := s.writer.do1(func(t *tx) error {
		out = out[:0]
		existing, err := readSegments(func(q string, args ...any) (*sql.Rows, error) { return t.query(q, args...) }, "")
		if err != nil {
			return err
		}
		byName := map[string]Segment{}
		var others []segment.Def
		cur, err := t.s.compileSegments(existing)
		if err != nil {
			return err
		}
		for _, sg := range existing {
			if p.New && slices.ContainsFunc(p.Document.Segments, func(sp segment.Spec) bool { return sp.Name == sg.Name }) {
				return fmt.Errorf("%w: %s", ErrSegmentExists, sg.Name)
			}
			byName[sg.Name] = sg
			if d, ok := cur.cat.Get(sg.Name); ok {
				others = append(others, d)
			} else if sg.Kind == segment.KindStatic {
				others = append(others, segment.Def{Name: sg.Name})
			}
		}
		if _, err := segment.CheckDocument(p.Document, t.s.scoreNames(), others); err != nil {
			return err
		}
		now := t.s.now()
		var builds []int // indexes in out of the dynamic segments to build
		for _, spec := range p.Document.Segments {
			kind := spec.Kind
			if kind == "" {
				kind = segment.KindDynamic
			}
			var ruleJSON any
			if kind == segment.KindDynamic {
				r := spec.Rule.Rule
				if r == nil {
					if r, err = segment.TextRule(spec.Rule.Text); err != nil {
						return err
					}
				}
				b, _ := json.Marshal(r)
				ruleJSON = string(b)
			}
			old, exists := byName[spec.Name]
			if exists && old.Kind != kind {
				return &segment.Error{Problems: []segment.Problem{{Path: "segments." + spec.Name + ".kind",
					Reason: "a segment's kind cannot change; create a segment with another name"}}}
			}
			if exists {
				oldRule, _ := json.Marshal(old.Rule)
				if old.Rule == nil {
					oldRule = nil
				}
				if (ruleJSON == nil && oldRule == nil || ruleJSON != nil && string(oldRule) == ruleJSON.(string)) && old.Description == spec.Description {
					out = append(out, SavedSegment{Segment: old})
					continue
				}
			}
			sg := Segment{Name: spec.Name, Kind: kind, Description: spec.Description, Version: 1, Status: "ready", CreatedAt: now, UpdatedAt: now}
			if kind == segment.KindDynamic {
				sg.Status = "building"
			}
			if exists {
				sg.ID, sg.Version, sg.CreatedAt = old.ID, old.Version+1, old.CreatedAt
				_, err = t.exec("UPDATE segments SET description = ?, rule = ?, version = ?, status = ?, built_to = 0, updated_at = ? WHERE id = ?",
					null(spec.Description), ruleJSON, sg.Version, sg.Status, ms(now), sg.ID)
			} else {
				err = t.queryRow(`INSERT INTO segments (name, kind, description, rule, version, status, built_to, created_at, updated_at)
					VALUES (?, ?, ?, ?, 1, ?, 0, ?, ?) RETURNING id`, sg.Name, kind, null(spec.Description), ruleJSON, sg.Status, ms(now), ms(now)).Scan(&sg.ID)
			}
			if err != nil {
				return err
			}
			if _, err := t.exec("INSERT INTO segment_versions (segment_id, version, description, rule, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				sg.ID, sg.Version, null(spec.Description), ruleJSON, null(p.By), ms(now)); err != nil {
				return err
			}
			if ruleJSON != nil {
				var r segment.Rule
				_ = json.Unmarshal([]byte(ruleJSON.(string)), &r)
				sg.Rule, sg.Text = &r, segment.Text(&r)
			}
			saved := SavedSegment{Segment: sg, Changed: true}
			if kind == segment.KindDynamic {
				builds = append(builds, len(out))
			}
			out = append(out, saved)
		}
		if len(builds) > 0 {
			// One build for all: each span of contacts is read once.
			var targets []buildTarget
			for _, i := range builds {
				sg := out[i].Segment
				targets = append(targets, buildTarget{Segment: sg.ID, Name: sg.Name, Version: sg.Version})
			}
			job, err := t.queueSegmentBuild(targets, now)
			if err != nil {
				return err
			}
			for _, i := range builds {
				out[i].Job = &job
			}
		}
		return t.bumpSegments()
	})
	return out, err
}

// bumpSegments makes every node reload its segments.
func (t *tx) bumpSegments() error {
	t.segRead, t.versionsRead = nil, false
	if _, err := t.exec(`INSERT INTO settings (key, value) VALUES ('` + segmentsGenKey + `', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`); err != nil {
		return err
	}
	// The behaviour keys follow the new catalog now: a key that leaves must
	// get a new epoch if it comes back, whatever happens in between.
	list, err := readSegments(func(q string, args ...any) (*sql.Rows, error) { return t.query(q, args...) }, "")
	if err != nil {
		return err
	}
	cat, err := t.s.compileSegments(list)
	if err != nil {
		return err
	}
	t.epochs, t.epochsOf = nil, nil
	_, err = t.keyEpochs(cat)
	t.epochs, t.epochsOf = nil, nil // the catalog in force is loaded afresh
	return err
}

// buildTarget is a segment version a build job builds.
type buildTarget struct {
	Segment int64  `json:"segment"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

func (t *tx) queueSegmentBuild(targets []buildTarget, now time.Time) (Job, error) {
	var total int64 // progress is in contact ids (see runSegmentBuild)
	if err := t.queryRow("SELECT COALESCE(MAX(id), 0) FROM contacts").Scan(&total); err != nil {
		return Job{}, err
	}
	params, _ := json.Marshal(map[string]any{"segments": targets})
	job := Job{Kind: jobSegmentBuild, Status: "pending", Total: total, CreatedAt: now, UpdatedAt: now}
	if len(targets) == 1 {
		job.Version = targets[0].Version
	}
	err := t.queryRow(`INSERT INTO jobs (kind, status, params, total, created_at, updated_at)
		VALUES (?, 'pending', ?, ?, ?, ?) RETURNING id`, jobSegmentBuild, string(params), total, ms(now), ms(now)).Scan(&job.ID)
	return job, err
}

// DeleteSegment removes a segment, its members and versions. A segment that
// others read cannot be removed.
func (s *Store) DeleteSegment(ctx context.Context, name string) error {
	return s.writer.do1(func(t *tx) error {
		cat, err := t.segments()
		if err != nil {
			return err
		}
		id, ok := cat.ids[name]
		if !ok {
			return ErrSegmentNotFound
		}
		for _, d := range cat.cat.Defs() {
			if d.Name != name && containsString(d.Compiled.Segments, name) {
				return &segment.Error{Problems: []segment.Problem{{Path: "segment", Reason: "segment " + d.Name + " reads it: change that one first"}}}
			}
		}
		if err := t.flushScores(); err != nil { // queued memberships first
			return err
		}
		for _, q := range []string{"DELETE FROM segment_members WHERE segment_id = ?", "DELETE FROM segment_versions WHERE segment_id = ?", "DELETE FROM segments WHERE id = ?"} {
			if _, err := t.exec(q, id); err != nil {
				return err
			}
		}
		return t.bumpSegments()
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SeedSegments saves the segments of src (the shipped defaults) on a
// database that never had any segment, once: deleting them later does not
// bring them back. It reports whether it saved them.
func (s *Store) SeedSegments(ctx context.Context, src []byte) (bool, error) {
	var seeded, count int
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM settings WHERE key = 'segments_seeded'), (SELECT COUNT(*) FROM segments)`).Scan(&seeded, &count)
	if err != nil {
		return false, s.dbErr("read segments", err)
	}
	mark := func() error {
		return s.writer.do1(func(t *tx) error {
			_, err := t.exec("INSERT INTO settings (key, value) VALUES ('segments_seeded', '1') ON CONFLICT (key) DO NOTHING")
			return err
		})
	}
	if seeded > 0 {
		return false, nil
	}
	if count > 0 {
		return false, mark()
	}
	if _, err := s.Rules(ctx); err != nil {
		return false, err
	}
	doc, err := segment.ParseDocument(src)
	if err != nil {
		return false, err
	}
	if _, err := s.SaveSegments(ctx, SaveSegmentsParams{Document: doc, By: "nurture"}); err != nil {
		return false, err
	}
	return true, mark()
}
