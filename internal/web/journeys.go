package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
)

type journeyDocInput struct {
	RawBody []byte `contentType:"application/yaml" doc:"the journey document, YAML or JSON"`
}

type journeyOutput struct {
	Status int
	Body   store.Journey
}

type publishInput struct {
	Migrate bool   `query:"migrate" doc:"move the contacts in the journey to the new version by step id (see /journeys/preview)"`
	RawBody []byte `contentType:"application/yaml" doc:"the journey document, YAML or JSON"`
}

type publishOutput struct {
	Status int
	Body   struct {
		store.Journey
		Migrated *int `json:"migrated,omitempty"`
		Left     *int `json:"left,omitempty"`
	}
}

type journeyRef struct {
	Ref string `path:"ref" maxLength:"64" doc:"the journey's name or id"`
}

type validation struct {
	Body struct {
		Valid bool     `json:"valid"`
		Name  string   `json:"name"`
		Steps []string `json:"steps"`
	}
}

type enrolInput struct {
	Ref  string `path:"ref" maxLength:"64"`
	Body struct {
		ContactID int64 `json:"contact_id" minimum:"1"`
	}
}

type enrolOutput struct {
	Status int
	Body   struct {
		Enrolment int64 `json:"enrolment"`
	}
}

type simulateInput struct {
	Days    int       `query:"days" minimum:"1" maximum:"366" default:"30" doc:"how many days to simulate"`
	Sample  int       `query:"sample" minimum:"0" maximum:"10000000" doc:"simulate over this many contacts drawn at random (0: every contact)"`
	Start   time.Time `query:"start" doc:"the simulation's start (RFC 3339; default now)"`
	RawBody []byte    `contentType:"application/yaml" doc:"the journey document, YAML or JSON"`
}

type simulateOutput struct {
	Body journey.Report
}

type journeyStats struct {
	Body struct {
		Journey store.Journey       `json:"journey"`
		Stats   []store.JourneyStat `json:"stats"`
	}
}

