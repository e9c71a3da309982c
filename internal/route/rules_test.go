package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/contact"
)

type teamSet []string

func (t teamSet) TeamExists(name string) bool {
	for _, x := range t {
		if x == name {
			return true
		}
	}
	return false
}

var teams = teamSet{"inbound", "enterprise", "emea", "partners"}

const rulesDoc = `
zones:
  emea: [FR, BE, DE, GB]
  na: [US, CA]
rules:
  - name: partners
    team: partners
    source: [partner-referral]
  - name: big-emea
    team: enterprise
    zone: [emea]
    value: {min: 50000}
  - name: demo-emea
    team: emea
    zone: [emea]
    request_type: [demo, quote]
  - name: hot
    team: enterprise
    where: 'scores.engagement >= 25'
default_team: inbound
`

func ptr(v float64) *float64 { return &v }

func TestRoute(t *testing.T) {
	r, err := ParseRules([]byte(rulesDoc), teams)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		lead Lead
		want Match
	}{
		{"partner first", Lead{Contact: &contact.Contact{Source: "partner-referral", Country: "FR", PotentialValue: ptr(90000)}}, Match{"partners", "partners"}},
		{"big deal in a zone", Lead{Contact: &contact.Contact{Country: "DE", PotentialValue: ptr(50000)}}, Match{"enterprise", "big-emea"}},
		{"below the band", Lead{Contact: &contact.Contact{Country: "DE", PotentialValue: ptr(49999.99), RequestType: "Demo"}}, Match{"emea", "demo-emea"}},
		{"no value, not a demo", Lead{Contact: &contact.Contact{Country: "FR", RequestType: "support"}}, Match{"inbound", ""}},
		{"outside the zone", Lead{Contact: &contact.Contact{Country: "US", PotentialValue: ptr(90000), RequestType: "demo"}}, Match{"inbound", ""}},
		{"score", Lead{Contact: &contact.Contact{Country: "US"}, Scores: map[string]int{"engagement": 30}}, Match{"enterprise", "hot"}},
		{"score below", Lead{Contact: &contact.Contact{Country: "US"}, Scores: map[string]int{"engagement": 24}}, Match{"inbound", ""}},
		{"nil contact", Lead{}, Match{"inbound", ""}},
	} {
		if got := r.Route(tc.lead); got != tc.want {
			t.Errorf("%s: Route = %+v; want %+v", tc.name, got, tc.want)
		}
	}
	if got := strings.Join(r.Teams(), ","); got != "inbound,partners,enterprise,emea" {
		t.Errorf("Teams = %s", got)
	}
}

