package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// badInput is a request that must be refused without writing anything.
type badInput struct {
	name         string
	method, path string
	body         any      // see api.do
	header       []string // extra header name, value pairs
	status       int
	location     string // where the problem names the fault; "" when it names none
}

// TestBadInputIsRefused sends every endpoint malformed, mistyped, unknown,
// missing, oversized and out-of-range input, and checks each gets a
// problem+json naming the fault and that no row was written.
func TestBadInputIsRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ada := a.createContact(t, map[string]any{"email": "ada@example.com", "phone": "+33612345678"})
		a.createContact(t, map[string]any{"email": "grace@example.com", "phone": "+33698765432"})
		id := fmt.Sprint(ada.ID)
		contactPath := "/api/v1/contacts/" + id
		future := a.clk.Now().Add(48 * time.Hour).Format(time.RFC3339)
		const (
			bad       = http.StatusBadRequest
			invalid   = http.StatusUnprocessableEntity
			notFound  = http.StatusNotFound
			conflict  = http.StatusConflict
			tooLarge  = http.StatusRequestEntityTooLarge
			contacts  = "/api/v1/contacts"
			events    = "/api/v1/events"
			batch     = "/api/v1/events/batch"
			consented = `"channel": "email", "purpose": "marketing", "status": "granted"`
		)
		event := func(fields string) string { return `{"contact_id": ` + id + `, "type": "page_viewed"` + fields + `}` }
		consent := func(fields string) string { return `{"consents": [{` + consented + fields + `}]}` }

		cases := []badInput{
			// PUT and POST /api/v1/contacts
			{"upsert: malformed JSON", "PUT", contacts, `{"email":`, nil, bad, "body"},
			{"upsert: trailing data", "PUT", contacts, `{"email": "a@b.fr"} {}`, nil, bad, "body"},
			{"upsert: not an object", "PUT", contacts, `["a@b.fr"]`, nil, invalid, "body"},
			{"upsert: null", "PUT", contacts, `null`, nil, invalid, "body"},
			{"upsert: no body", "PUT", contacts, nil, nil, bad, ""},
			{"upsert: email a number", "PUT", contacts, `{"email": 5}`, nil, invalid, "body.email"},
			{"upsert: tags a string", "PUT", contacts, `{"email": "a@b.fr", "tags": "vip"}`, nil, invalid, "body.tags"},
			{"upsert: tag a number", "PUT", contacts, `{"email": "a@b.fr", "tags": [1]}`, nil, invalid, "body.tags[0]"},
			{"upsert: custom_fields an array", "PUT", contacts, `{"email": "a@b.fr", "custom_fields": []}`, nil, invalid, "body.custom_fields"},
			{"upsert: budget a string", "PUT", contacts, `{"email": "a@b.fr", "budget": "12"}`, nil, invalid, "body.budget"},
			{"upsert: unknown field", "PUT", contacts, `{"email": "a@b.fr", "emial": "x"}`, nil, invalid, "body.emial"},
			{"upsert: no email or phone", "PUT", contacts, `{}`, nil, invalid, "body.email"},
			{"upsert: only a name", "PUT", contacts, `{"first_name": "Ada"}`, nil, invalid, "body.email"},
			{"upsert: blank email", "PUT", contacts, `{"email": "   "}`, nil, invalid, "body.email"},
			{"upsert: invalid email", "PUT", contacts, `{"email": "ada.example.com"}`, nil, invalid, "body.email"},
			{"upsert: email with a name", "PUT", contacts, `{"email": "Ada <ada@b.fr>"}`, nil, invalid, "body.email"},
			{"upsert: email without domain", "PUT", contacts, `{"email": "ada@localhost"}`, nil, invalid, "body.email"},
			{"upsert: email too long", "PUT", contacts, `{"email": "` + strings.Repeat("a", 250) + `@b.fr"}`, nil, invalid, "body.email"},
			{"upsert: invalid phone", "PUT", contacts, `{"email": "a@b.fr", "phone": "123"}`, nil, invalid, "body.phone"},
			{"upsert: phone of letters", "PUT", contacts, `{"phone": "call me"}`, nil, invalid, "body.phone"},
			{"upsert: invalid country", "PUT", contacts, `{"email": "a@b.fr", "country": "ZZ"}`, nil, invalid, "body.country"},
			{"upsert: invalid time zone", "PUT", contacts, `{"email": "a@b.fr", "time_zone": "Mars/Olympus"}`, nil, invalid, "body.time_zone"},
			{"upsert: time zone Local", "PUT", contacts, `{"email": "a@b.fr", "time_zone": "Local"}`, nil, invalid, "body.time_zone"},
			{"upsert: time zone a path", "PUT", contacts, `{"email": "a@b.fr", "time_zone": "../../etc/passwd"}`, nil, invalid, "body.time_zone"},
			{"upsert: unknown status", "PUT", contacts, `{"email": "a@b.fr", "status": "hot"}`, nil, invalid, "body.status"},
			{"upsert: unknown urgency", "PUT", contacts, `{"email": "a@b.fr", "urgency": "asap"}`, nil, invalid, "body.urgency"},
			{"upsert: too many tags", "PUT", contacts, map[string]any{"email": "a@b.fr", "tags": numbered("t", 51)}, nil, invalid, "body.tags"},
			{"upsert: empty tag", "PUT", contacts, `{"email": "a@b.fr", "tags": ["a", " "]}`, nil, invalid, "body.tags[1]"},
			{"upsert: tag too long", "PUT", contacts, map[string]any{"email": "a@b.fr", "tags": []string{strings.Repeat("t", 65)}}, nil, invalid, "body.tags[0]"},
			{"upsert: custom_fields key with a space", "PUT", contacts, `{"email": "a@b.fr", "custom_fields": {"plan type": 1}}`, nil, invalid, "body.custom_fields"},
			{"upsert: custom_fields key with a digit first", "PUT", contacts, `{"email": "a@b.fr", "custom_fields": {"1plan": 1}}`, nil, invalid, "body.custom_fields"},
			{"upsert: custom_fields empty key", "PUT", contacts, `{"email": "a@b.fr", "custom_fields": {"": 1}}`, nil, invalid, "body.custom_fields"},
			{"upsert: too many custom_fields", "PUT", contacts, map[string]any{"email": "a@b.fr", "custom_fields": numberedMap("k", 101)}, nil, invalid, "body.custom_fields"},
			{"upsert: custom_fields over 8 KiB", "PUT", contacts, map[string]any{"email": "a@b.fr", "custom_fields": map[string]any{"notes": strings.Repeat("n", 9<<10)}}, nil, invalid, "body.custom_fields"},
			{"upsert: NUL in a name", "PUT", contacts, `{"email": "a@b.fr", "first_name": "Ada\u0000"}`, nil, invalid, "body.first_name"},
			{"upsert: bell in company", "PUT", contacts, `{"email": "a@b.fr", "company": "A\u0007E"}`, nil, invalid, "body.company"},
			{"upsert: newline in a one-line field", "PUT", contacts, `{"email": "a@b.fr", "last_name": "Love\nlace"}`, nil, invalid, "body.last_name"},
			{"upsert: NUL in a tag", "PUT", contacts, `{"email": "a@b.fr", "tags": ["v\u0000ip"]}`, nil, invalid, "body.tags[0]"},
			{"upsert: NUL in email", "PUT", contacts, `{"email": "a\u0000@b.fr"}`, nil, invalid, "body.email"},
			{"upsert: raw control byte", "PUT", contacts, "{\"email\": \"a@b.fr\", \"role\": \"x\x01\"}", nil, bad, "body"},
			{"upsert: name too long", "PUT", contacts, map[string]any{"email": "a@b.fr", "first_name": strings.Repeat("é", 201)}, nil, invalid, "body.first_name"},
			{"upsert: huge budget", "PUT", contacts, `{"email": "a@b.fr", "budget": 1e300}`, nil, invalid, "body.budget"},
			{"upsert: budget beyond float64", "PUT", contacts, `{"email": "a@b.fr", "budget": 1e400}`, nil, bad, "body"},
			{"upsert: negative potential_value", "PUT", contacts, `{"email": "a@b.fr", "potential_value": -1}`, nil, invalid, "body.potential_value"},
			{"upsert: email and phone of two contacts", "PUT", contacts, `{"email": "ada@example.com", "phone": "+33698765432"}`, nil, conflict, "body.phone"},
			{"upsert: consent with unknown channel", "PUT", contacts, `{"email": "a@b.fr", "consents": [{"channel": "fax", "purpose": "marketing", "status": "granted"}]}`, nil, invalid, "body.consents[0].channel"},
			{"upsert: consent without status", "PUT", contacts, `{"email": "a@b.fr", "consents": [{"channel": "email", "purpose": "marketing"}]}`, nil, invalid, "body.consents[0]"},
			{"upsert: consent in the future", "PUT", contacts, `{"email": "a@b.fr", "consents": [{` + consented + `, "occurred_at": "` + future + `"}]}`, nil, invalid, "body.consents[0].occurred_at"},
			{"upsert: unknown query parameter", "PUT", contacts + "?dry_run=1", `{"email": "a@b.fr"}`, nil, invalid, "query.dry_run"},
			{"upsert: over 64 KiB", "PUT", contacts, map[string]any{"email": "a@b.fr", "next_step": strings.Repeat("n", 64<<10)}, nil, tooLarge, ""},
			{"create: email taken", "POST", contacts, `{"email": "ADA@example.com"}`, nil, conflict, ""},
			{"create: phone taken", "POST", contacts, `{"phone": "06 98 76 54 32"}`, nil, conflict, ""},
			{"create: malformed JSON", "POST", contacts, `{`, nil, bad, "body"},
			{"create: unknown field", "POST", contacts, `{"email": "a@b.fr", "id": 7}`, nil, invalid, "body.id"},
			{"create: invalid phone", "POST", contacts, `{"phone": "+1 555"}`, nil, invalid, "body.phone"},
			{"create: over 64 KiB", "POST", contacts, map[string]any{"email": "a@b.fr", "next_step": strings.Repeat("n", 64<<10)}, nil, tooLarge, ""},

			// GET, PATCH, DELETE /api/v1/contacts/{id}
			{"get: negative id", "GET", contacts + "/-1", nil, nil, invalid, "path.id"},
			{"get: zero id", "GET", contacts + "/0", nil, nil, invalid, "path.id"},
			{"get: id not a number", "GET", contacts + "/ada", nil, nil, invalid, "path.id"},
			{"get: id beyond int64", "GET", contacts + "/99999999999999999999", nil, nil, invalid, "path.id"},
			{"get: unknown id", "GET", contacts + "/999999", nil, nil, notFound, ""},
			{"get: unknown query parameter", "GET", contactPath + "?fields=email", nil, nil, invalid, "query.fields"},
			{"patch: malformed JSON", "PATCH", contactPath, `{"company": `, nil, bad, "body"},
			{"patch: not an object", "PATCH", contactPath, `[]`, nil, invalid, "body"},
			{"patch: no body", "PATCH", contactPath, nil, nil, bad, ""},
			{"patch: unknown field", "PATCH", contactPath, `{"compagny": "AE"}`, nil, invalid, "body.compagny"},
			{"patch: tags a string", "PATCH", contactPath, `{"tags": "vip"}`, nil, invalid, "body.tags"},
			{"patch: status empty", "PATCH", contactPath, `{"status": ""}`, nil, invalid, "body.status"},
			{"patch: invalid phone", "PATCH", contactPath, `{"phone": "12"}`, nil, invalid, "body.phone"},
			{"patch: invalid email", "PATCH", contactPath, `{"email": "nope"}`, nil, invalid, "body.email"},
			{"patch: invalid country", "PATCH", contactPath, `{"country": "XX"}`, nil, invalid, "body.country"},
			{"patch: invalid time zone", "PATCH", contactPath, `{"time_zone": "Europe/Atlantis"}`, nil, invalid, "body.time_zone"},
			{"patch: NUL in a name", "PATCH", contactPath, `{"last_name": "\u0000"}`, nil, invalid, "body.last_name"},
			{"patch: bad custom_fields key", "PATCH", contactPath, `{"custom_fields": {"a-b": null}}`, nil, invalid, "body.custom_fields"},
			{"patch: too many tags", "PATCH", contactPath, map[string]any{"tags": numbered("t", 51)}, nil, invalid, "body.tags"},
			{"patch: huge budget", "PATCH", contactPath, `{"budget": 1e16}`, nil, invalid, "body.budget"},
			{"patch: clears email and phone", "PATCH", contactPath, `{"email": null, "phone": ""}`, nil, invalid, "body.email"},
			{"patch: another contact's email", "PATCH", contactPath, `{"email": "grace@example.com"}`, nil, invalid, "body.email"},
			{"patch: another contact's phone", "PATCH", contactPath, `{"phone": "06 98 76 54 32"}`, nil, invalid, "body.phone"},
			{"patch: negative id", "PATCH", contacts + "/-3", `{"company": "AE"}`, nil, invalid, "path.id"},
			{"patch: unknown id", "PATCH", contacts + "/999999", `{"company": "AE"}`, nil, notFound, ""},
			{"patch: over 64 KiB", "PATCH", contactPath, map[string]any{"next_step": strings.Repeat("n", 64<<10)}, nil, tooLarge, ""},
			{"delete: negative id", "DELETE", contacts + "/-1", nil, nil, invalid, "path.id"},
			{"delete: unknown id", "DELETE", contacts + "/999999", nil, nil, notFound, ""},
			{"delete: unknown query parameter", "DELETE", contactPath + "?hard=true", nil, nil, invalid, "query.hard"},

			// GET /api/v1/contacts
			{"list: unknown query parameter", "GET", contacts + "?name=ada", nil, nil, invalid, "query.name"},
			{"list: cursor not a number", "GET", contacts + "?cursor=abc", nil, nil, invalid, "query.cursor"},
			{"list: negative cursor", "GET", contacts + "?cursor=-5", nil, nil, invalid, "query.cursor"},
			{"list: cursor too long", "GET", contacts + "?cursor=" + strings.Repeat("9", 40), nil, nil, invalid, "query.cursor"},
			{"list: limit zero", "GET", contacts + "?limit=0", nil, nil, invalid, "query.limit"},
			{"list: limit too high", "GET", contacts + "?limit=501", nil, nil, invalid, "query.limit"},
			{"list: limit beyond int64", "GET", contacts + "?limit=99999999999999999999", nil, nil, invalid, "query.limit"},
			{"list: limit not a number", "GET", contacts + "?limit=ten", nil, nil, invalid, "query.limit"},
			{"list: updated_since not a time", "GET", contacts + "?updated_since=yesterday", nil, nil, invalid, "query.updated_since"},
			{"list: invalid email", "GET", contacts + "?email=nope", nil, nil, invalid, "query.email"},
			{"list: invalid phone", "GET", contacts + "?phone=12", nil, nil, invalid, "query.phone"},
			{"list: NUL in owner", "GET", contacts + "?owner=al%00ice", nil, nil, invalid, "query.owner"},
			{"list: invalid UTF-8 in source", "GET", contacts + "?source=%ff", nil, nil, invalid, "query.source"},
			{"list: control character in tag", "GET", contacts + "?tag=v%01ip", nil, nil, invalid, "query.tag"},
			{"list: NUL in tag", "GET", contacts + "?tag=%00", nil, nil, invalid, "query.tag"},

			// GET /api/v1/contacts/{id}/timeline and /export
			{"timeline: cursor without a dot", "GET", contactPath + "/timeline?cursor=123", nil, nil, invalid, "query.cursor"},
			{"timeline: cursor of words", "GET", contactPath + "/timeline?cursor=abc.def", nil, nil, invalid, "query.cursor"},
			{"timeline: cursor with negative id", "GET", contactPath + "/timeline?cursor=1772441999000.-1", nil, nil, invalid, "query.cursor"},
			{"timeline: cursor with zero id", "GET", contactPath + "/timeline?cursor=1772441999000.0", nil, nil, invalid, "query.cursor"},
			{"timeline: limit too high", "GET", contactPath + "/timeline?limit=1000", nil, nil, invalid, "query.limit"},
			{"timeline: unknown query parameter", "GET", contactPath + "/timeline?type=page_viewed", nil, nil, invalid, "query.type"},
			{"timeline: negative id", "GET", contacts + "/-1/timeline", nil, nil, invalid, "path.id"},
			{"timeline: unknown id", "GET", contacts + "/999999/timeline", nil, nil, notFound, ""},
			{"export: negative id", "GET", contacts + "/-1/export", nil, nil, invalid, "path.id"},
			{"export: unknown id", "GET", contacts + "/999999/export", nil, nil, notFound, ""},
			{"export: unknown query parameter", "GET", contactPath + "/export?format=csv", nil, nil, invalid, "query.format"},

			// POST and GET /api/v1/contacts/{id}/consents
			{"consents: malformed JSON", "POST", contactPath + "/consents", `{"consents": [`, nil, bad, "body"},
			{"consents: none", "POST", contactPath + "/consents", `{"consents": []}`, nil, invalid, "body.consents"},
			{"consents: missing list", "POST", contactPath + "/consents", `{}`, nil, invalid, "body"},
			{"consents: not a list", "POST", contactPath + "/consents", `{"consents": {}}`, nil, invalid, "body.consents"},
			{"consents: too many", "POST", contactPath + "/consents", map[string]any{"consents": repeated(map[string]any{"channel": "email", "purpose": "marketing", "status": "granted"}, 17)}, nil, invalid, "body.consents"},
			{"consents: unknown channel", "POST", contactPath + "/consents", `{"consents": [{"channel": "fax", "purpose": "marketing", "status": "granted"}]}`, nil, invalid, "body.consents[0].channel"},
			{"consents: unknown purpose", "POST", contactPath + "/consents", `{"consents": [{"channel": "sms", "purpose": "spam", "status": "granted"}]}`, nil, invalid, "body.consents[0].purpose"},
			{"consents: unknown status", "POST", contactPath + "/consents", `{"consents": [{"channel": "sms", "purpose": "marketing", "status": "maybe"}]}`, nil, invalid, "body.consents[0].status"},
			{"consents: unknown field", "POST", contactPath + "/consents", consent(`, "by": "phone"`), nil, invalid, "body.consents[0].by"},
			{"consents: invalid IP", "POST", contactPath + "/consents", consent(`, "ip": "not-an-ip"`), nil, invalid, "body.consents[0].ip"},
			{"consents: NUL in wording_version", "POST", contactPath + "/consents", consent(`, "wording_version": "v\u00001"`), nil, invalid, "body.consents[0].wording_version"},
			{"consents: in the future", "POST", contactPath + "/consents", consent(`, "occurred_at": "` + future + `"`), nil, invalid, "body.consents[0].occurred_at"},
			{"consents: before 2000", "POST", contactPath + "/consents", consent(`, "occurred_at": "1999-12-31T23:59:59Z"`), nil, invalid, "body.consents[0].occurred_at"},
			{"consents: second one bad", "POST", contactPath + "/consents", `{"consents": [{` + consented + `}, {"channel": "sms", "purpose": "marketing", "status": "granted", "ip": "x"}]}`, nil, invalid, "body.consents[1].ip"},
			{"consents: unknown contact", "POST", contacts + "/999999/consents", consent(""), nil, notFound, ""},
			{"consents: negative id", "POST", contacts + "/-1/consents", consent(""), nil, invalid, "path.id"},
			{"consents: over 64 KiB", "POST", contactPath + "/consents", consent(`, "ip": "` + strings.Repeat(" ", 64<<10) + `"`), nil, tooLarge, ""},
			{"consents get: unknown contact", "GET", contacts + "/999999/consents", nil, nil, notFound, ""},
			{"consents get: unknown query parameter", "GET", contactPath + "/consents?channel=email", nil, nil, invalid, "query.channel"},

			// POST /api/v1/events
			{"event: malformed JSON", "POST", events, `{"type": "x",}`, nil, bad, "body"},
			{"event: not an object", "POST", events, `"page_viewed"`, nil, invalid, "body"},
			{"event: unknown field", "POST", events, event(`, "name": "x"`), nil, invalid, "body.name"},
			{"event: type missing", "POST", events, `{"contact_id": ` + id + `}`, nil, invalid, "body"},
			{"event: type empty", "POST", events, `{"contact_id": ` + id + `, "type": ""}`, nil, invalid, "body.type"},
			{"event: type a number", "POST", events, `{"contact_id": ` + id + `, "type": 7}`, nil, invalid, "body.type"},
			{"event: type with capitals", "POST", events, `{"contact_id": ` + id + `, "type": "PageViewed"}`, nil, invalid, "body.type"},
			{"event: type with a space", "POST", events, `{"contact_id": ` + id + `, "type": "page viewed"}`, nil, invalid, "body.type"},
			{"event: type with NUL", "POST", events, `{"contact_id": ` + id + `, "type": "page\u0000viewed"}`, nil, invalid, "body.type"},
			{"event: type too long", "POST", events, `{"contact_id": ` + id + `, "type": "` + strings.Repeat("a", 65) + `"}`, nil, invalid, "body.type"},
			{"event: lead_created is the system's", "POST", events, `{"contact_id": ` + id + `, "type": "lead_created"}`, nil, invalid, "body.type"},
			{"event: field_changed is the system's", "POST", events, `{"contact_id": ` + id + `, "type": "field_changed"}`, nil, invalid, "body.type"},
			{"event: contact_erased is the system's", "POST", events, `{"contact_id": ` + id + `, "type": "contact_erased"}`, nil, invalid, "body.type"},
			{"event: no contact", "POST", events, `{"type": "page_viewed"}`, nil, invalid, "body.contact_id"},
			{"event: contact_id and email", "POST", events, `{"contact_id": ` + id + `, "email": "ada@example.com", "type": "page_viewed"}`, nil, invalid, "body.email"},
			{"event: negative contact_id", "POST", events, `{"contact_id": -1, "type": "page_viewed"}`, nil, invalid, "body.contact_id"},
			{"event: contact_id beyond int64", "POST", events, `{"contact_id": 99999999999999999999, "type": "page_viewed"}`, nil, invalid, "body"},
			{"event: contact_id a string", "POST", events, `{"contact_id": "` + id + `", "type": "page_viewed"}`, nil, invalid, "body.contact_id"},
			{"event: unknown contact", "POST", events, `{"contact_id": 999999, "type": "page_viewed"}`, nil, notFound, ""},
			{"event: invalid email", "POST", events, `{"email": "ada", "type": "page_viewed"}`, nil, invalid, "body.email"},
			{"event: occurred_at far in the future", "POST", events, event(`, "occurred_at": "` + future + `"`), nil, invalid, "body.occurred_at"},
			{"event: occurred_at before 2000", "POST", events, event(`, "occurred_at": "1970-01-01T00:00:00Z"`), nil, invalid, "body.occurred_at"},
			{"event: occurred_at not a time", "POST", events, event(`, "occurred_at": "now"`), nil, invalid, "body.occurred_at"},
			{"event: properties an array", "POST", events, event(`, "properties": [1, 2]`), nil, invalid, "body.properties"},
			{"event: properties a string", "POST", events, event(`, "properties": "url=/pricing"`), nil, invalid, "body.properties"},
			{"event: properties a number", "POST", events, event(`, "properties": 1`), nil, invalid, "body.properties"},
			{"event: properties over 16 KiB", "POST", events, event(`, "properties": {"p": "` + strings.Repeat("p", 17<<10) + `"}`), nil, invalid, "body.properties"},
			{"event: idempotency_key too long", "POST", events, event(`, "idempotency_key": "` + strings.Repeat("k", 129) + `"`), nil, invalid, "body.idempotency_key"},
			{"event: idempotency_key with NUL", "POST", events, event(`, "idempotency_key": "k\u0000"`), nil, invalid, "body.idempotency_key"},
			{"event: Idempotency-Key header too long", "POST", events, event(""), []string{"Idempotency-Key", strings.Repeat("k", 101)}, invalid, "header.Idempotency-Key"},
			{"event: unknown query parameter", "POST", events + "?async=1", event(""), nil, invalid, "query.async"},
			{"event: over 32 KiB", "POST", events, event(`, "properties": {"p": "` + strings.Repeat("p", 32<<10) + `"}`), nil, tooLarge, ""},

			// POST /api/v1/events/batch
			{"batch: malformed JSON", "POST", batch, `{"events": [`, nil, bad, ""},
			{"batch: malformed bare array", "POST", batch, `[{"type": "x"}`, nil, bad, ""},
			{"batch: no body", "POST", batch, nil, nil, bad, ""},
			{"batch: not an object", "POST", batch, `42`, nil, bad, ""},
			{"batch: unknown envelope field", "POST", batch, `{"events": [` + event("") + `], "async": true}`, nil, bad, ""},
			{"batch: events not a list", "POST", batch, `{"events": {}}`, nil, bad, ""},
			{"batch: trailing data", "POST", batch, `{"events": [` + event("") + `]} []`, nil, bad, ""},
			{"batch: empty", "POST", batch, `{"events": []}`, nil, invalid, "body.events"},
			{"batch: empty bare array", "POST", batch, `[]`, nil, invalid, "body.events"},
			{"batch: no events", "POST", batch, `{}`, nil, invalid, "body.events"},
			{"batch: over 1000 events", "POST", batch, `{"events": [` + strings.Repeat(event("")+",", 1000) + event("") + `]}`, nil, invalid, "body.events"},
			{"batch: every event rejected", "POST", batch, `[{"contact_id": 999999, "type": "x"}, {"contact_id": ` + id + `, "type": "lead_created"}]`, nil, invalid, "body.events[1].type"},
			{"batch: Idempotency-Key header too long", "POST", batch, `[` + event("") + `]`, []string{"Idempotency-Key", strings.Repeat("k", 101)}, invalid, "header.Idempotency-Key"},
			{"batch: unknown query parameter", "POST", batch + "?dry_run=1", `[` + event("") + `]`, nil, invalid, "query.dry_run"},
			{"batch: over 8 MiB", "POST", batch, `{"events": [` + event(`, "properties": {"p": "`+strings.Repeat("p", 8<<20)+`"}`) + `]}`, nil, tooLarge, ""},

			// GET /api/v1/event-types, and no route at all
			{"event types: unknown query parameter", "GET", "/api/v1/event-types?system=true", nil, nil, invalid, "query.system"},
			{"no such route", "GET", "/api/v1/leads", nil, nil, notFound, ""},
			{"no such method", "PUT", "/api/v1/event-types", `{}`, nil, http.StatusMethodNotAllowed, ""},
		}
		before := a.counts(t)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, tc.body, tc.header...)
				wantProblem(t, r, tc.status, tc.location)
				a.wantCounts(t, before)
			})
		}
	})
}

