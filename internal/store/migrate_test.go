package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/store"
)

var emptySeq atomic.Int64

// emptyDatabase creates a database with no schema at all on the test cluster
// and returns its URL; it is dropped when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := ctxT(t)
	base := dbtest.URL(t)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var current string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&current); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s_empty%d", current, emptySeq.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		t.Fatalf("create empty database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest URL %q is not a URL: %v", base, err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

var tables = []string{"groups", "users", "workers", "jobs", "job_dependencies", "usage_logs", "idempotency_keys", "leases", "job_signals", "revoked_tokens"}

// rcqTables lists the tables in rcq's schema.
func rcqTables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, store.Schema)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func migrationRows(t *testing.T, conn *pgx.Conn) (n int, maxVersion int64) {
	t.Helper()
	if err := conn.QueryRow(context.Background(),
		`SELECT count(*), coalesce(max(version_id), 0) FROM rcq_schema_migrations`).Scan(&n, &maxVersion); err != nil {
		t.Fatal(err)
	}
	return n, maxVersion
}

func TestMigrateFromEmptyThenAgainIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := emptyDatabase(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got := rcqTables(t, conn); len(got) != 0 {
		t.Fatalf("the empty database has tables: %v", got)
	}

	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("migrate from empty: %v", err)
	}
	got := rcqTables(t, conn)
	if pub := tablesIn(t, conn, "public"); len(pub) != 0 {
		t.Errorf("migrating made tables in public: %v", pub)
	}
	for _, want := range append(tables, "rcq_schema_migrations") {
		if !slices.Contains(got, want) {
			t.Errorf("after migrating, table %s is missing (have %v)", want, got)
		}
	}
	n1, v1 := migrationRows(t, conn)
	if v1 != store.SchemaVersion() {
		t.Errorf("schema version %d after migrating, binary knows %d", v1, store.SchemaVersion())
	}
	if store.SchemaVersion() < 1 {
		t.Errorf("SchemaVersion() = %d: no embedded migration found", store.SchemaVersion())
	}

	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	n2, v2 := migrationRows(t, conn)
	if n2 != n1 || v2 != v1 {
		t.Errorf("second migrate changed rcq_schema_migrations: %d rows at version %d, then %d at %d", n1, v1, n2, v2)
	}
	if got2 := rcqTables(t, conn); !slices.Equal(got, got2) {
		t.Errorf("second migrate changed the tables: %v -> %v", got, got2)
	}

	// The migrated schema works: a store opened on it can seed it.
	st := open(t, u)
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatalf("seed the freshly migrated database: %v", err)
	}
}

func TestTemplateHasEveryTable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	got := rcqTables(t, conn)
	for _, want := range tables {
		if !slices.Contains(got, want) {
			t.Errorf("test database lacks table %s (have %v)", want, got)
		}
	}
}

func TestMigrateRefusesNewerSchemaUntouched(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := emptyDatabase(t)
	if err := store.Migrate(ctx, u); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A newer rcqd migrated this database: version SchemaVersion()+1, which
	// dropped a table this binary's schema has.
	newer := store.SchemaVersion() + 1
	if _, err := conn.Exec(ctx, `INSERT INTO rcq_schema_migrations (version_id, is_applied) VALUES ($1, true)`, newer); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DROP TABLE leases`); err != nil {
		t.Fatal(err)
	}
	tablesBefore := rcqTables(t, conn)
	nBefore, vBefore := migrationRows(t, conn)

	err = store.Migrate(ctx, u)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("migrate a database at version %d: got %v, want ErrSchemaTooNew", newer, err)
	}
	if tablesAfter := rcqTables(t, conn); !slices.Equal(tablesBefore, tablesAfter) {
		t.Errorf("a refused migration changed the tables: %v -> %v", tablesBefore, tablesAfter)
	}
	if n, v := migrationRows(t, conn); n != nBefore || v != vBefore {
		t.Errorf("a refused migration changed rcq_schema_migrations: %d rows at %d -> %d at %d", nBefore, vBefore, n, v)
	}
}
