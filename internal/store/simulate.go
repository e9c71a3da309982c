package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/score"
)

// SimulateParams says what to simulate: a journey document (not saved),
// over how many days, from when (zero: now), and over every live contact
// or a random sample.
type SimulateParams struct {
	Document []byte
	Days     int
	Sample   int
	Start    time.Time
}

// MaxSimulateDays bounds a simulation's horizon.
const MaxSimulateDays = 366

// simPage is how many contacts the simulator reads at a time.
const simPage = 2000

// SimulateJourney runs a journey document over the contacts in virtual
// time with the engine the workers use, sending nothing and writing
// nothing (journey.Simulate says what it assumes).
func (s *Store) SimulateJourney(ctx context.Context, p SimulateParams) (journey.Report, error) {
	if p.Days <= 0 {
		p.Days = 30
	}
	if p.Days > MaxSimulateDays {
		return journey.Report{}, fmt.Errorf("days: at most %d", MaxSimulateDays)
	}
	if p.Sample < 0 {
		return journey.Report{}, errors.New("sample: want a positive number of contacts")
	}
	j, err := s.CheckJourney(ctx, p.Document)
	if err != nil {
		return journey.Report{}, err
	}
	if p.Start.IsZero() {
		p.Start = s.now()
	}
	compiled := map[string]*message.Compiled{}
	for _, send := range j.Sends() {
		if send.Template == "" || compiled[send.Template] != nil {
			continue
		}
		tp, err := s.GetTemplate(ctx, send.Template)
		if err != nil {
			return journey.Report{}, err
		}
		ct, err := message.Compile(message.Template{Subject: tp.Subject, HTML: tp.HTML, Text: tp.Text})
		if err != nil {
			return journey.Report{}, fmt.Errorf("template %s: %w", tp.Name, err)
		}
		compiled[send.Template] = ct
	}
	// The journey's enrolments, when it exists: re-entry rules apply.
	var journeyID int64
	err = s.r.QueryRowContext(ctx, s.q("SELECT id FROM journeys WHERE name = ?"), j.Doc.Name).Scan(&journeyID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return journey.Report{}, s.dbErr("simulate", err)
	}
	set, err := s.JourneySettings(ctx)
	if err != nil {
		return journey.Report{}, err
	}
	opts := journey.SimOptions{Start: p.Start, Days: p.Days, Cap: set.FrequencyCap,
		Render: func(name string, c *contact.Contact) error {
			if ct := compiled[name]; ct != nil {
				_, err := ct.Render(c, nil)
				return err
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []journey.SimContact, 4)
	var loadErr error
	go func() {
		defer close(pages)
		loadErr = s.loadSimContacts(ctx, j, journeyID, p, pages)
	}()
	rep := j.Simulate(pages, opts)
	if loadErr != nil {
		return journey.Report{}, s.dbErr("simulate", loadErr)
	}
	return rep, ctx.Err()
}

// loadSimContacts reads the contacts (all, or a sample) a page at a time,
// with what the engine and the entry rules need of each.
func (s *Store) loadSimContacts(ctx context.Context, j *journey.Journey, journeyID int64, p SimulateParams, out chan<- []journey.SimContact) error {
	var sample []int64
	if p.Sample > 0 {
		rows, err := s.r.QueryContext(ctx, s.q("SELECT id FROM contacts WHERE erased_at IS NULL ORDER BY random() LIMIT ?"), p.Sample)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			sample = append(sample, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.Sort(sample)
		if len(sample) == 0 {
			return nil
		}
	}
	var after int64
	for {
		var rows *sql.Rows
		var err error
		if sample != nil {
			n := min(simPage, len(sample))
			rows, err = s.r.QueryContext(ctx, s.q("SELECT "+contactColumns+" FROM contacts WHERE "+s.inIDs("id")+" ORDER BY id"),
				s.idsArg(sample[:n]))
			sample = sample[n:]
		} else {
			rows, err = s.r.QueryContext(ctx, s.q("SELECT "+contactColumns+" FROM contacts WHERE erased_at IS NULL AND id > ? ORDER BY id LIMIT ?"),
				after, simPage)
		}
		if err != nil {
			return err
		}
		page := make([]journey.SimContact, 0, simPage)
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				rows.Close()
				return err
			}
			page = append(page, journey.SimContact{Contact: &c})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := s.simDetails(ctx, j, journeyID, p.Start, page); err != nil {
			return err
		}
		select {
		case out <- page:
		case <-ctx.Done():
			return ctx.Err()
		}
		after = page[len(page)-1].Contact.ID
		if sample != nil && len(sample) == 0 {
			return nil
		}
	}
}

// simDetails reads, for a page of contacts in id order, what the engine
// needs beyond the contact: recent messages, this journey's enrolments,
// and scores, segments and consents when the journey reads them. Each is
// one statement over the page's id range.
func (s *Store) simDetails(ctx context.Context, j *journey.Journey, journeyID int64, start time.Time, page []journey.SimContact) error {
	lo, hi := page[0].Contact.ID, page[len(page)-1].Contact.ID
	at := make(map[int64]*journey.SimContact, len(page))
	for i := range page {
		at[page[i].Contact.ID] = &page[i]
	}
	each := func(query string, scan func(sc *journey.SimContact, rows *sql.Rows) error, args ...any) error {
		rows, err := s.r.QueryContext(ctx, s.q(query), append([]any{lo, hi}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var sc journey.SimContact
			// The first column is the contact's id; scan reads the rest.
			if err := scan(&sc, rows); err != nil {
				return err
			}
			id = sc.Contact.ID
			if dst := at[id]; dst != nil {
				merge(dst, &sc)
			}
		}
		return rows.Err()
	}
	err := each(`SELECT contact_id, due_at, channel FROM outbox WHERE contact_id BETWEEN ? AND ? AND kind = ? AND due_at > ? AND due_at <= ?
		AND status NOT IN ('suppressed', 'failed')`, func(sc *journey.SimContact, rows *sql.Rows) error {
		var id, due int64
		var channel string
		err := rows.Scan(&id, &due, &channel)
		sc.Contact, sc.Recent = &contact.Contact{ID: id}, []journey.Sent{{At: fromMS(due), Channel: channel}}
		return err
	}, KindMarketing, ms(start.Add(-7*24*time.Hour)), ms(start))
	if err != nil {
		return err
	}
	if journeyID != 0 {
		err := each(`SELECT contact_id, MAX(entered_at), MAX(CASE WHEN status IN ('active', 'waiting', 'paused') THEN 1 ELSE 0 END)
			FROM enrolments WHERE contact_id BETWEEN ? AND ? AND journey_id = ? GROUP BY contact_id`, func(sc *journey.SimContact, rows *sql.Rows) error {
			var id, last, in int64
			err := rows.Scan(&id, &last, &in)
			sc.Contact, sc.Last, sc.In = &contact.Contact{ID: id}, fromMS(last), in == 1
			return err
		}, journeyID)
		if err != nil {
			return err
		}
	}
	if j.HasBranch() {
		err := each(`SELECT contact_id, state FROM score_state WHERE contact_id BETWEEN ? AND ?`, func(sc *journey.SimContact, rows *sql.Rows) error {
			var id int64
			var raw string
			if err := rows.Scan(&id, &raw); err != nil {
				return err
			}
			var st score.State
			if err := json.Unmarshal([]byte(raw), &st); err != nil {
				return fmt.Errorf("score state of contact %d: %w", id, err)
			}
			sc.Contact, sc.Scores = &contact.Contact{ID: id}, st.Values
			return nil
		})
		if err != nil {
			return err
		}
	}
	if j.UsesSegments() {
		err := each(`SELECT m.contact_id, s.name FROM segment_members m JOIN segments s ON s.id = m.segment_id
			WHERE m.contact_id BETWEEN ? AND ?`, func(sc *journey.SimContact, rows *sql.Rows) error {
			var id int64
			var name string
			err := rows.Scan(&id, &name)
			sc.Contact, sc.Segments = &contact.Contact{ID: id}, []string{name}
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(j.Consents()) > 0 {
		ledgers := map[int64][]contact.Consent{}
		err := each(`SELECT contact_id, channel, purpose, status, occurred_at FROM consents WHERE contact_id BETWEEN ? AND ? ORDER BY id`,
			func(sc *journey.SimContact, rows *sql.Rows) error {
				var id, at int64
				var cs contact.Consent
				err := rows.Scan(&id, &cs.Channel, &cs.Purpose, &cs.Status, &at)
				cs.OccurredAt = fromMS(at)
				ledgers[id] = append(ledgers[id], cs)
				sc.Contact = &contact.Contact{ID: id}
				return err
			})
		if err != nil {
			return err
		}
		for id, ledger := range ledgers {
			sc := at[id]
			if sc == nil {
				continue
			}
			sc.Granted = map[string]bool{}
			for _, cs := range contact.CurrentConsents(ledger) {
				if cs.Purpose == KindMarketing && cs.Status == contact.ConsentGranted {
					sc.Granted[cs.Channel] = true
				}
			}
		}
	}
	return nil
}

// merge adds what one row read (src, with only the contact's id) to the
// contact's entry.
func merge(dst, src *journey.SimContact) {
	dst.Recent = append(dst.Recent, src.Recent...)
	dst.Segments = append(dst.Segments, src.Segments...)
	if src.Scores != nil {
		dst.Scores = src.Scores
	}
	if !src.Last.IsZero() {
		dst.Last, dst.In = src.Last, src.In
	}
}

// inIDs is a condition "column is one of a list of ids" with one parameter
// whatever the list's length, so one prepared statement (see idsArg).
func (s *Store) inIDs(column string) string {
	if s.d.name == "postgres" {
		return column + " = ANY(?)"
	}
	return column + " IN (SELECT value FROM json_each(?))"
}

// idsArg is the argument for inIDs: a JSON array on SQLite.
func (s *Store) idsArg(ids []int64) any {
	if s.d.name == "postgres" {
		return ids
	}
	b := make([]byte, 0, 8*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
