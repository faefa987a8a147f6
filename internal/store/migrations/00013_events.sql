-- +goose Up
-- The event log behind GET /api/events: one row per change of a job's state
-- (or reason, hold, exit code, times) and of a worker's state or size,
-- written by triggers in the very transaction that makes the change, so no
-- path that changes a job can forget it and no event exists for a change
-- that rolled back. The id orders events across every rcqd sharing the
-- database; a client resumes after the last id it saw (Last-Event-ID).
-- Rows older than events.retention are pruned; events_pruned remembers the
-- highest id pruned so a resume from before it is told to re-read (reset).
CREATE TABLE events (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    kind           text NOT NULL CHECK (kind IN ('job', 'worker')),
    job_id         bigint,
    user_id        bigint,
    worker_id      bigint,
    name           text NOT NULL DEFAULT '', -- a worker's name
    state          text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    hold           text NOT NULL DEFAULT '',
    exit_code      integer,
    signal         text NOT NULL DEFAULT '',
    submitted_at   timestamptz,
    started_at     timestamptz,
    completed_at   timestamptz,
    array_job_id   bigint,
    array_task_id  integer
);
-- Pruning by age on an append-only table: a BRIN index costs next to nothing
-- per insert.
CREATE INDEX events_at ON events USING brin (at);

CREATE TABLE events_pruned (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    through  bigint NOT NULL DEFAULT 0
);
INSERT INTO events_pruned DEFAULT VALUES;

-- Statement-level triggers with transition tables: a batch submit of 10,000
-- jobs or a scheduling cycle starting 10,000 writes one INSERT ... SELECT,
-- not 10,000 trigger calls.
-- +goose StatementBegin
CREATE FUNCTION events_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, job_id, user_id, state, reason, hold, exit_code, signal,
                        submitted_at, started_at, completed_at, array_job_id, array_task_id)
    SELECT 'job', n.id, n.user_id, n.status, n.reason, n.hold, n.exit_code, n.signal,
           n.submitted_at, n.started_at, n.completed_at, n.array_job_id, n.array_task_id
    FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION events_jobs_updated() RETURNS trigger LANGUAGE plpgsql
-- The transition tables have no statistics: a plan cached for one-row
-- updates would join a 10,000-row update by nested loop (a minute); a hash
-- join is right for every size.
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

-- +goose StatementBegin
CREATE FUNCTION events_workers_changed() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO events (kind, worker_id, name, state)
        SELECT 'worker', o.id, o.name, 'deleted' FROM old_rows o ORDER BY o.id;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO events (kind, worker_id, name, state)
        SELECT 'worker', n.id, n.name, n.status FROM new_rows n ORDER BY n.id;
    ELSE
        INSERT INTO events (kind, worker_id, name, state)
        SELECT 'worker', n.id, n.name, n.status
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.name, n.node, n.cpu_cores, n.memory_gb, n.gpu_count)
              IS DISTINCT FROM (o.status, o.name, o.node, o.cpu_cores, o.memory_gb, o.gpu_count)
        ORDER BY n.id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER events_jobs_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_jobs_inserted();
CREATE TRIGGER events_jobs_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_jobs_updated();
CREATE TRIGGER events_workers_insert AFTER INSERT ON workers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_workers_changed();
CREATE TRIGGER events_workers_update AFTER UPDATE ON workers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_workers_changed();
CREATE TRIGGER events_workers_delete AFTER DELETE ON workers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION events_workers_changed();

-- +goose Down
DROP TRIGGER events_workers_delete ON workers;
DROP TRIGGER events_workers_update ON workers;
DROP TRIGGER events_workers_insert ON workers;
DROP TRIGGER events_jobs_update ON jobs;
DROP TRIGGER events_jobs_insert ON jobs;
DROP FUNCTION events_workers_changed();
DROP FUNCTION events_jobs_updated();
DROP FUNCTION events_jobs_inserted();
DROP TABLE events_pruned;
DROP TABLE events;
