package journey

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// Journey is a validated, compiled document. It is immutable and safe for
// concurrent use.
type Journey struct {
	Doc    Document
	Source []byte

	steps   []*step
	byID    map[string]int
	trigger *vm.Program
	// on is the event type that enrols (a signal for segment, score and
	// field triggers), and onCond its built-in condition.
	on     string
	onCond *vm.Program
	// date trigger: minutes after midnight, and the offset from the date.
	dateAt     int
	dateOffset time.Duration
	goal       *vm.Program
	quiet      quiet
	tz         *time.Location
	require    []string
	reentry    string // never, always
	after      time.Duration
	// events are the event types the journey reacts to once a contact is in
	// it (objective, wait_for, exits, resume).
	events map[string]bool
}

type step struct {
	Step
	index    int
	next     int // -1: the end
	kind     string
	cond     []*vm.Program // branch arms' conditions (nil for the default)
	targets  []int         // branch, split arms, or wait_for then/else
	waitFor  *vm.Program
	untilMin int // wait until: minutes after midnight, -1 if none
	days     []time.Weekday
}

// Kinds of steps.
const (
	KindSend    = "send"
	KindWait    = "wait"
	KindWaitFor = "wait_for"
	KindBranch  = "branch"
	KindSplit   = "split"
	KindUpdate  = "update"
	KindGoal    = "goal"
	KindExit    = "exit"
)

// exitEvents end every enrolment of the contact (DOMAIN: stop as soon as a
// human takes over; never mail someone who left or whose address bounced).
var exitEvents = map[string]string{
	"unsubscribed": "unsubscribed", "email_bounced": "hard_bounce", "email_complained": "complaint",
	"contact_erased": "erased", "human_takeover": "human_takeover",
}

func (c *checker) compile(doc Document, cat Catalog) *Journey {
	j := &Journey{Doc: doc, byID: map[string]int{}, events: map[string]bool{}}
	switch {
	case doc.Name == "":
		c.add("missing; a journey needs a name", "name")
	case !namePattern.MatchString(doc.Name):
		c.add("a name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "name")
	case doc.Name == "settings":
		c.add(`"settings" is reserved (the API's /api/v1/journeys/settings)`, "name")
	}
	if score.BadText(doc.Description) || len(doc.Description) > 2000 {
		c.add("at most 2000 characters, no control characters", "description")
	}
	// Trigger.
	c.trigger(j, doc.Trigger)
	if doc.Priority < -1000 || doc.Priority > 1000 {
		c.add("between -1000 and 1000 (higher goes first when journeys compete for the frequency cap)", "priority")
	}
	// Objective.
	if doc.Objective != nil {
		if !typePattern.MatchString(doc.Objective.Event) {
			c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "objective", "event")
		}
		j.goal = c.condition(doc.Objective.Where, "objective", "where")
		j.events[doc.Objective.Event] = true
	}
	for typ := range exitEvents {
		j.events[typ] = true
	}
	// Entry.
	j.require = doc.Entry.Require
	if j.require == nil {
		j.require = DefaultRequire
	}
	for i, f := range j.require {
		if !slices.Contains(requirable, f) {
			c.add(fmt.Sprintf("unknown field %q; one of %s", f, strings.Join(requirable, ", ")), "entry", "require", i)
		}
	}
	for i, ch := range doc.Entry.Consent {
		if !slices.Contains([]string{"email", "sms", "whatsapp"}, ch) {
			c.add("a consent is for email, sms or whatsapp", "entry", "consent", i)
		}
	}
	switch r := doc.Entry.Reentry; r {
	case "", "never":
		j.reentry = "never"
	case "always":
		j.reentry = "always"
	default:
		d, err := parseDuration(r)
		if err != nil {
			c.add(`"never", "always" or a duration such as "30d"`, "entry", "reentry")
		}
		j.reentry, j.after = "after", d
	}
	switch doc.Takeover {
	case "", "stop", "pause":
	default:
		c.add(`"stop" or "pause"`, "takeover")
	}
	if doc.Resume != "" {
		if doc.Takeover != "pause" {
			c.add("resume applies to takeover: pause", "resume")
		} else if doc.Resume != "never" {
			if _, err := parseDuration(doc.Resume); err != nil {
				if !typePattern.MatchString(doc.Resume) {
					c.add(`"never", a duration without sales activity ("14d") or an event type`, "resume")
				} else {
					j.events[doc.Resume] = true
				}
			}
		}
	}
	j.tz = time.UTC
	if doc.TimeZone != "" {
		loc, err := time.LoadLocation(doc.TimeZone)
		if err != nil || doc.TimeZone == "Local" {
			c.add("unknown time zone; use an IANA name such as Europe/Paris", "time_zone")
		} else {
			j.tz = loc
		}
	}
	j.quiet = defaultQuiet
	if q := doc.QuietHours; q != nil {
		if q.Off {
			j.quiet = quiet{off: true}
		} else {
			s, ok1 := parseClock(q.Start)
			e, ok2 := parseClock(q.End)
			if !ok1 || !ok2 || s == e {
				c.add(`start and end as "HH:MM", not equal`, "quiet_hours")
			}
			j.quiet = quiet{start: s, end: e, weekends: q.Weekends}
		}
	}
	if score.BadText(doc.List) || len(doc.List) > 100 {
		c.add("at most 100 characters, no control characters", "list")
	}
	c.steps(j, doc.Steps, cat)
	return j
}

