-- +goose Up
-- Lifecycle and the opportunity live on the contact row.
ALTER TABLE contacts ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'lead';
ALTER TABLE contacts ADD COLUMN opportunity_value DOUBLE PRECISION;
ALTER TABLE contacts ADD COLUMN expected_close_date TEXT;
ALTER TABLE contacts ADD COLUMN won_revenue DOUBLE PRECISION;
ALTER TABLE contacts ADD COLUMN closed_at BIGINT;
CREATE INDEX contacts_status ON contacts (status);

-- Every applied version of the scoring rules document, as written.
CREATE TABLE scoring_rules (
    version       INTEGER PRIMARY KEY,
    document      TEXT NOT NULL,
    rule_versions TEXT NOT NULL,
    comment       TEXT,
    created_by    TEXT,
    created_at    BIGINT NOT NULL
);

-- A contact's scoring state (JSON, see score.State); score is the value the
-- thresholds read, kept apart for sorting and reports.
CREATE TABLE score_state (
    contact_id BIGINT PRIMARY KEY REFERENCES contacts (id),
    score      INTEGER NOT NULL,
    band       TEXT,
    state      TEXT NOT NULL
);

-- Every change of a score, and why. The sum of a contact's rows for a score
-- is its value.
CREATE TABLE score_ledger (
    id           INTEGER PRIMARY KEY,
    contact_id   BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    event_id     BIGINT,
    points       INTEGER NOT NULL,
    before_value INTEGER NOT NULL,
    after_value  INTEGER NOT NULL,
    rule_version INTEGER NOT NULL,
    score        TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    reason       TEXT
);
CREATE INDEX score_ledger_contact ON score_ledger (contact_id);

-- Durable timers: one per contact and kind, woken at due_at.
CREATE TABLE timers (
    kind       TEXT NOT NULL,
    contact_id BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    PRIMARY KEY (kind, contact_id)
);
CREATE INDEX timers_due ON timers (due_at);

-- Sales tasks.
CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    contact_id   BIGINT NOT NULL REFERENCES contacts (id),
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    owner        TEXT,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    due_at       BIGINT,
    created_at   BIGINT NOT NULL,
    completed_at BIGINT,
    completed_by TEXT,
    outcome      TEXT
);
CREATE INDEX tasks_contact ON tasks (contact_id);
CREATE INDEX tasks_status ON tasks (status, id);

-- BANT qualification, one row per contact and criterion.
CREATE TABLE bant (
    contact_id        BIGINT NOT NULL REFERENCES contacts (id),
    criterion         TEXT NOT NULL,
    value             TEXT,
    evidence          TEXT,
    evidence_event_id BIGINT,
    source            TEXT,
    confirmed_by      TEXT,
    confirmed_at      BIGINT,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (contact_id, criterion)
);

-- Background jobs (rescoring) and their progress.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    params      TEXT,
    total       BIGINT NOT NULL DEFAULT 0,
    done        BIGINT NOT NULL DEFAULT 0,
    cursor      BIGINT NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    finished_at BIGINT
);

-- +goose Down
DROP TABLE jobs;
DROP TABLE bant;
DROP TABLE tasks;
DROP TABLE timers;
DROP TABLE score_ledger;
DROP TABLE score_state;
DROP TABLE scoring_rules;
DROP INDEX contacts_status;
ALTER TABLE contacts DROP COLUMN closed_at;
ALTER TABLE contacts DROP COLUMN won_revenue;
ALTER TABLE contacts DROP COLUMN expected_close_date;
ALTER TABLE contacts DROP COLUMN opportunity_value;
ALTER TABLE contacts DROP COLUMN lifecycle;
