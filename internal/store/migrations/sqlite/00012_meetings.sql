-- +goose Up
-- Meetings booked with an owner, on a booking page or through the API.
-- A meeting keeps its row when it is rescheduled (start and end move,
-- sequence goes up, as RFC 5545 wants of an updated invitation) and when
-- it is cancelled or its outcome is logged (status).
CREATE TABLE meetings (
    id           INTEGER PRIMARY KEY,
    uid          TEXT NOT NULL UNIQUE,   -- the invitation's UID
    contact_id   BIGINT NOT NULL REFERENCES contacts (id),
    owner        TEXT NOT NULL REFERENCES owners (name),
    team         TEXT,                   -- the team page it was booked on
    start_at     BIGINT NOT NULL,
    end_at       BIGINT NOT NULL,
    time_zone    TEXT NOT NULL,          -- the visitor's, for their emails
    status       TEXT NOT NULL,          -- booked, cancelled, held, no_show
    sequence     INTEGER NOT NULL,
    source       TEXT NOT NULL,          -- booking page or api
    notes        TEXT,                   -- written when booking (the visitor's, or the API's)
    outcome_notes TEXT,                  -- written with the outcome (held, no_show)
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- One booked meeting per owner and start: the last guard against a double
-- booking (overlaps are refused under the owner's lock before it).
CREATE UNIQUE INDEX meetings_booked ON meetings (owner, start_at) WHERE status = 'booked';
CREATE INDEX meetings_owner ON meetings (owner, end_at);
CREATE INDEX meetings_contact ON meetings (contact_id);

-- An invitation (RFC 5545, with its METHOD) sent with an email.
ALTER TABLE outbox ADD COLUMN calendar TEXT;

-- +goose Down
ALTER TABLE outbox DROP COLUMN calendar;
DROP TABLE meetings;