// condition compiles an expr condition on the contact and the event.
// Signals the store raises for triggers that are not events of the log.
const (
	SignalScoreCrossed = "score_crossed" // properties: score, from, to
)

func (c *checker) trigger(j *Journey, t Trigger) {
	kinds := 0
	for _, set := range []bool{t.Event != "", t.Manual, t.Segment != "", t.Score != nil, t.Field != nil, t.Date != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		c.add("missing; say what enrols a contact: event, segment, score, field, date, or manual: true", "trigger")
		return
	case kinds > 1:
		c.add("one of event, segment, score, field, date or manual, not several", "trigger")
		return
	}
	j.trigger = c.condition(t.Where, "trigger", "where")
	builtin := ""
	switch {
	case t.Event != "":
		if !typePattern.MatchString(t.Event) {
			c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "trigger", "event")
		}
		j.on = t.Event
	case t.Segment != "":
		if !namePattern.MatchString(t.Segment) {
			c.add("a segment name is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "trigger", "segment")
		}
		j.on, builtin = "segment_entered", "event.segment == "+strconv.Quote(t.Segment)
	case t.Score != nil:
		if !typePattern.MatchString(t.Score.Name) {
			c.add("a score name is 1 to 64 of a-z 0-9 _ . starting with a letter", "trigger", "score", "name")
		}
		j.on = SignalScoreCrossed
		builtin = fmt.Sprintf("event.score == %s and event.from < %d and event.to >= %d", strconv.Quote(t.Score.Name), t.Score.Above, t.Score.Above)
	case t.Field != nil:
		if !fieldPattern.MatchString(t.Field.Name) {
			c.add("a field name: a contact field (stage, owner, country…) or custom_fields.NAME", "trigger", "field", "name")
		}
		if score.BadText(t.Field.To) || score.BadText(t.Field.From) || len(t.Field.To) > 200 || len(t.Field.From) > 200 {
			c.add("at most 200 characters, no control characters", "trigger", "field")
		}
		j.on = "field_changed"
		cond := ".field == " + strconv.Quote(t.Field.Name)
		if t.Field.To != "" {
			cond += " and string(.new) == " + strconv.Quote(t.Field.To)
		}
		if t.Field.From != "" {
			cond += " and string(.old) == " + strconv.Quote(t.Field.From)
		}
		builtin = "any(event.changes ?? [], {" + cond + "})"
	case t.Date != nil:
		d := t.Date
		if !fieldPattern.MatchString("custom_fields." + d.Field) {
			c.add("the custom field holding the date (YYYY-MM-DD), 1 to 64 of a-z 0-9 _", "trigger", "date", "field")
		}
		if d.Before < 0 || d.After < 0 {
			c.add("before and after are positive durations (3d)", "trigger", "date")
		}
		if d.Before > 0 && d.After > 0 {
			c.add("before or after, not both", "trigger", "date")
		}
		j.dateOffset = time.Duration(d.After) - time.Duration(d.Before)
		j.dateAt = 9 * 60
		if d.At != "" {
			m, ok := parseClock(d.At)
			if !ok {
				c.add("a time of day, HH:MM", "trigger", "date", "at")
			}
			j.dateAt = m
		}
	}
	if builtin != "" {
		p, err := expr.Compile(builtin, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			c.add("does not compile: "+err.Error(), "trigger")
		}
		j.onCond = p
	}
}

