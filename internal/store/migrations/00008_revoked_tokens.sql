-- +goose Up
-- Tokens ended one at a time (POST /api/auth/logout ends the caller's own
-- session only; ?all=true bumps users.token_version, which ends them all).
-- A row lives until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 64),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
