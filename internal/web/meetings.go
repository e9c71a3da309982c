package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
)

// The meetings API: book for a known contact, list, move, cancel, and
// log whether a meeting took place. The public booking pages are in
// booking.go.

type meetingOutput struct {
	Status int
	Body   store.Meeting
}

type meetingRef struct {
	ID int64 `path:"id" minimum:"1"`
}

type listMeetingsInput struct {
	Owner     string    `query:"owner" maxLength:"64"`
	Team      string    `query:"team" maxLength:"64" doc:"booked on this team's page"`
	ContactID int64     `query:"contact_id" minimum:"0"`
	Status    string    `query:"status" enum:"booked,cancelled,held,no_show,"`
	From      time.Time `query:"from" doc:"starting at or after (RFC 3339)"`
	To        time.Time `query:"to" doc:"starting before (RFC 3339)"`
	Limit     int       `query:"limit" minimum:"0" maximum:"500" doc:"default 100"`
	Cursor    string    `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

type listMeetingsOutput struct {
	Body struct {
		Meetings []store.Meeting `json:"meetings"`
		Next     string          `json:"next_cursor,omitempty" doc:"absent on the last page"`
	}
}

type slotsInput struct {
	Owner string    `query:"owner" maxLength:"64" doc:"an owner's page; or team"`
	Team  string    `query:"team" maxLength:"64" doc:"a team's page: each slot lists the members free then"`
	From  time.Time `query:"from" required:"true" doc:"RFC 3339"`
	To    time.Time `query:"to" doc:"RFC 3339, after from, at most 31 days later (default 7 days)"`
}

type slotsOutput struct {
	Body struct {
		store.BookingPage
		LengthMinutes int          `json:"length_minutes"`
		Slots         []store.Slot `json:"slots"`
	}
}

type bookMeetingInput struct {
	Body struct {
		ContactID int64     `json:"contact_id" minimum:"1" doc:"the lead"`
		Owner     string    `json:"owner,omitempty" maxLength:"64" doc:"book with this owner; or team"`
		Team      string    `json:"team,omitempty" maxLength:"64" doc:"book on this team's page: the free member with the fewest upcoming meetings"`
		Start     time.Time `json:"start" doc:"a free slot's start (GET /api/v1/meetings/slots), RFC 3339"`
		TimeZone  string    `json:"time_zone,omitempty" maxLength:"64" doc:"the lead's IANA zone, for their emails; default the contact's, else the page's"`
		Notes     string    `json:"notes,omitempty" maxLength:"4000" doc:"at most 1,000 characters"`
	}
}

type outcomeInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Outcome string `json:"outcome" enum:"held,no_show"`
		Notes   string `json:"notes,omitempty" maxLength:"4000" doc:"at most 1,000 characters"`
	}
}

type rescheduleInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Start time.Time `json:"start" doc:"a free slot's start, RFC 3339"`
	}
}

// maxSlotsRange is the widest range of slots one call lists.
const maxSlotsRange = 31 * 24 * time.Hour

func (s *Server) registerMeetings(api huma.API) {
	tags := []string{"Meetings"}
	huma.Register(api, huma.Operation{
		OperationID: "list-meetings", Method: http.MethodGet, Path: "/api/v1/meetings", Tags: tags,
		Summary: "Meetings, by start", Description: "Filter by owner, team page, contact, status and start; a page at a time.",
	}, func(ctx context.Context, in *listMeetingsInput) (*listMeetingsOutput, error) {
		list, next, err := s.store.Meetings(ctx, store.MeetingsParams{Owner: in.Owner, Team: in.Team, ContactID: in.ContactID,
			Status: in.Status, From: in.From, To: in.To, Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		out := &listMeetingsOutput{}
		out.Body.Meetings, out.Body.Next = list, next
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-slots", Method: http.MethodGet, Path: "/api/v1/meetings/slots", Tags: tags,
		Summary: "The free slots of an owner's or a team's booking page",
	}, func(ctx context.Context, in *slotsInput) (*slotsOutput, error) {
		to := in.To
		if to.IsZero() {
			to = in.From.Add(7 * 24 * time.Hour)
		}
		switch {
		case (in.Owner == "") == (in.Team == ""):
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.owner", Message: "give an owner or a team, not both"})
		case !to.After(in.From):
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.to", Message: "must be after from"})
		case to.Sub(in.From) > maxSlotsRange:
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.to", Message: "at most 31 days after from"})
		}
		page, slots, err := s.store.Slots(ctx, store.SlotsParams{Owner: in.Owner, Team: in.Team, From: in.From, To: to})
		if errors.Is(err, store.ErrOwnerNotFound) {
			return nil, huma.Error404NotFound("no owner of that name, or disabled")
		} else if errors.Is(err, store.ErrTeamNotFound) {
			return nil, huma.Error404NotFound("team not found")
		} else if err != nil {
			return nil, s.meetingProblem(err)
		}
		out := &slotsOutput{}
		out.Body.BookingPage, out.Body.LengthMinutes, out.Body.Slots = page, int(page.Booking.Length/time.Minute), slots
		if out.Body.Slots == nil {
			out.Body.Slots = []store.Slot{}
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-meeting", Method: http.MethodGet, Path: "/api/v1/meetings/{id}", Tags: tags, Summary: "One meeting",
	}, func(ctx context.Context, in *meetingRef) (*meetingOutput, error) {
		m, err := s.store.GetMeeting(ctx, in.ID)
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		return &meetingOutput{Status: http.StatusOK, Body: m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "book-meeting", Method: http.MethodPost, Path: "/api/v1/meetings", Tags: tags,
		Summary: "Book a meeting for a contact", DefaultStatus: http.StatusCreated, MaxBodyBytes: 16 << 10,
		Description: "The start must be a free slot of the owner's or the team's booking page (notice, horizon, working " +
			"hours, the grid of slots, other meetings and their buffers). The meeting writes a meeting_booked event and " +
			"emails both sides an invitation. A time that is not a slot is 422 on body.start, saying why; a time another " +
			"meeting took is 409.",
	}, func(ctx context.Context, in *bookMeetingInput) (*meetingOutput, error) {
		b := in.Body
		if b.Owner != "" && !route.IsName(b.Owner) {
			return nil, fieldError("owner", "no owner of that name", nil)
		}
		if b.Team != "" && !route.IsName(b.Team) {
			return nil, fieldError("team", "no team of that name", nil)
		}
		m, err := s.store.BookMeeting(ctx, store.BookParams{Owner: b.Owner, Team: b.Team, Start: b.Start, TimeZone: b.TimeZone,
			ContactID: b.ContactID, Notes: b.Notes, Source: "api"})
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		return &meetingOutput{Status: http.StatusCreated, Body: m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "meeting-outcome", Method: http.MethodPost, Path: "/api/v1/meetings/{id}/outcome", Tags: tags,
		Summary: "Log whether a meeting took place: held or no_show", MaxBodyBytes: 16 << 10,
		Description: "Writes meeting_held or meeting_no_show. Refused (409) before the meeting's start and for a cancelled " +
			"meeting; the same outcome again changes nothing, another is 409.",
	}, func(ctx context.Context, in *outcomeInput) (*meetingOutput, error) {
		m, err := s.store.MeetingOutcome(ctx, in.ID, in.Body.Outcome, in.Body.Notes)
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		return &meetingOutput{Status: http.StatusOK, Body: m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "cancel-meeting", Method: http.MethodPost, Path: "/api/v1/meetings/{id}/cancel", Tags: tags,
		Summary:     "Cancel a booked meeting: both sides get the cancellation",
		Description: "Cancelling a cancelled meeting changes nothing; one that has started or whose outcome is logged is 409.",
	}, func(ctx context.Context, in *meetingRef) (*meetingOutput, error) {
		m, err := s.store.CancelMeeting(ctx, in.ID, caller(ctx, ""))
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		return &meetingOutput{Status: http.StatusOK, Body: m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "reschedule-meeting", Method: http.MethodPost, Path: "/api/v1/meetings/{id}/reschedule", Tags: tags,
		Summary: "Move a booked meeting to another free slot of its owner", MaxBodyBytes: 4 << 10,
		Description: "The slot is one of the page the meeting was booked on, for the same owner. Both sides get the " +
			"invitation again, with a higher sequence.",
	}, func(ctx context.Context, in *rescheduleInput) (*meetingOutput, error) {
		m, err := s.store.RescheduleMeeting(ctx, in.ID, in.Body.Start, caller(ctx, ""))
		if err != nil {
			return nil, s.meetingProblem(err)
		}
		return &meetingOutput{Status: http.StatusOK, Body: m}, nil
	})
}

// meetingProblem maps meetings' errors; the rest go to problem.
func (s *Server) meetingProblem(err error) error {
	var slot *store.SlotError
	var re *route.Error
	switch {
	case errors.As(err, &slot):
		return fieldError("start", slot.Reason, nil)
	case errors.As(err, &re):
		return fieldError(re.Field, re.Reason, nil)
	case errors.Is(err, store.ErrSlotTaken):
		return huma.Error409Conflict(err.Error(), &huma.ErrorDetail{Location: "body.start", Message: err.Error()})
	case errors.Is(err, store.ErrMeetingNotFound):
		return huma.Error404NotFound("meeting not found")
	case errors.Is(err, store.ErrMeetingNotBooked), errors.Is(err, store.ErrMeetingStarted),
		errors.Is(err, store.ErrMeetingNotStarted), errors.Is(err, store.ErrOutcomeLogged):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, store.ErrOwnerNotFound):
		return fieldError("owner", "no owner of that name, or disabled", nil)
	case errors.Is(err, store.ErrTeamNotFound):
		return fieldError("team", "no team of that name", nil)
	case errors.Is(err, store.ErrBadCursor):
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	}
	return s.problem(err, "")
}
