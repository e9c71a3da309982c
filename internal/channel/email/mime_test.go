package email

import (
	"bytes"
	"io"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestQuotedPrintableRoundTrip encodes awkward text and decodes it with the
// standard library's reader: the text comes back (line ends as CRLF), and
// every line keeps to the limits of RFC 2045.
func TestQuotedPrintableRoundTrip(t *testing.T) {
	cases := []string{
		"", "a", "plain line\nsecond line\n", "ends in space \nends in tab\t\n", "ends in space ",
		"= signs = everywhere ==", strings.Repeat("x", 75), strings.Repeat("x", 76), strings.Repeat("x", 77),
		strings.Repeat("é", 40), strings.Repeat("a=", 60), "crlf\r\nline\r\n", "lone\rCR", "\n\n\n",
		strings.Repeat("word ", 40) + "\n", strings.Repeat(" ", 100), "émoji 🎉 and \x00 nul",
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(" \t=\n\r.aé\x7f\xffz~!")
	for range 300 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, in := range cases {
		enc := appendQP(nil, in)
		for _, line := range strings.Split(string(enc), "\r\n") {
			if len(line) > 76 {
				t.Fatalf("encoding %q: line of %d characters: %q", in, len(line), line)
			}
			if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Fatalf("encoding %q: white space at a line's end: %q", in, line)
			}
			if strings.ContainsAny(line, "\r\n") {
				t.Fatalf("encoding %q: bare CR or LF in %q", in, line)
			}
		}
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(enc)))
		if err != nil {
			t.Fatalf("decoding the encoding of %q: %v\n%s", in, err, enc)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\n", "\r\n")
		if string(dec) != want {
			t.Fatalf("round trip of %q gave %q (encoded %q)", in, dec, enc)
		}
	}
}

// TestHeadersCannotBeInjected: line breaks in a subject, a name or a list
// id do not start new fields, and long values are folded, not cut.
func TestHeadersCannotBeInjected(t *testing.T) {
	m := &Message{
		ID: "m-1", From: Address{Name: "Acme\r\nBcc: evil@x.test", Addr: "news@acme.test"},
		To:      Address{Name: "Ada\nBcc: evil@x.test", Addr: "ada@example.com"},
		Subject: "Hi\r\nBcc: evil@x.test\r\n\r\nbody " + strings.Repeat("long words here ", 10) + "— fin",
		ListID:  "List\r\nBcc: evil@x.test", Text: "hello", HTML: "<p>hello</p>", Date: time.Unix(1795000000, 0).UTC(),
	}
	b, _ := NewBuilder("t")
	raw, err := b.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header["Bcc"]; got != nil {
		t.Fatalf("a Bcc field was injected: %q\n%s", got, raw)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.HasSuffix(subj, "— fin") || !strings.HasPrefix(subj, "Hi Bcc: evil@x.test") {
		t.Errorf("Subject = %q, %v", subj, err)
	}
}

// TestBuildRejectsBadAddresses: a message to or from something that is not
// an address is not built.
func TestBuildRejectsBadAddresses(t *testing.T) {
	b, _ := NewBuilder("t")
	for _, a := range []string{"", "not an address", "a@b.test>", "<a@b.test", "a@b.test\r\nBcc: x@y.test"} {
		m := &Message{ID: "m-1", From: Address{Addr: "news@acme.test"}, To: Address{Addr: a}, Subject: "x", Text: "x"}
		if _, err := b.Build(m); err == nil {
			t.Errorf("built a message to %q", a)
		}
		m.From, m.To = m.To, Address{Addr: "ada@example.com"}
		if _, err := b.Build(m); err == nil {
			t.Errorf("built a message from %q", a)
		}
	}
}

func BenchmarkQuotedPrintable(b *testing.B) {
	html := strings.Repeat(`<p>Our team wrote <a href="https://acme.test/x?a=1">this</a> paragraph, with a few more words.</p>`, 60)
	b.SetBytes(int64(len(html)))
	buf := make([]byte, 0, 2*len(html))
	for b.Loop() {
		buf = appendQP(buf[:0], html)
	}
}
