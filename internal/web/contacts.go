package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
)

// ContactBody is a contact as sent by a client. Every field is optional; an
// upsert needs an email or a phone to match on.
type ContactBody struct {
	Email             string         `json:"email,omitempty" maxLength:"254" doc:"identity; stored lower-cased, the typed form kept as email_display"`
	Phone             string         `json:"phone,omitempty" maxLength:"32" doc:"any common form; stored in E.164, read in the contact's country (else the server's default region)"`
	FirstName         string         `json:"first_name,omitempty" maxLength:"200"`
	LastName          string         `json:"last_name,omitempty" maxLength:"200"`
	Company           string         `json:"company,omitempty" maxLength:"200"`
	Role              string         `json:"role,omitempty" maxLength:"200"`
	Country           string         `json:"country,omitempty" maxLength:"64" doc:"ISO 3166-1 code (FR, FRA or 250)"`
	TimeZone          string         `json:"time_zone,omitempty" maxLength:"64" doc:"IANA time zone, e.g. Europe/Paris"`
	Source            string         `json:"source,omitempty" maxLength:"200"`
	Offer             string         `json:"offer,omitempty" maxLength:"200"`
	Persona           string         `json:"persona,omitempty" maxLength:"200"`
	RequestType       string         `json:"request_type,omitempty" maxLength:"200"`
	PotentialValue    *float64       `json:"potential_value,omitempty" minimum:"0"`
	Urgency           string         `json:"urgency,omitempty" enum:"low,medium,high"`
	Budget            *float64       `json:"budget,omitempty" minimum:"0"`
	Status            string         `json:"status,omitempty" enum:"new,contacted,nurture,meeting_booked,meeting_held,qualified,won,lost" doc:"on create any stage; on update the move must be allowed (see POST /api/v1/contacts/{id}/stage)"`
	Lifecycle         string         `json:"lifecycle,omitempty" enum:"subscriber,lead,mql,sal,sql,opportunity,customer,disqualified" doc:"on create any stage; an upsert only raises it"`
	OpportunityValue  *float64       `json:"opportunity_value,omitempty" minimum:"0"`
	ExpectedCloseDate string         `json:"expected_close_date,omitempty" maxLength:"10" doc:"YYYY-MM-DD"`
	NextStep          string         `json:"next_step,omitempty" maxLength:"1000"`
	Owner             string         `json:"owner,omitempty" maxLength:"200"`
	Tags              []string       `json:"tags,omitempty" maxItems:"50"`
	CustomFields      map[string]any `json:"custom_fields,omitempty" maxProperties:"100"`
	Consents          []ConsentBody  `json:"consents,omitempty" maxItems:"16" doc:"recorded in the consent ledger with source api unless given"`
}

// ConsentBody is one consent statement.
type ConsentBody struct {
	Channel        string     `json:"channel" enum:"email,sms,whatsapp,push"`
	Purpose        string     `json:"purpose" enum:"marketing,transactional"`
	Status         string     `json:"status" enum:"granted,withdrawn,pending_confirmation"`
	Source         string     `json:"source,omitempty" enum:"api,form,import"`
	WordingVersion string     `json:"wording_version,omitempty" maxLength:"64" doc:"version of the consent text the person saw"`
	IP             string     `json:"ip,omitempty" maxLength:"64"`
	OccurredAt     *time.Time `json:"occurred_at,omitempty"`
}

func (b ContactBody) input() contact.Input {
	return contact.Input{Email: b.Email, Phone: b.Phone, FirstName: b.FirstName, LastName: b.LastName,
		Company: b.Company, Role: b.Role, Country: b.Country, TimeZone: b.TimeZone, Source: b.Source,
		Offer: b.Offer, Persona: b.Persona, RequestType: b.RequestType, PotentialValue: b.PotentialValue,
		Urgency: b.Urgency, Budget: b.Budget, Status: b.Status, NextStep: b.NextStep, Owner: b.Owner,
		Lifecycle: b.Lifecycle, OpportunityValue: b.OpportunityValue, ExpectedCloseDate: b.ExpectedCloseDate,
		Tags: b.Tags, CustomFields: b.CustomFields}
}

