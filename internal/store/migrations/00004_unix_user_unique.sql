-- +goose Up
-- An account's Unix user is who its jobs run as when rcqd is root, and who a
-- socket peer is: two accounts sharing one would let either act as the
-- other. A database that already maps two accounts to one Unix user stops
-- the migration, naming them, instead of guessing which one keeps it.
-- +goose StatementBegin
DO $$
DECLARE
    dup record;
BEGIN
    SELECT unix_user, string_agg(id::text, ', ' ORDER BY id) AS ids INTO dup
    FROM users WHERE unix_user <> ''
    GROUP BY unix_user HAVING count(*) > 1
    ORDER BY unix_user LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'accounts % are all mapped to the Unix user %: keep one (rcq-admin user set ID --unix-user '''' on the others, with the rcqd of the previous version), then start rcqd again',
            dup.ids, dup.unix_user;
    END IF;
END
$$;
-- +goose StatementEnd
CREATE UNIQUE INDEX users_unix_user_key ON users (unix_user) WHERE unix_user <> '';

-- +goose Down
DROP INDEX users_unix_user_key;
