package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// The booking pages are public: anyone with the link books a meeting
// with an owner (/book/{owner}) or a team (/book/team/{team}, the first
// free member), and manages it through the signed link of its emails
// (/m/{token}). Each page answers HTML to a browser and JSON to a client
// asking for it (Accept: application/json, or ?format=json). ServeMux
// would refuse /book/{owner}/slots beside /book/team/{team} (neither is
// more specific), hence one path per page and the format switch.
//
// Every input is bounded and checked before the store sees it; an answer
// never depends on whether the email belongs to a known contact.

// Limits on the booking pages' input.
const (
	bookingDays     = 7  // a page shows a week of slots
	maxZoneLen      = 64 // an IANA name
	maxStartLen     = 40 // an RFC 3339 time
	maxPublicName   = contact.MaxTextLen
	maxPublicEmail  = 254
	maxPublicPhone  = 32
	maxBookingSlots = 500 // slots on a page at most; more cut its week short (weekSlots)
)

func (s *Server) registerBooking() {
	if s.cfg.Signer == nil {
		return
	}
	s.mux.HandleFunc("GET /book/{owner}", s.bookingPage)
	s.mux.HandleFunc("POST /book/{owner}", s.book)
	s.mux.HandleFunc("GET /book/team/{team}", s.bookingPage)
	s.mux.HandleFunc("POST /book/team/{team}", s.book)
	s.mux.HandleFunc("GET /m/{token}", s.meetingPage)
	s.mux.HandleFunc("POST /m/{token}", s.manageMeeting)
}

// pageRef is the owner or team a booking path names; false when the name
// cannot be one.
func pageRef(r *http.Request) (owner, team string, ok bool) {
	if team = r.PathValue("team"); team != "" {
		return "", team, route.IsName(team)
	}
	owner = r.PathValue("owner")
	return owner, "", route.IsName(owner)
}

// wantsJSON says whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	if r.URL.Query().Get("format") == "json" {
		return true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return true
	}
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// badInput is a refused input: the field (as the client wrote it) and why.
type badInput struct {
	status        int
	field, reason string
}

func (e *badInput) Error() string { return e.field + ": " + e.reason }

func refuse(field, reason string) *badInput {
	return &badInput{status: http.StatusUnprocessableEntity, field: field, reason: reason}
}

// visitorZone reads a time zone a visitor sent; "" is none.
func visitorZone(field, name string) (*time.Location, *badInput) {
	if name == "" {
		return nil, nil
	}
	if len(name) > maxZoneLen {
		return nil, refuse(field, "too long for a time zone")
	}
	loc, err := route.Zone(name)
	if err != nil {
		return nil, refuse(field, "not an IANA time zone such as Europe/Paris or America/New_York")
	}
	return loc, nil
}

// parseStart reads a slot's start: an RFC 3339 time.
func parseStart(field, v string) (time.Time, *badInput) {
	switch {
	case v == "":
		return time.Time{}, refuse(field, "missing; the start of a slot, as the page gives it")
	case len(v) > maxStartLen:
		return time.Time{}, refuse(field, "too long for a time")
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, refuse(field, "not a time; want RFC 3339, such as 2026-03-03T10:00:00+01:00")
	}
	return t, nil
}

// week is the week of slots a page shows: from the start of the day in
// loc (today when from is empty) to seven days later.
func (s *Server) week(from string, loc *time.Location) (weekRange, *badInput) {
	now := route.DateOf(s.clock.Now().In(loc))
	d := now
	if from != "" {
		var err error
		if d, err = route.ParseDate(from); err != nil || d.Year < 2000 || d.Year > 9999 {
			return weekRange{}, &badInput{http.StatusBadRequest, "from", "not a date; want YYYY-MM-DD"}
		}
	}
	w := weekRange{today: time.Date(now.Year, now.Month, now.Day, 0, 0, 0, 0, loc), from: time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)}
	if w.from.Before(w.today) {
		w.from = w.today // the past has no slots
	}
	w.to = w.from.AddDate(0, 0, bookingDays)
	return w, nil
}

// weekRange is the week a page shows, and the start of today.
type weekRange struct{ today, from, to time.Time }

