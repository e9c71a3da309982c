package pipeline_test

import (
	"fmt"
	"time"

	"github.com/nurturehq/nurture/internal/pipeline"
)

func ExampleCheckMove() {
	cfg := pipeline.DefaultConfig()
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	bant := map[string]pipeline.Criterion{
		"need": {Value: "replace spreadsheets", Evidence: "said on the discovery call", ConfirmedBy: "sam", ConfirmedAt: at},
	}
	fmt.Println(pipeline.CheckMove(cfg, pipeline.Move{From: "new", To: "won"}))
	fmt.Println(pipeline.CheckMove(cfg, pipeline.Move{From: "meeting_held", To: "qualified", BANT: bant}))
	fmt.Println(pipeline.CheckMove(cfg, pipeline.Move{From: "qualified", To: "lost"}))
	fmt.Println(pipeline.NormalizeLostReason(cfg, "Chose_Competitor"))
	// Output:
	// stage: cannot move from new to won; allowed from new: contacted, nurture, meeting_booked, lost
	// bant: qualified requires need and timing confirmed, and one of budget or authority; missing: timing, one of budget or authority
	// reason: lost requires a reason: one of no_budget, no_need, bad_timing, chose_competitor, no_response, not_a_fit, other
	// chose_competitor <nil>
}

func ExampleHandoff() {
	fmt.Println(pipeline.Handoff("mql", pipeline.Accept, "", false))
	fmt.Println(pipeline.Handoff("mql", pipeline.Reject, "no project this year", false))
	fmt.Println(pipeline.Handoff("mql", pipeline.Reject, "student", true))
	fmt.Println(pipeline.Handoff("lead", pipeline.Accept, "", false))
	// Output:
	// sal <nil>
	// lead <nil>
	// disqualified <nil>
	//  lifecycle: hand-off is only from mql; contact is lead
}

func ExampleRaise() {
	lifecycle := "lead"
	lifecycle = pipeline.Raise(lifecycle, pipeline.LifecycleForStage("qualified"))
	fmt.Println(lifecycle)
	lifecycle = pipeline.Raise(lifecycle, "mql") // a late score threshold does not move it back
	fmt.Println(lifecycle)
	// Output:
	// opportunity
	// opportunity
}
