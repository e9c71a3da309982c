package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/score"
)

// ErrTaskNotFound means no task has that id.
var ErrTaskNotFound = errors.New("task not found")

// Task is a to-do for a salesperson about a contact.
type Task struct {
	ID          int64      `json:"id"`
	ContactID   int64      `json:"contact_id"`
	Kind        string     `json:"kind" doc:"call, email, meeting or todo"`
	Title       string     `json:"title"`
	Owner       string     `json:"owner,omitempty"`
	Status      string     `json:"status" enum:"open,done"`
	Source      string     `json:"source" doc:"what created it: scoring, api, …"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	CompletedBy string     `json:"completed_by,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
}

// TaskInput is a task to create.
type TaskInput struct {
	ContactID          int64
	Kind, Title, Owner string
	Source             string
	DueAt              time.Time
}

func (t *tx) createTask(in TaskInput, now time.Time) (Task, error) {
	task := Task{ContactID: in.ContactID, Kind: in.Kind, Title: in.Title, Owner: in.Owner, Status: "open",
		Source: in.Source, CreatedAt: now}
	var due any
	if !in.DueAt.IsZero() {
		d := in.DueAt.UTC()
		task.DueAt, due = &d, ms(d)
	}
	err := t.queryRow(`INSERT INTO tasks (contact_id, kind, title, owner, status, source, due_at, created_at)
		VALUES (?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id`, in.ContactID, in.Kind, in.Title, null(in.Owner),
		in.Source, due, ms(now)).Scan(&task.ID)
	if err != nil {
		return task, err
	}
	return task, t.appendSystemEvent(in.ContactID, event.TaskCreated, in.Source, now,
		map[string]any{"task_id": task.ID, "kind": in.Kind, "title": in.Title})
}

// CreateTask adds a task for a live contact.
func (s *Store) CreateTask(ctx context.Context, in TaskInput) (Task, error) {
	var task Task
	err := s.writer.doKeyed(idKey(in.ContactID), func(t *tx) error {
		if _, err := t.lockContact(in.ContactID); err != nil {
			return err
		}
		var err error
		task, err = t.createTask(in, t.s.now())
		return err
	})
	return task, err
}

const taskColumns = "id, contact_id, kind, title, owner, status, source, due_at, created_at, completed_at, completed_by, outcome"

func scanTask(row scanner) (Task, error) {
	var t Task
	var owner, by, outcome sql.NullString
	var due, done sql.NullInt64
	var created int64
	if err := row.Scan(&t.ID, &t.ContactID, &t.Kind, &t.Title, &owner, &t.Status, &t.Source, &due, &created,
		&done, &by, &outcome); err != nil {
		return t, err
	}
	t.Owner, t.CompletedBy, t.Outcome = owner.String, by.String, outcome.String
	t.CreatedAt = fromMS(created)
	if due.Valid {
		d := fromMS(due.Int64)
		t.DueAt = &d
	}
	if done.Valid {
		d := fromMS(done.Int64)
		t.CompletedAt = &d
	}
	return t, nil
}

// ListTasksParams filters tasks; empty fields match all.
type ListTasksParams struct {
	ContactID     int64
	Owner, Status string
	After         int64 // cursor: the last id of the previous page
	Limit         int
}

