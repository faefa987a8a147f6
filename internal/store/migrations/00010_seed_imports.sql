-- +goose Up
-- rcqd import-seed: which row of a seed database (the original Research
-- Compute Queue's groups, users, workers and jobs) became which row of rcq,
-- so a second import copies nothing twice. source names the seed database
-- (host:port/dbname).
CREATE TABLE seed_imports (
    source       text NOT NULL CHECK (source <> ''),
    kind         text NOT NULL CHECK (kind IN ('group', 'user', 'worker', 'job')),
    seed_id      bigint NOT NULL,
    rcq_id       bigint NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, kind, seed_id)
);

-- +goose Down
DROP TABLE seed_imports;
