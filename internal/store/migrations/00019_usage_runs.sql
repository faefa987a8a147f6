-- +goose Up
-- One usage row per run of a job, not per job: a run that ended on a failed
-- node and was requeued used its cores too, and Slurm charges it; with one
-- row per job it went uncharged (its row was never written, the final run's
-- was). run is the job's restart count when the run ended.
ALTER TABLE usage_logs ADD COLUMN run integer NOT NULL DEFAULT 0 CHECK (run >= 0);
ALTER TABLE usage_logs DROP CONSTRAINT usage_logs_job_id_key;
ALTER TABLE usage_logs ADD CONSTRAINT usage_logs_job_run UNIQUE (job_id, run);

-- +goose Down
-- The earlier runs' rows go: one row per job again.
DELETE FROM usage_logs WHERE run > 0;
ALTER TABLE usage_logs DROP CONSTRAINT usage_logs_job_run;
ALTER TABLE usage_logs ADD CONSTRAINT usage_logs_job_id_key UNIQUE (job_id);
ALTER TABLE usage_logs DROP COLUMN run;