// ListTasks returns tasks in id order and the cursor of the next page (0 at the end).
func (s *Store) ListTasks(ctx context.Context, p ListTasksParams) ([]Task, int64, error) {
	where := []string{"id > ?"}
	args := []any{p.After}
	if p.ContactID != 0 {
		where, args = append(where, "contact_id = ?"), append(args, p.ContactID)
	}
	if p.Owner != "" {
		where, args = append(where, "owner = ?"), append(args, p.Owner)
	}
	if p.Status != "" {
		where, args = append(where, "status = ?"), append(args, p.Status)
	}
	args = append(args, p.Limit+1)
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+taskColumns+" FROM tasks WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?"), args...)
	if err != nil {
		return nil, 0, s.dbErr("list tasks", err)
	}
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, 0, s.dbErr("list tasks", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.dbErr("list tasks", err)
	}
	var next int64
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// CompleteTask marks an open task done. Completing a call or meeting task is
// sales activity: the lead has been taken over by a human.
func (s *Store) CompleteTask(ctx context.Context, id int64, by, outcome string) (Task, error) {
	var task Task
	var contactID int64
	if err := s.r.QueryRowContext(ctx, s.q("SELECT contact_id FROM tasks WHERE id = ?"), id).Scan(&contactID); errors.Is(err, sql.ErrNoRows) {
		return task, ErrTaskNotFound
	} else if err != nil {
		return task, s.dbErr("read task", err)
	}
	err := s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		if _, err := t.lockContact(contactID); err != nil {
			return err
		}
		var err error
		task, err = scanTask(t.queryRow("SELECT "+taskColumns+" FROM tasks WHERE id = ?", id))
		if err != nil {
			return err
		}
		if task.Status != "open" {
			return &contact.ValidationError{Field: "task", Reason: "is already " + task.Status}
		}
		now := t.s.now()
		if _, err := t.exec("UPDATE tasks SET status = 'done', completed_at = ?, completed_by = ?, outcome = ? WHERE id = ?",
			ms(now), by, null(outcome), id); err != nil {
			return err
		}
		task.Status, task.CompletedAt, task.CompletedBy, task.Outcome = "done", &now, by, outcome
		if err := t.appendSystemEvent(contactID, event.TaskCompleted, "api", now,
			map[string]any{"task_id": id, "kind": task.Kind, "by": by, "outcome": outcome}); err != nil {
			return err
		}
		if task.Kind == "call" || task.Kind == "meeting" {
			return t.appendSystemEvent(contactID, event.HumanTakeover, "api", now,
				map[string]any{"by": by, "via": "task_" + task.Kind, "task_id": id})
		}
		return nil
	})
	return task, err
}

// PipelineConfig returns the pipeline settings (lost reasons, what
// Qualified requires), the defaults until they are set.
func (s *Store) PipelineConfig(ctx context.Context) (pipeline.Config, error) {
	return s.pipelineConfig(ctx, s.r)
}

func (s *Store) pipelineConfig(ctx context.Context, db querier) (pipeline.Config, error) {
	var raw string
	err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'pipeline'").Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return pipeline.DefaultConfig(), nil
	}
	if err != nil {
		return pipeline.Config{}, s.dbErr("read pipeline settings", err)
	}
	var cfg pipeline.Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return cfg, fmt.Errorf("stored pipeline settings: %w", err)
	}
	return cfg, nil
}

