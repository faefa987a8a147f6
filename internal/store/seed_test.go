package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// seedRows fills the seed's tables (in public of u) with what a seed
// installation holds after some use: three groups, three workers (one
// rcq cannot take), users (one whose email rcq already has, one without a
// group), and jobs in every seed state, with dependencies and usage.
func seedRows(t *testing.T, u, password string) {
	t.Helper()
	hash, err := auth.HashPassword(password, auth.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pub := connectIn(t, u, "public")
	for _, q := range []string{
		`INSERT INTO groups (name, cpu_quota, priority) VALUES ('ML Research Lab', 500, 3), ('Systems Lab', 400, 2), ('Theory Group', 200, 15)`,
		`INSERT INTO workers (hostname, cpu_cores, memory_gb, gpu_count, status) VALUES
			('compute-node-01', 32, 128, 2, 'idle'), ('compute-node-02', 16, 64, 1, 'busy'), ('broken', 0, 8, 0, 'offline')`,
		`INSERT INTO users (email, password_hash, group_id, is_admin) VALUES
			('alice@wisc.edu', $1, 1, false), ('pi@research.edu', $1, 2, true), ('nogroup@wisc.edu', $1, NULL, NULL),
			('bob@example.org', $1, 3, false)`,
		// 1 completed, 2 failed, 3 cancelled before starting, 4 running,
		// 5 pending (no estimate), 6 pending (estimate 0) after 5,
		// 7 pending after the running 4, 8 completed without a worker.
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count, estimated_hours, status, priority,
			submitted_at, started_at, completed_at, exit_code, output_path, error_message, worker_id) VALUES
			(1, 1, 'python train.py', 8, 32, 1, 4.5, 'completed', 3, '2026-01-08 15:30:00', '2026-01-08 15:30:30', '2026-01-08 17:00:00', 0, './output/job_1.txt', NULL, 1),
			(1, 1, 'python fail.py', 2, 4, 0, 1, 'failed', 1, '2026-01-08 16:00:00', '2026-01-08 16:00:10', '2026-01-08 16:05:00', 1, './output/job_2.txt', 'exit status 1', 2),
			(2, 2, 'make bench', 4, 8, 0, 2, 'cancelled', 1, '2026-01-08 16:10:00', NULL, NULL, NULL, NULL, NULL, NULL),
			(2, 2, 'sleep 100000', 1, 1, 0, 30, 'running', 1, '2026-01-09 09:00:00', '2026-01-09 09:00:05', NULL, NULL, NULL, NULL, 1),
			(1, 1, 'python eval.py', 4, 16, 0, NULL, 'pending', 5, '2026-01-09 10:00:00', NULL, NULL, NULL, NULL, NULL, NULL),
			(1, 1, 'python report.py', 1, 0, 0, 0, 'pending', 1, '2026-01-09 10:01:00', NULL, NULL, NULL, NULL, NULL, NULL),
			(2, 2, 'make plots', 1, 1, 0, 1, 'pending', 1, '2026-01-09 10:02:00', NULL, NULL, NULL, NULL, NULL, NULL),
			(1, 1, 'true', 1, 1, 0, 1, 'completed', 1, '2026-01-07 10:00:00', '2026-01-07 10:00:01', '2026-01-07 10:00:02', 0, NULL, NULL, NULL)`,
		`INSERT INTO job_dependencies (job_id, depends_on_job_id) VALUES (6, 5), (7, 4)`,
		`INSERT INTO usage_logs (group_id, job_id, cpu_hours_used, logged_at) VALUES (1, 1, 12, '2026-01-08 17:00:00'), (1, 2, 0.66, '2026-01-08 16:05:00')`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, hash)
		}
		if _, err := pub.Exec(ctxT(t), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestImportSeed: import-seed copies a seed database (here sharing rcq's
// database, its tables in public) into rcq: groups with their quotas and
// priorities, users with their bcrypt hashes, workers offline, finished
// jobs as history and pending ones as pending, skipping what rcq cannot
// take and saying why; a second run copies nothing.
func TestImportSeed(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	f := newFixture(t)
	seedSchema(t, f.url)
	seedRows(t, f.url, "password123")
	seedURL := withoutSearchPath(t, f.url)

	data, err := store.ReadSeed(ctx, seedURL)
	if err != nil {
		t.Fatalf("read the seed: %v", err)
	}
	sum, err := f.st.ImportSeed(ctx, data, store.SeedImportOptions{DefaultEstimatedHours: 2.5})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	want := store.SeedSummary{
		Groups:  store.SeedCounts{Copied: 3},
		Users:   store.SeedCounts{Copied: 3, Matched: 1},
		Workers: store.SeedCounts{Copied: 2, Skipped: 1},
		Jobs:    store.SeedCounts{Copied: 6, Skipped: 2, History: 3, Pending: 3},
	}
	if sum.Groups != want.Groups || sum.Users != want.Users || sum.Workers != want.Workers || sum.Jobs != want.Jobs ||
		sum.Dependencies != 1 || sum.Usage != 2 || !sum.New() {
		t.Errorf("summary %+v, want %+v, 1 dependency, 2 usage records", *sum, want)
	}
	var skipped []string
	for _, s := range sum.Skipped {
		skipped = append(skipped, s.Kind+" "+s.Why)
	}
	for _, w := range []string{"worker (broken) 0 cores", "job running in the seed", "job completed without a start time",
		"dependency job 7's dependency on job 4"} {
		if !slices.ContainsFunc(skipped, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("skipped %q lacks %q", skipped, w)
		}
	}
	if !slices.ContainsFunc(sum.Notes, func(s string) bool { return strings.Contains(s, "priority 15 is outside 1-10, copied as 10") }) {
		t.Errorf("notes %q do not say the priority was clamped", sum.Notes)
	}

	gs, err := f.st.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	quota := map[string][2]float64{}
	for _, g := range gs {
		quota[g.Name] = [2]float64{g.CPUQuota, float64(g.Priority)}
	}
	if quota["ML Research Lab"] != [2]float64{500, 3} || quota["Systems Lab"] != [2]float64{400, 2} || quota["Theory Group"] != [2]float64{200, 10} {
		t.Errorf("groups %v", quota)
	}
	u, hash, err := f.st.UserByEmail(ctx, "alice@wisc.edu")
	if err != nil || !auth.CheckPassword(hash, "password123") || u.IsAdmin {
		t.Errorf("alice: %+v, %v; her seed password does not check against the copied hash", u, err)
	}
	pi, _, err := f.st.UserByEmail(ctx, "pi@research.edu")
	if err != nil || !pi.IsAdmin {
		t.Errorf("pi: %+v, %v: want an admin", pi, err)
	}
	ng, _, err := f.st.UserByEmail(ctx, "nogroup@wisc.edu")
	if err != nil || ng.GroupID != 1 {
		t.Errorf("a user without a group: %+v, %v: want group default (1)", ng, err)
	}
	bob, hash, err := f.st.UserByEmail(ctx, "bob@example.org")
	if err != nil || bob.ID != f.bob || hash != "hash-bob@example.org" {
		t.Errorf("bob, already in rcq, changed: %+v %q %v", bob, hash, err)
	}
	ws, err := f.st.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if strings.HasPrefix(w.Name, "compute-node") && w.State != "offline" {
			t.Errorf("worker %s is %s, want offline", w.Name, w.State)
		}
	}

	js, err := f.st.ListJobs(ctx, rcq.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byScript := map[string]rcq.Job{}
	for _, j := range js {
		byScript[j.Script] = j
	}
	done := byScript["python train.py"]
	if done.State != rcq.JobCompleted || done.UserID != u.ID || done.StartedAt == nil || done.CompletedAt == nil || done.WorkerID == nil ||
		done.ExitCode == nil || *done.ExitCode != 0 || done.Output != "./output/job_1.txt" || done.EstimatedHours != 4.5 || done.Priority != 3 ||
		done.SubmittedAt.UTC().Format("2006-01-02 15:04:05") != "2026-01-08 15:30:00" {
		t.Errorf("completed job copied as %+v", done)
	}
	if failed := byScript["python fail.py"]; failed.State != rcq.JobFailed || failed.ReasonDetail != "exit status 1" || failed.ExitCode == nil || *failed.ExitCode != 1 {
		t.Errorf("failed job copied as %+v", failed)
	}
	if c := byScript["make bench"]; c.State != rcq.JobCancelled || c.CompletedAt == nil || c.StartedAt != nil {
		t.Errorf("cancelled job copied as %+v", c)
	}
	if _, ok := byScript["sleep 100000"]; ok {
		t.Error("the running job was copied")
	}
	eval, report := byScript["python eval.py"], byScript["python report.py"]
	if eval.State != rcq.JobPending || eval.EstimatedHours != 2.5 || eval.Priority != 5 || eval.Resources.CPUCores != 4 {
		t.Errorf("pending job without an estimate copied as %+v", eval)
	}
	if report.State != rcq.JobPending || report.EstimatedHours != 2.5 || report.Resources.MemoryGB != 1 ||
		len(report.Dependencies) != 1 || report.Dependencies[0].JobID != eval.ID || report.Dependencies[0].Type != rcq.AfterOK {
		t.Errorf("pending job with estimate 0 after job 5 copied as %+v (job 5 is %d)", report, eval.ID)
	}

	// A second run copies nothing and says so.
	data, err = store.ReadSeed(ctx, seedURL)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.st.ImportSeed(ctx, data, store.SeedImportOptions{DefaultEstimatedHours: 2.5})
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	if again.New() || again.Groups.Already != 3 || again.Users.Already != 4 || again.Workers.Already != 2 || again.Jobs.Already != 6 ||
		again.Jobs.Copied != 0 || again.Dependencies != 0 || again.Usage != 0 {
		t.Errorf("second import %+v: want nothing new", *again)
	}
	if js2, err := f.st.ListJobs(ctx, rcq.JobFilter{}); err != nil || len(js2) != len(js) {
		t.Errorf("second import: %d jobs, had %d (%v)", len(js2), len(js), err)
	}
}

// TestReadSeedRefusesOtherDatabases: a database without the seed's tables
// or columns, or one that cannot be reached, is refused with one line
// naming what is missing, before anything is read.
func TestReadSeedRefusesOtherDatabases(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	plain := withoutSearchPath(t, dbtest.URL(t)) // rcq's own database: nothing in public
	_, err := store.ReadSeed(ctx, plain)
	if !errors.Is(err, store.ErrNotSeed) || !strings.Contains(err.Error(), "has no table groups") || strings.Contains(err.Error(), "\n") {
		t.Errorf("rcq's own database: %v", err)
	}

	u := emptyDatabase(t)
	seedSchema(t, u)
	if _, err := connectIn(t, u, "public").Exec(ctx, `ALTER TABLE workers DROP COLUMN hostname`); err != nil {
		t.Fatal(err)
	}
	_, err = store.ReadSeed(ctx, withoutSearchPath(t, u))
	if !errors.Is(err, store.ErrNotSeed) || !strings.Contains(err.Error(), "table workers has no column hostname") {
		t.Errorf("a seed database without workers.hostname: %v", err)
	}

	_, err = store.ReadSeed(ctx, "postgres://nobody@127.0.0.1:1/research_queue?sslmode=disable&connect_timeout=5")
	if rcq.KindOf(err) != rcq.KindUnavailable || !strings.Contains(err.Error(), "cannot reach the seed database at 127.0.0.1:1/research_queue") {
		t.Errorf("an unreachable database: %v", err)
	}
}
