package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"
	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// bookingRig sets up alice and bob (Paris, the team's hours), members of
// the paris team (Monday to Friday 09:00-12:00 and 14:00-18:00, closed on
// French holidays, the default booking: 30 minutes, 10 minutes of buffer,
// 2 hours' notice, 14 days ahead); carol, with her own hours in New York
// and no team; the shipped meeting templates. The clock is Monday 2 March
// 2026, 08:00 in Paris.
func bookingRig(t *testing.T, s *store.Store, clk *clock.Fake) {
	t.Helper()
	installTemplates(t, s, store.TemplateMeetingConfirmation, store.TemplateMeetingBooked, store.TemplateMeetingCancelled)
	bookingPeople(t, s, clk)
}

// bookingPeople is bookingRig without the templates.
func bookingPeople(t *testing.T, s *store.Store, clk *clock.Fake) {
	t.Helper()
	clk.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, zone(t, "Europe/Paris")))
	for _, o := range []route.Owner{
		{Name: "alice", DisplayName: "Alice Martin", Email: "alice@sales.example.com", TimeZone: "Europe/Paris"},
		{Name: "bob", Email: "bob@sales.example.com", TimeZone: "Europe/Paris"},
		{Name: "carol", Email: "carol@sales.example.com", TimeZone: "America/New_York", Hours: map[string]string{
			"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": "09:00-17:00"}},
	} {
		if _, _, err := s.PutOwner(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	src, err := examples.File("holidays/fr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := route.ParseHolidays(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetHolidays(ctx, h); err != nil {
		t.Fatal(err)
	}
	hours := map[string]string{"mon": "09:00-12:00, 14:00-18:00", "tue": "09:00-12:00, 14:00-18:00",
		"wed": "09:00-12:00, 14:00-18:00", "thu": "09:00-12:00, 14:00-18:00", "fri": "09:00-12:00, 14:00-18:00"}
	if _, _, err := s.PutTeam(ctx, route.Team{Name: "paris", TimeZone: "Europe/Paris", Hours: hours, Holidays: "FR",
		Members: []string{"alice", "bob"}}); err != nil {
		t.Fatal(err)
	}
}

func installTemplates(t *testing.T, s *store.Store, names ...string) {
	t.Helper()
	for _, f := range names {
		src, err := examples.File("templates/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		var in store.TemplateInput
		if err := yaml.Unmarshal(src, &in); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SaveTemplate(ctx, in); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// at is a wall time in Paris in March 2026.
func at(t *testing.T, day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, zone(t, "Europe/Paris"))
}

func visitor(t *testing.T, email, first, last string) contact.Input {
	t.Helper()
	return norm(t, contact.Input{Email: email, FirstName: first, LastName: last})
}

func book(t *testing.T, s *store.Store, p store.BookParams) store.Meeting {
	t.Helper()
	if p.Source == "" {
		p.Source = store.SourceBooking
	}
	m, err := s.BookMeeting(ctx, p)
	if err != nil {
		t.Fatalf("BookMeeting(%s%s at %s): %v", p.Owner, p.Team, p.Start, err)
	}
	return m
}

func starts(slots []store.Slot, loc *time.Location) []string {
	var out []string
	for _, sl := range slots {
		out = append(out, sl.Start.In(loc).Format("Mon 15:04"))
	}
	return out
}

func slotsOf(t *testing.T, s *store.Store, p store.SlotsParams) []store.Slot {
	t.Helper()
	_, slots, err := s.Slots(ctx, p)
	if err != nil {
		t.Fatalf("Slots(%+v): %v", p, err)
	}
	return slots
}

// invitation parses a queued message's calendar with golang-ical.
func invitation(t *testing.T, m store.Message) (method string, ev *ical.VEvent) {
	t.Helper()
	if len(m.Calendar) == 0 {
		t.Fatalf("message %d (%s) carries no invitation", m.ID, m.Template)
	}
	cal, err := ical.ParseCalendar(bytes.NewReader(m.Calendar))
	if err != nil {
		t.Fatalf("golang-ical: %v\n%s", err, m.Calendar)
	}
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == "METHOD" {
			method = p.Value
		}
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events in the invitation; want 1\n%s", len(evs), m.Calendar)
	}
	return method, evs[0]
}

func prop(ev *ical.VEvent, p ical.ComponentProperty) string {
	if v := ev.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}

// checkInvitation checks what calendars read in an invitation.
func checkInvitation(t *testing.T, msg store.Message, m store.Meeting, method string, sequence int, attendee string) {
	t.Helper()
	got, ev := invitation(t, msg)
	if got != method {
		t.Errorf("%s: METHOD = %q; want %s", msg.Template, got, method)
	}
	if uid := prop(ev, ical.ComponentPropertyUniqueId); uid != m.UID || uid == "" {
		t.Errorf("%s: UID = %q; want %q", msg.Template, uid, m.UID)
	}
	if seq := prop(ev, ical.ComponentPropertySequence); seq != fmt.Sprint(sequence) {
		t.Errorf("%s: SEQUENCE = %s; want %d", msg.Template, seq, sequence)
	}
	if start, err := ev.GetStartAt(); err != nil || !start.Equal(m.Start) {
		t.Errorf("%s: DTSTART = %v, %v; want %v", msg.Template, start, err, m.Start)
	}
	if end, err := ev.GetEndAt(); err != nil || !end.Equal(m.End) {
		t.Errorf("%s: DTEND = %v, %v; want %v", msg.Template, end, err, m.End)
	}
	if org := prop(ev, ical.ComponentPropertyOrganizer); org != "mailto:"+m.Owner+"@sales.example.com" {
		t.Errorf("%s: ORGANIZER = %q", msg.Template, org)
	}
	var emails []string
	for _, a := range ev.Attendees() {
		emails = append(emails, a.Email())
	}
	if !slices.Contains(emails, attendee) {
		t.Errorf("%s: ATTENDEE %q; want %s among them", msg.Template, emails, attendee)
	}
}

// meetingMessages are the messages about a meeting, oldest first.
func meetingMessages(t *testing.T, s *store.Store, contactID int64) []store.Message {
	t.Helper()
	ms, err := s.ListMessages(ctx, store.MessagesParams{ContactID: contactID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Message
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Source == "meeting" {
			out = append(out, ms[i])
		}
	}
	return out
}

func timelineProps(t *testing.T, s *store.Store, id int64, typ string) []event.Event {
	t.Helper()
	evs, _, err := s.Timeline(ctx, id, nil, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			out = append(out, evs[i])
		}
	}
	return out
}

func rowCounts(t *testing.T, s *store.Store) string {
	t.Helper()
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := s.Meetings(ctx, store.MeetingsParams{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.ListMessages(ctx, store.MessagesParams{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%v meetings:%d outbox:%d", c, len(ms), len(out))
}

// TestBookMeeting books on alice's page for a visitor nobody knew: the
// contact is created, owned by alice, not routed nor sent a first touch,
// and both sides get an invitation that parses.
func TestBookMeeting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		if _, err := s.ApplyRouting(ctx, []byte("default_team: paris\n"), "", "test"); err != nil {
			t.Fatal(err)
		}
		start := at(t, 3, 10, 0)
		m := book(t, s, store.BookParams{Owner: "alice", Start: start, TimeZone: "America/New_York",
			Contact: norm(t, contact.Input{Email: "Ada@Example.com", FirstName: "Ada", LastName: "Lovelace", Phone: "+33612345678"}),
			Notes:   "Pricing for 40 seats.\r\nAnd the API."})
		if m.ID == 0 || m.Owner != "alice" || m.Team != "" || m.Status != store.MeetingBooked || m.Sequence != 0 ||
			!m.Start.Equal(start) || !m.End.Equal(start.Add(30*time.Minute)) || m.TimeZone != "America/New_York" ||
			m.Source != store.SourceBooking || m.Notes != "Pricing for 40 seats.\nAnd the API." {
			t.Errorf("meeting = %+v", m)
		}
		if got, err := s.GetMeeting(ctx, m.ID); err != nil || got != m {
			t.Errorf("GetMeeting = %+v, %v; want %+v", got, err, m)
		}
		c, err := s.GetContact(ctx, m.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Email != "ada@example.com" || c.FirstName != "Ada" || c.Owner != "alice" || c.Source != store.SourceBooking ||
			c.TimeZone != "America/New_York" {
			t.Errorf("contact = %+v; want Ada, owned by alice, from a booking, in New York's zone", c)
		}
		assigned := timelineProps(t, s, c.ID, event.OwnerAssigned)
		if len(assigned) != 1 || !strings.Contains(string(assigned[0].Properties), `"rule":"booking"`) {
			t.Errorf("owner_assigned events %v; want one by the rule booking", assigned)
		}
		booked := timelineProps(t, s, c.ID, event.MeetingBooked)
		if len(booked) != 1 || string(booked[0].Properties) != fmt.Sprintf(`{"meeting_id":%d,"owner":"alice","start":"2026-03-03T09:00:00Z"}`, m.ID) {
			t.Errorf("meeting_booked events %v", booked)
		}
		if _, err := s.LeadSLA(ctx, c.ID); !errors.Is(err, store.ErrNoSLA) {
			t.Errorf("LeadSLA = %v; want no clock: a booking is not routed", err)
		}
		msgs, err := s.ListMessages(ctx, store.MessagesParams{ContactID: c.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 {
			t.Fatalf("messages %+v; want the two invitations and no first touch", msgs)
		}
		msgs = meetingMessages(t, s, c.ID)
		lead, owner := msgs[0], msgs[1]
		if lead.Template != store.TemplateMeetingConfirmation || lead.Kind != store.KindTransactional || lead.Recipient != "" ||
			lead.Data["meeting_start"] != "Tuesday 3 March 2026 at 04:00 (America/New_York)" ||
			lead.Data["owner_name"] != "Alice Martin" || lead.Data["meeting_id"] != fmt.Sprint(m.ID) ||
			lead.Data["booking_path"] != "/book/alice" || lead.Data["meeting_length"] != "30 minutes" {
			t.Errorf("the lead's message = %+v", lead)
		}
		if owner.Template != store.TemplateMeetingBooked || owner.Kind != store.KindInternal || owner.Recipient != "alice@sales.example.com" ||
			owner.Data["meeting_start"] != "Tuesday 3 March 2026 at 10:00 (Europe/Paris)" {
			t.Errorf("the owner's message = %+v", owner)
		}
		checkInvitation(t, lead, m, "REQUEST", 0, "ada@example.com")
		checkInvitation(t, owner, m, "REQUEST", 0, "ada@example.com")
		if _, ev := invitation(t, owner); !strings.Contains(prop(ev, ical.ComponentPropertyDescription), "Pricing for 40 seats.") {
			t.Errorf("the owner's invitation does not carry the notes: %s", owner.Calendar)
		}

		// A known contact books again: nothing of it is rewritten.
		m2 := book(t, s, store.BookParams{Owner: "bob", Start: at(t, 4, 9, 0),
			Contact: norm(t, contact.Input{Email: "ada@example.com", FirstName: "Mallory", Company: "Evil", Phone: "+33699999999"}),
			Notes:   "Call me\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:pwned"})
		if m2.ContactID != c.ID {
			t.Errorf("second booking made contact %d; want %d", m2.ContactID, c.ID)
		}
		again, _ := s.GetContact(ctx, c.ID)
		if again.FirstName != "Ada" || again.Phone != "+33612345678" || again.Owner != "alice" || again.Company != "Evil" {
			t.Errorf("contact after a second booking = %+v; want Ada's name, phone and owner kept, the missing company filled", again)
		}
		// Notes with line breaks are text in the invitation, not lines of it.
		msgs = meetingMessages(t, s, c.ID)
		_, ev := invitation(t, msgs[len(msgs)-1])
		if prop(ev, ical.ComponentPropertySummary) == "pwned" || !strings.Contains(prop(ev, ical.ComponentPropertyDescription), "SUMMARY:pwned") {
			t.Errorf("hostile notes escaped their property:\n%s", msgs[len(msgs)-1].Calendar)
		}
		if n := len(timelineProps(t, s, c.ID, event.OwnerAssigned)); n != 1 {
			t.Errorf("%d owner_assigned events; want still 1", n)
		}
	})
}

// TestBookMeetingRoutedLead: a routed lead booked through the API has its
// SLA clock stopped by the meeting.
func TestBookMeetingRoutedLead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		if _, err := s.ApplyRouting(ctx, []byte("default_team: paris\n"), "", "test"); err != nil {
			t.Fatal(err)
		}
		res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: "lead@example.com"})})
		if err != nil {
			t.Fatal(err)
		}
		if res.Contact.Owner != "alice" {
			t.Fatalf("owner %q; want alice by round robin", res.Contact.Owner)
		}
		m := book(t, s, store.BookParams{Team: "paris", Start: at(t, 3, 14, 0), ContactID: res.Contact.ID, Source: "api"})
		if m.Owner != "alice" || m.Team != "paris" || m.TimeZone != "Europe/Paris" {
			t.Errorf("meeting %+v; want alice's on the paris page, in the team's zone", m)
		}
		sla, err := s.LeadSLA(ctx, res.Contact.ID)
		if err != nil || sla.StoppedBy != event.MeetingBooked {
			t.Errorf("SLA = %+v, %v; want stopped by the meeting", sla, err)
		}
		if _, err := s.BookMeeting(ctx, store.BookParams{Owner: "alice", Start: at(t, 3, 15, 0), ContactID: 9999}); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("booking for no contact: %v; want contact.ErrNotFound", err)
		}
	})
}