// SetPipelineConfig validates and stores the pipeline settings.
func (s *Store) SetPipelineConfig(ctx context.Context, cfg pipeline.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, _ := json.Marshal(cfg)
	return s.writer.do1(func(t *tx) error {
		_, err := t.exec(`INSERT INTO settings (key, value) VALUES ('pipeline', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b))
		return err
	})
}

// MoveParams is a pipeline move.
type MoveParams struct {
	Stage, Reason, By string
	// Revenue is what a won deal brought; it defaults to the opportunity value.
	Revenue *float64
}

// MoveStage moves a contact along the pipeline, checking the transition,
// the lost reason and the BANT criteria Qualified requires. Qualified and
// Won raise the lifecycle (opportunity, customer); Won records the revenue.
func (s *Store) MoveStage(ctx context.Context, id int64, p MoveParams) (contact.Contact, error) {
	var res contact.Contact
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		old, err := t.lockContact(id)
		if err != nil {
			return err
		}
		now := t.s.now()
		c := old
		c.Status, c.UpdatedAt = p.Stage, now
		changes := []contact.Change{{Field: "status", Old: old.Status, New: c.Status}}
		more, reason, err := t.stageMove(old, &c, p, now)
		if err != nil {
			return err
		}
		changes = append(changes, more...)
		if err := t.updateContact(old, c, changes, "api", now, change{Reason: reason, By: p.By}); err != nil {
			return err
		}
		res, err = t.lockContactWith(id, "")
		return err
	})
	return res, err
}

// stageMove checks a move from old's stage to c's (c.Status set) and makes
// its consequences on c: the lifecycle raise, won revenue, closing time. It
// returns the changes beyond the status and the canonical reason.
func (t *tx) stageMove(old contact.Contact, c *contact.Contact, p MoveParams, now time.Time) ([]contact.Change, string, error) {
	cfg, err := t.s.pipelineConfig(t.ctx, txQuerier{t})
	if err != nil {
		return nil, "", err
	}
	bant, err := t.bant(old.ID)
	if err != nil {
		return nil, "", err
	}
	if err := pipeline.CheckMove(cfg, pipeline.Move{From: old.Status, To: c.Status, Reason: p.Reason, BANT: bant}); err != nil {
		return nil, "", err
	}
	reason := p.Reason
	if c.Status == contact.StatusLost {
		if reason, err = pipeline.NormalizeLostReason(cfg, p.Reason); err != nil {
			return nil, "", err
		}
	}
	var changes []contact.Change
	if lc := pipeline.LifecycleForStage(c.Status); lc != "" {
		if next := pipeline.Raise(old.Lifecycle, lc); next != old.Lifecycle {
			c.Lifecycle = next
			changes = append(changes, contact.Change{Field: "lifecycle", Old: old.Lifecycle, New: next})
		}
	}
	switch c.Status {
	case contact.StatusWon:
		rev := p.Revenue
		if rev == nil {
			rev = old.OpportunityValue
		}
		if rev != nil {
			v := *rev
			c.WonRevenue = &v
			changes = append(changes, contact.Change{Field: "won_revenue", New: v})
		}
		c.ClosedAt = &now
	case contact.StatusLost:
		c.ClosedAt = &now
	default:
		c.ClosedAt = nil // a lost lead recycled
	}
	return changes, reason, nil
}

// SetLifecycle moves a contact's lifecycle stage explicitly (a move back to
// lead or to disqualified needs a reason).
func (s *Store) SetLifecycle(ctx context.Context, id int64, to, reason, by string) (contact.Contact, error) {
	return s.changeLifecycle(ctx, id, by, func(old contact.Contact) (string, string, error) {
		return to, "", pipeline.CheckLifecycle(old.Lifecycle, to, reason)
	}, reason)
}

// HandoffParams is sales' answer to a marketing-qualified lead.
type HandoffParams struct {
	Decision   pipeline.Decision
	Reason, By string
	Disqualify bool
}

// Handoff records sales accepting (MQL → SAL, a human takes over) or
// rejecting (back to lead, or disqualified) an MQL.
func (s *Store) Handoff(ctx context.Context, id int64, p HandoffParams) (contact.Contact, error) {
	return s.changeLifecycle(ctx, id, p.By, func(old contact.Contact) (string, string, error) {
		next, err := pipeline.Handoff(old.Lifecycle, p.Decision, p.Reason, p.Disqualify)
		typ := event.HandoffAccepted
		if p.Decision == pipeline.Reject {
			typ = event.HandoffRejected
		}
		return next, typ, err
	}, p.Reason)
}

func (s *Store) changeLifecycle(ctx context.Context, id int64, by string,
	decide func(contact.Contact) (next, eventType string, err error), reason string) (contact.Contact, error) {
	var res contact.Contact
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		old, err := t.lockContact(id)
		if err != nil {
			return err
		}
		next, typ, err := decide(old)
		if err != nil {
			return err
		}
		now := t.s.now()
		c := old
		c.Lifecycle, c.UpdatedAt = next, now
		if err := t.updateContact(old, c, []contact.Change{{Field: "lifecycle", Old: old.Lifecycle, New: next}},
			"api", now, change{Reason: reason, By: by}); err != nil {
			return err
		}
		if typ != "" {
			props := map[string]string{"from": old.Lifecycle, "to": next, "by": by}
			if reason != "" {
				props["reason"] = reason
			}
			if err := t.appendSystemEvent(id, typ, "api", now, props); err != nil {
				return err
			}
		}
		if typ == event.HandoffAccepted {
			if err := t.appendSystemEvent(id, event.HumanTakeover, "api", now, map[string]string{"by": by, "via": "handoff"}); err != nil {
				return err
			}
		}
		res, err = t.lockContactWith(id, "")
		return err
	})
	return res, err
}

func (t *tx) bant(id int64) (map[string]pipeline.Criterion, error) {
	rows, err := t.query(`SELECT criterion, value, evidence, evidence_event_id, source, confirmed_by, confirmed_at
		FROM bant WHERE contact_id = ?`, id)
	if err != nil {
		return nil, err
	}
	return scanBANT(rows)
}

func scanBANT(rows *sql.Rows) (map[string]pipeline.Criterion, error) {
	defer rows.Close()
	out := map[string]pipeline.Criterion{}
	for rows.Next() {
		var name string
		var value, evidence, source, by sql.NullString
		var eventID, at sql.NullInt64
		if err := rows.Scan(&name, &value, &evidence, &eventID, &source, &by, &at); err != nil {
			return nil, err
		}
		out[name] = pipeline.Criterion{Value: value.String, Evidence: evidence.String, EvidenceEventID: eventID.Int64,
			Source: source.String, ConfirmedBy: by.String, ConfirmedAt: nullMS(at)}
	}
	return out, rows.Err()
}

// BANT returns a live contact's qualification criteria.
func (s *Store) BANT(ctx context.Context, id int64) (map[string]pipeline.Criterion, error) {
	if _, err := s.GetContact(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT criterion, value, evidence, evidence_event_id, source, confirmed_by,
		confirmed_at FROM bant WHERE contact_id = ?`), id)
	if err != nil {
		return nil, s.dbErr("read bant", err)
	}
	out, err := scanBANT(rows)
	return out, s.dbErr("read bant", err)
}

// SetBANT records BANT criteria (validated by the caller with
// pipeline.CheckCriterion); an evidence event must belong to the contact.
func (s *Store) SetBANT(ctx context.Context, id int64, criteria map[string]pipeline.Criterion) (map[string]pipeline.Criterion, error) {
	var out map[string]pipeline.Criterion
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		if _, err := t.lockContact(id); err != nil {
			return err
		}
		now := t.s.now()
		for _, name := range pipeline.Criteria {
			c, ok := criteria[name]
			if !ok {
				continue
			}
			if c.EvidenceEventID != 0 {
				var n int
				if err := t.queryRow("SELECT COUNT(*) FROM events WHERE id = ? AND contact_id = ?", c.EvidenceEventID, id).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return &contact.ValidationError{Field: "bant." + name + ".evidence_event_id", Reason: "no event of this contact has that id"}
				}
			}
			var eventID, at any
			if c.EvidenceEventID != 0 {
				eventID = c.EvidenceEventID
			}
			if !c.ConfirmedAt.IsZero() {
				at = ms(c.ConfirmedAt)
			}
			if _, err := t.exec(`INSERT INTO bant (contact_id, criterion, value, evidence, evidence_event_id, source,
				confirmed_by, confirmed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (contact_id, criterion) DO UPDATE SET value = excluded.value, evidence = excluded.evidence,
				evidence_event_id = excluded.evidence_event_id, source = excluded.source,
				confirmed_by = excluded.confirmed_by, confirmed_at = excluded.confirmed_at, updated_at = excluded.updated_at`,
				id, name, null(c.Value), null(c.Evidence), eventID, null(c.Source), null(c.ConfirmedBy), at, ms(now)); err != nil {
				return err
			}
			if err := t.appendSystemEvent(id, event.BANTUpdated, "api", now, map[string]any{
				"criterion": name, "confirmed": c.Confirmed(), "by": c.ConfirmedBy}); err != nil {
				return err
			}
		}
		var err error
		out, err = t.bant(id)
		return err
	})
	return out, err
}

