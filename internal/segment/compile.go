package segment

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/event"
)

// Problem is one thing wrong with a rule: where (a path into the JSON form,
// and for the text form its line and column) and why.
type Problem struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d, column %d of the rule (%s): %s", p.Line, p.Column, p.Path, p.Reason)
	}
	return p.Path + ": " + p.Reason
}

// Error lists every problem found; nothing was applied.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Limits of a rule.
const (
	MaxDepth    = 16   // nesting of all/any/not
	MaxNodes    = 200  // conditions in one rule
	MaxCount    = 1000 // the largest event count a condition may compare with
	MaxWhereLen = 2000 // characters of an event filter
	MaxValues   = 500  // values of an in / not_in list
)

// Env is what an event filter (where) sees.
type Env struct {
	Event map[string]any `expr:"event"`
}

// Compiled is a rule ready to evaluate.
type Compiled struct {
	Rule *Rule
	root matcher
	// What the rule reads, so that a change re-evaluates only the segments
	// that depend on it.
	Fields     []string // contact fields, score.X, consent.X, custom.X
	Events     []string // event types
	Segments   []string // other segments
	behaviours []*behaviour
	dated      bool // reads a date relative to today
}

// Options are what validation checks names against.
type Options struct {
	Scores   []string // score names in force
	Segments []string // names of the other segments
}

type compiler struct {
	opts     Options
	problems []Problem
	nodes    int
	locate   func(*Rule) (line, col int)
	c        *Compiled
	keys     map[string]*behaviour
}

// Compile validates a rule and prepares it for evaluation.
func Compile(r *Rule, opts Options) (*Compiled, error) {
	return compile(r, opts, nil)
}

func compile(r *Rule, opts Options, locate func(*Rule) (int, int)) (*Compiled, error) {
	c := &compiler{opts: opts, locate: locate, c: &Compiled{Rule: r}, keys: map[string]*behaviour{}}
	if r == nil {
		return nil, &Error{[]Problem{{Path: "rule", Reason: "is missing"}}}
	}
	c.c.root = c.node(r, "rule", 0)
	if len(c.problems) > 0 {
		return nil, &Error{c.problems}
	}
	for _, list := range []*[]string{&c.c.Fields, &c.c.Events, &c.c.Segments} {
		sort.Strings(*list)
		*list = slices.Compact(*list)
	}
	return c.c, nil
}

func (c *compiler) add(r *Rule, path, format string, args ...any) {
	p := Problem{Path: path, Reason: fmt.Sprintf(format, args...)}
	if c.locate != nil && r != nil {
		p.Line, p.Column = c.locate(r)
	}
	c.problems = append(c.problems, p)
}

func (c *compiler) node(r *Rule, path string, depth int) matcher {
	c.nodes++
	if c.nodes == MaxNodes+1 {
		c.add(r, path, "a rule has at most %d conditions", MaxNodes)
	}
	if depth > MaxDepth {
		c.add(r, path, "nested more than %d deep", MaxDepth)
		return nil
	}
	switch k := r.kind(); k {
	case "all", "any":
		list := r.All
		if k == "any" {
			list = r.Any
		}
		if len(list) == 0 {
			c.add(r, path+"."+k, "is empty")
		}
		var ms []matcher
		for i, sub := range list {
			if sub == nil {
				c.add(r, fmt.Sprintf("%s.%s[%d]", path, k, i), "is null")
				continue
			}
			ms = append(ms, c.node(sub, fmt.Sprintf("%s.%s[%d]", path, k, i), depth+1))
		}
		if k == "all" {
			return allOf(ms)
		}
		return anyOf(ms)
	case "not":
		return notOf{c.node(r.Not, path+".not", depth+1)}
	case "field":
		return c.field(r, path)
	case "event":
		return c.event(r, path)
	case "segment":
		if !slices.Contains(c.opts.Segments, r.Segment) {
			c.add(r, path+".segment", "unknown segment %s", quote(r.Segment))
		}
		c.c.Segments = append(c.c.Segments, r.Segment)
		return member(r.Segment)
	case "":
		c.add(r, path, "is empty: use all, any, not, field, event or segment")
	default:
		c.add(r, path, "mixes %s: one condition per object", strings.ReplaceAll(k, "+", ", "))
	}
	return nil
}

func (c *compiler) field(r *Rule, path string) matcher {
	k, why := fieldKind(r.Field, c.opts.Scores)
	if why != "" {
		c.add(r, path+".field", "%s", why)
		return nil
	}
	if r.Where != "" || r.Within != nil || r.Count != nil || r.Since != nil {
		c.add(r, path, "where, within, count and since belong to event conditions")
	}
	if !slices.Contains(opsByKind[k], r.Op) {
		c.add(r, path+".op", "%s cannot be used on %s (a %s field); use one of %s", opName(r.Op), r.Field, k, strings.Join(opsByKind[k], ", "))
		return nil
	}
	c.c.Fields = append(c.c.Fields, r.Field)
	fm := &fieldMatch{field: r.Field, kind: k, op: r.Op}
	bad := func(format string, args ...any) matcher {
		c.add(r, path+".value", format, args...)
		return nil
	}
	switch r.Op {
	case OpEmpty, OpNotEmpty:
		if r.Value != nil {
			return bad("%s takes no value", r.Op)
		}
		return fm
	case OpInDays, OpAnniversaryInDays:
		n, ok := number(r.Value)
		if !ok || n < 0 || n > 3660 || n != math.Trunc(n) {
			return bad("%s takes a whole number of days from 0 to 3660", r.Op)
		}
		fm.days = int(n)
		c.c.dated = true
		return fm
	case OpIn, OpNotIn:
		list, ok := r.Value.([]any)
		if !ok || len(list) == 0 || len(list) > MaxValues {
			return bad("%s takes a list of 1 to %d values", r.Op, MaxValues)
		}
		for i, v := range list {
			x, why := c.scalar(k, v)
			if why != "" {
				return bad("item %d: %s", i, why)
			}
			fm.list = append(fm.list, x)
		}
		return fm
	}
	x, why := c.scalar(k, r.Value)
	if why != "" {
		return bad("%s", why)
	}
	if k == kTags {
		if s, _ := x.(string); s == "" {
			return bad("a tag is a non-empty string")
		}
	}
	fm.value = x
	return fm
}

