-- +goose Up
-- The behaviour keys segments track (segment.Catalog.Keys) with what their
-- conditions need, and the epoch from which a contact's segment_state row
-- must have been completed for each (see segkeys.go).
CREATE TABLE segment_keys (
    key   TEXT PRIMARY KEY,
    needs TEXT NOT NULL,
    epoch BIGINT NOT NULL
);

-- +goose Down
DROP TABLE segment_keys;
