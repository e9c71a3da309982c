package track

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"strings"

	xhtml "golang.org/x/net/html"
)

// NoTrack is the attribute that keeps a link out of tracking. Rewrite
// removes it, so that it does not reach the recipient.
const NoTrack = "data-nurture-notrack"

// Rewrite replaces the href of each <a> tag in a rendered HTML message with
// what link returns for it, when link returns true. link sees the URL as a
// browser would follow it: entities decoded, surrounding ASCII white space trimmed; what
// it returns is escaped again when written back.
//
// link is only asked about absolute http and https URLs. These are left as
// they are: mailto:, tel:, sms:, javascript: and other schemes, #fragments,
// relative and empty links, and links with a data-nurture-notrack attribute
// (which is removed). Tags inside comments, <script>, <style>, <textarea>
// and <title> are text, not links, and are not touched.
//
// Everything else is written back byte for byte, and so are the other
// attributes of a rewritten tag; only when a tag's attributes cannot be
// located exactly (a carriage return or an entity written without its
// semicolon in a value) is that one tag written again from its parsed
// attributes.
func Rewrite(doc string, link func(href string) (string, bool)) (string, error) {
	return rewrite(doc, link, "")
}

// RewriteWithPixel is AddPixel(Rewrite(doc, link), pixelURL) in one pass
// over the document: the tokenizer's walk is most of the cost of both.
func RewriteWithPixel(doc string, link func(href string) (string, bool), pixelURL string) (string, error) {
	return rewrite(doc, link, pixelURL)
}

func rewrite(doc string, link func(href string) (string, bool), pixelURL string) (string, error) {
	var out strings.Builder
	out.Grow(len(doc) + len(doc)/8 + len(pixelURL) + 80)
	body, htm := -1, -1 // where the last </body> and </html> start in out
	z := xhtml.NewTokenizer(strings.NewReader(doc))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("rewrite links: %w", err)
			}
			out.Write(z.Raw())
			if pixelURL == "" {
				return out.String(), nil
			}
			res := out.String()
			at := len(res)
			if body >= 0 {
				at = body
			} else if htm >= 0 {
				at = htm
			}
			return res[:at] + pixelTag(pixelURL) + res[at:], nil
		}
		if tt == xhtml.EndTagToken && pixelURL != "" {
			raw := bytes.Clone(z.Raw())
			switch name, _ := z.TagName(); string(name) {
			case "body":
				body = out.Len()
			case "html":
				htm = out.Len()
			}
			out.Write(raw)
			continue
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			out.Write(z.Raw())
			continue
		}
		// TagName and Token lower-case and unescape in the tokenizer's
		// buffer, which Raw points into: copy first.
		raw := bytes.Clone(z.Raw())
		if name, hasAttr := z.TagName(); !hasAttr || string(name) != "a" {
			out.Write(raw)
			continue
		}
		tok := xhtml.Token{Type: tt, Data: "a"}
		for more := true; more; {
			var k, v []byte
			k, v, more = z.TagAttr()
			tok.Attr = append(tok.Attr, xhtml.Attribute{Key: string(k), Val: string(v)})
		}
		out.Write(rewriteTag(raw, tok, link))
	}
}

// rewriteTag returns the new text of one <a> tag.
func rewriteTag(raw []byte, tok xhtml.Token, link func(string) (string, bool)) []byte {
	href, notrack := -1, -1
	for i, a := range tok.Attr {
		switch a.Key {
		case "href":
			href = i
		case NoTrack:
			notrack = i
		}
	}
	var newHref string
	replace := false
	if notrack < 0 && href >= 0 {
		if u := strings.Trim(tok.Attr[href].Val, " \t\n\r\f"); absoluteHTTP(u) {
			newHref, replace = link(u)
		}
	}
	if !replace && notrack < 0 {
		return raw
	}
	attrs, ok := scanAttrs(raw)
	if ok {
		ok = len(attrs) == len(tok.Attr)
		for i := 0; ok && i < len(attrs); i++ {
			a := attrs[i]
			ok = a.key == tok.Attr[i].Key && html.UnescapeString(string(raw[a.valStart:a.valEnd])) == tok.Attr[i].Val
		}
	}
	if !ok {
		return serialize(tok, href, newHref, notrack)
	}
	if notrack >= 0 {
		// Drop the attribute with the space before it.
		a := attrs[notrack]
		return append(raw[:a.lead:a.lead], raw[a.end:]...)
	}
	return spliceHref(raw, attrs[href], newHref)
}

func spliceHref(b []byte, a attr, v string) []byte {
	q := `"` + html.EscapeString(v) + `"`
	if a.quoteStart < 0 {
		// href alone or href= with nothing: give it a value.
		return bytes.Join([][]byte{b[:a.keyEnd], []byte("=" + q), b[a.end:]}, nil)
	}
	return bytes.Join([][]byte{b[:a.quoteStart], []byte(q), b[a.end:]}, nil)
}