func TestRulesRejected(t *testing.T) {
	for _, tc := range []struct {
		name, doc, path, reason string
	}{
		{"empty", "", "document", "empty"},
		{"no default", "rules: []\n", "default_team", "missing"},
		{"unknown team", "default_team: nope\n", "default_team", `no team "nope"`},
		{"unknown field", "default_team: inbound\nrulez: []\n", "", "rulez"},
		{"rule without name", "default_team: inbound\nrules:\n  - {team: emea}\n", "rules[0].name", "missing"},
		{"duplicate name", "default_team: inbound\nrules:\n  - {name: a, team: emea, country: [FR]}\n  - {name: a, team: emea, country: [DE]}\n", "rules[1].name", "has this name"},
		{"bad country", "default_team: inbound\nrules:\n  - {name: a, team: emea, country: [France]}\n", "rules[0].country[0]", "ISO 3166-1"},
		{"unknown zone", "default_team: inbound\nrules:\n  - {name: a, team: emea, zone: [apac]}\n", "rules[0].zone[0]", `no zone "apac"`},
		{"bad zone country", "default_team: inbound\nzones: {emea: [fr]}\n", "zones.emea[0]", "ISO 3166-1"},
		{"empty zone", "default_team: inbound\nzones: {emea: []}\n", "zones.emea", "at least one"},
		{"inverted band", "default_team: inbound\nrules:\n  - {name: a, team: emea, value: {min: 10, max: 5}}\n", "rules[0].value", "below max"},
		{"negative band", "default_team: inbound\nrules:\n  - {name: a, team: emea, value: {min: -1}}\n", "rules[0].value", "not negative"},
		{"empty band", "default_team: inbound\nrules:\n  - {name: a, team: emea, value: {}}\n", "rules[0].value", "min, max"},
		{"where does not compile", "default_team: inbound\nrules:\n  - {name: a, team: emea, where: 'scores.x >>> 1'}\n", "rules[0].where", "does not compile"},
		{"where not a bool", "default_team: inbound\nrules:\n  - {name: a, team: emea, where: 'contact.country'}\n", "rules[0].where", "does not compile"},
		{"hostile text", "default_team: inbound\nrules:\n  - {name: a, team: emea, source: [\"<script>\\u0007\"]}\n", "rules[0].source[0]", "letters"},
		{"listed twice", "default_team: inbound\nrules:\n  - {name: a, team: emea, offer: [x, x]}\n", "rules[0].offer[1]", "twice"},
		{"shadowed", "default_team: inbound\nrules:\n  - {name: all-fr, team: emea, country: [FR]}\n  - {name: fr-demo, team: enterprise, country: [FR], request_type: [demo]}\n",
			"rules[1]", "no lead can reach this rule: all-fr"},
		{"shadowed by a zone", "default_team: inbound\nzones: {emea: [FR, DE]}\nrules:\n  - {name: emea, team: emea, zone: [emea]}\n  - {name: de, team: enterprise, country: [DE]}\n",
			"rules[1]", "no lead can reach"},
		{"catch-all first", "default_team: inbound\nrules:\n  - {name: all, team: emea}\n  - {name: fr, team: enterprise, country: [FR]}\n",
			"rules[1]", "no lead can reach"},
		{"overlapping bands", "default_team: inbound\nrules:\n  - {name: small, team: emea, country: [FR], value: {max: 10000}}\n  - {name: mid, team: enterprise, country: [FR], value: {min: 5000, max: 50000}}\n",
			"rules[1].value", "overlaps that of small"},
		{"too large", "default_team: inbound\n# " + strings.Repeat("x", MaxDocumentBytes) + "\n", "document", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tc.doc), teams)
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v; want a DocumentError", err)
			}
			for _, p := range de.Problems {
				if (tc.path == "" || p.Path == tc.path) && strings.Contains(p.String(), tc.reason) {
					return
				}
			}
			t.Errorf("problems %v; want %q at %q", de.Problems, tc.reason, tc.path)
		})
	}
}

func TestRulesAccepted(t *testing.T) {
	for _, doc := range []string{
		"default_team: inbound\n",
		// Specific first, general after: ordered rules allow it.
		"default_team: inbound\nrules:\n  - {name: fr-demo, team: enterprise, country: [FR], request_type: [demo]}\n  - {name: fr, team: emea, country: [FR]}\n",
		// Bands that meet without overlapping.
		"default_team: inbound\nrules:\n  - {name: small, team: emea, value: {max: 10000}}\n  - {name: big, team: enterprise, value: {min: 10000}}\n",
		// A rule with a where does not shadow what follows.
		"default_team: inbound\nrules:\n  - {name: hot, team: enterprise, where: 'scores.engagement > 10'}\n  - {name: all, team: emea}\n",
		// JSON is YAML.
		`{"default_team": "inbound", "rules": [{"name": "a", "team": "emea", "country": ["FR"]}]}`,
	} {
		if _, err := ParseRules([]byte(doc), teams); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestHolidaysClosed(t *testing.T) {
	h, err := ParseHolidays([]byte("country: FR\nholidays:\n  - {date: \"2026-12-25\", name: Noël}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := Calendar{Closed: h.Closed()}
	if got := c.Closed[Date{2026, 12, 25}]; got != "Noël" {
		t.Errorf("Closed[2026-12-25] = %q; want Noël", got)
	}
}
