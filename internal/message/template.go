// Package message renders the content of the messages Nurture sends: a
// template in Liquid (subject, HTML body, text body) applied to a contact.
// It is pure: no database, no network.
package message

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"

	"github.com/k3a/html2text"
	"github.com/osteele/liquid"

	"github.com/nurturehq/nurture/internal/contact"
)

// Template is a message's content. Subject is for email; Text, when
// empty, is made from the HTML.
type Template struct {
	Subject string
	HTML    string
	Text    string
}

// Rendered is a template applied to a contact.
type Rendered struct {
	Subject string `json:"subject,omitempty"`
	HTML    string `json:"html,omitempty"`
	Text    string `json:"text"`
}

// Problem is one thing wrong with a template: the part (subject, html,
// text), the line in it, and why.
type Problem struct {
	Part   string `json:"part"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason"`
}

// Error lists every problem of a template.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Part
		if p.Line > 0 {
			parts[i] += fmt.Sprintf(" line %d", p.Line)
		}
		parts[i] += ": " + p.Reason
	}
	return "template: " + strings.Join(parts, "; ")
}

// Limits of a template's parts, in bytes.
const (
	MaxSubject = 998 // RFC 5322's line length
	MaxBody    = 512 << 10
)

// Check parses each part and renders it for a contact with every field
// set, so that a syntax error or a variable that does not exist
// (contact.frist_name) is reported with its part and line. extra names the
// variables the sender adds (unsubscribe_url…).
func Check(t Template, extra ...string) error {
	var problems []Problem
	c := sampleContact()
	// Custom fields are free-form: any the template names exists here.
	for _, src := range []string{t.Subject, t.HTML, t.Text} {
		for _, m := range customRE.FindAllStringSubmatch(src, -1) {
			c.CustomFields[m[1]+m[2]] = "x"
		}
	}
	sample := bindings(c, false)
	for _, name := range extra {
		sample[name] = "x"
	}
	for _, p := range []struct{ name, src string }{{"subject", t.Subject}, {"html", t.HTML}, {"text", t.Text}} {
		limit := MaxBody
		if p.name == "subject" {
			limit = MaxSubject
		}
		if len(p.src) > limit {
			problems = append(problems, Problem{Part: p.name, Reason: fmt.Sprintf("longer than %d bytes", limit)})
			continue
		}
		if p.name == "subject" && strings.ContainsAny(p.src, "\r\n") {
			problems = append(problems, Problem{Part: p.name, Reason: "a subject is one line"})
			continue
		}
		if _, err := render(strict, p.src, sample); err != nil {
			problems = append(problems, problem(p.name, err))
		}
	}
	if strings.TrimSpace(t.HTML) == "" && strings.TrimSpace(t.Text) == "" {
		problems = append(problems, Problem{Part: "html", Reason: "a message needs an HTML or a text body"})
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// Text is an extra value that is text from others (a visitor's notes, an
// owner's name): HTML-escaped in the HTML body like contact data.
type Text string

// Render applies a template to a contact. Contact data and Text values are
// HTML-escaped in the HTML body (a contact named <script> reads as text);
// other extra values are the sender's own (links it made, a layout's
// content) and are not escaped.
func Render(t Template, c *contact.Contact, extra map[string]any) (Rendered, error) {
	ct, err := Compile(t)
	if err != nil {
		return Rendered{}, err
	}
	return ct.Render(c, extra)
}

// Compiled is a template parsed once, to render for many contacts; it is
// safe for concurrent use.
type Compiled struct {
	subject, html, text *liquid.Template
	derived             bool // text was made from the HTML template
	// The same parts read by parseFast, when all of them can be (fast.go).
	fast                            bool
	fastSubject, fastHTML, fastText fastTpl
}

// Compile parses a template for Render.
func Compile(t Template) (*Compiled, error) {
	var ct Compiled
	var problems []Problem
	for _, p := range []struct {
		part string
		src  string
		dst  **liquid.Template
	}{{"subject", t.Subject, &ct.subject}, {"html", t.HTML, &ct.html}, {"text", t.Text, &ct.text}} {
		if p.src == "" {
			continue
		}
		tpl, err := lax.ParseString(p.src)
		if err != nil {
			problems = append(problems, problem(p.part, err))
			continue
		}
		*p.dst = tpl
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	text := t.Text
	if ct.text == nil && ct.html != nil {
		// The text part is made from the HTML once, as a template, rather
		// than from every rendered HTML body: html2text costs as much as
		// rendering. Liquid in the HTML (outside tags) survives as text; if
		// the conversion breaks it, each message's HTML is converted instead.
		text = TextFromHTML(t.HTML)
		if tpl, err := lax.ParseString(text); err == nil {
			ct.text, ct.derived = tpl, true
		}
	}
	ct.setFast(t.Subject, t.HTML, text)
	return &ct, nil
}

// setFast reads the parts for the renderer without Liquid, which is used
// only when every part can be read so.
func (ct *Compiled) setFast(subject, html, text string) {
	ct.fastSubject, ct.fastHTML, ct.fastText = parseFast(subject), parseFast(html), parseFast(text)
	ct.checkFast()
}

func (ct *Compiled) checkFast() {
	ct.fast = (ct.subject == nil || ct.fastSubject != nil) && (ct.html == nil || ct.fastHTML != nil) &&
		(ct.text == nil || ct.fastText != nil)
}

// renderFast is Render without Liquid, for templates setFast could read;
// ok is false when a value is not a string and Liquid must format it.
func (ct *Compiled) renderFast(c *contact.Contact, extra map[string]any) (out Rendered, ok bool) {
	var b strings.Builder
	part := func(t fastTpl, escape bool) (string, bool) {
		b.Reset()
		if !t.render(&b, c, extra, escape) {
			return "", false
		}
		return b.String(), true
	}
	if out.Subject, ok = part(ct.fastSubject, false); !ok {
		return out, false
	}
	out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	if out.HTML, ok = part(ct.fastHTML, true); !ok {
		return out, false
	}
	if ct.text != nil {
		if out.Text, ok = part(ct.fastText, false); !ok {
			return out, false
		}
		if ct.derived {
			out.Text = strings.TrimSpace(out.Text)
		}
	} else if out.HTML != "" {
		out.Text = TextFromHTML(out.HTML)
	}
	return out, true
}

// Render applies the template to a contact (see the Render function).
// extra["segments"], a []string, is the contact's segments, read as
// contact.segments.
func (ct *Compiled) Render(c *contact.Contact, extra map[string]any) (Rendered, error) {
	if ct.fast {
		if out, ok := ct.renderFast(c, extra); ok {
			return out, nil
		}
	}
	var out Rendered
	var err error
	plain := bindings(c, false)
	escaped := bindings(c, true)
	for k, v := range extra {
		if k == "segments" {
			// The contact's segments, for blocks shown to some segments only:
			// {% if contact.segments contains "warm-intent" %}.
			plain["contact"].(map[string]any)["segments"] = v
			escaped["contact"].(map[string]any)["segments"] = v
			continue
		}
		if t, ok := v.(Text); ok {
			plain[k], escaped[k] = string(t), html.EscapeString(string(t))
			continue
		}
		plain[k], escaped[k] = v, v
	}
	if out.Subject, err = renderTpl(ct.subject, plain); err != nil {
		return out, &Error{Problems: []Problem{problem("subject", err)}}
	}
	out.Subject = strings.Join(strings.Fields(out.Subject), " ") // no header injection through data
	if out.HTML, err = renderTpl(ct.html, escaped); err != nil {
		return out, &Error{Problems: []Problem{problem("html", err)}}
	}
	if ct.text != nil {
		if out.Text, err = renderTpl(ct.text, plain); err != nil {
			return out, &Error{Problems: []Problem{problem("text", err)}}
		}
		if ct.derived {
			out.Text = strings.TrimSpace(out.Text)
		}
	} else if out.HTML != "" {
		out.Text = TextFromHTML(out.HTML)
	}
	return out, nil
}

// TextFromHTML is the text part made from an HTML body: links as
// "text <url>", paragraphs kept.
func TextFromHTML(h string) string {
	lines := strings.Split(html2text.HTML2TextWithOptions(h, html2text.WithLinksInnerText()), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l) // the HTML source's indentation is not the text's
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func renderTpl(t *liquid.Template, b map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	return t.RenderString(b)
}

// strict checks templates: a variable that does not exist is an error.
// lax renders them: a custom field a contact lacks is empty.
var (
	strict = func() *liquid.Engine {
		e := liquid.NewEngine()
		e.StrictVariables()
		return e
	}()
	lax      = liquid.NewEngine()
	customRE = regexp.MustCompile(`contact\.custom\.([A-Za-z0-9_]+)|contact\.custom\[["']([^"']+)["']\]`)
)

func render(e *liquid.Engine, src string, b map[string]any) (string, error) {
	if src == "" {
		return "", nil
	}
	return e.ParseAndRenderString(src, b)
}

// liquidPrefix is how the engine starts its messages ("Liquid error (line
// 2): …"); its line numbers count from 0.
var liquidPrefix = regexp.MustCompile(`^Liquid error( \(line \d+\))?: `)

func problem(part string, err error) Problem {
	p := Problem{Part: part, Reason: liquidPrefix.ReplaceAllString(err.Error(), "")}
	var se liquid.SourceError
	if errors.As(err, &se) {
		p.Line = se.LineNumber() + 1
	}
	return p
}

// bindings are the variables a template sees: contact.FIELD for every
// contact field (empty when not set, so that a misspelt name is an error
// and not an empty string), contact.custom.KEY, contact.tags.
func bindings(c *contact.Contact, escape bool) map[string]any {
	s := func(v string) string {
		if escape {
			return html.EscapeString(v)
		}
		return v
	}
	num := func(p *float64) any {
		if p == nil {
			return ""
		}
		return *p
	}
	tags := make([]any, len(c.Tags))
	for i, t := range c.Tags {
		tags[i] = s(t)
	}
	custom := map[string]any{}
	for k, v := range c.CustomFields {
		if str, ok := v.(string); ok {
			v = s(str)
		}
		custom[k] = v
	}
	return map[string]any{"contact": map[string]any{
		"id": c.ID, "email": s(c.Email), "phone": s(c.Phone), "first_name": s(c.FirstName), "last_name": s(c.LastName),
		"company": s(c.Company), "role": s(c.Role), "country": s(c.Country), "time_zone": s(c.TimeZone),
		"source": s(c.Source), "offer": s(c.Offer), "persona": s(c.Persona), "request_type": s(c.RequestType),
		"urgency": s(c.Urgency), "status": s(c.Status), "lifecycle": s(c.Lifecycle), "owner": s(c.Owner),
		"next_step": s(c.NextStep), "potential_value": num(c.PotentialValue), "budget": num(c.Budget),
		"tags": tags, "custom": custom, "segments": []string{},
	}}
}

// sampleContact has every field set, for Check.
func sampleContact() *contact.Contact {
	v := 1.0
	return &contact.Contact{ID: 1, Email: "ada@example.com", Phone: "+33600000000", FirstName: "Ada", LastName: "Lovelace",
		Company: "Acme", Role: "CTO", Country: "FR", TimeZone: "Europe/Paris", Source: "website", Offer: "audit",
		Persona: "tech", RequestType: "demo", Urgency: "high", Status: "new", Lifecycle: "lead", Owner: "sam",
		NextStep: "call", PotentialValue: &v, Budget: &v, Tags: []string{"vip"}, CustomFields: map[string]any{}}
}

// WithHTML returns a copy of ct with another HTML body (a rewrite of the
// template's own, such as its links made variables); the subject and the
// text part stay ct's.
func (ct *Compiled) WithHTML(src string) (*Compiled, error) {
	tpl, err := lax.ParseString(src)
	if err != nil {
		return nil, &Error{Problems: []Problem{problem("html", err)}}
	}
	out := *ct
	out.html, out.fastHTML = tpl, parseFast(src)
	out.checkFast()
	return &out, nil
}