// weekSlots reads the slots of the week wk of a page. When they are more
// than a page shows (5-minute slots around the clock), the week is cut
// before the last day they reach, so that the next week starts there.
func (s *Server) weekSlots(r *http.Request, p store.SlotsParams, loc *time.Location, wk *weekRange) (store.BookingPage, []store.Slot, error) {
	p.From, p.To, p.Max = wk.from, wk.to, maxBookingSlots
	page, slots, err := s.store.Slots(r.Context(), p)
	if err != nil || len(slots) < maxBookingSlots {
		return page, slots, err
	}
	last := slots[len(slots)-1].Start.In(loc)
	day := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, loc)
	if day.After(wk.from) {
		wk.to = day
		for len(slots) > 0 && !slots[len(slots)-1].Start.Before(day) {
			slots = slots[:len(slots)-1]
		}
	}
	return page, slots, nil
}

// zoneOf loads a zone the store holds (checked when it was saved).
func zoneOf(name string) *time.Location {
	if loc, err := route.Zone(name); err == nil {
		return loc
	}
	return time.UTC
}

// bookingPage shows a week of free slots, or, given start, the form to
// book that slot.
func (s *Server) bookingPage(w http.ResponseWriter, r *http.Request) {
	asJSON := wantsJSON(r)
	owner, team, ok := pageRef(r)
	if !ok {
		s.bookingNotFound(w, asJSON)
		return
	}
	q := r.URL.Query()
	page, err := s.store.GetBookingPage(r.Context(), owner, team)
	if errors.Is(err, store.ErrOwnerNotFound) || errors.Is(err, store.ErrTeamNotFound) {
		s.bookingNotFound(w, asJSON)
		return
	} else if err != nil {
		s.bookingUnavailable(w, asJSON, "read booking page", err)
		return
	}
	loc, bad := visitorZone("tz", q.Get("tz"))
	if bad != nil {
		bad.status = http.StatusBadRequest
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Time zone not known",
			Fallback: r.URL.Path + "?" + url.Values{"tz": {page.TimeZone}}.Encode(), FallbackZone: page.TimeZone})
		return
	}
	guessZone := loc == nil && !asJSON
	if loc == nil {
		loc = zoneOf(page.TimeZone)
	}
	if v := q.Get("start"); v != "" && !asJSON {
		start, bad := parseStart("start", v)
		if bad != nil {
			bad.status = http.StatusBadRequest
			s.bookingRefused(w, r, false, bad, &bookingView{Title: "Time not valid", Back: r.URL.Path})
			return
		}
		s.bookingForm(w, r, page, loc, start)
		return
	}
	wk, bad := s.week(q.Get("from"), loc)
	if bad != nil {
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Date not valid", Back: r.URL.Path})
		return
	}
	_, slots, err := s.weekSlots(r, store.SlotsParams{Owner: owner, Team: team}, loc, &wk)
	if err != nil {
		s.bookingUnavailable(w, asJSON, "read slots", err)
		return
	}
	if asJSON {
		writeJSON(w, http.StatusOK, slotsBody(page, loc, wk.from, wk.to, slots))
		return
	}
	v := &bookingView{Title: "Book a call with " + pageName(page),
		Text: "Pick a time. Times are in " + loc.String() + "; each call lasts " + minutes(page.Booking.Length) + "."}
	v.week(r.URL.Path, loc, wk, slots, "")
	if len(slots) == 0 {
		v.Text = "No free time in this week (times in " + loc.String() + "). Try the next one."
	}
	if guessZone {
		v.Script = tzScript
	}
	s.bookingHTML(w, http.StatusOK, v)
}

func pageName(p store.BookingPage) string {
	if p.Team != "" {
		return "the " + p.Name + " team"
	}
	return p.Name
}

func minutes(d time.Duration) string { return fmt.Sprintf("%d minutes", int(d/time.Minute)) }

// slotsJSON is a page's week of slots as JSON.
type slotsJSON struct {
	Name          string     `json:"name"`
	TimeZone      string     `json:"time_zone"`
	LengthMinutes int        `json:"length_minutes"`
	From          string     `json:"from"`
	Next          string     `json:"next_from"`
	Slots         []slotJSON `json:"slots"`
}

type slotJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func slotsBody(page store.BookingPage, loc *time.Location, from, to time.Time, slots []store.Slot) slotsJSON {
	out := slotsJSON{Name: page.Name, TimeZone: loc.String(), LengthMinutes: int(page.Booking.Length / time.Minute),
		From: from.Format(time.DateOnly), Next: to.Format(time.DateOnly), Slots: []slotJSON{}}
	for _, sl := range slots {
		out.Slots = append(out.Slots, slotJSON{Start: sl.Start.In(loc).Format(time.RFC3339), End: sl.End.In(loc).Format(time.RFC3339)})
	}
	return out
}

