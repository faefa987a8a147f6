-- +goose Up
-- The audit log: every admin action and every action on another user's job,
-- written in the same transaction as the change it records (a change whose
-- row cannot be written does not happen), and every refused attempt at an
-- admin route, in its own transaction. Rows are never changed: no route
-- updates or deletes them, and the trigger below refuses UPDATE from any
-- client. rcqd deletes rows older than audit.retention.
CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint,                       -- no foreign key: the row outlives the account
    actor_email text NOT NULL DEFAULT '',     -- the account's email when it acted
    peer        text NOT NULL DEFAULT '',     -- "uid:1000" on the socket, the client address on TCP
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target_kind text NOT NULL DEFAULT '',     -- group, account, worker, job, route
    target_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    request_id  text NOT NULL DEFAULT '',
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'refused')),
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_target ON audit_events (target_kind, target_id, id);

-- +goose StatementBegin
CREATE FUNCTION audit_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events rows cannot be changed' USING ERRCODE = 'insufficient_privilege';
END $$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_immutable();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_immutable();
