package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rcq-project/rcq/internal/rcq"
)

type userRow struct {
	ID           int64     `db:"id"`
	Email        string    `db:"email"`
	PasswordHash string    `db:"password_hash"`
	GroupID      int64     `db:"group_id"`
	IsAdmin      bool      `db:"is_admin"`
	UnixUser     string    `db:"unix_user"`
	TokenVersion int32     `db:"token_version"`
	CreatedAt    time.Time `db:"created_at"`
	RowVersion   uint32    `db:"xmin"`
}

func (r userRow) user() *rcq.User {
	return &rcq.User{ID: rcq.UserID(r.ID), Email: r.Email, GroupID: rcq.GroupID(r.GroupID), IsAdmin: r.IsAdmin,
		UnixUser: r.UnixUser, TokenVersion: int(r.TokenVersion), CreatedAt: r.CreatedAt, RowVersion: r.RowVersion}
}

// userCols are an account's columns; xmin is its row version
// (rcq.User.RowVersion, rcq.AccountCheck).
const userCols = `id, email, password_hash, group_id, is_admin, unix_user, token_version, created_at, xmin`

// CreateUser adds an account. The email must be unique case-insensitively
// (Conflict "email_taken"), so must the Unix user (Conflict
// "unix_user_taken"), and the group must exist (NotFound "group_not_found").
func (s *Store) CreateUser(ctx context.Context, u rcq.User, passwordHash string) (rcq.UserID, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)`, u.GroupID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return rcq.Errorf(rcq.KindNotFound, "group_not_found", "group_id: group %d does not exist", u.GroupID)
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO users (email, password_hash, group_id, is_admin, unix_user)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			u.Email, passwordHash, u.GroupID, u.IsAdmin, u.UnixUser).Scan(&id); err != nil {
			return err
		}
		u.ID = rcq.UserID(id)
		return auditTx(ctx, tx, rcq.AuditEntry{Action: "account.create", TargetKind: rcq.AuditAccount,
			TargetID: strconv.FormatInt(id, 10), After: userAudit(&u)})
	})
	if err != nil {
		if isUnixUserTaken(err) {
			return 0, unixUserTaken(err, u.UnixUser)
		}
		return 0, conflict(wrap("create user", err), "email_taken", "email: %s is already registered", u.Email)
	}
	return rcq.UserID(id), nil
}

// UserByEmail returns an account and its password hash; the email matches
// case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*rcq.User, string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`, email)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
	if err != nil {
		return nil, "", notFound(wrap("user by email", err), "user_not_found", "no such user")
	}
	return r.user(), r.PasswordHash, nil
}

// UserByID returns an account and its password hash.
func (s *Store) UserByID(ctx context.Context, id rcq.UserID) (*rcq.User, string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
	if err != nil {
		return nil, "", notFound(wrap("user by id", err), "user_not_found", "user %d does not exist", id)
	}
	return r.user(), r.PasswordHash, nil
}

