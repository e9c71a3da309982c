package contact

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Consent vocabulary. The ledger is append-only: a withdrawal is a new row.
var (
	ConsentChannels = []string{"email", "sms", "whatsapp", "push"}
	ConsentPurposes = []string{"marketing", "transactional"}
	ConsentStatuses = []string{ConsentGranted, ConsentWithdrawn, ConsentPending}
	ConsentSources  = []string{"api", "form", "import"}
)

// Consent statuses.
const (
	ConsentGranted   = "granted"
	ConsentWithdrawn = "withdrawn"
	ConsentPending   = "pending_confirmation"
)

// ConsentInput is one consent statement to record.
type ConsentInput struct {
	Channel        string
	Purpose        string
	Status         string
	Source         string // defaults to the caller's source
	WordingVersion string
	IP             string
	OccurredAt     time.Time // zero means now
}

// Consent is one row of the ledger.
type Consent struct {
	ID             int64     `json:"id"`
	Channel        string    `json:"channel"`
	Purpose        string    `json:"purpose"`
	Status         string    `json:"status"`
	Source         string    `json:"source"`
	WordingVersion string    `json:"wording_version,omitempty"`
	IP             string    `json:"ip,omitempty"`
	OccurredAt     time.Time `json:"occurred_at"`
}

// NormalizeConsent validates a consent statement; field names in errors are
// prefixed with prefix (such as "consents[0].").
func NormalizeConsent(in ConsentInput, prefix string) (ConsentInput, error) {
	oneOf := func(field string, v *string, allowed []string) error {
		*v = strings.ToLower(strings.TrimSpace(*v))
		if !slices.Contains(allowed, *v) {
			return &ValidationError{Field: prefix + field, Reason: "must be one of " + strings.Join(allowed, ", ")}
		}
		return nil
	}
	if err := oneOf("channel", &in.Channel, ConsentChannels); err != nil {
		return in, err
	}
	if err := oneOf("purpose", &in.Purpose, ConsentPurposes); err != nil {
		return in, err
	}
	if err := oneOf("status", &in.Status, ConsentStatuses); err != nil {
		return in, err
	}
	if err := oneOf("source", &in.Source, ConsentSources); err != nil {
		return in, err
	}
	v, err := cleanText(prefix+"wording_version", in.WordingVersion, 64, false)
	if err != nil {
		return in, err
	}
	in.WordingVersion = v
	if in.IP != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(in.IP))
		// A zone ("fe80::1%eth0") is free text of any length and content.
		if err != nil || a.Zone() != "" {
			return in, &ValidationError{Field: prefix + "ip", Reason: "is not an IP address"}
		}
		in.IP = a.Unmap().String()
	}
	return in, nil
}

// CurrentConsents derives the current state from a ledger in the order it was
// written: the last row per channel × purpose wins.
func CurrentConsents(ledger []Consent) []Consent {
	last := map[string]int{}
	var keys []string
	for i, c := range ledger {
		k := c.Channel + "/" + c.Purpose
		if _, ok := last[k]; !ok {
			keys = append(keys, k)
		}
		last[k] = i
	}
	slices.Sort(keys)
	out := make([]Consent, 0, len(keys))
	for _, k := range keys {
		out = append(out, ledger[last[k]])
	}
	return out
}
