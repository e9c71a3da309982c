-- +goose Up
-- Journeys: documents with versions; the live version enrols contacts.
CREATE TABLE journeys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,      -- live or paused
    version     INTEGER NOT NULL,   -- the live version
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE journey_versions (
    journey_id  BIGINT NOT NULL REFERENCES journeys (id),
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (journey_id, version)
);

-- One row per contact's pass through a journey. due_at is the durable
-- timer: workers take the due rows (FOR UPDATE SKIP LOCKED on PostgreSQL)
-- and move them on in the transaction that queues their messages.
CREATE TABLE enrolments (
    id          INTEGER PRIMARY KEY,
    journey_id  BIGINT NOT NULL REFERENCES journeys (id),
    version     INTEGER NOT NULL,
    contact_id  BIGINT NOT NULL REFERENCES contacts (id),
    status      TEXT NOT NULL,      -- active, waiting, paused, completed, exited
    step        TEXT,
    due_at      BIGINT,
    state       TEXT NOT NULL,      -- the engine's state (JSON)
    reason      TEXT,               -- why it ended, or why it waits
    entered_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX enrolments_one_in ON enrolments (journey_id, contact_id) WHERE status IN ('active', 'waiting', 'paused');
CREATE INDEX enrolments_due ON enrolments (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX enrolments_contact ON enrolments (contact_id, journey_id);

-- Counters per journey, version and step: entered, sent, deferred (by
-- reason), exited (by reason), converted, split arms.
CREATE TABLE journey_stats (
    journey_id  BIGINT NOT NULL,
    version     INTEGER NOT NULL,
    step        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (journey_id, version, step, metric, detail)
);

-- +goose Down
DROP TABLE journey_stats;
DROP TABLE enrolments;
DROP TABLE journey_versions;
DROP TABLE journeys;
