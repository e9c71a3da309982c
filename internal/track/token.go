// Package track signs the tokens in tracked links, open pixels and
// unsubscribe links, rewrites a message's links, and tells machine opens and
// clicks from human ones.
package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Kind is what a token is for. It is signed with the rest of the token, so
// a token made for one purpose never parses as another (an open pixel's
// token cannot unsubscribe anyone).
type Kind uint8

// The kinds of token.
const (
	KindOpen        Kind = 1 // open pixel of an outbox message
	KindClick       Kind = 2 // tracked link: message and target URL
	KindUnsubscribe Kind = 3 // one-click unsubscribe of a contact, from a message or not
	KindPreferences Kind = 4 // a contact's preference page
	KindConfirm     Kind = 5 // a double opt-in confirmation of a contact's consent
	KindMeeting     Kind = 6 // the page to cancel or reschedule a booked meeting
)

func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindClick:
		return "click"
	case KindUnsubscribe:
		return "unsubscribe"
	case KindPreferences:
		return "preferences"
	case KindConfirm:
		return "confirm"
	case KindMeeting:
		return "meeting"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Token is what a parsed token says. Message is 0 for a preferences token
// and for an unsubscribe token made without a message; Contact is 0 for
// open and click tokens; URL is set for click tokens only; Meeting for
// meeting tokens only.
type Token struct {
	Kind    Kind
	Message int64
	Contact int64
	URL     string
	Meeting int64
}

// Sizes, in bytes.
const (
	// MaxURL is the longest URL a click token carries. Longer links are
	// left untracked: Click refuses them.
	MaxURL = 2048
	// MaxToken is the longest token string Parse reads; anything longer
	// is refused before it is decoded.
	MaxToken = 4096
	// MinKey is the shortest key NewSigner accepts.
	MinKey = 32

	macSize = 16 // HMAC-SHA256 truncated: 128 bits is ample against forgery online
	version = 1
	minRaw  = 2 + 1 + macSize // version, kind, one id of one byte, MAC
)

// ErrInvalidToken is the one error Parse returns. It does not say which
// check failed, so that a client probing tokens learns nothing.
var ErrInvalidToken = errors.New("invalid token")

// A token is, before base64url encoding without padding:
//
//	version (1) | kind | fields | MAC (16)
//
// where the fields are unsigned varints, in this order:
//
//	open         message
//	click        message, then the URL's bytes up to the MAC
//	unsubscribe  contact, message (0 when none)
//	preferences  contact
//	confirm      contact
//	meeting      meeting
//
// and the MAC is HMAC-SHA256 over everything before it, truncated. The
// server keeps nothing per token: a click token carries its own target, so
// the click endpoint redirects only to URLs that were in a message Nurture
// signed (no open redirect) without a lookup.

// Signer makes and parses tokens with a server key. It is safe for
// concurrent use.
type Signer struct {
	keys [][]byte // keys[0] signs; every key verifies
}

// NewSigner returns a signer whose tokens are signed with key. Tokens
// signed with any of previous still parse, so that keys can be rotated:
// sign with the new key, keep the old one in previous until the messages
// sent with it no longer matter. Every key must be at least MinKey bytes.
func NewSigner(key []byte, previous ...[]byte) (*Signer, error) {
	s := &Signer{}
	for i, k := range append([][]byte{key}, previous...) {
		if len(k) < MinKey {
			return nil, fmt.Errorf("tracking key %d is %d bytes; at least %d are needed", i, len(k), MinKey)
		}
		s.keys = append(s.keys, append([]byte(nil), k...))
	}
	return s, nil
}

// Open returns the token of the open pixel of outbox message. message must
// be positive: the token of any other id does not parse.
func (s *Signer) Open(message int64) string {
	return s.seal(binary.AppendUvarint(head(KindOpen), uint64(message)))
}

// Click returns the token of a tracked link to target in outbox message.
// target must be an absolute http or https URL of at most MaxURL bytes and
// message positive; otherwise Click returns an error and the link should
// be left as it is.
func (s *Signer) Click(message int64, target string) (string, error) {
	if message <= 0 {
		return "", fmt.Errorf("click token: message id %d is not positive", message)
	}
	if len(target) > MaxURL {
		return "", fmt.Errorf("click token: URL is %d bytes; at most %d are tracked", len(target), MaxURL)
	}
	if !absoluteHTTP(target) {
		return "", errors.New("click token: URL is not an absolute http or https URL")
	}
	b := binary.AppendUvarint(head(KindClick), uint64(message))
	return s.seal(append(b, target...)), nil
}

