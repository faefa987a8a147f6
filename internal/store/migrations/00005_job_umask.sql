-- +goose Up
-- The file mode creation mask a job runs with: the submitter's, sent by
-- rcq-submit (issue 10). Jobs stored before it get the old default.
ALTER TABLE jobs ADD COLUMN umask integer NOT NULL DEFAULT 18 CHECK (umask BETWEEN 0 AND 511); -- 0022, 0 to 0777

-- +goose Down
ALTER TABLE jobs DROP COLUMN umask;
