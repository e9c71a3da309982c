-- +goose Up
-- SMTP relays and sending domains kept through the API, beside the
-- default relay of NURTURE_SMTP_URL. A sending domain signs with its DKIM
-- key and may send through a relay of its own.
CREATE TABLE mail_relays (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE sending_domains (
    domain      TEXT PRIMARY KEY,
    selector    TEXT NOT NULL,
    private_key TEXT NOT NULL,
    relay       TEXT REFERENCES mail_relays (name),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sending_domains;
DROP TABLE mail_relays;