func (s *Server) consentInputs(in []ConsentBody, prefix string) ([]contact.ConsentInput, error) {
	out := make([]contact.ConsentInput, 0, len(in))
	for i, c := range in {
		ci := contact.ConsentInput{Channel: c.Channel, Purpose: c.Purpose, Status: c.Status, Source: c.Source,
			WordingVersion: c.WordingVersion, IP: c.IP}
		if ci.Source == "" {
			ci.Source = "api"
		}
		if c.OccurredAt != nil {
			if err := event.CheckOccurredAt(*c.OccurredAt, s.clock.Now()); err != nil {
				return nil, s.problem(err, prefix+strconv.Itoa(i)+"].")
			}
			ci.OccurredAt = c.OccurredAt.UTC()
		}
		ci, err := contact.NormalizeConsent(ci, prefix+strconv.Itoa(i)+"].")
		if err != nil {
			return nil, s.problem(err, "")
		}
		out = append(out, ci)
	}
	return out, nil
}

type contactInput struct {
	Body ContactBody
}

type contactOutput struct {
	Status int
	Body   contact.Contact
}

type idInput struct {
	ID int64 `path:"id" minimum:"1" doc:"contact id"`
}

type patchInput struct {
	ID      int64 `path:"id" minimum:"1"`
	RawBody []byte
	Body    PatchBody
}

// PatchBody is a JSON merge patch (RFC 7396) of a contact: absent fields are
// kept, null or "" clears a field, tags are replaced, custom_fields merged
// key by key (null removes a key).
type PatchBody struct {
	Email             *string        `json:"email,omitempty" maxLength:"254" nullable:"true"`
	Phone             *string        `json:"phone,omitempty" maxLength:"32" nullable:"true"`
	FirstName         *string        `json:"first_name,omitempty" maxLength:"200" nullable:"true"`
	LastName          *string        `json:"last_name,omitempty" maxLength:"200" nullable:"true"`
	Company           *string        `json:"company,omitempty" maxLength:"200" nullable:"true"`
	Role              *string        `json:"role,omitempty" maxLength:"200" nullable:"true"`
	Country           *string        `json:"country,omitempty" maxLength:"64" nullable:"true"`
	TimeZone          *string        `json:"time_zone,omitempty" maxLength:"64" nullable:"true"`
	Source            *string        `json:"source,omitempty" maxLength:"200" nullable:"true"`
	Offer             *string        `json:"offer,omitempty" maxLength:"200" nullable:"true"`
	Persona           *string        `json:"persona,omitempty" maxLength:"200" nullable:"true"`
	RequestType       *string        `json:"request_type,omitempty" maxLength:"200" nullable:"true"`
	PotentialValue    *float64       `json:"potential_value,omitempty" minimum:"0" nullable:"true"`
	Urgency           *string        `json:"urgency,omitempty" maxLength:"16" nullable:"true"`
	Budget            *float64       `json:"budget,omitempty" minimum:"0" nullable:"true"`
	Status            string         `json:"status,omitempty" enum:"new,contacted,nurture,meeting_booked,meeting_held,qualified,won,lost" doc:"the move must be allowed; lost needs a reason: use POST /api/v1/contacts/{id}/stage"`
	Lifecycle         string         `json:"lifecycle,omitempty" enum:"subscriber,lead,mql,sal,sql,opportunity,customer,disqualified" doc:"only raises it; other moves: POST /api/v1/contacts/{id}/lifecycle"`
	OpportunityValue  *float64       `json:"opportunity_value,omitempty" minimum:"0" nullable:"true"`
	ExpectedCloseDate *string        `json:"expected_close_date,omitempty" maxLength:"10" nullable:"true" doc:"YYYY-MM-DD"`
	NextStep          *string        `json:"next_step,omitempty" maxLength:"1000" nullable:"true"`
	Owner             *string        `json:"owner,omitempty" maxLength:"200" nullable:"true"`
	Tags              []string       `json:"tags,omitempty" maxItems:"50" nullable:"true"`
	CustomFields      map[string]any `json:"custom_fields,omitempty" maxProperties:"100" nullable:"true"`
}

