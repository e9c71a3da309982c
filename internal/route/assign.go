package route

import (
	"fmt"
	"slices"
)

// Strategies of assignment within a team.
const (
	RoundRobin = "round_robin" // each available member in turn
	Weighted   = "weighted"    // in turn, Weight times as often
	LeastOpen  = "least_open"  // the member with the fewest open leads; ties in turn
	Territory  = "territory"   // in turn among the members whose territory has the lead's country
)

// Strategies lists them, for validation and documentation.
var Strategies = []string{RoundRobin, Weighted, LeastOpen, Territory}

// MaxWeight bounds a member's weight.
const MaxWeight = 100

// Candidate is a team member as assignment sees it at the lead's arrival.
type Candidate struct {
	Owner     string
	Available bool // working, not absent (see Calendar); unavailable members get no new lead
	Open      int  // open leads now
	MaxOpen   int  // 0: no limit
	Weight    int  // weighted strategy (0 counts as 1)
	// Territory are countries (ISO codes) and zone names (of the routing
	// rules) the member covers, for the territory strategy.
	Territory []string
}

func (c Candidate) eligible() bool {
	return c.Available && (c.MaxOpen <= 0 || c.Open < c.MaxOpen)
}

// Pick chooses the owner of a new lead among members (in the team's
// order), given the team's assignment cursor (how many turns were taken:
// the store keeps it with the team, under the team's lock, so concurrent
// leads take distinct turns). It returns the owner ("" when no member can
// take the lead) and the new cursor. country and zones are the lead's
// country and the zones that contain it (territory).
func Pick(strategy string, members []Candidate, cursor int64, country string, zones []string) (string, int64) {
	n := int64(len(members))
	if n == 0 {
		return "", cursor
	}
	if cursor < 0 {
		cursor = 0
	}
	inTurn := func(ok func(Candidate) bool) (string, int64) {
		for k := range n {
			m := members[(cursor+k)%n]
			if m.eligible() && ok(m) {
				return m.Owner, cursor + k + 1
			}
		}
		return "", cursor
	}
	all := func(Candidate) bool { return true }
	switch strategy {
	case Weighted:
		return pickWeighted(members, cursor)
	case LeastOpen:
		least := -1
		for _, m := range members {
			if m.eligible() && (least < 0 || m.Open < least) {
				least = m.Open
			}
		}
		return inTurn(func(m Candidate) bool { return m.Open == least })
	case Territory:
		covers := func(m Candidate) bool {
			return country != "" && (slices.Contains(m.Territory, country) ||
				slices.ContainsFunc(zones, func(z string) bool { return slices.Contains(m.Territory, z) }))
		}
		if owner, next := inTurn(covers); owner != "" {
			return owner, next
		}
		return inTurn(all) // nobody covers the country: anyone available
	default:
		return inTurn(all)
	}
}

// pickWeighted is smooth weighted round robin (each member's share is its
// weight, spread out rather than in runs), as a function of the cursor so
// nothing but the cursor is kept: turn p of a cycle of W (the weights'
// sum) goes to the member smooth round robin gives at step p. Unavailable
// members' turns pass to the next turn's member.
func pickWeighted(members []Candidate, cursor int64) (string, int64) {
	cycle := weightedCycle(members)
	total := int64(len(cycle))
	for k := range total {
		i := cycle[(cursor+k)%total]
		if members[i].eligible() {
			return members[i].Owner, cursor + k + 1
		}
	}
	return "", cursor
}

func weight(m Candidate) int {
	if m.Weight <= 0 {
		return 1
	}
	return min(m.Weight, MaxWeight)
}

// weightedCycle is the order smooth weighted round robin gives the
// members over one cycle (as many turns as the weights' sum).
func weightedCycle(members []Candidate) []int {
	total := 0
	for _, m := range members {
		total += weight(m)
	}
	current := make([]int, len(members))
	cycle := make([]int, total)
	for p := range cycle {
		best := 0
		for i, m := range members {
			current[i] += weight(m)
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		cycle[p] = best
	}
	return cycle
}

// CheckStrategy validates a team's strategy name.
func CheckStrategy(s string) error {
	if !slices.Contains(Strategies, s) {
		return &Error{Field: "strategy", Reason: fmt.Sprintf("unknown strategy %q; one of %v", s, Strategies)}
	}
	return nil
}