// scalar checks a value against a field's kind and returns it as the
// evaluation compares it: a string, a float64, or a time.Time for dates.
func (c *compiler) scalar(k kind, v any) (any, string) {
	switch k {
	case kString, kTags:
		if s, ok := v.(string); ok && len(s) <= 1000 && !badValue(s) {
			return s, ""
		}
		return nil, "want a string (at most 1000 bytes, no control or bidi characters)"
	case kNumber:
		if n, ok := number(v); ok {
			return n, ""
		}
		return nil, "want a number"
	case kDate, kTime:
		if s, ok := v.(string); ok {
			if t, ok := parseDate(s); ok {
				return t, ""
			}
		}
		return nil, "want a date (YYYY-MM-DD) or a time (RFC 3339)"
	case kConsent:
		if s, ok := v.(string); ok && slices.Contains(consentStatuses, s) {
			return s, ""
		}
		return nil, "want a consent status: " + strings.Join(consentStatuses, ", ")
	case kAny:
		switch x := v.(type) {
		case string:
			if len(x) <= 1000 && !badValue(x) {
				return x, ""
			}
		case bool:
			return x, ""
		default:
			if n, ok := number(v); ok {
				return n, ""
			}
		}
		return nil, "want a string, a number or a boolean"
	}
	return nil, "unsupported value"
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func opName(op string) string {
	if op == "" {
		return "a missing operator"
	}
	return "operator " + quote(op)
}

func (c *compiler) event(r *Rule, path string) matcher {
	if r.Field != "" || r.Value != nil {
		c.add(r, path, "field and value belong to field conditions")
	}
	if !validKey(r.Event) || len(r.Event) > 64 {
		c.add(r, path+".event", "bad event type %s", quote(r.Event))
		return nil
	}
	if why, ok := uncounted[r.Event]; ok {
		c.add(r, path+".event", "%s events cannot be counted: %s", r.Event, why)
		return nil
	}
	c.c.Events = append(c.c.Events, r.Event)
	var prog *vm.Program
	if r.Where != "" {
		if len(r.Where) > MaxWhereLen || badText(r.Where) {
			c.add(r, path+".where", "at most %d characters, no control characters", MaxWhereLen)
			return nil
		}
		p, err := expr.Compile(r.Where, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			c.add(r, path+".where", "does not compile: %s", firstLine(err.Error()))
			return nil
		}
		prog = p
	}
	key := r.Event + "\x00" + r.Where
	b := c.keys[key]
	if b == nil {
		b = &behaviour{key: key, typ: r.Event, where: prog}
		c.keys[key] = b
		c.c.behaviours = append(c.c.behaviours, b)
	}
	if r.Since != nil {
		if r.Within != nil || r.Count != nil || r.Op != "" {
			c.add(r, path, "since stands alone: it cannot be used with within, op or count")
			return nil
		}
		if d := time.Duration(*r.Since); d <= 0 || d > MaxWindow {
			c.add(r, path+".since", "must be more than 0 and at most %s", Duration(MaxWindow))
			return nil
		}
		b.need(1)
		b.ever = true
		return &sinceMatch{b: b, after: time.Duration(*r.Since)}
	}
	var window time.Duration
	if r.Within != nil {
		window = time.Duration(*r.Within)
		if window <= 0 || window > MaxWindow {
			c.add(r, path+".within", "must be more than 0 and at most %s", Duration(MaxWindow))
			return nil
		}
		b.window = max(b.window, window)
	} else {
		b.ever = true
	}
	op, n := r.Op, 1
	if op == "" {
		op = OpGe
	}
	if r.Count != nil {
		n = *r.Count
	}
	if !slices.Contains(countOps, op) {
		c.add(r, path+".op", "%s cannot compare a count; use one of %s", opName(op), strings.Join(countOps, ", "))
		return nil
	}
	if n < 0 || n > MaxCount {
		c.add(r, path+".count", "must be from 0 to %d", MaxCount)
		return nil
	}
	if op == OpLt && n == 0 {
		c.add(r, path+".count", "fewer than 0 events can never happen")
		return nil
	}
	b.need(n + 1)
	return &countMatch{b: b, window: window, op: op, n: n}
}

// uncounted are the event types Nurture writes while scoring and keeping
// segments, which segment conditions do not see as they happen.
var uncounted = map[string]string{
	event.SegmentEntered:   `use segment("name") for membership`,
	event.SegmentExited:    `use not segment("name")`,
	event.ScoreBandChanged: "use score.NAME comparisons",
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// badValue reports control characters (tab and newline included) and bidi
// overrides in a value.
func badValue(s string) bool {
	return badText(s) || strings.ContainsAny(s, "\t\n\r")
}

// badText reports control characters (but tab and newline) and bidi overrides.
func badText(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return true
		}
	}
	return false
}
