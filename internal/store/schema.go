package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/lock"
)

// Schema is the PostgreSQL schema that holds rcq's tables. Every connection
// the store opens selects it through search_path, so the SQL names tables
// unqualified and never sees another application's tables in public.
const Schema = "rcq"

// migrationTable is goose's own table, in Schema like the rest.
const migrationTable = "rcq_schema_migrations"

// ensureSchema creates Schema if it is missing and moves an rcq database
// laid out before it (rcq's tables and goose's in public) into it: in one
// transaction, under the migration lock goose takes, so two rcqd starting
// together move it once, and a failure leaves public as it was. ALTER TABLE
// ... SET SCHEMA moves a table with its rows, indexes, constraints and owned
// sequences, so no row is copied or lost.
func ensureSchema(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("migrate", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lock.DefaultLockID); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, Schema).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: look for schema %s: %w", Schema, err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+pgx.Identifier{Schema}.Sanitize()); err != nil {
			return fmt.Errorf("migrate: create schema %s (the database user needs CREATE on the database, or create it: CREATE SCHEMA %s AUTHORIZATION <user>): %w", Schema, Schema, err)
		}
	}
	var oldLayout bool
	if err := tx.QueryRowContext(ctx, `SELECT to_regclass('public.`+migrationTable+`') IS NOT NULL
		AND to_regclass('`+Schema+`.`+migrationTable+`') IS NULL`).Scan(&oldLayout); err != nil {
		return fmt.Errorf("migrate: look for rcq's tables in public: %w", err)
	}
	if oldLayout {
		if err := moveToSchema(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// moveToSchema moves every object rcq's migrations create (and goose's
// table) from public into Schema.
func moveToSchema(ctx context.Context, tx *sql.Tx) error {
	objs := append(ownObjects(), object{"TABLE", migrationTable})
	for _, o := range objs {
		var present bool
		var q string
		switch o.kind {
		case "TABLE", "SEQUENCE", "VIEW":
			q = `SELECT to_regclass('public.' || quote_ident($1)) IS NOT NULL`
		case "TYPE":
			q = `SELECT to_regtype('public.' || quote_ident($1)) IS NOT NULL`
		case "FUNCTION":
			q = `SELECT EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = $1)`
		}
		if err := tx.QueryRowContext(ctx, q, o.name).Scan(&present); err != nil {
			return fmt.Errorf("migrate: look for %s %s in public: %w", strings.ToLower(o.kind), o.name, err)
		}
		if !present {
			continue
		}
		name := "public." + pgx.Identifier{o.name}.Sanitize()
		if o.kind == "FUNCTION" { // every overload
			rows, err := tx.QueryContext(ctx, `SELECT 'public.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p
				WHERE p.pronamespace = 'public'::regnamespace AND p.proname = $1`, o.name)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			var sigs []string
			for rows.Next() {
				var sig string
				if err := rows.Scan(&sig); err != nil {
					rows.Close()
					return fmt.Errorf("migrate: %w", err)
				}
				sigs = append(sigs, sig)
			}
			rows.Close()
			for _, sig := range sigs {
				if _, err := tx.ExecContext(ctx, `ALTER FUNCTION `+sig+` SET SCHEMA `+Schema); err != nil {
					return fmt.Errorf("migrate: move function %s into schema %s: %w", sig, Schema, err)
				}
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `ALTER `+o.kind+` `+name+` SET SCHEMA `+Schema); err != nil {
			return fmt.Errorf("migrate: move %s %s into schema %s: %w", strings.ToLower(o.kind), o.name, Schema, err)
		}
	}
	return nil
}

type object struct{ kind, name string }

var createRe = regexp.MustCompile(`(?i)\bCREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|SEQUENCE|TYPE|FUNCTION|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([a-z_][a-z0-9_]*)"?`)

// ownObjects is every table, sequence, type, function and view rcq's
// migrations create, read from the migrations themselves so a new
// migration's objects are never forgotten. Types and functions come first:
// moving a table whose columns use them is then in order (SET SCHEMA does
// not care, but the listing reads better).
func ownObjects() []object {
	var out []object
	seen := map[object]bool{}
	entries, _ := fs.ReadDir(migrations, "migrations")
	for _, e := range entries {
		b, err := fs.ReadFile(migrations, "migrations/"+e.Name())
		if err != nil {
			continue
		}
		for _, m := range createRe.FindAllStringSubmatch(stripComments(string(b)), -1) {
			o := object{strings.ToUpper(m[1]), strings.ToLower(m[2])}
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	rank := map[string]int{"TYPE": 0, "FUNCTION": 1, "SEQUENCE": 2, "TABLE": 3, "VIEW": 4}
	slices.SortStableFunc(out, func(a, b object) int { return rank[a.kind] - rank[b.kind] })
	return out
}

func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
