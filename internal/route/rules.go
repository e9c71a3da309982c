package route

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// Limits of a routing document.
const (
	MaxDocumentBytes = 256 << 10
	MaxRules         = 500
	MaxZones         = 100
	maxList          = 300
)

// Document is the routing rules as written: ordered rules, the first
// whose conditions all hold picks the team; a lead no rule takes goes to
// DefaultTeam. Zones name groups of countries that rules can use.
type Document struct {
	Zones       map[string][]string `yaml:"zones,omitempty" json:"zones,omitempty"`
	Rules       []Rule              `yaml:"rules,omitempty" json:"rules,omitempty"`
	DefaultTeam string              `yaml:"default_team" json:"default_team"`
	// FirstContact is what every new lead gets at once.
	FirstContact *FirstContact `yaml:"first_contact,omitempty" json:"first_contact,omitempty"`
	// SLA is the promise of a first human contact, and its escalation.
	SLA *SLA `yaml:"sla,omitempty" json:"sla,omitempty"`
}

// FirstContact names the templates of the first touch. Every new lead
// gets Email (the confirmation, one question and the booking link) when
// its team is open, EmailClosed (the framing message: when we will call,
// or book a slot now) when it is not; SMS and WhatsApp only with that
// channel's consent; and its owner a call task. An empty name sends
// nothing on that channel.
type FirstContact struct {
	Email       string `yaml:"email,omitempty" json:"email,omitempty"`
	EmailClosed string `yaml:"email_closed,omitempty" json:"email_closed,omitempty"`
	SMS         string `yaml:"sms,omitempty" json:"sms,omitempty"`
	WhatsApp    string `yaml:"whatsapp,omitempty" json:"whatsapp,omitempty"`
	// CallTask creates the owner's call task (default true).
	CallTask *bool `yaml:"call_task,omitempty" json:"call_task,omitempty"`
	// BookingURL is the booking link given to the templates as
	// {{ booking_url }}, when set (an external scheduler).
	BookingURL string `yaml:"booking_url,omitempty" json:"booking_url,omitempty"`
}

// DefaultFirstContact is the first touch of a document that names none:
// the shipped templates (see examples/templates).
var DefaultFirstContact = FirstContact{Email: "first-contact-email", EmailClosed: "first-contact-closed", SMS: "first-contact-sms"}

// First is the document's first touch, the defaults when it names none.
func (r *Rules) First() FirstContact {
	if r == nil || r.Doc.FirstContact == nil {
		return DefaultFirstContact
	}
	return *r.Doc.FirstContact
}

// Templates are the templates a first touch names.
func (f FirstContact) Templates() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"email": f.Email, "email_closed": f.EmailClosed, "sms": f.SMS, "whatsapp": f.WhatsApp} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// ZonesOf lists the zones that contain a country.
func (r *Rules) ZonesOf(country string) []string {
	if r == nil {
		return nil
	}
	return r.zoneOf[country]
}

// Rule sends the leads it matches to Team. Every condition given must
// hold; a list holds when the lead's field is one of its values.
type Rule struct {
	Name        string   `yaml:"name" json:"name"`
	Team        string   `yaml:"team" json:"team"`
	RequestType []string `yaml:"request_type,omitempty" json:"request_type,omitempty"`
	Country     []string `yaml:"country,omitempty" json:"country,omitempty"`
	Zone        []string `yaml:"zone,omitempty" json:"zone,omitempty"`
	Offer       []string `yaml:"offer,omitempty" json:"offer,omitempty"`
	Source      []string `yaml:"source,omitempty" json:"source,omitempty"`
	// Value is a band of potential value: Min included, Max excluded.
	Value *Band `yaml:"value,omitempty" json:"value,omitempty"`
	// Where is an expression over the contact, its scores and segments
	// (as in journeys: `scores.engagement >= 25`).
	Where string `yaml:"where,omitempty" json:"where,omitempty"`
}

