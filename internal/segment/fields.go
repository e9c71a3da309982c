package segment

import (
	"slices"
	"strings"
)

// kind is the type of a field, which decides its operators.
type kind int

const (
	kString kind = iota
	kNumber
	kDate    // YYYY-MM-DD
	kTime    // a timestamp
	kTags    // a list of tags
	kConsent // a consent status
	kAny     // a custom field: typed by its value
)

func (k kind) String() string {
	return [...]string{"text", "number", "date", "time", "tags", "consent", "custom"}[k]
}

// contactFields are the contact fields rules may read, by their API names.
var contactFields = map[string]kind{
	"email": kString, "phone": kString, "first_name": kString, "last_name": kString, "company": kString,
	"role": kString, "country": kString, "time_zone": kString, "source": kString, "offer": kString,
	"persona": kString, "request_type": kString, "urgency": kString, "status": kString, "lifecycle": kString,
	"owner": kString, "next_step": kString,
	"potential_value": kNumber, "budget": kNumber, "opportunity_value": kNumber, "won_revenue": kNumber,
	"expected_close_date": kDate,
	"created_at":          kTime, "updated_at": kTime, "closed_at": kTime,
	"tags": kTags,
}

// Operators, in their JSON spelling.
const (
	OpEq                = "=="
	OpNe                = "!="
	OpLt                = "<"
	OpLe                = "<="
	OpGt                = ">"
	OpGe                = ">="
	OpIn                = "in"
	OpNotIn             = "not_in"
	OpContains          = "contains"
	OpNotContains       = "not_contains"
	OpStartsWith        = "starts_with"
	OpEndsWith          = "ends_with"
	OpEmpty             = "empty"
	OpNotEmpty          = "not_empty"
	OpInDays            = "in_days"
	OpAnniversaryInDays = "anniversary_in_days"
)

var opsByKind = map[kind][]string{
	kString:  {OpEq, OpNe, OpIn, OpNotIn, OpContains, OpNotContains, OpStartsWith, OpEndsWith, OpEmpty, OpNotEmpty},
	kNumber:  {OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpEmpty, OpNotEmpty},
	kDate:    {OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpEmpty, OpNotEmpty, OpInDays, OpAnniversaryInDays},
	kTime:    {OpLt, OpLe, OpGt, OpGe, OpEmpty, OpNotEmpty, OpInDays, OpAnniversaryInDays},
	kTags:    {OpContains, OpNotContains, OpEmpty, OpNotEmpty},
	kConsent: {OpEq, OpNe, OpIn, OpNotIn},
	kAny: {OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpContains, OpNotContains, OpStartsWith, OpEndsWith,
		OpEmpty, OpNotEmpty, OpInDays, OpAnniversaryInDays},
}

// countOps compare a number of events.
var countOps = []string{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe}

// ConsentNone is the consent status of a channel nobody recorded.
const ConsentNone = "none"

var consentStatuses = []string{"granted", "withdrawn", "pending_confirmation", ConsentNone}

// consentChannels mirrors contact.ConsentChannels.
var consentChannels = []string{"email", "sms", "whatsapp", "push"}

// fieldKind resolves a field name: a contact field, score.NAME (one of
// scores), consent.CHANNEL or custom.KEY.
func fieldKind(name string, scores []string) (kind, string) {
	if k, ok := contactFields[name]; ok {
		return k, ""
	}
	prefix, rest, ok := strings.Cut(name, ".")
	switch {
	case !ok || rest == "":
	case prefix == "score":
		if slices.Contains(scores, rest) {
			return kNumber, ""
		}
		return 0, "unknown score " + quote(rest) + " (scores: " + strings.Join(scores, ", ") + ")"
	case prefix == "consent":
		if slices.Contains(consentChannels, rest) {
			return kConsent, ""
		}
		return 0, "unknown consent channel " + quote(rest) + " (channels: " + strings.Join(consentChannels, ", ") + ")"
	case prefix == "custom":
		if len(rest) <= 64 && validKey(rest) {
			return kAny, ""
		}
		return 0, "bad custom field name " + quote(rest)
	}
	return 0, "unknown field " + quote(name) + " (a contact field, score.NAME, consent.CHANNEL or custom.KEY)"
}

func validKey(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
