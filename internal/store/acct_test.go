package store_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// ended sets a job's end as the executor would have: run from started on
// the fixture's worker to completed, in state st.
func (f *fixture) ended(t *testing.T, id rcq.JobID, st rcq.JobState, started, completed time.Time, code int) {
	t.Helper()
	if _, err := f.db.Exec(ctxT(t), `UPDATE jobs SET status = $2, started_at = $3, completed_at = $4,
		worker_id = $5, exit_code = $6, cpu_seconds = 1800 WHERE id = $1`,
		id, st, started, completed, f.worker, code); err != nil {
		t.Fatal(err)
	}
}

func ids(js []rcq.Job) []rcq.JobID {
	out := make([]rcq.JobID, len(js))
	for i := range js {
		out[i] = js[i].ID
	}
	return out
}

// TestAcctJobs: accounting lists jobs newest first, by window, state, user
// and id, page after page without repeats, with the group's name and
// without scripts.
func TestAcctJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Now()
	old := f.submit(t, f.alice, res(2, 1, 0))     // ended two days ago
	done := f.submit(t, f.alice, res(2, 1, 1))    // ended an hour ago
	failed := f.submit(t, f.alice, res(1, 1, 0))  // ended now
	running := f.submit(t, f.alice, res(1, 1, 0)) // still running
	bobs := f.submit(t, f.bob, res(1, 1, 0))      // another account's
	pending := f.submit(t, f.alice, res(1, 1, 0)) // never started
	f.ended(t, old, rcq.JobCompleted, now.Add(-50*time.Hour), now.Add(-48*time.Hour), 0)
	f.ended(t, done, rcq.JobCompleted, now.Add(-3*time.Hour), now.Add(-time.Hour), 0)
	f.ended(t, failed, rcq.JobFailed, now.Add(-time.Hour), now, 3)
	f.ended(t, bobs, rcq.JobCompleted, now.Add(-time.Hour), now, 0)
	f.start(t, running)

	list := func(fl rcq.AcctFilter) []rcq.JobID {
		t.Helper()
		js, err := f.st.AcctJobs(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		// EachAcctJob gives the same jobs, one at a time.
		var each []rcq.Job
		if err := f.st.EachAcctJob(ctx, fl, func(j *rcq.Job) error { each = append(each, *j); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(each) != len(js) {
			t.Errorf("EachAcctJob gave %v, AcctJobs %v", ids(each), ids(js))
		}
		for i := range min(len(each), len(js)) {
			if !reflect.DeepEqual(each[i], js[i]) {
				t.Errorf("EachAcctJob's job %d: %+v, AcctJobs' %+v", i, each[i], js[i])
			}
		}
		return ids(js)
	}
	for _, c := range []struct {
		name string
		f    rcq.AcctFilter
		want []rcq.JobID
	}{
		{"everything, newest first", rcq.AcctFilter{}, []rcq.JobID{pending, bobs, running, failed, done, old}},
		{"alice's", rcq.AcctFilter{UserID: f.alice}, []rcq.JobID{pending, running, failed, done, old}},
		{"the last day", rcq.AcctFilter{UserID: f.alice, From: now.Add(-24 * time.Hour)}, []rcq.JobID{pending, running, failed, done}},
		{"the last half hour", rcq.AcctFilter{UserID: f.alice, From: now.Add(-30 * time.Minute)}, []rcq.JobID{pending, running, failed}},
		{"window ending before the submits", rcq.AcctFilter{To: now.Add(-100 * time.Hour)}, []rcq.JobID{}},
		{"failed", rcq.AcctFilter{States: []rcq.JobState{rcq.JobFailed}}, []rcq.JobID{failed}},
		{"no state rcq has (OOM)", rcq.AcctFilter{States: []rcq.JobState{}}, []rcq.JobID{}},
		{"finished and running", rcq.AcctFilter{UserID: f.alice, States: []rcq.JobState{rcq.JobRunning, rcq.JobCompleted}}, []rcq.JobID{running, done, old}},
		{"by id", rcq.AcctFilter{IDs: []rcq.JobID{old, bobs}}, []rcq.JobID{bobs, old}},
		{"by id, not alice's", rcq.AcctFilter{UserID: f.alice, IDs: []rcq.JobID{bobs}}, []rcq.JobID{}},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Pages of 2 from the cursor list every job once, in order.
	var got []rcq.JobID
	fl := rcq.AcctFilter{Limit: 2}
	for {
		js, err := f.st.AcctJobs(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 0 {
			break
		}
		got = append(got, ids(js)...)
		l := js[len(js)-1]
		fl.After = rcq.JobPos{SubmittedAt: l.SubmittedAt, ID: l.ID}
	}
	if want := list(rcq.AcctFilter{}); !slices.Equal(got, want) {
		t.Errorf("pages of 2: %v, want %v", got, want)
	}

	// An error of the function ends the read and comes back as it is.
	stop := errors.New("stop")
	n := 0
	if err := f.st.EachAcctJob(ctx, rcq.AcctFilter{}, func(*rcq.Job) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("EachAcctJob with a failing function: %v after %d jobs", err, n)
	}

	js, err := f.st.AcctJobs(ctx, rcq.AcctFilter{IDs: []rcq.JobID{failed}})
	if err != nil || len(js) != 1 {
		t.Fatalf("job %d: %v %v", failed, js, err)
	}
	j := js[0]
	if j.GroupName != "default" || j.UserEmail != "alice@example.org" || j.Script != "" || j.ExitCode == nil ||
		*j.ExitCode != 3 || j.WorkerName != "w1" || j.CPUSeconds != 1800 || j.Resources.CPUCores != 1 {
		t.Errorf("job as accounting shows it: %+v", j)
	}
}

// TestAcctSummary: per-group totals: jobs by state, allocated CPU and GPU
// hours, CPU hours used.
func TestAcctSummary(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Now()
	a := f.submit(t, f.alice, res(2, 1, 1))
	b := f.submit(t, f.bob, res(4, 1, 0))
	c := f.submit(t, f.bob, res(1, 1, 0))
	f.submit(t, f.alice, res(1, 1, 0)) // pending: counted, no hours
	f.ended(t, a, rcq.JobCompleted, now.Add(-3*time.Hour), now.Add(-time.Hour), 0)
	f.ended(t, b, rcq.JobFailed, now.Add(-time.Hour), now, 1)
	f.ended(t, c, rcq.JobCompleted, now.Add(-90*time.Hour), now.Add(-80*time.Hour), 0)
	sum, err := f.st.AcctSummary(ctx, rcq.AcctFilter{From: now.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 {
		t.Fatalf("%d groups, want 1: %+v", len(sum), sum)
	}
	g := sum[0]
	near := func(x, y float64) bool { return x-y < 0.01 && y-x < 0.01 }
	if g.GroupName != "default" || g.Jobs != 3 || g.ByState[rcq.JobCompleted] != 1 || g.ByState[rcq.JobFailed] != 1 ||
		g.ByState[rcq.JobPending] != 1 || !near(g.CPUHours, 2*2+4*1) || !near(g.GPUHours, 2) || !near(g.UsedCPUHours, 1) {
		t.Errorf("summary %+v, want 3 jobs (1 CD, 1 F, 1 PD), 8 CPU hours, 2 GPU hours, 1 used", g)
	}
	alice, err := f.st.AcctSummary(ctx, rcq.AcctFilter{UserID: f.alice})
	if err != nil || len(alice) != 1 || alice[0].Jobs != 2 {
		t.Errorf("alice's summary %+v, %v", alice, err)
	}
}

// TestAcctJobsUsesAnIndex: over many jobs, a page newest first walks an
// index in order (no sort of the whole table), for everyone and for one
// account, first page and from a cursor. Without migration 00007's
// jobs_submitted, everyone's page sorts the table.
func TestAcctJobsUsesAnIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	if _, err := f.db.Exec(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count,
		estimated_hours, priority, status, submitted_at, started_at, completed_at, worker_id)
		SELECT CASE WHEN i % 2 = 0 THEN $1::bigint ELSE $2::bigint END, $3, 'x', 1, 1, 0, 1, 1, 'completed',
			now() - i * interval '1 second', now() - i * interval '1 second', now(), $4
		FROM generate_series(1, 20000) i`, f.alice, f.bob, f.group, f.worker); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, "ANALYZE jobs"); err != nil {
		t.Fatal(err)
	}
	cursor := rcq.JobPos{SubmittedAt: time.Now().Add(-time.Hour), ID: 10000}
	from := time.Now().Add(-24 * time.Hour)
	for _, c := range []struct {
		name  string
		f     rcq.AcctFilter
		index string
	}{
		{"everyone", rcq.AcctFilter{Limit: 1001, From: from}, "using jobs_submitted on jobs"},
		{"everyone, from a cursor", rcq.AcctFilter{Limit: 1001, From: from, After: cursor}, "using jobs_submitted on jobs"},
		// One account of two: either index walks in order (the planner
		// picks by how many of the jobs are the account's).
		{"one account", rcq.AcctFilter{UserID: f.alice, Limit: 1001, From: from}, "submitted on jobs"},
		{"one account, from a cursor", rcq.AcctFilter{UserID: f.alice, Limit: 1001, From: from, After: cursor}, "submitted on jobs"},
	} {
		q, args := store.AcctJobsSQL(c.f)
		rows, err := f.db.Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, c.index) || strings.Contains(p, "Sort  (") || strings.Contains(p, "Sort Key") {
			t.Errorf("%s: the plan does not walk %s in order:\n%s", c.name, c.index, p)
		}
	}
}