// TestBookMeetingRefused: times the page does not offer, or that another
// meeting took, are refused with the reason, and change nothing.
func TestBookMeetingRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		if _, err := s.AddAbsence(ctx, store.Absence{Owner: "alice", From: at(t, 5, 0, 0), To: at(t, 6, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "first@example.com", "First", "")})
		if err := s.DisableOwner(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		before := rowCounts(t, s)
		for _, tc := range []struct {
			name   string
			p      store.BookParams
			want   error
			reason string
		}{
			{"in the past", store.BookParams{Owner: "alice", Start: at(t, 2, 7, 0)}, store.ErrSlotUnavailable, "in the past"},
			{"within the notice", store.BookParams{Owner: "alice", Start: at(t, 2, 9, 30)}, store.ErrSlotUnavailable, "less than 2 hours from now"},
			{"beyond the horizon", store.BookParams{Owner: "alice", Start: at(t, 17, 10, 0)}, store.ErrSlotUnavailable, "more than 14 days ahead"},
			{"off the grid", store.BookParams{Owner: "alice", Start: at(t, 3, 10, 15)}, store.ErrSlotUnavailable, "a slot every 30 minutes"},
			{"a second off the grid", store.BookParams{Owner: "alice", Start: at(t, 3, 11, 0).Add(time.Second)}, store.ErrSlotUnavailable, "not one of the times"},
			{"over lunch", store.BookParams{Owner: "alice", Start: at(t, 3, 12, 0)}, store.ErrSlotUnavailable, "outside working hours"},
			{"ending in lunch", store.BookParams{Owner: "alice", Start: at(t, 3, 11, 45)}, store.ErrSlotUnavailable, "not one of the times"},
			{"on Saturday", store.BookParams{Owner: "alice", Start: at(t, 7, 10, 0)}, store.ErrSlotUnavailable, "not one of the times"},
			{"absent", store.BookParams{Owner: "alice", Start: at(t, 5, 10, 0)}, store.ErrSlotUnavailable, "not one of the times"},
			{"carol at night", store.BookParams{Owner: "carol", Start: at(t, 3, 10, 0)}, store.ErrSlotUnavailable, "not one of the times"},
			{"the same slot", store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0)}, store.ErrSlotTaken, ""},
			{"within the buffer after", store.BookParams{Owner: "alice", Start: at(t, 3, 10, 30)}, store.ErrSlotTaken, ""},
			{"within the buffer before", store.BookParams{Owner: "alice", Start: at(t, 3, 9, 30)}, store.ErrSlotTaken, ""},
			{"a disabled owner", store.BookParams{Owner: "bob", Start: at(t, 3, 14, 0)}, store.ErrOwnerNotFound, ""},
			{"no such owner", store.BookParams{Owner: "zed", Start: at(t, 3, 14, 0)}, store.ErrOwnerNotFound, ""},
			{"no such team", store.BookParams{Team: "zed", Start: at(t, 3, 14, 0)}, store.ErrTeamNotFound, ""},
			{"the team's only member taken", store.BookParams{Team: "paris", Start: at(t, 3, 10, 0)}, store.ErrSlotTaken, ""},
			{"owner and team", store.BookParams{Owner: "alice", Team: "paris", Start: at(t, 3, 14, 0)}, nil, "owner"},
			{"no start", store.BookParams{Owner: "alice"}, nil, "start"},
			{"bad zone", store.BookParams{Owner: "alice", Start: at(t, 3, 14, 0), TimeZone: "Mars/Olympus"}, nil, "time_zone"},
			{"notes too long", store.BookParams{Owner: "alice", Start: at(t, 3, 14, 0), Notes: strings.Repeat("x", 1001)}, nil, "notes"},
			{"notes with an escape", store.BookParams{Owner: "alice", Start: at(t, 3, 14, 0), Notes: "a\x1b[31m"}, nil, "notes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.p
				p.Contact, p.Source = visitor(t, "x-"+strings.ReplaceAll(tc.name, " ", "-")+"@example.com", "X", ""), store.SourceBooking
				_, err := s.BookMeeting(ctx, p)
				if tc.want == nil {
					var re *route.Error
					if !errors.As(err, &re) || re.Field != tc.reason {
						t.Errorf("BookMeeting = %v; want an error on %s", err, tc.reason)
					}
					return
				}
				if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.reason) {
					t.Errorf("BookMeeting = %v; want %v saying %q", err, tc.want, tc.reason)
				}
			})
		}
		if after := rowCounts(t, s); after != before {
			t.Errorf("rows = %s; want unchanged %s", after, before)
		}
	})
}

