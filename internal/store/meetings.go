package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/ics"
	"github.com/nurturehq/nurture/internal/route"
)

// Meetings are booked with an owner on a booking page (the owner's, or a
// team's, which gives the meeting to the first free member) or through
// the API. Booking one is a single transaction: the page's owners are
// locked, the slot is checked free under the lock, the contact is found
// or created, the meeting is written with its meeting_booked event (which
// stops the SLA clock and reaches journeys' goals), and both sides are
// sent an invitation (RFC 5545). The unique index on (owner, start) of
// booked meetings is the last guard against a double booking.

// Meeting statuses.
const (
	MeetingBooked    = "booked"
	MeetingCancelled = "cancelled"
	MeetingHeld      = "held"
	MeetingNoShow    = "no_show"
)

// SourceBooking is the source of what a booking page writes: its meetings,
// their events, and the contacts it creates. A contact created by a
// booking is not routed nor sent a first touch (the meeting is the
// answer): the meeting's owner becomes its owner.
const SourceBooking = "booking"

// The emails of meetings (shipped in examples/templates). A template that
// is not installed is skipped: the meeting is booked, moved or cancelled
// all the same.
const (
	TemplateMeetingConfirmation = "meeting-confirmation" // to the lead, with the invitation
	TemplateMeetingBooked       = "meeting-booked"       // to the owner, with the invitation
	TemplateMeetingCancelled    = "meeting-cancelled"    // to both, with the cancellation
)

// Errors of meetings.
var (
	ErrMeetingNotFound = errors.New("meeting not found")
	// ErrSlotTaken means the time was free on the page a moment ago and
	// another booking took it (or a meeting within its buffer).
	ErrSlotTaken = errors.New("that time was just taken; pick another")
	// ErrSlotUnavailable means the time is not a slot the page offers at
	// all; a *SlotError says why.
	ErrSlotUnavailable   = errors.New("that time is not a bookable slot")
	ErrMeetingNotBooked  = errors.New("the meeting is not booked any more: it was cancelled or its outcome was logged")
	ErrMeetingStarted    = errors.New("the meeting has already started; log its outcome instead")
	ErrMeetingNotStarted = errors.New("the meeting has not started yet; its outcome can be logged from its start")
	ErrOutcomeLogged     = errors.New("another outcome was already logged for this meeting")
)

// SlotError says why a time is not a slot the page offers. It is
// ErrSlotUnavailable for errors.Is.
type SlotError struct{ Reason string }

func (e *SlotError) Error() string        { return ErrSlotUnavailable.Error() + ": " + e.Reason }
func (e *SlotError) Is(target error) bool { return target == ErrSlotUnavailable }

// Limits on meetings.
const (
	MaxMeetingNotes = 1000 // characters
	MaxSlots        = 1000 // slots one Slots call returns at most
	// maxBuffer is the longest buffer a booking may have (route.Booking):
	// meetings ending that long before a slot can still keep it busy.
	maxBuffer = 2 * time.Hour
)

// Meeting is a meeting as stored.
type Meeting struct {
	ID           int64     `json:"id"`
	UID          string    `json:"uid" doc:"the invitation's UID"`
	ContactID    int64     `json:"contact_id"`
	Owner        string    `json:"owner"`
	Team         string    `json:"team,omitempty" doc:"the team page it was booked on"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	TimeZone     string    `json:"time_zone" doc:"the lead's, in which their emails give the time"`
	Status       string    `json:"status" enum:"booked,cancelled,held,no_show"`
	Sequence     int       `json:"sequence" doc:"the invitation's SEQUENCE: one more at each reschedule and at the cancel"`
	Source       string    `json:"source" doc:"booking (a booking page) or api"`
	Notes        string    `json:"notes,omitempty" doc:"written when booking"`
	OutcomeNotes string    `json:"outcome_notes,omitempty" doc:"written with the outcome"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// BookingPage is an owner's or a team's booking page.
type BookingPage struct {
	Owner    string        `json:"owner,omitempty"`
	Team     string        `json:"team,omitempty"`
	Name     string        `json:"name"`      // shown on the page: the owner's display name, or the team's name
	TimeZone string        `json:"time_zone"` // the owner's, or the team's
	Booking  route.Booking `json:"-"`
}

// Slot is a time a meeting can be booked.
type Slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Owners are the owners free then, in the team's member order.
	Owners []string `json:"owners"`
}

// SlotsParams asks for the slots of a page in [From, To).
type SlotsParams struct {
	Owner, Team string // the page: exactly one
	// Meeting, instead of a page, asks for the times a booked meeting can
	// move to: its owner's, by the page it was booked on, itself aside.
	Meeting  int64
	From, To time.Time
	Max      int // 0 or more than MaxSlots: MaxSlots
}

