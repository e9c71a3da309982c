package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

// writeProblem writes an RFC 9457 problem outside huma (auth, unknown routes).
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(huma.ErrorModel{Title: title, Status: status, Detail: detail})
}

// fieldError is a 422 naming one body field.
func fieldError(field, reason string, value any) error {
	return huma.Error422UnprocessableEntity("validation failed",
		&huma.ErrorDetail{Location: "body." + field, Message: reason, Value: value})
}

// problem maps a domain or store error to an HTTP error with a safe message.
// Unexpected errors are logged and answered with a bare 500.
func (s *Server) problem(err error, prefix string) error {
	var cv *contact.ValidationError
	var ev *event.ValidationError
	var conflict *contact.ConflictError
	var doc *score.DocumentError
	var seg *segment.Error
	var tpl *message.Error
	switch {
	case errors.As(err, &tpl):
		return templateProblem(tpl)
	case errors.Is(err, store.ErrMessageNotFound):
		return huma.Error404NotFound("message not found")
	case errors.Is(err, store.ErrMessageNotRetryable):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, store.ErrTemplateNotFound):
		return huma.Error404NotFound("template not found")
	case errors.As(err, &doc):
		return documentProblem(doc)
	case errors.As(err, &seg):
		return segmentProblem(seg)
	case errors.Is(err, store.ErrSegmentNotFound):
		return huma.Error404NotFound("segment not found")
	case errors.Is(err, store.ErrNotAList):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, store.ErrTaskNotFound):
		return huma.Error404NotFound("task not found")
	case errors.Is(err, store.ErrJobNotFound):
		return huma.Error404NotFound("job not found")
	case errors.As(err, &cv):
		return fieldError(prefix+cv.Field, cv.Reason, nil)
	case errors.As(err, &ev):
		return fieldError(prefix+ev.Field, ev.Reason, nil)
	case errors.As(err, &conflict):
		return huma.Error409Conflict("the email and the phone belong to two different contacts",
			&huma.ErrorDetail{Location: "body.email", Message: fmt.Sprintf("belongs to contact %d", conflict.EmailContact)},
			&huma.ErrorDetail{Location: "body.phone", Message: fmt.Sprintf("belongs to contact %d", conflict.PhoneContact)})
	case errors.Is(err, contact.ErrNotFound):
		return huma.Error404NotFound("contact not found")
	case errors.Is(err, contact.ErrExists):
		return huma.Error409Conflict("a contact with this email or phone already exists; use PUT /api/v1/contacts to upsert")
	case errors.Is(err, store.ErrClosed):
		return huma.Error503ServiceUnavailable("shutting down; retry")
	case store.Temporary(err):
		s.log.Warn("write conflict persisted through retries", "err", err)
		return huma.Error503ServiceUnavailable("the database is busy with conflicting writes; retry")
	}
	s.log.Error("request failed", "err", err)
	return huma.Error500InternalServerError("internal error")
}
