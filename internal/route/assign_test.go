package route

import (
	"strings"
	"testing"
)

// run picks n leads in a row, carrying the cursor, as the store does.
func run(strategy string, members []Candidate, n int, country string, zones []string) string {
	var cursor int64
	var got []string
	for range n {
		var owner string
		owner, cursor = Pick(strategy, members, cursor, country, zones)
		got = append(got, owner)
		for i := range members {
			if members[i].Owner == owner {
				members[i].Open++
			}
		}
	}
	return strings.Join(got, ",")
}

func TestPick(t *testing.T) {
	avail := func(owner string) Candidate { return Candidate{Owner: owner, Available: true} }
	for _, tc := range []struct {
		name     string
		strategy string
		members  []Candidate
		n        int
		country  string
		zones    []string
		want     string
	}{
		{"round robin", RoundRobin, []Candidate{avail("a"), avail("b"), avail("c")}, 6, "", nil, "a,b,c,a,b,c"},
		// One absent: the other two alternate.
		{"round robin, one absent", RoundRobin, []Candidate{avail("a"), {Owner: "b"}, avail("c")}, 6, "", nil, "a,c,a,c,a,c"},
		{"nobody available", RoundRobin, []Candidate{{Owner: "a"}, {Owner: "b"}}, 2, "", nil, ","},
		{"max open", RoundRobin, []Candidate{{Owner: "a", Available: true, MaxOpen: 1}, avail("b")}, 4, "", nil, "a,b,b,b"},
		{"weighted 2:1", Weighted, []Candidate{{Owner: "a", Available: true, Weight: 2}, {Owner: "b", Available: true, Weight: 1}}, 6, "", nil, "a,b,a,a,b,a"},
		{"weighted, spread out", Weighted, []Candidate{{Owner: "a", Available: true, Weight: 5}, {Owner: "b", Available: true, Weight: 1}, {Owner: "c", Available: true, Weight: 1}}, 7, "", nil, "a,a,b,a,c,a,a"},
		{"weighted, one absent", Weighted, []Candidate{{Owner: "a", Available: true, Weight: 2}, {Owner: "b", Weight: 1}}, 3, "", nil, "a,a,a"},
		{"least open", LeastOpen, []Candidate{{Owner: "a", Available: true, Open: 3}, {Owner: "b", Available: true, Open: 1}, {Owner: "c", Available: true, Open: 1}}, 5, "", nil, "b,c,b,c,a"},
		{"territory", Territory, []Candidate{{Owner: "fr", Available: true, Territory: []string{"FR"}}, {Owner: "emea", Available: true, Territory: []string{"emea"}}, avail("us")}, 4, "FR", []string{"emea"}, "fr,emea,fr,emea"},
		{"territory by zone", Territory, []Candidate{{Owner: "fr", Available: true, Territory: []string{"FR"}}, {Owner: "emea", Available: true, Territory: []string{"emea"}}}, 2, "DE", []string{"emea"}, "emea,emea"},
		{"territory, nobody covers", Territory, []Candidate{{Owner: "fr", Available: true, Territory: []string{"FR"}}, avail("x")}, 2, "JP", nil, "fr,x"},
		{"no members", RoundRobin, nil, 1, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.strategy, tc.members, tc.n, tc.country, tc.zones); got != tc.want {
				t.Errorf("picks %s; want %s", got, tc.want)
			}
		})
	}
}

// TestWeightedShares: over many turns each member gets its weight's share.
func TestWeightedShares(t *testing.T) {
	members := []Candidate{{Owner: "a", Available: true, Weight: 7}, {Owner: "b", Available: true, Weight: 2}, {Owner: "c", Available: true, Weight: 1}}
	count := map[string]int{}
	var cursor int64
	for range 1000 {
		var owner string
		owner, cursor = Pick(Weighted, members, cursor, "", nil)
		count[owner]++
	}
	if count["a"] != 700 || count["b"] != 200 || count["c"] != 100 {
		t.Errorf("shares %v; want 700, 200, 100", count)
	}
}

func TestCheckStrategy(t *testing.T) {
	for _, s := range Strategies {
		if err := CheckStrategy(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if err := CheckStrategy("random"); err == nil {
		t.Error("random accepted")
	}
}
