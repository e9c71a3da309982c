package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

func TestTemplatesKeepVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		in := store.TemplateInput{Name: "d0", Channel: store.ChannelEmail, Subject: "Hi {{ contact.first_name }}",
			HTML: `<p>Thanks {{ contact.first_name | default: "there" }}</p><a href="{{ unsubscribe_url }}">stop</a>`, By: "ana"}
		tp, changed, err := s.SaveTemplate(ctx, in)
		if err != nil || !changed || tp.Version != 1 {
			t.Fatalf("first save = %+v, %v, %v; want version 1", tp, changed, err)
		}
		if _, changed, err := s.SaveTemplate(ctx, in); err != nil || changed {
			t.Errorf("same content again: changed %v, %v; want unchanged", changed, err)
		}
		in.Subject = "Hello {{ contact.first_name }}"
		if tp, changed, err = s.SaveTemplate(ctx, in); err != nil || !changed || tp.Version != 2 {
			t.Errorf("changed subject = %+v, %v, %v; want version 2", tp, changed, err)
		}
		versions, err := s.TemplateVersions(ctx, "d0")
		if err != nil || len(versions) != 2 || versions[0].Version != 2 || versions[1].Subject != "Hi {{ contact.first_name }}" || versions[0].CreatedBy != "ana" {
			t.Errorf("versions = %+v, %v", versions, err)
		}
		id := newContact(t, s, contact.Input{Email: "x@example.com", FirstName: "<b>Bo</b>"})
		r, err := s.PreviewTemplate(ctx, "d0", id)
		if err != nil || r.Subject != "Hello <b>Bo</b>" || !strings.Contains(r.HTML, "&lt;b&gt;Bo&lt;/b&gt;") || !strings.Contains(r.Text, "Thanks") {
			t.Errorf("preview = %+v, %v; want the name escaped in the HTML only", r, err)
		}
		if _, err := s.PreviewTemplate(ctx, "nope", id); !errors.Is(err, store.ErrTemplateNotFound) {
			t.Errorf("preview of an unknown template: %v", err)
		}
		if _, err := s.PreviewTemplate(ctx, "d0", 999); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("preview for an unknown contact: %v", err)
		}
	})
}

func TestBadTemplatesAreRefusedWhole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		for _, c := range []struct {
			name string
			in   store.TemplateInput
			want string
		}{
			{"unknown variable", store.TemplateInput{Name: "a", Channel: "email", Subject: "x", HTML: "{{ contact.frist_name }}"}, "frist_name"},
			{"syntax", store.TemplateInput{Name: "a", Channel: "email", Subject: "x", HTML: "{% if %}"}, "html"},
			{"email without subject", store.TemplateInput{Name: "a", Channel: "email", Text: "x"}, "subject"},
			{"sms with html", store.TemplateInput{Name: "a", Channel: "sms", HTML: "<p>x</p>"}, "text only"},
			{"unknown channel", store.TemplateInput{Name: "a", Channel: "fax", Text: "x"}, "channel"},
		} {
			_, _, err := s.SaveTemplate(ctx, c.in)
			var me *message.Error
			if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v; want a message.Error naming %q", c.name, err, c.want)
			}
		}
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "sms1", Channel: "sms", Text: "Hi {{ contact.first_name }}"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "sms1", Channel: "email", Subject: "x", Text: "y"}); err == nil {
			t.Error("a template changed channel")
		}
		list, err := s.Templates(ctx)
		list = slices.DeleteFunc(list, func(tp store.Template) bool { return tp.Name == store.ConfirmTemplate })
		if err != nil || len(list) != 1 || list[0].Name != "sms1" || list[0].Version != 1 {
			t.Errorf("templates = %+v, %v; want sms1 alone (beside the built-in ones), version 1", list, err)
		}
	})
}
