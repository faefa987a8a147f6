-- +goose Up
-- How many jobs ended in each finished state, by group: the counters behind
-- rcq_jobs_finished_total, so a metrics scrape reads a few dozen rows and
-- never scans jobs (which grow without bound). The jobs trigger of 00013
-- keeps them, in the transaction that ends the jobs: a job counts once per
-- move out of pending or running (a requeued job that ends again counts
-- again), whichever path ends it. Each connection adds to its own shard
-- (its backend pid modulo 16), so concurrent job ends do not queue on one
-- row; a reader sums the shards.
CREATE TABLE job_state_counts (
    state     text NOT NULL,
    group_id  bigint NOT NULL,
    shard     smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    n         bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (state, group_id, shard)
);
-- Jobs that ended before this migration count from the start.
INSERT INTO job_state_counts (state, group_id, shard, n)
SELECT status, group_id, 0, count(*) FROM jobs WHERE status NOT IN ('pending', 'running') GROUP BY status, group_id;

-- The jobs update trigger as in 00013, the changed rows computed once for
-- both the event log and the counters.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_jobs_updated() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
    WITH changed AS (
        SELECT n.id, n.user_id, n.group_id, n.status, n.reason, n.hold, n.exit_code, n.signal,
               n.submitted_at, n.started_at, n.completed_at, n.array_job_id, n.array_task_id,
               o.status AS old_status
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.reason, n.hold, n.exit_code, n.signal, n.started_at, n.completed_at, n.array_task_id)
              IS DISTINCT FROM (o.status, o.reason, o.hold, o.exit_code, o.signal, o.started_at, o.completed_at, o.array_task_id)
    ), logged AS (
        INSERT INTO events (kind, job_id, user_id, state, reason, hold, exit_code, signal,
                            submitted_at, started_at, completed_at, array_job_id, array_task_id)
        SELECT 'job', c.id, c.user_id, c.status, c.reason, c.hold, c.exit_code, c.signal,
               c.submitted_at, c.started_at, c.completed_at, c.array_job_id, c.array_task_id
        FROM changed c ORDER BY c.id
    )
    INSERT INTO job_state_counts AS t (state, group_id, shard, n)
    SELECT c.status, c.group_id, pg_backend_pid() % 16, count(*)
    FROM changed c
    WHERE c.old_status IN ('pending', 'running') AND c.status NOT IN ('pending', 'running')
    GROUP BY c.status, c.group_id
    ON CONFLICT (state, group_id, shard) DO UPDATE SET n = t.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_jobs_updated() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
    INSERT INTO events (kind, job_id, user_id, state, reason, hold, exit_code, signal,
                        submitted_at, started_at, completed_at, array_job_id, array_task_id)
    SELECT 'job', n.id, n.user_id, n.status, n.reason, n.hold, n.exit_code, n.signal,
           n.submitted_at, n.started_at, n.completed_at, n.array_job_id, n.array_task_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (n.status, n.reason, n.hold, n.exit_code, n.signal, n.started_at, n.completed_at, n.array_task_id)
          IS DISTINCT FROM (o.status, o.reason, o.hold, o.exit_code, o.signal, o.started_at, o.completed_at, o.array_task_id)
    ORDER BY n.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TABLE job_state_counts;