func (c *checker) condition(src string, path ...any) *vm.Program {
	if src == "" {
		return nil
	}
	if score.BadText(src) || len(src) > 2000 {
		c.add("at most 2000 characters, no control characters", path...)
		return nil
	}
	p, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		c.add("does not compile: "+err.Error(), path...)
		return nil
	}
	return p
}

func (c *checker) steps(j *Journey, steps []Step, cat Catalog) {
	switch {
	case len(steps) == 0:
		c.add("a journey needs at least one step", "steps")
		return
	case len(steps) > MaxSteps:
		c.add(fmt.Sprintf("at most %d steps", MaxSteps), "steps")
		return
	}
	for i, s := range steps {
		switch {
		case s.ID == "":
			c.add("missing; every step needs a stable id", "steps", i, "id")
		case !namePattern.MatchString(s.ID):
			c.add("a step id is 1 to 64 of a-z 0-9 _ . - starting with a letter or digit", "steps", i, "id")
		default:
			if _, dup := j.byID[s.ID]; dup {
				c.add(fmt.Sprintf("step id %q is used twice", s.ID), "steps", i, "id")
			}
			j.byID[s.ID] = i
		}
	}
	target := func(id string, path ...any) int {
		if id == "" {
			return -2
		}
		if i, ok := j.byID[id]; ok {
			return i
		}
		c.add(fmt.Sprintf("no step has the id %q", id), path...)
		return -2
	}
	for i, s := range steps {
		st := &step{Step: s, index: i, next: i + 1, untilMin: -1}
		if st.next == len(steps) {
			st.next = -1
		}
		if s.Next != "" {
			if t := target(s.Next, "steps", i, "next"); t >= 0 {
				st.next = t
			}
		}
		var kinds []string
		if s.Send != nil {
			kinds = append(kinds, KindSend)
		}
		if s.Wait != nil {
			kinds = append(kinds, KindWait)
		}
		if s.WaitFor != nil {
			kinds = append(kinds, KindWaitFor)
		}
		if s.Branch != nil {
			kinds = append(kinds, KindBranch)
		}
		if s.Split != nil {
			kinds = append(kinds, KindSplit)
		}
		if s.Update != nil {
			kinds = append(kinds, KindUpdate)
		}
		if s.Goal != nil {
			kinds = append(kinds, KindGoal)
		}
		if s.Exit != nil {
			kinds = append(kinds, KindExit)
		}
		for k := range s.Extra {
			c.add(fmt.Sprintf("unknown step type %q; one of send, wait, wait_for, branch, split, update, goal, exit", k), "steps", i, k)
		}
		switch {
		case len(kinds) == 0 && len(s.Extra) == 0:
			c.add("a step needs one of send, wait, wait_for, branch, split, update, goal, exit", "steps", i)
		case len(kinds) > 1:
			c.add("one kind per step; found "+strings.Join(kinds, " and "), "steps", i)
		}
		if len(kinds) == 1 {
			st.kind = kinds[0]
		}
		switch st.kind {
		case KindSend:
			c.send(j, s.Send, cat, i)
		case KindWait:
			w := s.Wait
			if w.For < 0 {
				c.add("a wait cannot be negative", "steps", i, "wait")
			}
			if w.Until != "" {
				m, ok := parseClock(w.Until)
				if !ok {
					c.add(`until is a time of day, "HH:MM"`, "steps", i, "wait", "until")
				}
				st.untilMin = m
			}
			for k, d := range w.Days {
				wd, ok := weekdays[strings.ToLower(d)]
				if !ok {
					c.add("a day is mon, tue, wed, thu, fri, sat or sun", "steps", i, "wait", "days", k)
				}
				st.days = append(st.days, wd)
			}
			if w.For == 0 && w.Until == "" {
				c.add(`a wait needs a duration ("2d") or a time ("until: 09:00")`, "steps", i, "wait")
			}
			if len(w.Days) > 0 && w.Until == "" {
				c.add("days need a time of day (until)", "steps", i, "wait", "days")
			}
		case KindWaitFor:
			w := s.WaitFor
			if !typePattern.MatchString(w.Event) {
				c.add("an event type is 1 to 64 of a-z 0-9 _ . starting with a letter", "steps", i, "wait_for", "event")
			}
			j.events[w.Event] = true
			st.waitFor = c.condition(w.Where, "steps", i, "wait_for", "where")
			if w.Timeout <= 0 {
				c.add("a wait_for needs a positive timeout", "steps", i, "wait_for", "timeout")
			}
			then, els := st.next, st.next
			if w.Then != "" {
				then = target(w.Then, "steps", i, "wait_for", "then")
			}
			if w.Else != "" {
				els = target(w.Else, "steps", i, "wait_for", "else")
			}
			st.targets = []int{then, els}
		case KindBranch:
			if len(s.Branch) == 0 {
				c.add("a branch needs arms", "steps", i, "branch")
			}
			for k, arm := range s.Branch {
				last := k == len(s.Branch)-1
				switch {
				case arm.Default != "" && (arm.If != "" || arm.Goto != ""):
					c.add("a default arm has only default: STEP", "steps", i, "branch", k)
				case arm.Default != "" && !last:
					c.add("the default arm comes last", "steps", i, "branch", k)
				case arm.Default == "" && (arm.If == "" || arm.Goto == ""):
					c.add("an arm is if: CONDITION with goto: STEP", "steps", i, "branch", k)
				}
				if arm.Default != "" {
					st.cond = append(st.cond, nil)
					st.targets = append(st.targets, target(arm.Default, "steps", i, "branch", k, "default"))
					continue
				}
				st.cond = append(st.cond, c.condition(arm.If, "steps", i, "branch", k, "if"))
				st.targets = append(st.targets, target(arm.Goto, "steps", i, "branch", k, "goto"))
			}
			if n := len(s.Branch); n > 0 && s.Branch[n-1].Default == "" {
				c.add("a branch needs a default arm last (default: STEP)", "steps", i, "branch")
			}
		case KindSplit:
			total := 0
			for k, arm := range s.Split {
				if arm.Percent <= 0 || arm.Percent > 100 {
					c.add("percent is 1 to 100", "steps", i, "split", k, "percent")
				}
				total += arm.Percent
				st.targets = append(st.targets, target(arm.Goto, "steps", i, "split", k, "goto"))
				if arm.Goto == "" {
					c.add("an arm needs goto: STEP", "steps", i, "split", k)
				}
			}
			if len(s.Split) < 2 || total != 100 {
				c.add(fmt.Sprintf("at least two arms whose percents add up to 100 (they add up to %d)", total), "steps", i, "split")
			}
		case KindUpdate:
			u := s.Update
			if len(u.Tag)+len(u.Untag) == 0 && u.Points == 0 && u.Stage == "" && u.Owner == "" && len(u.Fields) == 0 {
				c.add("an update changes something: tag, untag, points, stage, owner or fields", "steps", i, "update")
			}
			if u.Points < -1000 || u.Points > 1000 {
				c.add("from -1000 to 1000", "steps", i, "update", "points")
			}
			if (u.Points != 0) != (u.Score != "") || u.Score != "" && !typePattern.MatchString(u.Score) {
				c.add("points go with the score they go to: points: 5, score: engagement", "steps", i, "update", "score")
			}
			if u.Stage != "" && !slices.Contains(contact.Statuses, u.Stage) {
				c.add("a pipeline stage: one of "+strings.Join(contact.Statuses, ", "), "steps", i, "update", "stage")
			}
			if len(u.Fields) > 20 {
				c.add("at most 20 fields", "steps", i, "update", "fields")
			}
			for k, v := range u.Fields {
				if !fieldPattern.MatchString(k) || strings.HasPrefix(k, "custom_fields.") {
					c.add("a custom field name is 1 to 64 of a-z 0-9 _ starting with a letter", "steps", i, "update", "fields", k)
				}
				if score.BadText(v) || len(v) > 200 {
					c.add("at most 200 characters, no control characters", "steps", i, "update", "fields", k)
				}
			}
		case KindGoal:
			if j.Doc.Objective == nil {
				c.add("a goal step needs the journey's objective", "steps", i, "goal")
			}
		case KindExit:
			if score.BadText(s.Exit.Reason) || len(s.Exit.Reason) > 100 {
				c.add("at most 100 characters, no control characters", "steps", i, "exit", "reason")
			}
		}
		j.steps = append(j.steps, st)
	}
	if len(c.problems) > 0 {
		return
	}
	c.reachable(j)
}