// TestMeetingSlots: an owner's slots are their calendar (the team's
// hours, holidays, absences) minus booked meetings and their buffers; a
// team's are the union of its members', each saying who is free.
func TestMeetingSlots(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		paris, ny := zone(t, "Europe/Paris"), zone(t, "America/New_York")
		tuesday := store.SlotsParams{Owner: "alice", From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)}
		all := []string{"Tue 09:00", "Tue 09:30", "Tue 10:00", "Tue 10:30", "Tue 11:00", "Tue 11:30", "Tue 14:00", "Tue 14:30",
			"Tue 15:00", "Tue 15:30", "Tue 16:00", "Tue 16:30", "Tue 17:00", "Tue 17:30"}
		page, slots, err := s.Slots(ctx, tuesday)
		if err != nil {
			t.Fatal(err)
		}
		if page.Owner != "alice" || page.Name != "Alice Martin" || page.TimeZone != "Europe/Paris" || page.Booking != route.DefaultBooking {
			t.Errorf("page = %+v", page)
		}
		if got := starts(slots, paris); !slices.Equal(got, all) {
			t.Errorf("alice's Tuesday = %q; want %q", got, all)
		}
		if !slots[0].End.Equal(slots[0].Start.Add(30*time.Minute)) || !slices.Equal(slots[0].Owners, []string{"alice"}) {
			t.Errorf("slot = %+v", slots[0])
		}
		// Monday: from 10:00, two hours' notice after 08:00.
		monday := slotsOf(t, s, store.SlotsParams{Owner: "alice", From: at(t, 2, 0, 0), To: at(t, 3, 0, 0)})
		if got := starts(monday, paris); len(got) != 12 || got[0] != "Mon 10:00" {
			t.Errorf("alice's Monday = %q; want 12 slots from 10:00", got)
		}

		book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "a@example.com", "A", "")})
		want := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "Tue 09:30" || s == "Tue 10:00" || s == "Tue 10:30" })
		if got := starts(slotsOf(t, s, tuesday), paris); !slices.Equal(got, want) {
			t.Errorf("alice's Tuesday with a meeting at 10:00 = %q; want %q (its buffers keep 09:30 and 10:30)", got, want)
		}

		team := slotsOf(t, s, store.SlotsParams{Team: "paris", From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)})
		if got := starts(team, paris); !slices.Equal(got, all) {
			t.Errorf("the team's Tuesday = %q; want %q", got, all)
		}
		for _, sl := range team {
			want := []string{"alice", "bob"}
			if w := sl.Start.In(paris).Format("15:04"); w == "09:30" || w == "10:00" || w == "10:30" {
				want = []string{"bob"}
			}
			if !slices.Equal(sl.Owners, want) {
				t.Errorf("team slot %s: owners %q; want %q", sl.Start.In(paris).Format("15:04"), sl.Owners, want)
			}
		}

		// Bob is away on Wednesday: the team's Wednesday is alice's.
		if _, err := s.AddAbsence(ctx, store.Absence{Owner: "bob", From: at(t, 4, 0, 0), To: at(t, 5, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		if got := slotsOf(t, s, store.SlotsParams{Owner: "bob", From: at(t, 4, 0, 0), To: at(t, 5, 0, 0)}); len(got) != 0 {
			t.Errorf("bob's Wednesday = %q; want none: he is away", starts(got, paris))
		}
		for _, sl := range slotsOf(t, s, store.SlotsParams{Team: "paris", From: at(t, 4, 0, 0), To: at(t, 5, 0, 0)}) {
			if !slices.Equal(sl.Owners, []string{"alice"}) {
				t.Errorf("Wednesday %s: owners %q; want alice alone", sl.Start.In(paris), sl.Owners)
			}
		}

		// Carol has her own hours in New York and no team: the default booking.
		carol := slotsOf(t, s, store.SlotsParams{Owner: "carol", From: time.Date(2026, 3, 3, 0, 0, 0, 0, ny), To: time.Date(2026, 3, 4, 0, 0, 0, 0, ny)})
		if got := starts(carol, ny); len(got) != 16 || got[0] != "Tue 09:00" || got[15] != "Tue 16:30" {
			t.Errorf("carol's Tuesday in New York = %q; want 16 slots from 09:00 to 16:30", got)
		}
		// At most Max.
		if got := slotsOf(t, s, store.SlotsParams{Team: "paris", From: at(t, 2, 0, 0), To: at(t, 20, 0, 0), Max: 5}); len(got) != 5 {
			t.Errorf("%d slots; want Max, 5", len(got))
		}
		if _, _, err := s.Slots(ctx, store.SlotsParams{Owner: "nobody", From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)}); !errors.Is(err, store.ErrOwnerNotFound) {
			t.Errorf("Slots of nobody: %v; want ErrOwnerNotFound", err)
		}
	})
}

