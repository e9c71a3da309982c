package score

import (
	"reflect"
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/guard"
)

// Env is what a rule's condition sees: the event's properties (plus its
// type and source) as event.*, and the contact's fields as contact.*.
type Env struct {
	Event   map[string]any `expr:"event"`
	Contact ContactEnv     `expr:"contact"`
}

// ContactEnv is the contact as conditions see it. Unknown fields are
// compile errors, so a typo in a rule is caught when it is applied.
type ContactEnv struct {
	Email          string         `expr:"email"`
	Phone          string         `expr:"phone"`
	FirstName      string         `expr:"first_name"`
	LastName       string         `expr:"last_name"`
	Company        string         `expr:"company"`
	Role           string         `expr:"role"`
	Country        string         `expr:"country"`
	TimeZone       string         `expr:"time_zone"`
	Source         string         `expr:"source"`
	Offer          string         `expr:"offer"`
	Persona        string         `expr:"persona"`
	RequestType    string         `expr:"request_type"`
	PotentialValue float64        `expr:"potential_value"`
	Urgency        string         `expr:"urgency"`
	Budget         float64        `expr:"budget"`
	Status         string         `expr:"status"`
	Lifecycle      string         `expr:"lifecycle"`
	Owner          string         `expr:"owner"`
	Tags           []string       `expr:"tags"`
	Custom         map[string]any `expr:"custom"`
}

func contactEnv(c *contact.Contact) ContactEnv {
	if c == nil {
		return ContactEnv{}
	}
	e := ContactEnv{Email: c.Email, Phone: c.Phone, FirstName: c.FirstName, LastName: c.LastName,
		Company: c.Company, Role: c.Role, Country: c.Country, TimeZone: c.TimeZone, Source: c.Source,
		Offer: c.Offer, Persona: c.Persona, RequestType: c.RequestType, Urgency: c.Urgency,
		Status: c.Status, Lifecycle: c.Lifecycle, Owner: c.Owner, Tags: c.Tags, Custom: c.CustomFields}
	if c.PotentialValue != nil {
		e.PotentialValue = *c.PotentialValue
	}
	if c.Budget != nil {
		e.Budget = *c.Budget
	}
	return e
}

// Rules is a compiled, validated rules document.
type Rules struct {
	Version int // the document's version once stored; 0 before
	Doc     Document
	Source  []byte // the document as its author wrote it

	byEvent    map[string][]*rule
	profile    []*rule
	all        []*rule
	sums       map[string][]string
	names      []string // every score, sorted
	inactivity *inactivity
	bands      []band // highest first; the last is the bottom band
	threshold  string
	hysteresis int
}

type rule struct {
	RuleDef
	Version      int
	prog         *vm.Program
	needsContact bool
	window       int           // how many recent times to keep for per_day/per_week
	guards       []guard.Guard // cheap tests the event must pass for the condition to hold
}

type inactivity struct {
	InactivityDef
	Version  int
	after    time.Duration
	activity map[string]bool
}

type band struct {
	BandDef
	min int
}

func compile(doc Document, root *yaml.Node) (*Rules, error) {
	c := &checker{root: root}
	c.validate(doc)
	r := &Rules{Doc: doc, byEvent: map[string][]*rule{}, sums: map[string][]string{}, names: sortedKeys(doc.Scores)}
	for i, d := range doc.Rules {
		rl := &rule{RuleDef: d, window: max(d.Limit.PerDay, d.Limit.PerWeek)}
		if d.When != "" {
			if len(d.When) > maxExpr || BadText(d.When) {
				c.add("at most 2000 characters, no control characters", "rules", i, "when")
				continue
			}
			prog, err := expr.Compile(d.When, expr.Env(Env{}), expr.AsBool())
			if err != nil {
				c.add("does not compile: "+err.Error(), "rules", i, "when")
				continue
			}
			rl.prog = prog
			rl.needsContact = mentions(prog, "contact") || mentions(prog, "$env")
			rl.guards = guard.Find(prog)
		}
		r.all = append(r.all, rl)
		if d.Profile {
			r.profile = append(r.profile, rl)
		} else {
			r.byEvent[d.Event] = append(r.byEvent[d.Event], rl)
		}
	}
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b Problem) int { return cmpInt(a.Line, b.Line) })
		return nil, &DocumentError{c.problems}
	}
	for name, def := range doc.Scores {
		if len(def.Sum) > 0 {
			r.sums[name] = def.Sum
		}
	}
	if in := doc.Inactivity; in != nil {
		r.inactivity = &inactivity{InactivityDef: *in, after: time.Duration(in.After), activity: map[string]bool{}}
		for _, t := range in.Activity {
			r.inactivity.activity[t] = true
		}
	}
	if th := doc.Thresholds; th != nil {
		r.threshold, r.hysteresis = th.Score, th.Hysteresis
		for _, b := range th.Bands {
			nb := band{BandDef: b, min: minInt}
			if b.Min != nil {
				nb.min = *b.Min
			}
			r.bands = append(r.bands, nb)
		}
		slices.SortStableFunc(r.bands, func(a, b band) int { return cmpInt(b.min, a.min) })
	}
	return r, nil
}

