package feedback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// FieldError is a problem with one field of a generic feedback event.
type FieldError struct {
	Index  int    // position in the array; -1 when the body was one object
	Field  string // JSON name of the field; "" for the event as a whole
	Reason string
}

func (e *FieldError) Error() string {
	var where string
	if e.Index >= 0 {
		where = "[" + strconv.Itoa(e.Index) + "]"
	}
	if e.Field != "" {
		if where != "" {
			where += "."
		}
		where += e.Field
	}
	if where == "" {
		return "feedback event: " + e.Reason
	}
	return "feedback event " + where + ": " + e.Reason
}

// genericFields are the members of a generic event; any other is rejected.
var genericFields = []string{"type", "email", "bounce_type", "status", "reason", "message_id", "occurred_at"}

// ParseGeneric reads our own feedback format, for providers without a
// dedicated parser: one JSON object, or an array of at most MaxRecipients,
// each
//
//	{
//	  "type":        "bounce" | "complaint" | "delivery",   required
//	  "email":       "jane@example.com",                    required, a bare address
//	  "bounce_type": "hard" | "soft",                       bounces only
//	  "status":      "5.1.1",                               RFC 3463 code
//	  "reason":      "550 5.1.1 user unknown",              free text, cut to 1,000 bytes
//	  "message_id":  "m-12345",                             ours, or the Message-ID we sent
//	  "occurred_at": "2024-06-03T10:00:00Z"                 RFC 3339
//	}
//
// A bounce without bounce_type is hard unless its status is 4.x.x: a
// provider that reports a bounce has, unless it says otherwise, given up.
// Members outside this list, wrong types and malformed values fail with a
// *FieldError naming the index and field; null is taken as absent.
func ParseGeneric(body []byte) ([]Report, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &FieldError{Index: -1, Reason: "empty body"}
	}
	if body[0] != '[' {
		r, err := parseGenericEvent(body, -1)
		if err != nil {
			return nil, err
		}
		return []Report{r}, nil
	}
	var items []json.RawMessage
	if err := decodeOne(body, &items); err != nil {
		return nil, &FieldError{Index: -1, Reason: "not a JSON array of events: " + err.Error()}
	}
	if len(items) > MaxRecipients {
		return nil, &FieldError{Index: -1, Reason: fmt.Sprintf("more than %d events", MaxRecipients)}
	}
	reports := make([]Report, 0, len(items))
	for i, raw := range items {
		r, err := parseGenericEvent(raw, i)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

func parseGenericEvent(raw []byte, index int) (Report, error) {
	fail := func(field, reason string) (Report, error) {
		return Report{}, &FieldError{Index: index, Field: field, Reason: reason}
	}
	var obj map[string]json.RawMessage
	if err := decodeOne(raw, &obj); err != nil || obj == nil {
		return fail("", "not a JSON object")
	}
	for name := range obj {
		known := false
		for _, f := range genericFields {
			known = known || name == f
		}
		if !known {
			return fail(name, "unknown field")
		}
	}
	v := map[string]string{}
	for _, f := range genericFields { // in order, so the first bad field is named
		m, ok := obj[f]
		if !ok || string(m) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return fail(f, "must be a string")
		}
		v[f] = strings.TrimSpace(s)
	}

	var r Report
	switch t := v["type"]; t {
	case "bounce", "complaint", "delivery":
		r.Kind = Kind(t)
	case "":
		return fail("type", "required")
	default:
		return fail("type", fmt.Sprintf("%q is not bounce, complaint or delivery", t))
	}

	email := v["email"]
	if email == "" {
		return fail("email", "required")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || !strings.Contains(addr.Address, "@") || addr.Address != email {
		return fail("email", fmt.Sprintf("%q is not an email address", truncate(email, 100)))
	}
	r.Email = strings.ToLower(addr.Address)

	if s := v["status"]; s != "" {
		if !statusRE.MatchString(s) {
			return fail("status", fmt.Sprintf("%q is not an enhanced status code like 5.1.1", truncate(s, 100)))
		}
		r.Status = s
	}

	switch bt := v["bounce_type"]; {
	case bt != "" && r.Kind != Bounce:
		return fail("bounce_type", "only for type bounce")
	case bt == "hard":
		r.Hard = true
	case bt == "soft":
	case bt == "":
		r.Hard = r.Kind == Bounce && !strings.HasPrefix(r.Status, "4.")
	default:
		return fail("bounce_type", fmt.Sprintf("%q is not hard or soft", truncate(bt, 100)))
	}

	r.Diagnostic = diagnostic(v["reason"])

	if id := v["message_id"]; id != "" {
		if strings.ContainsAny(id, "@<") {
			r.MessageID = idFromMessageID(id)
		} else if tokenRE.MatchString(id) {
			r.MessageID = id
		}
		if r.MessageID == "" {
			return fail("message_id", "not one of our message ids")
		}
	}

	if s := v["occurred_at"]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fail("occurred_at", fmt.Sprintf("%q is not an RFC 3339 time", truncate(s, 100)))
		}
		r.At = t
	}
	return r, nil
}

// decodeOne decodes exactly one JSON value from b.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return errors.New("data after the JSON value")
	}
	return nil
}
