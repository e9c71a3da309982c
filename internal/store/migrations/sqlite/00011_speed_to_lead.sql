-- +goose Up
-- Sales owners: the people leads are assigned to. name is what
-- contacts.owner holds.
CREATE TABLE owners (
    name         TEXT PRIMARY KEY,
    display_name TEXT,
    email        TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    hours        TEXT NOT NULL,      -- working hours per weekday (JSON)
    max_open     INTEGER NOT NULL,   -- 0: no limit
    weight       INTEGER NOT NULL,
    territory    TEXT,               -- countries and zones (JSON)
    disabled_at  BIGINT,             -- set: takes no new leads
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE absences (
    id          INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL REFERENCES owners (name),
    from_at     BIGINT NOT NULL,
    to_at       BIGINT NOT NULL,
    reason      TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX absences_owner ON absences (owner, to_at);

-- Teams: members, how leads are shared among them, the business calendar,
-- and cursor, the assignment turns taken (read and written under the row's
-- lock, so concurrent leads take distinct turns).
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    strategy    TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    hours       TEXT NOT NULL,
    holidays    TEXT,               -- country whose public holidays close the team
    team_lead   TEXT,
    manager     TEXT,
    members     TEXT NOT NULL,      -- JSON
    booking     TEXT,               -- JSON
    cursor      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE holidays (
    country TEXT NOT NULL,
    day     TEXT NOT NULL,          -- YYYY-MM-DD
    name    TEXT NOT NULL,
    PRIMARY KEY (country, day)
);

-- Every version of the routing rules document, as written.
CREATE TABLE routing_rules (
    version     INTEGER PRIMARY KEY,
    document    TEXT NOT NULL,
    comment     TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);

-- One SLA clock per lead: first human contact within target of business
-- time from start_at (the first opening at or after the lead's arrival).
-- next_at is when the next escalation level falls due, armed as a timer.
CREATE TABLE sla_clocks (
    contact_id   BIGINT PRIMARY KEY REFERENCES contacts (id),
    team         TEXT NOT NULL,
    owner        TEXT,
    target_ms    BIGINT NOT NULL,
    arrived_at   BIGINT NOT NULL,
    start_at     BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    level        INTEGER NOT NULL,   -- escalation levels passed
    next_at      BIGINT,
    stopped_at   BIGINT,
    stopped_by   TEXT,               -- the event type that stopped it
    first_touch_at BIGINT,           -- the first automated message's queueing
    breached_at  BIGINT,
    outside_hours INTEGER NOT NULL,  -- 1: the lead arrived while the team was closed
    source       TEXT
);
CREATE INDEX sla_clocks_arrived ON sla_clocks (arrived_at);

-- A message about a contact to someone else (an owner's SLA reminder)
-- goes to recipient; data are the sender's variables for its template.
ALTER TABLE outbox ADD COLUMN recipient TEXT;
ALTER TABLE outbox ADD COLUMN data TEXT;

-- +goose Down
ALTER TABLE outbox DROP COLUMN data;
ALTER TABLE outbox DROP COLUMN recipient;
DROP TABLE sla_clocks;
DROP TABLE routing_rules;
DROP TABLE holidays;
DROP TABLE teams;
DROP TABLE absences;
DROP TABLE owners;
