package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

// maxSegmentBody bounds a segment definition or a preview.
const maxSegmentBody = 64 << 10

// maxListBody bounds a list of members to add (ids, emails or CSV).
const maxListBody = 1 << 20

// maxListItems bounds the members added in one request.
const maxListItems = 10000

// segmentBody is a segment as clients send it.
type segmentBody struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Kind        string         `json:"kind"`
	Rule        *segment.Input `json:"rule"`
}

type segmentWrite struct {
	RawBody []byte `contentType:"application/json" doc:"{\"name\", \"description\"?, \"kind\"? (dynamic or static), \"rule\": text form (a string) or JSON form (an object)}"`
}

type segmentPut struct {
	Name    string `path:"name" maxLength:"64"`
	RawBody []byte `contentType:"application/json"`
}

type segmentName struct {
	Name string `path:"name" maxLength:"64"`
}

type savedOutput struct {
	Status int
	Body   store.SavedSegment
}

type membersInput struct {
	Name  string `path:"name" maxLength:"64"`
	After int64  `query:"after" minimum:"0" doc:"contact id to continue after (the next of the previous page)"`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type listMembersInput struct {
	Name    string `path:"name" maxLength:"64"`
	RawBody []byte `contentType:"application/json" doc:"{\"contact_ids\": [...], \"emails\": [...]}, or text/csv with one id or email per line"`
}

type listMemberInput struct {
	Name      string `path:"name" maxLength:"64"`
	ContactID int64  `path:"contact_id" minimum:"1"`
}

type previewInput struct {
	RawBody []byte `contentType:"application/json" doc:"{\"rule\": text or JSON form, \"sample\"?: how many matching ids to return (default 20, at most 100)}"`
}

// decodeStrict decodes one JSON value into v: a body that is not JSON (or
// has more after it) is a 400, JSON of the wrong shape (types, unknown
// fields) a 422, as docs/api.md says.
func decodeStrict(raw []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&json.RawMessage{}) != io.EOF {
			return huma.Error400BadRequest("the body has data after the JSON value")
		}
		return nil
	}
	msg := "the body is not " + what + ": " + strings.TrimPrefix(err.Error(), "json: ")
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return huma.Error400BadRequest(msg)
	}
	return huma.Error422UnprocessableEntity(msg)
}

// decodeSegment reads a segment body; name, when given, is the path's.
func decodeSegment(raw []byte, name string) (segment.Spec, error) {
	var b segmentBody
	if err := decodeStrict(raw, &b, "a segment"); err != nil {
		return segment.Spec{}, err
	}
	if name != "" {
		if b.Name != "" && b.Name != name {
			return segment.Spec{}, fieldError("name", "differs from the name in the path", b.Name)
		}
		b.Name = name
	}
	if err := segment.CheckName(b.Name); err != nil {
		return segment.Spec{}, fieldError("name", err.Error(), nil)
	}
	if err := checkLines("description", b.Description); err != nil {
		return segment.Spec{}, err
	}
	if len(b.Description) > 500 {
		return segment.Spec{}, fieldError("description", "at most 500 bytes", nil)
	}
	return segment.Spec{Name: b.Name, Description: b.Description, Kind: b.Kind, Rule: b.Rule}, nil
}

// segmentProblem is a 422 listing every fault of a segment definition.
func segmentProblem(e *segment.Error) error {
	details := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		msg := p.Reason
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Reason)
		}
		loc := "body." + strings.TrimPrefix(p.Path, "segments[0].")
		details[i] = &huma.ErrorDetail{Location: loc, Message: msg}
	}
	return huma.Error422UnprocessableEntity("the segment is invalid; nothing was saved", details...)
}

