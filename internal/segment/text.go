package segment

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// textConfig declares the text form's functions, so that expr's parser
// reads count(…) and the like as plain calls, not as its own builtins.
var textConfig = func() *conf.Config {
	c := conf.CreateNew()
	for _, name := range []string{"count", "since", "segment", "empty", "in_days", "anniversary_in_days"} {
		expr.Function(name, func(...any) (any, error) { return nil, nil })(c)
	}
	return c
}()

// MaxTextLen bounds a rule's text form.
const MaxTextLen = 20000

// ParseText reads a rule's text form, written in expr's syntax:
//
//	country in ["FR", "BE"] and "vip" in tags and score.engagement >= 10
//	and count("page_viewed", "14d", event.url contains "/pricing") >= 2
//	and count("email_clicked", "30d") == 0
//	and since("form_submitted") > "7d"
//	and not segment("customers") and empty(phone) and in_days(custom.renewal, 30)
//
// and compiles it. Problems carry their line and column.
func ParseText(text string, opts Options) (*Compiled, error) {
	r, locate, err := parseText(text)
	if err != nil {
		return nil, err
	}
	return compile(r, opts, locate)
}

// TextRule reads a text form into its JSON form, without checking names.
func TextRule(text string) (*Rule, error) {
	r, _, err := parseText(text)
	return r, err
}

func parseText(text string) (*Rule, func(*Rule) (int, int), error) {
	if len(text) > MaxTextLen || badText(text) {
		return nil, nil, &Error{[]Problem{{Path: "rule", Reason: fmt.Sprintf("at most %d characters, no control characters", MaxTextLen)}}}
	}
	tree, err := parser.ParseWithConfig(text, textConfig)
	if err != nil {
		p := Problem{Path: "rule", Reason: firstLine(err.Error())}
		var fe *file.Error
		if errors.As(err, &fe) {
			p.Line, p.Column, p.Reason = fe.Line, fe.Column+1, fe.Message
		}
		return nil, nil, &Error{[]Problem{p}}
	}
	t := &textReader{src: []rune(text), pos: map[*Rule]int{}}
	r := t.node(tree.Node)
	locate := func(r *Rule) (int, int) {
		off, ok := t.pos[r]
		if !ok || off < 0 {
			return 0, 0
		}
		return lineCol(t.src, off)
	}
	if len(t.problems) > 0 {
		return nil, nil, &Error{t.problems}
	}
	return r, locate, nil
}

func lineCol(src []rune, off int) (int, int) {
	line, col := 1, 1
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

type textReader struct {
	src      []rune
	pos      map[*Rule]int
	problems []Problem
}

func (t *textReader) fail(n ast.Node, format string, args ...any) *Rule {
	line, col := lineCol(t.src, n.Location().From)
	t.problems = append(t.problems, Problem{Path: "rule", Line: line, Column: col, Reason: fmt.Sprintf(format, args...)})
	return &Rule{}
}

func (t *textReader) at(n ast.Node, r *Rule) *Rule {
	t.pos[r] = n.Location().From
	return r
}

var textOps = map[string]string{
	"==": OpEq, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe,
	"contains": OpContains, "startsWith": OpStartsWith, "endsWith": OpEndsWith, "in": OpIn,
}

var negated = map[string]string{OpIn: OpNotIn, OpContains: OpNotContains, OpEmpty: OpNotEmpty}

// flipped is the operator with its sides swapped (10 <= score.fit).
var flipped = map[string]string{OpEq: OpEq, OpNe: OpNe, OpLt: OpGt, OpLe: OpGe, OpGt: OpLt, OpGe: OpLe}

func (t *textReader) node(n ast.Node) *Rule {
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and", "||", "or":
			key := "all"
			if x.Operator == "||" || x.Operator == "or" {
				key = "any"
			}
			var list []*Rule
			for _, side := range []ast.Node{x.Left, x.Right} {
				sub := t.node(side)
				// a and b and c is one list, not a tree.
				if key == "all" && sub.kind() == "all" && t.pos[sub] == -1 {
					list = append(list, sub.All...)
				} else if key == "any" && sub.kind() == "any" && t.pos[sub] == -1 {
					list = append(list, sub.Any...)
				} else {
					list = append(list, sub)
				}
			}
			r := &Rule{}
			if key == "all" {
				r.All = list
			} else {
				r.Any = list
			}
			t.pos[r] = -1 // a flattened group: its members carry the places
			return r
		}
		return t.compare(x)
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			inner := t.node(x.Node)
			// not (a in [...]), not ("vip" in tags), not empty(a): the
			// negated operators, as the JSON form writes them.
			if inner.kind() == "field" {
				if neg, ok := negated[inner.Op]; ok {
					inner.Op = neg
					return t.at(x, inner)
				}
			}
			return t.at(x, &Rule{Not: inner})
		}
	case *ast.CallNode:
		name := callee(x)
		switch name {
		case "segment":
			if len(x.Arguments) != 1 {
				return t.fail(x, "segment takes one argument: segment(\"name\")")
			}
			s, ok := x.Arguments[0].(*ast.StringNode)
			if !ok {
				return t.fail(x.Arguments[0], "segment takes a segment name in quotes")
			}
			return t.at(x, &Rule{Segment: s.Value})
		case "empty":
			if len(x.Arguments) != 1 {
				return t.fail(x, "empty takes one field: empty(phone)")
			}
			f, ok := t.field(x.Arguments[0])
			if !ok {
				return t.fail(x.Arguments[0], "empty takes a field")
			}
			return t.at(x, &Rule{Field: f, Op: OpEmpty})
		case "in_days", "anniversary_in_days":
			if len(x.Arguments) != 2 {
				return t.fail(x, "%s takes a date field and a number of days: %s(custom.renewal, 30)", name, name)
			}
			f, ok := t.field(x.Arguments[0])
			if !ok {
				return t.fail(x.Arguments[0], "%s takes a date field first", name)
			}
			v, ok := literal(x.Arguments[1])
			if !ok {
				return t.fail(x.Arguments[1], "%s takes a number of days second", name)
			}
			return t.at(x, &Rule{Field: f, Op: name, Value: v})
		case "count", "since":
			return t.fail(x, "%s(…) must be compared: count(\"page_viewed\", \"14d\") >= 2, since(\"form_submitted\") > \"7d\"", name)
		}
		return t.fail(x, "unknown function %s (use count, since, segment, empty, in_days, anniversary_in_days)", quote(name))
	}
	return t.fail(n, "not a condition: %s", clip(n.String()))
}