// TestMeetingSlotsHoliday: Easter Monday closes the Paris team.
func TestMeetingSlotsHoliday(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		paris := zone(t, "Europe/Paris")
		clk.Set(time.Date(2026, 4, 1, 8, 0, 0, 0, paris))
		day := func(d int) store.SlotsParams {
			return store.SlotsParams{Team: "paris", From: time.Date(2026, 4, d, 0, 0, 0, 0, paris), To: time.Date(2026, 4, d+1, 0, 0, 0, 0, paris)}
		}
		if got := slotsOf(t, s, day(6)); len(got) != 0 {
			t.Errorf("Easter Monday: %q; want no slot", starts(got, paris))
		}
		if got := slotsOf(t, s, day(7)); len(got) != 14 {
			t.Errorf("the Tuesday after: %d slots; want 14", len(got))
		}
		_, err := s.BookMeeting(ctx, store.BookParams{Team: "paris", Start: time.Date(2026, 4, 6, 10, 0, 0, 0, paris),
			Contact: visitor(t, "h@example.com", "H", ""), Source: store.SourceBooking})
		if !errors.Is(err, store.ErrSlotUnavailable) {
			t.Errorf("booking Easter Monday: %v; want ErrSlotUnavailable", err)
		}
	})
}

// TestBookTeamMeeting: a team's page gives the meeting to the free member
// with the fewest upcoming meetings, then the first in the team's order.
func TestBookTeamMeeting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		var got []string
		for i, start := range []time.Time{at(t, 3, 10, 0), at(t, 3, 10, 0), at(t, 3, 14, 0), at(t, 3, 15, 0), at(t, 3, 16, 0)} {
			m := book(t, s, store.BookParams{Team: "paris", Start: start, Contact: visitor(t, fmt.Sprintf("t%d@example.com", i), "T", "")})
			if m.Team != "paris" {
				t.Errorf("meeting %+v; want booked on the paris page", m)
			}
			got = append(got, m.Owner)
		}
		// 10:00 alice (first), 10:00 bob (alice is taken), 14:00 alice
		// (one each: the first in order), 15:00 bob (fewer), 16:00 alice.
		if want := []string{"alice", "bob", "alice", "bob", "alice"}; !slices.Equal(got, want) {
			t.Errorf("owners %q; want %q", got, want)
		}
		_, err := s.BookMeeting(ctx, store.BookParams{Team: "paris", Start: at(t, 3, 10, 0), Contact: visitor(t, "late@example.com", "L", ""), Source: store.SourceBooking})
		if !errors.Is(err, store.ErrSlotTaken) {
			t.Errorf("a third booking at 10:00: %v; want ErrSlotTaken", err)
		}
		page, _, err := s.Slots(ctx, store.SlotsParams{Team: "paris", From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)})
		if err != nil || page.Team != "paris" || page.Name != "paris" || page.TimeZone != "Europe/Paris" {
			t.Errorf("team page = %+v, %v", page, err)
		}
	})
}

