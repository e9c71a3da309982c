package web

import (
	"context"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
)

type ownerBody struct {
	DisplayName string            `json:"display_name,omitempty" maxLength:"200"`
	Email       string            `json:"email" maxLength:"254" doc:"where SLA reminders go"`
	TimeZone    string            `json:"time_zone" maxLength:"64" doc:"IANA time zone, such as Europe/Paris"`
	Hours       map[string]string `json:"hours,omitempty" doc:"working hours per weekday (mon..sun): \"09:00-12:00, 14:00-18:00\"; none: the team's"`
	MaxOpen     int               `json:"max_open,omitempty" doc:"most open leads at once; 0: no cap"`
	Weight      int               `json:"weight,omitempty" doc:"share under the weighted strategy (default 1)"`
	Territory   []string          `json:"territory,omitempty" maxItems:"300" doc:"countries (FR) and zones of the routing rules"`
}

type ownerName struct {
	Name string `path:"name" maxLength:"64"`
}

type putOwnerInput struct {
	Name string `path:"name" maxLength:"64"`
	Body ownerBody
}

type ownerOutput struct {
	Status int
	Body   store.Owner
}

type ownersOutput struct {
	Body struct {
		Owners []store.Owner `json:"owners"`
	}
}

type absenceInput struct {
	Name string `path:"name" maxLength:"64"`
	Body struct {
		From   time.Time `json:"from" doc:"RFC 3339"`
		To     time.Time `json:"to" doc:"RFC 3339, after from; at most 366 days later"`
		Reason string    `json:"reason,omitempty" maxLength:"200"`
	}
}

type absenceOutput struct {
	Status int
	Body   store.Absence
}

type absenceRef struct {
	Name string `path:"name" maxLength:"64"`
	ID   int64  `path:"id" minimum:"1"`
}

type teamBody struct {
	Strategy string                 `json:"strategy,omitempty" enum:"round_robin,weighted,least_open,territory" doc:"default round_robin"`
	TimeZone string                 `json:"time_zone" maxLength:"64"`
	Hours    map[string]string      `json:"hours" doc:"business hours per weekday (mon..sun): \"09:00-12:00, 14:00-18:00\""`
	Holidays string                 `json:"holidays,omitempty" maxLength:"2" doc:"country whose public holidays close the team (loaded with PUT /api/v1/holidays/{country})"`
	Lead     string                 `json:"lead,omitempty" maxLength:"64" doc:"owner notified at an SLA breach"`
	Manager  string                 `json:"manager,omitempty" maxLength:"64" doc:"owner notified at twice the SLA"`
	Members  []string               `json:"members" maxItems:"200" doc:"owners, in turn order"`
	Booking  *route.BookingSettings `json:"booking,omitempty" doc:"how the team's booking page (and its members' own pages) cut slots; default 30m meetings, 10m buffer, 2h notice, 14d ahead"`
}

type putTeamInput struct {
	Name string `path:"name" maxLength:"64"`
	Body teamBody
}

type teamOutput struct {
	Status int
	Body   store.Team
}

type teamsOutput struct {
	Body struct {
		Teams []store.Team `json:"teams"`
	}
}

type countryInput struct {
	Country string `path:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2, upper case"`
}

type holidaysInput struct {
	Country string `path:"country" pattern:"^[A-Z]{2}$"`
	RawBody []byte `contentType:"application/yaml" doc:"a holidays file, YAML or JSON: {country: FR, holidays: [{date: 2026-12-25, name: Noël}]}"`
}

type holidaysOutput struct {
	Body route.Holidays
}

type routingInput struct {
	Comment string `query:"comment" maxLength:"500"`
	By      string `query:"by" maxLength:"200"`
	RawBody []byte `contentType:"application/yaml" doc:"the routing rules document, YAML or JSON"`
}

type routingOutput struct {
	Status int
	Body   store.RoutingVersion
}

type routingVersions struct {
	Body struct {
		Versions []store.RoutingVersion `json:"versions"`
	}
}

type slaOutput struct{ Body store.SLA }