func (c *checker) send(j *Journey, s *Send, cat Catalog, i int) {
	if !slices.Contains(Channels, s.Channel) {
		c.add("channel is one of "+strings.Join(Channels, ", "), "steps", i, "send", "channel")
		return
	}
	switch s.Kind {
	case "", "marketing", "transactional":
	default:
		c.add(`kind is "marketing" (the default) or "transactional"`, "steps", i, "send", "kind")
	}
	if s.Channel == "task" {
		if s.Title == "" || score.BadText(s.Title) || len(s.Title) > 200 {
			c.add("a task needs a title of at most 200 characters", "steps", i, "send", "title")
		}
		return
	}
	if s.Channel == "webhook" {
		if !namePattern.MatchString(s.Topic) {
			c.add("a webhook step needs a topic (1 to 64 of a-z 0-9 _ . -): subscribers of journey_webhook events receive it", "steps", i, "send", "topic")
		}
		if s.Template != "" {
			c.add("a webhook step posts the contact and the topic, not a template", "steps", i, "send", "template")
		}
		return
	}
	if s.Template == "" {
		c.add("missing; name the template to send", "steps", i, "send", "template")
		return
	}
	if cat != nil {
		ch, ok := cat.TemplateChannel(s.Template)
		switch {
		case !ok:
			c.add(fmt.Sprintf("unknown template %q", s.Template), "steps", i, "send", "template")
		case ch != s.Channel && !(s.Channel == "whatsapp" && ch == "sms"):
			c.add(fmt.Sprintf("template %q is for %s, not %s", s.Template, ch, s.Channel), "steps", i, "send", "template")
		}
	}
}

