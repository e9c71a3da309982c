package contact

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
)

// Input is what a caller says about a contact. Empty strings, nil numbers, nil
// tags and nil custom fields mean "not given". Clear lists fields a PATCH removes.
type Input struct {
	Email             string
	Phone             string
	FirstName         string
	LastName          string
	Company           string
	Role              string
	Country           string
	TimeZone          string
	Source            string
	Offer             string
	Persona           string
	RequestType       string
	PotentialValue    *float64
	Urgency           string
	Budget            *float64
	Status            string
	Lifecycle         string // on create; an upsert only ever raises it
	NextStep          string
	Owner             string
	OpportunityValue  *float64
	ExpectedCloseDate string // YYYY-MM-DD
	Tags              []string
	CustomFields      map[string]any // a nil value removes that key
	Clear             []string

	// emailDisplay is the trimmed form of Email as typed; set by Normalize.
	emailDisplay string
}

// Limits on input sizes. They keep rows small and bound the work one request can cause.
const (
	MaxTextLen         = 200
	MaxNextStepLen     = 1000
	MaxTags            = 50
	MaxTagLen          = 64
	MaxCustomFields    = 100
	MaxCustomFieldsLen = 8 << 10
	maxEmailLen        = 254
	maxNumber          = 1e15
)

// textField describes one plain text field: its JSON name, where it lives in
// Input and Contact, and its length limit.
type textField struct {
	name    string
	in      func(*Input) *string
	contact func(*Contact) *string
	max     int
}

var textFields = []textField{
	{"first_name", func(i *Input) *string { return &i.FirstName }, func(c *Contact) *string { return &c.FirstName }, MaxTextLen},
	{"last_name", func(i *Input) *string { return &i.LastName }, func(c *Contact) *string { return &c.LastName }, MaxTextLen},
	{"company", func(i *Input) *string { return &i.Company }, func(c *Contact) *string { return &c.Company }, MaxTextLen},
	{"role", func(i *Input) *string { return &i.Role }, func(c *Contact) *string { return &c.Role }, MaxTextLen},
	{"source", func(i *Input) *string { return &i.Source }, func(c *Contact) *string { return &c.Source }, MaxTextLen},
	{"offer", func(i *Input) *string { return &i.Offer }, func(c *Contact) *string { return &c.Offer }, MaxTextLen},
	{"persona", func(i *Input) *string { return &i.Persona }, func(c *Contact) *string { return &c.Persona }, MaxTextLen},
	{"request_type", func(i *Input) *string { return &i.RequestType }, func(c *Contact) *string { return &c.RequestType }, MaxTextLen},
	{"next_step", func(i *Input) *string { return &i.NextStep }, func(c *Contact) *string { return &c.NextStep }, MaxNextStepLen},
	{"owner", func(i *Input) *string { return &i.Owner }, func(c *Contact) *string { return &c.Owner }, MaxTextLen},
}

// normalizedFields are text fields whose value Normalize rewrites (identity and codes).
var normalizedFields = []textField{
	{"email", func(i *Input) *string { return &i.Email }, func(c *Contact) *string { return &c.Email }, maxEmailLen},
	{"phone", func(i *Input) *string { return &i.Phone }, func(c *Contact) *string { return &c.Phone }, 32},
	{"country", func(i *Input) *string { return &i.Country }, func(c *Contact) *string { return &c.Country }, 64},
	{"time_zone", func(i *Input) *string { return &i.TimeZone }, func(c *Contact) *string { return &c.TimeZone }, 64},
	{"urgency", func(i *Input) *string { return &i.Urgency }, func(c *Contact) *string { return &c.Urgency }, 16},
	{"status", func(i *Input) *string { return &i.Status }, func(c *Contact) *string { return &c.Status }, 32},
	{"expected_close_date", func(i *Input) *string { return &i.ExpectedCloseDate }, func(c *Contact) *string { return &c.ExpectedCloseDate }, 10},
}

// Clearable lists the fields a PATCH may remove.
var clearable = func() map[string]bool {
	m := map[string]bool{"potential_value": true, "budget": true, "opportunity_value": true, "tags": true, "custom_fields": true}
	for _, f := range append(slices.Clone(textFields), normalizedFields...) {
		if f.name != "status" {
			m[f.name] = true
		}
	}
	return m
}()

var customKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Normalize validates in and returns it in canonical form: email lower-cased
// (its display form kept), phone in E.164 (parsed in the input's country, else
// defaultRegion), country as ISO 3166-1 alpha-2, time zone checked against the
// IANA database. The first problem found is returned as a *ValidationError.
func Normalize(in Input, defaultRegion string) (Input, error) {
	out := in
	for _, f := range textFields {
		p := f.in(&out)
		v, err := cleanText(f.name, *p, f.max, f.name == "next_step")
		if err != nil {
			return Input{}, err
		}
		*p = v
	}
	for _, f := range normalizedFields {
		p := f.in(&out)
		v, err := cleanText(f.name, *p, f.max, false)
		if err != nil {
			return Input{}, err
		}
		*p = v
	}
	display := ""
	if out.Email != "" {
		id, err := NormalizeEmail(out.Email)
		if err != nil {
			return Input{}, err
		}
		display = out.Email
		// Normalising normalised input again must keep the form the lead typed.
		if strings.ToLower(out.emailDisplay) == id {
			display = out.emailDisplay
		}
		out.Email = id
	}
	out.emailDisplay = display
	if out.Country != "" {
		c, err := NormalizeCountry(out.Country)
		if err != nil {
			return Input{}, err
		}
		out.Country = c
	}
	if out.Phone != "" {
		region := out.Country
		if region == "" {
			region = defaultRegion
		}
		p, err := NormalizePhone(out.Phone, region)
		if err != nil {
			return Input{}, err
		}
		out.Phone = p
	}
	if out.TimeZone != "" {
		if err := ValidateTimeZone(out.TimeZone); err != nil {
			return Input{}, err
		}
	}
	if out.Status != "" {
		out.Status = strings.ToLower(out.Status)
		if !slices.Contains(Statuses, out.Status) {
			return Input{}, invalid("status", "must be one of %s", strings.Join(Statuses, ", "))
		}
	}
	if out.Lifecycle != "" {
		out.Lifecycle = strings.ToLower(strings.TrimSpace(out.Lifecycle))
		if !slices.Contains(Lifecycles, out.Lifecycle) {
			return Input{}, invalid("lifecycle", "must be one of %s", strings.Join(Lifecycles, ", "))
		}
	}
	if out.ExpectedCloseDate != "" {
		d, err := time.Parse(time.DateOnly, out.ExpectedCloseDate)
		if err != nil || d.Year() < 1970 || d.Year() > 9999 {
			return Input{}, invalid("expected_close_date", "must be a date written YYYY-MM-DD")
		}
	}
	if out.Urgency != "" {
		out.Urgency = strings.ToLower(out.Urgency)
		if !slices.Contains(Urgencies, out.Urgency) {
			return Input{}, invalid("urgency", "must be one of %s", strings.Join(Urgencies, ", "))
		}
	}
	// A slice, not a map, so that the first problem reported does not depend on map order.
	for _, n := range []struct {
		name string
		v    *float64
	}{{"potential_value", out.PotentialValue}, {"budget", out.Budget}, {"opportunity_value", out.OpportunityValue}} {
		if n.v != nil && (math.IsNaN(*n.v) || *n.v < 0 || *n.v > maxNumber) {
			return Input{}, invalid(n.name, "must be a number from 0 to %g", maxNumber)
		}
	}
	tags, err := cleanTags(out.Tags)
	if err != nil {
		return Input{}, err
	}
	out.Tags = tags
	if err := checkCustomFields(out.CustomFields); err != nil {
		return Input{}, err
	}
	for _, f := range out.Clear {
		if !clearable[f] {
			return Input{}, invalid(f, "cannot be cleared")
		}
		// Merge would set the field and then clear it, recording two changes and
		// moving UpdatedAt even when the contact ends as it was.
		if given(&out, f) {
			return Input{}, invalid(f, "cannot be both given and cleared")
		}
	}
	return out, nil
}

// given reports whether in carries a value for the clearable field named.
func given(in *Input, field string) bool {
	switch field {
	case "potential_value":
		return in.PotentialValue != nil
	case "budget":
		return in.Budget != nil
	case "opportunity_value":
		return in.OpportunityValue != nil
	case "tags":
		return in.Tags != nil
	case "custom_fields":
		return in.CustomFields != nil
	}
	for _, f := range append(slices.Clone(textFields), normalizedFields...) {
		if f.name == field {
			return *f.in(in) != ""
		}
	}
	return false
}

