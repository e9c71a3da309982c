package pipeline

import (
	"slices"
	"strings"

	"github.com/nurturehq/nurture/internal/contact"
)

// Lifecycle stages: where a contact stands between marketing and sales, as
// opposed to the pipeline stage of a deal. MQL is marketing qualified, SAL
// sales accepted, SQL sales qualified. The contact package owns the
// vocabulary (a contact carries its stage); these are the same names.
const (
	LifecycleSubscriber   = contact.LifecycleSubscriber
	LifecycleLead         = contact.LifecycleLead
	LifecycleMQL          = contact.LifecycleMQL
	LifecycleSAL          = contact.LifecycleSAL
	LifecycleSQL          = contact.LifecycleSQL
	LifecycleOpportunity  = contact.LifecycleOpportunity
	LifecycleCustomer     = contact.LifecycleCustomer
	LifecycleDisqualified = contact.LifecycleDisqualified
)

// Lifecycles lists the lifecycle stages in funnel order, disqualified last:
// it is outside the funnel, not its end.
var Lifecycles = contact.Lifecycles

// LifecycleRank orders the funnel: 0 for subscriber up to 6 for customer.
// Disqualified ranks -1, like an unknown stage: it is a way out of the funnel,
// not a step along it.
func LifecycleRank(s string) int { return contact.LifecycleRank(s) }

// Raise returns target if it is further down the funnel than current, and
// current otherwise. It is what automation calls (a score threshold, a meeting
// booked): it never moves a contact back, never disqualifies one and never
// brings a disqualified one back; those take CheckLifecycle and a person. An
// unknown current (such as "") is raised to any funnel stage.
func Raise(current, target string) string {
	if current == LifecycleDisqualified || target == LifecycleDisqualified {
		return current
	}
	if LifecycleRank(target) > LifecycleRank(current) {
		return target
	}
	return current
}

// CheckLifecycle reports whether a person may move a contact's lifecycle from
// one stage to another. Any forward move is allowed. Backward, a contact may
// only be recycled to lead, from mql, sal, sql or opportunity, with a reason.
// Anyone but a customer may be disqualified, with a reason; a disqualified
// contact may only come back as a lead, with a reason. Errors are
// *contact.ValidationError naming "lifecycle" or "reason".
func CheckLifecycle(from, to, reason string) error {
	for _, s := range []string{from, to} {
		if !slices.Contains(Lifecycles, s) {
			return invalid("lifecycle", "unknown lifecycle stage %s; stages: %s", quote(s), strings.Join(Lifecycles, ", "))
		}
	}
	hasReason := strings.TrimSpace(reason) != ""
	switch {
	case from == to:
		return invalid("lifecycle", "already %s", from)
	case to == LifecycleDisqualified:
		if from == LifecycleCustomer {
			return invalid("lifecycle", "a customer cannot be disqualified")
		}
		if !hasReason {
			return invalid("reason", "disqualifying a contact requires a reason")
		}
	case from == LifecycleDisqualified:
		if to != LifecycleLead {
			return invalid("lifecycle", "cannot move from disqualified to %s; a disqualified contact can only be recycled to lead", to)
		}
		if !hasReason {
			return invalid("reason", "recycling a disqualified contact to lead requires a reason")
		}
	case LifecycleRank(to) > LifecycleRank(from):
		// Forward: allowed.
	case to != LifecycleLead || LifecycleRank(from) > LifecycleRank(LifecycleOpportunity):
		return invalid("lifecycle", "cannot move back from %s to %s; only mql, sal, sql and opportunity can be recycled to lead", from, to)
	case !hasReason:
		return invalid("reason", "recycling a contact from %s to lead requires a reason", from)
	}
	return checkText("reason", reason, MaxReasonLen, false)
}

// Decision is sales' answer to a marketing qualified lead.
type Decision string

// Decisions on a hand-off.
const (
	Accept Decision = "accept"
	Reject Decision = "reject"
)

// Handoff applies sales' decision on a contact at lifecycle mql and returns
// its next lifecycle stage: sal when accepted; lead when rejected, or
// disqualified when disqualify is set. A rejection needs a reason, so that
// marketing learns what it sends that sales does not want.
func Handoff(lifecycle string, d Decision, reason string, disqualify bool) (next string, err error) {
	if lifecycle != LifecycleMQL {
		shown := lifecycle
		if !slices.Contains(Lifecycles, lifecycle) {
			shown = quote(lifecycle)
		}
		return "", invalid("lifecycle", "hand-off is only from mql; contact is %s", shown)
	}
	switch d {
	case Accept:
		if disqualify {
			return "", invalid("disqualify", "only a rejected hand-off can disqualify")
		}
		next = LifecycleSAL
	case Reject:
		if strings.TrimSpace(reason) == "" {
			return "", invalid("reason", "rejecting a hand-off requires a reason")
		}
		next = LifecycleLead
		if disqualify {
			next = LifecycleDisqualified
		}
	default:
		return "", invalid("decision", "must be %s or %s", Accept, Reject)
	}
	if err := checkText("reason", reason, MaxReasonLen, false); err != nil {
		return "", err
	}
	return next, nil
}

// LifecycleForStage returns the lifecycle stage a pipeline stage implies at
// least, "" when it implies none: a qualified deal is an opportunity, a won
// one a customer. Meetings say nothing about the lifecycle on their own (sales
// decides SQL), and lost says nothing about how far the contact had come.
// Use it with Raise.
func LifecycleForStage(stage string) string {
	switch stage {
	case contact.StatusQualified:
		return LifecycleOpportunity
	case contact.StatusWon:
		return LifecycleCustomer
	}
	return ""
}
