package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/score"
)

const contactColumns = `id, email, email_display, phone, first_name, last_name, company, role, country,
	time_zone, source, offer, persona, request_type, potential_value, urgency, budget, status, next_step,
	owner, tags, custom_fields, created_at, updated_at, lifecycle, opportunity_value, expected_close_date,
	won_revenue, closed_at`

// contactScan reads only the contact columns some fields need: scans of
// many contacts for a few fields (segment builds, previews) then skip
// reading and decoding the rest, which the SQLite driver charges for per
// column and row.
type contactScan struct {
	cols []string
	list string
}

// newContactScan returns the scan for segment field names (country, tags,
// custom.plan, score.fit…; fields that are not columns are ignored).
func newContactScan(fields []string) contactScan {
	need := map[string]bool{}
	for _, f := range fields {
		if strings.HasPrefix(f, "custom.") {
			f = "custom_fields"
		}
		need[f] = true
	}
	cs := contactScan{cols: []string{"id"}}
	for _, col := range strings.Split(contactColumns, ",") {
		if col = strings.TrimSpace(col); col != "id" && need[col] {
			cs.cols = append(cs.cols, col)
		}
	}
	cs.list = strings.Join(cs.cols, ", ")
	return cs
}

func (cs contactScan) scan(row scanner) (contact.Contact, error) {
	var c contact.Contact
	vals := make([]any, len(cs.cols))
	ptrs := make([]any, len(cs.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		return c, err
	}
	text := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return ""
	}
	number := func(v any) *float64 {
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return nil
		}
		return &f
	}
	millis := func(v any) int64 { n, _ := v.(int64); return n }
	c.Tags, c.CustomFields = []string{}, map[string]any{}
	for i, col := range cs.cols {
		v := vals[i]
		switch col {
		case "id":
			c.ID = millis(v)
		case "email":
			c.Email = text(v)
		case "phone":
			c.Phone = text(v)
		case "first_name":
			c.FirstName = text(v)
		case "last_name":
			c.LastName = text(v)
		case "company":
			c.Company = text(v)
		case "role":
			c.Role = text(v)
		case "country":
			c.Country = text(v)
		case "time_zone":
			c.TimeZone = text(v)
		case "source":
			c.Source = text(v)
		case "offer":
			c.Offer = text(v)
		case "persona":
			c.Persona = text(v)
		case "request_type":
			c.RequestType = text(v)
		case "urgency":
			c.Urgency = text(v)
		case "status":
			c.Status = text(v)
		case "next_step":
			c.NextStep = text(v)
		case "owner":
			c.Owner = text(v)
		case "lifecycle":
			c.Lifecycle = text(v)
		case "expected_close_date":
			c.ExpectedCloseDate = text(v)
		case "potential_value":
			c.PotentialValue = number(v)
		case "budget":
			c.Budget = number(v)
		case "opportunity_value":
			c.OpportunityValue = number(v)
		case "won_revenue":
			c.WonRevenue = number(v)
		case "created_at":
			c.CreatedAt = fromMS(millis(v))
		case "updated_at":
			c.UpdatedAt = fromMS(millis(v))
		case "closed_at":
			if v != nil {
				at := fromMS(millis(v))
				c.ClosedAt = &at
			}
		case "tags":
			if raw := text(v); raw != "" {
				if err := json.Unmarshal([]byte(raw), &c.Tags); err != nil {
					return c, fmt.Errorf("decode tags of contact %d: %w", c.ID, err)
				}
			}
		case "custom_fields":
			if raw := text(v); raw != "" {
				if err := json.Unmarshal([]byte(raw), &c.CustomFields); err != nil {
					return c, fmt.Errorf("decode custom fields of contact %d: %w", c.ID, err)
				}
			}
		}
	}
	return c, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanContact(row scanner) (contact.Contact, error) {
	var c contact.Contact
	var email, display, phone, first, last, company, role, country, tz, source, offer, persona,
		reqType, urgency, next, owner, tags, custom, closeDate sql.NullString
	var value, budget, oppValue, won sql.NullFloat64
	var created, updated int64
	var closed sql.NullInt64
	err := row.Scan(&c.ID, &email, &display, &phone, &first, &last, &company, &role, &country, &tz,
		&source, &offer, &persona, &reqType, &value, &urgency, &budget, &c.Status, &next, &owner,
		&tags, &custom, &created, &updated, &c.Lifecycle, &oppValue, &closeDate, &won, &closed)
	if err != nil {
		return c, err
	}
	c.Email, c.EmailDisplay, c.Phone = email.String, display.String, phone.String
	c.FirstName, c.LastName, c.Company, c.Role = first.String, last.String, company.String, role.String
	c.Country, c.TimeZone, c.Source, c.Offer = country.String, tz.String, source.String, offer.String
	c.Persona, c.RequestType, c.Urgency = persona.String, reqType.String, urgency.String
	c.NextStep, c.Owner = next.String, owner.String
	if value.Valid {
		c.PotentialValue = &value.Float64
	}
	if budget.Valid {
		c.Budget = &budget.Float64
	}
	if oppValue.Valid {
		c.OpportunityValue = &oppValue.Float64
	}
	if won.Valid {
		c.WonRevenue = &won.Float64
	}
	if closed.Valid {
		at := fromMS(closed.Int64)
		c.ClosedAt = &at
	}
	c.ExpectedCloseDate = closeDate.String
	c.Tags, c.CustomFields = []string{}, map[string]any{}
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &c.Tags); err != nil {
			return c, fmt.Errorf("decode tags of contact %d: %w", c.ID, err)
		}
	}
	if custom.Valid {
		if err := json.Unmarshal([]byte(custom.String), &c.CustomFields); err != nil {
			return c, fmt.Errorf("decode custom fields of contact %d: %w", c.ID, err)
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// contactValues returns the column values of c in contactColumns order, less id.
func contactValues(c contact.Contact) []any {
	var tags, custom any
	if len(c.Tags) > 0 {
		b, _ := json.Marshal(c.Tags)
		tags = string(b)
	}
	if len(c.CustomFields) > 0 {
		b, _ := json.Marshal(c.CustomFields)
		custom = string(b)
	}
	var closedAt any
	if c.ClosedAt != nil {
		closedAt = ms(*c.ClosedAt)
	}
	return []any{null(c.Email), null(c.EmailDisplay), null(c.Phone), null(c.FirstName), null(c.LastName),
		null(c.Company), null(c.Role), null(c.Country), null(c.TimeZone), null(c.Source), null(c.Offer),
		null(c.Persona), null(c.RequestType), nullFloat(c.PotentialValue), null(c.Urgency), nullFloat(c.Budget),
		c.Status, null(c.NextStep), null(c.Owner), tags, custom, ms(c.CreatedAt), ms(c.UpdatedAt),
		c.Lifecycle, nullFloat(c.OpportunityValue), null(c.ExpectedCloseDate), nullFloat(c.WonRevenue), closedAt}
}

// WriteMode says how a contact write treats an existing match.
type WriteMode int

const (
	// Upsert merges into the contact matching the email or phone, or creates one.
	Upsert WriteMode = iota
	// Create refuses with contact.ErrExists when the email or phone is taken.
	Create
)

// WriteContactParams is one create or upsert.
type WriteContactParams struct {
	Input    contact.Input          // normalised
	Consents []contact.ConsentInput // normalised; recorded when they change the current state
	Mode     WriteMode
	Source   string // who writes: "api", "form", "import"; stamped on events
}

// WriteContactResult is the contact after the write.
type WriteContactResult struct {
	Contact contact.Contact
	Created bool
}

// WriteContact creates or upserts a contact, writing lead_created or
// field_changed and consent_changed events in the same transaction.
func (s *Store) WriteContact(ctx context.Context, p WriteContactParams) (WriteContactResult, error) {
	var res WriteContactResult
	key := "e:" + p.Input.Email
	if p.Input.Email == "" {
		key = "p:" + p.Input.Phone
	}
	err := s.writer.doKeyed(key, func(t *tx) error {
		var err error
		res, err = t.writeContact(p)
		return err
	})
	return res, err
}

func (t *tx) findContactID(column, value string) (int64, error) {
	if value == "" {
		return 0, nil
	}
	var id int64
	err := t.queryRow("SELECT id FROM contacts WHERE "+column+" = ?", value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

func (t *tx) writeContact(p WriteContactParams) (WriteContactResult, error) {
	now := t.s.now()
	in := p.Input
	byEmail, err := t.findContactID("email", in.Email)
	if err != nil {
		return WriteContactResult{}, err
	}
	byPhone, err := t.findContactID("phone", in.Phone)
	if err != nil {
		return WriteContactResult{}, err
	}
	if byEmail != 0 && byPhone != 0 && byEmail != byPhone {
		return WriteContactResult{}, &contact.ConflictError{EmailContact: byEmail, PhoneContact: byPhone}
	}
	id := max(byEmail, byPhone)
	var res WriteContactResult
	if id == 0 {
		c := contact.New(in, now)
		if err := contact.Check(c); err != nil {
			return res, err
		}
		if c, err = t.insertContact(c, p.Source, now); err != nil {
			return res, err
		}
		res = WriteContactResult{Contact: c, Created: true}
	} else {
		if p.Mode == Create {
			return res, contact.ErrExists
		}
		old, err := t.lockContact(id)
		if err != nil {
			return res, err
		}
		c, changes := contact.Merge(old, in, false, now)
		if err := contact.Check(c); err != nil {
			return res, err
		}
		if c.Status != old.Status {
			more, _, err := t.stageMove(old, &c, MoveParams{Stage: c.Status}, now)
			if err != nil {
				return res, err
			}
			changes = append(changes, more...)
		}
		t.stale = 0
		if err := t.updateContact(old, c, changes, p.Source, now, change{}); err != nil {
			return res, err
		}
		if t.stale == id {
			if c, err = t.lockContactWith(id, ""); err != nil {
				return res, err
			}
		}
		res = WriteContactResult{Contact: c}
	}
	if err := t.recordConsents(res.Contact.ID, p.Consents, p.Source, now); err != nil {
		return res, err
	}
	if res.Created && p.Source != "import" && p.Source != SourceBooking {
		// A new lead is answered at once; an import is not a request, and
		// a booking is answered by its meeting (whose owner becomes the
		// lead's: see bookMeeting).
		if err := t.speedToLead(&res.Contact, now); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (t *tx) insertContact(c contact.Contact, source string, now time.Time) (contact.Contact, error) {
	props := map[string]string{}
	for k, v := range map[string]string{"source": c.Source, "offer": c.Offer, "request_type": c.RequestType} {
		if v != "" {
			props[k] = v
		}
	}
	if !t.inEngine {
		raw, _ := json.Marshal(props)
		if len(props) == 0 {
			raw = nil
		}
		var err error
		if c, err = t.firstBand(c, score.Event{Type: event.LeadCreated, Source: source, At: now, Properties: raw}); err != nil {
			return c, err
		}
	}
	cols := strings.TrimPrefix(contactColumns, "id, ")
	err := t.queryRow("INSERT INTO contacts ("+cols+") VALUES (?"+strings.Repeat(", ?", strings.Count(cols, ","))+") RETURNING id",
		contactValues(c)...).Scan(&c.ID)
	if err != nil {
		return c, err
	}
	if t.created == nil {
		t.created = map[int64]bool{}
	}
	t.created[c.ID] = true
	// What a new contact has is what this transaction gives it: its row
	// is locked by the insert, and its messages of the last 7 days (the
	// frequency cap) are those it queues (noteQueued keeps the entry).
	t.lock(c.ID)
	if t.recent == nil {
		t.recent = map[int64][]journey.Sent{}
	}
	t.recent[c.ID] = nil
	if err := t.syncTags(c.ID, nil, c.Tags); err != nil {
		return c, err
	}
	evID, raw, err := t.systemEvent(c.ID, event.LeadCreated, source, now, props)
	if err != nil {
		return c, err
	}
	if c.Owner != "" {
		if err := t.appendSystemEvent(c.ID, event.OwnerAssigned, source, now, map[string]string{"owner": c.Owner}); err != nil {
			return c, err
		}
	}
	t.stale = 0
	if err := t.scoreEvent(c.ID, score.Event{ID: evID, Type: event.LeadCreated, Source: source, At: now, Properties: raw}, &c); err != nil {
		return c, err
	}
	// Scoring may have changed the contact (a band's tags): return it as stored.
	if t.stale == c.ID {
		return t.lockContactWith(c.ID, "")
	}
	return c, nil
}

// lockContact loads a live contact for update (row-locked on PostgreSQL).
func (t *tx) lockContact(id int64) (contact.Contact, error) {
	return t.lockContactWith(id, t.s.d.forUpdate)
}

func (t *tx) lockContactWith(id int64, lock string) (contact.Contact, error) {
	c, err := scanContact(t.queryRow("SELECT "+contactColumns+" FROM contacts WHERE id = ? AND erased_at IS NULL"+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, contact.ErrNotFound
	}
	return c, err
}

// change says why and by whom a stage or lifecycle moved, for its event.
type change struct {
	Reason, By string
}

func (w change) props(m map[string]string) map[string]string {
	if w.Reason != "" {
		m["reason"] = w.Reason
	}
	if w.By != "" {
		m["by"] = w.By
	}
	return m
}

// updateContact writes c over old when changes is not empty, with a
// field_changed event (and stage_changed, lifecycle_changed, owner_assigned
// when those moved), then lets scoring see the change.
func (t *tx) updateContact(old, c contact.Contact, changes []contact.Change, source string, now time.Time, why change) error {
	if len(changes) == 0 && old.EmailDisplay == c.EmailDisplay {
		return nil
	}
	if err := t.writeContactRow(old, c); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	evID, raw, err := t.systemEvent(c.ID, event.FieldChanged, source, now, map[string]any{"changes": changes})
	if err != nil {
		return err
	}
	// Stage, lifecycle and owner changes also get their own events: the
	// engine and the reports read those rather than digging through field_changed.
	if old.Status != c.Status {
		if err := t.appendSystemEvent(c.ID, event.StageChanged, source, now,
			why.props(map[string]string{"from": old.Status, "to": c.Status})); err != nil {
			return err
		}
	}
	if old.Lifecycle != c.Lifecycle {
		if err := t.appendSystemEvent(c.ID, event.LifecycleChanged, source, now,
			why.props(map[string]string{"from": old.Lifecycle, "to": c.Lifecycle})); err != nil {
			return err
		}
	}
	if old.Owner != c.Owner {
		if err := t.appendSystemEvent(c.ID, event.OwnerAssigned, source, now, map[string]string{"owner": c.Owner, "previous": old.Owner}); err != nil {
			return err
		}
	}
	return t.scoreEvent(c.ID, score.Event{ID: evID, Type: event.FieldChanged, Source: source, At: now, Properties: raw}, &c)
}

// writeContactRow writes c over old, with no event.
func (t *tx) writeContactRow(old, c contact.Contact) error {
	cols := strings.Split(strings.TrimPrefix(contactColumns, "id, "), ",")
	set := make([]string, len(cols))
	for i, col := range cols {
		set[i] = strings.TrimSpace(col) + " = ?"
	}
	args := append(contactValues(c), c.ID)
	if _, err := t.exec("UPDATE contacts SET "+strings.Join(set, ", ")+" WHERE id = ?", args...); err != nil {
		return err
	}
	if !slices.Equal(old.Tags, c.Tags) {
		return t.syncTags(c.ID, old.Tags, c.Tags)
	}
	return nil
}

func (t *tx) syncTags(id int64, old, tags []string) error {
	for _, tag := range old {
		if !slices.Contains(tags, tag) {
			if _, err := t.exec("DELETE FROM contact_tags WHERE tag = ? AND contact_id = ?", tag, id); err != nil {
				return err
			}
		}
	}
	for _, tag := range tags {
		if !slices.Contains(old, tag) {
			if _, err := t.exec("INSERT INTO contact_tags (tag, contact_id) VALUES (?, ?)", tag, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// PatchContact applies a partial update (tags replaced, cleared fields
// emptied) to a live contact.
func (s *Store) PatchContact(ctx context.Context, id int64, in contact.Input, source string) (contact.Contact, error) {
	var res contact.Contact
	err := s.writer.doKeyed(idKey(id), func(t *tx) error {
		now := t.s.now()
		old, err := t.lockContact(id)
		if err != nil {
			return err
		}
		c, changes := contact.Merge(old, in, true, now)
		if err := contact.Check(c); err != nil {
			return err
		}
		if c.Status != old.Status {
			more, _, err := t.stageMove(old, &c, MoveParams{Stage: c.Status}, now)
			if err != nil {
				return err
			}
			changes = append(changes, more...)
		}
		for _, idf := range []struct{ col, v, old string }{{"email", c.Email, old.Email}, {"phone", c.Phone, old.Phone}} {
			if idf.v == idf.old || idf.v == "" {
				continue
			}
			other, err := t.findContactID(idf.col, idf.v)
			if err != nil {
				return err
			}
			if other != 0 && other != id {
				return &contact.ValidationError{Field: idf.col, Reason: "belongs to another contact"}
			}
		}
		t.stale = 0
		if err := t.updateContact(old, c, changes, source, now, change{}); err != nil {
			return err
		}
		res = c
		if t.stale == id {
			res, err = t.lockContactWith(id, "")
		}
		return err
	})
	return res, err
}

// GetContact returns a live contact.
func (s *Store) GetContact(ctx context.Context, id int64) (contact.Contact, error) {
	c, err := scanContact(s.r.QueryRowContext(ctx, s.q("SELECT "+contactColumns+" FROM contacts WHERE id = ? AND erased_at IS NULL"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, contact.ErrNotFound
	}
	return c, s.dbErr("get contact", err)
}

// ListContactsParams filters and pages a contact listing. Empty filters match all.
type ListContactsParams struct {
	Email, Phone, Tag, Owner, Source string // Email and Phone normalised
	UpdatedSince                     time.Time
	After                            int64 // cursor: the last id of the previous page
	Limit                            int
}

// ListContacts returns live contacts in id order, and the cursor of the next
// page (0 when this is the last).
func (s *Store) ListContacts(ctx context.Context, p ListContactsParams) ([]contact.Contact, int64, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	from := "contacts"
	if p.Tag != "" {
		from = "contacts JOIN contact_tags ON contact_tags.contact_id = contacts.id"
		add("contact_tags.tag = ?", p.Tag)
	}
	where = append(where, "erased_at IS NULL")
	add("id > ?", p.After)
	for col, v := range map[string]string{"email": p.Email, "phone": p.Phone, "owner": p.Owner, "source": p.Source} {
		if v != "" {
			add(col+" = ?", v)
		}
	}
	if !p.UpdatedSince.IsZero() {
		add("updated_at >= ?", ms(p.UpdatedSince))
	}
	args = append(args, p.Limit+1)
	// contact_tags has no column named like one of contacts', so none needs qualifying.
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+contactColumns+" FROM "+from+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY id LIMIT ?"), args...)
	if err != nil {
		return nil, 0, s.dbErr("list contacts", err)
	}
	defer rows.Close()
	out := []contact.Contact{}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, 0, s.dbErr("list contacts", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.dbErr("list contacts", err)
	}
	var next int64
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// idKey is the writer's lock-order key of a request on a known contact.
func idKey(id int64) string { return fmt.Sprintf("i:%020d", id) }
