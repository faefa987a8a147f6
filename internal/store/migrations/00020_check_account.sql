-- +goose Up
-- check_account raises RQ001 unless the account is as a request's
-- authentication read it: its row unchanged since (xmin is the row version:
-- every UPDATE writes a new one) and the token, when there is one, not
-- ended. rcqd sends it in one pipeline with the request's statement, in one
-- implicit transaction, so authentication need not read the account again
-- for every request, and the statement never runs for an account that
-- changed or a token revoked meanwhile (rcq.AccountCheck).
-- +goose StatementBegin
CREATE FUNCTION check_account(user_id bigint, row_version xid, token_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM users u WHERE u.id = check_account.user_id AND u.xmin = check_account.row_version)
		OR (check_account.token_id <> '' AND EXISTS (SELECT FROM revoked_tokens r WHERE r.jti = check_account.token_id))
	THEN
		RAISE EXCEPTION 'account % changed since it was read', check_account.user_id USING ERRCODE = 'RQ001';
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION check_account(bigint, xid, text);
