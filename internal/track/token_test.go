package track

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testSigner(t testing.TB, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{seed}, MinKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustClick(t testing.TB, s *Signer, msg int64, u string) string {
	t.Helper()
	tok, err := s.Click(msg, u)
	if err != nil {
		t.Fatalf("Click(%d, %q): %v", msg, u, err)
	}
	return tok
}

func TestNewSignerKeyLength(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner(make([]byte, MinKey-1)); err == nil {
		t.Errorf("NewSigner(%d bytes) succeeded; want an error", MinKey-1)
	}
	if _, err := NewSigner(make([]byte, MinKey), make([]byte, 8)); err == nil {
		t.Error("NewSigner with a short previous key succeeded; want an error")
	}
	if _, err := NewSigner(make([]byte, MinKey)); err != nil {
		t.Errorf("NewSigner(%d bytes): %v", MinKey, err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	long := "https://example.com/" + strings.Repeat("x", MaxURL-len("https://example.com/"))
	tests := []struct {
		name  string
		token string
		want  Token
	}{
		{"open", s.Open(42), Token{Kind: KindOpen, Message: 42}},
		{"open max id", s.Open(1<<63 - 1), Token{Kind: KindOpen, Message: 1<<63 - 1}},
		{"click", mustClick(t, s, 7, "https://example.com/a?b=c&d=e#f"), Token{Kind: KindClick, Message: 7, URL: "https://example.com/a?b=c&d=e#f"}},
		{"click http", mustClick(t, s, 1, "http://example.com"), Token{Kind: KindClick, Message: 1, URL: "http://example.com"}},
		{"click unicode", mustClick(t, s, 1, "https://例え.jp/パス"), Token{Kind: KindClick, Message: 1, URL: "https://例え.jp/パス"}},
		{"click longest", mustClick(t, s, 1, long), Token{Kind: KindClick, Message: 1, URL: long}},
		{"unsubscribe", s.Unsubscribe(9, 300), Token{Kind: KindUnsubscribe, Contact: 9, Message: 300}},
		{"unsubscribe without message", s.Unsubscribe(9, 0), Token{Kind: KindUnsubscribe, Contact: 9}},
		{"preferences", s.Preferences(123456789), Token{Kind: KindPreferences, Contact: 123456789}},
		{"confirm", s.Confirm(77), Token{Kind: KindConfirm, Contact: 77}},
		{"meeting", s.Meeting(31), Token{Kind: KindMeeting, Meeting: 31}},
		{"meeting max id", s.Meeting(1<<63 - 1), Token{Kind: KindMeeting, Meeting: 1<<63 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Parse(tt.token)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.token, err)
			}
			if got != tt.want {
				t.Errorf("Parse = %+v; want %+v", got, tt.want)
			}
			if len(tt.token) > MaxToken {
				t.Errorf("token is %d characters; more than MaxToken", len(tt.token))
			}
			if strings.ContainsAny(tt.token, "+/=") {
				t.Errorf("token %q is not base64url without padding", tt.token)
			}
		})
	}
	if n := len(s.Open(42)); n > 30 {
		t.Errorf("open token is %d characters; want it compact", n)
	}
}

func TestClickRefuses(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	for _, tt := range []struct {
		msg int64
		url string
	}{
		{1, "https://example.com/" + strings.Repeat("x", MaxURL)},
		{1, "/relative"},
		{1, "//example.com/x"},
		{1, "javascript:alert(1)"},
		{1, "mailto:a@example.com"},
		{1, "ftp://example.com/"},
		{1, "https:///nohost"},
		{1, " https://example.com"},
		{1, "https://example.com/\n"},
		{1, ""},
		{0, "https://example.com"},
		{-5, "https://example.com"},
	} {
		if tok, err := s.Click(tt.msg, tt.url); err == nil {
			t.Errorf("Click(%d, %q) = %q; want an error", tt.msg, tt.url, tok)
		}
	}
}

func TestNonPositiveIDsDoNotParse(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	for name, tok := range map[string]string{
		"open 0":                s.Open(0),
		"open negative":         s.Open(-1),
		"unsubscribe contact 0": s.Unsubscribe(0, 1),
		"unsubscribe negative":  s.Unsubscribe(1, -1),
		"preferences 0":         s.Preferences(0),
		"preferences negative":  s.Preferences(-3),
		"open min int64":        s.Open(-1 << 63),
		"unsubscribe min int64": s.Unsubscribe(-1<<63, 0),
		"preferences min int64": s.Preferences(-1 << 63),
		"meeting 0":             s.Meeting(0),
		"meeting negative":      s.Meeting(-7),
		"meeting min int64":     s.Meeting(-1 << 63),
	} {
		if got, err := s.Parse(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Parse = %+v, %v; want ErrInvalidToken", name, got, err)
		}
	}
}

// tokens returns one valid token of each kind.
func tokens(t testing.TB, s *Signer) map[string]string {
	return map[string]string{
		"open":        s.Open(42),
		"click":       mustClick(t, s, 42, "https://example.com/p?q=1"),
		"unsubscribe": s.Unsubscribe(5, 42),
		"preferences": s.Preferences(5),
		"confirm":     s.Confirm(5),
		"meeting":     s.Meeting(5),
	}
}

func TestEveryBitFlipRejected(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	for name, tok := range tokens(t, s) {
		t.Run(name, func(t *testing.T) {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(raw) * 8 {
				b := bytes.Clone(raw)
				b[i/8] ^= 1 << (i % 8)
				flipped := base64.RawURLEncoding.EncodeToString(b)
				if got, err := s.Parse(flipped); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("bit %d of the bytes flipped: Parse = %+v, %v; want ErrInvalidToken", i, got, err)
				}
			}
			// And in the text: a flip gives another character of the
			// alphabet, one outside it, or the same bytes with other
			// padding bits; none may parse.
			for i := range len(tok) * 8 {
				b := []byte(tok)
				b[i/8] ^= 1 << (i % 8)
				if got, err := s.Parse(string(b)); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("bit %d of the text flipped (%q): Parse = %+v, %v; want ErrInvalidToken", i, b, got, err)
				}
			}
		})
	}
}

