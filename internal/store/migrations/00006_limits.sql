-- +goose Up
-- Limits one account cannot exceed (issue 10).
--
-- The pending caps (jobs.max_pending_per_user, jobs.max_pending_total) are
-- checked by counting an account's pending jobs, through this index, when a
-- submit comes near a cap (internal/store/pending.go); it also pages one
-- account's queue.
CREATE INDEX jobs_pending_user ON jobs (user_id, id) WHERE status = 'pending';

-- memory_gb 0 meant "no memory limit"; it now means the configured default,
-- and every stored job has a limit (old rows get 1 GB, the default default).
UPDATE jobs SET memory_gb = 1 WHERE memory_gb < 1;
ALTER TABLE jobs ADD CONSTRAINT jobs_memory_limit CHECK (memory_gb >= 1);

-- +goose Down
ALTER TABLE jobs DROP CONSTRAINT jobs_memory_limit;
DROP INDEX jobs_pending_user;
