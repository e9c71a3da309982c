package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/score"
)

// Errors of routing's configuration.
var (
	ErrOwnerNotFound   = errors.New("owner not found")
	ErrTeamNotFound    = errors.New("team not found")
	ErrAbsenceNotFound = errors.New("absence not found")
	ErrNoHolidays      = errors.New("no holidays loaded for that country")
)

// TeamInUseError refuses to delete a team the routing rules send leads to.
type TeamInUseError struct{ Team string }

func (e *TeamInUseError) Error() string {
	return fmt.Sprintf("the routing rules send leads to team %q; change them first", e.Team)
}

// routingGenKey counts changes to owners, teams, absences, holidays and
// routing rules: a transaction that sees a new value reloads the catalog.
const routingGenKey = "routing_generation"

// Owner is a salesperson as stored, with availability at the time of reading.
type Owner struct {
	route.Owner
	Disabled  bool      `json:"disabled"`
	Available bool      `json:"available" doc:"takes new leads now: not disabled and not absent"`
	Absences  []Absence `json:"absences,omitempty" doc:"current and future absences"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Absence is a time an owner takes no new leads (holiday, sick leave).
type Absence struct {
	ID     int64     `json:"id"`
	Owner  string    `json:"owner"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Team is a team as stored.
type Team struct {
	route.Team
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RoutingVersion is one stored version of the routing rules.
type RoutingVersion struct {
	Version   int       `json:"version"`
	Document  string    `json:"document"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (t *tx) bumpRouting() error {
	_, err := t.exec(`INSERT INTO settings (key, value) VALUES ('` + routingGenKey + `', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`)
	return err
}

// PutOwner creates or replaces an owner. It reports whether it was new.
func (s *Store) PutOwner(ctx context.Context, in route.Owner) (Owner, bool, error) {
	if _, _, err := in.Check(); err != nil {
		return Owner{}, false, err
	}
	hours, _ := json.Marshal(in.Hours)
	var territory any
	if len(in.Territory) > 0 {
		b, _ := json.Marshal(in.Territory)
		territory = string(b)
	}
	var created bool
	var out Owner
	err := s.writer.do1(func(t *tx) error {
		now := ms(t.s.now())
		res, err := t.exec(`UPDATE owners SET display_name = ?, email = ?, time_zone = ?, hours = ?, max_open = ?, weight = ?,
			territory = ?, disabled_at = NULL, updated_at = ? WHERE name = ?`,
			null(in.DisplayName), in.Email, in.TimeZone, string(hours), in.MaxOpen, in.Weight, territory, now, in.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			created = true
			if _, err := t.exec(`INSERT INTO owners (name, display_name, email, time_zone, hours, max_open, weight, territory,
				created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				in.Name, null(in.DisplayName), in.Email, in.TimeZone, string(hours), in.MaxOpen, in.Weight, territory, now, now); err != nil {
				return err
			}
		}
		if err := t.bumpRouting(); err != nil {
			return err
		}
		owners, err := t.s.readOwners(t.ctx, txRows{t}, "name = ?", in.Name)
		if err == nil {
			out = owners[0]
		}
		return err
	})
	return out, created, err
}

// rowQuerier is what reads need from the reader pool or a transaction.
type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// txRows reads inside a transaction (placeholders converted by tx.query).
type txRows struct{ t *tx }

func (q txRows) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.t.query(query, args...)
}

// prepare converts a query's placeholders for the reader pool; a
// transaction converts its own.
func (s *Store) prepare(db rowQuerier, q string) string {
	if _, ok := db.(txRows); ok {
		return q
	}
	return s.q(q)
}

