package contact

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// Change records one field's old and new value, for field_changed events.
type Change struct {
	Field string `json:"field"`
	Old   any    `json:"old,omitempty"`
	New   any    `json:"new,omitempty"`
}

// New builds a contact from normalised input. Status defaults to new and the
// lifecycle to lead; on create the input may set either.
func New(in Input, now time.Time) Contact {
	c := Contact{Status: StatusNew, Lifecycle: LifecycleLead, Tags: []string{}, CustomFields: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	if in.Lifecycle != "" {
		c.Lifecycle = in.Lifecycle
	}
	c, _ = Merge(c, in, false, now)
	return c
}

// Merge applies normalised input to c and returns the result with the list
// of fields that changed. Later non-empty values win; tags are united (or
// replaced when replaceTags, as a PATCH does); custom fields are merged key by
// key, a nil value removing its key; fields named in in.Clear are emptied.
// UpdatedAt moves only when something changed.
func Merge(c Contact, in Input, replaceTags bool, now time.Time) (Contact, []Change) {
	var changes []Change
	set := func(field string, dst *string, v string) {
		if *dst != v {
			changes = append(changes, Change{Field: field, Old: *dst, New: v})
			*dst = v
		}
	}
	for _, f := range append(slices.Clone(normalizedFields), textFields...) {
		if v := *f.in(&in); v != "" {
			set(f.name, f.contact(&c), v)
		}
	}
	if in.emailDisplay != "" && in.emailDisplay != c.EmailDisplay {
		c.EmailDisplay = in.emailDisplay // the identity change, if any, is already recorded
	}
	setNum := func(field string, dst **float64, v *float64) {
		if v != nil && (*dst == nil || **dst != *v) {
			var old any // nil, not a typed nil pointer: an unset value reads "old": null
			if *dst != nil {
				old = **dst
			}
			changes = append(changes, Change{Field: field, Old: old, New: *v})
			nv := *v
			*dst = &nv
		}
	}
	setNum("potential_value", &c.PotentialValue, in.PotentialValue)
	setNum("budget", &c.Budget, in.Budget)
	setNum("opportunity_value", &c.OpportunityValue, in.OpportunityValue)
	// A form filled again must not send a lead back down the funnel: input
	// only raises the lifecycle; moves back are explicit and need a reason.
	if in.Lifecycle != "" && c.Lifecycle != LifecycleDisqualified && in.Lifecycle != LifecycleDisqualified &&
		LifecycleRank(in.Lifecycle) > LifecycleRank(c.Lifecycle) {
		set("lifecycle", &c.Lifecycle, in.Lifecycle)
	}

	if in.Tags != nil {
		tags := slices.Clone(in.Tags)
		if !replaceTags {
			tags = slices.Clone(c.Tags)
			for _, t := range in.Tags {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
		}
		if !slices.Equal(tags, c.Tags) {
			changes = append(changes, Change{Field: "tags", Old: c.Tags, New: tags})
			c.Tags = tags
		}
	}
	if in.CustomFields != nil {
		cf := maps.Clone(c.CustomFields)
		if cf == nil {
			cf = map[string]any{}
		}
		for k, v := range in.CustomFields {
			if v == nil {
				delete(cf, k)
			} else {
				cf[k] = v
			}
		}
		if !reflect.DeepEqual(cf, c.CustomFields) {
			changes = append(changes, Change{Field: "custom_fields", Old: c.CustomFields, New: cf})
			c.CustomFields = cf
		}
	}
	for _, f := range in.Clear {
		switch f {
		case "potential_value", "budget", "opportunity_value":
			dst := &c.PotentialValue
			switch f {
			case "budget":
				dst = &c.Budget
			case "opportunity_value":
				dst = &c.OpportunityValue
			}
			if *dst != nil {
				changes = append(changes, Change{Field: f, Old: **dst})
				*dst = nil
			}
		case "tags":
			if len(c.Tags) > 0 {
				changes = append(changes, Change{Field: f, Old: c.Tags})
				c.Tags = []string{}
			}
		case "custom_fields":
			if len(c.CustomFields) > 0 {
				changes = append(changes, Change{Field: f, Old: c.CustomFields})
				c.CustomFields = map[string]any{}
			}
		default:
			for _, tf := range append(slices.Clone(normalizedFields), textFields...) {
				if tf.name == f {
					set(f, tf.contact(&c), "")
				}
			}
			if f == "email" {
				c.EmailDisplay = ""
			}
		}
	}
	if len(changes) > 0 {
		c.UpdatedAt = now
	}
	return c, changes
}

// Check reports whether a merged contact can be stored: it needs an email or
// a phone, and what upserts accumulate (tags, custom fields) must stay within
// the limits a single input has.
func Check(c Contact) error {
	if c.Email == "" && c.Phone == "" {
		return &ValidationError{Field: "email", Reason: "a contact needs an email or a phone"}
	}
	if len(c.Tags) > MaxTags {
		return &ValidationError{Field: "tags", Reason: fmt.Sprintf("the contact would have more than %d tags", MaxTags)}
	}
	if err := checkCustomFields(c.CustomFields); err != nil {
		return &ValidationError{Field: "custom_fields", Reason: "once merged, " + err.(*ValidationError).Reason}
	}
	return nil
}