// numbered returns n distinct strings: prefix0, prefix1, …
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func numberedMap(prefix string, n int) map[string]any {
	out := map[string]any{}
	for _, k := range numbered(prefix, n) {
		out[k] = 1
	}
	return out
}

func repeated[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestCustomFieldValuesWithControlCharactersAreRefused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		before := a.counts(t)
		for _, v := range []string{`"a\u0000b"`, `"\u0007"`, `["\u0000"]`, `{"nested": "\u001b[31m"}`} {
			r := a.do(t, "PUT", "/api/v1/contacts", `{"email": "ada@example.com", "custom_fields": {"note": `+v+`}}`)
			wantProblem(t, r, http.StatusUnprocessableEntity, "body.custom_fields")
		}
		a.wantCounts(t, before)
	})
}

func TestWrongMethodIs405(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "/api/v1/event-types", "GET"},
			{"DELETE", "/api/v1/contacts", "GET, POST, PUT"},
			{"POST", "/api/v1/contacts/1", "GET, PATCH, DELETE"},
			{"PATCH", "/api/v1/events", "POST"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				r := a.do(t, tc.method, tc.path, nil)
				wantProblem(t, r, http.StatusMethodNotAllowed, "")
				if got := r.Header.Get("Allow"); got != tc.allow {
					t.Errorf("Allow = %q; want %q", got, tc.allow)
				}
			})
		}
	})
}
