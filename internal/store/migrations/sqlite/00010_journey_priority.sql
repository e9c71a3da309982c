-- +goose Up
-- A journey's priority, copied on its enrolments: when several are due at
-- once (messages deferred to the same slot by the frequency cap), the
-- higher priority runs first and takes the slot.
ALTER TABLE enrolments ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX enrolments_due;
CREATE INDEX enrolments_due ON enrolments (due_at, priority DESC, id) WHERE due_at IS NOT NULL;

-- +goose Down
DROP INDEX enrolments_due;
CREATE INDEX enrolments_due ON enrolments (due_at) WHERE due_at IS NOT NULL;
ALTER TABLE enrolments DROP COLUMN priority;