// bookingForm shows the form for one slot, or the day's slots when it is
// not free any more.
func (s *Server) bookingForm(w http.ResponseWriter, r *http.Request, page store.BookingPage, loc *time.Location, start time.Time) {
	day := time.Date(start.In(loc).Year(), start.In(loc).Month(), start.In(loc).Day(), 0, 0, 0, 0, loc)
	_, slots, err := s.store.Slots(r.Context(), store.SlotsParams{Owner: page.Owner, Team: page.Team, From: day,
		To: day.AddDate(0, 0, 1), Max: maxBookingSlots})
	if err != nil {
		s.bookingUnavailable(w, false, "read slots", err)
		return
	}
	for _, sl := range slots {
		if sl.Start.Equal(start) {
			s.bookingHTML(w, http.StatusOK, formView(r.URL.Path, page, loc, sl, bookingFields{}, ""))
			return
		}
	}
	wk, _ := s.week(day.Format(time.DateOnly), loc)
	_, slots, err = s.weekSlots(r, store.SlotsParams{Owner: page.Owner, Team: page.Team}, loc, &wk)
	if err != nil {
		s.bookingUnavailable(w, false, "read slots", err)
		return
	}
	v := &bookingView{Title: "Book a call with " + pageName(page), Notice: "That time is not free; pick another.",
		Text: "Times are in " + loc.String() + "."}
	v.week(r.URL.Path, loc, wk, slots, "")
	s.bookingHTML(w, http.StatusOK, v)
}

func formView(path string, page store.BookingPage, loc *time.Location, sl store.Slot, f bookingFields, notice string) *bookingView {
	return &bookingView{Title: "Book a call with " + pageName(page), Notice: notice,
		Text: sl.Start.In(loc).Format("Monday 2 January 2006, 15:04") + "–" + sl.End.In(loc).Format("15:04") + " (" + loc.String() + ")",
		Form: &bookingFormView{Action: path, Start: sl.Start.UTC().Format(time.RFC3339), Zone: loc.String(), Fields: f,
			Back: path + "?" + url.Values{"tz": {loc.String()}}.Encode()}}
}

// bookingFields is what a visitor writes to book.
type bookingFields struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty"`
	Company  string `json:"company,omitempty"`
	Notes    string `json:"notes,omitempty"`
	Start    string `json:"start"`
	TimeZone string `json:"time_zone,omitempty"`
}

// readBody reads a public POST: JSON when its type says so, a form
// otherwise. Its size is bounded; a JSON body must hold nothing else.
func readBody(w http.ResponseWriter, r *http.Request, form func(url.Values) error, v any) *badInput {
	r.Body = http.MaxBytesReader(w, r.Body, maxPublicBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		err := dec.Decode(v)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &badInput{http.StatusRequestEntityTooLarge, "body", "too large; at most 8 KiB"}
		case err != nil:
			return &badInput{http.StatusBadRequest, "body", "not the JSON object expected: " + jsonReason(err)}
		case dec.More():
			return &badInput{http.StatusBadRequest, "body", "holds more than one JSON value"}
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return &badInput{http.StatusRequestEntityTooLarge, "body", "too large; at most 8 KiB"}
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &badInput{http.StatusRequestEntityTooLarge, "body", "too large; at most 8 KiB"}
		}
		return &badInput{http.StatusBadRequest, "body", "the form could not be read"}
	}
	if err := form(r.PostForm); err != nil {
		return err.(*badInput)
	}
	return nil
}

// formValue is one form field, refused when sent twice.
// formField is a form value and where it goes.
type formField struct {
	name string
	dst  *string
}

// formValues reads fields from a form: each at most once; absent or empty
// leaves its destination as it is.
func formValues(f url.Values, fields []formField) error {
	for _, x := range fields {
		val, err := formValue(f, x.name)
		if err != nil {
			return err
		}
		if val != "" {
			*x.dst = val
		}
	}
	return nil
}

func formValue(f url.Values, name string) (string, error) {
	v := f[name]
	if len(v) > 1 {
		return "", refuse(name, "sent more than once")
	}
	if len(v) == 0 {
		return "", nil
	}
	return v[0], nil
}

