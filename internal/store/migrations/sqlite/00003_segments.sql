-- +goose Up
-- Segments: dynamic ones follow a rule, static ones are lists.
CREATE TABLE segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: contacts keep segment ids (segment_state.in)
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    description TEXT,
    rule        TEXT,             -- JSON form of the version in force
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,    -- building or ready
    built_to    BIGINT NOT NULL DEFAULT 0, -- contacts up to this id are built (while building)
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Every version of a segment's definition.
CREATE TABLE segment_versions (
    segment_id  BIGINT NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    description TEXT,
    rule        TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (segment_id, version)
);

-- Who is in which segment now; the history is the segment_entered and
-- segment_exited events.
CREATE TABLE segment_members (
    segment_id BIGINT NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    since      BIGINT NOT NULL,
    PRIMARY KEY (segment_id, contact_id)
);
CREATE INDEX segment_members_contact ON segment_members (contact_id);

-- A contact's behaviour as segments read it (JSON, see segment.State).
CREATE TABLE segment_state (
    contact_id BIGINT PRIMARY KEY REFERENCES contacts (id),
    state      TEXT NOT NULL
);

-- +goose Down
DROP TABLE segment_state;
DROP TABLE segment_members;
DROP TABLE segment_versions;
DROP TABLE segments;
