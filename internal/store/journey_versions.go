package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/nurturehq/nurture/internal/journey"
)

// Publishing a new version of a live journey: the impact preview says what
// it would do to the contacts in the journey now, and a publish that
// migrates moves them to the new version by step id.

// JourneyImpact is what publishing a document would do.
type JourneyImpact struct {
	Journey string `json:"journey"`
	// Exists: a journey of that name exists; Changed: the document differs
	// from its live version (false: publishing changes nothing).
	Exists  bool `json:"exists"`
	Changed bool `json:"changed"`
	// Live is the live version now; the new one would be Live+1.
	Live int `json:"live_version,omitempty"`
	// InFlight counts the contacts in the journey now, on any version.
	InFlight int `json:"in_flight"`
	// Steps are where they are now, and where each group would go if the
	// publish migrates them: the step of the same id, or out of the journey
	// (step_removed) when the new version has no such step.
	Steps []ImpactStep `json:"steps"`
	// Removed and Added compare the live version's steps with the new ones.
	Removed []string `json:"removed_steps"`
	Added   []string `json:"added_steps"`
	// SendAgain counts the contacts who, migrated, may reach a send step
	// they already ran and so get that message again.
	SendAgain int `json:"send_again"`
	// Migrate says what a publish with migrate=true does; without it,
	// everyone in flight stays on their version.
	Migrate string `json:"migrate"`
}

// ImpactStep is one group of contacts in flight.
type ImpactStep struct {
	Version  int    `json:"version"`
	Step     string `json:"step"`
	Status   string `json:"status"`
	Contacts int    `json:"contacts"`
	// Goes is the step they would be at after a migration, or
	// "exit: step_removed".
	Goes string `json:"goes"`
}

// PreviewJourney says what publishing a document would do, saving nothing.
func (s *Store) PreviewJourney(ctx context.Context, src []byte) (JourneyImpact, error) {
	var out JourneyImpact
	err := s.writer.do1(func(t *tx) error {
		var err error
		out, err = t.impact(src)
		return err
	})
	return out, err
}

func (t *tx) impact(src []byte) (JourneyImpact, error) {
	j, err := journey.Parse(src, templateCatalog{t})
	if err != nil {
		return JourneyImpact{}, err
	}
	out := JourneyImpact{Journey: j.Doc.Name, Steps: []ImpactStep{}, Removed: []string{}, Added: []string{},
		Migrate: "contacts at a step the new version keeps move to it, with their timers; the others leave the journey (step_removed)"}
	var id int64
	var doc string
	err = t.queryRow(`SELECT j.id, j.version, v.document FROM journeys j JOIN journey_versions v
		ON v.journey_id = j.id AND v.version = j.version WHERE j.name = ?`, j.Doc.Name).Scan(&id, &out.Live, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		out.Changed = true
		out.Added = j.Steps()
		return out, nil
	} else if err != nil {
		return out, err
	}
	out.Exists, out.Changed = true, doc != string(src)
	live, err := t.journeyVersion(id, out.Live)
	if err != nil {
		return out, err
	}
	for _, st := range live.Steps() {
		if !j.HasStep(st) {
			out.Removed = append(out.Removed, st)
		}
	}
	for _, st := range j.Steps() {
		if !live.HasStep(st) {
			out.Added = append(out.Added, st)
		}
	}
	groups := map[ImpactStep]int{}
	err = t.eachInFlight(id, func(e enrolment) error {
		out.InFlight++
		g := ImpactStep{Version: e.version, Step: e.state.Step, Status: string(e.state.Status), Goes: e.state.Step}
		if !j.HasStep(e.state.Step) {
			g.Goes = "exit: step_removed"
		} else if j.SendsAgain(e.state.Step, e.state.Visits) {
			out.SendAgain++
		}
		groups[g]++
		return nil
	})
	if err != nil {
		return out, err
	}
	for g, n := range groups {
		g.Contacts = n
		out.Steps = append(out.Steps, g)
	}
	slices.SortFunc(out.Steps, func(a, b ImpactStep) int {
		if a.Version != b.Version {
			return a.Version - b.Version
		}
		if a.Step != b.Step {
			if a.Step < b.Step {
				return -1
			}
			return 1
		}
		if a.Status < b.Status {
			return -1
		}
		if a.Status > b.Status {
			return 1
		}
		return 0
	})
	return out, nil
}

// eachInFlight calls fn for every enrolment still in the journey.
func (t *tx) eachInFlight(journeyID int64, fn func(enrolment) error) error {
	all, err := t.enrolments(`WHERE journey_id = ? AND status IN ('active', 'waiting', 'paused') ORDER BY id`, journeyID)
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// migrate moves the journey's enrolments on older versions to version:
// those at a step it keeps stay there (with their timers), the others
// leave the journey with reason step_removed. It reports how many moved
// and how many left.
func (t *tx) migrate(journeyID int64, version int, j *journey.Journey, now time.Time) (moved, left int, err error) {
	err = t.eachInFlight(journeyID, func(e enrolment) error {
		if e.version == version {
			return nil
		}
		if j.HasStep(e.state.Step) {
			if _, err := t.exec("UPDATE enrolments SET version = ?, priority = ?, updated_at = ? WHERE id = ?", version, j.Doc.Priority, ms(now), e.id); err != nil {
				return err
			}
			t.journeyStat(journeyID, version, e.state.Step, "migrated", "from v"+strconv.Itoa(e.version))
			moved++
			return nil
		}
		st := e.state
		st.Status, st.Reason, st.DueAt = journey.Exited, "step_removed", time.Time{}
		if err := t.saveEnrolmentRow(&e, st, now); err != nil {
			return err
		}
		t.journeyStat(journeyID, e.version, e.state.Step, "exited", "step_removed")
		left++
		return t.appendSystemEvent(e.contactID, "journey_exited", "journey", now,
			map[string]any{"journey": j.Doc.Name, "enrolment": e.id, "step": e.state.Step, "reason": "step_removed"})
	})
	return moved, left, err
}
