package segment

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/guard"
)

// Def is one segment as the catalog holds it.
type Def struct {
	Name     string
	Compiled *Compiled
}

// Catalog is every dynamic segment in force, ordered so that a segment
// comes after the segments it reads, with the indexes that say which
// segments an event or a field change can affect.
type Catalog struct {
	defs     []Def // dependency order
	byName   map[string]int
	byEvent  map[string][]int
	byField  map[string][]int
	dated    []int            // read a date relative to today
	readers  map[string][]int // segment → the segments that read it
	tracked  map[string][]*behaviour
	trackAll []*behaviour
	keyed    map[string]*behaviour // trackAll by key
	timed    []matcher             // every count and since condition, for NextChange
}

// NewCatalog orders the segments by their dependencies and builds the
// indexes. A cycle is an error naming the segments on it.
func NewCatalog(defs []Def) (*Catalog, error) {
	byName := map[string]Def{}
	for _, d := range defs {
		if _, dup := byName[d.Name]; dup {
			return nil, fmt.Errorf("segment %s is defined twice", quote(d.Name))
		}
		byName[d.Name] = d
	}
	// Depth-first topological order; a grey node met again closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var order []Def
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		switch color[name] {
		case grey:
			i := slices.Index(stack, name)
			return fmt.Errorf("segments read each other in a cycle: %v", append(slices.Clone(stack[i:]), name))
		case black:
			return nil
		}
		d, ok := byName[name]
		if !ok {
			return nil // a static list: its membership is a fact, not a rule
		}
		color[name] = grey
		stack = append(stack, name)
		for _, dep := range d.Compiled.Segments {
			if err := visit(dep); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
		order = append(order, d)
		return nil
	}
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	c := &Catalog{defs: order, byName: map[string]int{}, byEvent: map[string][]int{}, byField: map[string][]int{},
		readers: map[string][]int{}, tracked: map[string][]*behaviour{}}
	merged := map[string]*behaviour{}
	for i, d := range order {
		c.byName[d.Name] = i
		for _, e := range d.Compiled.Events {
			c.byEvent[e] = append(c.byEvent[e], i)
		}
		for _, f := range d.Compiled.Fields {
			c.byField[f] = append(c.byField[f], i)
		}
		for _, s := range d.Compiled.Segments {
			c.readers[s] = append(c.readers[s], i)
		}
		if d.Compiled.dated {
			c.dated = append(c.dated, i)
		}
		walk(d.Compiled.root, func(m matcher) {
			switch m.(type) {
			case *countMatch, *sinceMatch:
				c.timed = append(c.timed, m)
			}
		})
		for _, b := range d.Compiled.behaviours {
			m := merged[b.key]
			if m == nil {
				m = &behaviour{key: b.key, typ: b.typ, where: b.where}
				merged[b.key] = m
				c.tracked[b.typ] = append(c.tracked[b.typ], m)
				c.trackAll = append(c.trackAll, m)
			}
			m.depth, m.window, m.ever = max(m.depth, b.depth), max(m.window, b.window), m.ever || b.ever
		}
	}
	c.keyed = merged
	return c, nil
}

// Defs returns the segments in dependency order.
func (c *Catalog) Defs() []Def { return c.defs }

// Get returns a segment by name.
func (c *Catalog) Get(name string) (Def, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Def{}, false
	}
	return c.defs[i], true
}

// Tracks reports whether any segment reads events of this type.
func (c *Catalog) Tracks(eventType string) bool { return len(c.tracked[eventType]) > 0 }

// Observe records an event in a contact's behaviour, at now. It reports
// whether the state changed (the event matched a tracked kind). Per kind,
// the state keeps the latest times conditions need, counting only times up
// to now; times ahead of now (an event stamped in the future) are all kept
// until they are past.
func (c *Catalog) Observe(st *State, ev Event, now time.Time) bool {
	return c.observe(st, ev, now, nil)
}

// ObserveKeys is Observe keeping only the behaviour keys given (see Backfill).
func (c *Catalog) ObserveKeys(st *State, ev Event, now time.Time, keys []string) bool {
	return c.observe(st, ev, now, keys)
}

