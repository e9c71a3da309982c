package pipeline

import "time"

// StageChange records that a contact entered Stage at At, moved by By (a
// user, or an automation's name) for Reason.
type StageChange struct {
	Stage  string    `json:"stage"`
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Span is one stay in a stage. LeftAt is nil while the contact is still there.
type Span struct {
	Stage     string     `json:"stage"`
	EnteredAt time.Time  `json:"entered_at"`
	LeftAt    *time.Time `json:"left_at"`
	Seconds   int64      `json:"seconds"`
	By        string     `json:"by,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

// History turns stage changes, oldest first, into the spans between them; the
// last lasts until now. It never returns nil.
//
// Seconds counts the whole-second boundaries crossed (the difference of Unix
// seconds), so that the spans of an ordered history add up to exactly the
// seconds from the first change to now, as a report summing them expects.
// Changes recorded out of order (clock skew between writers) are kept as
// recorded, LeftAt included, but never give a negative duration.
func History(changes []StageChange, now time.Time) []Span {
	spans := make([]Span, 0, len(changes))
	for i, c := range changes {
		end := now
		var left *time.Time
		if i+1 < len(changes) {
			end = changes[i+1].At
			left = &end
		}
		spans = append(spans, Span{
			Stage:     c.Stage,
			EnteredAt: c.At,
			LeftAt:    left,
			Seconds:   max(0, end.Unix()-c.At.Unix()),
			By:        c.By,
			Reason:    c.Reason,
		})
	}
	return spans
}
