package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// writeMIME appends m as a MIME message (RFC 2045–2047, 5322): the header,
// then multipart/alternative with the text part first and the HTML part
// last (the one clients prefer), or the one part there is, each encoded
// quoted-printable in UTF-8. messageID is the Message-ID's inside.
//
// With a calendar (RFC 6047) the body is multipart/mixed: the alternative
// with text/calendar last, then the same calendar as application/ics, the
// attachment invite.ics, both base64 (a calendar's lines are CRLF-ended
// and up to 75 octets of UTF-8: base64 keeps them so whatever relays do
// to line ends and long lines).
//
// It replaces go-mail's message writer in the sending path, which spent
// more per message than the rest of building it (half of it in the
// standard library's byte-at-a-time quoted-printable writer).
func writeMIME(b *bytes.Buffer, m *Message, messageID string) {
	header(b, "Date", m.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	header(b, "From", m.From.String())
	header(b, "To", m.To.String())
	if m.ReplyTo != "" {
		if a, err := mail.ParseAddress(m.ReplyTo); err == nil {
			header(b, "Reply-To", a.String())
		}
	}
	header(b, "Subject", encodeWords(oneLine(m.Subject)))
	header(b, "Message-ID", "<"+messageID+">")
	header(b, "MIME-Version", "1.0")
	header(b, HeaderMessage, m.ID)
	if m.ListID != "" {
		header(b, "List-Id", m.ListID)
	}
	if m.UnsubscribeURL != "" || m.UnsubscribeMailto != "" {
		var targets []string
		if m.UnsubscribeURL != "" {
			targets = append(targets, "<"+m.UnsubscribeURL+">")
		}
		if m.UnsubscribeMailto != "" {
			targets = append(targets, "<"+m.UnsubscribeMailto+">")
		}
		header(b, "List-Unsubscribe", strings.Join(targets, ", "))
		if m.UnsubscribeURL != "" {
			header(b, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		}
	}
	part := func(typ, body string) {
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\nContent-Type: ")
		b.WriteString(typ)
		b.WriteString("; charset=UTF-8\r\n\r\n")
		b.Grow(len(body) + len(body)/4 + 64)
		b.Write(appendQP(b.AvailableBuffer(), body))
	}
	switch {
	case len(m.Calendar) > 0:
		// "=_" occurs in neither quoted-printable nor base64; the two
		// boundaries differ at their third character, so neither
		// begins the other.
		id := strings.Map(boundaryChar, messageID)
		mixed, alt := "=_mix."+id, "=_alt."+id
		b.WriteString("Content-Type: multipart/mixed;\r\n boundary=\"" + mixed + "\"\r\n\r\n")
		b.WriteString("--" + mixed + "\r\n")
		b.WriteString("Content-Type: multipart/alternative;\r\n boundary=\"" + alt + "\"\r\n\r\n")
		if m.Text != "" {
			b.WriteString("--" + alt + "\r\n")
			part("text/plain", m.Text)
			b.WriteString("\r\n")
		}
		if m.HTML != "" {
			b.WriteString("--" + alt + "\r\n")
			part("text/html", m.HTML)
			b.WriteString("\r\n")
		}
		b.WriteString("--" + alt + "\r\n")
		b.WriteString("Content-Transfer-Encoding: base64\r\nContent-Type: text/calendar; charset=UTF-8; method=")
		b.WriteString(m.CalendarMethod)
		b.WriteString("\r\n\r\n")
		b.Grow(base64Len(len(m.Calendar)))
		b.Write(appendBase64(b.AvailableBuffer(), m.Calendar))
		b.WriteString("\r\n--" + alt + "--\r\n")
		b.WriteString("--" + mixed + "\r\n")
		b.WriteString("Content-Disposition: attachment; filename=\"invite.ics\"\r\n" +
			"Content-Transfer-Encoding: base64\r\nContent-Type: application/ics; name=\"invite.ics\"\r\n\r\n")
		b.Grow(base64Len(len(m.Calendar)))
		b.Write(appendBase64(b.AvailableBuffer(), m.Calendar))
		b.WriteString("\r\n--" + mixed + "--\r\n")
	case m.Text != "" && m.HTML != "":
		// "=_" never occurs in quoted-printable text, so the boundary
		// cannot occur in the parts.
		boundary := "=_" + strings.Map(boundaryChar, messageID)
		b.WriteString("Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n")
		b.WriteString("--" + boundary + "\r\n")
		part("text/plain", m.Text)
		b.WriteString("\r\n--" + boundary + "\r\n")
		part("text/html", m.HTML)
		b.WriteString("\r\n--" + boundary + "--\r\n")
	case m.HTML != "":
		part("text/html", m.HTML)
		b.WriteString("\r\n")
	default:
		part("text/plain", m.Text)
		b.WriteString("\r\n")
	}
}

// checkCalendar refuses a calendar without a method REQUEST or CANCEL, a
// method without a calendar, and a method other than the calendar's own
// METHOD, which RFC 6047 §2.4 requires it to be.
func checkCalendar(cal []byte, method string) error {
	if len(cal) == 0 {
		if method != "" {
			return errors.New("calendar method without a calendar")
		}
		return nil
	}
	if method != "REQUEST" && method != "CANCEL" {
		return fmt.Errorf("calendar method %q is not REQUEST or CANCEL", method)
	}
	// METHOD is a line of its own: a folded line goes on with a space.
	for line := range bytes.Lines(cal) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 7 && bytes.EqualFold(line[:7], []byte("METHOD:")) {
			if string(line[7:]) != method {
				return fmt.Errorf("calendar method %s is not the calendar's METHOD %q", method, line[7:])
			}
			return nil
		}
	}
	return errors.New("calendar has no METHOD property")
}

// base64Len is the length of n bytes as appendBase64 writes them.
func base64Len(n int) int { return base64.StdEncoding.EncodedLen(n) + n/57*2 }

// appendBase64 appends data in base64 (RFC 2045 §6.8), in lines of 76
// characters with CRLF between them.
func appendBase64(dst, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), 57)
		dst = base64.StdEncoding.AppendEncode(dst, data[:n])
		if data = data[n:]; len(data) > 0 {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}