func (s *Server) registerSegments(api huma.API) {
	tags := []string{"Segments"}
	save := func(ctx context.Context, spec segment.Spec, mustBeNew bool) (*savedOutput, error) {
		saved, err := s.store.SaveSegments(ctx, store.SaveSegmentsParams{Document: segment.Document{Segments: []segment.Spec{spec}},
			By: caller(ctx, ""), New: mustBeNew})
		if errors.Is(err, store.ErrSegmentExists) {
			return nil, huma.Error409Conflict("segment " + spec.Name + " exists; PUT /api/v1/segments/" + spec.Name + " changes it")
		}
		if err != nil {
			return nil, s.problem(err, "")
		}
		status := http.StatusOK
		if saved[0].Changed {
			status = http.StatusAccepted
		}
		if saved[0].Changed && saved[0].Segment.Version == 1 {
			status = http.StatusCreated
		}
		return &savedOutput{Status: status, Body: saved[0]}, nil
	}
	const ruleDoc = "The rule is the text form (a string, e.g. `country == \"FR\" and count(\"page_viewed\", \"14d\", " +
		"event.url contains \"/pricing\") >= 2`) or the JSON form (an object); see docs/segments.md. It is validated first: " +
		"every problem is reported with its place, and nothing is saved. A new or changed dynamic segment is built in the " +
		"background (its job is in the answer; status building until done); static lists take members explicitly."
	huma.Register(api, huma.Operation{
		OperationID: "create-segment", Method: http.MethodPost, Path: "/api/v1/segments", Tags: tags,
		Summary: "Create a segment", Description: ruleDoc, MaxBodyBytes: maxSegmentBody, DefaultStatus: http.StatusCreated,
		SkipValidateBody: true,
	}, func(ctx context.Context, in *segmentWrite) (*savedOutput, error) {
		spec, err := decodeSegment(in.RawBody, "")
		if err != nil {
			return nil, err
		}
		return save(ctx, spec, true)
	})
	huma.Register(api, huma.Operation{
		OperationID: "put-segment", Method: http.MethodPut, Path: "/api/v1/segments/{name}", Tags: tags,
		Summary: "Create a segment or save a new version of it", Description: ruleDoc + " Saving the definition in force again changes nothing (200).",
		MaxBodyBytes:     maxSegmentBody,
		SkipValidateBody: true,
	}, func(ctx context.Context, in *segmentPut) (*savedOutput, error) {
		spec, err := decodeSegment(in.RawBody, in.Name)
		if err != nil {
			return nil, err
		}
		return save(ctx, spec, false)
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-segments", Method: http.MethodGet, Path: "/api/v1/segments", Tags: tags,
		Summary: "Every segment, with its member count",
	}, func(ctx context.Context, _ *struct{}) (*struct {
		Body struct{ Segments []store.Segment }
	}, error) {
		list, err := s.store.Segments(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &struct {
			Body struct{ Segments []store.Segment }
		}{}
		out.Body.Segments = list
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-segment", Method: http.MethodGet, Path: "/api/v1/segments/{name}", Tags: tags,
		Summary: "One segment, with its rule in both forms and its member count",
	}, func(ctx context.Context, in *segmentName) (*struct{ Body store.Segment }, error) {
		sg, err := s.store.GetSegment(ctx, in.Name)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Segment }{sg}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-segment", Method: http.MethodDelete, Path: "/api/v1/segments/{name}", Tags: tags,
		Summary: "Delete a segment (refused while another segment reads it)", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *segmentName) (*struct{}, error) {
		if err := s.store.DeleteSegment(ctx, in.Name); err != nil {
			return nil, s.problem(err, "")
		}
		return nil, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-segment-versions", Method: http.MethodGet, Path: "/api/v1/segments/{name}/versions", Tags: tags,
		Summary: "Every version of a segment's definition, newest first",
	}, func(ctx context.Context, in *segmentName) (*struct {
		Body struct{ Versions []store.SegmentVersion }
	}, error) {
		v, err := s.store.SegmentVersions(ctx, in.Name)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &struct {
			Body struct{ Versions []store.SegmentVersion }
		}{}
		out.Body.Versions = v
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-segment-members", Method: http.MethodGet, Path: "/api/v1/segments/{name}/members", Tags: tags,
		Summary: "A segment's members, by contact id, a page at a time",
	}, func(ctx context.Context, in *membersInput) (*struct{ Body store.MemberPage }, error) {
		page, err := s.store.SegmentMembers(ctx, in.Name, in.After, in.Limit)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.MemberPage }{page}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "add-list-members", Method: http.MethodPost, Path: "/api/v1/segments/{name}/members", Tags: tags,
		Summary:          "Add contacts to a static list",
		Description:      "JSON {\"contact_ids\": [...], \"emails\": [...]}, or a CSV body (Content-Type text/csv) with one contact id or email per line. At most 10,000 per request. Unknown ids and emails are reported, not added.",
		MaxBodyBytes:     maxListBody,
		SkipValidateBody: true,
	}, func(ctx context.Context, in *listMembersInput) (*struct{ Body listResult }, error) {
		ids, unknownEmails, err := s.listIDs(ctx, in.RawBody)
		if err != nil {
			return nil, err
		}
		ch, err := s.store.ChangeList(ctx, in.Name, ids, true)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body listResult }{listResult{ListChange: ch, UnknownEmails: unknownEmails}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "remove-list-member", Method: http.MethodDelete, Path: "/api/v1/segments/{name}/members/{contact_id}", Tags: tags,
		Summary: "Remove a contact from a static list",
	}, func(ctx context.Context, in *listMemberInput) (*struct{ Body store.ListChange }, error) {
		ch, err := s.store.ChangeList(ctx, in.Name, []int64{in.ContactID}, false)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.ListChange }{ch}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "preview-segment", Method: http.MethodPost, Path: "/api/v1/segments/preview", Tags: tags,
		Summary:          "Count and sample the contacts a draft rule selects, without saving it",
		MaxBodyBytes:     maxSegmentBody,
		SkipValidateBody: true,
	}, func(ctx context.Context, in *previewInput) (*struct{ Body store.Preview }, error) {
		var b struct {
			Rule   *segment.Input `json:"rule"`
			Sample *int           `json:"sample"`
		}
		if err := decodeStrict(in.RawBody, &b, "a preview request"); err != nil {
			return nil, err
		}
		if b.Rule == nil {
			return nil, fieldError("rule", "is required", nil)
		}
		n := 20
		if b.Sample != nil {
			if *b.Sample < 0 || *b.Sample > 100 {
				return nil, fieldError("sample", "from 0 to 100", *b.Sample)
			}
			n = *b.Sample
		}
		p, err := s.store.PreviewSegment(ctx, *b.Rule, n)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Preview }{p}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-job", Method: http.MethodGet, Path: "/api/v1/jobs/{id}", Tags: tags,
		Summary: "Progress of a background job: a segment build or a rescore",
	}, func(ctx context.Context, in *jobInput) (*struct{ Body store.Job }, error) {
		j, err := s.store.GetJob(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Job }{j}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-contact-segments", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/segments", Tags: tags,
		Summary: "The segments a contact is in, and since when",
	}, func(ctx context.Context, in *idInput) (*struct {
		Body struct{ Segments []store.ContactSegment }
	}, error) {
		list, err := s.store.ContactSegments(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &struct {
			Body struct{ Segments []store.ContactSegment }
		}{}
		out.Body.Segments = list
		return out, nil
	})
}