// Slots lists the free slots of a page, in order. An unknown or disabled
// owner is ErrOwnerNotFound, an unknown team ErrTeamNotFound.
func (s *Store) Slots(ctx context.Context, p SlotsParams) (BookingPage, []Slot, error) {
	cat, err := s.currentRouting(ctx)
	if err != nil {
		return BookingPage{}, nil, err
	}
	var page *bookingPage
	var skip int64
	if p.Meeting != 0 {
		m, err := s.GetMeeting(ctx, p.Meeting)
		if err != nil {
			return BookingPage{}, nil, err
		}
		page, skip = cat.meetingPage(m), m.ID
	} else if page, err = cat.bookingPage(p.Owner, p.Team); err != nil {
		return BookingPage{}, nil, err
	}
	if p.Max <= 0 || p.Max > MaxSlots {
		p.Max = MaxSlots
	}
	now := s.now()
	b := page.Booking
	busy, err := s.busy(ctx, s.r, page.names(), p.From.Add(-b.Buffer), p.To.Add(b.Length+b.Buffer), skip)
	if err != nil {
		return BookingPage{}, nil, err
	}
	return page.BookingPage, page.slots(busy, now, p.From, p.To, p.Max), nil
}

// GetBookingPage reads a page: an unknown or disabled owner is
// ErrOwnerNotFound, an unknown team ErrTeamNotFound.
func (s *Store) GetBookingPage(ctx context.Context, owner, team string) (BookingPage, error) {
	cat, err := s.currentRouting(ctx)
	if err != nil {
		return BookingPage{}, err
	}
	page, err := cat.bookingPage(owner, team)
	if err != nil {
		return BookingPage{}, err
	}
	return page.BookingPage, nil
}

// currentRouting is the routing catalog in force, read outside a
// transaction.
func (s *Store) currentRouting(ctx context.Context) (*routingCatalog, error) {
	var gen sql.NullString
	if err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = '"+routingGenKey+"'").Scan(&gen); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return nil, s.dbErr("read routing", err)
	}
	return s.catalogAt(ctx, parseGen(gen))
}

// bookingPage is a page with the owners who can take its meetings.
type bookingPage struct {
	BookingPage
	members []pageMember // in the team's order
}

type pageMember struct {
	o   *ownerInfo
	cal route.Calendar
}

func (p *bookingPage) names() []string {
	out := make([]string, len(p.members))
	for i, m := range p.members {
		out[i] = m.o.Name
	}
	return out
}

// bookingPage resolves a page. A team's page offers its members who are
// not disabled, each in their calendar in the team; an owner's page uses
// the booking settings and calendar of the first team (by name) that
// lists the owner, or the owner's own hours and DefaultBooking.
func (cat *routingCatalog) bookingPage(owner, team string) (*bookingPage, error) {
	if team != "" {
		tm := cat.teams[team]
		if tm == nil {
			return nil, ErrTeamNotFound
		}
		p := &bookingPage{BookingPage: BookingPage{Team: tm.Name, Name: tm.Name, TimeZone: tm.TimeZone, Booking: tm.booking}}
		for _, name := range tm.Members {
			if o := cat.owners[name]; o != nil && !o.Disabled {
				p.members = append(p.members, pageMember{o: o, cal: memberCalendar(tm, o)})
			}
		}
		return p, nil
	}
	o := cat.owners[owner]
	if o == nil || o.Disabled {
		return nil, ErrOwnerNotFound
	}
	return cat.ownerPage(o), nil
}

// ownerPage is an owner's own page, disabled or not.
func (cat *routingCatalog) ownerPage(o *ownerInfo) *bookingPage {
	tm := cat.firstTeam(o.Name)
	p := &bookingPage{BookingPage: BookingPage{Owner: o.Name, Name: ownerName(o), TimeZone: o.TimeZone, Booking: route.DefaultBooking}}
	if tm != nil {
		p.Booking = tm.booking
	}
	p.members = []pageMember{{o: o, cal: memberCalendar(tm, o)}}
	return p
}

// meetingPage is where a meeting can move: its owner's calendar and
// booking settings on the page it was booked on (the team's, while the
// owner is still a member; the owner's own otherwise).
func (cat *routingCatalog) meetingPage(m Meeting) *bookingPage {
	o := cat.owners[m.Owner]
	if o == nil { // cannot happen: owners are never deleted
		o = &ownerInfo{Owner: Owner{Owner: route.Owner{Name: m.Owner}}, loc: time.UTC}
	}
	p := cat.ownerPage(o)
	if tm := cat.teams[m.Team]; tm != nil && slices.Contains(tm.Members, m.Owner) {
		p.Team, p.Booking = tm.Name, tm.booking
		p.members[0].cal = memberCalendar(tm, o)
	}
	return p
}

