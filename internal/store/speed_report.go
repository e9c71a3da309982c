package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"time"

	"github.com/nurturehq/nurture/internal/event"
)

// SpeedReportParams selects the leads of a speed-to-lead report: those
// routed in [From, To), grouped by owner, team or source.
type SpeedReportParams struct {
	From, To time.Time
	By       string // "owner", "team", "source" or "" (all leads in one group)
}

// MaxReportRange bounds a report's range.
const MaxReportRange = 366 * 24 * time.Hour

// SpeedGroup is one group's figures. Durations are wall-clock seconds
// from the lead's arrival.
type SpeedGroup struct {
	Key   string `json:"key" doc:"the owner, team or source; empty for leads without one"`
	Leads int    `json:"leads"`
	// FirstTouch is the time to the first automated message sent.
	FirstTouch Quantiles `json:"first_touch" doc:"seconds from arrival to the first automated message sent"`
	// FirstHuman is the time to the first human contact.
	FirstHuman Quantiles `json:"first_human" doc:"seconds from arrival to the first human contact"`
	Met        int       `json:"sla_met"`
	Breached   int       `json:"sla_breached"`
	Open       int       `json:"sla_open" doc:"clocks still running or paused, not yet due"`
	// Attainment is Met / (Met + Breached), in percent; null when neither.
	Attainment *float64 `json:"sla_attainment_percent"`
	// Levels counts the leads that reached each escalation level (index 0 is level 1).
	Levels []int `json:"escalations_by_level"`
	Booked int   `json:"meetings_booked"`
	Held   int   `json:"meetings_held"`
	NoShow int   `json:"meetings_no_show"`
	touch  []float64
	human  []float64
}

// Quantiles are the median and 90th percentile of a set of durations, in
// seconds, and how many there were.
type Quantiles struct {
	N   int      `json:"n"`
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

func quantiles(v []float64) Quantiles {
	q := Quantiles{N: len(v)}
	if len(v) == 0 {
		return q
	}
	slices.Sort(v)
	at := func(p float64) *float64 {
		x := v[min(len(v)-1, int(p*float64(len(v))))]
		return &x
	}
	q.P50, q.P90 = at(0.5), at(0.9)
	return q
}

// SpeedReport is the speed-to-lead report of a range.
type SpeedReport struct {
	From   time.Time    `json:"from"`
	To     time.Time    `json:"to"`
	By     string       `json:"by,omitempty"`
	Groups []SpeedGroup `json:"groups"`
}

// SpeedToLead reports time to first touch and first human contact, SLA
// attainment, escalations and meetings of the leads routed in a range.
func (s *Store) SpeedToLead(ctx context.Context, p SpeedReportParams) (SpeedReport, error) {
	out := SpeedReport{From: p.From, To: p.To, By: p.By, Groups: []SpeedGroup{}}
	now := s.now()
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT k.contact_id, k.team, k.owner, k.source, k.arrived_at, k.due_at,
		k.stopped_at, k.level,
		(SELECT MIN(o.sent_at) FROM outbox o WHERE o.contact_id = k.contact_id AND o.kind <> 'internal' AND o.sent_at IS NOT NULL)
		FROM sla_clocks k WHERE k.arrived_at >= ? AND k.arrived_at < ? ORDER BY k.contact_id`), ms(p.From), ms(p.To))
	if err != nil {
		return out, s.dbErr("read SLA clocks", err)
	}
	groups := map[string]*SpeedGroup{}
	byContact := map[int64]*SpeedGroup{}
	for rows.Next() {
		var id, arrived, due int64
		var team string
		var owner, source sql.NullString
		var stopped, sent sql.NullInt64
		var level int
		if err := rows.Scan(&id, &team, &owner, &source, &arrived, &due, &stopped, &level, &sent); err != nil {
			rows.Close()
			return out, s.dbErr("read SLA clocks", err)
		}
		key := ""
		switch p.By {
		case "owner":
			key = owner.String
		case "team":
			key = team
		case "source":
			key = source.String
		}
		g := groups[key]
		if g == nil {
			g = &SpeedGroup{Key: key, Levels: []int{}}
			groups[key] = g
		}
		g.Leads++
		byContact[id] = g
		if sent.Valid {
			g.touch = append(g.touch, float64(sent.Int64-arrived)/1000)
		}
		switch {
		case stopped.Valid:
			g.human = append(g.human, float64(stopped.Int64-arrived)/1000)
			if stopped.Int64 <= due {
				g.Met++
			} else {
				g.Breached++
			}
		case ms(now) >= due:
			g.Breached++
		default:
			g.Open++
		}
		for len(g.Levels) < level {
			g.Levels = append(g.Levels, 0)
		}
		for l := range level {
			g.Levels[l]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, s.dbErr("read SLA clocks", err)
	}
	if len(byContact) > 0 {
		rows, err := s.r.QueryContext(ctx, s.q(`SELECT e.contact_id, e.type, COUNT(*) FROM events e
			JOIN sla_clocks k ON k.contact_id = e.contact_id
			WHERE k.arrived_at >= ? AND k.arrived_at < ? AND e.type IN (?, ?, ?) GROUP BY e.contact_id, e.type`),
			ms(p.From), ms(p.To), event.MeetingBooked, event.MeetingHeld, event.MeetingNoShow)
		if err != nil {
			return out, s.dbErr("read meetings", err)
		}
		for rows.Next() {
			var id int64
			var typ string
			var n int
			if err := rows.Scan(&id, &typ, &n); err != nil {
				rows.Close()
				return out, s.dbErr("read meetings", err)
			}
			if g := byContact[id]; g != nil {
				switch typ {
				case event.MeetingBooked:
					g.Booked += n
				case event.MeetingHeld:
					g.Held += n
				case event.MeetingNoShow:
					g.NoShow += n
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, s.dbErr("read meetings", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		g.FirstTouch, g.FirstHuman = quantiles(g.touch), quantiles(g.human)
		if d := g.Met + g.Breached; d > 0 {
			a := float64(g.Met) * 100 / float64(d)
			g.Attainment = &a
		}
		out.Groups = append(out.Groups, *g)
	}
	return out, nil
}
