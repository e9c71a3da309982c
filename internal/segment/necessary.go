package segment

// Cond is a condition on a contact's stored columns that every contact a
// rule matches meets; the rule may ask more. A build or a preview reads
// only the contacts that meet it, so a segment with a selective field
// condition ("country is FR and …") is built without looking at the rest.
type Cond struct {
	Op     string // and, or; eq, in, lt, le, gt, ge on Column; has (a tag)
	Column string // a contacts column
	Values []any  // non-empty strings or float64s
	Of     []Cond // for and, or
}

// Columns whose stored text is the field's value, and numeric columns.
var (
	textColumns = map[string]bool{"email": true, "phone": true, "first_name": true, "last_name": true,
		"company": true, "role": true, "country": true, "time_zone": true, "source": true, "offer": true,
		"persona": true, "request_type": true, "urgency": true, "status": true, "lifecycle": true,
		"owner": true, "next_step": true}
	numberColumns = map[string]bool{"potential_value": true, "budget": true, "opportunity_value": true, "won_revenue": true}
)

// Necessary returns a condition every contact the rule matches meets, or
// false when the rule may match a contact whatever its columns say (a
// negation, a behaviour or membership condition alone, a date relative to
// today).
func (c *Compiled) Necessary() (Cond, bool) { return necessary(c.root) }

func necessary(m matcher) (Cond, bool) {
	switch x := m.(type) {
	case allOf:
		var of []Cond
		for _, k := range x {
			if c, ok := necessary(k); ok {
				of = append(of, c)
			}
		}
		switch len(of) {
		case 0:
			return Cond{}, false
		case 1:
			return of[0], true
		}
		return Cond{Op: "and", Of: of}, true
	case anyOf:
		of := make([]Cond, 0, len(x))
		for _, k := range x {
			c, ok := necessary(k)
			if !ok {
				return Cond{}, false // that branch may match anyone
			}
			of = append(of, c)
		}
		return Cond{Op: "or", Of: of}, true
	case *fieldMatch:
		return x.necessary()
	}
	return Cond{}, false
}

func (m *fieldMatch) necessary() (Cond, bool) {
	switch {
	case textColumns[m.field]:
		switch m.op {
		case OpEq:
			if s, ok := m.value.(string); ok && s != "" {
				return Cond{Op: "eq", Column: m.field, Values: []any{s}}, true
			}
		case OpIn:
			for _, v := range m.list {
				if s, ok := v.(string); !ok || s == "" {
					return Cond{}, false
				}
			}
			return Cond{Op: "in", Column: m.field, Values: m.list}, true
		}
	case numberColumns[m.field]:
		ops := map[string]string{OpEq: "eq", OpLt: "lt", OpLe: "le", OpGt: "gt", OpGe: "ge"}
		if op, ok := ops[m.op]; ok {
			if f, ok := m.value.(float64); ok {
				return Cond{Op: op, Column: m.field, Values: []any{f}}, true
			}
		}
	case m.field == "tags" && m.op == OpContains:
		if s, ok := m.value.(string); ok && s != "" {
			return Cond{Op: "has", Column: "tags", Values: []any{s}}, true
		}
	}
	return Cond{}, false
}