// NormalizeEmail returns the identity form of an email address: trimmed and
// lower-cased. It accepts a bare address only (no display name, no comments).
func NormalizeEmail(s string) (string, error) {
	s, err := cleanText("email", s, maxEmailLen, false)
	if err != nil {
		return "", err
	}
	if len(s) > maxEmailLen {
		return "", invalid("email", "is longer than %d characters", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") || strings.HasSuffix(domain, ".") {
		return "", invalid("email", "needs a domain name such as example.com")
	}
	// Lower-casing can lengthen UTF-8 (Ⱥ takes 2 bytes, ⱥ 3): the identity must
	// fit too, or it could not be looked up again.
	id := strings.ToLower(s)
	if len(id) > maxEmailLen {
		return "", invalid("email", "is longer than %d characters", maxEmailLen)
	}
	return id, nil
}

// NormalizePhone parses a phone number written in any common form and returns
// it in E.164. Numbers without an international prefix are read in region.
func NormalizePhone(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "00") && region == "" {
		return "", invalid("phone", "needs an international prefix (+…) or a country")
	}
	if region == "" && strings.HasPrefix(s, "00") {
		// Without a region the parser cannot know the international call prefix;
		// 00 is the one most of the world dials.
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", invalid("phone", "is not a valid phone number")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// NormalizeCountry accepts an ISO 3166-1 alpha-2, alpha-3 or numeric code in
// any case and returns the alpha-2 code.
func NormalizeCountry(s string) (string, error) {
	r, err := language.ParseRegion(strings.TrimSpace(s))
	// Canonicalize maps aliases and deprecated codes (UK, DD, ZR) to the current
	// code, which the phone parser knows; groupings such as EZ and UN count as
	// countries to x/text but have no M49 number.
	r = r.Canonicalize()
	if err != nil || !r.IsCountry() || r.M49() == 0 {
		return "", invalid("country", "is not an ISO 3166-1 country code")
	}
	return r.String(), nil
}

// ValidateTimeZone checks that s names an IANA time zone (such as Europe/Paris).
func ValidateTimeZone(s string) error {
	// LoadLocation itself refuses paths ("..", leading "/") but opens whatever
	// else the system's zoneinfo directory holds. "Local" and "localtime" are
	// the server's zone, which means nothing for a lead; posixrules, posix/ and
	// right/ are files, not IANA names; an unclean path ("Europe//Paris") loads
	// here but not from Go's embedded database on another machine.
	if s == "" || s == "Local" || s == "localtime" || s == "posixrules" || path.Clean(s) != s ||
		strings.HasPrefix(s, "posix/") || strings.HasPrefix(s, "right/") {
		return invalid("time_zone", "is not an IANA time zone")
	}
	if _, err := time.LoadLocation(s); err != nil {
		return invalid("time_zone", "is not an IANA time zone")
	}
	return nil
}

// cleanText trims s and rejects control characters, invalid UTF-8 and
// overlong values. Multi-line text keeps newlines and tabs.
func cleanText(field, s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", invalid(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid(field, "is longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return "", invalid(field, "contains a control character")
		}
		if isBidiControl(r) {
			return "", invalid(field, "contains a bidirectional override character")
		}
	}
	return s, nil
}

// isBidiControl reports the embedding, override and isolate characters that
// can make text display differently from what it is (a name that reads as
// another, a reversed address).
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// checkValue applies the text rules to every string inside a custom field's
// value (multi-line text allowed), however deeply nested.
func checkValue(field string, v any) error {
	switch v := v.(type) {
	case string:
		if _, err := cleanText(field, v, MaxCustomFieldsLen, true); err != nil {
			return err
		}
	case []any:
		for _, e := range v {
			if err := checkValue(field, e); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := checkValue(field, k); err != nil {
				return err
			}
			if err := checkValue(field, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func cleanTags(tags []string) ([]string, error) {
	if tags == nil {
		return nil, nil
	}
	if len(tags) > MaxTags {
		return nil, invalid("tags", "has more than %d tags", MaxTags)
	}
	out := make([]string, 0, len(tags))
	for i, t := range tags {
		t, err := cleanText(fmt.Sprintf("tags[%d]", i), t, MaxTagLen, false)
		if err != nil {
			return nil, err
		}
		if t == "" {
			return nil, invalid(fmt.Sprintf("tags[%d]", i), "is empty")
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkCustomFields(m map[string]any) error {
	if m == nil {
		return nil
	}
	if len(m) > MaxCustomFields {
		return invalid("custom_fields", "has more than %d keys", MaxCustomFields)
	}
	for k, v := range m {
		if !customKey.MatchString(k) {
			return invalid("custom_fields", "key %q must be a letter or _ followed by up to 63 letters, digits or _", k)
		}
		if err := checkValue("custom_fields", v); err != nil {
			return err
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return invalid("custom_fields", "cannot be encoded as JSON")
	}
	if len(b) > MaxCustomFieldsLen {
		return invalid("custom_fields", "is larger than %d bytes", MaxCustomFieldsLen)
	}
	return nil
}
