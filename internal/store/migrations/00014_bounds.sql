-- +goose Up
-- The upper bounds of a job's and a worker's size, as internal/rcq states
-- them (Limits.CPUCoresRange, MemoryGBRange, GPUsRange, MaxCPUQuota; rules.go), so the
-- schema mirrors both ends of each bound (TestSchemaMirrorsRules). rcqd never
-- stored more, so existing rows pass.
ALTER TABLE jobs ADD CONSTRAINT jobs_size_max
    CHECK (cpu_cores <= 65536 AND memory_gb <= 16777216 AND gpu_count <= 1024);
ALTER TABLE workers ADD CONSTRAINT workers_size_max
    CHECK (cpu_cores <= 65536 AND memory_gb <= 16777216 AND gpu_count <= 1024);
-- A group's quota (rcq.MaxCPUQuota).
ALTER TABLE groups ADD CONSTRAINT groups_cpu_quota_max CHECK (cpu_quota <= 1e12);

-- +goose Down
ALTER TABLE groups DROP CONSTRAINT groups_cpu_quota_max;
ALTER TABLE workers DROP CONSTRAINT workers_size_max;
ALTER TABLE jobs DROP CONSTRAINT jobs_size_max;
