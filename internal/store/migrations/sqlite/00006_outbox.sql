-- +goose Up
-- A template may be wrapped in a layout: another email template whose HTML
-- holds {{ content }}.
ALTER TABLE templates ADD COLUMN layout TEXT;
ALTER TABLE template_versions ADD COLUMN layout TEXT;

-- The outbox: every message to send is a row, written in the transaction
-- that decided it, delivered by workers that claim rows with a lease.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    contact_id       BIGINT NOT NULL REFERENCES contacts (id),
    due_at           BIGINT NOT NULL,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    first_hit_at     BIGINT,          -- first open or click, for the machine-open heuristics
    attempts         INTEGER NOT NULL DEFAULT 0,
    hits             INTEGER NOT NULL DEFAULT 0,
    template_version INTEGER NOT NULL,
    channel          TEXT NOT NULL,   -- email, sms, whatsapp
    kind             TEXT NOT NULL,   -- marketing or transactional
    status           TEXT NOT NULL,   -- queued, sending, sent, failed, suppressed, in_doubt
    template         TEXT NOT NULL,
    source           TEXT NOT NULL,
    list             TEXT,            -- List-Id label
    topic            TEXT,            -- subscription topic
    sender           TEXT,            -- From, when not the default of its kind
    idempotency_key  TEXT,
    reply            TEXT             -- the server's reply, or why it failed or was suppressed
);
CREATE UNIQUE INDEX outbox_idempotency ON outbox (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_due ON outbox (due_at) WHERE status = 'queued';
CREATE INDEX outbox_leases ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_contact ON outbox (contact_id, id);

-- The suppression list: addresses Nurture never sends to (scope all), or
-- sends only transactional messages to (scope marketing). An erased
-- address is kept only as its keyed hash ("hash:…").
CREATE TABLE suppressions (
    channel    TEXT NOT NULL,   -- email, sms, whatsapp
    address    TEXT NOT NULL,
    scope      TEXT NOT NULL,   -- all or marketing
    reason     TEXT NOT NULL,   -- unsubscribed, hard_bounce, soft_bounce, complaint, manual, erased
    detail     TEXT,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel, address)
);

-- Soft bounces in a row per address: N of them suppress.
CREATE TABLE soft_bounces (
    address    TEXT PRIMARY KEY,
    bounces    INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE soft_bounces;
DROP TABLE suppressions;
DROP TABLE outbox;
ALTER TABLE template_versions DROP COLUMN layout;
ALTER TABLE templates DROP COLUMN layout;
