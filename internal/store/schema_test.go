package store_test

import (
	"context"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// connectIn opens a connection to u that sees schema first (u's own
// search_path replaced).
func connectIn(t *testing.T, u, schema string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// withoutSearchPath is u as a client that knows nothing of rcq's schema
// would write it (the seed's own DATABASE_URL).
func withoutSearchPath(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Del("search_path")
	p.RawQuery = q.Encode()
	return p.String()
}

func tablesIn(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, schema)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func rowCounts(t *testing.T, conn *pgx.Conn, schema string, tables []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, tb}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("count %s.%s: %v", schema, tb, err)
		}
		out[tb] = n
	}
	return out
}

// TestMigrateMovesPublicLayoutIntoSchema: an rcq database from before the
// schema (every table in public, with rows) is moved into schema rcq on the
// next start, every row kept, ids continuing, and public left with none of
// rcq's tables.
func TestMigrateMovesPublicLayoutIntoSchema(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := emptyDatabase(t)
	if err := store.MigrateInPublic(ctx, u); err != nil {
		t.Fatalf("migrate the old way: %v", err)
	}
	pub := connectIn(t, u, "public")
	old := tablesIn(t, pub, "public")
	if !slices.Contains(old, "jobs") || !slices.Contains(old, "rcq_schema_migrations") {
		t.Fatalf("the old layout has no jobs or goose table in public: %v", old)
	}
	for _, q := range []string{
		`INSERT INTO groups (id, name, cpu_quota, priority) VALUES (1, 'default', 1000, 1), (2, 'lab', 50, 4)`,
		`SELECT setval(pg_get_serial_sequence('groups', 'id'), 2)`,
		`INSERT INTO users (email, password_hash, group_id) VALUES ('ann@example.org', 'x', 2), ('bob@example.org', 'y', 1)`,
		`INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count) VALUES ('node1', 'node1', 8, 32, 0)`,
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count, estimated_hours, priority)
		 SELECT 1, 2, 'echo ' || i, 1, 1, 0, 1, 1 FROM generate_series(1, 25) i`,
		`INSERT INTO job_dependencies (job_id, depends_on, type) VALUES (2, 1, 'afterok')`,
	} {
		if _, err := pub.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before := rowCounts(t, pub, "public", old)

	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("migrate the old layout: %v", err)
	}
	if left := tablesIn(t, pub, "public"); len(left) != 0 {
		t.Errorf("public still holds %v after the move", left)
	}
	moved := tablesIn(t, pub, store.Schema)
	for _, tb := range old {
		if !slices.Contains(moved, tb) {
			t.Errorf("table %s was not moved into %s (have %v)", tb, store.Schema, moved)
		}
	}
	if after := rowCounts(t, pub, store.Schema, old); !mapsEqual(before, after) {
		t.Errorf("rows before the move %v, after %v", before, after)
	}

	// The store works on the moved tables, and new rows take fresh ids.
	st := open(t, u)
	js, err := st.ListJobs(ctx, rcq.JobFilter{})
	if err != nil || len(js) != 25 {
		t.Fatalf("ListJobs after the move: %d jobs, %v", len(js), err)
	}
	gid, err := st.CreateGroup(ctx, rcq.Group{Name: "new", CPUQuota: 10, Priority: 1})
	if err != nil || gid != 3 {
		t.Errorf("a group created after the move got id %d (%v), want 3: the identity did not move with its table", gid, err)
	}
	// A second start finds nothing to move and changes nothing.
	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if left := tablesIn(t, pub, "public"); len(left) != 0 {
		t.Errorf("public holds %v after a second start", left)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestOwnObjectsListsEveryTable: the objects a move looks for, read from the
// migrations, are exactly the tables a fresh migration makes.
func TestOwnObjectsListsEveryTable(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := emptyDatabase(t)
	if err := store.Migrate(ctx, u); err != nil {
		t.Fatal(err)
	}
	conn := connectIn(t, u, "public")
	var want []string
	for _, tb := range tablesIn(t, conn, store.Schema) {
		if tb != "rcq_schema_migrations" {
			want = append(want, "TABLE "+tb)
		}
	}
	var got []string
	for _, o := range store.OwnObjects() {
		if o[:6] == "TABLE " {
			got = append(got, o)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("tables read from the migrations %v, tables a migration makes %v", got, want)
	}
}

// seedSchema creates the seed's tables (testdata/seed_setup.sql) in public
// of the database at u.
func seedSchema(t *testing.T, u string) {
	t.Helper()
	sql, err := os.ReadFile("testdata/seed_setup.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn := connectIn(t, u, "public")
	if _, err := conn.Exec(ctxT(t), string(sql)); err != nil {
		t.Fatalf("create the seed's tables: %v", err)
	}
}

// TestMigrateBesideSeedTables: rcqd starts on a database where the seed's
// setup_db.sql made groups, users, jobs and workers in public, and leaves
// them exactly as they were.
func TestMigrateBesideSeedTables(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := emptyDatabase(t)
	seedSchema(t, u)
	pub := connectIn(t, u, "public")
	if _, err := pub.Exec(ctx, `INSERT INTO groups (name, cpu_quota, priority) VALUES ('ML Lab', 500, 3)`); err != nil {
		t.Fatal(err)
	}
	seedTables := tablesIn(t, pub, "public")
	before := rowCounts(t, pub, "public", seedTables)

	if err := store.Migrate(ctx, u); err != nil {
		t.Fatalf("migrate beside the seed's tables: %v", err)
	}
	st := open(t, u)
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := tablesIn(t, pub, "public"); !slices.Equal(got, seedTables) {
		t.Errorf("public's tables changed: %v -> %v", seedTables, got)
	}
	if after := rowCounts(t, pub, "public", seedTables); !mapsEqual(before, after) {
		t.Errorf("the seed's rows changed: %v -> %v", before, after)
	}
	var name string
	if err := pub.QueryRow(ctx, `SELECT name FROM public.groups`).Scan(&name); err != nil || name != "ML Lab" {
		t.Errorf("the seed's group is %q (%v)", name, err)
	}
	gs, err := st.Groups(ctx)
	if err != nil || len(gs) != 1 || gs[0].Name != "default" {
		t.Errorf("rcq's groups = %+v, %v: want only its own default", gs, err)
	}
}
