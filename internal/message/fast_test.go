package message

import (
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
)

// TestFastRenderMatchesLiquid renders templates both without Liquid and
// with it, for contacts with awkward data: where the fast way is taken, the
// results are the same; templates it cannot read go to Liquid.
func TestFastRenderMatchesLiquid(t *testing.T) {
	v := 1500.5
	contacts := []*contact.Contact{
		{ID: 1, Email: "ada@example.com", FirstName: "Ada", Company: "Acme", CustomFields: map[string]any{"plan": "pro", "seats": 12.0, "none": nil}},
		{ID: 2, FirstName: `<script>alert("x")</script> & 'co'`, Company: "", LastName: " ", Tags: []string{"vip"}, CustomFields: map[string]any{"plan": "<b>"}},
		{ID: 3, FirstName: "Zoë 🎉", Owner: "sam", PotentialValue: &v},
		{ID: 4},
	}
	extra := map[string]any{"unsubscribe_url": "https://n.test/u/tok?a=1&b=2", "n": 3, "nil": nil, "segments": []string{"warm"}}
	type tc struct {
		tpl  Template
		fast bool // the fast way must take it for every contact
	}
	cases := []tc{
		{Template{Subject: "Hi {{ contact.first_name }}", HTML: "<p>{{ contact.first_name | default: \"there\" }} at {{contact.company|default:'yours'}}</p>"}, true},
		{Template{Subject: "{{ contact.first_name }}  \t spaced  ", HTML: "<a href=\"{{ unsubscribe_url }}\">x</a>{{ missing }}{{ missing | default: \"d\" }}", Text: "{{ unsubscribe_url }} {{ contact.last_name | default: \"L\" }}"}, true},
		{Template{HTML: "{{ contact.custom.plan }}|{{ contact.custom.absent | default: \"none\" }}|{{ contact.custom.none | default: \"nil\" }}"}, false},
		{Template{HTML: "<p>Hello {{ contact.first_name }}</p><p>Plain }} text {{ contact.owner }}</p>"}, true},
		{Template{HTML: "plain text only"}, true},
		{Template{HTML: "{{ contact.custom.seats }}"}, false},
		{Template{HTML: "{{ contact.first_name.size }}"}, false},
		{Template{HTML: "{{ contact.tags }}"}, false},
		{Template{HTML: "{{ contact.potential_value }}"}, false},
		{Template{HTML: "{{ contact.id }}"}, false},
		{Template{HTML: "{{ n }}"}, false},
		{Template{HTML: "{{ nil | default: \"x\" }}"}, false},
		{Template{HTML: "{{ contact.segments }}"}, false},
		{Template{HTML: "{% if contact.first_name %}yes{% endif %}"}, false},
		{Template{HTML: "{{- contact.first_name -}}"}, false},
		{Template{HTML: "{{ contact.first_name | upcase }}"}, false},
		{Template{HTML: "{{ contact['first_name'] }}"}, false},
		{Template{HTML: "{{ contact.first_name | default: 'a\"b' }}"}, true},
	}
	for _, c := range cases {
		ct, err := Compile(c.tpl)
		if err != nil {
			t.Fatalf("%q: %v", c.tpl.HTML, err)
		}
		slow := *ct
		slow.fast = false
		for _, ctc := range contacts {
			want, err := slow.Render(ctc, extra)
			if err != nil {
				t.Fatalf("%q: %v", c.tpl.HTML, err)
			}
			got, ok := Rendered{}, false
			if ct.fast {
				got, ok = ct.renderFast(ctc, extra)
			}
			if c.fast && !ok {
				t.Errorf("%q for contact %d: went to Liquid; want the fast way", c.tpl.HTML, ctc.ID)
			}
			if ok && got != want {
				t.Errorf("%q for contact %d:\nfast   %+v\nliquid %+v", c.tpl.HTML, ctc.ID, got, want)
			}
			if all, err := ct.Render(ctc, extra); err != nil || all != want {
				t.Errorf("%q for contact %d: Render gave %+v, %v; want %+v", c.tpl.HTML, ctc.ID, all, err, want)
			}
		}
	}
	// WithHTML keeps the fast way for a rewritten body.
	ct, _ := Compile(Template{Subject: "s", HTML: "<a href=\"https://x.test\">x</a>"})
	w, err := ct.WithHTML("<a href=\"{{ link_0 }}\">x</a>")
	if err != nil || !w.fast {
		t.Fatalf("WithHTML: fast = %v, %v", w != nil && w.fast, err)
	}
	if r, _ := w.Render(contacts[0], map[string]any{"link_0": "https://n.test/t/c/1"}); r.HTML != "<a href=\"https://n.test/t/c/1\">x</a>" {
		t.Errorf("WithHTML rendered %q", r.HTML)
	}
}
