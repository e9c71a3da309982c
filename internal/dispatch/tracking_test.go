package dispatch

import (
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// A template's links made variables once give the very message that
// rewriting each rendered body gives.
func TestTrackedTemplateEqualsPerMessageRewrite(t *testing.T) {
	signer, err := track.NewSigner([]byte("a key of at least thirty-two bytes, for tests"))
	if err != nil {
		t.Fatal(err)
	}
	d := New(Config{Clock: clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), Email: &Email{
		Signer: signer, Tracking: true, PublicURL: "https://n.test",
		Marketing: email.Address{Addr: "news@acme.test"}, Transactional: email.Address{Addr: "hi@acme.test"},
	}})
	cases := map[string]struct {
		html     string
		precompd bool
	}{
		"links and entities": {`<html><body><p>Hi {{ contact.first_name }}</p><a href="https://a.test/x?a=1&amp;b=2">x</a>
<A HREF='https://a.test/y'>y</A><a href="mailto:s@a.test">m</a><a href="https://a.test/z" data-nurture-notrack>z</a>
<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>`, true},
		"loops and conditions": {`<body>{% for t in contact.tags %}<a href="https://a.test/t">{{ t }}</a>{% endfor %}
{% if contact.country == "FR" %}<a href="https://a.test/fr">fr</a>{% else %}<a href="https://a.test/en">en</a>{% endif %}</body>`, true},
		"no unsubscribe link, no body tag": {`<p><a href="https://a.test/">x</a></p>`, true},
		"own page":                         {`<body><a href="https://n.test/p/abc">prefs</a><a href="https://a.test">a</a></body>`, true},
		"a link made by Liquid":            {`<body><a href="https://a.test/{{ contact.id }}">me</a><a href="https://a.test">a</a></body>`, false},
		"a custom field as a link":         {`<body><a href="{{ contact.custom.site }}">site</a></body>`, false},
	}
	c := contact.Contact{ID: 7, Email: "ada@example.com", FirstName: "Ada <b>", Country: "FR", Tags: []string{"x", "y"},
		CustomFields: map[string]any{"site": "https://ada.example.com"}}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := &store.Outgoing{Message: store.Message{ID: 42, Template: name, TemplateVersion: 1, Kind: store.KindMarketing},
				Contact: c, Content: store.TemplateVersion{Subject: "s", HTML: tc.html}}
			fast, err := d.composeEmail(m)
			if err != nil {
				t.Fatal(err)
			}
			tt := d.tracked(m, nil)
			if (tt.ct != nil) != tc.precompd {
				t.Fatalf("precompiled = %v; want %v", tt.ct != nil, tc.precompd)
			}
			// The slow way: no tracked form of this template.
			d.templates.Store("tracked\x00"+name+"\x001", &trackedTemplate{})
			slow, err := d.composeEmail(m)
			if err != nil {
				t.Fatal(err)
			}
			if fast.HTML != slow.HTML || fast.Text != slow.Text {
				t.Errorf("tracked template:\n%s\nper message:\n%s", fast.HTML, slow.HTML)
			}
		})
	}
}