// LogActivity records a salesperson's call, meeting, email reply or note.
// All but a note mean a human took the lead over: a human_takeover event
// follows, which stops automation.
func (s *Store) LogActivity(ctx context.Context, id int64, a pipeline.Activity) (int64, error) {
	var eventID int64
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		if _, err := t.lockContact(id); err != nil {
			return err
		}
		now := t.s.now()
		at := a.OccurredAt
		if at.IsZero() {
			at = now
		}
		props := map[string]string{"activity": a.Type, "by": a.By}
		if a.Notes != "" {
			props["notes"] = a.Notes
		}
		if a.Outcome != "" {
			props["outcome"] = a.Outcome
		}
		b, _ := json.Marshal(props)
		err := t.queryRow(`INSERT INTO events (contact_id, type, occurred_at, received_at, source, properties)
			VALUES (?, ?, ?, ?, 'api', ?) RETURNING id`, id, event.ActivityLogged, ms(at), ms(now), string(b)).Scan(&eventID)
		if err != nil {
			return err
		}
		if err := t.fanOut(id, eventID, event.ActivityLogged, now); err != nil {
			return err
		}
		if err := t.scoreEvent(id, score.Event{ID: eventID, Type: event.ActivityLogged, Source: "api", At: at, Properties: b}, nil); err != nil {
			return err
		}
		if pipeline.TakesOver(a.Type) {
			return t.appendSystemEvent(id, event.HumanTakeover, "api", now,
				map[string]any{"by": a.By, "via": a.Type, "activity_event_id": eventID})
		}
		return nil
	})
	return eventID, err
}

