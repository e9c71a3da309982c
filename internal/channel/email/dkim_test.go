package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// TestSignerVerifies signs awkward messages and checks each signature with
// go-msgauth's verifier: white space runs and tabs, trailing white space,
// empty lines at the end, an empty body, folded and repeated fields, and
// names in any case.
func TestSignerVerifies(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	head := "From: Ada <ada@acme.test>\r\nTo: bob@example.com\r\nSubject: a  long\r\n\tsubject\t folded \r\n" +
		"received: one\r\nReceived: two\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	bodies := map[string]string{
		"plain":          "Hello\r\nWorld\r\n",
		"spaces":         "Hello   there \t you\r\n  indented\r\ntrailing   \r\n",
		"empty lines":    "Hello\r\n\r\n\r\nWorld\r\n\r\n\r\n",
		"empty":          "",
		"only newlines":  "\r\n\r\n",
		"no final CRLF":  "Hello\r\nWorld",
		"dot lines":      ".\r\n..\r\n. x\r\n",
		"long line":      strings.Repeat("x", 5000) + "\r\n",
		"tab only lines": "a\r\n\t\r\nb\r\n",
	}
	headers := []string{"From", "To", "Subject", "Date", "Received", "Received", "List-Id"}
	for _, key := range []crypto.Signer{rsaKey, edKey} {
		s, err := newSigner(DKIM{Domain: "Acme.test", Selector: "s1", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		txt, err := txtFor(key)
		if err != nil {
			t.Fatal(err)
		}
		for name, body := range bodies {
			t.Run(fmt.Sprintf("%T/%s", key, name), func(t *testing.T) {
				msg := []byte(head + "\r\n" + body)
				sig, err := s.sign(msg, headers, time.Unix(1795000000, 0))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(sig, "\r\n") || strings.Contains(sig, "\r\n\r\n") {
					t.Fatalf("field = %q; want one field ending in CRLF", sig)
				}
				raw := append([]byte(sig), msg...)
				verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
					LookupTXT: func(domain string) ([]string, error) {
						if domain != "s1._domainkey.acme.test" {
							return nil, fmt.Errorf("no TXT for %s", domain)
						}
						return []string{txt}, nil
					},
				})
				if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
					t.Fatalf("verification: %v %+v\n%s", err, verifs, raw)
				}
				if got := len(verifs[0].HeaderKeys); got != len(headers) {
					t.Errorf("h= has %d names; want %d", got, len(headers))
				}
				// Changing the body or a signed field must break it.
				for _, tamper := range [][2]string{{"Subject: a", "Subject: b"}, {"\r\n\r\n", "\r\n\r\nx"}, {"received: one", "received: 0ne"}} {
					bad := bytes.Replace(raw, []byte(tamper[0]), []byte(tamper[1]), 1)
					verifs, _ := dkim.VerifyWithOptions(bytes.NewReader(bad), &dkim.VerifyOptions{
						LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
					})
					if len(verifs) != 1 || verifs[0].Err == nil {
						t.Errorf("tampered with %q, the signature still verifies", tamper[0])
					}
				}
			})
		}
	}
}

func TestSignerRejectsBadKeys(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []DKIM{
		{Domain: "", Selector: "s1", Key: edKey},
		{Domain: "acme.test", Selector: "", Key: edKey},
		{Domain: "acme.test", Selector: "s1"},
		{Domain: "acme.test; x=1", Selector: "s1", Key: edKey},
		{Domain: "acme.test", Selector: "s1\r\nBcc: x", Key: edKey},
	} {
		if _, err := newSigner(k); err == nil {
			t.Errorf("newSigner(%q, %q) accepted", k.Domain, k.Selector)
		}
	}
}

func txtFor(key crypto.Signer) (string, error) {
	_, v, err := TXTRecord("acme.test", "s1", key)
	return v, err
}

func BenchmarkSign(b *testing.B) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := newSigner(DKIM{Domain: "acme.test", Selector: "s1", Key: edKey})
	body := strings.Repeat("Our team wrote this paragraph to fill the newsletter with text that=\r\n reads like a real one.\r\n", 80)
	msg := []byte("From: a@acme.test\r\nTo: b@example.com\r\nSubject: hi\r\n\r\n" + body)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := s.sign(msg, signedHeaders, time.Unix(1795000000, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
