-- +goose Up
-- Every account's jobs newest first (rcq-acct for an admin, GET /api/acct
-- without a user): pages walk this index from the cursor instead of sorting
-- the whole table. One account's jobs use jobs_user_submitted.
CREATE INDEX jobs_submitted ON jobs (submitted_at DESC, id DESC);

-- +goose Down
DROP INDEX jobs_submitted;
