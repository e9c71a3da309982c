-- +goose Up
-- Message templates (Liquid): the version in force, and every version.
CREATE TABLE templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    channel    TEXT NOT NULL,   -- email, sms or whatsapp
    version    INTEGER NOT NULL,
    subject    TEXT,
    html       TEXT,
    text       TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE template_versions (
    template_id BIGINT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    subject     TEXT,
    html        TEXT,
    text        TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- +goose Down
DROP TABLE template_versions;
DROP TABLE templates;