// TestBookMeetingConcurrently is the must-show: 20 visitors
// booking the same slot at once get one meeting and 19 ErrSlotTaken; 20
// booking starts 15 minutes apart, each within the others' meeting or
// buffer, get one meeting too; on a team of two, two.
func TestBookMeetingConcurrently(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		if _, _, err := s.PutOwner(ctx, route.Owner{Name: "zoe", Email: "zoe@sales.example.com", TimeZone: "Europe/Paris"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutTeam(ctx, route.Team{Name: "quick", TimeZone: "Europe/Paris", Members: []string{"zoe"},
			Hours: map[string]string{"tue": "09:00-18:00"}, Booking: &route.BookingSettings{Step: "15m"}}); err != nil {
			t.Fatal(err)
		}
		race := func(t *testing.T, name string, params func(i int) store.BookParams) (booked []store.Meeting) {
			t.Helper()
			ps := make([]store.BookParams, 20)
			for i := range ps {
				ps[i] = params(i)
				ps[i].Contact, ps[i].Source = visitor(t, fmt.Sprintf("%s%d@example.com", name, i), "V", ""), store.SourceBooking
			}
			ms := make([]store.Meeting, 20)
			errs := make([]error, 20)
			var wg sync.WaitGroup
			for i := range ps {
				wg.Go(func() { ms[i], errs[i] = s.BookMeeting(ctx, ps[i]) })
			}
			wg.Wait()
			for i, err := range errs {
				switch {
				case err == nil:
					booked = append(booked, ms[i])
				case !errors.Is(err, store.ErrSlotTaken):
					t.Errorf("%s %d: %v; want booked or ErrSlotTaken", name, i, err)
				}
			}
			return booked
		}
		contacts := func() int64 {
			c, err := s.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c["contacts"]
		}

		before := contacts()
		if got := race(t, "same", func(int) store.BookParams { return store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0)} }); len(got) != 1 {
			t.Errorf("20 bookings of one slot: %d booked; want 1", len(got))
		}
		if n := contacts() - before; n != 1 {
			t.Errorf("%d contacts created; want only the one who booked", n)
		}
		overlapping := []time.Time{at(t, 3, 10, 0), at(t, 3, 10, 15), at(t, 3, 10, 30)}
		got := race(t, "near", func(i int) store.BookParams { return store.BookParams{Owner: "zoe", Start: overlapping[i%3]} })
		if len(got) != 1 {
			t.Errorf("20 bookings of overlapping slots: %d booked %+v; want 1", len(got), got)
		}
		got = race(t, "team", func(int) store.BookParams { return store.BookParams{Team: "paris", Start: at(t, 3, 15, 0)} })
		owners := []string{}
		for _, m := range got {
			owners = append(owners, m.Owner)
		}
		slices.Sort(owners)
		if !slices.Equal(owners, []string{"alice", "bob"}) {
			t.Errorf("20 bookings of one slot of a team of two: owners %q; want alice and bob", owners)
		}
		list, _, err := s.Meetings(ctx, store.MeetingsParams{Status: store.MeetingBooked})
		if err != nil || len(list) != 4 {
			t.Errorf("Meetings = %d, %v; want 4 booked in all", len(list), err)
		}
	})
}

