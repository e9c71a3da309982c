// Package journey owns nurture journeys: the document a marketer writes
// (trigger, entry rules, objective, steps), its validation, and the engine
// that moves one enrolment along: a pure function of (state, input, now)
// returning the new state and the effects to apply (messages to queue,
// updates, deferrals, exits). The store applies them in the transaction
// that changed the state; the simulator applies them to nothing.
package journey

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/score"
)

// MaxDocumentBytes bounds a journey document.
const MaxDocumentBytes = 256 << 10

// MaxSteps bounds a journey's steps.
const MaxSteps = 200

// Document is a journey as its author writes it, in YAML or JSON.
type Document struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Objective is the goal: when its event happens the contact leaves the
	// journey converted.
	Objective *Condition `yaml:"objective,omitempty" json:"objective,omitempty"`
	Trigger   Trigger    `yaml:"trigger" json:"trigger"`
	Entry     Entry      `yaml:"entry,omitempty" json:"entry,omitempty"`
	// Takeover is what a human_takeover event does: "stop" (the default) or
	// "pause" (until Resume says).
	Takeover string `yaml:"takeover,omitempty" json:"takeover,omitempty"`
	// Resume, for a paused journey: "never" (the default), a duration
	// without sales activity ("14d"), or an event type.
	Resume string `yaml:"resume,omitempty" json:"resume,omitempty"`
	// QuietHours apply to its marketing messages in the contact's time zone.
	QuietHours *QuietHours `yaml:"quiet_hours,omitempty" json:"quiet_hours,omitempty"`
	// TimeZone stands for contacts without one. Default UTC.
	TimeZone string `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
	// Priority orders journeys competing for the frequency cap: higher first.
	Priority int `yaml:"priority,omitempty" json:"priority,omitempty"`
	// List names the List-Id of its messages. Default: the journey's name.
	List  string `yaml:"list,omitempty" json:"list,omitempty"`
	Steps []Step `yaml:"steps" json:"steps"`
}

// Condition is an event type and an optional expr condition on it.
type Condition struct {
	Event string `yaml:"event" json:"event"`
	Where string `yaml:"where,omitempty" json:"where,omitempty"`
}

// Trigger is how contacts enter: one of an event (with a condition),
// entering a segment, a score crossing a threshold upward, a field
// changing, a date field (days before or after it, at a time of day in
// the contact's time zone), or only when enrolled through the API
// (Manual). Where, a condition on the contact (and the event), applies to
// every kind.
type Trigger struct {
	Event   string        `yaml:"event,omitempty" json:"event,omitempty"`
	Where   string        `yaml:"where,omitempty" json:"where,omitempty"`
	Manual  bool          `yaml:"manual,omitempty" json:"manual,omitempty"`
	Segment string        `yaml:"segment,omitempty" json:"segment,omitempty"`
	Score   *ScoreTrigger `yaml:"score,omitempty" json:"score,omitempty"`
	Field   *FieldTrigger `yaml:"field,omitempty" json:"field,omitempty"`
	Date    *DateTrigger  `yaml:"date,omitempty" json:"date,omitempty"`
}

// ScoreTrigger enrols a contact whose score Name goes from below Above to
// Above or more.
type ScoreTrigger struct {
	Name  string `yaml:"name" json:"name"`
	Above int    `yaml:"above" json:"above"`
}

// FieldTrigger enrols a contact whose field Name changes, to To when set,
// from From when set.
type FieldTrigger struct {
	Name string `yaml:"name" json:"name"`
	To   string `yaml:"to,omitempty" json:"to,omitempty"`
	From string `yaml:"from,omitempty" json:"from,omitempty"`
}

// DateTrigger enrols a contact on a date of theirs: a custom field
// holding a date (YYYY-MM-DD), Before or After it, at At (HH:MM, default
// 09:00) in the contact's time zone; Yearly repeats it every year
// (birthdays, anniversaries), which needs a re-entry rule that allows it.
type DateTrigger struct {
	Field  string         `yaml:"field" json:"field"`
	Before score.Duration `yaml:"before,omitempty" json:"before,omitempty"`
	After  score.Duration `yaml:"after,omitempty" json:"after,omitempty"`
	At     string         `yaml:"at,omitempty" json:"at,omitempty"`
	Yearly bool           `yaml:"yearly,omitempty" json:"yearly,omitempty"`
}

// Entry rules: fields a contact must have (default source and offer, as
// DOMAIN asks), consents on top of the channels the journey uses, and the
// re-entry policy: "never" (default), "always", or a duration ("30d").
type Entry struct {
	Require []string `yaml:"require,omitempty" json:"require,omitempty"`
	Consent []string `yaml:"consent,omitempty" json:"consent,omitempty"`
	Reentry string   `yaml:"reentry,omitempty" json:"reentry,omitempty"`
}

// QuietHours is a daily window in which marketing messages wait, as
// "HH:MM" (Start after End means overnight), and whether weekends are
// quiet too.
type QuietHours struct {
	Start    string `yaml:"start" json:"start"`
	End      string `yaml:"end" json:"end"`
	Weekends bool   `yaml:"weekends,omitempty" json:"weekends,omitempty"`
	Off      bool   `yaml:"off,omitempty" json:"off,omitempty"`
}

// Step is one step; exactly one of its kinds is set. Next is the step that
// follows (default: the next in the list) for send, wait, update and goal.
type Step struct {
	ID      string         `yaml:"id" json:"id"`
	Send    *Send          `yaml:"send,omitempty" json:"send,omitempty"`
	Wait    *Wait          `yaml:"wait,omitempty" json:"wait,omitempty"`
	WaitFor *WaitFor       `yaml:"wait_for,omitempty" json:"wait_for,omitempty"`
	Branch  []BranchArm    `yaml:"branch,omitempty" json:"branch,omitempty"`
	Split   []SplitArm     `yaml:"split,omitempty" json:"split,omitempty"`
	Update  *Update        `yaml:"update,omitempty" json:"update,omitempty"`
	Goal    *struct{}      `yaml:"goal,omitempty" json:"goal,omitempty"`
	Exit    *Exit          `yaml:"exit,omitempty" json:"exit,omitempty"`
	Next    string         `yaml:"next,omitempty" json:"next,omitempty"`
	Extra   map[string]any `yaml:",inline" json:"-"`
}

// Send queues a message: a template on a channel (email, sms, whatsapp),
// a task for the contact's owner, or a webhook: a journey_webhook event
// with Topic, posted (signed) to the webhooks subscribed to that event
// type. Kind is marketing (default) or transactional.
type Send struct {
	Channel  string `yaml:"channel" json:"channel"`
	Template string `yaml:"template,omitempty" json:"template,omitempty"`
	Topic    string `yaml:"topic,omitempty" json:"topic,omitempty"`
	Kind     string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// For tasks: what the salesperson should do, due after DueIn.
	Title string         `yaml:"title,omitempty" json:"title,omitempty"`
	DueIn score.Duration `yaml:"due_in,omitempty" json:"due_in,omitempty"`
}

// Wait is a pause: a duration ("2d"), or until a time of day ("09:00") on
// given weekdays in the contact's time zone, or both (the duration, then
// the next such time).
type Wait struct {
	For   score.Duration `yaml:"for,omitempty" json:"for,omitempty"`
	Until string         `yaml:"until,omitempty" json:"until,omitempty"`
	Days  []string       `yaml:"days,omitempty" json:"days,omitempty"`
}

// UnmarshalYAML reads "wait: 2d" as well as the mapping.
func (w *Wait) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&w.For)
	}
	type plain Wait
	return n.Decode((*plain)(w))
}

// WaitFor waits for an event, at most Timeout: Then is the step after the
// event, Else the step after the timeout.
type WaitFor struct {
	Event   string         `yaml:"event" json:"event"`
	Where   string         `yaml:"where,omitempty" json:"where,omitempty"`
	Timeout score.Duration `yaml:"timeout" json:"timeout"`
	Then    string         `yaml:"then,omitempty" json:"then,omitempty"`
	Else    string         `yaml:"else,omitempty" json:"else,omitempty"`
}

// BranchArm is "if: CONDITION, goto: STEP"; the last arm is the default:
// "default: STEP".
type BranchArm struct {
	If      string `yaml:"if,omitempty" json:"if,omitempty"`
	Goto    string `yaml:"goto,omitempty" json:"goto,omitempty"`
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
}

// SplitArm sends Percent of contacts (sticky per contact) to Goto.
type SplitArm struct {
	Name    string `yaml:"name,omitempty" json:"name,omitempty"`
	Percent int    `yaml:"percent" json:"percent"`
	Goto    string `yaml:"goto" json:"goto"`
}

// Update changes the contact: tags added or removed, Points added to the
// score named Score, the pipeline stage, the owner, custom fields.
type Update struct {
	Tag    []string          `yaml:"tag,omitempty" json:"tag,omitempty"`
	Untag  []string          `yaml:"untag,omitempty" json:"untag,omitempty"`
	Points int               `yaml:"points,omitempty" json:"points,omitempty"`
	Score  string            `yaml:"score,omitempty" json:"score,omitempty"`
	Stage  string            `yaml:"stage,omitempty" json:"stage,omitempty"`
	Owner  string            `yaml:"owner,omitempty" json:"owner,omitempty"`
	Fields map[string]string `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// Exit ends the enrolment with a reason.