// reachable reports steps no path from the first reaches, and loops that
// never wait (they would run forever at one instant).
func (c *checker) reachable(j *Journey) {
	seen := make([]bool, len(j.steps))
	var walk func(i int)
	walk = func(i int) {
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		for _, t := range j.steps[i].successors() {
			walk(t)
		}
	}
	walk(0)
	for i, s := range j.steps {
		if !seen[i] {
			c.add(fmt.Sprintf("step %q is unreachable: no step leads to it", s.ID), "steps", i)
		}
	}
	// A cycle through steps that do not wait runs forever.
	state := make([]int, len(j.steps)) // 0 new, 1 on the path, 2 done
	var visit func(i int) bool
	visit = func(i int) bool {
		if i < 0 || j.steps[i].kind == KindWait || j.steps[i].kind == KindWaitFor {
			return false
		}
		switch state[i] {
		case 1:
			c.add(fmt.Sprintf("step %q is on a loop with no wait: it would repeat at once, forever", j.steps[i].ID), "steps", i)
			return true
		case 2:
			return false
		}
		state[i] = 1
		for _, t := range j.steps[i].successors() {
			if visit(t) {
				return true
			}
		}
		state[i] = 2
		return false
	}
	for i := range j.steps {
		if state[i] == 0 && visit(i) {
			return
		}
	}
}

func (s *step) successors() []int {
	switch s.kind {
	case KindBranch, KindSplit, KindWaitFor:
		return s.targets
	case KindExit:
		return nil
	}
	return []int{s.next}
}

// Interested reports whether an event of this type can change an
// enrolment in the journey (other than enrolling the contact).
func (j *Journey) Interested(eventType string) bool { return j.events[eventType] }

// Triggered reports whether the journey enrols on this event type.
func (j *Journey) Triggered(eventType string) bool {
	return j.on != "" && j.on == eventType
}

// TriggerEvent is the event type that enrols contacts ("" for manual and
// date triggers): the trigger's event, or the signal the store raises for
// segment, score and field triggers.
func (j *Journey) TriggerEvent() string { return j.on }

// TriggerKind names the trigger: event, segment, score, field, date or manual.
func (j *Journey) TriggerKind() string {
	t := j.Doc.Trigger
	switch {
	case t.Segment != "":
		return "segment"
	case t.Score != nil:
		return "score"
	case t.Field != nil:
		return "field"
	case t.Date != nil:
		return "date"
	case t.Manual:
		return "manual"
	}
	return "event"
}

// Steps are the step ids in order.
func (j *Journey) Steps() []string {
	out := make([]string, len(j.steps))
	for i, s := range j.steps {
		out[i] = s.ID
	}
	return out
}

