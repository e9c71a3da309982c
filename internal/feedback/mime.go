package feedback

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// readLimited reads all of r, failing with ErrTooLarge past limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("message over %d bytes: %w", limit, ErrTooLarge)
	}
	return b, nil
}

// readMessage splits an RFC 5322 message into its header and body.
func readMessage(b []byte) (textproto.MIMEHeader, []byte, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read body: %w", err)
	}
	return textproto.MIMEHeader(msg.Header), body, nil
}

// entity is one node of a MIME tree.
type entity struct {
	header    textproto.MIMEHeader
	mediaType string // lower-cased; "text/plain" when absent or unreadable
	params    map[string]string
	body      []byte // transfer-decoded; nil for multipart containers
}

func (e *entity) attachment() bool {
	d, _, err := mime.ParseMediaType(e.header.Get("Content-Disposition"))
	return err == nil && d == "attachment"
}

// text returns the body as UTF-8, converted from the part's charset.
func (e *entity) text() string {
	return toUTF8(e.body, e.params["charset"])
}

// walker visits a MIME tree depth first, containers before their children,
// within maxParts and maxDepth. It does not descend into message/* parts:
// those are the originals reports carry, not part of the report.
type walker struct {
	parts int
}

var errStop = errors.New("stop")

// walk calls visit on each entity until visit returns true.
func (w *walker) walk(h textproto.MIMEHeader, raw []byte, visit func(*entity) bool) error {
	err := w.walkDepth(h, raw, 0, visit)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func (w *walker) walkDepth(h textproto.MIMEHeader, raw []byte, depth int, visit func(*entity) bool) error {
	w.parts++
	if w.parts > maxParts {
		return fmt.Errorf("more than %d MIME parts", maxParts)
	}
	e := &entity{header: h, mediaType: "text/plain", params: map[string]string{}}
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		switch {
		case err == nil:
			e.mediaType, e.params = mt, params
		case errors.Is(err, mime.ErrInvalidMediaParameter):
			e.mediaType = mt
		}
	}
	if !strings.HasPrefix(e.mediaType, "multipart/") {
		e.body = decodeTransfer(raw, h.Get("Content-Transfer-Encoding"))
		if visit(e) {
			return errStop
		}
		return nil
	}
	if visit(e) {
		return errStop
	}
	if depth >= maxDepth {
		return fmt.Errorf("MIME nested deeper than %d", maxDepth)
	}
	boundary := e.params["boundary"]
	if boundary == "" {
		return fmt.Errorf("%s without a boundary", e.mediaType)
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	for n := 0; ; n++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			if n == 0 {
				return fmt.Errorf("%s with no parts", e.mediaType)
			}
			// The reader also ends quietly when input stops inside a part's
			// header; only the close delimiter shows the part is whole.
			if !bytes.Contains(raw, []byte("--"+boundary+"--")) {
				return fmt.Errorf("%s not terminated", e.mediaType)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s part %d: %w", e.mediaType, n+1, err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return fmt.Errorf("%s part %d: %w", e.mediaType, n+1, err)
		}
		if err := w.walkDepth(p.Header, body, depth+1, visit); err != nil {
			return err
		}
	}
}

// decodeTransfer undoes a Content-Transfer-Encoding. Damaged encodings are
// decoded as far as they go: a bounce with a broken part is still a bounce.
func decodeTransfer(raw []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return raw
		}
		return b
	case "base64":
		clean := make([]byte, 0, len(raw))
		for _, c := range raw {
			switch {
			case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
				clean = append(clean, c)
			case c == '=':
				// Padding ends the data; anything after it is junk.
				goto done
			}
		}
	done:
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		b := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(b, clean)
		return b[:n]
	default:
		return raw
	}
}

// toUTF8 converts text in the charsets replies come in. Unknown charsets are
// read as UTF-8 with invalid bytes replaced: legible ASCII beats nothing.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1":
		return decodeSingleByte(b, nil)
	case "windows-1252", "cp1252", "x-cp1252":
		return decodeSingleByte(b, &cp1252)
	case "iso-8859-15", "iso8859-15", "latin-9", "latin9":
		return decodeSingleByte(b, &latin9)
	default:
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
}

// cp1252 maps 0x80–0x9F, where windows-1252 differs from ISO-8859-1.
var cp1252 = [32]rune{
	'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
	'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
}

// latin9 marks the ISO-8859-15 differences; the table is indexed from 0xA0.
var latin9 = [32]rune{
	0x04: '€', 0x06: 'Š', 0x08: 'š', 0x14: 'Ž', 0x18: 'ž', 0x1C: 'Œ', 0x1D: 'œ', 0x1E: 'Ÿ',
}

func decodeSingleByte(b []byte, table *[32]rune) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		r := rune(c)
		switch {
		case table == &cp1252 && c >= 0x80 && c < 0xA0:
			r = cp1252[c-0x80]
		case table == &latin9 && c >= 0xA0 && c < 0xC0 && latin9[c-0xA0] != 0:
			r = latin9[c-0xA0]
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// decodeHeader decodes RFC 2047 encoded words in the charsets toUTF8 knows,
// keeping the raw value when they are broken, and replaces invalid UTF-8.
func decodeHeader(s string) string {
	d := mime.WordDecoder{
		CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
			b, err := io.ReadAll(input)
			if err != nil {
				return nil, err
			}
			return strings.NewReader(toUTF8(b, charset)), nil
		},
	}
	if v, err := d.DecodeHeader(s); err == nil {
		s = v
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// maxFieldLen bounds a folded field's value as parseBlocks joins it.
const maxFieldLen = 16 << 10

// field is one "Name: value" line of a header-like block, name lower-cased,
// folded lines joined.
type field struct {
	name, value string
}

// block is a run of fields ended by a blank line.
type block []field

func (b block) get(name string) string {
	for _, f := range b {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

func (b block) all(name string) []string {
	var vs []string
	for _, f := range b {
		if f.name == name {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// parseBlocks reads header-like blocks separated by blank lines, as in a
// message/delivery-status body, failing past maxBlocks. It is lenient about
// lines without a colon (skipped) and about line endings.
func parseBlocks(b []byte, maxBlocks int) ([]block, error) {
	var (
		blocks []block
		cur    block
	)
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		if len(blocks) == maxBlocks {
			return fmt.Errorf("more than %d field blocks", maxBlocks)
		}
		blocks = append(blocks, cur)
		cur = nil
		return nil
	}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Joining is quadratic in the number of folds; nothing we read
			// needs more than maxFieldLen of a field.
			if f := len(cur) - 1; f >= 0 && len(cur[f].value) < maxFieldLen {
				cur[f].value = strings.TrimSpace(cur[f].value + " " + string(bytes.TrimSpace(line)))
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		cur = append(cur, field{
			name:  strings.ToLower(string(bytes.TrimSpace(line[:i]))),
			value: string(bytes.TrimSpace(line[i+1:])),
		})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return blocks, nil
}

// parseHeaderBlock reads the first block only: the header of an original
// message (message/rfc822) or a text/rfc822-headers part.
func parseHeaderBlock(b []byte) block {
	b = bytes.TrimLeft(b, "\r\n")
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i+1]
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		b = b[:i+2]
	}
	blocks, _ := parseBlocks(b, 1)
	if len(blocks) == 0 {
		return nil
	}
	return blocks[0]
}