type Exit struct {
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// Problem is one fault in a document: where (line and path) and why.
type Problem = score.Problem

// DocumentError lists a document's problems.
type DocumentError struct{ Problems []Problem }

func (e *DocumentError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "invalid journey: " + strings.Join(s, "; ")
}

var (
	namePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	typePattern  = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)
	fieldPattern = regexp.MustCompile(`^(custom_fields\.)?[a-z][a-z0-9_]{0,63}$`)
	clockRE      = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	weekdays     = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
		"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
	// Channels a send step may use.
	Channels = []string{"email", "sms", "whatsapp", "task", "webhook"}
	// DefaultRequire is what a contact must have to enter, unless the
	// journey says otherwise (DOMAIN: no nurturing without them).
	DefaultRequire = []string{"source", "offer"}
	// requirable are the contact fields entry rules may require.
	requirable = []string{"email", "phone", "first_name", "last_name", "company", "role", "country", "time_zone",
		"source", "offer", "persona", "request_type", "potential_value", "urgency", "budget", "owner"}
)

// Catalog tells validation what exists outside the document: templates
// (and their channel) and, for the simulator and the store, nothing else.
type Catalog interface {
	// TemplateChannel is the channel of the template named, ok false when
	// there is none.
	TemplateChannel(name string) (channel string, ok bool)
}

// Parse reads and validates a document, and compiles it. cat may be nil
// (templates are not checked then).
func Parse(src []byte, cat Catalog) (*Journey, error) {
	var doc Document
	root, problems := score.ReadDocument(src, MaxDocumentBytes, &doc)
	if problems != nil {
		return nil, &DocumentError{problems}
	}
	c := &checker{root: root}
	j := c.compile(doc, cat)
	if len(c.problems) > 0 {
		return nil, &DocumentError{c.problems}
	}
	j.Source = slices.Clone(src)
	return j, nil
}

type checker struct {
	root     *yaml.Node
	problems []Problem
}

func (c *checker) add(reason string, path ...any) {
	c.problems = append(c.problems, score.ProblemAt(c.root, reason, path...))
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	return h*60 + min, true
}