// firstTeam is the first team, by name, that lists owner; nil if none.
func (cat *routingCatalog) firstTeam(owner string) *teamInfo {
	var first *teamInfo
	for _, tm := range cat.teams {
		if slices.Contains(tm.Members, owner) && (first == nil || tm.Name < first.Name) {
			first = tm
		}
	}
	return first
}

// memberCalendar is when o can meet: their hours in their zone when they
// have hours, the team's otherwise, closed on the team's holidays and
// during their absences. An owner with no hours and no team never opens.
func memberCalendar(tm *teamInfo, o *ownerInfo) route.Calendar {
	var cal route.Calendar
	switch {
	case tm != nil:
		cal = tm.calendar(o)
	case o.ownHours:
		cal = route.Calendar{Loc: o.loc, Hours: o.hours}
	default:
		cal = route.Calendar{Loc: o.loc}
	}
	cal.Absences = o.absences
	return cal
}

func ownerName(o *ownerInfo) string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	return o.Name
}

// slots are the page's free slots in [from, to): on a team's page, the
// union of its members' with who is free at each.
func (p *bookingPage) slots(busy map[string][]route.Span, now, from, to time.Time, max int) []Slot {
	var out []Slot
	at := map[int64]int{} // start → index in out
	for _, m := range p.members {
		for _, st := range p.Booking.Slots(m.cal, busy[m.o.Name], now, from, to, max) {
			k := st.UnixMilli()
			i, ok := at[k]
			if !ok {
				i = len(out)
				at[k] = i
				out = append(out, Slot{Start: st.UTC(), End: st.Add(p.Booking.Length).UTC()})
			}
			out[i].Owners = append(out[i].Owners, m.o.Name)
		}
	}
	slices.SortFunc(out, func(a, b Slot) int { return a.Start.Compare(b.Start) })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// offered says why start is no slot of the page whoever's meetings are
// in the way, or "" when some member has it in their calendar.
func (p *bookingPage) offered(start, now time.Time) string {
	b := p.Booking
	switch {
	case start.Before(now):
		return "it is in the past"
	case start.Before(now.Add(b.Notice)):
		return fmt.Sprintf("it is less than %s from now; bookings need that much notice", spell(b.Notice))
	case !start.Before(now.Add(b.Horizon)):
		return fmt.Sprintf("it is more than %s ahead; bookings open that far ahead at most", spell(b.Horizon))
	}
	for _, m := range p.members {
		if b.Free(m.cal, nil, now, start) {
			return ""
		}
	}
	step := b.Step
	if step == 0 {
		step = b.Length
	}
	return fmt.Sprintf("it is not one of the times offered: outside working hours, on a closed day, or off the grid of a slot every %s",
		spell(step))
}

// spell writes a duration in words: "2 hours", "30 minutes", "14 days".
func spell(d time.Duration) string {
	n, unit := int64(d/time.Minute), "minute"
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// busy reads the booked meetings of owners that touch [from, to), but
// skip, by owner.
func (s *Store) busy(ctx context.Context, db rowQuerier, owners []string, from, to time.Time, skip int64) (map[string][]route.Span, error) {
	out := map[string][]route.Span{}
	if len(owners) == 0 {
		return out, nil
	}
	args := []any{MeetingBooked, ms(from), ms(to), skip}
	for _, o := range owners {
		args = append(args, o)
	}
	q := s.prepare(db, `SELECT owner, start_at, end_at FROM meetings WHERE status = ? AND end_at > ? AND start_at < ? AND id <> ?
		AND owner IN (?`+strings.Repeat(", ?", len(owners)-1)+`)`)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr("read meetings", err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var a, b int64
		if err := rows.Scan(&owner, &a, &b); err != nil {
			return nil, s.dbErr("read meetings", err)
		}
		out[owner] = append(out[owner], route.Span{From: fromMS(a), To: fromMS(b)})
	}
	return out, s.dbErr("read meetings", rows.Err())
}

// BookParams is one booking.
type BookParams struct {
	Owner, Team string // the page: exactly one
	Start       time.Time
	// TimeZone is the lead's IANA zone, in which their emails give the
	// time; empty: the contact's, else the page's.
	TimeZone string
	// ContactID names an existing contact (the API); otherwise Contact,
	// normalised, with an email, is the visitor of a booking page: the
	// contact with that email, created when there is none.
	ContactID int64
	Contact   contact.Input
	Notes     string
	Source    string // SourceBooking or "api"
}

// BookMeeting books a meeting at p.Start, on an owner's page or a team's
// (the free member with the fewest upcoming meetings, then the first in
// the team's order). A time the page does not offer is a *SlotError
// (ErrSlotUnavailable); a time another meeting took, ErrSlotTaken.
//
// A visitor's email finds the contact or creates one (source "booking",
// owned by the meeting's owner, not routed: the meeting is the first
// contact). A known contact gets only the fields it lacks: a public page
// must not let anyone rewrite a contact by typing its email.
func (s *Store) BookMeeting(ctx context.Context, p BookParams) (Meeting, error) {
	if err := checkBooking(&p); err != nil {
		return Meeting{}, err
	}
	key := "e:" + p.Contact.Email
	if p.ContactID != 0 {
		key = idKey(p.ContactID)
	}
	var out Meeting
	err := s.writer.doKeyed(key, func(t *tx) error {
		var err error
		out, err = t.bookMeeting(p)
		return err
	})
	return out, err
}

// checkBooking validates what BookMeeting is given; errors are *route.Error.
func checkBooking(p *BookParams) error {
	switch {
	case (p.Owner == "") == (p.Team == ""):
		return &route.Error{Field: "owner", Reason: "give an owner or a team, not both"}
	case p.ContactID < 0 || p.ContactID == 0 && p.Contact.Email == "":
		return &route.Error{Field: "email", Reason: "missing; the email the invitation goes to"}
	case p.ContactID != 0 && p.Contact.Email != "":
		return &route.Error{Field: "contact_id", Reason: "give a contact or an email, not both"}
	case p.Start.IsZero():
		return &route.Error{Field: "start", Reason: "missing; the slot's start, an RFC 3339 time"}
	}
	if p.TimeZone != "" {
		if _, err := route.Zone(p.TimeZone); err != nil {
			return err
		}
	}
	if p.ContactID == 0 {
		// The caller normalised it (with its default region for phones);
		// again is a no-op that keeps the store safe from a caller that did not.
		in, err := contact.Normalize(p.Contact, "")
		if err != nil {
			return err
		}
		p.Contact = in
	}
	notes, err := CleanNotes("notes", p.Notes)
	if err != nil {
		return err
	}
	p.Notes = notes
	if p.Source == "" {
		p.Source = "api"
	}
	p.Start = fromMS(ms(p.Start))
	return nil
}

// CleanNotes checks free text written about a meeting: at most
// MaxMeetingNotes characters of UTF-8, line breaks and tabs allowed, no
// other control characters nor bidirectional overrides. Line breaks
// become "\n". Errors are *route.Error on field.
func CleanNotes(field, s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch {
	case !utf8.ValidString(s):
		return "", &route.Error{Field: field, Reason: "is not valid UTF-8"}
	case utf8.RuneCountInString(s) > MaxMeetingNotes:
		return "", &route.Error{Field: field, Reason: fmt.Sprintf("is longer than %d characters", MaxMeetingNotes)}
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
			return "", &route.Error{Field: field, Reason: "contains a control character"}
		}
	}
	return s, nil
}

func (t *tx) bookMeeting(p BookParams) (Meeting, error) {
	now := t.s.now()
	cat, err := t.routing()
	if err != nil {
		return Meeting{}, err
	}
	page, err := cat.bookingPage(p.Owner, p.Team)
	if err != nil {
		return Meeting{}, err
	}
	if err := t.lockOwners(page.names()); err != nil {
		return Meeting{}, err
	}
	if why := page.offered(p.Start, now); why != "" {
		return Meeting{}, &SlotError{Reason: why}
	}
	member, err := t.pickMember(page, p.Start, 0, now)
	if err != nil {
		return Meeting{}, err
	}
	var c contact.Contact
	if p.ContactID != 0 {
		c, err = t.lockContact(p.ContactID)
	} else {
		c, err = t.bookingContact(p.Contact, p.TimeZone)
	}
	if err != nil {
		return Meeting{}, err
	}
	tz := p.TimeZone
	if tz == "" {
		tz = c.TimeZone
	}
	if tz == "" {
		tz = page.TimeZone
	}
	m := Meeting{UID: newMeetingUID(), ContactID: c.ID, Owner: member.o.Name, Team: page.Team, Start: p.Start,
		End: p.Start.Add(page.Booking.Length), TimeZone: tz, Status: MeetingBooked, Source: p.Source, Notes: p.Notes,
		CreatedAt: now, UpdatedAt: now}
	err = t.queryRow(`INSERT INTO meetings (uid, contact_id, owner, team, start_at, end_at, time_zone, status, sequence, source,
		notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) RETURNING id`,
		m.UID, m.ContactID, m.Owner, null(m.Team), ms(m.Start), ms(m.End), m.TimeZone, m.Status, m.Source, null(m.Notes),
		ms(now), ms(now)).Scan(&m.ID)
	if lostRace(err) {
		return Meeting{}, ErrSlotTaken // the unique index: checked above under the lock, so it should never fire
	} else if err != nil {
		return Meeting{}, err
	}
	if c.Owner == "" {
		// The meeting's owner is the lead's: they are the one talking to it.
		if _, err := t.exec("UPDATE contacts SET owner = ?, updated_at = ? WHERE id = ?", m.Owner, ms(now), c.ID); err != nil {
			return Meeting{}, err
		}
		props := map[string]any{"owner": m.Owner, "rule": "booking", "meeting_id": m.ID}
		if m.Team != "" {
			props["team"] = m.Team
		}
		c.Owner, c.UpdatedAt = m.Owner, now
		if err := t.appendSystemEvent(c.ID, event.OwnerAssigned, p.Source, now, props); err != nil {
			return Meeting{}, err
		}
	}
	props := map[string]any{"meeting_id": m.ID, "owner": m.Owner, "start": m.Start}
	if m.Team != "" {
		props["team"] = m.Team
	}
	if err := t.appendSystemEvent(c.ID, event.MeetingBooked, p.Source, now, props); err != nil {
		return Meeting{}, err
	}
	return m, t.sendInvitations(cat, m, &c, "booked", time.Time{}, now)
}

// lockOwners locks the owners' rows, in name order, so that two bookings
// of one owner run one after the other on PostgreSQL (SQLite has one
// writer), and two bookings of overlapping teams cannot deadlock.
func (t *tx) lockOwners(names []string) error {
	if len(names) == 0 || t.s.d.forUpdate == "" {
		return nil
	}
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	rows, err := t.query("SELECT name FROM owners WHERE name IN (?"+strings.Repeat(", ?", len(names)-1)+") ORDER BY name"+
		t.s.d.forUpdate, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

// pickMember is the member of the page who takes a meeting at start: the
// one free with the fewest upcoming meetings, then the first in order.
// It runs under the owners' locks. skip is a meeting to leave aside (the
// one being moved). A time no member has free is ErrSlotTaken.
func (t *tx) pickMember(page *bookingPage, start time.Time, skip int64, now time.Time) (pageMember, error) {
	b := page.Booking
	var cands []pageMember
	for _, m := range page.members {
		if b.Free(m.cal, nil, now, start) {
			cands = append(cands, m)
		}
	}
	if len(cands) > 1 {
		upcoming, err := t.upcoming(cands, now)
		if err != nil {
			return pageMember{}, err
		}
		slices.SortStableFunc(cands, func(a, b pageMember) int { return upcoming[a.o.Name] - upcoming[b.o.Name] })
	}
	names := make([]string, len(cands))
	for i, m := range cands {
		names[i] = m.o.Name
	}
	busy, err := t.s.busy(t.ctx, txRows{t}, names, start.Add(-b.Buffer), start.Add(b.Length+b.Buffer), skip)
	if err != nil {
		return pageMember{}, err
	}
	for _, m := range cands {
		if b.Free(m.cal, busy[m.o.Name], now, start) {
			return m, nil
		}
	}
	return pageMember{}, ErrSlotTaken
}

// upcoming counts the members' booked meetings from now on.
func (t *tx) upcoming(members []pageMember, now time.Time) (map[string]int, error) {
	args := []any{MeetingBooked, ms(now)}
	for _, m := range members {
		args = append(args, m.o.Name)
	}
	return t.ownerCounts(`SELECT owner, COUNT(*) FROM meetings WHERE status = ? AND start_at >= ?
		AND owner IN (?`+strings.Repeat(", ?", len(members)-1)+`) GROUP BY owner`, args...)
}

// bookingContact finds the visitor's contact by email, or creates it. A
// known contact only gets the fields it lacks, and a phone that is
// another contact's is left out: the answer must not depend on who is
// known.
func (t *tx) bookingContact(in contact.Input, tz string) (contact.Contact, error) {
	id, err := t.findContactID("email", in.Email)
	if err != nil {
		return contact.Contact{}, err
	}
	if in.Phone != "" {
		other, err := t.findContactID("phone", in.Phone)
		if err != nil {
			return contact.Contact{}, err
		}
		if other != 0 && other != id {
			in.Phone = ""
		}
	}
	if id == 0 {
		in.Source, in.Owner = SourceBooking, ""
		if in.TimeZone == "" {
			in.TimeZone = tz
		}
		res, err := t.writeContact(WriteContactParams{Input: in, Mode: Create, Source: SourceBooking})
		return res.Contact, err
	}
	old, err := t.lockContact(id)
	if err != nil {
		return old, err
	}
	fill := contact.Input{Email: in.Email}
	if old.FirstName == "" && old.LastName == "" {
		fill.FirstName, fill.LastName = in.FirstName, in.LastName
	}
	if old.Company == "" {
		fill.Company = in.Company
	}
	if old.Phone == "" {
		fill.Phone = in.Phone
	}
	if old.TimeZone == "" {
		fill.TimeZone = tz
	}
	if fill.FirstName == "" && fill.LastName == "" && fill.Company == "" && fill.Phone == "" && fill.TimeZone == "" {
		return old, nil
	}
	res, err := t.writeContact(WriteContactParams{Input: fill, Mode: Upsert, Source: SourceBooking})
	return res.Contact, err
}

func newMeetingUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b) + "@nurture"
}

// RescheduleMeeting moves a booked meeting of its owner to another free
// slot of the page it was booked on. The invitation is sent again with a
// higher sequence, which calendars read as the same meeting moved.
// Moving it to its own start changes nothing.
func (s *Store) RescheduleMeeting(ctx context.Context, id int64, start time.Time, by string) (Meeting, error) {
	if start.IsZero() {
		return Meeting{}, &route.Error{Field: "start", Reason: "missing; the new start, an RFC 3339 time"}
	}
	start = fromMS(ms(start))
	return s.changeMeeting(ctx, id, func(t *tx, cat *routingCatalog, m *Meeting, c *contact.Contact, now time.Time) error {
		switch {
		case m.Status != MeetingBooked:
			return ErrMeetingNotBooked
		case !now.Before(m.Start):
			return ErrMeetingStarted
		case start.Equal(m.Start):
			return nil
		}
		page := cat.meetingPage(*m)
		if why := page.offered(start, now); why != "" {
			return &SlotError{Reason: why}
		}
		if _, err := t.pickMember(page, start, m.ID, now); err != nil {
			return err
		}
		from := m.Start
		m.Start, m.End = start, start.Add(page.Booking.Length)
		m.Sequence++
		m.UpdatedAt = now
		_, err := t.exec("UPDATE meetings SET start_at = ?, end_at = ?, sequence = ?, updated_at = ? WHERE id = ?",
			ms(m.Start), ms(m.End), m.Sequence, ms(now), m.ID)
		if lostRace(err) {
			return ErrSlotTaken
		} else if err != nil {
			return err
		}
		props := map[string]any{"meeting_id": m.ID, "owner": m.Owner, "start": m.Start, "from": from}
		if by != "" {
			props["by"] = by
		}
		if err := t.appendSystemEvent(m.ContactID, event.MeetingRescheduled, meetingSource(by), now, props); err != nil {
			return err
		}
		return t.sendInvitations(cat, *m, c, "rescheduled", from, now)
	})
}

// CancelMeeting calls a booked meeting off: both sides are sent the
// cancellation (METHOD:CANCEL, a higher sequence). Cancelling it again
// changes nothing.
func (s *Store) CancelMeeting(ctx context.Context, id int64, by string) (Meeting, error) {
	return s.changeMeeting(ctx, id, func(t *tx, cat *routingCatalog, m *Meeting, c *contact.Contact, now time.Time) error {
		switch {
		case m.Status == MeetingCancelled:
			return nil
		case m.Status != MeetingBooked:
			return ErrMeetingNotBooked
		case !now.Before(m.Start):
			return ErrMeetingStarted
		}
		m.Status, m.UpdatedAt = MeetingCancelled, now
		m.Sequence++
		if _, err := t.exec("UPDATE meetings SET status = ?, sequence = ?, updated_at = ? WHERE id = ?",
			m.Status, m.Sequence, ms(now), m.ID); err != nil {
			return err
		}
		props := map[string]any{"meeting_id": m.ID, "owner": m.Owner, "start": m.Start}
		if by != "" {
			props["by"] = by
		}
		if err := t.appendSystemEvent(m.ContactID, event.MeetingCancelled, meetingSource(by), now, props); err != nil {
			return err
		}
		return t.sendInvitations(cat, *m, c, "cancelled", time.Time{}, now)
	})
}

// MeetingOutcome records whether a meeting took place: held or no_show,
// as the meeting's status and a meeting_held or meeting_no_show event.
// It is refused before the meeting starts and for a cancelled meeting;
// the same outcome again changes nothing, another is ErrOutcomeLogged.
func (s *Store) MeetingOutcome(ctx context.Context, id int64, outcome, notes string) (Meeting, error) {
	typ := map[string]string{MeetingHeld: event.MeetingHeld, MeetingNoShow: event.MeetingNoShow}[outcome]
	if typ == "" {
		return Meeting{}, &route.Error{Field: "outcome", Reason: "held or no_show"}
	}
	notes, err := CleanNotes("notes", notes)
	if err != nil {
		return Meeting{}, err
	}
	return s.changeMeeting(ctx, id, func(t *tx, _ *routingCatalog, m *Meeting, _ *contact.Contact, now time.Time) error {
		switch {
		case m.Status == outcome:
			return nil
		case m.Status == MeetingCancelled:
			return ErrMeetingNotBooked
		case m.Status != MeetingBooked:
			return ErrOutcomeLogged
		case now.Before(m.Start):
			return ErrMeetingNotStarted
		}
		m.Status, m.OutcomeNotes, m.UpdatedAt = outcome, notes, now
		if _, err := t.exec("UPDATE meetings SET status = ?, outcome_notes = ?, updated_at = ? WHERE id = ?",
			m.Status, null(notes), ms(now), m.ID); err != nil {
			return err
		}
		return t.appendSystemEvent(m.ContactID, typ, "api", now,
			map[string]any{"meeting_id": m.ID, "owner": m.Owner, "start": m.Start})
	})
}

// meetingSource is the source of an event a change of a meeting writes:
// the lead's manage link, or the API.
func meetingSource(by string) string {
	if by == "lead" {
		return SourceBooking
	}
	return "api"
}

// changeMeeting runs change on a meeting in one transaction, under its
// owner's lock (taken first, as a booking takes it) and its own. c is its
// contact, nil when erased. The meeting as change leaves it is returned.
func (s *Store) changeMeeting(ctx context.Context, id int64,
	change func(t *tx, cat *routingCatalog, m *Meeting, c *contact.Contact, now time.Time) error) (Meeting, error) {
	// A meeting's contact and owner never change: read them first, to
	// key the write by the contact and lock the owner before the meeting.
	var contactID int64
	var owner string
	err := s.r.QueryRowContext(ctx, s.q("SELECT contact_id, owner FROM meetings WHERE id = ?"), id).Scan(&contactID, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return Meeting{}, ErrMeetingNotFound
	} else if err != nil {
		return Meeting{}, s.dbErr("read meeting", err)
	}
	var out Meeting
	err = s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		now := t.s.now()
		cat, err := t.routing()
		if err != nil {
			return err
		}
		if err := t.lockOwners([]string{owner}); err != nil {
			return err
		}
		m, err := scanMeeting(t.queryRow("SELECT "+meetingColumns+" FROM meetings WHERE id = ?"+t.s.d.forUpdate, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrMeetingNotFound
		} else if err != nil {
			return err
		}
		var c *contact.Contact
		live, err := t.lockContact(m.ContactID)
		if err == nil {
			c = &live
		} else if !errors.Is(err, contact.ErrNotFound) {
			return err
		}
		if err := change(t, cat, &m, c, now); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// sendInvitations queues the emails of a change ("booked",
// "rescheduled" or "cancelled"), each with its invitation: to the lead,
// transactional (they asked for it), and to the owner, internal. An
// erased contact (c nil) gets nothing, nor does the owner about them.
func (t *tx) sendInvitations(cat *routingCatalog, m Meeting, c *contact.Contact, change string, from, now time.Time) error {
	o := cat.owners[m.Owner]
	if o == nil || c == nil {
		return nil // an owner cannot be missing: owners are never deleted
	}
	method := ics.MethodRequest
	if change == "cancelled" {
		method = ics.MethodCancel
	}
	lead := strings.TrimSpace(c.FirstName + " " + c.LastName)
	organizer := ics.Person{Name: ownerName(o), Email: o.Email}
	attendees := []ics.Person{{Name: ownerName(o), Email: o.Email}}
	if c.Email != "" {
		attendees = append([]ics.Person{{Name: lead, Email: c.Email}}, attendees...)
	}
	type send struct {
		role, template, kind, recipient string
		loc                             *time.Location
		summary, description            string
	}
	leadLoc, err := route.Zone(m.TimeZone)
	if err != nil {
		leadLoc = o.loc
	}
	about := leadName(c)
	if c.Email != "" && about != c.Email {
		about += " <" + c.Email + ">"
	}
	desc := "With " + about
	if c.Phone != "" {
		desc += ", " + c.Phone
	}
	if c.Company != "" {
		desc += ", " + c.Company
	}
	if m.Notes != "" {
		desc += "\n\nNotes: " + m.Notes
	}
	sends := []send{{role: "owner", template: TemplateMeetingBooked, kind: KindInternal, recipient: o.Email, loc: o.loc,
		summary: "Meeting with " + leadName(c), description: desc}}
	if c.Email != "" {
		sends = append([]send{{role: "lead", template: TemplateMeetingConfirmation, kind: KindTransactional, loc: leadLoc,
			summary: "Meeting with " + ownerName(o)}}, sends...)
	}
	for _, x := range sends {
		template := x.template
		if change == "cancelled" {
			template = TemplateMeetingCancelled
		}
		if _, err := t.template(template); errors.Is(err, ErrTemplateNotFound) {
			continue // not installed: the meeting stands, the other side still hears
		} else if err != nil {
			return err
		}
		cal, err := ics.Bytes(method, ics.Event{UID: m.UID, Sequence: m.Sequence, Start: m.Start, End: m.End, Stamp: now,
			Summary: x.summary, Description: x.description, Organizer: organizer, Attendees: attendees})
		if err != nil {
			cal = nil // an address ics refuses: the email goes without its invitation
		}
		data := map[string]string{"meeting_id": strconv.FormatInt(m.ID, 10), "owner_name": ownerName(o), "owner_email": o.Email,
			"meeting_start": meetingTime(m.Start, x.loc), "meeting_end": m.End.In(x.loc).Format("15:04"),
			"meeting_time_zone": x.loc.String(), "meeting_length": spell(m.End.Sub(m.Start)), "recipient_role": x.role,
			"meeting_notes": m.Notes}
		// The page to book another time: the dispatcher makes it
		// {{ booking_url }} on this server.
		data["booking_path"] = "/book/" + m.Owner
		if m.Team != "" {
			data["team"], data["booking_path"] = m.Team, "/book/team/"+m.Team
		}
		if change == "rescheduled" {
			data["meeting_rescheduled"], data["meeting_previous_start"] = "true", meetingTime(from, x.loc)
		}
		if _, err := t.queueMessage(MessageInput{ContactID: m.ContactID, Template: template, Kind: x.kind, Source: "meeting",
			Recipient: x.recipient, Data: data, Calendar: cal,
			IdempotencyKey: fmt.Sprintf("meeting:%s:%d:%s", m.UID, m.Sequence, x.role)}, now); err != nil {
			return err
		}
	}
	return nil
}

// meetingTime is how emails and pages write a meeting's start:
// "Monday 30 November 2026 at 10:00 (Europe/Paris)".
func meetingTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Monday 2 January 2006 at 15:04") + " (" + loc.String() + ")"
}

const meetingColumns = `id, uid, contact_id, owner, team, start_at, end_at, time_zone, status, sequence, source, notes,
	outcome_notes, created_at, updated_at`

func scanMeeting(row scanner) (Meeting, error) {
	var m Meeting
	var team, notes, outcome sql.NullString
	var start, end, created, updated int64
	err := row.Scan(&m.ID, &m.UID, &m.ContactID, &m.Owner, &team, &start, &end, &m.TimeZone, &m.Status, &m.Sequence,
		&m.Source, &notes, &outcome, &created, &updated)
	m.Team, m.Notes, m.OutcomeNotes = team.String, notes.String, outcome.String
	m.Start, m.End, m.CreatedAt, m.UpdatedAt = fromMS(start), fromMS(end), fromMS(created), fromMS(updated)
	return m, err
}

// GetMeeting reads one meeting.
func (s *Store) GetMeeting(ctx context.Context, id int64) (Meeting, error) {
	m, err := scanMeeting(s.r.QueryRowContext(ctx, s.q("SELECT "+meetingColumns+" FROM meetings WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, ErrMeetingNotFound
	}
	return m, s.dbErr("read meeting", err)
}

// MeetingsParams filters the list of meetings.
type MeetingsParams struct {
	Owner     string
	Team      string
	ContactID int64
	Status    string
	From, To  time.Time // starting in [From, To); zero: unbounded
	Cursor    string    // the next cursor of the previous page
	Limit     int       // 1..500; 0: 100
}

// ErrBadCursor means a list's cursor is not one it gave.
var ErrBadCursor = errors.New("not a cursor this list gave; start again without it")

// Meetings lists meetings by start, then id, with the cursor of the next
// page ("" at the end).
func (s *Store) Meetings(ctx context.Context, p MeetingsParams) ([]Meeting, string, error) {
	q := "SELECT " + meetingColumns + " FROM meetings WHERE 1 = 1"
	var args []any
	add := func(cond string, v any) {
		q += " AND " + cond
		args = append(args, v)
	}
	if p.Owner != "" {
		add("owner = ?", p.Owner)
	}
	if p.Team != "" {
		add("team = ?", p.Team)
	}
	if p.ContactID != 0 {
		add("contact_id = ?", p.ContactID)
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if !p.From.IsZero() {
		add("start_at >= ?", ms(p.From))
	}
	if !p.To.IsZero() {
		add("start_at < ?", ms(p.To))
	}
	if p.Cursor != "" {
		at, id, ok := parseMeetingCursor(p.Cursor)
		if !ok {
			return nil, "", ErrBadCursor
		}
		q += " AND (start_at > ? OR start_at = ? AND id > ?)"
		args = append(args, at, at, id)
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	p.Limit = min(p.Limit, 500)
	q += " ORDER BY start_at, id LIMIT " + strconv.Itoa(p.Limit+1)
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, "", s.dbErr("list meetings", err)
	}
	defer rows.Close()
	out := []Meeting{}
	for rows.Next() {
		m, err := scanMeeting(rows)
		if err != nil {
			return nil, "", s.dbErr("list meetings", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.dbErr("list meetings", err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		next = strconv.FormatInt(ms(last.Start), 10) + "." + strconv.FormatInt(last.ID, 10)
	}
	return out, next, nil
}

func parseMeetingCursor(s string) (at, id int64, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	return at, id, err1 == nil && err2 == nil && id > 0
}
