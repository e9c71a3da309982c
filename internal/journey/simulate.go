package journey

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// The simulator (dry run) runs the engine the store runs over a
// population in virtual time and counts what would happen, sending
// nothing. It assumes every contact triggers the journey at the start and
// that nothing else happens to them afterwards (no reply, no meeting, no
// take-over): what the journey does on its own.

// Refusal says why a contact may not enter at now, "" when it may:
// granted are its channels with marketing consent (read only when
// Consents is not empty), in whether it is in the journey now, last when
// it last entered (zero: never). The store and the simulator both ask.
func (j *Journey) Refusal(c *contact.Contact, granted map[string]bool, in bool, last, now time.Time) string {
	if missing := j.Missing(c); len(missing) > 0 {
		s := "missing "
		for i, f := range missing {
			if i > 0 {
				s += ", "
			}
			s += f
		}
		return s
	}
	for _, ch := range j.Consents() {
		if !granted[ch] {
			return "no " + ch + " consent"
		}
	}
	switch {
	case in:
		return "already in the journey"
	case !last.IsZero() && !j.Reenters(last, now):
		return "already went through the journey"
	}
	return ""
}

// SimContact is a contact as the simulator sees it.
type SimContact struct {
	Contact *contact.Contact
	// Recent are its marketing messages of the 7 days before the start
	// (the frequency cap counts them).
	Recent   []Sent
	Scores   map[string]int
	Segments []string
	Granted  map[string]bool // channels with marketing consent
	In       bool            // in the journey now
	Last     time.Time       // when it last entered; zero: never
}

// SimOptions says how to simulate.
type SimOptions struct {
	Start time.Time
	Days  int
	Cap   Cap
	// Render renders a template for a contact; failures are reported.
	// Nil skips the check. It must be safe for concurrent use.
	Render func(template string, c *contact.Contact) error
	// Workers run contacts in parallel (default: the CPUs).
	Workers int
}

