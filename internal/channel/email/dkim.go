package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// signer makes DKIM-Signature fields (RFC 6376) with relaxed/relaxed
// canonicalization and SHA-256, for RSA (rsa-sha256) or Ed25519 keys
// (ed25519-sha256, RFC 8463).
//
// It is ours rather than go-msgauth's Signer because of the sending rate:
// that signer streams the message byte by byte through a pipe and a
// goroutine, which cost more per message than everything else in building
// it. The tests verify what this signs with go-msgauth's verifier.
type signer struct {
	domain, selector string
	key              crypto.Signer
	algo             string
}

func newSigner(k DKIM) (*signer, error) {
	s := &signer{domain: strings.ToLower(k.Domain), selector: k.Selector, key: k.Key}
	if k.Key != nil {
		switch k.Key.Public().(type) {
		case *rsa.PublicKey:
			s.algo = "rsa-sha256"
		case ed25519.PublicKey:
			s.algo = "ed25519-sha256"
		}
	}
	if s.algo == "" || s.domain == "" || s.selector == "" || strings.ContainsAny(s.domain+s.selector, "; \t\r\n") {
		return nil, errors.New("domain, selector and an RSA or Ed25519 key are needed")
	}
	return s, nil
}

// scratch holds canonicalized bodies between uses.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// sign returns the DKIM-Signature field for msg (header, blank line, body,
// CRLF line ends), ending in CRLF, to be put before msg's header. headers
// are the names signed; those msg lacks are signed as absent.
func (s *signer) sign(msg []byte, headers []string, at time.Time) (string, error) {
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		head, body = msg, nil
	} else {
		head = msg[:len(head)+2] // keep the last field's CRLF
	}
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	canon := relaxedBody((*bufp)[:0], body)
	bh := sha256.Sum256(canon)

	var f strings.Builder
	f.Grow(512)
	f.WriteString("DKIM-Signature: v=1; a=")
	f.WriteString(s.algo)
	f.WriteString("; c=relaxed/relaxed; d=")
	f.WriteString(s.domain)
	f.WriteString("; s=")
	f.WriteString(s.selector)
	f.WriteString(";\r\n t=")
	f.WriteString(strconv.FormatInt(at.Unix(), 10))
	f.WriteString("; h=")
	line := len(" t=; h=") + 10
	for i, h := range headers {
		if i > 0 {
			f.WriteByte(':')
			line++
		}
		if line+len(h) > 74 {
			f.WriteString("\r\n ")
			line = 1
		}
		f.WriteString(strings.ToLower(h))
		line += len(h)
	}
	f.WriteString(";\r\n bh=")
	f.WriteString(base64.StdEncoding.EncodeToString(bh[:]))
	f.WriteString(";\r\n b=")
	unsigned := f.String()

	// The header hash: the signed fields, then this one with b= empty and
	// no final CRLF (RFC 6376 §3.7), all relaxed.
	fields := splitFields(head)
	used := make([]bool, len(fields))
	canon = canon[:0]
	for _, h := range headers {
		// Several fields of one name are signed from the last up (§5.4.2).
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, h) {
				used[i] = true
				canon = relaxedHeader(canon, fields[i].raw)
				break
			}
		}
	}
	canon = relaxedHeader(canon, []byte(unsigned))
	canon = canon[:len(canon)-2]
	*bufp = canon
	digest := sha256.Sum256(canon)
	var sig []byte
	var err error
	if s.algo == "rsa-sha256" {
		sig, err = s.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	} else {
		sig, err = s.key.Sign(rand.Reader, digest[:], crypto.Hash(0))
	}
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	f.Grow(len(b64) + len(b64)/70*3 + 2)
	for len(b64) > 0 {
		n := min(len(b64), 70)
		if f.Len() > len(unsigned) {
			f.WriteString("\r\n  ")
		}
		f.WriteString(b64[:n])
		b64 = b64[n:]
	}
	f.WriteString("\r\n")
	return f.String(), nil
}

type field struct {
	name string
	raw  []byte // the whole field, folded lines and final CRLF included
}

// splitFields cuts a header block (CRLF line ends) into its fields.
func splitFields(head []byte) []field {
	var fields []field
	for len(head) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(head[end:], '\n')
			if i < 0 {
				end = len(head)
				break
			}
			end += i + 1
			if end >= len(head) || (head[end] != ' ' && head[end] != '\t') {
				break
			}
		}
		raw := head[:end]
		head = head[end:]
		name, _, ok := bytes.Cut(raw, []byte(":"))
		if !ok {
			continue
		}
		fields = append(fields, field{name: string(bytes.TrimRight(name, " \t")), raw: raw})
	}
	return fields
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// relaxedHeader appends the relaxed form of one field (RFC 6376 §3.4.2):
// name lower-cased, unfolded, runs of white space made one space, none
// around the colon or at the end; then CRLF.
func relaxedHeader(dst, raw []byte) []byte {
	name, value, _ := bytes.Cut(raw, []byte(":"))
	name = bytes.TrimRight(name, " \t")
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, ':')
	space := false
	start := true
	for _, c := range value {
		switch {
		case c == '\r' || c == '\n':
			continue
		case isWSP(c):
			space = true
			continue
		}
		if space && !start {
			dst = append(dst, ' ')
		}
		space, start = false, false
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// relaxedBody appends the relaxed form of body (RFC 6376 §3.4.4): runs of
// white space in a line made one space, none at line ends, CRLF line ends,
// no empty lines at the end, and a final CRLF unless the body is empty.
func relaxedBody(dst, body []byte) []byte {
	base := len(dst)
	keep := base // dst up to the last non-empty line
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) == 0 {
			dst = append(dst, '\r', '\n')
			continue
		}
		if bytes.IndexByte(line, '\t') < 0 && !bytes.Contains(line, []byte("  ")) {
			dst = append(dst, line...)
		} else {
			space := false
			for _, c := range line {
				if isWSP(c) {
					space = true
					continue
				}
				if space {
					dst = append(dst, ' ')
					space = false
				}
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\r', '\n')
		keep = len(dst)
	}
	return dst[:keep]
}
