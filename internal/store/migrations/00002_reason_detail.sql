-- +goose Up
-- The words behind a job's reason: why a launch failed, which dependency can
-- never be met. Shown by GET /api/jobs/{id} and rcq-queue.
ALTER TABLE jobs ADD COLUMN reason_detail text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN reason_detail;
