package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nurturehq/nurture/internal/journey"
)

// journeySettingsKey is the settings row of JourneySettings.
const journeySettingsKey = "journey_settings"

// JourneySettings are what all journeys share: the frequency cap on
// marketing messages, across journeys and per channel.
type JourneySettings struct {
	FrequencyCap journey.Cap `json:"frequency_cap" yaml:"frequency_cap"`
}

// JourneySettings returns the settings, with the defaults filled in.
func (s *Store) JourneySettings(ctx context.Context) (JourneySettings, error) {
	return s.journeySettings(ctx, s.r)
}

func (s *Store) journeySettings(ctx context.Context, db querier) (JourneySettings, error) {
	var raw string
	var set JourneySettings
	err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = '"+journeySettingsKey+"'").Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return set, s.dbErr("read journey settings", err)
	default:
		if err := json.Unmarshal([]byte(raw), &set); err != nil {
			return set, fmt.Errorf("stored journey settings: %w", err)
		}
	}
	set.FrequencyCap = set.FrequencyCap.Effective()
	return set, nil
}

// SetJourneySettings validates and stores the settings; every node's
// journeys apply them from their next transaction. It returns them with
// the defaults filled in.
func (s *Store) SetJourneySettings(ctx context.Context, set JourneySettings) (JourneySettings, error) {
	if err := set.FrequencyCap.Validate(); err != nil {
		return JourneySettings{}, err
	}
	set.FrequencyCap = set.FrequencyCap.Effective()
	for ch, l := range set.FrequencyCap.Channels {
		if l == (journey.Limit{}) {
			delete(set.FrequencyCap.Channels, ch) // no limit
		}
	}
	if len(set.FrequencyCap.Channels) == 0 {
		set.FrequencyCap.Channels = nil
	}
	b, _ := json.Marshal(set)
	err := s.writer.do1(func(t *tx) error {
		if _, err := t.exec(`INSERT INTO settings (key, value) VALUES ('`+journeySettingsKey+`', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b)); err != nil {
			return err
		}
		return t.bumpJourneys() // the catalog carries the cap
	})
	return set, err
}
