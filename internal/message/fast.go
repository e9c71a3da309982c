package message

import (
	"html"
	"strings"

	"github.com/nurturehq/nurture/internal/contact"
)

// Most templates are text with variables in it, and a fallback:
// "Hello {{ contact.first_name | default: "there" }}". Rendering those
// through Liquid costs a map of bindings per contact and a few
// microseconds of reflection per variable; at thousands of messages a
// second that is the largest cost of building one. A template made only of
// text and such variables is also parsed here, into a plain list, and
// rendered without Liquid whenever every value it reads is a string. The
// tests check that both ways give the same text.

// fastTpl is a template of text and simple variables.
type fastTpl []fastSeg

type fastSeg struct {
	text   string   // literal text, when path is nil
	path   []string // contact.first_name → ["contact", "first_name"]
	def    string   // the default filter's argument
	hasDef bool
}

// parseFast reads src as text and {{ path }} or {{ path | default: "x" }}
// objects, or returns nil when it holds anything else (tags, other filters,
// brackets, whitespace control).
func parseFast(src string) fastTpl {
	if strings.Contains(src, "{%") {
		return nil
	}
	var t fastTpl
	for len(src) > 0 {
		i := strings.Index(src, "{{")
		if i < 0 {
			t = append(t, fastSeg{text: src})
			break
		}
		if i > 0 {
			t = append(t, fastSeg{text: src[:i]})
		}
		j := strings.Index(src[i:], "}}")
		if j < 0 {
			return nil
		}
		seg, ok := parseObject(src[i+2 : i+j])
		if !ok {
			return nil
		}
		t = append(t, seg)
		src = src[i+j+2:]
	}
	return t
}

func parseObject(s string) (fastSeg, bool) {
	if strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.ContainsAny(s, "{}[]") {
		return fastSeg{}, false
	}
	expr, filter, hasFilter := strings.Cut(s, "|")
	var seg fastSeg
	for p := range strings.SplitSeq(strings.TrimSpace(expr), ".") {
		if !isIdent(p) {
			return fastSeg{}, false
		}
		seg.path = append(seg.path, p)
	}
	if !hasFilter {
		return seg, true
	}
	name, arg, ok := strings.Cut(strings.TrimSpace(filter), ":")
	if !ok || strings.TrimSpace(name) != "default" {
		return fastSeg{}, false
	}
	arg = strings.TrimSpace(arg)
	if len(arg) < 2 || (arg[0] != '"' && arg[0] != '\'') || arg[len(arg)-1] != arg[0] ||
		strings.IndexByte(arg[1:len(arg)-1], arg[0]) >= 0 {
		return fastSeg{}, false
	}
	seg.def, seg.hasDef = arg[1:len(arg)-1], true
	return seg, true
}

func isIdent(s string) bool {
	if s == "" || s == "true" || s == "false" || s == "nil" || s == "empty" || s == "blank" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '?'):
		default:
			return false
		}
	}
	return true
}

// render appends the template to b. ok is false when a value it reads is
// not a string (a number, a list): Liquid formats those.
func (t fastTpl) render(b *strings.Builder, c *contact.Contact, extra map[string]any, escape bool) (ok bool) {
	for _, seg := range t {
		if seg.path == nil {
			b.WriteString(seg.text)
			continue
		}
		v, ok := lookup(seg.path, c, extra, escape)
		if !ok {
			return false
		}
		if v == "" && seg.hasDef {
			v = seg.def
		}
		b.WriteString(v)
	}
	return true
}

// lookup is the string a path names, as bindings would give it to Liquid:
// contact fields (HTML-escaped when escape is set), contact.custom.KEY,
// and the sender's extra values as they are. A name nothing holds is "".
func lookup(path []string, c *contact.Contact, extra map[string]any, escape bool) (string, bool) {
	if path[0] != "contact" {
		if _, shadow := extra["segments"]; shadow && path[0] == "segments" {
			return "", false
		}
		if len(path) > 1 {
			return "", false
		}
		v := extra[path[0]]
		if v == nil {
			return "", true
		}
		if t, ok := v.(Text); ok {
			if escape {
				return html.EscapeString(string(t)), true
			}
			return string(t), true
		}
		s, ok := v.(string)
		return s, ok
	}
	if len(path) == 1 || len(path) > 2 && path[1] != "custom" {
		return "", false // the whole contact, or a string's size: Liquid's
	}
	s := func(v string) (string, bool) {
		if escape {
			v = html.EscapeString(v)
		}
		return v, true
	}
	switch path[1] {
	case "email":
		return s(c.Email)
	case "phone":
		return s(c.Phone)
	case "first_name":
		return s(c.FirstName)
	case "last_name":
		return s(c.LastName)
	case "company":
		return s(c.Company)
	case "role":
		return s(c.Role)
	case "country":
		return s(c.Country)
	case "time_zone":
		return s(c.TimeZone)
	case "source":
		return s(c.Source)
	case "offer":
		return s(c.Offer)
	case "persona":
		return s(c.Persona)
	case "request_type":
		return s(c.RequestType)
	case "urgency":
		return s(c.Urgency)
	case "status":
		return s(c.Status)
	case "lifecycle":
		return s(c.Lifecycle)
	case "owner":
		return s(c.Owner)
	case "next_step":
		return s(c.NextStep)
	case "custom":
		if len(path) != 3 {
			return "", false
		}
		v, found := c.CustomFields[path[2]]
		if !found || v == nil {
			return "", true
		}
		str, ok := v.(string)
		if !ok {
			return "", false
		}
		return s(str)
	}
	// id, numbers, tags, segments, and names no contact has: Liquid's.
	return "", false
}
