package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/store"
)

func TestTemplatesOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		d0 := map[string]any{"name": "d0", "channel": "email", "subject": `{{ contact.first_name | default: "Hello" }}, got it`,
			"html": `<p>Thanks {{ contact.first_name }}.</p><p><a href="{{ booking_url }}">Book a slot</a></p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`}
		r := a.do(t, "POST", "/api/v1/templates", d0)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		if tp := decode[store.Template](t, r); tp.Version != 1 || tp.Channel != "email" {
			t.Errorf("created = %+v", tp)
		}
		if r := a.do(t, "POST", "/api/v1/templates", d0); r.Status != http.StatusOK {
			t.Errorf("same content again: %d; want 200", r.Status)
		}
		d0["subject"] = "Got it"
		if r := a.do(t, "POST", "/api/v1/templates", d0); r.Status != http.StatusCreated || decode[store.Template](t, r).Version != 2 {
			t.Errorf("new content: %d %s; want 201 with version 2", r.Status, r.Raw)
		}
		if vs := decode[[]store.TemplateVersion](t, a.do(t, "GET", "/api/v1/templates/d0/versions", nil)); len(vs) != 2 || vs[0].Version != 2 {
			t.Errorf("versions = %+v", vs)
		}
		if list := userTemplates(decode[[]store.Template](t, a.do(t, "GET", "/api/v1/templates", nil))); len(list) != 1 || list[0].Name != "d0" {
			t.Errorf("list = %+v", list)
		}
		c := a.createContact(t, map[string]any{"email": "x@example.com", "first_name": "<script>alert(1)</script>"})
		p := decode[message.Rendered](t, a.do(t, "POST", "/api/v1/templates/d0/preview", map[string]any{"contact_id": c.ID}))
		if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "&lt;script&gt;") || !strings.Contains(p.Text, "Book a slot") {
			t.Errorf("preview = %+v; want the name escaped in the HTML and a text part", p)
		}
		wantProblem(t, a.do(t, "POST", "/api/v1/templates/nope/preview", map[string]any{"contact_id": c.ID}), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "POST", "/api/v1/templates/d0/preview", map[string]any{"contact_id": c.ID + 100}), http.StatusNotFound, "")
		wantProblem(t, a.do(t, "GET", "/api/v1/templates/nope", nil), http.StatusNotFound, "")
	})
}

func TestBadTemplatesAreRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		const path = "/api/v1/templates"
		for _, c := range []struct {
			name     string
			body     any
			want     int
			location string
		}{
			{"malformed", `{"name": "a", `, http.StatusBadRequest, ""},
			{"not an object", `["a"]`, http.StatusUnprocessableEntity, ""},
			{"unknown key", `{"name": "a", "channel": "sms", "text": "x", "from": "me"}`, http.StatusUnprocessableEntity, ""},
			{"no name", map[string]any{"channel": "sms", "text": "x"}, http.StatusUnprocessableEntity, "body.name"},
			{"hostile name", map[string]any{"name": "../etc", "channel": "sms", "text": "x"}, http.StatusUnprocessableEntity, "body.name"},
			{"no channel", map[string]any{"name": "a", "text": "x"}, http.StatusUnprocessableEntity, "body.channel"},
			{"unknown variable", map[string]any{"name": "a", "channel": "email", "subject": "x", "html": "<p>\n{{ contact.frist_name }}</p>"}, http.StatusUnprocessableEntity, "body.html"},
			{"syntax", map[string]any{"name": "a", "channel": "sms", "text": "{% for x in %}"}, http.StatusUnprocessableEntity, "body.text"},
			{"header injection", map[string]any{"name": "a", "channel": "email", "subject": "x\r\nBcc: all@example.com", "text": "y"}, http.StatusUnprocessableEntity, "body.subject"},
			{"not UTF-8", "{\"name\": \"a\", \"channel\": \"sms\", \"text\": \"\xff\"}", http.StatusBadRequest, ""},
			{"NUL", map[string]any{"name": "a", "channel": "sms", "text": "a\x00b"}, http.StatusUnprocessableEntity, "body.text"},
			{"oversized", map[string]any{"name": "a", "channel": "sms", "text": strings.Repeat("x", 3*message.MaxBody)}, http.StatusRequestEntityTooLarge, ""},
			{"oversized part", map[string]any{"name": "a", "channel": "sms", "text": strings.Repeat("x", message.MaxBody+1)}, http.StatusUnprocessableEntity, "body.text"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := wantProblem(t, a.do(t, "POST", path, c.body), c.want, c.location)
				if c.name == "unknown variable" && !strings.Contains(fmt.Sprint(p), "line 2") {
					t.Errorf("problem = %+v; want the line", p)
				}
			})
		}
		if list := userTemplates(decode[[]store.Template](t, a.do(t, "GET", path, nil))); len(list) != 0 {
			t.Errorf("templates after refused saves = %+v; want none", list)
		}
		if r := a.send(t, "POST", path, map[string]any{"name": "a", "channel": "sms", "text": "x"}); r.Status != http.StatusUnauthorized {
			t.Errorf("without a key: %d; want 401", r.Status)
		}
	})
}

// userTemplates leaves out the templates Nurture saves itself.
func userTemplates(list []store.Template) []store.Template {
	return slices.DeleteFunc(list, func(tp store.Template) bool { return tp.Name == store.ConfirmTemplate })
}