// patchInputOf turns a merge patch into contact input: present fields set,
// null or empty ones cleared.
func patchInputOf(raw []byte, b PatchBody) (contact.Input, error) {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(raw, &present); err != nil {
		return contact.Input{}, huma.Error400BadRequest("body must be a JSON object")
	}
	var in contact.Input
	strs := map[string]struct {
		v   *string
		dst *string
	}{
		"email": {b.Email, &in.Email}, "phone": {b.Phone, &in.Phone}, "first_name": {b.FirstName, &in.FirstName},
		"last_name": {b.LastName, &in.LastName}, "company": {b.Company, &in.Company}, "role": {b.Role, &in.Role},
		"country": {b.Country, &in.Country}, "time_zone": {b.TimeZone, &in.TimeZone}, "source": {b.Source, &in.Source},
		"offer": {b.Offer, &in.Offer}, "persona": {b.Persona, &in.Persona}, "request_type": {b.RequestType, &in.RequestType},
		"urgency": {b.Urgency, &in.Urgency}, "next_step": {b.NextStep, &in.NextStep}, "owner": {b.Owner, &in.Owner},
		"expected_close_date": {b.ExpectedCloseDate, &in.ExpectedCloseDate},
	}
	for name, f := range strs {
		if _, ok := present[name]; !ok {
			continue
		}
		if f.v == nil || *f.v == "" {
			in.Clear = append(in.Clear, name)
		} else {
			*f.dst = *f.v
		}
	}
	for _, name := range []string{"potential_value", "budget", "opportunity_value"} {
		if string(present[name]) == "null" {
			in.Clear = append(in.Clear, name)
		}
	}
	in.PotentialValue, in.Budget, in.Status = b.PotentialValue, b.Budget, b.Status
	in.Lifecycle, in.OpportunityValue = b.Lifecycle, b.OpportunityValue
	if raw, ok := present["tags"]; ok {
		if string(raw) == "null" || len(b.Tags) == 0 {
			in.Clear = append(in.Clear, "tags")
		} else {
			in.Tags = b.Tags
		}
	}
	if raw, ok := present["custom_fields"]; ok {
		if string(raw) == "null" {
			in.Clear = append(in.Clear, "custom_fields")
		} else {
			in.CustomFields = b.CustomFields
			if in.CustomFields == nil {
				in.CustomFields = map[string]any{}
			}
		}
	}
	return in, nil
}

type listInput struct {
	Email        string    `query:"email" maxLength:"254"`
	Phone        string    `query:"phone" maxLength:"32"`
	Tag          string    `query:"tag" maxLength:"64"`
	Owner        string    `query:"owner" maxLength:"200"`
	Source       string    `query:"source" maxLength:"200"`
	UpdatedSince time.Time `query:"updated_since" doc:"RFC 3339; contacts updated at or after"`
	Cursor       string    `query:"cursor" maxLength:"32" doc:"next_cursor of the previous page"`
	Limit        int       `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type listOutput struct {
	Body struct {
		Contacts   []contact.Contact `json:"contacts"`
		NextCursor string            `json:"next_cursor,omitempty" doc:"absent on the last page"`
	}
}

type timelineInput struct {
	ID     int64  `path:"id" minimum:"1"`
	Cursor string `query:"cursor" maxLength:"64"`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type timelineOutput struct {
	Body struct {
		Events     []event.Event `json:"events"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}
}

type consentsInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body struct {
		Consents []ConsentBody `json:"consents" minItems:"1" maxItems:"16"`
	}
}

type consentsOutput struct {
	Body struct {
		Current []contact.Consent `json:"current" doc:"the state now: the latest statement per channel and purpose"`
		Ledger  []contact.Consent `json:"ledger,omitempty" doc:"every statement, oldest first"`
	}
}