type speedReportInput struct {
	From time.Time `query:"from" required:"true" doc:"start of the range (RFC 3339): leads routed from then"`
	To   time.Time `query:"to" doc:"end of the range, excluded (RFC 3339; default now); at most 366 days after from"`
	By   string    `query:"by" enum:"owner,team,source," doc:"group by owner, team or source (default: one group)"`
}

type speedReportOutput struct{ Body store.SpeedReport }

func (s *Server) registerRouting(api huma.API) {
	s.registerSpeedReport(api)
	tags := []string{"Speed to lead"}
	huma.Register(api, huma.Operation{
		OperationID: "list-owners", Method: http.MethodGet, Path: "/api/v1/owners", Tags: tags,
		Summary: "The sales owners, with their availability now",
	}, func(ctx context.Context, _ *struct{}) (*ownersOutput, error) {
		list, err := s.store.Owners(ctx)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		out := &ownersOutput{}
		out.Body.Owners = list
		if out.Body.Owners == nil {
			out.Body.Owners = []store.Owner{}
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-owner", Method: http.MethodGet, Path: "/api/v1/owners/{name}", Tags: tags,
		Summary: "One owner",
	}, func(ctx context.Context, in *ownerName) (*ownerOutput, error) {
		o, err := s.store.GetOwner(ctx, in.Name)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		return &ownerOutput{Status: http.StatusOK, Body: o}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "put-owner", Method: http.MethodPut, Path: "/api/v1/owners/{name}", Tags: tags,
		Summary: "Create or replace a sales owner", MaxBodyBytes: 64 << 10,
		Description: "Leads are assigned to owners by name (a contact's owner field). An owner with no hours works " +
			"the hours of their team. Putting a disabled owner enables it again.",
	}, func(ctx context.Context, in *putOwnerInput) (*ownerOutput, error) {
		b := in.Body
		o, created, err := s.store.PutOwner(ctx, route.Owner{Name: in.Name, DisplayName: b.DisplayName, Email: b.Email,
			TimeZone: b.TimeZone, Hours: b.Hours, MaxOpen: b.MaxOpen, Weight: b.Weight, Territory: b.Territory})
		if err != nil {
			return nil, s.routingProblem(err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &ownerOutput{Status: status, Body: o}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "disable-owner", Method: http.MethodDelete, Path: "/api/v1/owners/{name}", Tags: tags,
		Summary: "Disable an owner: no new leads; their leads stay theirs", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *ownerName) (*struct{}, error) {
		return nil, s.routingProblem(s.store.DisableOwner(ctx, in.Name))
	})
	huma.Register(api, huma.Operation{
		OperationID: "add-absence", Method: http.MethodPost, Path: "/api/v1/owners/{name}/absences", Tags: tags,
		Summary: "Record an absence: the owner takes no new leads from `from` to `to`", DefaultStatus: http.StatusCreated,
		MaxBodyBytes: 4 << 10,
	}, func(ctx context.Context, in *absenceInput) (*absenceOutput, error) {
		a, err := s.store.AddAbsence(ctx, store.Absence{Owner: in.Name, From: in.Body.From, To: in.Body.To, Reason: in.Body.Reason})
		if err != nil {
			return nil, s.routingProblem(err)
		}
		return &absenceOutput{Status: http.StatusCreated, Body: a}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-absence", Method: http.MethodDelete, Path: "/api/v1/owners/{name}/absences/{id}", Tags: tags,
		Summary: "Remove an absence", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *absenceRef) (*struct{}, error) {
		return nil, s.routingProblem(s.store.DeleteAbsence(ctx, in.Name, in.ID))
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-teams", Method: http.MethodGet, Path: "/api/v1/teams", Tags: tags, Summary: "The teams",
	}, func(ctx context.Context, _ *struct{}) (*teamsOutput, error) {
		list, err := s.store.Teams(ctx)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		out := &teamsOutput{}
		out.Body.Teams = list
		if out.Body.Teams == nil {
			out.Body.Teams = []store.Team{}
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-team", Method: http.MethodGet, Path: "/api/v1/teams/{name}", Tags: tags, Summary: "One team",
	}, func(ctx context.Context, in *ownerName) (*teamOutput, error) {
		tm, err := s.store.GetTeam(ctx, in.Name)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		return &teamOutput{Status: http.StatusOK, Body: tm}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "put-team", Method: http.MethodPut, Path: "/api/v1/teams/{name}", Tags: tags,
		Summary: "Create or replace a team", MaxBodyBytes: 64 << 10,
		Description: "Members are owners, in turn order. The strategy shares new leads among the available members " +
			"(not disabled, not absent, under their cap of open leads). The hours and holidays are the team's business " +
			"calendar: the SLA clock runs only while it is open.",
	}, func(ctx context.Context, in *putTeamInput) (*teamOutput, error) {
		b := in.Body
		tm, created, err := s.store.PutTeam(ctx, route.Team{Name: in.Name, Strategy: b.Strategy, TimeZone: b.TimeZone,
			Hours: b.Hours, Holidays: b.Holidays, Lead: b.Lead, Manager: b.Manager, Members: b.Members, Booking: b.Booking})
		if err != nil {
			return nil, s.routingProblem(err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &teamOutput{Status: status, Body: tm}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-team", Method: http.MethodDelete, Path: "/api/v1/teams/{name}", Tags: tags,
		Summary: "Delete a team the routing rules do not name", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *ownerName) (*struct{}, error) {
		return nil, s.routingProblem(s.store.DeleteTeam(ctx, in.Name))
	})

	huma.Register(api, huma.Operation{
		OperationID: "put-holidays", Method: http.MethodPut, Path: "/api/v1/holidays/{country}", Tags: tags,
		Summary: "Load a country's public holidays (replacing those loaded before)", MaxBodyBytes: 256 << 10,
		Description: "examples/holidays has files for FR, US and GB.",
	}, func(ctx context.Context, in *holidaysInput) (*holidaysOutput, error) {
		h, err := route.ParseHolidays(in.RawBody)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		if h.Country != in.Country {
			return nil, fieldError("country", "the file is for "+h.Country+", not "+in.Country, nil)
		}
		if err := s.store.SetHolidays(ctx, h); err != nil {
			return nil, s.routingProblem(err)
		}
		return &holidaysOutput{Body: h}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-holidays", Method: http.MethodGet, Path: "/api/v1/holidays/{country}", Tags: tags,
		Summary: "A country's public holidays",
	}, func(ctx context.Context, in *countryInput) (*holidaysOutput, error) {
		h, err := s.store.Holidays(ctx, in.Country)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		return &holidaysOutput{Body: h}, nil
	})

	const routingDoc = "The body is the whole routing document (YAML or JSON; see docs/speed-to-lead.md): zones, ordered " +
		"rules (request type, country, zone, offer, source, potential value band, an expression over scores) each " +
		"sending leads to a team, the default team, the first contact and the SLA. It is validated first: every problem " +
		"is reported with its line, and nothing is applied. From then on every new lead is routed, answered and timed by it."
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		huma.Register(api, huma.Operation{
			OperationID: "apply-routing-rules-" + map[string]string{"PUT": "put", "POST": "post"}[method],
			Method:      method, Path: "/api/v1/routing/rules", Tags: tags,
			Summary: "Apply a new version of the routing rules", Description: routingDoc,
			MaxBodyBytes: route.MaxDocumentBytes, DefaultStatus: http.StatusCreated,
		}, func(ctx context.Context, in *routingInput) (*routingOutput, error) {
			for _, q := range []struct{ name, v string }{{"comment", in.Comment}, {"by", in.By}} {
				if !utf8.ValidString(q.v) || score.BadText(q.v) {
					return nil, huma.Error422UnprocessableEntity("validation failed",
						&huma.ErrorDetail{Location: "query." + q.name, Message: "printable text only"})
				}
			}
			v, err := s.store.ApplyRouting(ctx, in.RawBody, in.Comment, caller(ctx, in.By))
			if err != nil {
				return nil, s.routingProblem(err)
			}
			return &routingOutput{Status: http.StatusCreated, Body: v}, nil
		})
	}
	huma.Register(api, huma.Operation{
		OperationID: "get-routing-rules", Method: http.MethodGet, Path: "/api/v1/routing/rules", Tags: tags,
		Summary: "The routing rules in force",
	}, func(ctx context.Context, _ *struct{}) (*routingOutput, error) {
		hist, err := s.store.RoutingHistory(ctx)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		if len(hist) == 0 {
			return nil, huma.Error404NotFound("no routing rules yet: new leads are not routed (PUT /api/v1/routing/rules)")
		}
		return &routingOutput{Status: http.StatusOK, Body: hist[0]}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-routing-rule-versions", Method: http.MethodGet, Path: "/api/v1/routing/rules/versions", Tags: tags,
		Summary: "Every version of the routing rules, newest first",
	}, func(ctx context.Context, _ *struct{}) (*routingVersions, error) {
		hist, err := s.store.RoutingHistory(ctx)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		out := &routingVersions{}
		out.Body.Versions = hist
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-contact-sla", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/sla", Tags: tags,
		Summary: "A lead's SLA clock: running, paused (outside business hours), met or breached",
	}, func(ctx context.Context, in *struct {
		ID int64 `path:"id" minimum:"1"`
	}) (*slaOutput, error) {
		sla, err := s.store.LeadSLA(ctx, in.ID)
		if err != nil {
			return nil, s.routingProblem(err)
		}
		return &slaOutput{Body: sla}, nil
	})
}

func (s *Server) registerSpeedReport(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "speed-to-lead-report", Method: http.MethodGet, Path: "/api/v1/reports/speed-to-lead",
		Tags: []string{"Speed to lead"}, Summary: "Time to first touch and first human contact, SLA attainment, escalations, meetings",
		Description: "Over the leads routed in [from, to): p50 and p90 of the seconds from arrival to the first automated " +
			"message sent and to the first human contact, SLA met, breached and still open, attainment (met / decided), " +
			"how many leads reached each escalation level, and their meetings booked, held and missed.",
	}, func(ctx context.Context, in *speedReportInput) (*speedReportOutput, error) {
		to := in.To
		if to.IsZero() {
			to = s.clock.Now()
		}
		switch {
		case !to.After(in.From):
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.to", Message: "must be after from"})
		case to.Sub(in.From) > store.MaxReportRange:
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.to", Message: "at most 366 days after from"})
		}
		r, err := s.store.SpeedToLead(ctx, store.SpeedReportParams{From: in.From, To: to, By: in.By})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &speedReportOutput{Body: r}, nil
	})
}

// routingProblem maps routing's errors; the rest go to problem.
func (s *Server) routingProblem(err error) error {
	if err == nil {
		return nil
	}
	var re *route.Error
	var de *route.DocumentError
	var inUse *store.TeamInUseError
	switch {
	case errors.As(err, &re):
		if re.Field == "document" {
			return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body", Message: re.Reason})
		}
		if re.Field == "name" { // owners' and teams' names are in the path
			return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "path.name", Message: re.Reason})
		}
		return fieldError(re.Field, re.Reason, nil)
	case errors.As(err, &de):
		return problems("the routing rules are invalid; nothing was applied", de.Problems)
	case errors.As(err, &inUse):
		return huma.Error409Conflict(inUse.Error())
	case errors.Is(err, store.ErrOwnerNotFound):
		return huma.Error404NotFound("owner not found")
	case errors.Is(err, store.ErrTeamNotFound):
		return huma.Error404NotFound("team not found")
	case errors.Is(err, store.ErrAbsenceNotFound):
		return huma.Error404NotFound("absence not found")
	case errors.Is(err, store.ErrNoHolidays):
		return huma.Error404NotFound("no holidays loaded for that country")
	case errors.Is(err, store.ErrNoSLA):
		return huma.Error404NotFound(err.Error())
	}
	return s.problem(err, "")
}
