package score

import (
	"encoding/json"
	"reflect"
	"testing"
)

var flatSeeds = []string{
	`{}`, `{"url":"https://x.test/pricing"}`, `{"machine":true,"n":1}`, `{"a":null,"b":false,"c":-0.5e3}`,
	`{"a":"é"}`, `{"a":"\u00e9"}`, `{"a":{"b":1}}`, `{"a":[1]}`, `{ "a":1}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
	`{"a":1e}`, `{"a":"x","a":"y"}`, `{"a":tru}`, `{"a":"x"`, `{"a":"x",}`, `{"a"}`, `{"a":1}x`, `{"\xff":1}`,
	`{"a":"\xff"}`, `{"a":1E+2}`, `{"a":0.1}`, `{"a":100000000000000000000000}`, `{"a":1e999}`,
}

// Where the fast path answers, it answers what encoding/json does.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeFlat(b)
		if !ok {
			return
		}
		var want map[string]any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path took %q, which encoding/json rejects: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path %v; encoding/json %v", b, got, want)
		}
	})
}

// The fast path takes what scoring sees most: flat objects of plain values.
func TestDecodeFlatTakesCommonShapes(t *testing.T) {
	for _, s := range []string{`{}`, `{"url":"https://x.test/pricing"}`, `{"machine":true,"n":1}`, `{"a":null,"b":false,"c":-0.5e3}`, `{"a":"é"}`} {
		if _, ok := decodeFlat([]byte(s)); !ok {
			t.Errorf("%s: not taken", s)
		}
	}
	for _, s := range []string{`{"a":"\u00e9"}`, `{"a":{"b":1}}`, `{ "a":1}`, `{"a":01}`, `{"a":1e999}`} {
		if _, ok := decodeFlat([]byte(s)); ok {
			t.Errorf("%s: taken", s)
		}
	}
}
