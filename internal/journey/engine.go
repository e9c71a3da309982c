package journey

import (
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/score"
)

// Env is what a journey's conditions see: the contact's fields, the event
// at hand (trigger, objective, wait_for; empty on timers), the contact's
// scores by name, and the segments it is in.
type Env struct {
	Contact  score.ContactEnv `expr:"contact"`
	Event    map[string]any   `expr:"event"`
	Scores   map[string]int   `expr:"scores"`
	Segments []string         `expr:"segments"`
}

// Status of an enrolment.
type Status string

// Statuses. Active and Waiting enrolments are in the journey; Paused ones
// too, held by a human take-over; the others have left it.
const (
	Active    Status = "active"
	Waiting   Status = "waiting"
	Paused    Status = "paused"
	Completed Status = "completed"
	Exited    Status = "exited"
)

// In reports whether the enrolment is still in the journey.
func (s Status) In() bool { return s == Active || s == Waiting || s == Paused }

// State is one enrolment's place in its journey.
type State struct {
	Status Status `json:"status"`
	// Step is the step waited on (wait, wait_for, a deferred send), or the
	// one to run next.
	Step string `json:"step,omitempty"`
	// DueAt is when the enrolment wakes up by itself (zero: only an event
	// wakes it).
	DueAt time.Time `json:"due_at,omitzero"`
	// Visits counts each step's runs, so a step run again in a loop makes
	// a new message and its repeat after a crash does not.
	Visits map[string]int `json:"visits,omitempty"`
	// Reason says why the enrolment ended or waits (a deferral's reason).
	Reason string `json:"reason,omitempty"`
}

// Event is an event that happened to the contact.
type Event struct {
	Type       string
	Properties map[string]any
	At         time.Time
}

// Input is what the engine needs beyond the state: the time, the contact
// and what the store knows of it.
type Input struct {
	Now      time.Time
	Contact  *contact.Contact
	Event    *Event // nil when a timer fires or the enrolment starts
	Scores   map[string]int
	Segments []string
	// Recent are the marketing messages queued for the contact in the
	// last 7 days, by any journey or campaign: the frequency cap.
	Recent []Sent
	// Reached reports whether the objective happened since the contact
	// entered (goal steps ask).
	Reached bool
	Cap     Cap
}

// Effect is something the caller must do, in the transaction that saves
// the new state.
type Effect struct {
	Kind   string    `json:"kind"`
	Step   string    `json:"step,omitempty"`
	Visit  int       `json:"visit,omitempty"`
	Send   *Send     `json:"send,omitempty"`
	Update *Update   `json:"update,omitempty"`
	Reason string    `json:"reason,omitempty"` // exits, deferrals, split arms
	Until  time.Time `json:"until,omitzero"`   // deferrals: when the message will go
}

// Kinds of effects.
const (
	EffectStep      = "step"      // a step was entered (statistics)
	EffectSend      = "send"      // queue a message; its key is the enrolment, Step and Visit
	EffectUpdate    = "update"    // change the contact
	EffectDeferred  = "deferred"  // a send waits for the cap or quiet hours (Reason, Until)
	EffectCompleted = "completed" // the last step was done
	EffectExited    = "exited"    // left early (Reason)
	EffectConverted = "converted" // the objective was reached
	EffectPaused    = "paused"    // a human took over; the journey waits
	EffectResumed   = "resumed"
)

// Exit reasons the engine gives.
const (
	ReasonGoal = "goal"
	ReasonExit = "exit_step"
)

// maxRun bounds the steps one call runs (validation rules out loops that
// do not wait; this guards the rest).
const maxRun = 1000

// Start enrols a contact: the first step runs at in.Now.
func (j *Journey) Start(in Input) (State, []Effect) {
	st := State{Status: Active, Step: j.steps[0].ID}
	return j.run(st, 0, in, nil)
}