// TestRescheduleMeeting moves a meeting: the same owner, a new free slot,
// a higher sequence, the invitation again to both sides.
func TestRescheduleMeeting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		m := book(t, s, store.BookParams{Team: "paris", Start: at(t, 3, 10, 0), Contact: visitor(t, "ada@example.com", "Ada", ""),
			TimeZone: "Europe/Paris"})
		other := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 15, 0), Contact: visitor(t, "bo@example.com", "Bo", "")})
		before := rowCounts(t, s)
		for _, tc := range []struct {
			name  string
			start time.Time
			want  error
		}{
			{"onto another meeting", at(t, 3, 15, 0), store.ErrSlotTaken},
			{"into its buffer", at(t, 3, 14, 30), store.ErrSlotTaken},
			{"off the grid", at(t, 3, 14, 10), store.ErrSlotUnavailable},
			{"in the past", at(t, 1, 14, 0), store.ErrSlotUnavailable},
			{"on Sunday", at(t, 8, 14, 0), store.ErrSlotUnavailable},
		} {
			if _, err := s.RescheduleMeeting(ctx, m.ID, tc.start, "lead"); !errors.Is(err, tc.want) {
				t.Errorf("reschedule %s: %v; want %v", tc.name, err, tc.want)
			}
		}
		if _, err := s.RescheduleMeeting(ctx, 999, at(t, 3, 11, 0), "lead"); !errors.Is(err, store.ErrMeetingNotFound) {
			t.Errorf("reschedule of no meeting: %v", err)
		}
		same, err := s.RescheduleMeeting(ctx, m.ID, m.Start, "lead")
		if err != nil || same != m {
			t.Errorf("reschedule to its own start = %+v, %v; want it unchanged", same, err)
		}
		if after := rowCounts(t, s); after != before {
			t.Errorf("rows = %s; want unchanged %s", after, before)
		}

		moved, err := s.RescheduleMeeting(ctx, m.ID, at(t, 4, 11, 0), "lead")
		if err != nil {
			t.Fatal(err)
		}
		if moved.Owner != m.Owner || moved.Sequence != 1 || !moved.Start.Equal(at(t, 4, 11, 0)) || !moved.End.Equal(at(t, 4, 11, 30)) ||
			moved.UID != m.UID || moved.Status != store.MeetingBooked {
			t.Errorf("moved = %+v", moved)
		}
		msgs := meetingMessages(t, s, m.ContactID)
		if len(msgs) != 4 {
			t.Fatalf("%d meeting messages; want 2 at the booking and 2 at the move", len(msgs))
		}
		for _, msg := range msgs[2:] {
			checkInvitation(t, msg, moved, "REQUEST", 1, "ada@example.com")
			if msg.Data["meeting_rescheduled"] != "true" || msg.Data["meeting_previous_start"] != "Tuesday 3 March 2026 at 10:00 (Europe/Paris)" {
				t.Errorf("%s data = %v", msg.Template, msg.Data)
			}
		}
		evs := timelineProps(t, s, m.ContactID, event.MeetingRescheduled)
		if len(evs) != 1 || !strings.Contains(string(evs[0].Properties), `"from":"2026-03-03T09:00:00Z"`) {
			t.Errorf("meeting_rescheduled events %v", evs)
		}
		// The old time is free again.
		free := starts(slotsOf(t, s, store.SlotsParams{Owner: m.Owner, From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)}), zone(t, "Europe/Paris"))
		if !slices.Contains(free, "Tue 10:00") {
			t.Errorf("alice's Tuesday %q; want 10:00 free again", free)
		}
		// The slots a meeting can move to leave itself aside.
		page, slots, err := s.Slots(ctx, store.SlotsParams{Meeting: m.ID, From: at(t, 4, 0, 0), To: at(t, 5, 0, 0)})
		if err != nil || page.Team != "paris" || page.Name != "Alice Martin" {
			t.Errorf("the meeting's page = %+v, %v", page, err)
		}
		if got := starts(slots, zone(t, "Europe/Paris")); !slices.Contains(got, "Wed 11:00") || !slices.Contains(got, "Wed 10:30") {
			t.Errorf("slots to move to %q; want its own time and its buffers", got)
		}
		if _, err := s.CancelMeeting(ctx, other.ID, "api"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RescheduleMeeting(ctx, other.ID, at(t, 4, 14, 0), "api"); !errors.Is(err, store.ErrMeetingNotBooked) {
			t.Errorf("reschedule of a cancelled meeting: %v; want ErrMeetingNotBooked", err)
		}
	})
}