func callee(x *ast.CallNode) string {
	if id, ok := x.Callee.(*ast.IdentifierNode); ok {
		return id.Value
	}
	return ""
}

// compare reads a comparison: a field with a value, a value in tags, or a
// count/since of events with a number/duration.
func (t *textReader) compare(x *ast.BinaryNode) *Rule {
	op, ok := textOps[x.Operator]
	if !ok {
		return t.fail(x, "operator %s is not supported in segment rules", quote(x.Operator))
	}
	left, right := x.Left, x.Right
	// "vip" in tags: a tag condition.
	if op == OpIn {
		if f, ok := t.field(right); ok && f == "tags" {
			v, ok := literal(left)
			if !ok {
				return t.fail(left, "a tag is a string in quotes")
			}
			return t.at(x, &Rule{Field: "tags", Op: OpContains, Value: v})
		}
	}
	if call, ok := left.(*ast.CallNode); ok && (callee(call) == "count" || callee(call) == "since") {
		return t.behaviour(x, call, op, right)
	}
	if call, ok := right.(*ast.CallNode); ok && (callee(call) == "count" || callee(call) == "since") {
		if f, ok := flipped[op]; ok {
			return t.behaviour(x, call, f, left)
		}
	}
	f, ok := t.field(left)
	if !ok {
		if g, ok2 := t.field(right); ok2 && flipped[op] != "" {
			f, left, right, op = g, right, left, flipped[op]
		} else {
			return t.fail(left, "expected a field (country, score.fit, consent.email, custom.plan…), found %s", clip(left.String()))
		}
	}
	_ = left
	v, ok := literal(right)
	if !ok {
		return t.fail(right, "expected a value (a string, a number, true/false or a list), found %s", clip(right.String()))
	}
	return t.at(x, &Rule{Field: f, Op: op, Value: v})
}

func (t *textReader) behaviour(x *ast.BinaryNode, call *ast.CallNode, op string, other ast.Node) *Rule {
	name := callee(call)
	args := call.Arguments
	r := &Rule{}
	if len(args) == 0 {
		return t.fail(call, "%s needs an event type first", name)
	}
	typ, ok := args[0].(*ast.StringNode)
	if !ok {
		return t.fail(args[0], "%s needs an event type in quotes first", name)
	}
	r.Event = typ.Value
	rest := args[1:]
	if name == "count" && len(rest) > 0 {
		if w, ok := rest[0].(*ast.StringNode); ok {
			d, err := ParseDuration(w.Value)
			if err != nil {
				return t.fail(w, "%s", err.Error())
			}
			r.Within = &d
			rest = rest[1:]
		}
	}
	if len(rest) > 1 {
		return t.fail(call, "%s takes an event type, %san optional condition on the event", name, map[bool]string{true: "an optional window (\"14d\"), ", false: ""}[name == "count"])
	}
	if len(rest) == 1 {
		r.Where = rest[0].String()
	}
	if name == "since" {
		if op != OpGt {
			return t.fail(x, "since(…) is compared with >: since(\"form_submitted\") > \"7d\"")
		}
		w, ok := other.(*ast.StringNode)
		if !ok {
			return t.fail(other, "since(…) > takes a duration in quotes such as \"7d\"")
		}
		d, err := ParseDuration(w.Value)
		if err != nil {
			return t.fail(w, "%s", err.Error())
		}
		r.Since = &d
		return t.at(x, r)
	}
	n, ok := other.(*ast.IntegerNode)
	if !ok {
		return t.fail(other, "count(…) is compared with a whole number")
	}
	r.Op, r.Count = op, &n.Value
	return t.at(x, r)
}

// field reads a field reference: country, score.fit, custom["plan"].
func (t *textReader) field(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value, true
	case *ast.MemberNode:
		id, ok1 := x.Node.(*ast.IdentifierNode)
		p, ok2 := x.Property.(*ast.StringNode)
		if ok1 && ok2 && !x.Method {
			return id.Value + "." + p.Value, true
		}
	}
	return "", false
}

// literal reads a constant as the JSON form holds it.
func literal(n ast.Node) (any, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, !math.IsInf(x.Value, 0)
	case *ast.BoolNode:
		return x.Value, true
	case *ast.UnaryNode:
		if x.Operator == "-" {
			if v, ok := literal(x.Node); ok {
				if f, ok := v.(float64); ok {
					return -f, true
				}
			}
		}
	case *ast.ArrayNode:
		list := make([]any, 0, len(x.Nodes))
		for _, e := range x.Nodes {
			v, ok := literal(e)
			if !ok {
				return nil, false
			}
			list = append(list, v)
		}
		return list, true
	}
	return nil, false
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return strings.TrimSpace(s)
}