// Advance moves an enrolment on: with in.Event, what the event does to it
// (exit, goal, the awaited event, a resume); without, the timer at
// st.DueAt has fired. An enrolment that has left the journey does not move.
func (j *Journey) Advance(st State, in Input) (State, []Effect) {
	if !st.Status.In() {
		return st, nil
	}
	st.Visits = cloneVisits(st.Visits)
	if ev := in.Event; ev != nil {
		return j.onEvent(st, in, ev)
	}
	if st.DueAt.IsZero() || in.Now.Before(st.DueAt) {
		return st, nil // not due: a stale timer
	}
	i, ok := j.byID[st.Step]
	if !ok {
		return j.exit(st, "step_removed", nil)
	}
	s := j.steps[i]
	switch {
	case st.Status == Paused:
		// Resumed after the quiet period without sales activity.
		st.Status = Active
		return j.run(st, i, in, []Effect{{Kind: EffectResumed, Step: s.ID}})
	case s.kind == KindWait:
		return j.run(st, s.next, in, nil)
	case s.kind == KindWaitFor:
		return j.run(st, s.targets[1], in, nil) // timed out
	case s.kind == KindSend:
		return j.run(st, i, in, nil) // a deferred send tries again
	}
	return j.run(st, i, in, nil)
}

func (j *Journey) onEvent(st State, in Input, ev *Event) (State, []Effect) {
	if reason, ok := exitEvents[ev.Type]; ok {
		if ev.Type == "email_bounced" && ev.Properties["hard"] != true {
			return st, nil // a soft bounce is not an exit
		}
		if ev.Type == "human_takeover" && j.Doc.Takeover == "pause" {
			st.Status, st.Reason = Paused, reason
			st.DueAt = time.Time{}
			if d, err := parseDuration(j.Doc.Resume); err == nil {
				st.DueAt = ev.At.Add(d) // every take-over starts the quiet period again
				if st.DueAt.Before(in.Now) {
					st.DueAt = in.Now
				}
			}
			return st, []Effect{{Kind: EffectPaused, Step: st.Step, Reason: reason}}
		}
		return j.exit(st, reason, nil)
	}
	env := j.env(in)
	if o := j.Doc.Objective; o != nil && o.Event == ev.Type && holds(j.goal, env) {
		st.Status, st.Reason, st.DueAt = Exited, ReasonGoal, time.Time{}
		return st, []Effect{{Kind: EffectConverted, Step: st.Step, Reason: ReasonGoal}}
	}
	i, ok := j.byID[st.Step]
	if !ok {
		return st, nil
	}
	s := j.steps[i]
	if st.Status == Paused {
		if j.Doc.Resume == ev.Type {
			st.Status = Active
			return j.run(st, i, in, []Effect{{Kind: EffectResumed, Step: s.ID}})
		}
		return st, nil
	}
	if st.Status == Waiting && s.kind == KindWaitFor && s.WaitFor.Event == ev.Type && holds(s.waitFor, env) {
		return j.run(st, s.targets[0], in, nil)
	}
	return st, nil
}

func (j *Journey) exit(st State, reason string, fx []Effect) (State, []Effect) {
	st.Status, st.Reason, st.DueAt = Exited, reason, time.Time{}
	return st, append(fx, Effect{Kind: EffectExited, Step: st.Step, Reason: reason})
}