// serialize writes a tag again from its parsed attributes.
func serialize(tok xhtml.Token, href int, newHref string, notrack int) []byte {
	var b bytes.Buffer
	b.WriteString("<" + tok.Data)
	for i, a := range tok.Attr {
		if i == notrack {
			continue
		}
		v := a.Val
		if i == href && notrack < 0 {
			v = newHref
		}
		b.WriteString(" " + a.Key + `="` + html.EscapeString(v) + `"`)
	}
	if tok.Type == xhtml.SelfClosingTagToken {
		b.WriteString("/")
	}
	b.WriteString(">")
	return b.Bytes()
}

// attr locates one attribute in a raw tag: lead is where the white space
// before it starts, end is just past its value (closing quote included);
// quoteStart is the first byte of the value as written (its opening quote,
// if any), or -1 when it has no value.
type attr struct {
	key               string
	lead, keyEnd, end int
	quoteStart        int
	valStart, valEnd  int
}

// scanAttrs finds the attributes of a raw start tag the way the tokenizer
// of golang.org/x/net/html reads them (its readTag), keeping the first of
// duplicate names as it does. Rewrite checks the result against the
// tokenizer's and does not use it when they differ, so a mismatch here
// costs byte-for-byte output of one tag, never a wrong link.
func scanAttrs(b []byte) ([]attr, bool) {
	n := len(b)
	if n < 2 || b[0] != '<' || b[n-1] != '>' {
		return nil, false
	}
	space := func(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }
	skip := func(i int) int {
		for i < n && space(b[i]) {
			i++
		}
		return i
	}
	i := 1
	for i < n && !space(b[i]) && b[i] != '/' && b[i] != '>' {
		i++
	}
	var out []attr
	seen := map[string]bool{}
	for {
		lead := i
		if i = skip(i); i >= n {
			return nil, false
		}
		if b[i] == '>' {
			return out, i == n-1
		}
		a := attr{lead: lead, quoteStart: -1}
		ks := i
		for i < n {
			c := b[i]
			if c == '=' && i == ks {
				i++ // an = before the name starts is part of the name
				continue
			}
			if c == '=' || space(c) || c == '/' || c == '>' {
				break
			}
			i++
		}
		a.key, a.keyEnd = asciiLower(b[ks:i]), i
		a.valStart, a.valEnd, a.end = i, i, i
		switch j := skip(i); {
		case j < n && b[j] == '/':
			i = j + 1
		case j < n && b[j] == '=':
			i = skip(j + 1)
			a.valStart, a.valEnd = i, i
			if i < n && b[i] != '>' {
				a.quoteStart = i
				if q := b[i]; q == '"' || q == '\'' {
					k := bytes.IndexByte(b[i+1:], q)
					if k < 0 {
						return nil, false
					}
					a.valStart, a.valEnd, i = i+1, i+1+k, i+2+k
				} else {
					a.valStart = i
					for i < n && !space(b[i]) && b[i] != '>' {
						i++
					}
					a.valEnd = i
				}
			}
			a.end = i
		default:
			// No value: the white space belongs to the next attribute.
		}
		if i == lead {
			return nil, false
		}
		if a.key == "" {
			continue // a stray /, which the tokenizer drops too
		}
		if seen[a.key] {
			// The tokenizer keeps the first of duplicates; rather than
			// splice around the others, write the tag again.
			return nil, false
		}
		seen[a.key] = true
		out = append(out, a)
	}
}

func asciiLower(b []byte) string {
	s := []byte(string(b))
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			s[i] = c + 'a' - 'A'
		}
	}
	return string(s)
}

// AddPixel inserts an open pixel for pixelURL just before the document's
// last </body>, or before its last </html> when it has no </body>, or at the
// end when it has neither. Tags inside comments and <script> do not count.
func AddPixel(doc, pixelURL string) string {
	img := pixelTag(pixelURL)
	body, htm := -1, -1
	z := xhtml.NewTokenizer(strings.NewReader(doc))
	off := 0
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		n := len(z.Raw())
		if tt == xhtml.EndTagToken {
			switch name, _ := z.TagName(); string(name) {
			case "body":
				body = off
			case "html":
				htm = off
			}
		}
		off += n
	}
	at := len(doc)
	if body >= 0 {
		at = body
	} else if htm >= 0 {
		at = htm
	}
	return doc[:at] + img + doc[at:]
}

// pixelTag is the open pixel's <img>.
func pixelTag(pixelURL string) string {
	return `<img src="` + html.EscapeString(pixelURL) + `" width="1" height="1" alt="" style="display:none">`
}
