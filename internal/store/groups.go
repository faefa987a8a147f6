package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

type groupRow struct {
	ID       int64   `db:"id"`
	Name     string  `db:"name"`
	CPUQuota float64 `db:"cpu_quota"`
	Priority int32   `db:"priority"`
}

func (r groupRow) group() rcq.Group {
	return rcq.Group{ID: rcq.GroupID(r.ID), Name: r.Name, CPUQuota: r.CPUQuota, Priority: int(r.Priority)}
}

const groupCols = `id, name, cpu_quota, priority`

// Groups lists every group by id.
func (s *Store) Groups(ctx context.Context) ([]rcq.Group, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+groupCols+` FROM groups ORDER BY id`)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[groupRow])
	if err != nil {
		return nil, wrap("list groups", err)
	}
	gs := make([]rcq.Group, len(rs))
	for i, r := range rs {
		gs[i] = r.group()
	}
	return gs, nil
}

// GroupByID returns one group.
func (s *Store) GroupByID(ctx context.Context, id rcq.GroupID) (*rcq.Group, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[groupRow])
	if err != nil {
		return nil, notFound(wrap("group", err), "group_not_found", "group %d does not exist", id)
	}
	g := r.group()
	return &g, nil
}

// CreateGroup adds a group; a taken name is a Conflict.
func (s *Store) CreateGroup(ctx context.Context, g rcq.Group) (rcq.GroupID, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx,
			`INSERT INTO groups (name, cpu_quota, priority) VALUES ($1, $2, $3) RETURNING id`,
			g.Name, g.CPUQuota, g.Priority).Scan(&id); err != nil {
			return err
		}
		g.ID = rcq.GroupID(id)
		return auditTx(ctx, tx, rcq.AuditEntry{Action: "group.create", TargetKind: rcq.AuditGroup,
			TargetID: strconv.FormatInt(id, 10), After: groupAudit(g)})
	})
	if err != nil {
		return 0, conflict(wrap("create group", err), "group_exists", "a group named %q already exists", g.Name)
	}
	return rcq.GroupID(id), nil
}

// UpdateGroup sets a group's quota and priority (nil leaves a field as it is).
func (s *Store) UpdateGroup(ctx context.Context, id rcq.GroupID, quota *float64, priority *int) (*rcq.Group, error) {
	var g rcq.Group
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+groupCols+` FROM groups WHERE id = $1 FOR UPDATE`, id)
		old, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[groupRow])
		if err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `
			UPDATE groups SET cpu_quota = coalesce($2, cpu_quota), priority = coalesce($3, priority)
			WHERE id = $1 RETURNING `+groupCols, id, quota, priority)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[groupRow])
		if err != nil {
			return err
		}
		g = r.group()
		return auditTx(ctx, tx, rcq.AuditEntry{Action: "group.update", TargetKind: rcq.AuditGroup,
			TargetID: strconv.FormatInt(int64(id), 10), Before: groupAudit(old.group()), After: groupAudit(g)})
	})
	if err != nil {
		return nil, notFound(wrap("update group", err), "group_not_found", "group %d does not exist", id)
	}
	return &g, nil
}

// EnsureDefaultGroup creates group 1 "default" (quota 1000 CPU-hours,
// priority 1) on an empty database.
func (s *Store) EnsureDefaultGroup(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO groups (id, name, cpu_quota, priority)
		SELECT 1, 'default', 1000, 1 WHERE NOT EXISTS (SELECT 1 FROM groups)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return wrap("create the default group", err)
	}
	// Keep the identity ahead of the explicit id.
	_, err = s.pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('groups', 'id'), greatest((SELECT max(id) FROM groups), 1))`)
	return wrap("create the default group", err)
}

// notFound replaces a NotFound error's message with a specific one.
func notFound(err error, code, format string, args ...any) error {
	if rcq.KindOf(err) != rcq.KindNotFound {
		return err
	}
	return &rcq.Error{Kind: rcq.KindNotFound, Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// conflict replaces a Conflict error's message with a specific one.
func conflict(err error, code, format string, args ...any) error {
	if rcq.KindOf(err) != rcq.KindConflict {
		return err
	}
	return &rcq.Error{Kind: rcq.KindConflict, Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}