// Report is what a simulation found.
type Report struct {
	Journey  string    `json:"journey"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Days     int       `json:"days"`
	Contacts int       `json:"contacts"` // looked at
	Entered  int       `json:"entered"`
	// Refused counts contacts not enrolled, by reason.
	Refused map[string]int `json:"refused"`
	// Steps are the steps in the document's order, with how many contacts
	// reached each and, for branches and splits, which way they went.
	Steps []StepCount `json:"steps"`
	// Messages are the messages (and tasks) per day of the simulation, by
	// channel; days without any are left out.
	Messages []DayCount `json:"messages"`
	// Deferred counts sends held back, by reason (cap or quiet hours).
	Deferred map[string]int `json:"deferred"`
	// Outcomes at the end: completed, exited:<reason>, or still in the
	// journey (in:<step>).
	Outcomes       map[string]int  `json:"outcomes"`
	RenderFailures []RenderFailure `json:"render_failures"`
	Assumptions    []string        `json:"assumptions"`
}

// StepCount is one step's figures.
type StepCount struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Reached int            `json:"reached"`
	Ways    map[string]int `json:"ways,omitempty"` // branch targets, split arms
	Sent    int            `json:"sent,omitempty"` // sends: messages or tasks
}

// DayCount is one day's messages by channel; Day 0 is the start's.
type DayCount struct {
	Day      int            `json:"day"`
	Date     string         `json:"date"`
	Channels map[string]int `json:"channels"`
	Total    int            `json:"total"`
}

// RenderFailure is a template that failed to render for some contacts.
type RenderFailure struct {
	Template string `json:"template"`
	Step     string `json:"step"`
	Contacts int    `json:"contacts"`
	Example  int64  `json:"example_contact_id"`
	Reason   string `json:"reason"`
}

type simAcc struct {
	contacts, entered int
	refused           map[string]int
	reached, sent     map[string]int
	ways              map[string]map[string]int
	days              map[int]map[string]int
	deferred          map[string]int
	outcomes          map[string]int
	failures          map[string]*RenderFailure
}

func newSimAcc() *simAcc {
	return &simAcc{refused: map[string]int{}, reached: map[string]int{}, sent: map[string]int{},
		ways: map[string]map[string]int{}, days: map[int]map[string]int{}, deferred: map[string]int{},
		outcomes: map[string]int{}, failures: map[string]*RenderFailure{}}
}

// Simulate runs the journey over the contacts from o.Start for o.Days.
// contacts is read to the end; it may be fed as the contacts are loaded.
func (j *Journey) Simulate(contacts <-chan []SimContact, o SimOptions) Report {
	if o.Days <= 0 {
		o.Days = 30
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	end := o.Start.Add(time.Duration(o.Days) * 24 * time.Hour)
	accs := make([]*simAcc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		accs[w] = newSimAcc()
		wg.Go(func() {
			for batch := range contacts {
				for i := range batch {
					j.simulateOne(&batch[i], o, end, accs[w])
				}
			}
		})
	}
	wg.Wait()
	acc := accs[0]
	for _, a := range accs[1:] {
		acc.merge(a)
	}
	return j.report(acc, o, end)
}

func (j *Journey) simulateOne(sc *SimContact, o SimOptions, end time.Time, acc *simAcc) {
	acc.contacts++
	if r := j.Refusal(sc.Contact, sc.Granted, sc.In, sc.Last, o.Start); r != "" {
		acc.refused[r]++
		return
	}
	acc.entered++
	in := Input{Now: o.Start, Contact: sc.Contact, Scores: sc.Scores, Segments: sc.Segments,
		Recent: slices.Clip(sc.Recent), Cap: o.Cap}
	var rendered map[string]bool
	st, fx := j.Start(in)
	for {
		for _, f := range fx {
			switch f.Kind {
			case EffectStep:
				acc.reached[f.Step]++
				if f.Reason != "" {
					w := acc.ways[f.Step]
					if w == nil {
						w = map[string]int{}
						acc.ways[f.Step] = w
					}
					w[f.Reason]++
				}
			case EffectSend:
				acc.sent[f.Step]++
				day := int(in.Now.Sub(o.Start) / (24 * time.Hour))
				d := acc.days[day]
				if d == nil {
					d = map[string]int{}
					acc.days[day] = d
				}
				d[f.Send.Channel]++
				if marketing(f.Send) {
					in.Recent = append(in.Recent, Sent{At: in.Now, Channel: f.Send.Channel})
				}
				if o.Render != nil && f.Send.Template != "" && !rendered[f.Send.Template] {
					if rendered == nil {
						rendered = map[string]bool{}
					}
					rendered[f.Send.Template] = true
					if err := o.Render(f.Send.Template, sc.Contact); err != nil {
						acc.fail(f.Send.Template, f.Step, sc.Contact, err)
					}
				}
			case EffectDeferred:
				acc.deferred[f.Reason]++
			}
		}
		if !st.Status.In() || st.DueAt.IsZero() || !st.DueAt.Before(end) {
			break
		}
		prev := st
		in.Now = st.DueAt
		st, fx = j.Advance(st, in)
		if len(fx) == 0 && st.DueAt.Equal(prev.DueAt) {
			break // a timer that moves nothing
		}
	}
	switch st.Status {
	case Completed:
		acc.outcomes["completed"]++
	case Exited:
		acc.outcomes["exited:"+st.Reason]++
	default:
		acc.outcomes["in:"+st.Step]++
	}
}

func (a *simAcc) fail(tpl, step string, c *contact.Contact, err error) {
	f := a.failures[tpl]
	if f == nil {
		f = &RenderFailure{Template: tpl, Step: step, Example: c.ID, Reason: err.Error()}
		a.failures[tpl] = f
	}
	f.Contacts++
}

func (a *simAcc) merge(b *simAcc) {
	a.contacts += b.contacts
	a.entered += b.entered
	add := func(dst, src map[string]int) {
		for k, v := range src {
			dst[k] += v
		}
	}
	add(a.refused, b.refused)
	add(a.reached, b.reached)
	add(a.sent, b.sent)
	add(a.deferred, b.deferred)
	add(a.outcomes, b.outcomes)
	for k, w := range b.ways {
		if a.ways[k] == nil {
			a.ways[k] = map[string]int{}
		}
		add(a.ways[k], w)
	}
	for k, d := range b.days {
		if a.days[k] == nil {
			a.days[k] = map[string]int{}
		}
		add(a.days[k], d)
	}
	for k, f := range b.failures {
		if g := a.failures[k]; g != nil {
			g.Contacts += f.Contacts
			if f.Example < g.Example {
				g.Example, g.Reason = f.Example, f.Reason
			}
		} else {
			a.failures[k] = f
		}
	}
}

func (j *Journey) report(acc *simAcc, o SimOptions, end time.Time) Report {
	r := Report{Journey: j.Doc.Name, Start: o.Start.UTC(), End: end.UTC(), Days: o.Days, Contacts: acc.contacts,
		Entered: acc.entered, Refused: acc.refused, Deferred: acc.deferred, Outcomes: acc.outcomes,
		Steps: []StepCount{}, Messages: []DayCount{}, RenderFailures: []RenderFailure{},
		Assumptions: []string{
			"every contact looked at triggers the journey at the start",
			"nothing else happens to them: no reply, meeting or take-over, so wait_for steps time out and nobody converts",
			"the frequency cap counts the messages already queued in the last 7 days and this journey's own",
		}}
	for _, s := range j.steps {
		r.Steps = append(r.Steps, StepCount{ID: s.ID, Kind: s.kind, Reached: acc.reached[s.ID], Ways: acc.ways[s.ID], Sent: acc.sent[s.ID]})
	}
	for day, chans := range acc.days {
		dc := DayCount{Day: day, Date: o.Start.UTC().AddDate(0, 0, day).Format(time.DateOnly), Channels: chans}
		for _, n := range chans {
			dc.Total += n
		}
		r.Messages = append(r.Messages, dc)
	}
	slices.SortFunc(r.Messages, func(a, b DayCount) int { return cmp.Compare(a.Day, b.Day) })
	for _, f := range acc.failures {
		r.RenderFailures = append(r.RenderFailures, *f)
	}
	slices.SortFunc(r.RenderFailures, func(a, b RenderFailure) int { return cmp.Compare(a.Template, b.Template) })
	return r
}
