package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

func unixHTTP(sock string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }

// jobSpec is a one-core job running script in dir.
func jobSpec(dir, script string) apitype.SubmitRequest {
	return apitype.SubmitRequest{
		Script:     "#!/bin/sh\n" + script + "\n",
		WorkingDir: dir,
		CPUCores:   ptr(1),
		MemoryGB:   ptr(0),
		Output:     filepath.Join(dir, "out-%j.txt"),
	}
}

// submit submits and fails the test on error.
func submit(t testing.TB, c *client.Client, req apitype.SubmitRequest) int64 {
	t.Helper()
	r, err := c.Submit(ctxT(t, 60*time.Second), req, client.SubmitOptions{})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return r.JobID
}

// getJob reads a job through the API, retrying (bounded) while rcqd
// answers 503, as a client told "try again shortly" does.
func getJob(t testing.TB, c *client.Client, id int64) *apitype.Job {
	t.Helper()
	j, err := readJob(t, c, id)
	if err != nil {
		t.Fatalf("job %d: %v", id, err)
	}
	return j
}

func readJob(t testing.TB, c *client.Client, id int64) (*apitype.Job, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := c.Job(ctxT(t, 60*time.Second), id)
		if err == nil || !errors.Is(err, rcq.ErrUnavailable) || time.Now().After(deadline) {
			return j, err
		}
		time.Sleep(20 * time.Millisecond) // a client's retry delay
	}
}

// waitJobs waits until every job has ended and let go of its worker, and
// returns them as they then are.
func waitJobs(t testing.TB, c *client.Client, ids []int64, limit time.Duration) map[int64]*apitype.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	out := map[int64]*apitype.Job{}
	for {
		for _, id := range ids {
			if _, ok := out[id]; ok {
				continue
			}
			// A cancelled job that had started is terminal at once but holds
			// its resources until its processes are gone (completed_at set):
			// the store's legitimate "cancelled, still ending" state. Wait
			// for that too, so that nothing of the job changes afterwards.
			j := getJob(t, c, id)
			if rcq.JobState(j.Status).Terminal() && (j.StartedAt == nil || j.CompletedAt != nil) {
				out[id] = j
			}
		}
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			var left []string
			for _, id := range ids {
				if _, ok := out[id]; !ok {
					j, _ := readJob(t, c, id)
					if j != nil {
						left = append(left, fmt.Sprintf("%d:%s(%s)", id, j.Status, j.Reason))
					}
				}
			}
			t.Fatalf("%d of %d jobs not ended after %v: %s", len(left), len(ids), limit, strings.Join(left, " "))
		}
		time.Sleep(50 * time.Millisecond) // polling jobs run by external processes
	}
}

// waitStatus waits until job id is in one of states.
func waitStatus(t testing.TB, c *client.Client, id int64, limit time.Duration, states ...string) *apitype.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		j := getJob(t, c, id)
		for _, s := range states {
			if j.Status == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s (%s %s) after %v, want %v", id, j.Status, j.Reason, j.ReasonDetail, limit, states)
		}
		time.Sleep(25 * time.Millisecond) // polling a job run by external processes
	}
}

// db opens a connection to url for SQL checks.
func db(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = "rcq" // the schema of rcq's tables (store.Schema)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// checkInvariants checks in SQL that no worker is over-committed and no GPU
// index is held by two jobs, and on the machine that every running job of
// the given daemons has a live supervisor (waiting a bounded time for a
// job just started or just restarted to get one).
func checkInvariants(t testing.TB, url string, daemons ...*daemon) {
	t.Helper()
	ctx := ctxT(t, 2*time.Minute)
	conn := db(t, url)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT w.name, w.cpu_cores, w.memory_gb, w.gpu_count,
		       coalesce(sum(j.cpu_cores), 0), coalesce(sum(j.memory_gb), 0), coalesce(sum(j.gpu_count), 0)
		FROM workers w JOIN jobs j ON j.worker_id = w.id AND j.started_at IS NOT NULL AND j.completed_at IS NULL
		GROUP BY w.id
		HAVING sum(j.cpu_cores) > w.cpu_cores OR sum(j.memory_gb) > w.memory_gb OR sum(j.gpu_count) > w.gpu_count`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var c, m, g, uc, um, ug int64
		if err := rows.Scan(&name, &c, &m, &g, &uc, &um, &ug); err != nil {
			t.Fatal(err)
		}
		t.Errorf("worker %s over-committed: %d/%d cores, %d/%d GB, %d/%d GPUs", name, uc, c, um, m, ug, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var dup int
	if err := conn.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT j.worker_id, g FROM jobs j, unnest(j.gpu_indices) g
			WHERE j.started_at IS NOT NULL AND j.completed_at IS NULL
			GROUP BY 1, 2 HAVING count(*) > 1) x`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup > 0 {
		t.Errorf("%d GPU indices held by two running jobs at once", dup)
	}
	var badRunning int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE (status = 'running') <> (started_at IS NOT NULL AND completed_at IS NULL)`).Scan(&badRunning); err != nil {
		t.Fatal(err)
	}
	if badRunning > 0 {
		t.Errorf("%d jobs hold resources without running or run without holding them", badRunning)
	}
	for _, d := range daemons {
		checkSupervised(t, conn, d)
	}
}

// checkSupervised: every job running on d's node has a live supervisor
// (the process named in its pid file, alive and started from this state
// directory), or stops running within a bounded time.
func checkSupervised(t testing.TB, conn *pgx.Conn, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx := ctxT(t, 30*time.Second)
		rows, err := conn.Query(ctx, `SELECT j.id FROM jobs j JOIN workers w ON w.id = j.worker_id
			WHERE j.status = 'running' AND w.node = $1`, d.name)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		var orphans []int64
		for _, id := range ids {
			if !supervisorAlive(d.dir, id) {
				orphans = append(orphans, id)
			}
		}
		if len(orphans) == 0 {
			return
		}
		if time.Now().After(deadline) || !d.running() {
			t.Errorf("node %s: running jobs without a live supervisor: %v", d.name, orphans)
			return
		}
		time.Sleep(50 * time.Millisecond) // polling external processes
	}
}

func supervisorAlive(state string, id int64) bool {
	dir := filepath.Join(state, "jobs", strconv.FormatInt(id, 10))
	pid, err := readPidFile(filepath.Join(dir, "pid"))
	if err != nil || pid <= 0 || isZombie(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), "supervise") && strings.Contains(string(b), dir)
}

// jobGroupGone reports whether the process group of job id is gone.
func jobGroupGone(state string, id int64) (bool, int) {
	pgid, err := readPidFile(filepath.Join(state, "jobs", strconv.FormatInt(id, 10), "job.pid"))
	if err != nil || pgid <= 0 {
		return true, 0
	}
	err = syscall.Kill(-pgid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true, pgid
	}
	// A group of zombies only is gone too.
	ms, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 3 && f[3] == strconv.Itoa(pgid) && f[0] != "Z" {
			return false, pgid
		}
	}
	return true, pgid
}

// runCounts reads the run markers jobs left in dir: each job appends one
// line to run-<id> when it starts. More than one line means it ran twice.
func runCounts(t testing.TB, dir string) map[int64]int {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(dir, "run-*"))
	out := map[int64]int{}
	for _, m := range ms {
		id, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(m), "run-"), 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = strings.Count(string(b), "\n")
	}
	return out
}

// markRun is the line a job script starts with to leave its run marker.
func markRun(dir string) string {
	return fmt.Sprintf(`echo "$$" >> %s/run-$RCQ_JOB_ID`, dir)
}