// TestCancelMeeting sends both sides METHOD:CANCEL with a higher
// sequence and frees the slot; cancelling again changes nothing.
func TestCancelMeeting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		m := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "ada@example.com", "Ada", "")})
		c, err := s.CancelMeeting(ctx, m.ID, "lead")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != store.MeetingCancelled || c.Sequence != 1 {
			t.Errorf("cancelled = %+v", c)
		}
		msgs := meetingMessages(t, s, m.ContactID)
		if len(msgs) != 4 {
			t.Fatalf("%d meeting messages; want 4", len(msgs))
		}
		for _, msg := range msgs[2:] {
			if msg.Template != store.TemplateMeetingCancelled {
				t.Errorf("template %s; want %s", msg.Template, store.TemplateMeetingCancelled)
			}
			checkInvitation(t, msg, c, "CANCEL", 1, "ada@example.com")
			if _, ev := invitation(t, msg); prop(ev, ical.ComponentPropertyStatus) != "CANCELLED" {
				t.Errorf("STATUS %q; want CANCELLED", prop(ev, ical.ComponentPropertyStatus))
			}
		}
		if msgs[2].Recipient != "" || msgs[3].Recipient != "alice@sales.example.com" {
			t.Errorf("cancellations to %q and %q; want the lead and alice", msgs[2].Recipient, msgs[3].Recipient)
		}
		if evs := timelineProps(t, s, m.ContactID, event.MeetingCancelled); len(evs) != 1 ||
			!strings.Contains(string(evs[0].Properties), `"by":"lead"`) || evs[0].Source != store.SourceBooking {
			t.Errorf("meeting_cancelled events %+v", evs)
		}
		again, err := s.CancelMeeting(ctx, m.ID, "lead")
		if err != nil || again != c || len(meetingMessages(t, s, m.ContactID)) != 4 {
			t.Errorf("cancelling again = %+v, %v; want it unchanged and no more emails", again, err)
		}
		// The slot is free: someone else books it.
		book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "next@example.com", "Next", "")})

		late := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 14, 0), Contact: visitor(t, "late@example.com", "Late", "")})
		clk.Set(at(t, 3, 14, 5))
		if _, err := s.CancelMeeting(ctx, late.ID, "lead"); !errors.Is(err, store.ErrMeetingStarted) {
			t.Errorf("cancelling a meeting under way: %v; want ErrMeetingStarted", err)
		}
		if _, err := s.CancelMeeting(ctx, 12345, "lead"); !errors.Is(err, store.ErrMeetingNotFound) {
			t.Errorf("cancelling no meeting: %v", err)
		}
	})
}

// TestMeetingOutcome records held and no-show, once, from the start.
func TestMeetingOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		m := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "ada@example.com", "Ada", "")})
		gone := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 14, 0), Contact: visitor(t, "gone@example.com", "Gone", "")})
		cancelled := book(t, s, store.BookParams{Owner: "bob", Start: at(t, 3, 10, 0), Contact: visitor(t, "c@example.com", "C", "")})
		if _, err := s.CancelMeeting(ctx, cancelled.ID, "api"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MeetingOutcome(ctx, m.ID, store.MeetingHeld, ""); !errors.Is(err, store.ErrMeetingNotStarted) {
			t.Errorf("outcome before the start: %v; want ErrMeetingNotStarted", err)
		}
		clk.Set(at(t, 3, 10, 0))
		var re *route.Error
		if _, err := s.MeetingOutcome(ctx, m.ID, "booked", ""); !errors.As(err, &re) || re.Field != "outcome" {
			t.Errorf("outcome booked: %v; want an error on outcome", err)
		}
		held, err := s.MeetingOutcome(ctx, m.ID, store.MeetingHeld, "Wants a quote.")
		if err != nil || held.Status != store.MeetingHeld || held.OutcomeNotes != "Wants a quote." || held.Sequence != 0 {
			t.Errorf("held = %+v, %v", held, err)
		}
		if again, err := s.MeetingOutcome(ctx, m.ID, store.MeetingHeld, "other notes"); err != nil || again != held {
			t.Errorf("held again = %+v, %v; want it unchanged", again, err)
		}
		if _, err := s.MeetingOutcome(ctx, m.ID, store.MeetingNoShow, ""); !errors.Is(err, store.ErrOutcomeLogged) {
			t.Errorf("no-show after held: %v; want ErrOutcomeLogged", err)
		}
		if _, err := s.MeetingOutcome(ctx, cancelled.ID, store.MeetingHeld, ""); !errors.Is(err, store.ErrMeetingNotBooked) {
			t.Errorf("outcome of a cancelled meeting: %v; want ErrMeetingNotBooked", err)
		}
		if evs := timelineProps(t, s, m.ContactID, event.MeetingHeld); len(evs) != 1 {
			t.Errorf("%d meeting_held events; want 1", len(evs))
		}
		clk.Set(at(t, 3, 15, 0))
		if _, err := s.MeetingOutcome(ctx, gone.ID, store.MeetingNoShow, ""); err != nil {
			t.Fatal(err)
		}
		if evs := timelineProps(t, s, gone.ContactID, event.MeetingNoShow); len(evs) != 1 ||
			string(evs[0].Properties) != fmt.Sprintf(`{"meeting_id":%d,"owner":"alice","start":"2026-03-03T13:00:00Z"}`, gone.ID) {
			t.Errorf("meeting_no_show events %+v", evs)
		}
	})
}

