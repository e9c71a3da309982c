package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Config is what a workspace decides about its pipeline. Zero is not useful:
// without lost reasons no deal can be lost. Start from DefaultConfig.
type Config struct {
	// LostReasons are the slugs a move to lost must give one of, so that
	// reports can count why deals are lost. Default: no_budget, no_need,
	// bad_timing, chose_competitor, no_response, not_a_fit, other.
	LostReasons []string `json:"lost_reasons"`
	// Qualified is the BANT a move to qualified needs confirmed. Default: need
	// and timing, and one of budget or authority.
	Qualified Requirement `json:"qualified_requires"`
}

// Requirement names BANT criteria that must be confirmed: every one in All,
// and at least one in Any (when Any is not empty).
type Requirement struct {
	All []string `json:"all"`
	Any []string `json:"any"`
}

// Limits on a Config.
const (
	MaxLostReasons = 50
	maxSlugLen     = 64
)

var slug = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// DefaultConfig returns the configuration a workspace starts with.
func DefaultConfig() Config {
	return Config{
		LostReasons: []string{"no_budget", "no_need", "bad_timing", "chose_competitor", "no_response", "not_a_fit", "other"},
		Qualified:   Requirement{All: []string{"need", "timing"}, Any: []string{"budget", "authority"}},
	}
}

// Validate reports the first problem in c as a *contact.ValidationError whose
// Field is the JSON path of the bad value.
func (c Config) Validate() error {
	if len(c.LostReasons) == 0 {
		return invalid("lost_reasons", "needs at least one reason")
	}
	if len(c.LostReasons) > MaxLostReasons {
		return invalid("lost_reasons", "has more than %d reasons", MaxLostReasons)
	}
	for i, r := range c.LostReasons {
		field := fmt.Sprintf("lost_reasons[%d]", i)
		if !slug.MatchString(r) {
			return invalid(field, "%s must be 1 to %d lower-case letters, digits or _", quote(r), maxSlugLen)
		}
		if slices.Contains(c.LostReasons[:i], r) {
			return invalid(field, "%s is listed twice", r)
		}
	}
	// A criterion in both lists would make Any meaningless; one listed twice
	// is a typo for another. Either way the requirement is not what was meant.
	var seen []string
	for _, list := range []struct {
		name  string
		names []string
	}{{"all", c.Qualified.All}, {"any", c.Qualified.Any}} {
		for i, n := range list.names {
			field := fmt.Sprintf("qualified_requires.%s[%d]", list.name, i)
			if !slices.Contains(Criteria, n) {
				return invalid(field, "unknown criterion %s; criteria: %s", quote(n), strings.Join(Criteria, ", "))
			}
			if slices.Contains(seen, n) {
				return invalid(field, "%s is listed twice", n)
			}
			seen = append(seen, n)
		}
	}
	return nil
}