// UserByUnixUser returns the account mapped to the Unix user name (at most
// one: a unique index). NotFound "user_not_found" when none is.
func (s *Store) UserByUnixUser(ctx context.Context, name string) (*rcq.User, error) {
	if name == "" {
		return nil, rcq.Errorf(rcq.KindNotFound, "user_not_found", "no account is mapped to an empty Unix user")
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE unix_user = $1`, name)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
	if err != nil {
		return nil, notFound(wrap("user by unix user", err), "user_not_found", "no account is mapped to the Unix user %s", name)
	}
	return r.user(), nil
}

// isUnixUserTaken reports whether err is the unique index on users.unix_user.
func isUnixUserTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgerrcode.UniqueViolation && pe.ConstraintName == "users_unix_user_key"
}

func unixUserTaken(err error, name string) error {
	return &rcq.Error{Kind: rcq.KindConflict, Code: "unix_user_taken",
		Msg: fmt.Sprintf("unix_user: %s is already the Unix user of another account: an account's Unix user is its identity", name), Err: err}
}

// Users lists every account by id.
func (s *Store) Users(ctx context.Context) ([]rcq.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[userRow])
	if err != nil {
		return nil, wrap("list users", err)
	}
	us := make([]rcq.User, len(rs))
	for i, r := range rs {
		us[i] = *r.user()
	}
	return us, nil
}

// UpdateUser applies u. Requests check the account's admin flag and group in
// the store, not in the token, so a change takes effect at the next request.
func (s *Store) UpdateUser(ctx context.Context, id rcq.UserID, u rcq.UserPatch) (*rcq.User, error) {
	var r userRow
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if u.IsAdmin != nil && !*u.IsAdmin {
			// Never demote the last admin: nobody could undo it. The admins'
			// rows are locked so two demotions cannot both see another admin.
			rows, _ := tx.Query(ctx, `SELECT id FROM users WHERE is_admin ORDER BY id FOR UPDATE`)
			admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if len(admins) == 1 && admins[0] == int64(id) {
				return rcq.Errorf(rcq.KindConflict, "last_admin", "user %d is the last admin: make another account admin first", id)
			}
		}
		rows, _ := tx.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id)
		old, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
		if err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `
			UPDATE users SET
				is_admin = coalesce($2, is_admin),
				group_id = coalesce($3, group_id),
				unix_user = coalesce($4, unix_user)
			WHERE id = $1 RETURNING `+userCols, id, u.IsAdmin, u.GroupID, u.UnixUser)
		r, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
		if err != nil {
			return err
		}
		action := "account.update"
		if u.UnixUser != nil && u.IsAdmin == nil && u.GroupID == nil {
			action = "account.unix_user" // the mapping alone: who the account's jobs run as
		}
		return auditTx(ctx, tx, rcq.AuditEntry{Action: action, TargetKind: rcq.AuditAccount,
			TargetID: strconv.FormatInt(int64(id), 10), Before: userAudit(old.user()), After: userAudit(r.user())})
	})
	if err != nil {
		if isUnixUserTaken(err) {
			return nil, unixUserTaken(err, *u.UnixUser)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == pgerrcode.ForeignKeyViolation && u.GroupID != nil { // foreign key: the group
			return nil, rcq.Errorf(rcq.KindNotFound, "group_not_found", "group_id: group %d does not exist", *u.GroupID)
		}
		return nil, notFound(wrap("update user", err), "user_not_found", "user %d does not exist", id)
	}
	return r.user(), nil
}

// SetPassword replaces a password hash and invalidates every earlier token.
func (s *Store) SetPassword(ctx context.Context, id rcq.UserID, hash string) error {
	return wrap("set password", s.accountChange(ctx, id, "account.password",
		`UPDATE users SET password_hash = $2, token_version = token_version + 1 WHERE id = $1`, id, hash))
}

// accountChange runs one statement that changes the account id and writes
// its audit row (no values: never a hash) in the same transaction.
func (s *Store) accountChange(ctx context.Context, id rcq.UserID, action, sql string, args ...any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return rcq.Errorf(rcq.KindNotFound, "user_not_found", "user %d does not exist", id)
		}
		return auditTx(ctx, tx, rcq.AuditEntry{Action: action, TargetKind: rcq.AuditAccount, TargetID: strconv.FormatInt(int64(id), 10)})
	})
}

// TokenUser reads the account a token names, and whether that token was
// ended on its own (RevokeToken), in one round trip: every authenticated
// request asks.
func (s *Store) TokenUser(ctx context.Context, id rcq.UserID, jti string) (u *rcq.User, revoked bool, err error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+`, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2) AS revoked
		FROM users WHERE id = $1`, id, jti)
	type row struct {
		userRow
		Revoked bool `db:"revoked"`
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[row])
	if err != nil {
		return nil, false, notFound(wrap("token user", err), "user_not_found", "user %d does not exist", id)
	}
	return r.user(), r.Revoked, nil
}

// RevokeToken ends one token of the user (logout of one session) until it
// expires, and forgets revocations of tokens that have expired since.
func (s *Store) RevokeToken(ctx context.Context, id rcq.UserID, jti string, expires time.Time) error {
	return wrap("revoke token", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM revoked_tokens WHERE expires_at < now()`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (jti) DO NOTHING`, jti, id, expires)
		return err
	}))
}

// BumpTokenVersion invalidates every token issued to the user so far (logout).
func (s *Store) BumpTokenVersion(ctx context.Context, id rcq.UserID) error {
	return wrap("log out", s.accountChange(ctx, id, "account.logout_all",
		`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, id))
}

// HasUsers reports whether any account exists (bootstrap creates the admin otherwise).
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&ok)
	return ok, wrap("count users", err)
}