// run enters step i and goes on until a step waits or the journey ends.
func (j *Journey) run(st State, i int, in Input, fx []Effect) (State, []Effect) {
	now := in.Now
	recent := in.Recent
	var env *Env
	for range maxRun {
		if i < 0 {
			st.Status, st.DueAt, st.Reason = Completed, time.Time{}, ""
			return st, append(fx, Effect{Kind: EffectCompleted, Step: st.Step})
		}
		s := j.steps[i]
		prevStep, prevReason, prevDue := st.Step, st.Reason, st.DueAt
		st.Step, st.Status, st.DueAt = s.ID, Active, time.Time{}
		if s.kind == KindSend && marketing(s.Send) {
			at, reason := j.slot(now, in, s.Send.Channel, recent)
			if at.After(now) {
				if prevStep != s.ID || prevReason != reason || !prevDue.Equal(at) {
					fx = append(fx, Effect{Kind: EffectDeferred, Step: s.ID, Reason: reason, Until: at})
				}
				st.Status, st.DueAt, st.Reason = Waiting, at, reason
				return st, fx
			}
		}
		st.Reason = ""
		if st.Visits == nil {
			st.Visits = map[string]int{}
		}
		st.Visits[s.ID]++
		visit := st.Visits[s.ID]
		fx = append(fx, Effect{Kind: EffectStep, Step: s.ID, Visit: visit})
		switch s.kind {
		case KindSend:
			fx = append(fx, Effect{Kind: EffectSend, Step: s.ID, Visit: visit, Send: s.Send})
			if marketing(s.Send) {
				recent = append(slices.Clip(recent), Sent{At: now, Channel: s.Send.Channel})
			}
			i = s.next
		case KindWait:
			due := j.waitUntil(s, now, in.Contact)
			if !due.After(now) {
				i = s.next
				continue
			}
			st.Status, st.DueAt = Waiting, due
			return st, fx
		case KindWaitFor:
			st.Status, st.DueAt = Waiting, now.Add(time.Duration(s.WaitFor.Timeout))
			return st, fx
		case KindBranch:
			if env == nil {
				env = j.env(in)
			}
			for k, p := range s.cond {
				if p == nil || holds(p, env) {
					i = s.targets[k]
					fx[len(fx)-1].Reason = j.steps[i].ID // the way taken, for statistics
					break
				}
			}
		case KindSplit:
			k := arm(s, in.Contact, j.Doc.Name)
			fx[len(fx)-1].Reason = armName(s, k)
			i = s.targets[k]
		case KindUpdate:
			fx = append(fx, Effect{Kind: EffectUpdate, Step: s.ID, Visit: visit, Update: s.Update})
			i = s.next
		case KindGoal:
			if in.Reached {
				st.Status, st.Reason, st.DueAt = Exited, ReasonGoal, time.Time{}
				return st, append(fx, Effect{Kind: EffectConverted, Step: s.ID, Reason: ReasonGoal})
			}
			i = s.next
		case KindExit:
			reason := s.Exit.Reason
			if reason == "" {
				reason = ReasonExit
			}
			return j.exit(st, reason, fx)
		}
	}
	return j.exit(st, "too_many_steps", fx)
}

func marketing(s *Send) bool {
	return s.Kind != "transactional" && s.Channel != "task" && s.Channel != "webhook"
}

func (j *Journey) env(in Input) *Env {
	e := &Env{Contact: score.NewContactEnv(in.Contact), Scores: in.Scores, Segments: in.Segments}
	if in.Event != nil {
		e.Event = map[string]any{}
		for k, v := range in.Event.Properties {
			e.Event[k] = v
		}
		e.Event["type"] = in.Event.Type
	}
	if e.Scores == nil {
		e.Scores = map[string]int{}
	}
	return e
}

// holds runs a condition; a missing one holds, one that fails to run does
// not.
func holds(p *vm.Program, env *Env) bool {
	if p == nil {
		return true
	}
	out, err := expr.Run(p, *env)
	b, _ := out.(bool)
	return err == nil && b
}

// Matches reports whether an event enrols a contact: its type is the
// trigger's and the trigger's condition holds.
func (j *Journey) Matches(in Input) bool {
	if in.Event == nil || !j.Triggered(in.Event.Type) {
		return false
	}
	env := j.env(in)
	return holds(j.onCond, env) && holds(j.trigger, env)
}

// WhereHolds reports whether the trigger's condition holds for the
// contact, without an event (date triggers).
func (j *Journey) WhereHolds(c *contact.Contact) bool {
	return holds(j.trigger, j.env(Input{Contact: c}))
}

// arm picks a split arm for a contact: the same contact always gets the
// same arm of the same step.
func arm(s *step, c *contact.Contact, journey string) int {
	h := fnv.New32a()
	var id int64
	if c != nil {
		id = c.ID
	}
	h.Write([]byte(journey + "\x00" + s.ID + "\x00" + strconv.FormatInt(id, 10)))
	n := int(h.Sum32() % 100)
	for k, a := range s.Split {
		if n < a.Percent {
			return k
		}
		n -= a.Percent
	}
	return len(s.Split) - 1
}

func armName(s *step, k int) string {
	if s.Split[k].Name != "" {
		return s.Split[k].Name
	}
	return s.Split[k].Goto
}

func cloneVisits(v map[string]int) map[string]int {
	if v == nil {
		return nil
	}
	out := make(map[string]int, len(v))
	for k, n := range v {
		out[k] = n
	}
	return out
}