// StageTotals is one pipeline stage's contacts and value.
type StageTotals struct {
	Stage     string  `json:"stage"`
	Contacts  int64   `json:"contacts"`
	Value     float64 `json:"value" doc:"sum of opportunity values (potential value where none is set)"`
	WonAmount float64 `json:"won_revenue,omitempty"`
}

// Pipeline counts live contacts and sums their value per stage, in pipeline order.
func (s *Store) Pipeline(ctx context.Context) ([]StageTotals, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*), COALESCE(SUM(COALESCE(opportunity_value, potential_value)), 0),
		COALESCE(SUM(won_revenue), 0) FROM contacts WHERE erased_at IS NULL GROUP BY status`)
	if err != nil {
		return nil, s.dbErr("pipeline totals", err)
	}
	defer rows.Close()
	by := map[string]StageTotals{}
	for rows.Next() {
		var st StageTotals
		if err := rows.Scan(&st.Stage, &st.Contacts, &st.Value, &st.WonAmount); err != nil {
			return nil, s.dbErr("pipeline totals", err)
		}
		by[st.Stage] = st
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("pipeline totals", err)
	}
	out := make([]StageTotals, 0, len(contact.Statuses))
	for _, stage := range contact.Statuses {
		st := by[stage]
		st.Stage = stage
		out = append(out, st)
	}
	return out, nil
}

// StageHistory lists the stages a live contact went through, with the time
// spent in each.
func (s *Store) StageHistory(ctx context.Context, id int64) ([]pipeline.Span, error) {
	c, err := s.GetContact(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.queryEvents(ctx, `SELECT id, contact_id, type, occurred_at, received_at, source, properties, idempotency_key
		FROM events WHERE contact_id = ? AND type = ? ORDER BY occurred_at, id`, id, event.StageChanged)
	if err != nil {
		return nil, err
	}
	// The first stage is the one the contact was created in: the "from" of
	// the first move, or the current stage when it never moved.
	changes := []pipeline.StageChange{{Stage: c.Status, At: c.CreatedAt}}
	for i, e := range evs {
		var p struct{ From, To, Reason, By string }
		if err := json.Unmarshal(e.Properties, &p); err != nil {
			return nil, fmt.Errorf("decode stage_changed event %d: %w", e.ID, err)
		}
		if i == 0 {
			changes[0].Stage = p.From
		}
		changes = append(changes, pipeline.StageChange{Stage: p.To, At: e.OccurredAt, By: p.By, Reason: p.Reason})
	}
	return pipeline.History(changes, s.now()), nil
}
