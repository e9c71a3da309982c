// Package score owns lead scoring: the rules document (named scores, event
// and profile rules with limits, inactivity decay, threshold bands with their
// actions), its validation, and the engine that turns (state, event, time)
// into a new state, ledger entries and threshold crossings. It does no I/O;
// the store persists what it decides in the same transaction as the event.
package score

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxDocumentBytes bounds a rules document.
const MaxDocumentBytes = 256 << 10

// Limits on a document's contents, so one document cannot make every event
// slow to ingest.
const (
	MaxRules  = 500
	MaxScores = 20
	MaxBands  = 10
	maxExpr   = 2000
	maxPoints = 1000
)

// Document is a rules document as written by its author, in YAML or JSON.
type Document struct {
	Scores     map[string]ScoreDef `yaml:"scores" json:"scores"`
	Rules      []RuleDef           `yaml:"rules" json:"rules"`
	Inactivity *InactivityDef      `yaml:"inactivity,omitempty" json:"inactivity,omitempty"`
	Thresholds *ThresholdsDef      `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
}

// ScoreDef declares a named score. A score with Sum is the total of others
// and takes no rules of its own; Min and Max clamp a base score.
type ScoreDef struct {
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Sum         []string `yaml:"sum,omitempty" json:"sum,omitempty"`
	Min         *int     `yaml:"min,omitempty" json:"min,omitempty"`
	Max         *int     `yaml:"max,omitempty" json:"max,omitempty"`
}

// RuleDef gives points to a score. An event rule fires on events of type
// Event whose condition holds; a profile rule (Profile true, no Event) holds
// its points while its condition on the contact is true, and is re-evaluated
// whenever the contact's fields change.
type RuleDef struct {
	ID          string   `yaml:"id" json:"id"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Event       string   `yaml:"event,omitempty" json:"event,omitempty"`
	Profile     bool     `yaml:"profile,omitempty" json:"profile,omitempty"`
	When        string   `yaml:"when,omitempty" json:"when,omitempty"`
	Score       string   `yaml:"score" json:"score"`
	Points      int      `yaml:"points" json:"points"`
	Limit       LimitDef `yaml:"limit,omitempty" json:"limit,omitempty"`
}

// LimitDef bounds how often an event rule scores. Windows are rolling and
// measured on the events' times.
type LimitDef struct {
	Once    bool `yaml:"once,omitempty" json:"once,omitempty"`
	PerDay  int  `yaml:"per_day,omitempty" json:"per_day,omitempty"`
	PerWeek int  `yaml:"per_week,omitempty" json:"per_week,omitempty"`
	Cap     int  `yaml:"cap,omitempty" json:"cap,omitempty"` // most points (in absolute value) the rule may give in total
}

// InactivityDef takes points away after a quiet period with no activity
// event; Repeat takes them again after each further period.
type InactivityDef struct {
	After    Duration `yaml:"after" json:"after"`
	Points   int      `yaml:"points" json:"points"`
	Score    string   `yaml:"score" json:"score"`
	Repeat   bool     `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	Activity []string `yaml:"activity" json:"activity"` // event types that count as activity
}

// ThresholdsDef splits a score into bands. Entering a band runs its actions
// once; leaving a band downwards needs the score to fall Hysteresis points
// below the band's floor, so a score bouncing around a threshold does not
// fire again and again.
type ThresholdsDef struct {
	Score      string    `yaml:"score" json:"score"`
	Hysteresis int       `yaml:"hysteresis,omitempty" json:"hysteresis,omitempty"`
	Bands      []BandDef `yaml:"bands" json:"bands"`
}

// BandDef is one band and what entering it does. The band without Min is
// the bottom one.
type BandDef struct {
	Name       string   `yaml:"name" json:"name"`
	Min        *int     `yaml:"min,omitempty" json:"min,omitempty"`
	Lifecycle  string   `yaml:"lifecycle,omitempty" json:"lifecycle,omitempty"` // raise the lifecycle stage to this
	Task       string   `yaml:"task,omitempty" json:"task,omitempty"`           // a sales task for the owner
	Emit       string   `yaml:"emit,omitempty" json:"emit,omitempty"`           // an event type to write
	AddTags    []string `yaml:"add_tags,omitempty" json:"add_tags,omitempty"`
	RemoveTags []string `yaml:"remove_tags,omitempty" json:"remove_tags,omitempty"`
}

// Duration reads "30d", "2w", "36h", "90m".
type Duration time.Duration

// UnmarshalYAML reads a duration with a day or week unit allowed.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		v = time.Duration(badDuration) // reported by validate, with the document's other problems
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in the largest whole unit.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration like MarshalYAML.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

func (d Duration) String() string {
	v := time.Duration(d)
	switch {
	case v%(7*24*time.Hour) == 0 && v != 0 && v <= 3650*7*24*time.Hour:
		return fmt.Sprintf("%dw", v/(7*24*time.Hour))
	case v%(24*time.Hour) == 0 && v != 0 && v <= 3650*24*time.Hour:
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

// badDuration marks a duration that did not parse.
const badDuration = Duration(-1)

// ParseDuration is time.ParseDuration with d (days) and w (weeks) units.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for unit, size := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 || v > 3650 {
				return 0, fmt.Errorf("duration %q: want a whole number of %s between 1 and 3650", s, unit)
			}
			return time.Duration(v) * size, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 30d, 2w or 36h", s)
	}
	return v, nil
}

// Problem is one fault in a document, with the line it is on (0 when unknown).
type Problem struct {
	Line   int    `json:"line,omitempty"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Reason)
	}
	return p.Path + ": " + p.Reason
}

