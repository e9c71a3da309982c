-- +goose Up
-- Outbound webhooks: subscriptions to event types, and one delivery row per
-- event and subscription, claimed with a lease and retried for a day. The
-- body is made from the event when it is sent (an erased contact's events
-- have no properties left to send).
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    disabled_at BIGINT,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,   -- comma-separated event types, or *
    description TEXT
);

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id     BIGINT NOT NULL,
    contact_id   BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER,
    status       TEXT NOT NULL,  -- queued, sending, delivered, failed
    event_type   TEXT NOT NULL,
    last_reply   TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE status = 'queued';
CREATE INDEX webhook_deliveries_leases ON webhook_deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
