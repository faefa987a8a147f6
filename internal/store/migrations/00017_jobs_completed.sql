-- +goose Up
-- The dashboard's history of running and pending jobs (ClusterHistory) reads
-- only the jobs that had not ended when its window opens: those ended after
-- it, found on this index, and those not ended at all (completed_at IS NULL,
-- on the same index), so its cost follows the jobs of the window, not the
-- table.
CREATE INDEX jobs_completed ON jobs (completed_at);

-- +goose Down
DROP INDEX jobs_completed;
