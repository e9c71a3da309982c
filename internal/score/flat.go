package score

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// DecodeProperties decodes an event's properties for conditions (scoring
// rules, segment where clauses) to read.
// Most events carry a flat object of plain strings, numbers and booleans
// (a URL, a form name), and scoring decodes every one of them: such an
// object is read here directly, at a fraction of encoding/json's cost. Any
// other shape (nesting, escapes, spaces) goes to encoding/json, and the two
// agree on every input the fast path takes (FuzzDecodeFlat).
func DecodeProperties(raw []byte) map[string]any {
	if m, ok := decodeFlat(raw); ok {
		return m
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m) // validated at ingest
	return m
}

// decodeFlat reads {"k":v,...} with no whitespace, where every key is a
// string without escapes and every value such a string, a number, true,
// false or null. It reports false for anything else.
func decodeFlat(b []byte) (map[string]any, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	m := make(map[string]any, bytes.Count(b, []byte{':'}))
	i := 1
	if b[i] == '}' {
		return m, i == len(b)-1
	}
	for {
		key, next, ok := flatString(b, i)
		if !ok || next >= len(b) || b[next] != ':' {
			return nil, false
		}
		i = next + 1
		if i >= len(b) {
			return nil, false
		}
		var v any
		switch c := b[i]; {
		case c == '"':
			s, next, ok := flatString(b, i)
			if !ok {
				return nil, false
			}
			v, i = s, next
		case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
			v, i = true, i+4
		case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
			v, i = false, i+5
		case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
			v, i = nil, i+4
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
				j++
			}
			if !validNumber(b[i:j]) {
				return nil, false
			}
			f, err := strconv.ParseFloat(string(b[i:j]), 64)
			if err != nil {
				return nil, false
			}
			v, i = f, j
		default:
			return nil, false
		}
		m[key] = v
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return m, i == len(b)-1
		default:
			return nil, false
		}
	}
}

// flatString reads a string at b[i] (a quote) that has no escapes and no
// control characters, returning it and the index after its closing quote.
func flatString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return "", 0, false // encoding/json would replace the bad bytes
			}
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// validNumber checks JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
