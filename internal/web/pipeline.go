package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/pipeline"
	"github.com/nurturehq/nurture/internal/store"
)

// maxSmallBody bounds the bodies of pipeline and task requests.
const maxSmallBody = 16 << 10

type stageInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Stage   string   `json:"stage" enum:"new,contacted,nurture,meeting_booked,meeting_held,qualified,won,lost"`
		Reason  string   `json:"reason,omitempty" maxLength:"500" doc:"required for lost: one of the configured lost reasons"`
		By      string   `json:"by,omitempty" maxLength:"200" doc:"who moved it (default: the API key's name)"`
		Revenue *float64 `json:"revenue,omitempty" minimum:"0" doc:"for won: the revenue signed (default: the opportunity value)"`
	}
}

type lifecycleInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Lifecycle string `json:"lifecycle" enum:"subscriber,lead,mql,sal,sql,opportunity,customer,disqualified"`
		Reason    string `json:"reason,omitempty" maxLength:"500" doc:"required to move back to lead or to disqualified"`
		By        string `json:"by,omitempty" maxLength:"200"`
	}
}

type handoffInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Decision   string `json:"decision" enum:"accept,reject"`
		Reason     string `json:"reason,omitempty" maxLength:"500" doc:"required to reject"`
		By         string `json:"by,omitempty" maxLength:"200"`
		Disqualify bool   `json:"disqualify,omitempty" doc:"a rejection that disqualifies the lead rather than recycling it"`
	}
}

// CriterionBody is one BANT criterion as a client sends it.
type CriterionBody struct {
	Value           string     `json:"value,omitempty" maxLength:"500"`
	Evidence        string     `json:"evidence,omitempty" maxLength:"2000" doc:"free text or a link"`
	EvidenceEventID int64      `json:"evidence_event_id,omitempty" minimum:"1" doc:"an event of this contact that shows it"`
	Source          string     `json:"source,omitempty" maxLength:"200" doc:"where it was learnt: call, form, email…"`
	ConfirmedBy     string     `json:"confirmed_by,omitempty" maxLength:"200"`
	ConfirmedAt     *time.Time `json:"confirmed_at,omitempty" doc:"default: now when confirmed_by is given"`
}

type bantInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Budget    *CriterionBody `json:"budget,omitempty"`
		Authority *CriterionBody `json:"authority,omitempty"`
		Need      *CriterionBody `json:"need,omitempty"`
		Timing    *CriterionBody `json:"timing,omitempty"`
	}
}

type bantOutput struct {
	Body struct {
		BANT map[string]pipeline.Criterion `json:"bant"`
	}
}

type activityInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Type       string     `json:"type" enum:"call,meeting,email_reply,note"`
		By         string     `json:"by" minLength:"1" maxLength:"200"`
		Notes      string     `json:"notes,omitempty" maxLength:"5000"`
		Outcome    string     `json:"outcome,omitempty" maxLength:"200"`
		OccurredAt *time.Time `json:"occurred_at,omitempty"`
	}
}

type taskListInput struct {
	Owner     string `query:"owner" maxLength:"200"`
	Status    string `query:"status" enum:"open,done"`
	ContactID int64  `query:"contact_id" minimum:"1"`
	Cursor    string `query:"cursor" maxLength:"20"`
	Limit     int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type taskCreateInput struct {
	Body struct {
		ContactID int64      `json:"contact_id" minimum:"1"`
		Kind      string     `json:"kind" enum:"call,email,meeting,todo"`
		Title     string     `json:"title" minLength:"1" maxLength:"200"`
		Owner     string     `json:"owner,omitempty" maxLength:"200" doc:"default: the contact's owner"`
		DueAt     *time.Time `json:"due_at,omitempty"`
	}
}

type taskCompleteInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		By      string `json:"by,omitempty" maxLength:"200"`
		Outcome string `json:"outcome,omitempty" maxLength:"200"`
	}
}

type stagesOutput struct {
	Body struct {
		Stages []pipeline.Span `json:"stages"`
	}
}

type pipelineOutput struct {
	Body struct {
		Stages []store.StageTotals `json:"stages"`
	}
}

type activityOutput struct {
	Body struct {
		EventID int64 `json:"event_id"`
	}
}

