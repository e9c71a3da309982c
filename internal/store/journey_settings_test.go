package store_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

func TestJourneySettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, _ *clock.Fake) {
		set, err := s.JourneySettings(ctx)
		if err != nil || !reflect.DeepEqual(set.FrequencyCap, journey.DefaultCap) {
			t.Fatalf("settings = %+v, %v; want the default cap", set, err)
		}
		want := journey.Cap{PerDay: 2, PerWeek: 8, Channels: map[string]journey.Limit{"sms": {PerWeek: 1}}}
		in := want
		in.Channels = map[string]journey.Limit{"sms": {PerWeek: 1}, "email": {}} // no limit: dropped
		got, err := s.SetJourneySettings(ctx, store.JourneySettings{FrequencyCap: in})
		if err != nil || !reflect.DeepEqual(got.FrequencyCap, want) {
			t.Fatalf("SetJourneySettings = %+v, %v; want %+v", got, err, want)
		}
		for _, bad := range []journey.Cap{
			{PerDay: -1},
			{PerDay: 3, PerWeek: 2},
			{Channels: map[string]journey.Limit{"pigeon": {PerDay: 1}}},
			{PerDay: 2, PerWeek: 8, Channels: map[string]journey.Limit{"sms": {PerDay: 3}}},
		} {
			_, err := s.SetJourneySettings(ctx, store.JourneySettings{FrequencyCap: bad})
			var ce *journey.CapError
			if !errors.As(err, &ce) {
				t.Errorf("cap %+v: %v; want a CapError", bad, err)
			}
		}
		if set, err := s.JourneySettings(ctx); err != nil || !reflect.DeepEqual(set.FrequencyCap, want) {
			t.Errorf("after refused changes: %+v, %v; want %+v unchanged", set, err, want)
		}
		// Zero fields take the defaults.
		if got, err := s.SetJourneySettings(ctx, store.JourneySettings{}); err != nil || !reflect.DeepEqual(got.FrequencyCap, journey.DefaultCap) {
			t.Errorf("empty settings = %+v, %v; want the default cap", got, err)
		}
	})
}

const mixedJourney = `name: mixed
trigger: {manual: true}
entry: {require: [email, phone], reentry: always}
quiet_hours: {off: true}
steps:
  - {id: s0, send: {channel: sms, template: mx-s0}}
  - {id: e0, send: {channel: email, template: mx-e0}}
  - {id: s1, send: {channel: sms, template: mx-s1}}
  - {id: e1, send: {channel: email, template: mx-e1}}
`

// TestJourneyChannelCap: the cap set through the settings applies to the
// next steps (the catalog is reloaded), across channels and per channel,
// and each deferral is recorded with its reason.
func TestJourneyChannelCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		saveJourneyTemplates(t, s, "mx-e0", "mx-e1")
		for _, n := range []string{"mx-s0", "mx-s1"} {
			if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: n, Channel: store.ChannelSMS, Text: n + " {{ contact.first_name }}"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.SaveJourney(ctx, []byte(mixedJourney)); err != nil {
			t.Fatal(err)
		}
		newLead := func(email, phone string) int64 {
			r, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: email, Phone: phone}),
				Consents: []contact.ConsentInput{
					{Channel: "email", Purpose: "marketing", Status: "granted"},
					{Channel: "sms", Purpose: "marketing", Status: "granted"},
				}})
			if err != nil {
				t.Fatal(err)
			}
			return r.Contact.ID
		}
		start := clk.Now()
		type msg struct {
			template string
			after    time.Duration
		}
		sent := func(id int64) []msg {
			ms, err := s.ListMessages(ctx, store.MessagesParams{ContactID: id, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var out []msg
			for i := len(ms) - 1; i >= 0; i-- {
				out = append(out, msg{ms[i].Template, ms[i].DueAt.Sub(start).Round(time.Hour)})
			}
			return out
		}
		// The default cap: one a day, whatever the channel.
		ada := newLead("ada@example.com", "+33612345678")
		if _, err := s.Enrol(ctx, "mixed", ada); err != nil {
			t.Fatal(err)
		}
		if got, want := sent(ada), []msg{{"mx-s0", 0}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("default cap: ada got %v; want %v", got, want)
		}
		// Two a day across channels, one SMS a week.
		if _, err := s.SetJourneySettings(ctx, store.JourneySettings{FrequencyCap: journey.Cap{PerDay: 2, PerWeek: 8,
			Channels: map[string]journey.Limit{"sms": {PerWeek: 1}}}}); err != nil {
			t.Fatal(err)
		}
		bob := newLead("bob@example.com", "+33612345679")
		if _, err := s.Enrol(ctx, "mixed", bob); err != nil {
			t.Fatal(err)
		}
		runDue(t, s, clk, start.Add(10*24*time.Hour))
		week := 7 * 24 * time.Hour
		if got, want := sent(bob), []msg{{"mx-s0", 0}, {"mx-e0", 0}, {"mx-s1", week}, {"mx-e1", week}}; !reflect.DeepEqual(got, want) {
			t.Errorf("bob got %v; want %v", got, want)
		}
		// Ada's e0 waited under the old cap, then runs under the new one:
		// her SMS s1 waits for the week.
		if got, want := sent(ada), []msg{{"mx-s0", 0}, {"mx-e0", 24 * time.Hour}, {"mx-s1", week}, {"mx-e1", week}}; !reflect.DeepEqual(got, want) {
			t.Errorf("ada got %v; want %v", got, want)
		}
		_, stats, err := s.JourneyStats(ctx, "mixed")
		if err != nil {
			t.Fatal(err)
		}
		deferred := map[string]int64{}
		for _, st := range stats {
			if st.Metric == "deferred" {
				deferred[st.Step+":"+st.Detail] += st.Count
			}
		}
		want := map[string]int64{"e0:" + journey.DeferDayCap: 1, "s1:" + journey.DeferChannelWeekCap: 2}
		if !reflect.DeepEqual(deferred, want) {
			t.Errorf("deferrals %v; want %v", deferred, want)
		}
		// Why didn't Bob get s1 at once? His timeline says.
		tl, _, err := s.Timeline(ctx, bob, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		var why []string
		for _, ev := range tl {
			if ev.Type == "journey_deferred" {
				var p struct{ Step, Reason string }
				if err := json.Unmarshal(ev.Properties, &p); err != nil {
					t.Fatal(err)
				}
				why = append(why, p.Step+" "+p.Reason)
			}
		}
		if got := strings.Join(why, ","); got != "s1 "+journey.DeferChannelWeekCap {
			t.Errorf("bob's deferrals %q; want s1 by the SMS week cap", got)
		}
		// The dry run applies the same cap: each contact's s1 waits for the
		// SMS week, e1 goes right after it.
		rep, err := s.SimulateJourney(ctx, store.SimulateParams{Document: []byte(mixedJourney), Days: 30, Start: start.Add(30 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Entered != 2 || !reflect.DeepEqual(rep.Deferred, map[string]int{journey.DeferChannelWeekCap: 2}) {
			t.Errorf("dry run: %d entered, deferrals %v; want 2, and 2 by the SMS week cap", rep.Entered, rep.Deferred)
		}
	})
}
