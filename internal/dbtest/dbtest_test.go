package dbtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func scan[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestDatabasesAreIsolatedAndMigrated(t *testing.T) {
	t.Parallel()
	a, b := connect(t, dbtest.URL(t)), connect(t, dbtest.URL(t))
	nameA := scan[string](t, a, "SELECT current_database()")
	nameB := scan[string](t, b, "SELECT current_database()")
	if nameA == nameB {
		t.Fatalf("both URLs lead to database %s", nameA)
	}
	for _, conn := range []*pgx.Conn{a, b} {
		for _, table := range []string{"jobs", "users", "groups", "workers"} {
			if !scan[bool](t, conn, "SELECT to_regclass($1) IS NOT NULL", table) {
				t.Errorf("database %s has no table %s: not migrated", conn.Config().Database, table)
			}
		}
	}
	if _, err := a.Exec(context.Background(), "CREATE TABLE only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	if scan[bool](t, b, "SELECT to_regclass('only_in_a') IS NOT NULL") {
		t.Errorf("a table created in %s shows in %s", nameA, nameB)
	}
}

func TestStoreOpensTestDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	// The template is migrated already: migrating again finds nothing to do.
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate on a test database: %v", err)
	}
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, dbtest.URL(t))
		name = scan[string](t, conn, "SELECT current_database()")
		// The connection is still open when the test ends: the drop forces it closed.
	})
	conn := connect(t, dbtest.URL(t))
	if scan[bool](t, conn, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
	if os.Getenv(dbtest.EnvURL) == "" && // a shared server's template name carries the pid
		!scan[bool](t, conn, "SELECT datistemplate AND NOT datallowconn FROM pg_database WHERE datname = 'rcq_template'") {
		t.Error("rcq_template is not a closed template database")
	}
}

func TestParallelTestsGetTheirOwnDatabases(t *testing.T) {
	t.Parallel()
	const n = 8
	names := make(chan string, n)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, dbtest.URL(t))
				if _, err := conn.Exec(context.Background(), "CREATE TABLE mine (v int)"); err != nil {
					t.Errorf("CREATE TABLE in a fresh database: %v", err) // fails if shared
				}
				names <- scan[string](t, conn, "SELECT current_database()")
			})
		}
	})
	close(names)
	seen := map[string]bool{}
	for name := range names {
		if seen[name] {
			t.Errorf("database %s handed out twice", name)
		}
		seen[name] = true
	}
	if len(seen) != n {
		t.Errorf("%d databases, want %d", len(seen), n)
	}
}

// BenchmarkURL measures handing out a fresh migrated database (CREATE DATABASE ... TEMPLATE).
func BenchmarkURL(b *testing.B) {
	for b.Loop() {
		dbtest.URL(b)
	}
}