func (c *Catalog) observe(st *State, ev Event, now time.Time, keys []string) bool {
	bs := c.tracked[ev.Type]
	if len(bs) == 0 {
		return false
	}
	at := ev.At.UnixMilli()
	changed := false
	var env any
	var run vm.VM
	for _, b := range bs {
		if keys != nil && !slices.Contains(keys, b.key) {
			continue
		}
		if b.where != nil {
			if env == nil {
				e := ev.Properties
				if e == nil {
					e = map[string]any{}
				}
				env = Env{Event: e}
			}
			ok, err := run.Run(b.where, env)
			if err != nil || ok != true {
				continue
			}
		}
		if st.Times == nil {
			st.Times = map[string][]int64{}
		}
		old := st.Times[b.key]
		times := slices.Clone(old)
		i, _ := slices.BinarySearch(times, at)
		times = slices.Insert(times, i, at)
		past, _ := slices.BinarySearch(times, now.UnixMilli()+1) // times[:past] are at or before now
		if past > b.depth {
			times = times[past-b.depth:]
		}
		if !slices.Equal(times, old) {
			st.Times[b.key] = times
			changed = true
		}
	}
	return changed
}

// Backfill says how to rebuild from the event log some behaviour keys of
// a contact's state: which keys to replace, and which events can matter to
// them.
type Backfill struct {
	Keys  []string // behaviour keys, to rebuild with ObserveKeys
	Types []string // event types to read, sorted
	// Since is, per event type, the time (unix ms) before which no event of
	// that type can matter to the keys: every condition reading them looks
	// back a bounded window. Absent: events of any age matter.
	Since map[string]int64
	// Contains is, per event type, strings one of which the stored
	// properties text of any event that matters contains, unless the text
	// holds an escape (a backslash). Absent: no such filter.
	Contains map[string][]string
}

// Keys returns every behaviour key the catalog tracks.
func (c *Catalog) Keys() []string {
	out := make([]string, len(c.trackAll))
	for i, b := range c.trackAll {
		out[i] = b.key
	}
	return out
}

// KeyNeeds returns, for every behaviour key, what the conditions reading
// it need of its times (how many, how far back). A state complete for a key
// under some needs is complete under the same or smaller needs only.
func (c *Catalog) KeyNeeds() map[string]string {
	out := make(map[string]string, len(c.trackAll))
	for _, b := range c.trackAll {
		out[b.key] = fmt.Sprintf("depth=%d window=%d ever=%t", b.depth, b.window.Milliseconds(), b.ever)
	}
	return out
}

// SegmentKeys returns the behaviour keys a segment reads.
func (c *Catalog) SegmentKeys(name string) []string {
	i, ok := c.byName[name]
	if !ok {
		return nil
	}
	var out []string
	for _, b := range c.defs[i].Compiled.behaviours {
		if !slices.Contains(out, b.key) {
			out = append(out, b.key)
		}
	}
	return out
}

// Backfill returns the backfill of some behaviour keys at now; keys the
// catalog does not track are left out.
func (c *Catalog) Backfill(keys []string, now time.Time) Backfill {
	bf := Backfill{Since: map[string]int64{}, Contains: map[string][]string{}}
	unbounded, unfiltered := map[string]bool{}, map[string]bool{}
	for _, b := range c.trackAll { // merged: every segment that shares a key counts
		if !slices.Contains(keys, b.key) {
			continue
		}
		bf.Keys = append(bf.Keys, b.key)
		ty := b.typ
		if !slices.Contains(bf.Types, ty) {
			bf.Types = append(bf.Types, ty)
		}
		if b.ever || b.window <= 0 {
			unbounded[ty] = true
		} else if from := now.Add(-b.window).UnixMilli(); bf.Since[ty] == 0 || from < bf.Since[ty] {
			bf.Since[ty] = from
		}
		if lits, ok := literals(b.where); ok {
			bf.Contains[ty] = append(bf.Contains[ty], lits...)
		} else {
			unfiltered[ty] = true
		}
	}
	for ty := range unbounded {
		delete(bf.Since, ty)
	}
	for ty := range unfiltered {
		delete(bf.Contains, ty)
	}
	for ty, lits := range bf.Contains {
		slices.Sort(lits)
		bf.Contains[ty] = slices.Compact(lits)
	}
	sort.Strings(bf.Types)
	return bf
}