type listResult struct {
	store.ListChange
	UnknownEmails []string `json:"unknown_emails,omitempty"`
}

// listIDs reads the contacts of a list request: JSON ids and emails, or
// CSV lines of ids or emails.
func (s *Server) listIDs(ctx context.Context, raw []byte) ([]int64, []string, error) {
	var ids []int64
	var emails []string
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\ufeff"))) // spreadsheets write a byte order mark
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var b struct {
			ContactIDs []int64  `json:"contact_ids"`
			Emails     []string `json:"emails"`
		}
		if err := decodeStrict(trimmed, &b, "a list of members"); err != nil {
			return nil, nil, err
		}
		ids, emails = b.ContactIDs, b.Emails
	} else {
		for i, line := range strings.Split(string(trimmed), "\n") {
			v := strings.Trim(strings.TrimSpace(line), `"`)
			if v == "" || i == 0 && (strings.EqualFold(v, "email") || strings.EqualFold(v, "id") || strings.EqualFold(v, "contact_id")) {
				continue // blank line or header
			}
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				ids = append(ids, n)
			} else {
				emails = append(emails, v)
			}
		}
	}
	if len(ids)+len(emails) == 0 {
		return nil, nil, fieldError("contact_ids", "give at least one contact id or email", nil)
	}
	if len(ids)+len(emails) > maxListItems {
		return nil, nil, fieldError("contact_ids", fmt.Sprintf("at most %d members per request", maxListItems), nil)
	}
	for i, id := range ids {
		if id < 1 {
			return nil, nil, fieldError(fmt.Sprintf("contact_ids[%d]", i), "a contact id is a positive integer", id)
		}
	}
	var unknown []string
	var normalized []string
	for i, e := range emails {
		n, err := contact.NormalizeEmail(e)
		if err != nil {
			return nil, nil, fieldError(fmt.Sprintf("emails[%d]", i), "not an email address", nil)
		}
		normalized = append(normalized, n)
	}
	found, err := s.store.ContactIDsByEmail(ctx, normalized)
	if err != nil {
		return nil, nil, s.problem(err, "")
	}
	for i, n := range normalized {
		if id, ok := found[n]; ok {
			ids = append(ids, id)
		} else {
			unknown = append(unknown, emails[i])
		}
	}
	return ids, unknown, nil
}
