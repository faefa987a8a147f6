-- +goose Up
-- Node failure and the worker lifecycle (issue 13, items 5 and 6).
--
-- A job whose node stopped renewing its lease for longer than
-- node.dead_after ends node_fail (reason NodeFail), or goes back to pending
-- once when it may be requeued: requeue is what the job asked for (sbatch
-- --requeue / --no-requeue), NULL for the default (array elements are
-- requeued when jobs.requeue_array_elements is set). restarts counts the
-- times a job went back to pending after it ran; requeued_at is the last.
-- A job that never reported started within jobs.start_timeout ends failed
-- with reason LaunchFailed (a reason, as the executor's own launch failures
-- already are, not a state of its own), and is requeued the same way.
ALTER TABLE jobs ADD COLUMN requeue boolean;
ALTER TABLE jobs ADD COLUMN restarts integer NOT NULL DEFAULT 0 CHECK (restarts >= 0);
ALTER TABLE jobs ADD COLUMN requeued_at timestamptz;
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timeout', 'node_fail'));
ALTER TABLE jobs ADD CONSTRAINT jobs_node_fail_shape
    CHECK (status <> 'node_fail' OR (started_at IS NOT NULL AND completed_at IS NOT NULL));

-- When a lease was last renewed: a node's "last seen", named in a
-- node_fail's detail. A lease released by a stopping rcqd is deleted; its
-- workers' last_heartbeat is the fallback.
ALTER TABLE leases ADD COLUMN renewed_at timestamptz NOT NULL DEFAULT now();

-- The nodes whose rcqd has run: every heartbeat (and rcqd's registration
-- of its own worker) records its node here. A virtual worker must name one
-- of them (or be created offline), so a typo is refused, not a black hole.
CREATE TABLE nodes (
    name       text PRIMARY KEY CHECK (name <> ''),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO nodes (name, last_seen)
    SELECT substr(name, 6), renewed_at FROM leases WHERE name LIKE 'node:%' ON CONFLICT DO NOTHING;

-- A deleted worker keeps its row (jobs and accounting name it: jobs.worker_id
-- references it) but leaves every listing and frees its name.
ALTER TABLE workers ADD COLUMN deleted_at timestamptz;
ALTER TABLE workers DROP CONSTRAINT workers_name_key;
CREATE UNIQUE INDEX workers_name_live ON workers (name) WHERE deleted_at IS NULL;

-- The event log says 'deleted' when a worker is (soft-)deleted.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_workers_changed() RETURNS trigger LANGUAGE plpgsql
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
        SELECT 'worker', n.id, n.name, CASE WHEN n.deleted_at IS NULL THEN n.status ELSE 'deleted' END
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.name, n.node, n.cpu_cores, n.memory_gb, n.gpu_count, n.deleted_at)
              IS DISTINCT FROM (o.status, o.name, o.node, o.cpu_cores, o.memory_gb, o.gpu_count, o.deleted_at)
        ORDER BY n.id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION events_workers_changed() RETURNS trigger LANGUAGE plpgsql
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
DROP TABLE nodes;
DROP INDEX workers_name_live;
DELETE FROM workers WHERE deleted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs WHERE worker_id = workers.id);
ALTER TABLE workers ADD CONSTRAINT workers_name_key UNIQUE (name);
ALTER TABLE workers DROP COLUMN deleted_at;
ALTER TABLE leases DROP COLUMN renewed_at;
ALTER TABLE jobs DROP CONSTRAINT jobs_node_fail_shape;
UPDATE jobs SET status = 'failed' WHERE status = 'node_fail';
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'timeout'));
ALTER TABLE jobs DROP COLUMN requeued_at;
ALTER TABLE jobs DROP COLUMN restarts;
ALTER TABLE jobs DROP COLUMN requeue;