// boundaryChar keeps the characters a boundary may hold (RFC 2046 §5.1.1).
func boundaryChar(r rune) rune {
	if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("'()+_,-./:=?", r) {
		return r
	}
	return '_'
}

// header writes one field, with line breaks in the value made spaces (a
// value cannot add fields) and lines folded at spaces to keep within 78
// characters where the words allow.
func header(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	line := len(name) + 1
	for word := range strings.SplitSeq(oneLine(value), " ") {
		if line+1+len(word) > 78 && line > 0 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		line += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// oneLine is s with its line breaks made spaces.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// encodeWords is s as RFC 2047 encoded words when it is not plain ASCII.
func encodeWords(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < ' ' && c != '\t' {
			if !utf8.ValidString(s) {
				s = strings.ToValidUTF8(s, "\uFFFD")
			}
			return mime.QEncoding.Encode("UTF-8", s)
		}
	}
	return s
}

// qpSafe marks the bytes quoted-printable writes as they are.
var qpSafe = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = c != '='
	}
	t[' '], t['\t'] = true, true
	return t
}()

const hexUpper = "0123456789ABCDEF"

// appendQP appends s quoted-printable (RFC 2045 §6.7): line breaks become
// CRLF, lines are at most 76 characters with soft breaks, and white space
// at a line's end is encoded.
func appendQP(dst []byte, s string) []byte {
	for len(s) > 0 {
		line := s
		nl := strings.IndexByte(s, '\n')
		if nl >= 0 {
			line, s = s[:nl], s[nl+1:]
			line = strings.TrimSuffix(line, "\r")
		} else {
			s = ""
		}
		n := 0 // the length of the output line so far
		for i := 0; i < len(line); {
			// A run of bytes written as they are, as long as fits before
			// a soft break is due; white space ending the line is encoded.
			j := i
			for j < len(line) && j-i < 75-n && qpSafe[line[j]] {
				j++
			}
			if j == len(line) && j > i && isWSP(line[j-1]) {
				j--
			}
			dst = append(dst, line[i:j]...)
			n += j - i
			if i = j; i == len(line) {
				break
			}
			// The next byte needs encoding, or the line is full.
			c := line[i]
			w := 1
			if !qpSafe[c] || isWSP(c) && i == len(line)-1 {
				w = 3
			}
			// Leave room for the soft break's "=", except for a line's last byte.
			if n+w > 75 && !(i == len(line)-1 && n+w <= 76) {
				dst = append(dst, '=', '\r', '\n')
				n = 0
			}
			if w == 1 {
				dst = append(dst, c)
			} else {
				dst = append(dst, '=', hexUpper[c>>4], hexUpper[c&15])
			}
			n += w
			i++
		}
		if nl >= 0 {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}
