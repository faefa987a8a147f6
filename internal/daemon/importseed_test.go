package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/auth"
	rcqd "github.com/rcq-project/rcq/internal/daemon"
	"github.com/rcq-project/rcq/internal/dbtest"
)

var seedDBSeq atomic.Int64

// bareDatabase is a new database with nothing in it on the test cluster,
// and its URL as a client that knows nothing of rcq's schema writes it.
func bareDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
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
	name := fmt.Sprintf("%s_seed%d", current, seedDBSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}

// seedDatabase is a bare database holding the seed's tables (the store's
// testdata/seed_setup.sql) in public, with a group, a user whose password
// is password123, and a finished and a pending job.
func seedDatabase(t *testing.T) string {
	t.Helper()
	u := bareDatabase(t)
	sql, err := os.ReadFile(filepath.Join("..", "store", "testdata", "seed_setup.sql"))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("password123", auth.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{string(sql),
		`INSERT INTO groups (name, cpu_quota, priority) VALUES ('ML Research Lab', 500, 3)`,
		`INSERT INTO workers (hostname, cpu_cores, memory_gb, gpu_count) VALUES ('compute-node-01', 32, 128, 2)`,
		`INSERT INTO users (email, password_hash, group_id) VALUES ('alice@wisc.edu', '` + hash + `', 1)`,
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, status, started_at, completed_at, exit_code, worker_id)
			VALUES (1, 1, 'python train.py', 8, 32, 'completed', now(), now(), 0, 1)`,
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb) VALUES (1, 1, 'python test.py', 4, 16)`,
	} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	return u
}

func runRcqd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = rcqd.MainContext(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// schemas lists the schemas of the database at u other than PostgreSQL's own.
func schemas(t *testing.T, u string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), `SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestImportSeedCommand: rcqd import-seed copies a seed database into
// rcq's, prints what it copied, and a second run says nothing is new.
func TestImportSeedCommand(t *testing.T) {
	t.Parallel()
	seed := seedDatabase(t)
	into := bareDatabase(t)
	args := []string{"import-seed", "--from", seed, "--database-url", into, "--state-dir", t.TempDir()}
	code, out, errOut := runRcqd(t, args...)
	if code != 0 {
		t.Fatalf("import-seed exited %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"imported ", "groups:  1 copied", "users:   1 copied", "workers: 1 copied (offline)",
		"jobs:    2 copied (1 history, 1 pending), 0 matched existing, 0 already imported, 0 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("first run's summary lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runRcqd(t, args...)
	if code != 0 || !strings.HasPrefix(out, "nothing new to copy from ") || !strings.Contains(out, "jobs:    0 copied (0 history, 0 pending), 0 matched existing, 2 already imported") {
		t.Errorf("second run exited %d:\n%s%s", code, out, errOut)
	}
}

// TestImportSeedRefusesWithoutWriting: a database that is not a seed
// database, or that cannot be reached, is one line on stderr and exit 1,
// and rcq's database is not touched (not even migrated).
func TestImportSeedRefusesWithoutWriting(t *testing.T) {
	t.Parallel()
	into := bareDatabase(t)
	notSeed := bareDatabase(t)
	for _, c := range []struct{ name, from, want string }{
		{"not a seed database", notSeed, "rcqd: not a seed database: "},
		{"unreachable", "postgres://nobody@127.0.0.1:1/research_queue?sslmode=disable", "rcqd: cannot reach the seed database at 127.0.0.1:1/research_queue: "},
	} {
		code, out, errOut := runRcqd(t, "import-seed", "--from", c.from, "--database-url", into, "--state-dir", t.TempDir())
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != 1 || out != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and one line %q...", c.name, code, out, errOut, c.want)
		}
	}
	if !strings.Contains(func() string {
		_, _, e := runRcqd(t, "import-seed", "--from", notSeed, "--database-url", into)
		return e
	}(), "has no table groups") {
		t.Error("the refusal does not name the missing table")
	}
	if got := schemas(t, into); len(got) != 1 || got[0] != "public" {
		t.Errorf("a refused import changed rcq's database: schemas %v", got)
	}
	code, _, errOut := runRcqd(t, "import-seed", "--database-url", into)
	if code != 2 || !strings.Contains(errOut, "--from URL is required") {
		t.Errorf("without --from: exit %d, %q", code, errOut)
	}
}

// TestStartsBesideSeedTables: rcqd starts on a database where the seed's
// setup_db.sql made its tables, and leaves them as they were.
func TestStartsBesideSeedTables(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	seed := seedDatabase(t)
	d := startDaemon(t, t.TempDir(), "RCQ_DATABASE_URL="+seed)
	d.ready()
	d.stop()
	conn, err := pgx.Connect(context.Background(), seed)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var groups, jobs int
	var name string
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM public.groups), (SELECT count(*) FROM public.jobs),
		(SELECT name FROM public.groups)`).Scan(&groups, &jobs, &name); err != nil || groups != 1 || jobs != 2 || name != "ML Research Lab" {
		t.Errorf("the seed's tables after rcqd ran: %d groups (%q), %d jobs, %v", groups, name, jobs, err)
	}
	var rcqGroups int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM rcq.groups WHERE name = 'default'`).Scan(&rcqGroups); err != nil || rcqGroups != 1 {
		t.Errorf("rcq's default group: %d, %v", rcqGroups, err)
	}
}
