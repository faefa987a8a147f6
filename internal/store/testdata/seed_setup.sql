-- The seed's schema: the tables the original Research Compute Queue's
-- scripts/setup_db.sql creates in public, reconstructed for rcq's tests from
-- the seed's README ("Database Schema") and the columns its API returns.
-- Same table and column names and types, no sample rows: each test inserts
-- its own. Used to check that rcqd starts beside these tables without
-- touching them, and that rcqd import-seed copies them.

CREATE TABLE groups (
    id          SERIAL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL UNIQUE,
    cpu_quota   INTEGER DEFAULT 100,         -- CPU-hours a month
    priority    INTEGER DEFAULT 1,           -- higher goes first
    created_at  TIMESTAMP DEFAULT NOW()
);

CREATE TABLE users (
    id             SERIAL PRIMARY KEY,
    email          VARCHAR(255) UNIQUE NOT NULL,
    password_hash  VARCHAR(255) NOT NULL,    -- bcrypt
    group_id       INTEGER REFERENCES groups (id),
    is_admin       BOOLEAN DEFAULT FALSE,
    created_at     TIMESTAMP DEFAULT NOW()
);

CREATE TABLE jobs (
    id               SERIAL PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    group_id         INTEGER NOT NULL REFERENCES groups (id),
    script           TEXT NOT NULL,
    cpu_cores        INTEGER NOT NULL,
    memory_gb        INTEGER NOT NULL,
    gpu_count        INTEGER DEFAULT 0,
    estimated_hours  DECIMAL,
    status           VARCHAR(20) NOT NULL DEFAULT 'pending',
    priority         INTEGER DEFAULT 1,
    submitted_at     TIMESTAMP DEFAULT NOW(),
    started_at       TIMESTAMP,
    completed_at     TIMESTAMP,
    exit_code        INTEGER,
    output_path      TEXT,
    error_message    TEXT,
    worker_id        INTEGER,
    CONSTRAINT valid_status CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'))
);

CREATE TABLE job_dependencies (
    job_id             INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on_job_id  INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, depends_on_job_id),
    CONSTRAINT no_self_dependency CHECK (job_id <> depends_on_job_id)
);

CREATE TABLE workers (
    id              SERIAL PRIMARY KEY,
    hostname        VARCHAR(255) NOT NULL UNIQUE,
    cpu_cores       INTEGER NOT NULL,
    memory_gb       INTEGER NOT NULL,
    gpu_count       INTEGER DEFAULT 0,
    status          VARCHAR(20) DEFAULT 'idle',
    last_heartbeat  TIMESTAMP,
    created_at      TIMESTAMP DEFAULT NOW(),
    CONSTRAINT valid_worker_status CHECK (status IN ('idle', 'busy', 'offline'))
);

CREATE TABLE usage_logs (
    id              SERIAL PRIMARY KEY,
    group_id        INTEGER REFERENCES groups (id),
    job_id          INTEGER REFERENCES jobs (id),
    cpu_hours_used  DECIMAL NOT NULL,
    logged_at       TIMESTAMP DEFAULT NOW()
);

CREATE INDEX idx_jobs_user_id ON jobs (user_id);
CREATE INDEX idx_jobs_status ON jobs (status);
CREATE INDEX idx_jobs_group_id ON jobs (group_id);
CREATE INDEX idx_jobs_submitted_at ON jobs (submitted_at);
CREATE INDEX idx_usage_logs_group_id ON usage_logs (group_id);
CREATE INDEX idx_usage_logs_logged_at ON usage_logs (logged_at);
