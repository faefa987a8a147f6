-- +goose Up
-- Job arrays (sbatch --array), stored as Slurm stores them: an array is ONE
-- jobs row (its "meta" row, whose id is the array's id) plus one job_arrays
-- row, however many elements it has. An element gets its own jobs row (a
-- copy of the meta row's) only when it is split off: when it starts, when it
-- is cancelled, held, released or updated on its own. When the last pending
-- index leaves, the meta row itself becomes that element.
--
-- array_job_id is the array's id on every row of an array (NULL for an
-- ordinary job); array_task_id is the element's index (NULL on the meta row
-- while it stands for the elements not yet split off).
ALTER TABLE jobs ADD COLUMN array_job_id bigint;
ALTER TABLE jobs ADD COLUMN array_task_id integer CHECK (array_task_id BETWEEN 0 AND 4000000);
ALTER TABLE jobs ADD CONSTRAINT jobs_array_task CHECK (array_task_id IS NULL OR array_job_id IS NOT NULL);
CREATE INDEX jobs_array ON jobs (array_job_id, array_task_id) WHERE array_job_id IS NOT NULL;
-- One row per element.
CREATE UNIQUE INDEX jobs_array_element ON jobs (array_job_id, array_task_id) WHERE array_task_id IS NOT NULL;

-- pending is rcq.IndexSet.String() of the indices not yet split off: the
-- elements the meta row stands for. The rest describes the whole array.
CREATE TABLE job_arrays (
    job_id      bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    spec        text NOT NULL,
    pending     text NOT NULL,
    throttle    integer NOT NULL DEFAULT 0 CHECK (throttle >= 0),
    task_count  integer NOT NULL CHECK (task_count >= 1),
    task_min    integer NOT NULL,
    task_max    integer NOT NULL,
    task_step   integer NOT NULL CHECK (task_step >= 1)
);

-- Dependencies on one element of an array (afterok:123_4: depends_on 123,
-- array_task_id 4) and aftercorr (element i after element i of depends_on;
-- array_task_id is the dependent element's own index once it has a row).
-- array_task_id NULL: the whole job or array.
ALTER TABLE job_dependencies ADD COLUMN array_task_id integer;
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_pkey;
CREATE UNIQUE INDEX job_dependencies_key ON job_dependencies (job_id, depends_on, type, coalesce(array_task_id, -1));
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_type_check;
ALTER TABLE job_dependencies ADD CONSTRAINT job_dependencies_type_check
    CHECK (type IN ('afterok', 'afterany', 'afternotok', 'aftercorr'));
-- An element may depend on another element of its own array.
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_check;
ALTER TABLE job_dependencies ADD CONSTRAINT job_dependencies_check CHECK (job_id <> depends_on OR array_task_id IS NOT NULL);

-- +goose Down
DELETE FROM job_dependencies WHERE type = 'aftercorr' OR array_task_id IS NOT NULL;
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_check;
ALTER TABLE job_dependencies ADD CONSTRAINT job_dependencies_check CHECK (job_id <> depends_on);
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_type_check;
ALTER TABLE job_dependencies ADD CONSTRAINT job_dependencies_type_check CHECK (type IN ('afterok', 'afterany', 'afternotok'));
DROP INDEX job_dependencies_key;
ALTER TABLE job_dependencies DROP COLUMN array_task_id;
ALTER TABLE job_dependencies ADD PRIMARY KEY (job_id, depends_on, type);
DROP TABLE job_arrays;
DROP INDEX jobs_array_element;
DROP INDEX jobs_array;
ALTER TABLE jobs DROP CONSTRAINT jobs_array_task;
ALTER TABLE jobs DROP COLUMN array_task_id;
ALTER TABLE jobs DROP COLUMN array_job_id;