// Band is [Min, Max) of potential value; a nil end is open.
type Band struct {
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

func (b *Band) lo() float64 {
	if b == nil || b.Min == nil {
		return negInf
	}
	return *b.Min
}

func (b *Band) hi() float64 {
	if b == nil || b.Max == nil {
		return posInf
	}
	return *b.Max
}

var negInf, posInf = -1e308, 1e308

// Env is what a rule's where sees.
type Env struct {
	Contact  score.ContactEnv `expr:"contact"`
	Scores   map[string]int   `expr:"scores"`
	Segments []string         `expr:"segments"`
}

// Teams tells validation which teams exist.
type Teams interface {
	TeamExists(name string) bool
}

// Rules are a validated, compiled routing document.
type Rules struct {
	Doc    Document
	Source []byte
	where  []*vm.Program
	// zoneOf maps a country to the zones that contain it.
	zoneOf map[string][]string
}

// DocumentError lists a document's problems, each with its line and path.
type DocumentError struct{ Problems []score.Problem }

func (e *DocumentError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "invalid routing rules: " + strings.Join(s, "; ")
}

var (
	slugRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	// valueRE is what request types, offers and sources look like: free
	// text from forms, kept short and printable.
	valueRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.:/-]{0,99}$`)
)

// ParseRules reads, validates and compiles a routing document. teams may
// be nil (team names are then not checked).
func ParseRules(src []byte, teams Teams) (*Rules, error) {
	var doc Document
	root, problems := score.ReadDocument(src, MaxDocumentBytes, &doc)
	if problems != nil {
		return nil, &DocumentError{problems}
	}
	c := &checker{root: root}
	r := c.compile(doc, teams)
	if len(c.problems) > 0 {
		return nil, &DocumentError{c.problems}
	}
	r.Source = slices.Clone(src)
	return r, nil
}

type checker struct {
	root     *yaml.Node
	problems []score.Problem
}

func (c *checker) add(reason string, path ...any) {
	c.problems = append(c.problems, score.ProblemAt(c.root, reason, path...))
}

func (c *checker) team(name string, teams Teams, path ...any) {
	switch {
	case name == "":
		c.add("missing; name a team", path...)
	case !slugRE.MatchString(name):
		c.add("a team name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", path...)
	case teams != nil && !teams.TeamExists(name):
		c.add(fmt.Sprintf("no team %q", name), path...)
	}
}

func (c *checker) compile(doc Document, teams Teams) *Rules {
	r := &Rules{Doc: doc, zoneOf: map[string][]string{}}
	c.team(doc.DefaultTeam, teams, "default_team")
	if f := doc.FirstContact; f != nil {
		for _, k := range slices.Sorted(maps.Keys(f.Templates())) {
			if !slugRE.MatchString(f.Templates()[k]) {
				c.add("a template name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "first_contact", k)
			}
		}
		if u := f.BookingURL; u != "" && (len(u) > 2048 || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) ||
			strings.ContainsAny(u, " \"<>\n\r\t")) {
			c.add("an http(s) URL of at most 2048 bytes", "first_contact", "booking_url")
		}
	}
	c.sla(doc.SLA, teams)
	if len(doc.Zones) > MaxZones {
		c.add(fmt.Sprintf("at most %d zones", MaxZones), "zones")
	}
	for _, z := range slices.Sorted(maps.Keys(doc.Zones)) {
		countries := doc.Zones[z]
		if !slugRE.MatchString(z) {
			c.add("a zone name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "zones", z)
			continue
		}
		if len(countries) == 0 {
			c.add("a zone needs at least one country", "zones", z)
		}
		c.list(countries, countryRE, "a country is an ISO 3166-1 alpha-2 code in upper case (FR, US)", "zones", z)
		for _, k := range countries {
			r.zoneOf[k] = append(r.zoneOf[k], z)
		}
	}
	if len(doc.Rules) > MaxRules {
		c.add(fmt.Sprintf("at most %d rules", MaxRules), "rules")
		return r
	}
	names := map[string]int{}
	r.where = make([]*vm.Program, len(doc.Rules))
	for i, rule := range doc.Rules {
		switch j, dup := names[rule.Name]; {
		case rule.Name == "":
			c.add("missing; each rule has a name (it is recorded with each assignment)", "rules", i, "name")
		case !slugRE.MatchString(rule.Name):
			c.add("a rule name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "rules", i, "name")
		case dup:
			c.add(fmt.Sprintf("rules[%d] has this name already", j), "rules", i, "name")
		default:
			names[rule.Name] = i
		}
		c.team(rule.Team, teams, "rules", i, "team")
		c.list(rule.RequestType, valueRE, "1 to 100 letters, digits, spaces or _ . : / -", "rules", i, "request_type")
		c.list(rule.Country, countryRE, "a country is an ISO 3166-1 alpha-2 code in upper case (FR, US)", "rules", i, "country")
		c.list(rule.Offer, valueRE, "1 to 100 letters, digits, spaces or _ . : / -", "rules", i, "offer")
		c.list(rule.Source, valueRE, "1 to 100 letters, digits, spaces or _ . : / -", "rules", i, "source")
		for k, z := range rule.Zone {
			if _, ok := doc.Zones[z]; !ok {
				c.add(fmt.Sprintf("no zone %q; zones are defined under zones:", z), "rules", i, "zone", k)
			}
		}
		if len(rule.Zone) > maxList {
			c.add(fmt.Sprintf("at most %d values", maxList), "rules", i, "zone")
		}
		if b := rule.Value; b != nil {
			switch {
			case b.Min == nil && b.Max == nil:
				c.add("give min, max or both", "rules", i, "value")
			case b.Min != nil && *b.Min < 0, b.Max != nil && *b.Max <= 0:
				c.add("a potential value is not negative", "rules", i, "value")
			case b.lo() >= b.hi():
				c.add("min must be below max (min is included, max is not)", "rules", i, "value")
			}
		}
		if rule.Where != "" {
			if len(rule.Where) > 2000 || score.BadText(rule.Where) {
				c.add("at most 2000 characters, no control characters", "rules", i, "where")
			} else if p, err := expr.Compile(rule.Where, expr.Env(Env{}), expr.AsBool()); err != nil {
				c.add("does not compile: "+err.Error(), "rules", i, "where")
			} else {
				r.where[i] = p
			}
		}
	}
	if len(c.problems) == 0 {
		c.overlaps(doc.Rules, doc.Zones)
	}
	return r
}

func (c *checker) list(values []string, re *regexp.Regexp, reason string, path ...any) {
	if len(values) > maxList {
		c.add(fmt.Sprintf("at most %d values", maxList), path...)
		return
	}
	for k, v := range values {
		if !re.MatchString(v) {
			c.add(reason, append(path, k)...)
			continue
		}
		if slices.Contains(values[:k], v) {
			c.add(fmt.Sprintf("%q is listed twice", v), append(path, k)...)
		}
	}
}

// overlaps rejects the two mistakes ordered rules allow: a rule no lead
// can reach, because an earlier rule without a where takes every lead it
// would; and two rules alike but for value bands that overlap (one band
// was meant to end where the other starts).
func (c *checker) overlaps(rules []Rule, zones map[string][]string) {
	for j, b := range rules {
		for i, a := range rules[:j] {
			if a.Where == "" && covers(a, b, zones) {
				c.add(fmt.Sprintf("no lead can reach this rule: %s (rules[%d]) comes first and takes every lead it would", a.Name, i), "rules", j)
				break
			}
			if a.Value != nil && b.Value != nil && a.Where == b.Where && sameCriteria(a, b) &&
				a.Value.lo() < b.Value.hi() && b.Value.lo() < a.Value.hi() {
				c.add(fmt.Sprintf("its value band overlaps that of %s (rules[%d]), which has the same conditions otherwise; "+
					"make one band end where the other starts (min is included, max is not)", a.Name, i), "rules", j, "value")
				break
			}
		}
	}
}

// covers reports whether every lead b matches, a matches too (ignoring
// b's where, which only narrows b).
func covers(a, b Rule, zones map[string][]string) bool {
	superset := func(x, y []string) bool { // x holds whenever y does
		if len(x) == 0 {
			return true
		}
		if len(y) == 0 {
			return false
		}
		for _, v := range y {
			if !slices.Contains(x, v) {
				return false
			}
		}
		return true
	}
	if !superset(a.RequestType, b.RequestType) || !superset(a.Offer, b.Offer) || !superset(a.Source, b.Source) {
		return false
	}
	// Place: every country b can take must pass a's country list and a's
	// zones, when a has them.
	if len(a.Country) > 0 || len(a.Zone) > 0 {
		countries := b.Country
		if len(countries) == 0 {
			for _, z := range b.Zone {
				countries = append(countries, zones[z]...)
			}
		}
		if len(countries) == 0 {
			return false // b takes leads from anywhere, a does not
		}
		for _, k := range countries {
			if len(a.Country) > 0 && !slices.Contains(a.Country, k) {
				return false
			}
			if len(a.Zone) > 0 && !slices.ContainsFunc(a.Zone, func(z string) bool { return slices.Contains(zones[z], k) }) {
				return false
			}
		}
	}
	return a.Value.lo() <= b.Value.lo() && b.Value.hi() <= a.Value.hi()
}

func sameCriteria(a, b Rule) bool {
	same := func(x, y []string) bool {
		x, y = slices.Clone(x), slices.Clone(y)
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	return same(a.RequestType, b.RequestType) && same(a.Country, b.Country) && same(a.Zone, b.Zone) &&
		same(a.Offer, b.Offer) && same(a.Source, b.Source)
}

// Lead is what the rules look at.
type Lead struct {
	Contact  *contact.Contact
	Scores   map[string]int
	Segments []string
}

// Match is the team a lead goes to and the rule that decided it ("" for
// the default team).
type Match struct {
	Team string `json:"team"`
	Rule string `json:"rule,omitempty"`
}

// Route picks the team of a lead: the first rule that holds, or the
// default team.
func (r *Rules) Route(l Lead) Match {
	c := l.Contact
	if c == nil {
		c = &contact.Contact{}
	}
	var env *Env
	for i, rule := range r.Doc.Rules {
		if !in(rule.RequestType, c.RequestType) || !in(rule.Country, c.Country) || !in(rule.Offer, c.Offer) ||
			!in(rule.Source, c.Source) {
			continue
		}
		if len(rule.Zone) > 0 && !slices.ContainsFunc(rule.Zone, func(z string) bool { return slices.Contains(r.zoneOf[c.Country], z) }) {
			continue
		}
		if rule.Value != nil {
			if c.PotentialValue == nil || *c.PotentialValue < rule.Value.lo() || *c.PotentialValue >= rule.Value.hi() {
				continue
			}
		}
		if p := r.where[i]; p != nil {
			if env == nil {
				env = &Env{Contact: score.NewContactEnv(c), Scores: l.Scores, Segments: l.Segments}
			}
			out, err := expr.Run(p, *env)
			if b, _ := out.(bool); err != nil || !b {
				continue
			}
		}
		return Match{Team: rule.Team, Rule: rule.Name}
	}
	return Match{Team: r.Doc.DefaultTeam}
}

// in reports whether v is one of list (an empty list holds for anything);
// request types, offers and sources compare without case.
func in(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// Teams names the teams the document sends leads to, the default first.
func (r *Rules) Teams() []string {
	out := []string{r.Doc.DefaultTeam}
	for _, rule := range r.Doc.Rules {
		if !slices.Contains(out, rule.Team) {
			out = append(out, rule.Team)
		}
	}
	return out
}