func (s *Store) readOwners(ctx context.Context, db rowQuerier, where string, args ...any) ([]Owner, error) {
	q := `SELECT name, display_name, email, time_zone, hours, max_open, weight, territory, disabled_at, created_at, updated_at
		FROM owners`
	if where != "" {
		q += " WHERE " + where
	}
	q = s.prepare(db, q)
	rows, err := db.QueryContext(ctx, q+" ORDER BY name", args...)
	if err != nil {
		return nil, s.dbErr("read owners", err)
	}
	var out []Owner
	for rows.Next() {
		var o Owner
		var display, territory sql.NullString
		var hours string
		var disabled sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&o.Name, &display, &o.Email, &o.TimeZone, &hours, &o.MaxOpen, &o.Weight, &territory,
			&disabled, &created, &updated); err != nil {
			rows.Close()
			return nil, s.dbErr("read owners", err)
		}
		o.DisplayName, o.Disabled = display.String, disabled.Valid
		o.CreatedAt, o.UpdatedAt = fromMS(created), fromMS(updated)
		_ = json.Unmarshal([]byte(hours), &o.Hours)
		if territory.Valid {
			_ = json.Unmarshal([]byte(territory.String), &o.Territory)
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read owners", err)
	}
	if len(out) == 0 {
		if where != "" {
			return nil, ErrOwnerNotFound
		}
		return out, nil
	}
	// Absences that have not ended.
	now := s.now()
	q = "SELECT id, owner, from_at, to_at, reason FROM absences WHERE to_at > ? ORDER BY from_at, id"
	q = s.prepare(db, q)
	rows, err = db.QueryContext(ctx, q, ms(now))
	if err != nil {
		return nil, s.dbErr("read absences", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAbsence(rows)
		if err != nil {
			return nil, s.dbErr("read absences", err)
		}
		if i := slices.IndexFunc(out, func(o Owner) bool { return o.Name == a.Owner }); i >= 0 {
			out[i].Absences = append(out[i].Absences, a)
		}
	}
	for i := range out {
		o := &out[i]
		o.Available = !o.Disabled && !slices.ContainsFunc(o.Absences, func(a Absence) bool { return !now.Before(a.From) })
	}
	return out, s.dbErr("read absences", rows.Err())
}

func scanAbsence(row scanner) (Absence, error) {
	var a Absence
	var from, to int64
	var reason sql.NullString
	err := row.Scan(&a.ID, &a.Owner, &from, &to, &reason)
	a.From, a.To, a.Reason = fromMS(from), fromMS(to), reason.String
	return a, err
}

// Owners lists the owners, disabled ones included.
func (s *Store) Owners(ctx context.Context) ([]Owner, error) { return s.readOwners(ctx, s.r, "") }

// GetOwner reads one owner.
func (s *Store) GetOwner(ctx context.Context, name string) (Owner, error) {
	out, err := s.readOwners(ctx, s.r, "name = ?", name)
	if err != nil {
		return Owner{}, err
	}
	return out[0], nil
}

// DisableOwner stops an owner taking new leads. The owner's leads stay
// theirs; putting the owner again enables it.
func (s *Store) DisableOwner(ctx context.Context, name string) error {
	return s.writer.do1(func(t *tx) error {
		now := ms(t.s.now())
		res, err := t.exec("UPDATE owners SET disabled_at = COALESCE(disabled_at, ?), updated_at = ? WHERE name = ?", now, now, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrOwnerNotFound
		}
		return t.bumpRouting()
	})
}

// Limits on absences.
const (
	maxAbsence       = 366 * 24 * time.Hour
	maxAbsenceReason = 200
)

// AddAbsence records a time an owner takes no new leads.
func (s *Store) AddAbsence(ctx context.Context, a Absence) (Absence, error) {
	switch {
	case a.From.IsZero():
		return a, &route.Error{Field: "from", Reason: "missing; an RFC 3339 time"}
	case a.To.IsZero():
		return a, &route.Error{Field: "to", Reason: "missing; an RFC 3339 time"}
	case !a.To.After(a.From):
		return a, &route.Error{Field: "to", Reason: "must be after from"}
	case a.To.Sub(a.From) > maxAbsence:
		return a, &route.Error{Field: "to", Reason: "an absence lasts at most 366 days; add another"}
	case len(a.Reason) > maxAbsenceReason:
		return a, &route.Error{Field: "reason", Reason: fmt.Sprintf("at most %d bytes", maxAbsenceReason)}
	case !utf8.ValidString(a.Reason) || score.BadText(a.Reason) || strings.ContainsAny(a.Reason, "\n\t"):
		return a, &route.Error{Field: "reason", Reason: "one line of printable text"}
	}
	a.From, a.To = fromMS(ms(a.From)), fromMS(ms(a.To))
	err := s.writer.do1(func(t *tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM owners WHERE name = ?", a.Owner).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrOwnerNotFound
		}
		if err := t.queryRow("INSERT INTO absences (owner, from_at, to_at, reason, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
			a.Owner, ms(a.From), ms(a.To), null(a.Reason), ms(t.s.now())).Scan(&a.ID); err != nil {
			return err
		}
		return t.bumpRouting()
	})
	return a, err
}

