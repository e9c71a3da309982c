package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/score"
)

// timerSLA is the timers' kind of SLA clocks: due when the next
// escalation level falls due.
const timerSLA = "sla"

// TemplateSLA is the internal email of an escalation, to the owner, the
// team lead or the manager (shipped in examples/templates).
const TemplateSLA = "sla-escalation"

// slaStops are the events that are a first human contact: a logged call,
// meeting or email reply, a completed call or meeting task (all written as
// human_takeover), or a meeting.
var slaStops = map[string]bool{event.HumanTakeover: true, event.MeetingBooked: true, event.MeetingHeld: true}

// speedToLead answers a new lead: it routes it to a team and an owner,
// queues the first touch, gives the owner a call task and starts the SLA
// clock, all in the transaction that created the lead. Nothing happens
// until routing rules are applied.
func (t *tx) speedToLead(c *contact.Contact, now time.Time) error {
	cat, err := t.routing()
	if err != nil || cat.rules == nil {
		return err
	}
	st, err := t.scoreState(c.ID)
	if err != nil {
		return err
	}
	m := cat.rules.Route(route.Lead{Contact: c, Scores: st.Values})
	tm := cat.teams[m.Team]
	if tm == nil {
		return nil // cannot happen: a team the rules name cannot be deleted
	}
	if c.Owner == "" {
		if err := t.assignOwner(cat, tm, c, m.Rule, "", now); err != nil {
			return err
		}
	}
	o := cat.owners[c.Owner]
	cal := tm.calendar(o)
	target := cat.rules.Doc.SLA.TargetFor(tm.Name, c.RequestType, c.PotentialValue)
	plan, planned := route.Plan(cal, now, target, cat.rules.Doc.SLA.Levels())
	open := tm.cal.Open(now)

	data := t.leadData(cat, tm, o, c, plan.Start)
	f := cat.rules.First()
	var touched bool
	queue := func(template, kind, channel string) error {
		if template == "" || c.Address(channel) == "" {
			return nil
		}
		if _, err := t.template(template); errors.Is(err, ErrTemplateNotFound) {
			return nil // not installed: the other channels still go
		} else if err != nil {
			return err
		}
		_, err := t.queueMessage(MessageInput{ContactID: c.ID, Template: template, Kind: kind, Source: "first-contact",
			IdempotencyKey: fmt.Sprintf("first-contact:%d:%s", c.ID, channel), Data: data}, now)
		touched = touched || err == nil
		return err
	}
	email := f.Email
	if !open && f.EmailClosed != "" {
		email = f.EmailClosed
	}
	if err := queue(email, KindTransactional, ChannelEmail); err != nil {
		return err
	}
	if f.SMS != "" || f.WhatsApp != "" {
		consents, err := t.consentLedger(c.ID)
		if err != nil {
			return err
		}
		for _, ch := range []struct{ channel, template string }{{ChannelSMS, f.SMS}, {ChannelWhatsApp, f.WhatsApp}} {
			if ch.template != "" && consented(contact.CurrentConsents(consents), ch.channel) {
				if err := queue(ch.template, KindTransactional, ch.channel); err != nil {
					return err
				}
			}
		}
	}
	if f.CallTask == nil || *f.CallTask {
		due := plan.Due
		if !planned {
			due = now
		}
		if _, err := t.createTask(TaskInput{ContactID: c.ID, Kind: "call", Title: "Call the new lead " + leadName(c),
			Owner: c.Owner, Source: "first-contact", DueAt: due}, now); err != nil {
			return err
		}
	}
	if !planned {
		return nil // the calendar never opens: no clock to run
	}
	var firstTouch any
	if touched {
		firstTouch = ms(now)
	}
	var next any
	if len(plan.Marks) > 0 {
		next = ms(plan.Marks[0].At)
	}
	if _, err := t.exec(`INSERT INTO sla_clocks (contact_id, team, owner, target_ms, arrived_at, start_at, due_at, level, next_at,
		first_touch_at, outside_hours, source) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
		c.ID, tm.Name, null(c.Owner), target.Milliseconds(), ms(now), ms(plan.Start), ms(plan.Due), next, firstTouch,
		boolInt(!open), null(c.Source)); err != nil {
		return err
	}
	if next != nil {
		return t.armTimer(timerSLA, c.ID, next.(int64))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// consented reports consent granted on a channel, for any purpose.
func consented(current []contact.Consent, channel string) bool {
	for _, x := range current {
		if x.Channel == channel && x.Status == contact.ConsentGranted {
			return true
		}
	}
	return false
}

func leadName(c *contact.Contact) string {
	if n := strings.TrimSpace(c.FirstName + " " + c.LastName); n != "" {
		return n
	}
	if c.Email != "" {
		return c.Email
	}
	return fmt.Sprintf("#%d", c.ID)
}

// leadData are the template variables of messages about a routed lead.
func (t *tx) leadData(cat *routingCatalog, tm *teamInfo, o *ownerInfo, c *contact.Contact, callAt time.Time) map[string]string {
	data := map[string]string{"team": tm.Name}
	if o != nil {
		data["owner_name"], data["owner_email"] = o.DisplayName, o.Email
		if o.DisplayName == "" {
			data["owner_name"] = o.Name
		}
	}
	// The booking link: an external scheduler when the rules name one,
	// else the owner's booking page (the team's when there is no owner),
	// made absolute by the dispatcher.
	if u := cat.rules.First().BookingURL; u != "" {
		data["booking_url"] = u
	} else if o != nil {
		data["booking_path"] = "/book/" + o.Name
	} else {
		data["booking_path"] = "/book/team/" + tm.Name
	}
	if !callAt.IsZero() {
		loc := tm.cal.Loc
		if l, err := route.Zone(c.TimeZone); err == nil {
			loc = l
		}
		data["call_at"] = callAt.In(loc).Format("Monday 2 January at 15:04") + " (" + loc.String() + ")"
	}
	return data
}

// assignOwner gives a lead of team tm an owner by the team's strategy,
// passing over skip (the owner who breached), and records it: the
// contact's owner and an owner_assigned event with the rule that chose
// the team. No member available leaves the lead without an owner.
func (t *tx) assignOwner(cat *routingCatalog, tm *teamInfo, c *contact.Contact, rule, skip string, now time.Time) error {
	cands := make([]route.Candidate, 0, len(tm.Members))
	counts := tm.Strategy == route.LeastOpen
	for _, name := range tm.Members {
		o := cat.owners[name]
		if o == nil {
			continue
		}
		cands = append(cands, route.Candidate{Owner: name, Available: !o.Disabled && !o.absent(now) && name != skip,
			MaxOpen: o.MaxOpen, Weight: o.Weight, Territory: o.Territory})
		counts = counts || o.MaxOpen > 0
	}
	if counts && len(cands) > 0 {
		open, err := t.openLeads(cands)
		if err != nil {
			return err
		}
		for i := range cands {
			cands[i].Open = open[cands[i].Owner]
		}
	}
	owner, turn, err := t.takeTurn(tm.Name, func(cursor int64) (string, int64) {
		return route.Pick(tm.Strategy, cands, cursor, c.Country, cat.rules.ZonesOf(c.Country))
	})
	if err != nil || owner == "" {
		return err
	}
	if _, err := t.exec("UPDATE contacts SET owner = ?, updated_at = ? WHERE id = ?", owner, ms(now), c.ID); err != nil {
		return err
	}
	props := map[string]any{"owner": owner, "team": tm.Name, "strategy": tm.Strategy, "routing_version": cat.version,
		"turn": turn}
	if rule != "" {
		props["rule"] = rule
	} else {
		props["rule"] = "default_team"
	}
	if c.Owner != "" {
		props["from"] = c.Owner
	}
	if skip != "" {
		props["reason"] = "sla_breach"
	}
	c.Owner, c.UpdatedAt = owner, now
	return t.appendSystemEvent(c.ID, event.OwnerAssigned, "routing", now, props)
}

// takeTurn reads the team's cursor, picks with it and moves it, under
// the team row's lock, so that two leads arriving at once take two turns.
// It returns the owner picked and the cursor after the turn: the order in
// which turns were taken, which commits need not follow.
//
// On PostgreSQL this is a short transaction of its own: in the lead's,
// the lock would be held until the whole group of writes sharing it
// commits, and every lead of the team would queue behind that group. A
// turn taken for a lead whose transaction then fails is lost: the next
// lead goes to the owner after, as if that lead had been assigned.
func (t *tx) takeTurn(team string, pick func(cursor int64) (string, int64)) (string, int64, error) {
	turn := func(q func(string, ...any) *sql.Row, exec func(string, ...any) (sql.Result, error)) (string, int64, error) {
		var cursor int64
		if err := q("SELECT cursor FROM teams WHERE name = ?"+t.s.d.forUpdate, team).Scan(&cursor); err != nil {
			return "", 0, err
		}
		owner, next := pick(cursor)
		if owner == "" || next == cursor {
			return owner, next, nil
		}
		_, err := exec("UPDATE teams SET cursor = ? WHERE name = ?", next, team)
		return owner, next, err
	}
	if t.s.d.name != "postgres" {
		return turn(t.queryRow, t.exec) // the single writer: nothing runs beside
	}
	own, err := t.s.w.BeginTx(t.ctx, nil)
	if err != nil {
		return "", 0, err
	}
	defer own.Rollback()
	owner, next, err := turn(func(query string, args ...any) *sql.Row { return own.QueryRowContext(t.ctx, t.s.q(query), args...) },
		func(query string, args ...any) (sql.Result, error) {
			return own.ExecContext(t.ctx, t.s.q(query), args...)
		})
	if err != nil {
		return "", 0, err
	}
	return owner, next, own.Commit()
}

// openLeads counts the candidates' open leads (neither won nor lost).
func (t *tx) openLeads(cands []route.Candidate) (map[string]int, error) {
	args := make([]any, len(cands))
	for i, c := range cands {
		args[i] = c.Owner
	}
	return t.ownerCounts(`SELECT owner, COUNT(*) FROM contacts WHERE owner IN (?`+strings.Repeat(", ?", len(args)-1)+`)
		AND status NOT IN ('won', 'lost') AND erased_at IS NULL GROUP BY owner`, args...)
}

// ownerCounts reads the rows (owner, count) a query gives.
func (t *tx) ownerCounts(query string, args ...any) (map[string]int, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
}

// stopSLA stops a lead's clock at its first human contact.
func (t *tx) stopSLA(contactID int64, ev score.Event) error {
	res, err := t.exec(`UPDATE sla_clocks SET stopped_at = CASE WHEN arrived_at > ? THEN arrived_at ELSE ? END,
		stopped_by = ?, next_at = NULL WHERE contact_id = ? AND stopped_at IS NULL`, ms(ev.At), ms(ev.At), ev.Type, contactID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		_, err = t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerSLA, contactID)
	}
	return err
}

// slaClock is a row of sla_clocks.
type slaClock struct {
	team, owner                      string
	target                           time.Duration
	arrived, start, due              time.Time
	level                            int
	next, stopped, breached, touched sql.NullInt64
	stoppedBy, source                sql.NullString
	outside                          int
}

func (t *tx) readClock(id int64) (slaClock, error) {
	return scanClock(t.queryRow(`SELECT `+clockColumns+` FROM sla_clocks WHERE contact_id = ?`, id))
}

const clockColumns = `team, owner, target_ms, arrived_at, start_at, due_at, level, next_at, stopped_at, breached_at,
	first_touch_at, stopped_by, source, outside_hours`

func scanClock(row scanner) (slaClock, error) {
	var k slaClock
	var owner sql.NullString
	var target, arrived, start, due int64
	err := row.Scan(&k.team, &owner, &target, &arrived, &start, &due, &k.level, &k.next, &k.stopped, &k.breached,
		&k.touched, &k.stoppedBy, &k.source, &k.outside)
	k.owner, k.target = owner.String, time.Duration(target)*time.Millisecond
	k.arrived, k.start, k.due = fromMS(arrived), fromMS(start), fromMS(due)
	return k, err
}

// fireSLATimer runs the escalation levels of a lead's clock that fell due.
func (t *tx) fireSLATimer(id int64) error {
	drop := func() error {
		_, err := t.exec("DELETE FROM timers WHERE kind = ? AND contact_id = ?", timerSLA, id)
		return err
	}
	c, err := t.lockContact(id)
	if errors.Is(err, contact.ErrNotFound) {
		return drop()
	} else if err != nil {
		return err
	}
	k, err := t.readClock(id)
	if errors.Is(err, sql.ErrNoRows) {
		return drop()
	} else if err != nil {
		return err
	}
	cat, err := t.routing()
	if err != nil {
		return err
	}
	tm := cat.teams[k.team]
	if k.stopped.Valid || !k.next.Valid || tm == nil {
		return drop()
	}
	now := t.s.now()
	var doc *route.SLA
	if cat.rules != nil {
		doc = cat.rules.Doc.SLA
	}
	levels := doc.Levels()
	breached := k.breached
	for k.level < len(levels) {
		plan, ok := route.Plan(tm.calendar(cat.owners[c.Owner]), k.arrived, k.target, levels)
		if !ok || k.level >= len(plan.Marks) || plan.Marks[k.level].At.After(now) {
			break
		}
		l := levels[k.level]
		if l.At >= 100 && !breached.Valid {
			breached = sql.NullInt64{Int64: ms(k.due), Valid: true}
		}
		if err := t.escalate(cat, tm, &c, k, k.level, l, now); err != nil {
			return err
		}
		k.level++
	}
	var next any
	if k.level < len(levels) {
		if plan, ok := route.Plan(tm.calendar(cat.owners[c.Owner]), k.arrived, k.target, levels); ok && k.level < len(plan.Marks) {
			next = ms(plan.Marks[k.level].At)
		}
	}
	var breachedAt any
	if breached.Valid {
		breachedAt = breached.Int64
	}
	if _, err := t.exec("UPDATE sla_clocks SET level = ?, next_at = ?, owner = ?, breached_at = ? WHERE contact_id = ?",
		k.level, next, null(c.Owner), breachedAt, id); err != nil {
		return err
	}
	if next == nil {
		return drop()
	}
	_, err = t.exec("UPDATE timers SET due_at = ? WHERE kind = ? AND contact_id = ?", next, timerSLA, id)
	return err
}

// escalate does what one level of the ladder says: reassign the lead,
// email the people it names, and log an sla_escalated event (which
// webhooks subscribed to it receive, signed, with a Slack-ready text).
func (t *tx) escalate(cat *routingCatalog, tm *teamInfo, c *contact.Contact, k slaClock, level int, l route.Level, now time.Time) error {
	props := map[string]any{"level": level + 1, "at": l.At.String(), "team": tm.Name, "due": k.due,
		"breached": l.At >= 100}
	if c.Owner != "" {
		props["owner"] = c.Owner
	}
	before := c.Owner
	if l.Reassign {
		if err := t.assignOwner(cat, tm, c, "", before, now); err != nil {
			return err
		}
		if c.Owner != before {
			props["reassigned_to"] = c.Owner
			if _, err := t.createTask(TaskInput{ContactID: c.ID, Kind: "call", Title: "Call the lead " + leadName(c) + " (SLA breached)",
				Owner: c.Owner, Source: "sla", DueAt: now}, now); err != nil {
				return err
			}
		}
	}
	data := t.leadData(cat, tm, cat.owners[c.Owner], c, time.Time{})
	data["sla_level"], data["sla_at"] = fmt.Sprint(level+1), l.At.String()
	data["sla_due"] = k.due.In(tm.cal.Loc).Format("Monday 2 January 15:04 MST")
	var notified []string
	for _, who := range l.Notify {
		var name string
		switch who {
		case "owner":
			name = c.Owner
		case "team_lead":
			name = tm.Lead
		case "manager":
			name = tm.Manager
		}
		o := cat.owners[name]
		if o == nil {
			continue
		}
		notified = append(notified, who+":"+name)
		if _, err := t.template(TemplateSLA); errors.Is(err, ErrTemplateNotFound) {
			continue // no email template installed: the event and webhooks still say it
		} else if err != nil {
			return err
		}
		data["recipient_role"] = who
		if _, err := t.queueMessage(MessageInput{ContactID: c.ID, Template: TemplateSLA, Kind: KindInternal, Source: "sla",
			Recipient: o.Email, Data: data, IdempotencyKey: fmt.Sprintf("sla:%d:%d:%d:%s", c.ID, k.arrived.UnixMilli(), level, who)}, now); err != nil {
			return err
		}
	}
	props["notified"] = notified
	text := fmt.Sprintf("SLA %s for lead %s (team %s): first contact was due %s", l.At, leadName(c), tm.Name,
		k.due.In(tm.cal.Loc).Format("Mon 2 Jan 15:04 MST"))
	if r, ok := props["reassigned_to"]; ok {
		text += fmt.Sprintf("; reassigned from %s to %s", before, r)
	} else if c.Owner != "" {
		text += "; owner " + c.Owner
	}
	props["text"] = text
	return t.appendSystemEvent(c.ID, event.SLAEscalated, "sla", now, props)
}

// SLA is a lead's SLA clock, as the API shows it.
type SLA struct {
	ContactID    int64            `json:"contact_id"`
	Team         string           `json:"team"`
	Owner        string           `json:"owner,omitempty"`
	TargetSecs   int64            `json:"target_seconds"`
	ArrivedAt    time.Time        `json:"arrived_at"`
	OutsideHours bool             `json:"outside_hours" doc:"the lead arrived while the team was closed: the clock started at the next opening"`
	Level        int              `json:"escalation_level" doc:"escalation levels passed"`
	NextAt       *time.Time       `json:"next_escalation_at,omitempty"`
	BreachedAt   *time.Time       `json:"breached_at,omitempty"`
	StoppedBy    string           `json:"stopped_by,omitempty" doc:"the event of the first human contact"`
	FirstTouchAt *time.Time       `json:"first_touch_at,omitempty" doc:"when the first automated message was queued"`
	State        route.ClockState `json:"state"`
}

// ErrNoSLA means the contact has no SLA clock (it was not routed).
var ErrNoSLA = errors.New("this contact has no SLA clock: it arrived before routing rules were applied, or was imported")

// LeadSLA reads a lead's SLA clock and where it stands now.
func (s *Store) LeadSLA(ctx context.Context, contactID int64) (SLA, error) {
	k, err := scanClock(s.r.QueryRowContext(ctx, s.q(`SELECT `+clockColumns+` FROM sla_clocks WHERE contact_id = ?`), contactID))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := s.GetContact(ctx, contactID); err != nil {
			return SLA{}, err
		}
		return SLA{}, ErrNoSLA
	} else if err != nil {
		return SLA{}, s.dbErr("read SLA clock", err)
	}
	var gen sql.NullString
	if err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = '"+routingGenKey+"'").Scan(&gen); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return SLA{}, s.dbErr("read routing", err)
	}
	cat, err := s.catalogAt(ctx, parseGen(gen))
	if err != nil {
		return SLA{}, err
	}
	out := SLA{ContactID: contactID, Team: k.team, Owner: k.owner, TargetSecs: int64(k.target / time.Second),
		ArrivedAt: k.arrived, OutsideHours: k.outside == 1, Level: k.level, StoppedBy: k.stoppedBy.String}
	opt := func(v sql.NullInt64) *time.Time {
		if !v.Valid {
			return nil
		}
		t := fromMS(v.Int64)
		return &t
	}
	out.NextAt, out.BreachedAt, out.FirstTouchAt = opt(k.next), opt(k.breached), opt(k.touched)
	cal := route.Calendar{Loc: time.UTC}
	if tm := cat.teams[k.team]; tm != nil {
		cal = tm.calendar(cat.owners[k.owner])
	}
	out.State = route.State(cal, route.ClockPlan{Start: k.start, Due: k.due}, k.target, s.now(), opt(k.stopped))
	return out, nil
}

// catalogAt is the routing catalog of a generation, read outside a
// transaction (reports).
func (s *Store) catalogAt(ctx context.Context, gen int64) (*routingCatalog, error) {
	c := &s.routingCache
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil && cur.gen == gen {
		return cur, nil
	}
	return s.loadRouting(ctx, s.r, gen)
}
