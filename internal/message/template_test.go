package message

import (
	"errors"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
)

func TestRenderPersonalisesWithFallbacks(t *testing.T) {
	tpl := Template{
		Subject: `{{ contact.first_name | default: "there" }}, your {{ contact.offer }} audit`,
		HTML:    `<p>Hello {{ contact.first_name | default: "there" }} from {{ contact.company }}</p>{% if contact.custom.plan == "pro" %}<p>Pro tips</p>{% endif %}<a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
	}
	if err := Check(tpl, "unsubscribe_url"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	ada := &contact.Contact{FirstName: "Ada", Company: "Acme", Offer: "SEO", CustomFields: map[string]any{"plan": "pro"}}
	got, err := Render(tpl, ada, map[string]any{"unsubscribe_url": "https://n.test/u/tok"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "Ada, your SEO audit" {
		t.Errorf("subject = %q", got.Subject)
	}
	if !strings.Contains(got.HTML, "Hello Ada from Acme") || !strings.Contains(got.HTML, "Pro tips") || !strings.Contains(got.HTML, `href="https://n.test/u/tok"`) {
		t.Errorf("html = %q", got.HTML)
	}
	if !strings.Contains(got.Text, "Hello Ada from Acme") || strings.Contains(got.Text, "<p>") {
		t.Errorf("text made from the html = %q", got.Text)
	}
	anon, err := Render(tpl, &contact.Contact{}, map[string]any{"unsubscribe_url": "u"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(anon.Subject, "there, your") || strings.Contains(anon.HTML, "Pro tips") {
		t.Errorf("a contact with no name or plan: %+v", anon)
	}
}

func TestRenderEscapesContactDataInHTMLOnly(t *testing.T) {
	tpl := Template{Subject: "Hi {{ contact.first_name }}", HTML: "<p>Hi {{ contact.first_name }} {{ contact.custom.note }} {{ contact.tags | join: \",\" }}</p>", Text: "Hi {{ contact.first_name }}"}
	evil := &contact.Contact{FirstName: `<script>alert(1)</script>`, Tags: []string{"<b>"}, CustomFields: map[string]any{"note": `"><img src=x>`}}
	got, err := Render(tpl, evil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.HTML, "<script>") || strings.Contains(got.HTML, "<img") || strings.Contains(got.HTML, "<b>") {
		t.Errorf("html = %q; want contact data escaped", got.HTML)
	}
	if !strings.Contains(got.HTML, "&lt;script&gt;") {
		t.Errorf("html = %q; want the name shown as text", got.HTML)
	}
	if got.Text != "Hi <script>alert(1)</script>" {
		t.Errorf("text = %q; want the name as written", got.Text)
	}
}

// TestRenderEscapesTextExtras: extra values marked Text (a visitor's
// notes) are escaped in the HTML body like contact data, on the fast path
// and through Liquid; other extras (links the sender made) are not.
func TestRenderEscapesTextExtras(t *testing.T) {
	c := &contact.Contact{FirstName: "Ann"}
	extra := map[string]any{"notes": Text(`<img src=x onerror=alert(1)> & co`), "link": "https://x.test/?a=1&b=2"}
	for name, html := range map[string]string{
		"fast":   `<p>{{ notes }} <a href="{{ link }}">go</a></p>`,
		"liquid": `<p>{% if contact.first_name %}{{ notes }}{% endif %} <a href="{{ link }}">go</a></p>`,
	} {
		got, err := Render(Template{Subject: "{{ notes }}", HTML: html, Text: "{{ notes }}"}, c, extra)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(got.HTML, "<img") || !strings.Contains(got.HTML, "&lt;img src=x onerror=alert(1)&gt; &amp; co") {
			t.Errorf("%s: html = %q; want the notes as text", name, got.HTML)
		}
		if !strings.Contains(got.HTML, `href="https://x.test/?a=1&b=2"`) {
			t.Errorf("%s: html = %q; want the link as the sender made it", name, got.HTML)
		}
		if want := "<img src=x onerror=alert(1)> & co"; got.Text != want || got.Subject != want {
			t.Errorf("%s: text %q subject %q; want the notes as written", name, got.Text, got.Subject)
		}
	}
}

func TestRenderKeepsTheSubjectOnOneLine(t *testing.T) {
	got, err := Render(Template{Subject: "Hi {{ contact.first_name }}", Text: "x"}, &contact.Contact{FirstName: "Ada\r\nBcc: all@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(got.Subject, "\r\n") || got.Subject != "Hi Ada Bcc: all@example.com" {
		t.Errorf("subject = %q; want one line", got.Subject)
	}
}

func TestCheckReportsEveryProblemWithItsPlace(t *testing.T) {
	for _, c := range []struct {
		name string
		tpl  Template
		want []string // part names and words the problems must hold
	}{
		{"unknown variable", Template{Subject: "Hi {{ contact.frist_name }}", Text: "x"}, []string{"subject", "frist_name"}},
		{"syntax", Template{HTML: "<p>\n{% if contact.country == \"FR\" %}Bonjour</p>"}, []string{"html", "if"}},
		{"unknown filter", Template{Text: "{{ contact.email | shout }}"}, []string{"text", "shout"}},
		{"unknown extra", Template{Text: "{{ unsubscribe_url }}"}, []string{"text", "unsubscribe_url"}},
		{"no body", Template{Subject: "Hi"}, []string{"html", "body"}},
		{"two-line subject", Template{Subject: "a\nb", Text: "x"}, []string{"subject", "one line"}},
		{"oversized", Template{Text: strings.Repeat("x", MaxBody+1)}, []string{"text", "longer"}},
		{"several at once", Template{Subject: "{{ contact.nope }}", HTML: "{% for %}", Text: "{{ a.b }}"}, []string{"subject", "html", "text"}},
	} {
		err := Check(c.tpl)
		var te *Error
		if !errors.As(err, &te) {
			t.Errorf("%s: err = %v; want an *Error", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to name %q", c.name, err, w)
			}
		}
	}
	if err := Check(Template{HTML: "<p>{{ contact.custom.plan | default: \"free\" }}</p>"}); err != nil {
		t.Errorf("a custom field: %v; custom fields are free-form", err)
	}
}

func TestCheckGivesTheLine(t *testing.T) {
	err := Check(Template{HTML: "<p>one</p>\n<p>two</p>\n<p>{{ contact.nope }}</p>"})
	var te *Error
	if !errors.As(err, &te) || te.Problems[0].Line != 3 {
		t.Errorf("err = %#v; want line 3", err)
	}
}

// The text part made from the HTML template once reads like the text made
// from each rendered HTML body.
func TestDerivedTextMatchesRenderedHTML(t *testing.T) {
	c := sampleContactForTest()
	for _, src := range []string{
		`<p>Hello {{ contact.first_name | default: "there" }},</p><p>See <a href="https://acme.test/x?a=1&amp;b=2">the guide</a>.</p>`,
		`<h1>News</h1><ul><li>{{ contact.company }}</li><li>Two</li></ul>{% if contact.country == "FR" %}<p>Bonjour</p>{% endif %}`,
		`<table><tr><td>{{ contact.first_name }}</td><td>{{ contact.last_name }}</td></tr></table><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
	} {
		ct, err := Compile(Template{Subject: "s", HTML: src})
		if err != nil {
			t.Fatal(err)
		}
		if !ct.derived {
			t.Errorf("%q: the text template was not derived", src)
		}
		extra := map[string]any{"unsubscribe_url": "https://n.test/u/tok"}
		got, err := ct.Render(c, extra)
		if err != nil {
			t.Fatal(err)
		}
		if want := TextFromHTML(got.HTML); got.Text != want {
			t.Errorf("derived text:\n%q\nper-message text:\n%q", got.Text, want)
		}
	}
}

func sampleContactForTest() *contact.Contact {
	c := sampleContact()
	c.FirstName, c.Company = "Ada", "Acme & Co"
	return c
}