// Unsubscribe returns the token of an unsubscribe link for contact, from
// outbox message, or from no message when message is 0. contact must be
// positive and message not negative: the token of other ids does not parse.
func (s *Signer) Unsubscribe(contact, message int64) string {
	b := binary.AppendUvarint(head(KindUnsubscribe), uint64(contact))
	return s.seal(binary.AppendUvarint(b, uint64(message)))
}

// Preferences returns the token of contact's preference page. contact must
// be positive: the token of any other id does not parse.
func (s *Signer) Preferences(contact int64) string {
	return s.seal(binary.AppendUvarint(head(KindPreferences), uint64(contact)))
}

// Confirm returns the token of contact's double opt-in confirmation link.
// contact must be positive: the token of any other id does not parse.
func (s *Signer) Confirm(contact int64) string {
	return s.seal(binary.AppendUvarint(head(KindConfirm), uint64(contact)))
}

// Meeting returns the token of the link that cancels or reschedules a
// booked meeting. meeting must be positive: the token of any other id
// does not parse.
func (s *Signer) Meeting(meeting int64) string {
	return s.seal(binary.AppendUvarint(head(KindMeeting), uint64(meeting)))
}

func head(k Kind) []byte {
	b := make([]byte, 2, 32)
	b[0], b[1] = version, byte(k)
	return b
}

func (s *Signer) seal(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(b, mac(s.keys[0], b)...))
}

func mac(key, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil)[:macSize]
}

// strict refuses the encodings of the same bytes that differ in the unused
// low bits of the last character, so that a token has one spelling.
var strict = base64.RawURLEncoding.Strict()

// Parse checks a token's encoding, size, MAC and contents and returns what
// it says, or ErrInvalidToken.
func (s *Signer) Parse(token string) (Token, error) {
	if len(token) > MaxToken {
		return Token{}, ErrInvalidToken
	}
	b, err := strict.DecodeString(token)
	// The decoder skips CR and LF; a token holding them is not one we made.
	if err != nil || len(b) < minRaw || strict.EncodedLen(len(b)) != len(token) {
		return Token{}, ErrInvalidToken
	}
	body, sum := b[:len(b)-macSize], b[len(b)-macSize:]
	ok := false
	for _, k := range s.keys {
		// Every key is tried whatever the outcome, so the time taken does
		// not tell which key matched.
		if hmac.Equal(mac(k, body), sum) {
			ok = true
		}
	}
	if !ok {
		return Token{}, ErrInvalidToken
	}
	t, ok := decode(body)
	if !ok {
		return Token{}, ErrInvalidToken
	}
	return t, nil
}

// decode reads a token's body once its MAC has been checked. It refuses
// anything Signer would not have written, though only a holder of the key
// could have made it, so that a bug or a leaked key is not also a crash.
func decode(b []byte) (Token, bool) {
	if b[0] != version {
		return Token{}, false
	}
	t := Token{Kind: Kind(b[1])}
	r := reader{b: b[2:]}
	switch t.Kind {
	case KindOpen:
		t.Message = r.id(false)
	case KindClick:
		t.Message = r.id(false)
		t.URL = string(r.b)
		r.b = nil
		if len(t.URL) > MaxURL || !absoluteHTTP(t.URL) {
			return Token{}, false
		}
	case KindUnsubscribe:
		t.Contact = r.id(false)
		t.Message = r.id(true)
	case KindPreferences, KindConfirm:
		t.Contact = r.id(false)
	case KindMeeting:
		t.Meeting = r.id(false)
	default:
		return Token{}, false
	}
	if r.bad || len(r.b) != 0 {
		return Token{}, false
	}
	return t, true
}

type reader struct {
	b   []byte
	bad bool
}

// id reads a varint id: positive, or zero when zeroOK, in its shortest
// encoding.
func (r *reader) id(zeroOK bool) int64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) || v > math.MaxInt64 || (v == 0 && !zeroOK) {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return int64(v)
}

// absoluteHTTP reports whether s is an absolute http or https URL with a
// host, written as it will be sent: no surrounding space, valid UTF-8.
func absoluteHTTP(s string) bool {
	if s == "" || s != strings.TrimSpace(s) || !utf8.ValidString(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}
