package pipeline

import (
	"slices"
	"strings"
	"time"
)

// Criteria are the BANT criteria, in the order they are shown.
var Criteria = []string{"budget", "authority", "need", "timing"}

// Limits on a Criterion, in characters.
const (
	MaxCriterionValueLen = 500
	MaxEvidenceLen       = 2000
	MaxByLen             = 200 // Source, ConfirmedBy, Activity.By and Outcome
)

// Criterion is what is known about one BANT criterion: the answer (Value,
// such as "€20k approved for Q3"), why we believe it (Evidence, optionally the
// event it came from), where it came from (Source: a form, a call) and who
// confirmed it when. It counts only once confirmed: automation may fill in a
// value, but a person vouches for it.
type Criterion struct {
	Value           string    `json:"value,omitempty"`
	Evidence        string    `json:"evidence,omitempty"`
	EvidenceEventID int64     `json:"evidence_event_id,omitempty"`
	Source          string    `json:"source,omitempty"`
	ConfirmedBy     string    `json:"confirmed_by,omitempty"`
	ConfirmedAt     time.Time `json:"confirmed_at,omitzero"`
}

// Confirmed reports whether someone has vouched for c.
func (c Criterion) Confirmed() bool {
	return c.ConfirmedBy != "" && !c.ConfirmedAt.IsZero()
}

// CheckCriterion validates what a caller says about the criterion name. Errors
// name the field as "bant.<name>.<field>" ("bant" for an unknown name).
func CheckCriterion(name string, c Criterion) error {
	if !slices.Contains(Criteria, name) {
		return invalid("bant", "unknown criterion %s; criteria: %s", quote(name), strings.Join(Criteria, ", "))
	}
	field := "bant." + name + "."
	for _, f := range []struct {
		name, v   string
		max       int
		multiline bool
	}{
		{"value", c.Value, MaxCriterionValueLen, false},
		{"evidence", c.Evidence, MaxEvidenceLen, true},
		{"source", c.Source, MaxByLen, false},
		{"confirmed_by", c.ConfirmedBy, MaxByLen, false},
	} {
		if err := checkText(field+f.name, f.v, f.max, f.multiline); err != nil {
			return err
		}
	}
	if c.EvidenceEventID < 0 {
		return invalid(field+"evidence_event_id", "must not be negative")
	}
	// Half a confirmation would silently not count; say so instead.
	if strings.TrimSpace(c.ConfirmedBy) == "" && c.ConfirmedBy != "" {
		return invalid(field+"confirmed_by", "is blank")
	}
	if c.ConfirmedBy != "" && c.ConfirmedAt.IsZero() {
		return invalid(field+"confirmed_at", "is required with confirmed_by")
	}
	if c.ConfirmedBy == "" && !c.ConfirmedAt.IsZero() {
		return invalid(field+"confirmed_by", "is required with confirmed_at")
	}
	return nil
}

// Missing returns what bant lacks to meet req: each criterion of req.All not
// confirmed, in req's order, then "one of x or y" when req.Any is not empty and
// none of it is confirmed. Nil means req is met.
func Missing(req Requirement, bant map[string]Criterion) []string {
	var miss []string
	for _, n := range req.All {
		if !bant[n].Confirmed() {
			miss = append(miss, n)
		}
	}
	if len(req.Any) > 0 && !slices.ContainsFunc(req.Any, func(n string) bool { return bant[n].Confirmed() }) {
		miss = append(miss, oneOf(req.Any))
	}
	return miss
}

// describe puts a requirement that asks for something in words: "need and
// timing confirmed, and one of budget or authority".
func describe(req Requirement) string {
	switch {
	case len(req.Any) == 0:
		return list(req.All, "and") + " confirmed"
	case len(req.All) == 0:
		return oneOf(req.Any) + " confirmed"
	}
	return list(req.All, "and") + " confirmed, and " + oneOf(req.Any)
}

func oneOf(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return "one of " + list(names, "or")
}

// list joins names as "a, b and c".
func list(names []string, conj string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conj + " " + names[len(names)-1]
}
