// Package guard finds, in an expr condition on an event's properties, the
// cheap string tests the condition requires, so that most events can be
// ruled out before the program runs (scoring rules) or before they are
// even read (segment builds).
package guard

import (
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Guard is a test on event properties that a rule's condition requires:
// one of its alternatives must hold. With many rules on one event type,
// most are then ruled out by a string comparison instead of a run of their
// program.
type Guard []Atom

// Atom is event.FIELD OP "literal".
type Atom struct {
	Field, Op, Lit string
	re             *regexp.Regexp // for matches
}

// Find finds the conjuncts of a condition that are one or a disjunction
// of comparisons of an event property with a string literal: contains,
// startsWith, endsWith, ==, matches, and in a list of strings.
func Find(p *vm.Program) []Guard {
	var out []Guard
	var conj func(n ast.Node)
	conj = func(n ast.Node) {
		if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
			conj(b.Left)
			conj(b.Right)
			return
		}
		if g, ok := disj(n); ok {
			out = append(out, g)
		}
	}
	conj(p.Node())
	return out
}

// disj reads n as a disjunction of atoms.
func disj(n ast.Node) (Guard, bool) {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil, false
	}
	if b.Operator == "||" || b.Operator == "or" {
		l, ok1 := disj(b.Left)
		r, ok2 := disj(b.Right)
		return append(l, r...), ok1 && ok2
	}
	field, ok := eventField(b.Left)
	if !ok {
		return nil, false
	}
	switch b.Operator {
	case "contains", "startsWith", "endsWith", "==", "matches":
		lit, ok := b.Right.(*ast.StringNode)
		if !ok {
			return nil, false
		}
		a := Atom{Field: field, Op: b.Operator, Lit: lit.Value}
		if a.Op == "matches" {
			re, err := regexp.Compile(lit.Value)
			if err != nil {
				return nil, false
			}
			a.re = re
		}
		return Guard{a}, true
	case "in":
		var g Guard
		switch right := b.Right.(type) {
		case *ast.ArrayNode:
			for _, e := range right.Nodes {
				lit, ok := e.(*ast.StringNode)
				if !ok {
					return nil, false
				}
				g = append(g, Atom{Field: field, Op: "==", Lit: lit.Value})
			}
		case *ast.ConstantNode: // what the optimiser makes of a list of strings
			set, ok := right.Value.(map[string]struct{})
			if !ok {
				return nil, false
			}
			for lit := range set {
				g = append(g, Atom{Field: field, Op: "==", Lit: lit})
			}
		}
		return g, len(g) > 0
	}
	return nil, false
}

// eventField reads n as event.FIELD or event["FIELD"].
func eventField(n ast.Node) (string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return "", false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	field, ok2 := m.Property.(*ast.StringNode)
	if !ok || !ok2 || id.Value != "event" {
		return "", false
	}
	return field.Value, true
}

// Admits reports whether properties can pass the guard. A property that is
// missing or not a string proves nothing: the program then decides.
func (g Guard) Admits(props map[string]any) bool {
	for _, a := range g {
		v, ok := props[a.Field].(string)
		if !ok {
			return true
		}
		var pass bool
		switch a.Op {
		case "contains":
			pass = strings.Contains(v, a.Lit)
		case "startsWith":
			pass = strings.HasPrefix(v, a.Lit)
		case "endsWith":
			pass = strings.HasSuffix(v, a.Lit)
		case "==":
			pass = v == a.Lit
		case "matches":
			pass = a.re.MatchString(v)
		}
		if pass {
			return true
		}
	}
	return false
}

// Literals returns strings one of which the stored JSON text of any
// properties passing the guard contains, provided that text has no escape
// sequence (no backslash); false when an atom gives no such string (a
// regular expression, or a literal JSON would have to escape).
//
// The program itself is never satisfied by a missing or non-string
// property for these operators, so reading only events whose text contains
// a literal (or a backslash) misses none that the condition accepts.
func (g Guard) Literals() ([]string, bool) {
	var out []string
	for _, a := range g {
		if a.Op == "matches" || strings.ContainsAny(a.Lit, "\"\\") || strings.ContainsFunc(a.Lit, func(r rune) bool { return r < 0x20 }) {
			return nil, false
		}
		out = append(out, a.Lit)
	}
	return out, len(out) > 0
}