func (s *Server) registerJourneys(api huma.API) {
	tags := []string{"Journeys"}
	huma.Register(api, huma.Operation{
		OperationID: "apply-journey", Method: http.MethodPost, Path: "/api/v1/journeys", Tags: tags,
		Summary: "Apply a journey document (a new version, live)",
		Description: "The body is the whole journey (YAML or JSON; see docs/journeys.md). It is validated first, templates " +
			"included: every problem is reported with its line and path, and nothing is saved. A changed document becomes " +
			"the next version and enrols contacts from now on (201); contacts already in the journey stay on their version, " +
			"unless migrate=true moves them to it by step id (POST /api/v1/journeys/preview shows what that would do; " +
			"migrated and left count them). The same document again changes nothing (200).",
		MaxBodyBytes: journey.MaxDocumentBytes, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *publishInput) (*publishOutput, error) {
		p, err := s.store.PublishJourney(ctx, in.RawBody, in.Migrate)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		out := &publishOutput{Status: http.StatusOK}
		if p.Changed {
			out.Status = http.StatusCreated
		}
		out.Body.Journey = p.Journey
		if in.Migrate {
			out.Body.Migrated, out.Body.Left = &p.Migrated, &p.Left
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "preview-journey", Method: http.MethodPost, Path: "/api/v1/journeys/preview", Tags: tags,
		Summary: "Impact preview: what publishing a journey document would do to the contacts in it",
		Description: "Saves nothing. Says whether the document changes the live version, how many contacts are at each " +
			"step of each version now, which steps the new version removes and adds, where each group would go if the " +
			"publish migrates them (the step of the same id, or out of the journey when it is removed), and how many " +
			"of them may get a message again (a send step they already ran is ahead of them in the new version).",
		MaxBodyBytes: journey.MaxDocumentBytes,
	}, func(ctx context.Context, in *journeyDocInput) (*struct{ Body store.JourneyImpact }, error) {
		imp, err := s.store.PreviewJourney(ctx, in.RawBody)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		return &struct{ Body store.JourneyImpact }{Body: imp}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "validate-journey", Method: http.MethodPost, Path: "/api/v1/journeys/validate", Tags: tags,
		Summary: "Validate a journey document without saving it", MaxBodyBytes: journey.MaxDocumentBytes,
	}, func(ctx context.Context, in *journeyDocInput) (*validation, error) {
		j, err := s.store.CheckJourney(ctx, in.RawBody)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		out := &validation{}
		out.Body.Valid, out.Body.Name, out.Body.Steps = true, j.Doc.Name, j.Steps()
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "simulate-journey", Method: http.MethodPost, Path: "/api/v1/journeys/simulate", Tags: tags,
		Summary: "Dry run: what a journey document would do to the current contacts",
		Description: "Runs the document (validated first, and not saved) with the engine the workers use over every " +
			"contact, or a random sample, in virtual time: nothing is sent or written. It assumes every contact triggers " +
			"the journey at the start and that nothing else happens to them (no reply, meeting or take-over). The report " +
			"says how many enter (and why the others do not), how many reach each step and which way branches and splits " +
			"go, the messages per day per channel, the deferrals by reason (frequency cap, quiet hours), the outcomes at " +
			"the end, and the templates that fail to render for some contacts.",
		MaxBodyBytes: journey.MaxDocumentBytes,
	}, func(ctx context.Context, in *simulateInput) (*simulateOutput, error) {
		rep, err := s.store.SimulateJourney(ctx, store.SimulateParams{Document: in.RawBody, Days: in.Days, Sample: in.Sample, Start: in.Start})
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		return &simulateOutput{Body: rep}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-journeys", Method: http.MethodGet, Path: "/api/v1/journeys", Tags: tags,
		Summary: "The journeys, with their live documents",
	}, func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Journeys []store.Journey `json:"journeys"`
		}
	}, error) {
		js, err := s.store.Journeys(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &struct {
			Body struct {
				Journeys []store.Journey `json:"journeys"`
			}
		}{}
		out.Body.Journeys = js
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-journey-settings", Method: http.MethodGet, Path: "/api/v1/journeys/settings", Tags: tags,
		Summary: "What all journeys share: the frequency cap, across channels and per channel",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body store.JourneySettings }, error) {
		set, err := s.store.JourneySettings(ctx)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		return &struct{ Body store.JourneySettings }{set}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "set-journey-settings", Method: http.MethodPut, Path: "/api/v1/journeys/settings", Tags: tags,
		Summary:      "Set the frequency cap; journeys apply it from their next step",
		MaxBodyBytes: maxSmallBody,
	}, func(ctx context.Context, in *struct{ Body store.JourneySettings }) (*struct{ Body store.JourneySettings }, error) {
		set, err := s.store.SetJourneySettings(ctx, in.Body)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		return &struct{ Body store.JourneySettings }{set}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-journey", Method: http.MethodGet, Path: "/api/v1/journeys/{ref}", Tags: tags,
		Summary: "One journey, with its live document",
	}, func(ctx context.Context, in *journeyRef) (*journeyOutput, error) {
		j, err := s.store.GetJourney(ctx, in.Ref)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		return &journeyOutput{Status: http.StatusOK, Body: j}, nil
	})
	for _, action := range []struct{ path, status, summary string }{
		{"pause", store.JourneyPaused, "Pause a journey: no one enters, no step runs, until it resumes"},
		{"resume", store.JourneyLive, "Resume a paused journey: the steps that fell due meanwhile run"},
	} {
		huma.Register(api, huma.Operation{
			OperationID: action.path + "-journey", Method: http.MethodPost, Path: "/api/v1/journeys/{ref}/" + action.path, Tags: tags,
			Summary: action.summary,
		}, func(ctx context.Context, in *journeyRef) (*journeyOutput, error) {
			j, err := s.store.GetJourney(ctx, in.Ref)
			if err != nil {
				return nil, s.journeyProblem(err)
			}
			j, err = s.store.SetJourneyStatus(ctx, j.Name, action.status)
			if err != nil {
				return nil, s.journeyProblem(err)
			}
			return &journeyOutput{Status: http.StatusOK, Body: j}, nil
		})
	}
	huma.Register(api, huma.Operation{
		OperationID: "enrol-contact", Method: http.MethodPost, Path: "/api/v1/journeys/{ref}/enrolments", Tags: tags,
		Summary:       "Enrol a contact in a journey",
		Description:   "Whatever the journey's trigger, the contact enters now if the entry rules allow it (201); otherwise 409 with the reason, which is also recorded on the contact's timeline.",
		DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *enrolInput) (*enrolOutput, error) {
		id, err := s.store.Enrol(ctx, in.Ref, in.Body.ContactID)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		out := &enrolOutput{Status: http.StatusCreated}
		out.Body.Enrolment = id
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "journey-stats", Method: http.MethodGet, Path: "/api/v1/journeys/{ref}/stats", Tags: tags,
		Summary: "A journey's counters per version and step",
		Description: "Counters: entered, sent (by channel), deferred (by reason), refused (by reason), completed, exited " +
			"(by reason), converted, paused, resumed; a split step's entries by arm. now_active, now_waiting and now_paused " +
			"count the contacts at each step now.",
	}, func(ctx context.Context, in *journeyRef) (*journeyStats, error) {
		j, stats, err := s.store.JourneyStats(ctx, in.Ref)
		if err != nil {
			return nil, s.journeyProblem(err)
		}
		out := &journeyStats{}
		out.Body.Journey, out.Body.Stats = j, stats
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "contact-journeys", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/journeys", Tags: tags,
		Summary: "A contact's enrolments, newest first",
	}, func(ctx context.Context, in *struct {
		ID int64 `path:"id" minimum:"1"`
	}) (*struct {
		Body struct {
			Enrolments []store.Enrolment `json:"enrolments"`
		}
	}, error) {
		ens, err := s.store.ContactEnrolments(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &struct {
			Body struct {
				Enrolments []store.Enrolment `json:"enrolments"`
			}
		}{}
		out.Body.Enrolments = ens
		return out, nil
	})
}

func (s *Server) journeyProblem(err error) error {
	var de *journey.DocumentError
	var ne *store.ErrNotEnrolled
	var ce *journey.CapError
	switch {
	case errors.As(err, &de):
		return problems("the journey is invalid; nothing was saved", de.Problems)
	case errors.As(err, &ne):
		return huma.Error409Conflict(ne.Error())
	case errors.As(err, &ce):
		return fieldError("frequency_cap."+ce.Field, ce.Reason, nil)
	case errors.Is(err, store.ErrJourneyNotFound):
		return huma.Error404NotFound("journey not found")
	}
	return s.problem(err, "")
}
