package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

// maxTemplateBody bounds a template: a subject and two bodies of at most
// message.MaxBody each, with JSON's escaping.
const maxTemplateBody = 3 * message.MaxBody

type templateBody struct {
	Name    string `json:"name"`
	Channel string `json:"channel"`
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
	Layout  string `json:"layout"`
}

type templateWrite struct {
	RawBody []byte `contentType:"application/json" doc:"{\"name\", \"channel\": email, sms or whatsapp, \"subject\"? (email), \"html\"? (email), \"text\"?, \"layout\"? (email)}"`
}

type templateName struct {
	Name string `path:"name" maxLength:"64"`
}

type templatePreview struct {
	Name    string `path:"name" maxLength:"64"`
	RawBody []byte `contentType:"application/json" doc:"{\"contact_id\"}"`
}

type templateOutput struct {
	Status int
	Body   store.Template
}

// templateProblem is a 422 listing every fault of a template, by part.
func templateProblem(e *message.Error) error {
	details := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		msg := p.Reason
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", p.Line, p.Reason)
		}
		details[i] = &huma.ErrorDetail{Location: "body." + p.Part, Message: msg}
	}
	return huma.Error422UnprocessableEntity("the template is invalid; nothing was saved", details...)
}

func (s *Server) registerTemplates(api huma.API) {
	tags := []string{"Templates"}
	huma.Register(api, huma.Operation{
		OperationID: "save-template", Method: http.MethodPost, Path: "/api/v1/templates", Tags: tags,
		Summary: "Create a template, or save a new version of it",
		Description: "The subject, HTML and text are Liquid: `{{ contact.first_name | default: \"there\" }}`, " +
			"`{% if contact.country == \"FR\" %}…{% endif %}`, `{{ contact.custom.plan }}`, and the sender's " +
			"`unsubscribe_url`, `preferences_url` and `booking_url`. A template is checked when saved: syntax errors and " +
			"unknown variables are 422s naming the part and line, and nothing is saved. 201 when a version was written, " +
			"200 when the content was the version in force.",
		MaxBodyBytes: maxTemplateBody, DefaultStatus: http.StatusCreated, SkipValidateBody: true,
	}, func(ctx context.Context, in *templateWrite) (*templateOutput, error) {
		if !utf8.Valid(in.RawBody) {
			return nil, huma.Error400BadRequest("the body is not UTF-8")
		}
		var b templateBody
		if err := decodeStrict(in.RawBody, &b, "a template"); err != nil {
			return nil, err
		}
		if err := segment.CheckName(b.Name); err != nil {
			return nil, fieldError("name", "a template name is 1 to 64 lowercase letters, digits, - and _", b.Name)
		}
		if b.Layout != "" && segment.CheckName(b.Layout) != nil {
			return nil, fieldError("layout", "a layout is a template name: 1 to 64 lowercase letters, digits, - and _", b.Layout)
		}
		for field, v := range map[string]string{"subject": b.Subject, "html": b.HTML, "text": b.Text} {
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }) {
				return nil, fieldError(field, "holds a control character", nil)
			}
		}
		tp, changed, err := s.store.SaveTemplate(ctx, store.TemplateInput{Name: b.Name, Channel: b.Channel,
			Subject: b.Subject, HTML: b.HTML, Text: b.Text, Layout: b.Layout, By: caller(ctx, "")})
		if err != nil {
			return nil, s.problem(err, "")
		}
		status := http.StatusCreated
		if !changed {
			status = http.StatusOK
		}
		return &templateOutput{Status: status, Body: tp}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-templates", Method: http.MethodGet, Path: "/api/v1/templates", Tags: tags,
		Summary: "List templates (the version in force of each)",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []store.Template }, error) {
		list, err := s.store.Templates(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Template }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-template", Method: http.MethodGet, Path: "/api/v1/templates/{name}", Tags: tags,
		Summary: "Get a template",
	}, func(ctx context.Context, in *templateName) (*struct{ Body store.Template }, error) {
		tp, err := s.store.GetTemplate(ctx, in.Name)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Template }{tp}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "template-versions", Method: http.MethodGet, Path: "/api/v1/templates/{name}/versions", Tags: tags,
		Summary: "List a template's versions, newest first",
	}, func(ctx context.Context, in *templateName) (*struct{ Body []store.TemplateVersion }, error) {
		list, err := s.store.TemplateVersions(ctx, in.Name)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.TemplateVersion }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "preview-template", Method: http.MethodPost, Path: "/api/v1/templates/{name}/preview", Tags: tags,
		Summary:      "Render a template for a contact",
		Description:  "Nothing is sent. The sender's links are placeholders.",
		MaxBodyBytes: 1 << 10, SkipValidateBody: true,
	}, func(ctx context.Context, in *templatePreview) (*struct{ Body message.Rendered }, error) {
		var b struct {
			ContactID int64 `json:"contact_id"`
		}
		if err := decodeStrict(in.RawBody, &b, "a preview request"); err != nil {
			return nil, err
		}
		if b.ContactID <= 0 {
			return nil, fieldError("contact_id", "is required: a contact id", nil)
		}
		r, err := s.store.PreviewTemplate(ctx, in.Name, b.ContactID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body message.Rendered }{r}, nil
	})
}
