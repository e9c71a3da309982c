package pipeline_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/pipeline"
)

func TestHistory(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	left := func(d time.Duration) *time.Time { x := at(d); return &x }
	tests := []struct {
		name    string
		changes []pipeline.StageChange
		now     time.Time
		want    []pipeline.Span
	}{
		{"none", nil, at(time.Hour), []pipeline.Span{}},
		{"one", []pipeline.StageChange{{Stage: "new", At: t0, By: "form"}}, at(90 * time.Minute),
			[]pipeline.Span{{Stage: "new", EnteredAt: t0, Seconds: 5400, By: "form"}}},
		{"three", []pipeline.StageChange{
			{Stage: "new", At: t0, By: "form"},
			{Stage: "contacted", At: at(10 * time.Minute), By: "sam"},
			{Stage: "lost", At: at(48 * time.Hour), By: "sam", Reason: "no_response"},
		}, at(72 * time.Hour), []pipeline.Span{
			{Stage: "new", EnteredAt: t0, LeftAt: left(10 * time.Minute), Seconds: 600, By: "form"},
			{Stage: "contacted", EnteredAt: at(10 * time.Minute), LeftAt: left(48 * time.Hour), Seconds: 48*3600 - 600, By: "sam"},
			{Stage: "lost", EnteredAt: at(48 * time.Hour), Seconds: 24 * 3600, By: "sam", Reason: "no_response"},
		}},
		{"same instant", []pipeline.StageChange{{Stage: "new", At: t0}, {Stage: "nurture", At: t0}}, t0, []pipeline.Span{
			{Stage: "new", EnteredAt: t0, LeftAt: left(0), Seconds: 0},
			{Stage: "nurture", EnteredAt: t0, Seconds: 0},
		}},
		{"out of order", []pipeline.StageChange{
			{Stage: "new", At: at(time.Hour)},
			{Stage: "contacted", At: t0},
			{Stage: "nurture", At: at(2 * time.Hour)},
		}, at(3 * time.Hour), []pipeline.Span{
			{Stage: "new", EnteredAt: at(time.Hour), LeftAt: left(0), Seconds: 0},
			{Stage: "contacted", EnteredAt: t0, LeftAt: left(2 * time.Hour), Seconds: 7200},
			{Stage: "nurture", EnteredAt: at(2 * time.Hour), Seconds: 3600},
		}},
		{"now before the last change", []pipeline.StageChange{{Stage: "new", At: at(time.Hour)}}, t0,
			[]pipeline.Span{{Stage: "new", EnteredAt: at(time.Hour), Seconds: 0}}},
		{"sub-second", []pipeline.StageChange{
			{Stage: "new", At: at(900 * time.Millisecond)},
			{Stage: "contacted", At: at(2100 * time.Millisecond)},
		}, at(3500 * time.Millisecond), []pipeline.Span{
			{Stage: "new", EnteredAt: at(900 * time.Millisecond), LeftAt: left(2100 * time.Millisecond), Seconds: 2},
			{Stage: "contacted", EnteredAt: at(2100 * time.Millisecond), Seconds: 1},
		}},
		{"zero times", []pipeline.StageChange{{Stage: "new"}}, time.Time{}, []pipeline.Span{{Stage: "new"}}},
		{"before 1970", []pipeline.StageChange{{Stage: "new", At: time.Unix(-10, 500)}}, time.Unix(5, 0),
			[]pipeline.Span{{Stage: "new", EnteredAt: time.Unix(-10, 500), Seconds: 15}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := pipeline.History(tt.changes, tt.now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("History(…) = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestHistoryLeftAtNotShared(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	spans := pipeline.History([]pipeline.StageChange{
		{Stage: "new", At: t0}, {Stage: "contacted", At: t0.Add(time.Minute)}, {Stage: "nurture", At: t0.Add(time.Hour)},
	}, t0.Add(2*time.Hour))
	*spans[0].LeftAt = time.Time{}
	if got, want := *spans[1].LeftAt, t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after changing spans[0].LeftAt, spans[1].LeftAt = %v; want %v", got, want)
	}
}

func TestSpanJSON(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	spans := pipeline.History([]pipeline.StageChange{
		{Stage: "new", At: t0, By: "form"}, {Stage: "lost", At: t0.Add(time.Minute), By: "sam", Reason: "other"},
	}, t0.Add(time.Hour))
	b, err := json.Marshal(spans)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"stage":"new","entered_at":"2025-01-06T09:00:00Z","left_at":"2025-01-06T09:01:00Z","seconds":60,"by":"form"},` +
		`{"stage":"lost","entered_at":"2025-01-06T09:01:00Z","left_at":null,"seconds":3540,"by":"sam","reason":"other"}]`
	if got := string(b); got != want {
		t.Errorf("json.Marshal(History(…)) = %s; want %s", got, want)
	}
	if b, _ := json.Marshal(pipeline.History(nil, t0)); string(b) != "[]" {
		t.Errorf("json.Marshal(History(nil)) = %s; want []", b)
	}
}
