-- +goose Up
-- Timestamps are unix milliseconds (BIGINT) on both databases.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    email           TEXT,
    email_display   TEXT,
    phone           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    company         TEXT,
    role            TEXT,
    country         TEXT,
    time_zone       TEXT,
    source          TEXT,
    offer           TEXT,
    persona         TEXT,
    request_type    TEXT,
    potential_value DOUBLE PRECISION,
    urgency         TEXT,
    budget          DOUBLE PRECISION,
    status          TEXT NOT NULL,
    next_step       TEXT,
    owner           TEXT,
    tags            TEXT,
    custom_fields   TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    erased_at       BIGINT
);
CREATE UNIQUE INDEX contacts_email ON contacts (email);
CREATE UNIQUE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contacts_owner ON contacts (owner) WHERE owner IS NOT NULL;

CREATE TABLE contact_tags (
    tag        TEXT NOT NULL,
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (tag, contact_id)
) WITHOUT ROWID;

-- Events are the bulk of the data: fixed-width columns first (no alignment
-- padding on PostgreSQL), NULL for empty properties and keys.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    contact_id      BIGINT NOT NULL REFERENCES contacts (id),
    occurred_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    type            TEXT NOT NULL,
    source          TEXT NOT NULL,
    properties      TEXT,
    idempotency_key TEXT
);
CREATE INDEX events_contact ON events (contact_id, occurred_at);
CREATE UNIQUE INDEX events_idempotency ON events (source, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE consents (
    id              INTEGER PRIMARY KEY,
    contact_id      BIGINT NOT NULL REFERENCES contacts (id),
    channel         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    status          TEXT NOT NULL,
    source          TEXT NOT NULL,
    wording_version TEXT,
    ip              TEXT,
    occurred_at     BIGINT NOT NULL
);
CREATE INDEX consents_contact ON consents (contact_id, id);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE erasures (
    id         INTEGER PRIMARY KEY,
    contact_id BIGINT NOT NULL,
    email_hash TEXT,
    phone_hash TEXT,
    erased_at  BIGINT NOT NULL
);
CREATE INDEX erasures_email ON erasures (email_hash);
CREATE INDEX erasures_phone ON erasures (phone_hash);

-- +goose Down
DROP TABLE erasures;
DROP TABLE api_keys;
DROP TABLE consents;
DROP TABLE events;
DROP TABLE contact_tags;
DROP TABLE contacts;
DROP TABLE settings;
