package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
)

// EventBody is one event sent by a client.
type EventBody struct {
	ContactID      int64           `json:"contact_id,omitempty" minimum:"1" doc:"the contact; or give email"`
	Email          string          `json:"email,omitempty" maxLength:"254" doc:"the contact's email; an unknown email creates the contact"`
	Type           string          `json:"type" minLength:"1" maxLength:"64" doc:"a standard type (see GET /api/v1/event-types) or your own, like webinar_attended"`
	OccurredAt     *time.Time      `json:"occurred_at,omitempty" doc:"RFC 3339; default now"`
	Properties     json.RawMessage `json:"properties,omitempty" doc:"a JSON object, at most 16 KiB"`
	IdempotencyKey string          `json:"idempotency_key,omitempty" maxLength:"128" doc:"makes retries safe: an event with a key already seen is not stored again"`
}

// EventResult is what became of one event.
type EventResult struct {
	Index     int          `json:"index"`
	Status    string       `json:"status" enum:"accepted,duplicate,rejected"`
	EventID   int64        `json:"event_id,omitempty"`
	ContactID int64        `json:"contact_id,omitempty"`
	Error     *EventReject `json:"error,omitempty"`
}

// EventReject says why an event was rejected.
type EventReject struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type eventInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"100"`
	Body           EventBody
}

type eventOutput struct {
	Status int
	Body   EventResult
}

type batchInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"100" doc:"item i without its own key gets KEY:i"`
	RawBody        []byte `contentType:"application/json"`
}

type batchOutput struct {
	Body struct {
		Accepted  int           `json:"accepted"`
		Duplicate int           `json:"duplicate"`
		Rejected  int           `json:"rejected"`
		Results   []EventResult `json:"results"`
	}
}

// prepare validates one event and turns it into store input.
func (s *Server) prepare(b EventBody, headerKey string, now time.Time) (store.EventInput, error) {
	in := store.EventInput{ContactID: b.ContactID, Type: b.Type, Source: "api", IdempotencyKey: b.IdempotencyKey, OccurredAt: now}
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = headerKey
	}
	if err := event.CheckType(b.Type); err != nil {
		return in, err
	}
	switch {
	case b.ContactID < 0:
		return in, &event.ValidationError{Field: "contact_id", Reason: "must be a positive id"}
	case b.ContactID != 0 && b.Email != "":
		return in, &event.ValidationError{Field: "email", Reason: "give contact_id or email, not both"}
	case b.ContactID == 0 && b.Email == "":
		return in, &event.ValidationError{Field: "contact_id", Reason: "an event needs contact_id or email"}
	case b.Email != "":
		e, err := contact.NormalizeEmail(b.Email)
		if err != nil {
			return in, err
		}
		in.Email = e
	}
	if b.OccurredAt != nil {
		if err := event.CheckOccurredAt(*b.OccurredAt, now); err != nil {
			return in, err
		}
		in.OccurredAt = *b.OccurredAt
	}
	props, err := event.CheckProperties(b.Properties)
	if err != nil {
		return in, err
	}
	in.Properties = props
	return in, event.CheckIdempotencyKey(in.IdempotencyKey)
}

// rejection describes a per-item error for the batch response.
func rejection(err error) *EventReject {
	var cv *contact.ValidationError
	var ev *event.ValidationError
	switch {
	case errors.As(err, &cv):
		return &EventReject{Field: cv.Field, Message: cv.Reason}
	case errors.As(err, &ev):
		return &EventReject{Field: ev.Field, Message: ev.Reason}
	case errors.Is(err, contact.ErrNotFound):
		return &EventReject{Field: "contact_id", Message: "no such contact"}
	case errors.Is(err, store.ErrClosed):
		return &EventReject{Message: "server shutting down; retry"}
	}
	return nil
}

func result(i int, r store.AppendResult) EventResult {
	out := EventResult{Index: i, Status: "accepted", EventID: r.EventID, ContactID: r.ContactID}
	if r.Duplicate {
		out.Status = "duplicate"
	}
	return out
}