// StepKind is the kind of the step with that id ("" if none).
func (j *Journey) StepKind(id string) string {
	if i, ok := j.byID[id]; ok {
		return j.steps[i].kind
	}
	return ""
}

// Sends are the send steps' templates by step id.
func (j *Journey) Sends() map[string]Send {
	out := map[string]Send{}
	for _, s := range j.steps {
		if s.kind == KindSend {
			out[s.ID] = *s.Send
		}
	}
	return out
}

// List is the List-Id name of the journey's messages.
func (j *Journey) List() string {
	if j.Doc.List != "" {
		return j.Doc.List
	}
	return j.Doc.Name
}

func parseDuration(s string) (time.Duration, error) {
	d, err := score.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("duration %q must be positive", s)
	}
	return d, err
}

// Consents are the channels whose marketing consent a contact needs to
// enter (entry.consent). Messages on channels without consent are
// suppressed when they would go, not refused at entry: a first-contact
// rule sends the SMS only to those who agreed to texts.
func (j *Journey) Consents() []string { return j.Doc.Entry.Consent }

// Required are the contact fields a contact needs to enter.
func (j *Journey) Required() []string { return j.require }

// Reenters reports whether a contact who last entered at last may enter
// again at now.
func (j *Journey) Reenters(last, now time.Time) bool {
	switch j.reentry {
	case "always":
		return true
	case "after":
		return !now.Before(last.Add(j.after))
	}
	return false
}

// HasBranch reports whether a step chooses its way by condition (and so
// reads the contact's scores).
func (j *Journey) HasBranch() bool {
	for _, s := range j.steps {
		if s.kind == KindBranch {
			return true
		}
	}
	return false
}

// HasGoalStep reports whether a step asks whether the objective was reached.
func (j *Journey) HasGoalStep() bool {
	for _, s := range j.steps {
		if s.kind == KindGoal {
			return true
		}
	}
	return false
}

// Missing are the required fields the contact lacks (entry refused).
func (j *Journey) Missing(c *contact.Contact) []string {
	var out []string
	for _, f := range j.Required() {
		var v string
		switch f {
		case "email":
			v = c.Email
		case "phone":
			v = c.Phone
		case "first_name":
			v = c.FirstName
		case "last_name":
			v = c.LastName
		case "company":
			v = c.Company
		case "role":
			v = c.Role
		case "country":
			v = c.Country
		case "time_zone":
			v = c.TimeZone
		case "source":
			v = c.Source
		case "offer":
			v = c.Offer
		case "persona":
			v = c.Persona
		case "request_type":
			v = c.RequestType
		case "urgency":
			v = c.Urgency
		case "owner":
			v = c.Owner
		case "potential_value":
			if c.PotentialValue != nil {
				v = "set"
			}
		case "budget":
			if c.Budget != nil {
				v = "set"
			}
		}
		if v == "" {
			out = append(out, f)
		}
	}
	return out
}

// UsesSegments reports whether a condition reads the contact's segments
// (so the store reads them for it).
func (j *Journey) UsesSegments() bool {
	conds := []string{j.Doc.Trigger.Where}
	if o := j.Doc.Objective; o != nil {
		conds = append(conds, o.Where)
	}
	for _, s := range j.Doc.Steps {
		if s.WaitFor != nil {
			conds = append(conds, s.WaitFor.Where)
		}
		for _, a := range s.Branch {
			conds = append(conds, a.If)
		}
	}
	for _, c := range conds {
		if strings.Contains(c, "segments") {
			return true
		}
	}
	return false
}

// HasStep reports whether the journey has a step of that id.
func (j *Journey) HasStep(id string) bool {
	_, ok := j.byID[id]
	return ok
}

// SendsAgain reports whether an enrolment at step from, having run the
// steps counted in visits, may reach a send step it already ran: moved to
// this version, it would get that message again.
func (j *Journey) SendsAgain(from string, visits map[string]int) bool {
	i, ok := j.byID[from]
	if !ok {
		return false
	}
	seen := make([]bool, len(j.steps))
	queue := []int{i}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if k < 0 || seen[k] {
			continue
		}
		seen[k] = true
		s := j.steps[k]
		if s.kind == KindSend && visits[s.ID] > 0 {
			return true
		}
		queue = append(queue, s.successors()...)
	}
	return false
}