// check bounds and normalises the fields; in is the visitor. The start
// and the zone are returned when they are valid, whatever else is not, so
// that a refused form can be shown again for its slot.
func (f *bookingFields) check(region string) (in contact.Input, start time.Time, loc *time.Location, bad *badInput) {
	for _, x := range []struct {
		name, v string
		max     int
	}{{"name", f.Name, maxPublicName}, {"email", f.Email, maxPublicEmail}, {"phone", f.Phone, maxPublicPhone},
		{"company", f.Company, contact.MaxTextLen}, {"notes", f.Notes, store.MaxMeetingNotes}} {
		if !utf8.ValidString(x.v) {
			return in, start, loc, refuse(x.name, "not valid UTF-8")
		}
		if utf8.RuneCountInString(x.v) > x.max {
			return in, start, loc, refuse(x.name, "too long")
		}
	}
	if start, bad = parseStart("start", f.Start); bad != nil {
		return in, start, loc, bad
	}
	if loc, bad = visitorZone("time_zone", f.TimeZone); bad != nil {
		return in, start, loc, bad
	}
	switch {
	case strings.TrimSpace(f.Name) == "":
		return in, start, loc, refuse("name", "missing; your name")
	case strings.ContainsFunc(f.Name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return in, start, loc, refuse("name", "contains a control character")
	case strings.TrimSpace(f.Email) == "":
		return in, start, loc, refuse("email", "missing; the invitation goes there")
	}
	first, last, _ := strings.Cut(strings.Join(strings.Fields(f.Name), " "), " ")
	in, err := contact.Normalize(contact.Input{Email: f.Email, FirstName: first, LastName: last, Phone: f.Phone, Company: f.Company}, region)
	var ve *contact.ValidationError
	if errors.As(err, &ve) {
		field := ve.Field
		if field == "first_name" || field == "last_name" {
			field = "name"
		}
		return in, start, loc, refuse(field, ve.Reason)
	} else if err != nil {
		return in, start, loc, refuse("email", "not valid")
	}
	notes, err := store.CleanNotes("notes", f.Notes)
	if err != nil {
		return in, start, loc, refuse("notes", err.(*route.Error).Reason)
	}
	f.Notes = notes
	return in, start, loc, nil
}

// book books the slot a visitor chose.
func (s *Server) book(w http.ResponseWriter, r *http.Request) {
	asJSON := wantsJSON(r)
	owner, team, ok := pageRef(r)
	if !ok {
		s.bookingNotFound(w, asJSON)
		return
	}
	var f bookingFields
	if bad := readBody(w, r, func(v url.Values) error {
		return formValues(v, []formField{{"name", &f.Name}, {"email", &f.Email}, {"phone", &f.Phone},
			{"company", &f.Company}, {"notes", &f.Notes}, {"start", &f.Start}, {"time_zone", &f.TimeZone}, {"tz", &f.TimeZone}})
	}, &f); bad != nil {
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Not booked", Back: r.URL.Path})
		return
	}
	page, err := s.store.GetBookingPage(r.Context(), owner, team)
	if errors.Is(err, store.ErrOwnerNotFound) || errors.Is(err, store.ErrTeamNotFound) {
		s.bookingNotFound(w, asJSON)
		return
	} else if err != nil {
		s.bookingUnavailable(w, asJSON, "read booking page", err)
		return
	}
	in, start, loc, bad := f.check(s.cfg.DefaultRegion)
	if loc == nil {
		loc = zoneOf(page.TimeZone)
	}
	again := func(status int, field, reason string) {
		if asJSON {
			writeBookingProblem(w, status, reason, field)
			return
		}
		sl := store.Slot{Start: start, End: start.Add(page.Booking.Length)}
		if start.IsZero() {
			s.bookingHTML(w, status, &bookingView{Title: "Not booked", Notice: reason, Back: r.URL.Path})
			return
		}
		s.bookingHTML(w, status, formView(r.URL.Path, page, loc, sl, f, reason))
	}
	if bad != nil {
		again(bad.status, "body."+bad.field, bad.field+": "+bad.reason)
		return
	}
	// The zone is always given: were it left to the store, a known
	// contact's own zone would show in the answer.
	m, err := s.store.BookMeeting(r.Context(), store.BookParams{Owner: owner, Team: team, Start: start, TimeZone: loc.String(),
		Contact: in, Notes: f.Notes, Source: store.SourceBooking})
	var slotErr *store.SlotError
	switch {
	case err == nil:
	case errors.Is(err, store.ErrSlotTaken):
		if asJSON {
			writeBookingProblem(w, http.StatusConflict, "That time was just taken; pick another.", "body.start")
			return
		}
		s.takenPage(w, r, page, loc, start)
		return
	case errors.As(err, &slotErr):
		again(http.StatusUnprocessableEntity, "body.start", "start: "+slotErr.Reason)
		return
	case errors.Is(err, store.ErrOwnerNotFound) || errors.Is(err, store.ErrTeamNotFound):
		s.bookingNotFound(w, asJSON)
		return
	default:
		var ve *contact.ValidationError
		var re *route.Error
		if errors.As(err, &ve) {
			again(http.StatusUnprocessableEntity, "body."+ve.Field, ve.Field+": "+ve.Reason)
			return
		}
		if errors.As(err, &re) {
			again(http.StatusUnprocessableEntity, "body."+re.Field, re.Field+": "+re.Reason)
			return
		}
		s.bookingUnavailable(w, asJSON, "book meeting", err)
		return
	}
	manage := strings.TrimSuffix(s.cfg.PublicURL, "/") + "/m/" + s.cfg.Signer.Meeting(m.ID)
	if asJSON {
		writeJSON(w, http.StatusCreated, meetingBody(m, pageName(page), loc, manage))
		return
	}
	s.bookingHTML(w, http.StatusOK, &bookingView{Title: "You are booked",
		Text:   "Your call with " + pageName(page) + " is on " + meetingWhen(m, loc) + ". The invitation is on its way to your inbox.",
		Manage: manage})
}

// takenPage answers a slot taken meanwhile: the week's free slots, 409.
func (s *Server) takenPage(w http.ResponseWriter, r *http.Request, page store.BookingPage, loc *time.Location, start time.Time) {
	wk, _ := s.week(start.In(loc).Format(time.DateOnly), loc)
	_, slots, err := s.weekSlots(r, store.SlotsParams{Owner: page.Owner, Team: page.Team}, loc, &wk)
	if err != nil {
		s.bookingUnavailable(w, false, "read slots", err)
		return
	}
	v := &bookingView{Title: "Book a call with " + pageName(page), Notice: "That time was just taken; pick another.",
		Text: "Times are in " + loc.String() + "."}
	v.week(r.URL.Path, loc, wk, slots, "")
	s.bookingHTML(w, http.StatusConflict, v)
}

func meetingWhen(m store.Meeting, loc *time.Location) string {
	return m.Start.In(loc).Format("Monday 2 January 2006 at 15:04") + "–" + m.End.In(loc).Format("15:04") + " (" + loc.String() + ")"
}

// meetingJSON is what the public pages say of a meeting.
type meetingJSON struct {
	Status    string `json:"status"`
	With      string `json:"with,omitempty"`
	Start     string `json:"start"`
	End       string `json:"end"`
	TimeZone  string `json:"time_zone"`
	ManageURL string `json:"manage_url,omitempty"`
}

func meetingBody(m store.Meeting, with string, loc *time.Location, manage string) meetingJSON {
	return meetingJSON{Status: m.Status, With: with, Start: m.Start.In(loc).Format(time.RFC3339),
		End: m.End.In(loc).Format(time.RFC3339), TimeZone: loc.String(), ManageURL: manage}
}

// meeting reads the meeting a manage link names; false when the link is
// not one, or its meeting is gone.
func (s *Server) meeting(w http.ResponseWriter, r *http.Request, asJSON bool) (store.Meeting, bool) {
	tok, ok := s.token(r, track.KindMeeting)
	if !ok {
		s.linkNotValid(w, asJSON)
		return store.Meeting{}, false
	}
	m, err := s.store.GetMeeting(r.Context(), tok.Meeting)
	if errors.Is(err, store.ErrMeetingNotFound) {
		s.linkNotValid(w, asJSON)
		return m, false
	} else if err != nil {
		s.bookingUnavailable(w, asJSON, "read meeting", err)
		return m, false
	}
	return m, true
}

// meetingPage shows a meeting, with buttons to cancel it or move it to
// one of the week's free times while it is booked and to come.
func (s *Server) meetingPage(w http.ResponseWriter, r *http.Request) {
	asJSON := wantsJSON(r)
	m, ok := s.meeting(w, r, asJSON)
	if !ok {
		return
	}
	q := r.URL.Query()
	loc, bad := visitorZone("tz", q.Get("tz"))
	if bad != nil {
		bad.status = http.StatusBadRequest
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Time zone not known", Back: r.URL.Path})
		return
	}
	if loc == nil {
		loc = meetingZone(m)
	}
	wk, bad := s.week(q.Get("from"), loc)
	if bad != nil {
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Date not valid", Back: r.URL.Path})
		return
	}
	page, slots, err := s.weekSlots(r, store.SlotsParams{Meeting: m.ID}, loc, &wk)
	if err != nil {
		s.bookingUnavailable(w, asJSON, "read slots", err)
		return
	}
	open := m.Status == store.MeetingBooked && s.clock.Now().Before(m.Start)
	if !open {
		slots = nil
	}
	if asJSON {
		out := struct {
			meetingJSON
			Slots []slotJSON `json:"slots"`
		}{meetingJSON: meetingBody(m, page.Name, loc, ""), Slots: slotsBody(page, loc, wk.from, wk.to, slots).Slots}
		writeJSON(w, http.StatusOK, out)
		return
	}
	v := &bookingView{Title: "Your call with " + page.Name, Text: meetingWhen(m, loc) + ". " + statusLine(m, open)}
	if open {
		v.Cancel = r.URL.Path
		v.week(r.URL.Path, loc, wk, slots, r.URL.Path)
	}
	s.bookingHTML(w, http.StatusOK, v)
}

func meetingZone(m store.Meeting) *time.Location { return zoneOf(m.TimeZone) }

func statusLine(m store.Meeting, open bool) string {
	switch {
	case m.Status == store.MeetingCancelled:
		return "It is cancelled."
	case m.Status == store.MeetingHeld:
		return "It took place."
	case m.Status == store.MeetingNoShow:
		return "It was missed."
	case !open:
		return "It has started; it can no longer be changed here."
	}
	return "To move it, pick another time below; or cancel it."
}

// manageMeeting cancels or moves the meeting of a manage link.
func (s *Server) manageMeeting(w http.ResponseWriter, r *http.Request) {
	asJSON := wantsJSON(r)
	var in struct {
		Action   string `json:"action"`
		Start    string `json:"start,omitempty"`
		TimeZone string `json:"time_zone,omitempty"`
	}
	if bad := readBody(w, r, func(v url.Values) error {
		return formValues(v, []formField{{"action", &in.Action}, {"start", &in.Start}, {"time_zone", &in.TimeZone},
			{"tz", &in.TimeZone}})
	}, &in); bad != nil {
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Not changed", Back: r.URL.Path})
		return
	}
	m, ok := s.meeting(w, r, asJSON)
	if !ok {
		return
	}
	loc, bad := visitorZone("time_zone", in.TimeZone)
	if loc == nil {
		loc = meetingZone(m)
	}
	var err error
	switch {
	case bad != nil:
	case in.Action == "cancel":
		m, err = s.store.CancelMeeting(r.Context(), m.ID, "lead")
	case in.Action == "reschedule":
		var start time.Time
		if start, bad = parseStart("start", in.Start); bad == nil {
			m, err = s.store.RescheduleMeeting(r.Context(), m.ID, start, "lead")
		}
	default:
		bad = refuse("action", "cancel or reschedule")
	}
	var slotErr *store.SlotError
	switch {
	case bad != nil:
	case err == nil:
	case errors.Is(err, store.ErrSlotTaken):
		bad = &badInput{http.StatusConflict, "start", "That time was just taken; pick another."}
	case errors.As(err, &slotErr):
		bad = refuse("start", slotErr.Reason)
	case errors.Is(err, store.ErrMeetingNotBooked), errors.Is(err, store.ErrMeetingStarted):
		bad = &badInput{http.StatusConflict, "action", err.Error()}
	case errors.Is(err, store.ErrMeetingNotFound):
		s.linkNotValid(w, asJSON)
		return
	default:
		s.bookingUnavailable(w, asJSON, "change meeting", err)
		return
	}
	if bad != nil {
		s.bookingRefused(w, r, asJSON, bad, &bookingView{Title: "Not changed", Back: r.URL.Path})
		return
	}
	if asJSON {
		writeJSON(w, http.StatusOK, meetingBody(m, "", loc, ""))
		return
	}
	title := "Your call is cancelled"
	text := "The call on " + meetingWhen(m, loc) + " is cancelled; we let the other side know."
	if in.Action == "reschedule" {
		title, text = "Your call has moved", "Your call is now on "+meetingWhen(m, loc)+". The new invitation is on its way."
	}
	s.bookingHTML(w, http.StatusOK, &bookingView{Title: title, Text: text, Back: r.URL.Path})
}

// The answers of the booking pages when they cannot do what was asked.

func (s *Server) bookingNotFound(w http.ResponseWriter, asJSON bool) {
	if asJSON {
		writeBookingProblem(w, http.StatusNotFound, "no such booking page", "")
		return
	}
	s.bookingHTML(w, http.StatusNotFound, &bookingView{Title: "Page not found", Text: "There is no booking page here. Check the link you were given."})
}

func (s *Server) linkNotValid(w http.ResponseWriter, asJSON bool) {
	if asJSON {
		writeBookingProblem(w, http.StatusNotFound, "this link is not valid", "")
		return
	}
	s.bookingHTML(w, http.StatusNotFound, &bookingView{Title: "Link not valid",
		Text: "This link is not valid. It may have been cut when it was copied."})
}

func (s *Server) bookingUnavailable(w http.ResponseWriter, asJSON bool, what string, err error) {
	s.log.Error(what, "err", err)
	if asJSON {
		writeBookingProblem(w, http.StatusServiceUnavailable, "not available now; try again in a minute", "")
		return
	}
	s.bookingHTML(w, http.StatusServiceUnavailable, &bookingView{Title: "Try again",
		Text: "This page is not available now. Please try again in a minute."})
}

// bookingRefused answers refused input: problem+json naming the field, or
// the page v saying what was wrong.
func (s *Server) bookingRefused(w http.ResponseWriter, r *http.Request, asJSON bool, bad *badInput, v *bookingView) {
	location := bad.field
	if r.Method == http.MethodPost && bad.field != "body" {
		location = "body." + bad.field
	} else if r.Method == http.MethodGet {
		location = "query." + bad.field
	}
	if asJSON {
		writeBookingProblem(w, bad.status, bad.field+": "+bad.reason, location)
		return
	}
	v.Notice = bad.field + ": " + bad.reason
	if bad.field == "body" {
		v.Notice = "The request " + strings.TrimPrefix(bad.reason, "the form ") + "; nothing was changed."
	}
	s.bookingHTML(w, bad.status, v)
}

func writeBookingProblem(w http.ResponseWriter, status int, detail, location string) {
	p := huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail}
	if location != "" {
		_, msg, _ := strings.Cut(detail, ": ")
		if msg == "" {
			msg = detail
		}
		p.Errors = []*huma.ErrorDetail{{Location: location, Message: msg}}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// tzScript sends a visitor who gave no zone back with their browser's, so
// that times show in their own. Its hash lets it past the pages' CSP.
const tzScript template.JS = `(function(){try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;if(z){var u=new URL(location.href);u.searchParams.set("tz",z);location.replace(u.toString());}}catch(e){}})();`

var tzScriptHash = func() string {
	sum := sha256.Sum256([]byte(string(tzScript)))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// bookingView is what a booking page shows.
type bookingView struct {
	Title, Text string
	Notice      string // what went wrong, in a box
	Days        []dayView
	Prev, Next  string // links to the weeks around
	Reschedule  string // the days' slots are buttons posting there; links otherwise
	Zone        string
	Form        *bookingFormView
	Manage      string // the manage link, after booking
	Cancel      string // a cancel button posting there
	Back        string // a link back to the page
	// Fallback is the page in its own zone, when the visitor's is refused.
	Fallback, FallbackZone string
	Script                 template.JS
}

type dayView struct {
	Label string
	Slots []slotView
}

type slotView struct{ Label, Href, Value string }

type bookingFormView struct {
	Action, Start, Zone, Back string
	Fields                    bookingFields
}

// week fills the view with a week's slots, by day, in loc, and links to
// the weeks before (none before today) and after. With post set, slots are buttons of a form
// posting there (moving a meeting); else links to the booking form.
func (v *bookingView) week(path string, loc *time.Location, wk weekRange, slots []store.Slot, post string) {
	v.Zone, v.Reschedule = loc.String(), post
	for _, sl := range slots {
		st := sl.Start.In(loc)
		label := st.Format("Monday 2 January")
		if n := len(v.Days); n == 0 || v.Days[n-1].Label != label {
			v.Days = append(v.Days, dayView{Label: label})
		}
		value := sl.Start.UTC().Format(time.RFC3339)
		href := path + "?" + url.Values{"tz": {loc.String()}, "start": {value}}.Encode()
		d := &v.Days[len(v.Days)-1]
		d.Slots = append(d.Slots, slotView{Label: st.Format("15:04"), Href: href, Value: value})
	}
	link := func(day time.Time) string {
		return path + "?" + url.Values{"tz": {loc.String()}, "from": {day.Format(time.DateOnly)}}.Encode()
	}
	v.Next = link(wk.to)
	if wk.from.After(wk.today) {
		prev := wk.from.AddDate(0, 0, -bookingDays)
		if prev.Before(wk.today) {
			prev = wk.today
		}
		v.Prev = link(prev)
	}
}

var bookingTemplate = template.Must(template.New("booking").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
{{with .Script}}<script>{{.}}</script>{{end}}
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
.notice{background:#fff4e5;border:1px solid #f0b060;padding:.6rem .8rem;margin:1rem 0}
.slots a,.slots button{display:inline-block;margin:.2rem;padding:.4rem .8rem;border:1px solid #888;border-radius:.3rem;
text-decoration:none;color:#222;background:#f7f7f7;font-size:1rem}
label{display:block;margin:.6rem 0}input,textarea{width:100%;font-size:1rem;padding:.3rem;box-sizing:border-box}
button{font-size:1rem;padding:.5rem 1.25rem}</style></head>
<body><h1>{{.Title}}</h1>
{{with .Notice}}<p class="notice" role="alert">{{.}}</p>{{end}}
{{with .Text}}<p>{{.}}</p>{{end}}
{{with .Fallback}}<p><a href="{{.}}">Show the times in {{$.FallbackZone}}</a></p>{{end}}
{{with .Form}}<form method="post" action="{{.Action}}">
<input type="hidden" name="start" value="{{.Start}}"><input type="hidden" name="tz" value="{{.Zone}}">
<label>Your name <input name="name" required maxlength="200" autocomplete="name" value="{{.Fields.Name}}"></label>
<label>Email <input name="email" type="email" required maxlength="254" autocomplete="email" value="{{.Fields.Email}}"></label>
<label>Phone (optional) <input name="phone" type="tel" maxlength="32" autocomplete="tel" value="{{.Fields.Phone}}"></label>
<label>Company (optional) <input name="company" maxlength="200" autocomplete="organization" value="{{.Fields.Company}}"></label>
<label>Anything we should know? (optional) <textarea name="notes" rows="4" maxlength="1000">{{.Fields.Notes}}</textarea></label>
<button type="submit">Book this time</button></form>
<p><a href="{{.Back}}">Pick another time</a></p>{{end}}
{{with .Manage}}<p>To cancel or move it: <a href="{{.}}">manage your booking</a> (the link is also in the email).</p>{{end}}
{{with .Cancel}}<form method="post" action="{{.}}"><input type="hidden" name="action" value="cancel">
<button type="submit">Cancel the call</button></form>{{end}}
{{if .Days}}{{if .Reschedule}}<form method="post" action="{{.Reschedule}}"><input type="hidden" name="action" value="reschedule">
<input type="hidden" name="tz" value="{{.Zone}}">{{end}}
{{range .Days}}<h2>{{.Label}}</h2><p class="slots">{{range .Slots}}{{if $.Reschedule}}<button name="start" value="{{.Value}}">{{.Label}}</button>{{else}}<a href="{{.Href}}">{{.Label}}</a>{{end}} {{end}}</p>
{{end}}{{if .Reschedule}}</form>{{end}}{{end}}
{{if .Next}}<p>{{with .Prev}}<a href="{{.}}">Earlier</a> · {{end}}<a href="{{.Next}}">Later</a></p>{{end}}
{{with .Back}}{{if not $.Form}}<p><a href="{{.}}">Back</a></p>{{end}}{{end}}
</body></html>`))

func (s *Server) bookingHTML(w http.ResponseWriter, status int, v *bookingView) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer") // the manage link is a credential
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
	if v.Script != "" { // the hash of exactly tzScript
		csp += "; script-src " + tzScriptHash
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	bookingTemplate.Execute(w, v)
}