// DocumentError lists every fault found in a document.
type DocumentError struct{ Problems []Problem }

func (e *DocumentError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "invalid scoring rules: " + strings.Join(s, "; ")
}

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	typePattern  = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)
	yamlLine     = regexp.MustCompile(`line (\d+): (.*)`)
	tagPattern   = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.:/-]{0,63}$`)
	reservedRule = "inactivity"
)

// Parse reads and validates a YAML or JSON rules document and compiles it.
// Every problem is reported at once, with its line.
func Parse(src []byte) (*Rules, error) {
	var doc Document
	root, problems := ReadDocument(src, MaxDocumentBytes, &doc)
	if problems != nil {
		return nil, &DocumentError{problems}
	}
	r, err := compile(doc, root)
	if err != nil {
		return nil, err
	}
	r.Source = slices.Clone(src)
	return r, nil
}

// ReadDocument decodes src, one YAML or JSON document of at most limit
// bytes, into v, refusing keys v does not have. It returns the document's
// node tree, for the lines of later problems (LineOf), or the problems
// that stopped it, with their lines. Journeys read their documents so too.
func ReadDocument(src []byte, limit int, v any) (*yaml.Node, []Problem) {
	if len(src) > limit {
		return nil, []Problem{{Path: "document", Reason: fmt.Sprintf("larger than %d bytes", limit)}}
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, []Problem{{Path: "document", Reason: "empty"}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, yamlError(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil, []Problem{{Path: "document", Reason: "empty"}}
	} else if err != nil {
		return nil, yamlError(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, []Problem{{Line: more.Line, Path: "document", Reason: "one YAML document only (found a second after ---)"}}
	}
	return &root, nil
}

// yamlError turns a decoder error into problems with lines.
func yamlError(err error) []Problem {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var ps []Problem
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		p := Problem{Path: "document", Reason: m}
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			p.Line, _ = strconv.Atoi(sub[1])
			p.Reason = strings.NewReplacer("score.", "", "journey.", "", "route.", "").Replace(sub[2])
		}
		ps = append(ps, p)
	}
	return ps
}

// lines finds the line of a path in the YAML tree; keys are strings,
// sequence indexes ints. It returns the deepest line it can reach.
func lineOf(root *yaml.Node, path ...any) int {
	n := root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// value is the scalar at a mapping path of the YAML tree ("" if none).
func (c *checker) value(keys ...string) string {
	n := c.root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return ""
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	if n == nil {
		return ""
	}
	return n.Value
}

type checker struct {
	root     *yaml.Node
	problems []Problem
}

func (c *checker) add(reason string, path ...any) {
	c.problems = append(c.problems, ProblemAt(c.root, reason, path...))
}

// ProblemAt is a problem at path in the document root (its line found
// there): path elements are keys, and ints for list indexes.
func ProblemAt(root *yaml.Node, reason string, path ...any) Problem {
	parts := make([]string, len(path))
	for i, p := range path {
		switch v := p.(type) {
		case int:
			parts[i] = fmt.Sprintf("[%d]", v)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return Problem{Line: lineOf(root, path...), Path: strings.ReplaceAll(strings.Join(parts, "."), ".[", "["), Reason: reason}
}

// BadText reports control and bidirectional-override characters, which
// have no place in ids, names and expressions and can hide what a rule does.
func BadText(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return true
		}
	}
	return false
}

func (c *checker) checkTags(tags []string, path ...any) {
	for i, t := range tags {
		if !tagPattern.MatchString(t) {
			c.add("a tag is 1 to 64 letters, digits, spaces or _ . : / -", append(path, i)...)
		}
	}
}

// validate checks doc and reports problems against the YAML tree's lines.
func (c *checker) validate(doc Document) {
	if len(doc.Scores) == 0 {
		c.add("declare at least one score", "scores")
	}
	if len(doc.Scores) > MaxScores {
		c.add(fmt.Sprintf("at most %d scores", MaxScores), "scores")
	}
	for _, name := range sortedKeys(doc.Scores) {
		def := doc.Scores[name]
		if !idPattern.MatchString(name) {
			c.add("a score name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "scores", name)
		}
		if BadText(def.Description) || len(def.Description) > 500 {
			c.add("description: at most 500 characters, no control characters", "scores", name, "description")
		}
		for i, part := range def.Sum {
			sub, ok := doc.Scores[part]
			switch {
			case !ok:
				c.add(fmt.Sprintf("unknown score %q", part), "scores", name, "sum", i)
			case part == name:
				c.add("a score cannot sum itself", "scores", name, "sum", i)
			case len(sub.Sum) > 0:
				c.add(fmt.Sprintf("%q is itself a sum; sum base scores", part), "scores", name, "sum", i)
			}
		}
		if len(def.Sum) > 0 && (def.Min != nil || def.Max != nil) {
			c.add("a sum score takes no min or max; clamp its parts", "scores", name)
		}
		if def.Min != nil && def.Max != nil && *def.Min > *def.Max {
			c.add("min is above max", "scores", name, "min")
		}
	}
	baseScore := func(name string, path ...any) {
		def, ok := doc.Scores[name]
		switch {
		case name == "":
			c.add("missing; name the score this feeds", path...)
		case !ok:
			c.add(fmt.Sprintf("unknown score %q; declared: %s", name, strings.Join(sortedKeys(doc.Scores), ", ")), path...)
		case len(def.Sum) > 0:
			c.add(fmt.Sprintf("%q is a sum of other scores; feed one of its parts", name), path...)
		}
	}
	if len(doc.Rules) > MaxRules {
		c.add(fmt.Sprintf("at most %d rules", MaxRules), "rules")
	}
	seen := map[string]int{}
	for i, r := range doc.Rules {
		switch {
		case r.ID == "":
			c.add("missing; every rule needs a stable id", "rules", i, "id")
		case !idPattern.MatchString(r.ID):
			c.add("an id is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "rules", i, "id")
		case r.ID == reservedRule:
			c.add(`"inactivity" is reserved for the inactivity decay`, "rules", i, "id")
		default:
			if j, dup := seen[r.ID]; dup {
				c.add(fmt.Sprintf("duplicate id %q (also rules[%d])", r.ID, j), "rules", i, "id")
			}
			seen[r.ID] = i
		}
		if BadText(r.Description) || len(r.Description) > 500 {
			c.add("at most 500 characters, no control characters", "rules", i, "description")
		}
		switch {
		case r.Profile && r.Event != "":
			c.add("a profile rule has no event; it is evaluated when the contact's fields change", "rules", i, "event")
		case !r.Profile && r.Event == "":
			c.add("missing; name the event type, or set profile: true for a rule on contact fields", "rules", i, "event")
		case !r.Profile && !typePattern.MatchString(r.Event):
			c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "rules", i, "event")
		}
		if r.Profile && r.When == "" {
			c.add("missing; a profile rule needs a condition on the contact", "rules", i, "when")
		}
		baseScore(r.Score, "rules", i, "score")
		if r.Points == 0 || r.Points > maxPoints || r.Points < -maxPoints {
			c.add(fmt.Sprintf("points must be non-zero, between -%d and %d", maxPoints, maxPoints), "rules", i, "points")
		}
		l := r.Limit
		if l.PerDay < 0 || l.PerDay > 1000 {
			c.add("per_day must be between 0 (no limit) and 1000", "rules", i, "limit", "per_day")
		}
		if l.PerWeek < 0 || l.PerWeek > 1000 {
			c.add("per_week must be between 0 (no limit) and 1000", "rules", i, "limit", "per_week")
		}
		if l.Cap < 0 {
			c.add("cap must not be negative; it bounds the rule's total in absolute value", "rules", i, "limit", "cap")
		}
		if r.Profile && (l.Once || l.PerDay > 0 || l.PerWeek > 0 || l.Cap > 0) {
			c.add("a profile rule holds its points while true; limits apply to event rules", "rules", i, "limit")
		}
	}
	if in := doc.Inactivity; in != nil {
		switch {
		case in.After == badDuration:
			c.add(fmt.Sprintf("%q: want a duration such as 30d, 2w or 36h (days and weeks: 1 to 3650)", c.value("inactivity", "after")), "inactivity", "after")
		case time.Duration(in.After) < time.Hour:
			c.add("must be at least 1h", "inactivity", "after")
		}
		if in.Points >= 0 || in.Points < -maxPoints {
			c.add(fmt.Sprintf("must be negative, at least -%d", maxPoints), "inactivity", "points")
		}
		baseScore(in.Score, "inactivity", "score")
		if len(in.Activity) == 0 {
			c.add("list the event types that count as activity", "inactivity", "activity")
		}
		for i, t := range in.Activity {
			if !typePattern.MatchString(t) {
				c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "inactivity", "activity", i)
			}
		}
	}
	if th := doc.Thresholds; th != nil {
		if _, ok := doc.Scores[th.Score]; !ok {
			c.add(fmt.Sprintf("unknown score %q", th.Score), "thresholds", "score")
		}
		if th.Hysteresis < 0 {
			c.add("must not be negative", "thresholds", "hysteresis")
		}
		if len(th.Bands) == 0 || len(th.Bands) > MaxBands {
			c.add(fmt.Sprintf("between 1 and %d bands", MaxBands), "thresholds", "bands")
		}
		bottom := 0
		names := map[string]bool{}
		for i, b := range th.Bands {
			if !idPattern.MatchString(b.Name) {
				c.add("a band name is 1 to 64 of a-z 0-9 _ . -", "thresholds", "bands", i, "name")
			}
			if names[b.Name] {
				c.add(fmt.Sprintf("duplicate band %q", b.Name), "thresholds", "bands", i, "name")
			}
			names[b.Name] = true
			if b.Min == nil {
				bottom++
			}
			if b.Lifecycle != "" && !slices.Contains(raisable, b.Lifecycle) {
				c.add("one of "+strings.Join(raisable, ", "), "thresholds", "bands", i, "lifecycle")
			}
			if BadText(b.Task) || len(b.Task) > 200 {
				c.add("at most 200 characters, no control characters", "thresholds", "bands", i, "task")
			}
			if b.Emit != "" && !typePattern.MatchString(b.Emit) {
				c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "thresholds", "bands", i, "emit")
			}
			c.checkTags(b.AddTags, "thresholds", "bands", i, "add_tags")
			c.checkTags(b.RemoveTags, "thresholds", "bands", i, "remove_tags")
		}
		if bottom != 1 {
			c.add("exactly one band has no min: the bottom band", "thresholds", "bands")
		}
		mins := map[int]bool{}
		for i, b := range th.Bands {
			if b.Min != nil {
				if mins[*b.Min] {
					c.add(fmt.Sprintf("two bands start at %d", *b.Min), "thresholds", "bands", i, "min")
				}
				mins[*b.Min] = true
			}
		}
	}
}

// raisable are the lifecycle stages a threshold may raise a contact to.
var raisable = []string{"lead", "mql", "sal", "sql", "opportunity"}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

//go:embed defaults.yaml
var defaultSource []byte

// DefaultSource is the default rules document, as shipped.
func DefaultSource() []byte { return slices.Clone(defaultSource) }

// Default returns the compiled default rules, version 0.
func Default() *Rules {
	r, err := Parse(defaultSource)
	if err != nil {
		panic("default scoring rules: " + err.Error()) // a test keeps this from shipping
	}
	r.Stamp(0, nil)
	return r
}

// LineOf is the line of the node at path (keys and indexes) in a YAML
// tree, or of the deepest node on the way that exists; 0 without a tree.
// Other documents (journeys) report their problems with it.
func LineOf(root *yaml.Node, path ...any) int { return lineOf(root, path...) }
