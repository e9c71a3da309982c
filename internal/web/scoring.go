package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
)

// maxRulesBody bounds a scoring rules document.
const maxRulesBody = score.MaxDocumentBytes

type rulesInput struct {
	DryRun  bool   `query:"dry_run" doc:"replay the stored events under the new rules and report, without applying"`
	Comment string `query:"comment" maxLength:"500" doc:"why this version (kept in the history)"`
	By      string `query:"by" maxLength:"200" doc:"who applies it (default: the API key's name)"`
	RawBody []byte `contentType:"application/yaml" doc:"the rules document, YAML or JSON"`
}

type rulesOutput struct {
	Status int
	Body   rulesResult
}

type rulesResult struct {
	Version  int             `json:"version,omitempty" doc:"the version now in force (when applied)"`
	Job      *store.Job      `json:"job,omitempty" doc:"the rescore of every contact, running in the background"`
	Backtest *store.Backtest `json:"backtest,omitempty" doc:"what the rules would do (dry run)"`
}

type currentRules struct {
	Body struct {
		store.RulesVersion
		Scores     []string        `json:"scores"`
		Thresholds []score.BandDef `json:"bands"`
	}
}

type versionsOutput struct {
	Body struct {
		Versions []store.RulesVersion `json:"versions"`
	}
}

type scoreOutput struct{ Body store.ScoreReport }

type jobInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type versionInput struct {
	Version int `path:"version" minimum:"1"`
}

func (s *Server) registerScoring(api huma.API) {
	tags := []string{"Scoring"}
	apply := func(ctx context.Context, in *rulesInput) (*rulesOutput, error) {
		r, err := score.Parse(in.RawBody)
		if err != nil {
			return nil, s.problem(err, "")
		}
		if in.DryRun {
			bt, err := s.store.BacktestRules(ctx, r)
			if err != nil {
				return nil, s.problem(err, "")
			}
			return &rulesOutput{Status: http.StatusOK, Body: rulesResult{Backtest: &bt}}, nil
		}
		v, job, err := s.store.ApplyRules(ctx, store.ApplyRulesParams{Rules: r, Comment: in.Comment, By: caller(ctx, in.By)})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &rulesOutput{Status: http.StatusAccepted, Body: rulesResult{Version: v, Job: &job}}, nil
	}
	const applyDoc = "The body is the whole rules document (YAML or JSON; see docs/scoring.md). It is validated first: " +
		"every problem is reported with its line, and nothing is applied. With dry_run=true the stored events are replayed " +
		"under the new rules and the answer compares score distributions, band crossings and conversion per band, before " +
		"and after; nothing changes. Otherwise the new version is in force for every event from now on and a background job " +
		"rescores every contact from the event log (202, with the job to follow at /api/v1/scoring/jobs/{id})."
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		huma.Register(api, huma.Operation{
			OperationID: "apply-scoring-rules-" + map[string]string{"PUT": "put", "POST": "post"}[method],
			Method:      method, Path: "/api/v1/scoring/rules", Tags: tags,
			Summary: "Apply a new version of the scoring rules, or dry-run it", Description: applyDoc,
			MaxBodyBytes: maxRulesBody, DefaultStatus: http.StatusAccepted,
		}, apply)
	}

	huma.Register(api, huma.Operation{
		OperationID: "get-scoring-rules", Method: http.MethodGet, Path: "/api/v1/scoring/rules", Tags: tags,
		Summary: "The scoring rules in force",
	}, func(ctx context.Context, _ *struct{}) (*currentRules, error) {
		hist, err := s.store.RulesHistory(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		r, err := s.store.Rules(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &currentRules{}
		for _, v := range hist {
			if v.Version == r.Version {
				out.Body.RulesVersion = v
			}
		}
		if out.Body.Version == 0 { // nothing stored yet: the defaults
			out.Body.RulesVersion = store.RulesVersion{Document: string(r.Source), RuleVersions: r.RuleVersions()}
		}
		out.Body.Scores, out.Body.Thresholds = r.Scores(), r.Bands()
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-scoring-rule-versions", Method: http.MethodGet, Path: "/api/v1/scoring/rules/versions", Tags: tags,
		Summary: "Every version of the scoring rules, newest first",
	}, func(ctx context.Context, _ *struct{}) (*versionsOutput, error) {
		hist, err := s.store.RulesHistory(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &versionsOutput{}
		out.Body.Versions = hist
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-scoring-rule-version", Method: http.MethodGet, Path: "/api/v1/scoring/rules/versions/{version}", Tags: tags,
		Summary: "One version of the scoring rules",
	}, func(ctx context.Context, in *versionInput) (*struct{ Body store.RulesVersion }, error) {
		hist, err := s.store.RulesHistory(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		for _, v := range hist {
			if v.Version == in.Version {
				return &struct{ Body store.RulesVersion }{v}, nil
			}
		}
		return nil, huma.Error404NotFound(fmt.Sprintf("no scoring rules version %d", in.Version))
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-scoring-job", Method: http.MethodGet, Path: "/api/v1/scoring/jobs/{id}", Tags: tags,
		Summary: "Progress of a rescore",
	}, func(ctx context.Context, in *jobInput) (*struct{ Body store.Job }, error) {
		j, err := s.store.GetJob(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Job }{j}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-contact-score", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/score", Tags: tags,
		Summary:     "A contact's scores, explained",
		Description: "The scores, the band, and the ledger: every change with its rule, rule version, event and reason; the breakdown sums it by rule.",
	}, func(ctx context.Context, in *idInput) (*scoreOutput, error) {
		rep, err := s.store.Score(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &scoreOutput{rep}, nil
	})
}

// documentProblem is a 422 listing every fault of a rules document.
func documentProblem(e *score.DocumentError) error {
	return problems("the scoring rules are invalid; nothing was applied", e.Problems)
}

// problems is a 422 with one detail per problem of a document.
func problems(title string, ps []score.Problem) error {
	details := make([]error, len(ps))
	for i, p := range ps {
		msg := p.Reason
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", p.Line, p.Reason)
		}
		loc := "body"
		if p.Path != "" && p.Path != "document" {
			loc = "body." + p.Path
		}
		details[i] = &huma.ErrorDetail{Location: loc, Message: msg}
	}
	return huma.Error422UnprocessableEntity(title, details...)
}