// literals returns the strings one of which a where condition requires in
// the event's properties text (see guard.Guard.Literals).
func literals(where *vm.Program) ([]string, bool) {
	if where == nil {
		return nil, false
	}
	for _, g := range guard.Find(where) {
		if lits, ok := g.Literals(); ok {
			return lits, true
		}
	}
	return nil, false
}

// Affected returns, in dependency order, the segments to evaluate again
// after an event of this type or a change of these fields; readers of a
// segment are added by Evaluate when its membership changes.
func (c *Catalog) Affected(eventType string, fields []string) []int {
	var out []int
	out = append(out, c.byEvent[eventType]...)
	for _, f := range fields {
		out = append(out, c.byField[f]...)
	}
	sort.Ints(out)
	return slices.Compact(out)
}

// All returns every segment index, in dependency order.
func (c *Catalog) All() []int {
	out := make([]int, len(c.defs))
	for i := range out {
		out[i] = i
	}
	return out
}

// ReadersOf returns the segments that read a segment (or a static list),
// to evaluate again when its membership changes.
func (c *Catalog) ReadersOf(name string) []int { return c.readers[name] }

// Index returns a segment's position in the order, or -1.
func (c *Catalog) Index(name string) int {
	if i, ok := c.byName[name]; ok {
		return i
	}
	return -1
}

// TracksKey reports whether some segment reads a behaviour key.
func (c *Catalog) TracksKey(key string) bool { return c.keyed[key] != nil }

// Change is a segment a contact entered or left.
type Change struct {
	Segment string
	Entered bool
}

// Evaluate evaluates the segments in todo (indexes in dependency order) for
// one contact, given its current memberships, and returns the changes. A
// change of membership also evaluates the segments that read it.
// members is updated in place.
func (c *Catalog) Evaluate(todo []int, f *Facts, members map[string]bool, now time.Time) []Change {
	return c.EvaluateSkipping(todo, f, members, now, nil)
}

// EvaluateSkipping is Evaluate leaving alone the segments skip names (a
// segment still being built for this contact).
func (c *Catalog) EvaluateSkipping(todo []int, f *Facts, members map[string]bool, now time.Time, skip func(string) bool) []Change {
	f.Member = func(s string) bool { return members[s] }
	pending := map[int]bool{}
	for _, i := range todo {
		pending[i] = true
	}
	var changes []Change
	for i := range c.defs {
		if !pending[i] {
			continue
		}
		d := c.defs[i]
		if skip != nil && skip(d.Name) {
			continue
		}
		in := d.Compiled.Match(f, now)
		if in == members[d.Name] {
			continue
		}
		if in {
			members[d.Name] = true
		} else {
			delete(members, d.Name)
		}
		changes = append(changes, Change{Segment: d.Name, Entered: in})
		for _, r := range c.readers[d.Name] {
			pending[r] = true // readers come later in the order
		}
	}
	return changes
}

// NextChange returns when, with no new event, the contact's behaviour
// conditions or relative dates could next change their answer: the moment
// an event leaves a window, a "since" is reached, or the next UTC midnight
// for rules that read dates relative to today. Zero means never.
func (c *Catalog) NextChange(st *State, now time.Time) time.Time {
	at := now.UnixMilli()
	next := int64(0)
	consider := func(t int64) {
		if t > at && (next == 0 || t < next) {
			next = t
		}
	}
	if st != nil && len(st.Times) > 0 {
		for _, m := range c.timed {
			switch x := m.(type) {
			case *countMatch:
				for _, t := range st.Times[x.b.key] {
					if x.window > 0 {
						consider(t + x.window.Milliseconds())
					}
					consider(t) // an event stamped ahead starts counting at its time
				}
			case *sinceMatch:
				for _, t := range st.Times[x.b.key] {
					consider(t + x.after.Milliseconds() + 1)
					consider(t)
				}
			}
		}
	}
	if len(c.dated) > 0 {
		consider(day(now).Add(24 * time.Hour).UnixMilli())
	}
	if next == 0 {
		return time.Time{}
	}
	return time.UnixMilli(next).UTC()
}

func walk(m matcher, fn func(matcher)) {
	fn(m)
	switch x := m.(type) {
	case allOf:
		for _, s := range x {
			walk(s, fn)
		}
	case anyOf:
		for _, s := range x {
			walk(s, fn)
		}
	case notOf:
		walk(x.m, fn)
	}
}