// DeleteAbsence removes an absence of an owner.
func (s *Store) DeleteAbsence(ctx context.Context, owner string, id int64) error {
	return s.writer.do1(func(t *tx) error {
		res, err := t.exec("DELETE FROM absences WHERE id = ? AND owner = ?", id, owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAbsenceNotFound
		}
		return t.bumpRouting()
	})
}

// PutTeam creates or replaces a team; its members and lead must be owners,
// and its holidays loaded. The assignment cursor is kept. It reports
// whether the team was new.
func (s *Store) PutTeam(ctx context.Context, in route.Team) (Team, bool, error) {
	var created bool
	var out Team
	err := s.writer.do1(func(t *tx) error {
		owners := map[string]bool{}
		rows, err := t.query("SELECT name FROM owners")
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			owners[n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, _, err := in.Check(func(n string) bool { return owners[n] }); err != nil {
			return err
		}
		if in.Holidays != "" {
			var n int
			if err := t.queryRow("SELECT COUNT(*) FROM holidays WHERE country = ?", in.Holidays).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return &route.Error{Field: "holidays", Reason: fmt.Sprintf("no holidays loaded for %s; load them first (PUT /api/v1/holidays/%s)", in.Holidays, in.Holidays)}
			}
		}
		hours, _ := json.Marshal(in.Hours)
		members, _ := json.Marshal(in.Members)
		if in.Members == nil {
			members = []byte("[]")
		}
		var booking any // NULL: the default booking
		if in.Booking != nil && *in.Booking != (route.BookingSettings{}) {
			b, _ := json.Marshal(in.Booking)
			booking = string(b)
		}
		now := ms(t.s.now())
		res, err := t.exec(`UPDATE teams SET strategy = ?, time_zone = ?, hours = ?, holidays = ?, team_lead = ?, manager = ?,
			members = ?, booking = ?, updated_at = ? WHERE name = ?`,
			in.Strategy, in.TimeZone, string(hours), null(in.Holidays), null(in.Lead), null(in.Manager), string(members), booking,
			now, in.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			created = true
			if _, err := t.exec(`INSERT INTO teams (name, strategy, time_zone, hours, holidays, team_lead, manager, members, booking,
				cursor, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
				in.Name, in.Strategy, in.TimeZone, string(hours), null(in.Holidays), null(in.Lead), null(in.Manager),
				string(members), booking, now, now); err != nil {
				return err
			}
		}
		if err := t.bumpRouting(); err != nil {
			return err
		}
		teams, err := t.s.readTeams(t.ctx, txRows{t}, "name = ?", in.Name)
		if err == nil {
			out = teams[0]
		}
		return err
	})
	return out, created, err
}

func (s *Store) readTeams(ctx context.Context, db rowQuerier, where string, args ...any) ([]Team, error) {
	q := "SELECT name, strategy, time_zone, hours, holidays, team_lead, manager, members, booking, created_at, updated_at FROM teams"
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY name"
	q = s.prepare(db, q)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.dbErr("read teams", err)
	}
	defer rows.Close()
	var out []Team
	for rows.Next() {
		var tm Team
		var hours, members string
		var holidays, lead, manager, booking sql.NullString
		var created, updated int64
		if err := rows.Scan(&tm.Name, &tm.Strategy, &tm.TimeZone, &hours, &holidays, &lead, &manager, &members, &booking,
			&created, &updated); err != nil {
			return nil, s.dbErr("read teams", err)
		}
		tm.Holidays, tm.Lead, tm.Manager = holidays.String, lead.String, manager.String
		tm.CreatedAt, tm.UpdatedAt = fromMS(created), fromMS(updated)
		_ = json.Unmarshal([]byte(hours), &tm.Hours)
		_ = json.Unmarshal([]byte(members), &tm.Members)
		if booking.Valid {
			tm.Booking = &route.BookingSettings{}
			_ = json.Unmarshal([]byte(booking.String), tm.Booking)
		}
		out = append(out, tm)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read teams", err)
	}
	if len(out) == 0 && where != "" {
		return nil, ErrTeamNotFound
	}
	return out, nil
}

// Teams lists the teams.
func (s *Store) Teams(ctx context.Context) ([]Team, error) { return s.readTeams(ctx, s.r, "") }

// GetTeam reads one team.
func (s *Store) GetTeam(ctx context.Context, name string) (Team, error) {
	out, err := s.readTeams(ctx, s.r, "name = ?", name)
	if err != nil {
		return Team{}, err
	}
	return out[0], nil
}

// DeleteTeam removes a team the routing rules do not name.
func (s *Store) DeleteTeam(ctx context.Context, name string) error {
	return s.writer.do1(func(t *tx) error {
		cat, err := t.routing()
		if err != nil {
			return err
		}
		if cat.rules != nil && slices.Contains(cat.rules.Teams(), name) {
			return &TeamInUseError{name}
		}
		res, err := t.exec("DELETE FROM teams WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrTeamNotFound
		}
		return t.bumpRouting()
	})
}

// SetHolidays replaces a country's public holidays.
func (s *Store) SetHolidays(ctx context.Context, h route.Holidays) error {
	return s.writer.do1(func(t *tx) error {
		if _, err := t.exec("DELETE FROM holidays WHERE country = ?", h.Country); err != nil {
			return err
		}
		for _, d := range h.Days {
			if _, err := t.exec("INSERT INTO holidays (country, day, name) VALUES (?, ?, ?)", h.Country, d.Date, d.Name); err != nil {
				return err
			}
		}
		return t.bumpRouting()
	})
}

// Holidays reads a country's public holidays, in date order.
func (s *Store) Holidays(ctx context.Context, country string) (route.Holidays, error) {
	out := route.Holidays{Country: country, Days: []route.Holiday{}}
	rows, err := s.r.QueryContext(ctx, s.q("SELECT day, name FROM holidays WHERE country = ? ORDER BY day"), country)
	if err != nil {
		return out, s.dbErr("read holidays", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d route.Holiday
		if err := rows.Scan(&d.Date, &d.Name); err != nil {
			return out, s.dbErr("read holidays", err)
		}
		out.Days = append(out.Days, d)
	}
	if err := rows.Err(); err != nil {
		return out, s.dbErr("read holidays", err)
	}
	if len(out.Days) == 0 {
		return out, ErrNoHolidays
	}
	return out, nil
}

// ApplyRouting validates a routing document against the teams and stores
// it as the new version, in force for every lead from now on.
func (s *Store) ApplyRouting(ctx context.Context, src []byte, comment, by string) (RoutingVersion, error) {
	var out RoutingVersion
	err := s.writer.do1(func(t *tx) error {
		teams, err := t.s.readTeams(t.ctx, txRows{t}, "")
		if err != nil {
			return err
		}
		names := teamSet{}
		for _, tm := range teams {
			names[tm.Name] = true
		}
		if _, err := route.ParseRules(src, names); err != nil {
			return err
		}
		now := t.s.now()
		if err := t.queryRow(`INSERT INTO routing_rules (version, document, comment, created_by, created_at)
			SELECT COALESCE(MAX(version), 0) + 1, ?, ?, ?, ? FROM routing_rules RETURNING version`,
			string(src), null(comment), null(by), ms(now)).Scan(&out.Version); err != nil {
			return err
		}
		out.Document, out.Comment, out.CreatedBy, out.CreatedAt = string(src), comment, by, now
		return t.bumpRouting()
	})
	return out, err
}

type teamSet map[string]bool

func (s teamSet) TeamExists(name string) bool { return s[name] }

// RoutingHistory lists the stored versions of the routing rules, newest first.
func (s *Store) RoutingHistory(ctx context.Context) ([]RoutingVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT version, document, comment, created_by, created_at FROM routing_rules ORDER BY version DESC`)
	if err != nil {
		return nil, s.dbErr("read routing rules", err)
	}
	defer rows.Close()
	out := []RoutingVersion{}
	for rows.Next() {
		var v RoutingVersion
		var comment, by sql.NullString
		var at int64
		if err := rows.Scan(&v.Version, &v.Document, &comment, &by, &at); err != nil {
			return nil, s.dbErr("read routing rules", err)
		}
		v.Comment, v.CreatedBy, v.CreatedAt = comment.String, by.String, fromMS(at)
		out = append(out, v)
	}
	return out, s.dbErr("read routing rules", rows.Err())
}

// routingCatalog is everything routing reads, compiled, as of a generation.
type routingCatalog struct {
	gen     int64
	rules   *route.Rules // nil: no routing rules yet
	version int
	teams   map[string]*teamInfo
	owners  map[string]*ownerInfo
}

type teamInfo struct {
	Team
	cal     route.Calendar
	booking route.Booking // how its booking page cuts slots
}

type ownerInfo struct {
	Owner
	hours    route.Hours
	loc      *time.Location
	ownHours bool
	absences []route.Span
}

// absent reports whether the owner is absent at t.
func (o *ownerInfo) absent(t time.Time) bool {
	return slices.ContainsFunc(o.absences, func(s route.Span) bool { return !t.Before(s.From) && t.Before(s.To) })
}

// calendar is the business time of a lead owned by o in team tm: the
// owner's hours in the owner's zone when the owner has hours, the team's
// otherwise, closed on the team's holidays.
func (tm *teamInfo) calendar(o *ownerInfo) route.Calendar {
	if o == nil || !o.ownHours {
		return tm.cal
	}
	return route.Calendar{Loc: o.loc, Hours: o.hours, Closed: tm.cal.Closed}
}

type routingCache struct {
	mu  sync.Mutex
	cur *routingCatalog
}

// routing is the routing catalog as of this transaction.
func (t *tx) routing() (*routingCatalog, error) {
	if t.routingCat != nil {
		return t.routingCat, nil
	}
	if err := t.readVersions(); err != nil {
		return nil, err
	}
	c := &t.s.routingCache
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil && cur.gen == t.routingGen {
		t.routingCat = cur
		return cur, nil
	}
	cat, err := t.s.loadRouting(t.ctx, txRows{t}, t.routingGen)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cur == nil || c.cur.gen <= cat.gen {
		c.cur = cat
	}
	c.mu.Unlock()
	t.routingCat = cat
	return cat, nil
}

func (s *Store) loadRouting(ctx context.Context, db rowQuerier, gen int64) (*routingCatalog, error) {
	cat := &routingCatalog{gen: gen, teams: map[string]*teamInfo{}, owners: map[string]*ownerInfo{}}
	q := "SELECT version, document FROM routing_rules ORDER BY version DESC LIMIT 1"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, s.dbErr("read routing rules", err)
	}
	var doc string
	for rows.Next() {
		if err := rows.Scan(&cat.version, &doc); err != nil {
			rows.Close()
			return nil, s.dbErr("read routing rules", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.dbErr("read routing rules", err)
	}
	if cat.version > 0 {
		if cat.rules, err = route.ParseRules([]byte(doc), nil); err != nil {
			return nil, fmt.Errorf("stored routing rules version %d: %w", cat.version, err)
		}
	}
	owners, err := s.readOwners(ctx, db, "")
	if err != nil {
		return nil, err
	}
	for _, o := range owners {
		oi := &ownerInfo{Owner: o, ownHours: len(o.Hours) > 0}
		oi.hours, oi.loc, _ = o.Owner.Check()
		if oi.loc == nil {
			oi.loc = time.UTC
		}
		for _, a := range o.Absences {
			oi.absences = append(oi.absences, route.Span{From: a.From, To: a.To})
		}
		cat.owners[o.Name] = oi
	}
	teams, err := s.readTeams(ctx, db, "")
	if err != nil {
		return nil, err
	}
	closed := map[string]map[route.Date]string{}
	for _, tm := range teams {
		ti := &teamInfo{Team: tm}
		hours, loc, _ := tm.Team.Check(func(string) bool { return true })
		if loc == nil {
			loc = time.UTC
		}
		ti.cal = route.Calendar{Loc: loc, Hours: hours}
		ti.booking = route.DefaultBooking // kept when stored settings are refused (PutTeam refuses them)
		if b, err := tm.Booking.Booking(); err == nil {
			ti.booking = b
		}
		if tm.Holidays != "" {
			days, ok := closed[tm.Holidays]
			if !ok {
				days = map[route.Date]string{}
				q := "SELECT day, name FROM holidays WHERE country = ?"
				q = s.prepare(db, q)
				rows, err := db.QueryContext(ctx, q, tm.Holidays)
				if err != nil {
					return nil, s.dbErr("read holidays", err)
				}
				for rows.Next() {
					var day, name string
					if err := rows.Scan(&day, &name); err != nil {
						rows.Close()
						return nil, s.dbErr("read holidays", err)
					}
					if d, err := route.ParseDate(day); err == nil {
						days[d] = name
					}
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return nil, s.dbErr("read holidays", err)
				}
				closed[tm.Holidays] = days
			}
			ti.cal.Closed = days
		}
		cat.teams[tm.Name] = ti
	}
	return cat, nil
}

// parseGen reads a generation counter from settings.
func parseGen(v sql.NullString) int64 {
	n, _ := strconv.ParseInt(v.String, 10, 64)
	return n
}