type taskListOutput struct {
	Body struct {
		Tasks      []store.Task `json:"tasks"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}
}

// checkLines refuses control and bidirectional characters in short text
// fields, given as name, value pairs; the first fault is reported.
func checkLines(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkLine(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// checkLine refuses control and bidirectional characters in short text.
func checkLine(field, v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r) }) {
		return fieldError(field, "contains a control or bidirectional override character", nil)
	}
	return nil
}

func isBidi(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }

func (s *Server) registerPipeline(api huma.API) {
	tags := []string{"Pipeline"}
	huma.Register(api, huma.Operation{
		OperationID: "move-stage", Method: http.MethodPost, Path: "/api/v1/contacts/{id}/stage", Tags: tags,
		Summary: "Move a contact along the pipeline",
		Description: "New → Contacted → Nurture → Meeting booked → Meeting held → Qualified → Won / Lost. The move must be " +
			"allowed (422 lists the allowed ones); lost needs a reason from the configured list; qualified needs the " +
			"configured BANT criteria confirmed (422 names what is missing). Every move is a stage_changed event with who and why.",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *stageInput) (*contactOutput, error) {
		b := in.Body
		if err := checkLines("reason", b.Reason, "by", b.By); err != nil {
			return nil, err
		}
		c, err := s.store.MoveStage(ctx, in.ID, store.MoveParams{Stage: b.Stage, Reason: strings.TrimSpace(b.Reason),
			By: caller(ctx, b.By), Revenue: b.Revenue})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &contactOutput{Status: http.StatusOK, Body: c}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "stage-history", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/stages", Tags: tags,
		Summary: "The stages a contact went through, with the time spent in each",
	}, func(ctx context.Context, in *idInput) (*stagesOutput, error) {
		spans, err := s.store.StageHistory(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &stagesOutput{}
		out.Body.Stages = spans
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "set-lifecycle", Method: http.MethodPost, Path: "/api/v1/contacts/{id}/lifecycle", Tags: tags,
		Summary:      "Move a contact's lifecycle stage (subscriber → lead → MQL → SAL → SQL → opportunity → customer, or disqualified)",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *lifecycleInput) (*contactOutput, error) {
		b := in.Body
		if err := checkLines("reason", b.Reason, "by", b.By); err != nil {
			return nil, err
		}
		c, err := s.store.SetLifecycle(ctx, in.ID, b.Lifecycle, strings.TrimSpace(b.Reason), caller(ctx, b.By))
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &contactOutput{Status: http.StatusOK, Body: c}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "handoff", Method: http.MethodPost, Path: "/api/v1/contacts/{id}/handoff", Tags: tags,
		Summary: "Sales accept or reject a marketing-qualified lead",
		Description: "Accept: MQL → SAL, and a human_takeover event stops automation. Reject (with a reason): back to lead, " +
			"or disqualified. Either is recorded as the hand-off (handoff_accepted / handoff_rejected).",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *handoffInput) (*contactOutput, error) {
		b := in.Body
		if err := checkLines("reason", b.Reason, "by", b.By); err != nil {
			return nil, err
		}
		c, err := s.store.Handoff(ctx, in.ID, store.HandoffParams{Decision: pipeline.Decision(b.Decision),
			Reason: strings.TrimSpace(b.Reason), By: caller(ctx, b.By), Disqualify: b.Disqualify})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &contactOutput{Status: http.StatusOK, Body: c}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-bant", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/bant", Tags: tags,
		Summary: "A contact's BANT qualification",
	}, func(ctx context.Context, in *idInput) (*bantOutput, error) {
		m, err := s.store.BANT(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &bantOutput{}
		out.Body.BANT = m
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "set-bant", Method: http.MethodPut, Path: "/api/v1/contacts/{id}/bant", Tags: tags,
		Summary: "Record BANT criteria (budget, authority, need, timing)",
		Description: "Each criterion given replaces the stored one; the others are kept. A criterion counts as confirmed " +
			"when confirmed_by is set (confirmed_at defaults to now).",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *bantInput) (*bantOutput, error) {
		now := s.clock.Now().UTC()
		criteria := map[string]pipeline.Criterion{}
		for name, cb := range map[string]*CriterionBody{"budget": in.Body.Budget, "authority": in.Body.Authority,
			"need": in.Body.Need, "timing": in.Body.Timing} {
			if cb == nil {
				continue
			}
			c := pipeline.Criterion{Value: strings.TrimSpace(cb.Value), Evidence: strings.TrimSpace(cb.Evidence),
				EvidenceEventID: cb.EvidenceEventID, Source: strings.TrimSpace(cb.Source), ConfirmedBy: strings.TrimSpace(cb.ConfirmedBy)}
			if cb.ConfirmedAt != nil {
				c.ConfirmedAt = cb.ConfirmedAt.UTC()
			} else if c.ConfirmedBy != "" {
				c.ConfirmedAt = now
			}
			if !c.ConfirmedAt.IsZero() && c.ConfirmedAt.After(now.Add(time.Hour)) {
				return nil, fieldError(name+".confirmed_at", "is in the future", nil)
			}
			if err := pipeline.CheckCriterion(name, c); err != nil {
				return nil, s.problem(err, "")
			}
			criteria[name] = c
		}
		if len(criteria) == 0 {
			return nil, fieldError("", "give at least one of budget, authority, need, timing", nil)
		}
		m, err := s.store.SetBANT(ctx, in.ID, criteria)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &bantOutput{}
		out.Body.BANT = m
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "log-activity", Method: http.MethodPost, Path: "/api/v1/contacts/{id}/activities", Tags: tags,
		Summary: "Log a salesperson's call, meeting, email reply or note",
		Description: "A call, a meeting or an email reply means a human took the lead over: a human_takeover event follows, " +
			"which stops automation. A note does not.",
		MaxBodyBytes: maxSmallBody, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *activityInput) (*activityOutput, error) {
		b := in.Body
		a := pipeline.Activity{Type: b.Type, By: strings.TrimSpace(b.By), Notes: strings.TrimSpace(b.Notes), Outcome: strings.TrimSpace(b.Outcome)}
		if b.OccurredAt != nil {
			if b.OccurredAt.After(s.clock.Now().Add(time.Hour)) {
				return nil, fieldError("occurred_at", "is in the future", nil)
			}
			a.OccurredAt = b.OccurredAt.UTC()
		}
		if err := pipeline.CheckActivity(a); err != nil {
			return nil, s.problem(err, "")
		}
		id, err := s.store.LogActivity(ctx, in.ID, a)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &activityOutput{}
		out.Body.EventID = id
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-pipeline", Method: http.MethodGet, Path: "/api/v1/pipeline", Tags: tags,
		Summary: "Contacts and value per pipeline stage",
	}, func(ctx context.Context, _ *struct{}) (*pipelineOutput, error) {
		st, err := s.store.Pipeline(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &pipelineOutput{}
		out.Body.Stages = st
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-pipeline-settings", Method: http.MethodGet, Path: "/api/v1/pipeline/settings", Tags: tags,
		Summary: "Lost reasons and what Qualified requires",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body pipeline.Config }, error) {
		cfg, err := s.store.PipelineConfig(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body pipeline.Config }{cfg}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "set-pipeline-settings", Method: http.MethodPut, Path: "/api/v1/pipeline/settings", Tags: tags,
		Summary: "Set the lost reasons and the BANT criteria Qualified requires", MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *struct{ Body pipeline.Config }) (*struct{ Body pipeline.Config }, error) {
		if err := s.store.SetPipelineConfig(ctx, in.Body); err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body pipeline.Config }{in.Body}, nil
	})

	tasks := []string{"Tasks"}
	huma.Register(api, huma.Operation{
		OperationID: "list-tasks", Method: http.MethodGet, Path: "/api/v1/tasks", Tags: tasks,
		Summary: "Sales tasks, filtered, in pages",
	}, func(ctx context.Context, in *taskListInput) (*taskListOutput, error) {
		var after int64
		if in.Cursor != "" {
			v, err := strconv.ParseInt(in.Cursor, 10, 64)
			if err != nil || v < 1 {
				return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.cursor", Message: "is not a cursor from a previous page"})
			}
			after = v
		}
		list, next, err := s.store.ListTasks(ctx, store.ListTasksParams{ContactID: in.ContactID, Owner: in.Owner,
			Status: in.Status, After: after, Limit: in.Limit})
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &taskListOutput{}
		out.Body.Tasks = list
		if next != 0 {
			out.Body.NextCursor = strconv.FormatInt(next, 10)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "create-task", Method: http.MethodPost, Path: "/api/v1/tasks", Tags: tasks,
		Summary: "Create a sales task", MaxBodyBytes: maxSmallBody, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *taskCreateInput) (*struct{ Body store.Task }, error) {
		b := in.Body
		title, owner := strings.TrimSpace(b.Title), strings.TrimSpace(b.Owner)
		if err := checkLines("title", title, "owner", owner); err != nil {
			return nil, err
		}
		if title == "" {
			return nil, fieldError("title", "is empty", nil)
		}
		if owner == "" {
			c, err := s.store.GetContact(ctx, b.ContactID)
			if err != nil {
				return nil, s.problem(err, "")
			}
			owner = c.Owner
		}
		ti := store.TaskInput{ContactID: b.ContactID, Kind: b.Kind, Title: title, Owner: owner, Source: "api"}
		if b.DueAt != nil {
			ti.DueAt = *b.DueAt
		}
		t, err := s.store.CreateTask(ctx, ti)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Task }{t}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "complete-task", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/complete", Tags: tasks,
		Summary:      "Mark a task done (a call or meeting task done means a human took over)",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *taskCompleteInput) (*struct{ Body store.Task }, error) {
		if err := checkLines("by", in.Body.By, "outcome", in.Body.Outcome); err != nil {
			return nil, err
		}
		t, err := s.store.CompleteTask(ctx, in.ID, caller(ctx, in.Body.By), strings.TrimSpace(in.Body.Outcome))
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Task }{t}, nil
	})
}
