package segment

import (
	"math"
	"strconv"
	"strings"
)

// Text renders a rule in its text form; ParseText reads it back to the same
// rule.
func Text(r *Rule) string {
	var b strings.Builder
	writeText(&b, r, false)
	return b.String()
}

func writeText(b *strings.Builder, r *Rule, nested bool) {
	switch r.kind() {
	case "all", "any":
		list, sep := r.All, " and "
		if r.Any != nil {
			list, sep = r.Any, " or "
		}
		if nested && len(list) > 1 {
			b.WriteString("(")
		}
		for i, sub := range list {
			if i > 0 {
				b.WriteString(sep)
			}
			writeText(b, sub, true)
		}
		if nested && len(list) > 1 {
			b.WriteString(")")
		}
	case "not":
		b.WriteString("not ")
		k := r.Not.kind()
		paren := k == "all" || k == "any" || k == "field" || k == "event"
		if paren {
			b.WriteString("(")
		}
		writeText(b, r.Not, false)
		if paren {
			b.WriteString(")")
		}
	case "segment":
		b.WriteString("segment(" + strconv.Quote(r.Segment) + ")")
	case "field":
		writeField(b, r)
	case "event":
		name := "count"
		if r.Since != nil {
			name = "since"
		}
		b.WriteString(name + "(" + strconv.Quote(r.Event))
		if r.Within != nil {
			b.WriteString(", " + strconv.Quote(r.Within.String()))
		}
		if r.Where != "" {
			b.WriteString(", " + r.Where)
			if strings.Contains(r.Where, "//") {
				b.WriteString("\n") // a line comment must not swallow the parenthesis
			}
		}
		b.WriteString(")")
		if r.Since != nil {
			b.WriteString(" > " + strconv.Quote(r.Since.String()))
			return
		}
		op, n := r.Op, 1
		if op == "" {
			op = OpGe
		}
		if r.Count != nil {
			n = *r.Count
		}
		b.WriteString(" " + op + " " + strconv.Itoa(n))
	default:
		b.WriteString("<invalid>")
	}
}

func writeField(b *strings.Builder, r *Rule) {
	f := fieldText(r.Field)
	switch r.Op {
	case OpEmpty:
		b.WriteString("empty(" + f + ")")
	case OpNotEmpty:
		b.WriteString("not empty(" + f + ")")
	case OpInDays, OpAnniversaryInDays:
		b.WriteString(r.Op + "(" + f + ", " + valueText(r.Value) + ")")
	case OpContains:
		if r.Field == "tags" {
			b.WriteString(valueText(r.Value) + " in tags")
			return
		}
		b.WriteString(f + " contains " + valueText(r.Value))
	case OpNotContains:
		if r.Field == "tags" {
			b.WriteString(valueText(r.Value) + " not in tags")
			return
		}
		b.WriteString("not (" + f + " contains " + valueText(r.Value) + ")")
	case OpNotIn:
		b.WriteString(f + " not in " + valueText(r.Value))
	case OpStartsWith:
		b.WriteString(f + " startsWith " + valueText(r.Value))
	case OpEndsWith:
		b.WriteString(f + " endsWith " + valueText(r.Value))
	default:
		b.WriteString(f + " " + r.Op + " " + valueText(r.Value))
	}
}

// fieldText writes custom.KEY as custom["KEY"] when KEY is not an identifier.
func fieldText(f string) string {
	prefix, rest, ok := strings.Cut(f, ".")
	if ok && (strings.Contains(rest, "-") || rest[0] >= '0' && rest[0] <= '9') {
		return prefix + "[" + strconv.Quote(rest) + "]"
	}
	return f
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'e', -1, 64) // a float literal: big integers overflow expr's
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "nil"
}
