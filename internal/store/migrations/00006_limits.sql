-- +goose Up
-- Limits one account cannot exceed (issue 10).
--
-- pending_counts holds, per account, an upper bound of its pending jobs:
-- every submit adds its jobs to its account's row, locked, in the statement
-- or transaction that inserts them, and is refused when the sum would pass
-- jobs.max_pending_per_user. Jobs that leave pending are not subtracted
-- (starts, cancels and ends stay one UPDATE each, with no row shared
-- between accounts): a submit that finds its account at the cap first
-- recounts the account's pending jobs exactly (jobs_pending_user, which also
-- pages one account's queue) under the row's lock, and only then refuses.
-- The sum over all rows bounds the pending jobs of all accounts for
-- jobs.max_pending_total, recounted the same way when it reaches that cap.
CREATE TABLE pending_counts (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    jobs         bigint NOT NULL CHECK (jobs >= 0),
    recounted_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pending_counts (user_id, jobs)
SELECT user_id, count(*) FROM jobs WHERE status = 'pending' GROUP BY user_id;
CREATE INDEX jobs_pending_user ON jobs (user_id, id) WHERE status = 'pending';

-- memory_gb 0 meant "no memory limit"; it now means the configured default,
-- and every stored job has a limit (old rows get 1 GB, the default default).
UPDATE jobs SET memory_gb = 1 WHERE memory_gb < 1;
ALTER TABLE jobs ADD CONSTRAINT jobs_memory_limit CHECK (memory_gb >= 1);

-- +goose Down
ALTER TABLE jobs DROP CONSTRAINT jobs_memory_limit;
DROP INDEX jobs_pending_user;
DROP TABLE pending_counts;
