package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nurturehq/nurture/internal/contact"
)

// Topic is a subscription group a contact can leave in the preference
// centre ("product-news", "events"). Marketing messages name their topic.
type Topic struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// MaxTopics bounds the topic list.
const MaxTopics = 50

// Tags the preference centre sets on a contact (visible in the CRM, usable
// in segments); dispatch reads them at send time.
const (
	PrefPaused     = "pref:paused"
	PrefNoTracking = "pref:no-tracking"
	prefTopic      = "pref:no-"
)

// TopicOptOutTag marks a contact who left a topic.
func TopicOptOutTag(topic string) string { return prefTopic + topic }

// Topics returns the topic list.
func (s *Store) Topics(ctx context.Context) ([]Topic, error) {
	var raw string
	err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'topics'").Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return []Topic{}, nil
	} else if err != nil {
		return nil, s.dbErr("read topics", err)
	}
	var out []Topic
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("stored topics: %w", err)
	}
	return out, nil
}

// SetTopics replaces the topic list (names checked by the caller).
func (s *Store) SetTopics(ctx context.Context, topics []Topic) error {
	if len(topics) > MaxTopics {
		return fmt.Errorf("at most %d topics", MaxTopics)
	}
	b, err := json.Marshal(topics)
	if err != nil {
		return err
	}
	return s.writer.do1(func(t *tx) error {
		_, err := t.exec(`INSERT INTO settings (key, value) VALUES ('topics', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b))
		return err
	})
}

// Preferences are what a contact chooses in the preference centre.
type Preferences struct {
	Paused     bool            `json:"paused"`
	NoTracking bool            `json:"no_tracking"`
	Topics     map[string]bool `json:"topics"`   // topic → subscribed
	Channels   map[string]bool `json:"channels"` // email, sms, whatsapp → marketing wanted
}

// ContactPreferences reads a contact's preferences from its tags and consents.
func (s *Store) ContactPreferences(ctx context.Context, id int64) (Preferences, error) {
	c, err := s.GetContact(ctx, id)
	if err != nil {
		return Preferences{}, err
	}
	current, _, err := s.Consents(ctx, id)
	if err != nil {
		return Preferences{}, err
	}
	topics, err := s.Topics(ctx)
	if err != nil {
		return Preferences{}, err
	}
	return preferencesOf(c, current, topics), nil
}

func preferencesOf(c contact.Contact, current []contact.Consent, topics []Topic) Preferences {
	p := Preferences{Topics: map[string]bool{}, Channels: map[string]bool{},
		Paused: slices.Contains(c.Tags, PrefPaused), NoTracking: slices.Contains(c.Tags, PrefNoTracking)}
	for _, tp := range topics {
		p.Topics[tp.Name] = !slices.Contains(c.Tags, TopicOptOutTag(tp.Name))
	}
	status := map[string]string{}
	for _, x := range current {
		if x.Purpose == KindMarketing {
			status[x.Channel] = x.Status
		}
	}
	p.Channels[ChannelEmail] = status[ChannelEmail] != contact.ConsentWithdrawn && status[ChannelEmail] != contact.ConsentPending
	for _, ch := range []string{ChannelSMS, ChannelWhatsApp} {
		p.Channels[ch] = status[ch] == contact.ConsentGranted
	}
	return p
}

// SavePreferences applies a contact's choices from the preference centre:
// pause and topics as tags, channels as consent (granted or withdrawn,
// with the IP). Turning email back on lifts an unsubscription: the
// contact asked, through a link only they received. Silent about contacts
// that do not exist.
func (s *Store) SavePreferences(ctx context.Context, id int64, p Preferences, ip string) error {
	return s.writer.doKeyed(idKey(id), func(t *tx) error {
		now := t.s.now()
		old, err := t.lockContact(id)
		if errors.Is(err, contact.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var topics []Topic
		var raw string
		if err := t.queryRow("SELECT value FROM settings WHERE key = 'topics'").Scan(&raw); err == nil {
			_ = json.Unmarshal([]byte(raw), &topics)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		tags := slices.DeleteFunc(slices.Clone(old.Tags), func(tag string) bool { return strings.HasPrefix(tag, "pref:") })
		if p.Paused {
			tags = append(tags, PrefPaused)
		}
		if p.NoTracking {
			tags = append(tags, PrefNoTracking)
		}
		for _, tp := range topics {
			if on, given := p.Topics[tp.Name]; given && !on || !given && slices.Contains(old.Tags, TopicOptOutTag(tp.Name)) {
				tags = append(tags, TopicOptOutTag(tp.Name))
			}
		}
		if !slices.Equal(tags, old.Tags) {
			c, changes := contact.Merge(old, contact.Input{Tags: tags}, true, now)
			if err := t.updateContact(old, c, changes, "preferences", now, change{}); err != nil {
				return err
			}
		}
		current, err := t.consentLedger(id)
		if err != nil {
			return err
		}
		was := preferencesOf(old, contact.CurrentConsents(current), nil)
		var consents []contact.ConsentInput
		for _, ch := range []string{ChannelEmail, ChannelSMS, ChannelWhatsApp} {
			on, given := p.Channels[ch]
			if !given || on == was.Channels[ch] {
				continue
			}
			if ch != ChannelEmail && old.Phone == "" {
				continue
			}
			status := contact.ConsentWithdrawn
			if on {
				status = contact.ConsentGranted
			}
			consents = append(consents, contact.ConsentInput{Channel: ch, Purpose: KindMarketing, Status: status, Source: "preferences", IP: ip})
		}
		if err := t.recordConsents(id, consents, "preferences", now); err != nil {
			return err
		}
		if on, given := p.Channels[ChannelEmail]; given && old.Email != "" {
			if !on && was.Channels[ChannelEmail] {
				return t.unsubscribe(old, 0, ip, "preferences")
			}
			if on {
				_, err := t.exec("DELETE FROM suppressions WHERE channel = ? AND address = ? AND reason = ?",
					ChannelEmail, old.Email, SuppressUnsubscribed)
				return err
			}
		}
		return nil
	})
}