func (s *Server) registerContacts(api huma.API) {
	tags := []string{"Contacts"}
	write := func(mode store.WriteMode) func(ctx context.Context, in *contactInput) (*contactOutput, error) {
		return func(ctx context.Context, in *contactInput) (*contactOutput, error) {
			ci, err := contact.Normalize(in.Body.input(), s.cfg.DefaultRegion)
			if err != nil {
				return nil, s.problem(err, "")
			}
			consents, err := s.consentInputs(in.Body.Consents, "consents[")
			if err != nil {
				return nil, err
			}
			res, err := s.store.WriteContact(ctx, store.WriteContactParams{Input: ci, Consents: consents, Mode: mode, Source: "api"})
			if err != nil {
				return nil, s.problem(err, "")
			}
			out := &contactOutput{Status: http.StatusOK, Body: res.Contact}
			if res.Created {
				out.Status = http.StatusCreated
			}
			return out, nil
		}
	}
	huma.Register(api, huma.Operation{
		OperationID: "upsert-contact", Method: http.MethodPut, Path: "/api/v1/contacts", Tags: tags,
		Summary:      "Create or update a contact by email or phone",
		Description:  "Matches an existing contact by email or phone and merges into it (later non-empty values win, tags are united, custom fields merged); creates one otherwise (201).",
		MaxBodyBytes: maxContactBody, DefaultStatus: http.StatusOK,
		Responses: map[string]*huma.Response{"201": {Description: "created"}},
	}, write(store.Upsert))
	huma.Register(api, huma.Operation{
		OperationID: "create-contact", Method: http.MethodPost, Path: "/api/v1/contacts", Tags: tags,
		Summary: "Create a contact (409 if the email or phone is taken)", MaxBodyBytes: maxContactBody,
		DefaultStatus: http.StatusCreated,
	}, write(store.Create))

	huma.Register(api, huma.Operation{
		OperationID: "get-contact", Method: http.MethodGet, Path: "/api/v1/contacts/{id}", Tags: tags, Summary: "Get a contact",
	}, func(ctx context.Context, in *idInput) (*contactOutput, error) {
		c, err := s.store.GetContact(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &contactOutput{Status: http.StatusOK, Body: c}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "patch-contact", Method: http.MethodPatch, Path: "/api/v1/contacts/{id}", Tags: tags,
		Summary:      "Update some fields of a contact (JSON merge patch)",
		Description:  "Absent fields are kept; null or \"\" clears a field; tags are replaced; custom_fields merge key by key (null removes a key).",
		MaxBodyBytes: maxContactBody,
	}, func(ctx context.Context, in *patchInput) (*contactOutput, error) {
		ci, err := patchInputOf(in.RawBody, in.Body)
		if err != nil {
			return nil, err
		}
		if ci, err = contact.Normalize(ci, s.cfg.DefaultRegion); err != nil {
			return nil, s.problem(err, "")
		}
		c, err := s.store.PatchContact(ctx, in.ID, ci, "api")
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &contactOutput{Status: http.StatusOK, Body: c}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-contacts", Method: http.MethodGet, Path: "/api/v1/contacts", Tags: tags,
		Summary: "List contacts, filtered, in pages",
	}, func(ctx context.Context, in *listInput) (*listOutput, error) {
		p := store.ListContactsParams{Tag: in.Tag, Owner: in.Owner, Source: in.Source, UpdatedSince: in.UpdatedSince, Limit: in.Limit}
		for _, f := range []struct{ name, v string }{{"tag", in.Tag}, {"owner", in.Owner}, {"source", in.Source}} {
			if err := checkFilter(f.name, f.v); err != nil {
				return nil, err
			}
		}
		var err error
		if in.Email != "" {
			if p.Email, err = contact.NormalizeEmail(in.Email); err != nil {
				return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.email", Message: "is not a valid email address"})
			}
		}
		if in.Phone != "" {
			if p.Phone, err = contact.NormalizePhone(in.Phone, s.cfg.DefaultRegion); err != nil {
				return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.phone", Message: "is not a valid phone number"})
			}
		}
		if in.Cursor != "" {
			if p.After, err = strconv.ParseInt(in.Cursor, 10, 64); err != nil || p.After < 0 {
				return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.cursor", Message: "is not a cursor from this API"})
			}
		}
		contacts, next, err := s.store.ListContacts(ctx, p)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &listOutput{}
		out.Body.Contacts = contacts
		if next != 0 {
			out.Body.NextCursor = strconv.FormatInt(next, 10)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "erase-contact", Method: http.MethodDelete, Path: "/api/v1/contacts/{id}", Tags: tags,
		Summary:       "Erase a contact (GDPR)",
		Description:   "Removes the person's data, anonymises their events and keeps a keyed hash of the email and phone so the address can be suppressed later.",
		DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *idInput) (*struct{}, error) {
		if err := s.store.EraseContact(ctx, in.ID, "api"); err != nil {
			return nil, s.problem(err, "")
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "contact-timeline", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/timeline", Tags: tags,
		Summary: "A contact's events, newest first",
	}, func(ctx context.Context, in *timelineInput) (*timelineOutput, error) {
		var after *store.TimelineCursor
		if in.Cursor != "" {
			c, ok := parseTimelineCursor(in.Cursor)
			if !ok {
				return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.cursor", Message: "is not a cursor from this API"})
			}
			after = &c
		}
		evs, next, err := s.store.Timeline(ctx, in.ID, after, in.Limit)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &timelineOutput{}
		out.Body.Events = evs
		if next != nil {
			out.Body.NextCursor = strconv.FormatInt(next.OccurredAt.UnixMilli(), 10) + "." + strconv.FormatInt(next.ID, 10)
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "export-contact", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/export", Tags: tags,
		Summary: "Everything held about a contact (GDPR access and portability)",
	}, func(ctx context.Context, in *idInput) (*struct{ Body store.Export }, error) {
		x, err := s.store.ExportContact(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Export }{x}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "record-consents", Method: http.MethodPost, Path: "/api/v1/contacts/{id}/consents", Tags: tags,
		Summary: "Record consent statements (append-only)", MaxBodyBytes: maxContactBody,
	}, func(ctx context.Context, in *consentsInput) (*consentsOutput, error) {
		cs, err := s.consentInputs(in.Body.Consents, "consents[")
		if err != nil {
			return nil, err
		}
		cur, err := s.store.RecordConsents(ctx, in.ID, cs, "api")
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &consentsOutput{}
		out.Body.Current = cur
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-consents", Method: http.MethodGet, Path: "/api/v1/contacts/{id}/consents", Tags: tags,
		Summary: "A contact's consent state and ledger",
	}, func(ctx context.Context, in *idInput) (*consentsOutput, error) {
		cur, ledger, err := s.store.Consents(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := &consentsOutput{}
		out.Body.Current, out.Body.Ledger = cur, ledger
		return out, nil
	})
}

// checkFilter refuses a text filter no stored value can match: one with
// control characters (stored text never has them) or invalid UTF-8, which
// PostgreSQL would fail on with a 500 rather than answer "no match".
func checkFilter(name, v string) error {
	if utf8.ValidString(v) && !strings.ContainsFunc(v, unicode.IsControl) {
		return nil
	}
	return huma.Error422UnprocessableEntity("validation failed",
		&huma.ErrorDetail{Location: "query." + name, Message: "contains a control character or invalid UTF-8"})
}

func parseTimelineCursor(s string) (store.TimelineCursor, bool) {
	var c store.TimelineCursor
	atText, idText, ok := strings.Cut(s, ".")
	if !ok {
		return c, false
	}
	at, err1 := strconv.ParseInt(atText, 10, 64)
	id, err2 := strconv.ParseInt(idText, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return c, false
	}
	c.OccurredAt, c.ID = time.UnixMilli(at), id
	return c, true
}