func (s *Server) registerEvents(api huma.API) {
	tags := []string{"Events"}
	huma.Register(api, huma.Operation{
		OperationID: "append-event", Method: http.MethodPost, Path: "/api/v1/events", Tags: tags,
		Summary:      "Record one event",
		Description:  "201 with the new event; 200 when the idempotency key (body or Idempotency-Key header) was seen before.",
		MaxBodyBytes: maxEventBody, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *eventInput) (*eventOutput, error) {
		ei, err := s.prepare(in.Body, in.IdempotencyKey, s.clock.Now())
		if err != nil {
			return nil, s.problem(err, "")
		}
		r := s.store.AppendEvents(ctx, []store.EventInput{ei})[0]
		if r.Err != nil {
			return nil, s.problem(r.Err, "")
		}
		out := &eventOutput{Status: http.StatusCreated, Body: result(0, r)}
		if r.Duplicate {
			out.Status = http.StatusOK
		} else {
			s.metrics.ingested.Inc()
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "append-events", Method: http.MethodPost, Path: "/api/v1/events/batch", Tags: tags,
		Summary: fmt.Sprintf("Record up to %d events, each accepted or rejected on its own", maxBatchEvents),
		Description: "The body is `{\"events\": [event, …]}` (a bare array is accepted too). Accepted events are durable " +
			"before the response. 200 when at least one event was accepted or was a duplicate; 422 when all were rejected.",
		MaxBodyBytes: maxBatchBody,
		// Validated item by item in appendBatch: one bad event must not reject the others.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {
			Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"events"}, Properties: map[string]*huma.Schema{
				"events": {Type: huma.TypeArray, MaxItems: ptr(maxBatchEvents), Items: api.OpenAPI().Components.Schemas.Schema(reflectType[EventBody](), true, "")},
			}},
		}}},
	}, s.appendBatch)

	huma.Register(api, huma.Operation{
		OperationID: "event-types", Method: http.MethodGet, Path: "/api/v1/event-types", Tags: tags,
		Summary: "The standard event types (any other name is a custom event)",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []event.Type }, error) {
		return &struct{ Body []event.Type }{event.Registry}, nil
	})
}

func (s *Server) appendBatch(ctx context.Context, in *batchInput) (*batchOutput, error) {
	items, err := decodeBatch(in.RawBody)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	results := make([]EventResult, len(items))
	var inputs []store.EventInput
	var at []int // index in items of each input
	for i, raw := range items {
		var b EventBody
		key := ""
		if in.IdempotencyKey != "" {
			key = fmt.Sprintf("%s:%d", in.IdempotencyKey, i)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err := dec.Decode(&b)
		var ei store.EventInput
		if err == nil {
			ei, err = s.prepare(b, key, now)
		} else {
			err = &event.ValidationError{Field: "", Reason: jsonReason(err)}
		}
		if err != nil {
			results[i] = EventResult{Index: i, Status: "rejected", Error: rejection(err)}
			continue
		}
		inputs = append(inputs, ei)
		at = append(at, i)
	}
	out := &batchOutput{}
	failed := 0 // items that hit a server-side failure, not a problem with the item
	for j, r := range s.store.AppendEvents(ctx, inputs) {
		i := at[j]
		if r.Err != nil {
			rej := rejection(r.Err)
			switch {
			case rej == nil:
				// Other items of the batch may be committed: answer item by item,
				// so the client retries only what failed.
				s.log.Error("append event", "err", r.Err)
				failed++
				rej = &EventReject{Message: "not stored because of a server error; retry this event"}
			case errors.Is(r.Err, store.ErrClosed):
				failed++
			}
			results[i] = EventResult{Index: i, Status: "rejected", Error: rej}
			continue
		}
		results[i] = result(i, r)
	}
	if failed > 0 && failed == len(results) {
		return nil, huma.Error503ServiceUnavailable("no event could be stored; retry the batch")
	}
	for i := range results {
		switch results[i].Status {
		case "accepted":
			out.Body.Accepted++
		case "duplicate":
			out.Body.Duplicate++
		default:
			out.Body.Rejected++
			if results[i].Error != nil {
				results[i].Error.Field = strings.TrimSuffix(fmt.Sprintf("events[%d].%s", i, results[i].Error.Field), ".")
			}
		}
	}
	s.metrics.ingested.Add(float64(out.Body.Accepted))
	out.Body.Results = results
	if out.Body.Rejected == len(results) {
		details := make([]error, 0, min(len(results), 20))
		for _, r := range results[:cap(details)] {
			details = append(details, &huma.ErrorDetail{Location: "body." + r.Error.Field, Message: r.Error.Message})
		}
		return nil, huma.Error422UnprocessableEntity("every event was rejected", details...)
	}
	return out, nil
}

// decodeBatch splits a batch body into its events: {"events": [...]} or a bare array.
func decodeBatch(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	var items []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, huma.Error400BadRequest("body is not valid JSON: " + jsonReason(err))
		}
	} else {
		var env struct {
			Events []json.RawMessage `json:"events"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			return nil, huma.Error400BadRequest("body must be {\"events\": [...]}: " + jsonReason(err))
		}
		if dec.More() {
			return nil, huma.Error400BadRequest("body has data after the JSON object")
		}
		items = env.Events
	}
	if len(items) == 0 {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.events", Message: "needs at least one event"})
	}
	if len(items) > maxBatchEvents {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.events",
			Message: fmt.Sprintf("at most %d events per batch", maxBatchEvents)})
	}
	return items, nil
}

// jsonReason phrases a decoding error without echoing the input.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		kind := map[reflect.Kind]string{reflect.String: "a string", reflect.Int64: "an integer", reflect.Int: "an integer",
			reflect.Struct: "an object", reflect.Map: "an object", reflect.Slice: "an array", reflect.Bool: "a boolean",
			reflect.Float64: "a number"}[te.Type.Kind()]
		if kind == "" {
			kind = "of another type"
		}
		if te.Field == "" {
			return "must be " + kind
		}
		return fmt.Sprintf("%s must be %s", te.Field, kind)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}