const minInt = -1 << 62

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mentions reports whether the program reads the named variable.
func mentions(p *vm.Program, name string) bool {
	found := false
	node := p.Node()
	ast.Walk(&node, visitor(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok && id.Value == name {
			found = true
		}
	}))
	return found
}

// admits reports whether the event's properties can satisfy the rule's
// condition. A property that is missing or not a string proves nothing:
// the program then decides.
func (rl *rule) admits(props map[string]any) bool {
	for _, g := range rl.guards {
		if !g.Admits(props) {
			return false
		}
	}
	return true
}

type visitor func(*ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }

// Stamp sets the document's version and gives each rule a version: the
// version in which its definition last changed, so editing one rule does
// not make every other rule look new in the ledger.
func (r *Rules) Stamp(version int, prev *Rules) {
	r.Version = version
	old := map[string]*rule{}
	if prev != nil {
		for _, rl := range prev.all {
			old[rl.ID] = rl
		}
	}
	for _, rl := range r.all {
		rl.Version = version
		if o, ok := old[rl.ID]; ok && reflect.DeepEqual(o.RuleDef, rl.RuleDef) {
			rl.Version = o.Version
		}
	}
	if r.inactivity != nil {
		r.inactivity.Version = version
		if prev != nil && prev.inactivity != nil && reflect.DeepEqual(prev.inactivity.InactivityDef, r.inactivity.InactivityDef) {
			r.inactivity.Version = prev.inactivity.Version
		}
	}
}

// RuleVersions maps each rule id (and "inactivity") to its version.
func (r *Rules) RuleVersions() map[string]int {
	out := map[string]int{}
	for _, rl := range r.all {
		out[rl.ID] = rl.Version
	}
	if r.inactivity != nil {
		out[reservedRule] = r.inactivity.Version
	}
	return out
}

// Scores lists the declared score names, sorted.
func (r *Rules) Scores() []string { return r.names }

// ThresholdScore is the score the bands read ("" without thresholds).
func (r *Rules) ThresholdScore() string { return r.threshold }

// Bands lists the bands, highest first, with their floors (the bottom
// band's floor is nil).
func (r *Rules) Bands() []BandDef {
	out := make([]BandDef, len(r.bands))
	for i, b := range r.bands {
		out[i] = b.BandDef
	}
	return out
}

// Band returns the definition of the named band.
func (r *Rules) Band(name string) (BandDef, bool) {
	for _, b := range r.bands {
		if b.Name == name {
			return b.BandDef, true
		}
	}
	return BandDef{}, false
}

// NeedsContact reports whether scoring an event of this type reads the
// contact's fields, so the caller loads the contact only when it must.
func (r *Rules) NeedsContact(eventType string) bool {
	if (eventType == "lead_created" || eventType == "field_changed") && len(r.profile) > 0 {
		return true
	}
	for _, rl := range r.byEvent[eventType] {
		if rl.needsContact {
			return true
		}
	}
	return false
}

// Interested reports whether an event of this type can change a score or
// its state; events it is not interested in need no state read at all.
func (r *Rules) Interested(eventType string) bool {
	if len(r.byEvent[eventType]) > 0 || r.NeedsContact(eventType) || eventType == AdjustEvent {
		return true
	}
	if eventType == "lead_created" && len(r.bands) > 0 {
		return true // the first band is entered on creation
	}
	return r.inactivity != nil && r.inactivity.activity[eventType]
}

// Restamp sets the versions recorded when the document was stored.
func (r *Rules) Restamp(version int, ruleVersions map[string]int) {
	r.Version = version
	for _, rl := range r.all {
		rl.Version = version
		if v, ok := ruleVersions[rl.ID]; ok {
			rl.Version = v
		}
	}
	if r.inactivity != nil {
		r.inactivity.Version = version
		if v, ok := ruleVersions[reservedRule]; ok {
			r.inactivity.Version = v
		}
	}
}

// ActivityTypes lists the event types that count as activity, sorted.
func (r *Rules) ActivityTypes() []string {
	if r.inactivity == nil {
		return nil
	}
	return sortedKeys(r.inactivity.activity)
}

// Types lists the event types scoring reads (for a replay, the others can
// be skipped).
func (r *Rules) Types() []string {
	seen := map[string]bool{"lead_created": true, "field_changed": true, AdjustEvent: true}
	for t := range r.byEvent {
		seen[t] = true
	}
	if r.inactivity != nil {
		for t := range r.inactivity.activity {
			seen[t] = true
		}
	}
	return sortedKeys(seen)
}

// NewContactEnv is the contact as conditions see it (nil: an empty one).
// Journeys' conditions read contacts the same way as rules.
func NewContactEnv(c *contact.Contact) ContactEnv { return contactEnv(c) }