func TestKindConfusion(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	// Relabel each token as every other kind and re-encode without fixing
	// the MAC: the kind is under the MAC, so none may parse.
	for name, tok := range tokens(t, s) {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		for k := range 256 {
			if byte(k) == raw[1] {
				continue
			}
			b := bytes.Clone(raw)
			b[1] = byte(k)
			if got, err := s.Parse(base64.RawURLEncoding.EncodeToString(b)); err == nil {
				t.Errorf("%s token relabelled as kind %d parsed as %+v", name, k, got)
			}
		}
	}
	// Open(n), Preferences(n), Confirm(n) and Meeting(n) have the same
	// shape; they must differ, and a meeting's token manages no contact.
	if s.Open(5) == s.Preferences(5) || s.Preferences(5) == s.Confirm(5) || s.Confirm(5) == s.Meeting(5) {
		t.Error("tokens of one shape and different kinds are equal")
	}
	if got, err := s.Parse(s.Meeting(5)); err != nil || got.Kind != KindMeeting || got.Contact != 0 || got.Message != 0 {
		t.Errorf("Parse(Meeting(5)) = %+v, %v; want a meeting token and nothing else", got, err)
	}
	got, err := s.Parse(s.Preferences(5))
	if err != nil || got.Kind != KindPreferences {
		t.Errorf("Parse(Preferences(5)) = %+v, %v; want a preferences token", got, err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	keyA := bytes.Repeat([]byte{'a'}, MinKey)
	keyB := bytes.Repeat([]byte{'b'}, MinKey)
	a, _ := NewSigner(keyA)
	b, _ := NewSigner(keyB)
	rotated, _ := NewSigner(keyB, keyA)

	for name, tok := range tokens(t, a) {
		if got, err := b.Parse(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s token of key A parsed with key B: %+v, %v", name, got, err)
		}
		if _, err := rotated.Parse(tok); err != nil {
			t.Errorf("%s token of key A with A as a previous key: %v", name, err)
		}
	}
	for name, tok := range tokens(t, rotated) {
		if _, err := b.Parse(tok); err != nil {
			t.Errorf("%s token of the rotated signer does not parse with the new key: %v", name, err)
		}
		if _, err := a.Parse(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s token of the rotated signer parses with the old key alone", name)
		}
	}
}

func TestKeyIsCopied(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{'k'}, MinKey)
	s, _ := NewSigner(key)
	tok := s.Open(1)
	key[0] = 'x'
	if _, err := s.Parse(tok); err != nil {
		t.Errorf("changing the caller's key slice changed the signer: %v", err)
	}
}

// forge builds a token with the right MAC around any body, to reach the
// checks that come after the MAC.
func forge(s *Signer, body []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(bytes.Clone(body), mac(s.keys[0], body)...))
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	open := s.Open(42)
	tests := map[string]string{
		"empty":              "",
		"not base64":         "!!!!" + open[4:],
		"padding":            open + "==",
		"standard alphabet":  strings.NewReplacer("-", "+", "_", "/").Replace(mustClick(t, s, 1, "https://example.com/~~~~>>>>????")),
		"newline inside":     open[:5] + "\n" + open[5:],
		"carriage return":    open + "\r",
		"space":              " " + open,
		"too short":          open[:10],
		"truncated":          open[:len(open)-1],
		"too long":           strings.Repeat("A", MaxToken+1),
		"mac only":           base64.RawURLEncoding.EncodeToString(make([]byte, macSize)),
		"unknown version":    forge(s, []byte{2, byte(KindOpen), 42}),
		"version 0":          forge(s, []byte{0, byte(KindOpen), 42}),
		"unknown kind":       forge(s, []byte{version, 9, 42}),
		"kind 0":             forge(s, []byte{version, 0, 42}),
		"trailing byte":      forge(s, []byte{version, byte(KindOpen), 42, 0}),
		"open id 0":          forge(s, []byte{version, byte(KindOpen), 0}),
		"open no id":         forge(s, []byte{version, byte(KindOpen)}),
		"id overflows int64": forge(s, []byte{version, byte(KindOpen), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),
		"varint overflows":   forge(s, []byte{version, byte(KindOpen), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
		"varint unfinished":  forge(s, []byte{version, byte(KindOpen), 0x80}),
		"varint not minimal": forge(s, []byte{version, byte(KindOpen), 0xaa, 0x00}),
		"unsub no message":   forge(s, []byte{version, byte(KindUnsubscribe), 5}),
		"unsub contact 0":    forge(s, []byte{version, byte(KindUnsubscribe), 0, 5}),
		"meeting id 0":       forge(s, []byte{version, byte(KindMeeting), 0}),
		"meeting two ids":    forge(s, []byte{version, byte(KindMeeting), 5, 5}),
		"click no url":       forge(s, []byte{version, byte(KindClick), 5}),
		"click relative":     forge(s, append([]byte{version, byte(KindClick), 5}, "/x"...)),
		"click javascript":   forge(s, append([]byte{version, byte(KindClick), 5}, "javascript:alert(1)"...)),
		"click no host":      forge(s, append([]byte{version, byte(KindClick), 5}, "https://"...)),
		"click bad utf-8":    forge(s, append([]byte{version, byte(KindClick), 5}, "https://e.com/\xff"...)),
		"click url too long": forge(s, append([]byte{version, byte(KindClick), 5}, "https://e.com/"+strings.Repeat("x", MaxURL)...)),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s.Parse(tok)
			if err != ErrInvalidToken {
				t.Errorf("Parse(%q) = %+v, %v; want ErrInvalidToken itself", tok, got, err)
			}
		})
	}
	// The forgery helper does reach past the MAC.
	if _, err := s.Parse(forge(s, []byte{version, byte(KindOpen), 42})); err != nil {
		t.Fatalf("forge makes invalid tokens: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	s := testSigner(f, 1)
	for _, tok := range tokens(f, s) {
		f.Add(tok)
	}
	f.Add(s.Unsubscribe(1, 0))
	f.Add("")
	f.Add("AQEq")
	f.Add(strings.Repeat("_", 64))
	f.Add(forge(s, []byte{version, byte(KindClick), 5}))
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Parse(tok)
		if err != nil {
			if err != ErrInvalidToken {
				t.Fatalf("Parse error %v is not ErrInvalidToken", err)
			}
			return
		}
		// A token that parses is the one token the signer makes for what
		// it says: no second spelling of the same token.
		var again string
		switch got.Kind {
		case KindOpen:
			again = s.Open(got.Message)
		case KindClick:
			again = mustClick(t, s, got.Message, got.URL)
		case KindUnsubscribe:
			again = s.Unsubscribe(got.Contact, got.Message)
		case KindPreferences:
			again = s.Preferences(got.Contact)
		case KindConfirm:
			again = s.Confirm(got.Contact)
		case KindMeeting:
			again = s.Meeting(got.Meeting)
		default:
			t.Fatalf("Parse returned kind %v", got.Kind)
		}
		if again != tok {
			t.Fatalf("Parse(%q) = %+v, which signs as %q", tok, got, again)
		}
	})
}
