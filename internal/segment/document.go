package segment

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Input is a rule as a client sends it: its text form (a string) or its
// JSON form (an object).
type Input struct {
	Text string
	Rule *Rule
}

// UnmarshalJSON reads either form. Unknown keys in the JSON form are errors.
func (in *Input) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &in.Text)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("rule: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	in.Rule = &r
	return nil
}

// MarshalJSON writes the JSON form.
func (in Input) MarshalJSON() ([]byte, error) {
	if in.Rule != nil {
		return json.Marshal(in.Rule)
	}
	return json.Marshal(in.Text)
}

// Compile compiles either form; problems are prefixed with path.
func (in Input) Compile(opts Options) (*Compiled, error) {
	if in.Rule == nil && in.Text == "" {
		return nil, &Error{[]Problem{{Path: "rule", Reason: "is missing: give a text form (a string) or a JSON form (an object)"}}}
	}
	if in.Rule != nil {
		return Compile(in.Rule, opts)
	}
	return ParseText(in.Text, opts)
}

// Kinds of segment.
const (
	KindDynamic = "dynamic" // membership follows the rule
	KindStatic  = "static"  // a list: members are added and removed explicitly
)

// Spec is one segment of a document.
type Spec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Rule        *Input `json:"rule,omitempty"`
}

// Document is a set of segments, as `nurture segments apply` reads it.
type Document struct {
	Segments []Spec `json:"segments"`
}

// MaxDocumentBytes bounds a document.
const MaxDocumentBytes = 256 << 10

//go:embed defaults.yaml
var defaultSource []byte

// DefaultSource is the document of the segments Nurture ships.
func DefaultSource() []byte { return defaultSource }

// ParseDocument reads a YAML or JSON document. It checks its shape and
// names; CheckDocument compiles its rules.
func ParseDocument(src []byte) (Document, error) {
	var doc Document
	if len(src) > MaxDocumentBytes {
		return doc, &Error{[]Problem{{Path: "document", Reason: fmt.Sprintf("larger than %d bytes", MaxDocumentBytes)}}}
	}
	var generic any
	if err := yaml.Unmarshal(src, &generic); err != nil {
		return doc, &Error{[]Problem{{Path: "document", Reason: "not YAML or JSON: " + firstLine(err.Error())}}}
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return doc, &Error{[]Problem{{Path: "document", Reason: "keys must be strings"}}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return doc, &Error{[]Problem{{Path: "document", Reason: strings.TrimPrefix(err.Error(), "json: ")}}}
	}
	return doc, nil
}

// CheckName validates a segment name: a slug, as URLs and rules name it.
func CheckName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a segment name is 1 to 64 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errors.New("a segment name is lowercase letters, digits, - and _ (such as warm-intent)")
		}
	}
	return nil
}

// CheckDocument compiles every segment of a document, with others (the
// segments already stored and not in the document) available to
// segment(…) references, and builds the catalog to find cycles. It
// reports every problem at once.
func CheckDocument(doc Document, scores []string, others []Def) (*Catalog, error) {
	var problems []Problem
	seen := map[string]bool{}
	names := []string{}
	for _, d := range others {
		names = append(names, d.Name)
	}
	for i, s := range doc.Segments {
		path := fmt.Sprintf("segments[%d]", i)
		if err := CheckName(s.Name); err != nil {
			problems = append(problems, Problem{Path: path + ".name", Reason: err.Error()})
			continue
		}
		if seen[s.Name] {
			problems = append(problems, Problem{Path: path + ".name", Reason: "segment " + quote(s.Name) + " is defined twice"})
		}
		seen[s.Name] = true
		names = append(names, s.Name)
	}
	defs := map[string]Def{}
	for _, d := range others {
		if !seen[d.Name] && d.Compiled != nil { // a static list has no rule: a name only
			defs[d.Name] = d
		}
	}
	for i, s := range doc.Segments {
		path := fmt.Sprintf("segments[%d]", i)
		switch s.Kind {
		case "", KindDynamic:
			if s.Rule == nil {
				problems = append(problems, Problem{Path: path + ".rule", Reason: "a dynamic segment needs a rule"})
				continue
			}
			c, err := s.Rule.Compile(Options{Scores: scores, Segments: names})
			var e *Error
			if errors.As(err, &e) {
				for _, p := range e.Problems {
					p.Path = path + "." + p.Path
					problems = append(problems, p)
				}
				continue
			}
			defs[s.Name] = Def{Name: s.Name, Compiled: c}
		case KindStatic:
			if s.Rule != nil {
				problems = append(problems, Problem{Path: path + ".rule", Reason: "a static list has no rule: add and remove its members"})
			}
		default:
			problems = append(problems, Problem{Path: path + ".kind", Reason: "kind is dynamic or static"})
		}
	}
	if len(problems) > 0 {
		return nil, &Error{problems}
	}
	list := make([]Def, 0, len(defs))
	for _, d := range defs {
		list = append(list, d)
	}
	cat, err := NewCatalog(list)
	if err != nil {
		return nil, &Error{[]Problem{{Path: "segments", Reason: err.Error()}}}
	}
	return cat, nil
}