// TestMeetingsList filters by owner, contact, status and time, a page
// at a time.
func TestMeetingsList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		var ids []int64
		for i, st := range []time.Time{at(t, 4, 9, 0), at(t, 3, 9, 0), at(t, 3, 11, 0), at(t, 5, 9, 0)} {
			ids = append(ids, book(t, s, store.BookParams{Owner: "alice", Start: st, Contact: visitor(t, fmt.Sprintf("l%d@example.com", i), "L", "")}).ID)
		}
		b := book(t, s, store.BookParams{Team: "paris", Start: at(t, 3, 9, 0), Contact: visitor(t, "l0@example.com", "L", "")})
		if _, err := s.CancelMeeting(ctx, ids[3], "api"); err != nil {
			t.Fatal(err)
		}
		idsOf := func(ms []store.Meeting) []int64 {
			var out []int64
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			p    store.MeetingsParams
			want []int64
		}{
			{"all by start", store.MeetingsParams{}, []int64{ids[1], b.ID, ids[2], ids[0], ids[3]}},
			{"alice's", store.MeetingsParams{Owner: "alice"}, []int64{ids[1], ids[2], ids[0], ids[3]}},
			{"the team's", store.MeetingsParams{Team: "paris"}, []int64{b.ID}},
			{"a contact's", store.MeetingsParams{ContactID: b.ContactID}, []int64{b.ID, ids[0]}},
			{"booked", store.MeetingsParams{Status: store.MeetingBooked}, []int64{ids[1], b.ID, ids[2], ids[0]}},
			{"cancelled", store.MeetingsParams{Status: store.MeetingCancelled}, []int64{ids[3]}},
			{"Tuesday", store.MeetingsParams{From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)}, []int64{ids[1], b.ID, ids[2]}},
		} {
			got, next, err := s.Meetings(ctx, tc.p)
			if err != nil || next != "" || !slices.Equal(idsOf(got), tc.want) {
				t.Errorf("%s: %v, %q, %v; want %v", tc.name, idsOf(got), next, err, tc.want)
			}
		}
		var paged []int64
		p := store.MeetingsParams{Limit: 2}
		for range 5 {
			got, next, err := s.Meetings(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, idsOf(got)...)
			if next == "" {
				break
			}
			p.Cursor = next
		}
		if want := []int64{ids[1], b.ID, ids[2], ids[0], ids[3]}; !slices.Equal(paged, want) {
			t.Errorf("two at a time: %v; want %v", paged, want)
		}
		if _, _, err := s.Meetings(ctx, store.MeetingsParams{Cursor: "nope"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// TestMeetingWithoutTemplates: the meeting is booked whether or not its
// emails' templates are installed.
func TestMeetingWithoutTemplates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingPeople(t, s, clk)
		m := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Contact: visitor(t, "ada@example.com", "Ada", "")})
		if _, err := s.CancelMeeting(ctx, m.ID, "lead"); err != nil {
			t.Fatal(err)
		}
		if msgs := meetingMessages(t, s, m.ContactID); len(msgs) != 0 {
			t.Errorf("%d messages; want none without templates", len(msgs))
		}
	})
}

// TestTeamBookingSettings: a team's booking is stored, read back, and
// refused with the setting at fault.
func TestTeamBookingSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		tm, err := s.GetTeam(ctx, "paris")
		if err != nil || tm.Booking != nil {
			t.Errorf("team %+v, %v; want no booking settings", tm, err)
		}
		in := tm.Team
		in.Booking = &route.BookingSettings{Length: "45m", Buffer: "0", Notice: "1d", Horizon: "30d", Step: "15m"}
		if _, _, err := s.PutTeam(ctx, in); err != nil {
			t.Fatal(err)
		}
		tm, err = s.GetTeam(ctx, "paris")
		if err != nil || tm.Booking == nil || *tm.Booking != *in.Booking {
			t.Errorf("team booking = %+v, %v; want %+v", tm.Booking, err, in.Booking)
		}
		page, _, err := s.Slots(ctx, store.SlotsParams{Owner: "bob", From: at(t, 3, 0, 0), To: at(t, 4, 0, 0)})
		want := route.Booking{Length: 45 * time.Minute, Notice: 24 * time.Hour, Horizon: 30 * 24 * time.Hour, Step: 15 * time.Minute}
		if err != nil || page.Booking != want {
			t.Errorf("bob's page booking = %+v, %v; want the team's %+v", page.Booking, err, want)
		}
		for _, tc := range []struct {
			b     route.BookingSettings
			field string
		}{
			{route.BookingSettings{Length: "5m"}, "booking.length"},
			{route.BookingSettings{Length: "half an hour"}, "booking.length"},
			{route.BookingSettings{Buffer: "3h"}, "booking.buffer"},
			{route.BookingSettings{Notice: "-1h"}, "booking.notice"},
			{route.BookingSettings{Horizon: "365d"}, "booking.horizon"},
			{route.BookingSettings{Notice: "14d", Horizon: "7d"}, "booking.horizon"},
			{route.BookingSettings{Step: "7m"}, "booking.step"},
		} {
			bad := tm.Team
			bad.Booking = &tc.b
			var re *route.Error
			if _, _, err := s.PutTeam(ctx, bad); !errors.As(err, &re) || re.Field != tc.field {
				t.Errorf("PutTeam with booking %+v: %v; want an error on %s", tc.b, err, tc.field)
			}
		}
		if got, _ := s.GetTeam(ctx, "paris"); *got.Booking != *in.Booking {
			t.Errorf("a refused booking changed the team: %+v", got.Booking)
		}
	})
}

// TestEraseMeetingNotes: an erasure clears what was written about the
// contact's meetings and the invitations naming them.
func TestEraseMeetingNotes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		bookingRig(t, s, clk)
		m := book(t, s, store.BookParams{Owner: "alice", Start: at(t, 3, 10, 0), Notes: "secret-notes-42",
			Contact: visitor(t, "erase-me@example.com", "Erin", "")})
		if err := s.EraseContact(ctx, m.ContactID, "test"); err != nil {
			t.Fatal(err)
		}
		dump, err := storetest.Dump(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"secret-notes-42", "erase-me@example.com"} {
			if storetest.Contains(dump, v) {
				t.Errorf("%q is still stored after the erasure", v)
			}
		}
		if got, err := s.GetMeeting(ctx, m.ID); err != nil || got.Notes != "" {
			t.Errorf("meeting after erasure = %+v, %v", got, err)
		}
		// The meeting of an erased contact can still be moved and called off;
		// nobody is written to about it.
		if _, err := s.RescheduleMeeting(ctx, m.ID, at(t, 3, 14, 0), "api"); err != nil {
			t.Errorf("moving the meeting of an erased contact: %v", err)
		}
		if got, err := s.CancelMeeting(ctx, m.ID, "api"); err != nil || got.Status != store.MeetingCancelled {
			t.Errorf("cancelling the meeting of an erased contact = %+v, %v", got, err)
		}
		if msgs := meetingMessages(t, s, m.ContactID); len(msgs) != 2 {
			t.Errorf("%d meeting messages; want only the two of the booking", len(msgs))
		}
	})
}
