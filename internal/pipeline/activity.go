package pipeline

import (
	"slices"
	"strings"
	"time"
)

// Activities are the sales activities a person logs on a contact.
var Activities = []string{"call", "meeting", "email_reply", "note"}

// MaxNotesLen bounds an activity's notes, in characters.
const MaxNotesLen = 5000

// Activity is something a salesperson did with a contact.
type Activity struct {
	Type       string    `json:"type"`
	By         string    `json:"by"`
	Notes      string    `json:"notes,omitempty"`
	Outcome    string    `json:"outcome,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// CheckActivity validates a logged activity. Errors are
// *contact.ValidationError naming the JSON field. OccurredAt is not checked:
// the caller decides whether a missing time means now.
func CheckActivity(a Activity) error {
	if !slices.Contains(Activities, a.Type) {
		return invalid("type", "unknown activity %s; activities: %s", quote(a.Type), strings.Join(Activities, ", "))
	}
	if strings.TrimSpace(a.By) == "" {
		return invalid("by", "is required")
	}
	for _, f := range []struct {
		name, v   string
		max       int
		multiline bool
	}{
		{"by", a.By, MaxByLen, false},
		{"notes", a.Notes, MaxNotesLen, true},
		{"outcome", a.Outcome, MaxByLen, false},
	} {
		if err := checkText(f.name, f.v, f.max, f.multiline); err != nil {
			return err
		}
	}
	return nil
}

// TakesOver reports whether an activity of that type means a person is now
// talking with the contact, so automated sequences must stop (DOMAIN.md:
// "stop a sequence as soon as a human takes over"). A note is bookkeeping and
// does not.
func TakesOver(activityType string) bool {
	switch activityType {
	case "call", "meeting", "email_reply":
		return true
	}
	return false
}
