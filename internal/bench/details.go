package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// details is scenario 10: the commands of a researcher's day (issue 12) on
// a daemon holding AcctJobs finished jobs and InfoWorkers workers: rcq-show
// of one job, rcq-info, rcq-acct over the default window and rcq-acct -P of
// every job. Each command is timed as a whole process, median of its runs.
func (b *Bench) details(ctx context.Context) error {
	sz := b.sizes
	b.logf("scenario 10: rcq-show, rcq-info with %d workers, rcq-acct over %d finished jobs", sz.InfoWorkers, sz.AcctJobs)
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
		if err := d.loginCLI(ctx); err != nil {
			return err
		}
		c, err := d.client(viaUnix)
		if err != nil {
			return err
		}
		today, err := loadHistory(ctx, d, c, sz.AcctJobs, sz.InfoWorkers-1)
		if err != nil {
			return err
		}
		// One held job for rcq-show: what a user looks at most.
		held := trivialJob(d.WorkDir)
		held.Hold = true
		resp, err := c.Submit(ctx, held, client.SubmitOptions{})
		if err != nil {
			return err
		}
		d.quiesce(ctx, 30*time.Second)
		run := func(runs int, minBytes int64, name string, args ...string) (float64, error) {
			var ds []time.Duration
			for range runs {
				cmd := exec.CommandContext(ctx, filepath.Join(d.bin, name), args...)
				cmd.Env = d.CLIEnv
				cmd.Dir = d.WorkDir
				var n countWriter
				cmd.Stdout = &n
				var stderr strings.Builder
				cmd.Stderr = &stderr
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					return 0, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
				}
				ds = append(ds, time.Since(t0))
				if int64(n) < minBytes {
					return 0, fmt.Errorf("%s %s printed %d bytes, expected at least %d", name, strings.Join(args, " "), n, minBytes)
				}
			}
			return median(ms(ds)), nil
		}
		id := strconv.FormatInt(resp.JobID, 10)
		show, err := run(sz.ShowRuns, 100, "rcq-show", id)
		if err != nil {
			return err
		}
		b.add(Result{10, "rcq-show JOB", params("runs", sz.ShowRuns, "stat", "median"), "ms", show, "", nil}.goal(false, 10))
		info, err := run(sz.AcctRuns*2, int64(sz.InfoWorkers), "rcq-info")
		if err != nil {
			return err
		}
		r := Result{10, "rcq-info", params("workers", sz.InfoWorkers, "runs", sz.AcctRuns*2, "stat", "median"), "ms", info, "", nil}
		if sz.InfoWorkers == 1000 {
			r = r.goal(false, 50)
		}
		b.add(r)
		acct, err := run(sz.AcctRuns, int64(today), "rcq-acct")
		if err != nil {
			return err
		}
		r = Result{10, "rcq-acct (default window)", params("finished", sz.AcctJobs, "in window", today, "runs", sz.AcctRuns, "stat", "median"), "ms", acct, "", nil}
		if sz.AcctJobs == 100_000 {
			r = r.goal(false, 300)
		}
		b.add(r)
		// The table of every job, as the default window showed it when the
		// whole history had ended today (the shape of earlier runs): no goal.
		table, err := run(sz.AcctRuns, int64(sz.AcctJobs), "rcq-acct", "-S", historyStart)
		if err != nil {
			return err
		}
		b.add(Result{10, "rcq-acct -S " + historyStart + " (every job, table)", params("finished", sz.AcctJobs, "runs", sz.AcctRuns, "stat", "median"), "ms", table, "", nil})
		wait := b.profile(ctx, d, "s10-acct-P", 3)
		all, err := run(sz.AcctRuns, int64(sz.AcctJobs), "rcq-acct", "-P", "-S", historyStart)
		wait()
		if err != nil {
			return err
		}
		r = Result{10, "rcq-acct -P (every job)", params("finished", sz.AcctJobs, "runs", sz.AcctRuns, "stat", "median"), "ms", all, "", nil}
		if sz.AcctJobs == 100_000 {
			r = r.goal(false, 1000)
		}
		b.add(r)
		return nil
	})
}

// historyDays is how many days loadHistory's jobs ended over; historyStart
// is an rcq-acct -S that reaches all of them.
const (
	historyDays  = 7
	historyStart = "now-8days"
)

// loadHistory gives the admin jobs finished jobs, a busy week's history:
// one day's share (jobs/historyDays) ended today, since midnight (rcq-acct's
// default window, like sacct's), and the rest over the historyDays-1 days
// before, on the machine's own worker; it adds workers idle workers of a
// node no rcqd runs: through the store's bulk loads, in seconds. It returns
// how many jobs ended today.
//
// Earlier runs had every job end in the last minutes, so the default window
// held all of them and measured what -P of every job measures (its own
// goal, 1 s) against the default window's 300 ms: the two goals
// only differ if the default window holds part of the history.
func loadHistory(ctx context.Context, d *daemon, c *client.Client, jobs, workers int) (today int, _ error) {
	me, err := c.Me(ctx)
	if err != nil {
		return 0, err
	}
	st, err := d.store(ctx)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	ws, err := st.Workers(ctx)
	if err != nil {
		return 0, err
	}
	if len(ws) == 0 {
		return 0, fmt.Errorf("rcqd registered no worker")
	}
	own := ws[0].ID
	now := time.Now()
	y, m, day := now.Date()
	midnight := time.Date(y, m, day, 0, 0, 0, 0, time.Local)
	today = jobs / historyDays
	// The steps between two ends (dividing first: a week in nanoseconds
	// times 100,000 overflows).
	todayStep := now.Sub(midnight) / time.Duration(today+1)
	beforeStep := midnight.Sub(midnight.AddDate(0, 0, -(historyDays-1))) / time.Duration(jobs-today+1)
	zero := 0
	js := make([]rcq.Job, jobs)
	for i := range js {
		g := i + 1
		// Today's share evenly between midnight and now (the newest first),
		// the rest evenly over the days before.
		end := now.Add(-time.Duration(g) * todayStep)
		if i >= today {
			end = midnight.Add(-time.Duration(i-today+1) * beforeStep)
		}
		start, sub := end.Add(-time.Second), end.Add(-2*time.Second)
		out := fmt.Sprintf("%s/rcq-%d.out", d.WorkDir, g)
		js[i] = rcq.Job{UserID: rcq.UserID(me.ID), GroupID: rcq.GroupID(me.GroupID), Name: fmt.Sprintf("bench-%d", g),
			Script: trivialScript, WorkingDir: d.WorkDir, Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1},
			EstimatedHours: 1, Priority: 5, State: rcq.JobCompleted, SubmittedAt: sub, StartedAt: &start,
			CompletedAt: &end, ExitCode: &zero, WorkerID: &own, CPUSeconds: 0.25, PeakMemoryKB: 1234,
			Output: out, Error: out}
	}
	if _, err := st.AddFinishedJobs(ctx, js); err != nil {
		return 0, fmt.Errorf("load finished jobs: %w", err)
	}
	if _, err := st.AddWorkers(ctx, absentWorkers("bench", workers)); err != nil {
		return 0, fmt.Errorf("load workers: %w", err)
	}
	return today, holdAbsentNode(ctx, st)
}

// holdAbsentNode takes the lease of absentWorkers' node for a day, as an
// rcqd would: the scheduler places jobs only on nodes whose lease is live.
// Nothing launches them (rcqd runs the bench with jobs.start_timeout 24h, so
// they are not ended as LaunchFailed either).
func holdAbsentNode(ctx context.Context, st *store.Store) error {
	if _, err := st.AcquireLease(ctx, store.NodeLease(absentNode), absentNode+":stand-in", 24*time.Hour); err != nil {
		return fmt.Errorf("lease of node %s: %w", absentNode, err)
	}
	return nil
}

// absentNode is the node of absentWorkers: no rcqd runs it.
const absentNode = "bench-absent"

// absentWorkers are n empty 4-core workers named prefix-1..n of a node no
// rcqd runs: the scheduler fills them, nothing executes there.
func absentWorkers(prefix string, n int) []rcq.Worker {
	ws := make([]rcq.Worker, n)
	for i := range ws {
		ws[i] = rcq.Worker{Name: fmt.Sprintf("%s-%d", prefix, i+1), Node: absentNode,
			Capacity: rcq.Resources{CPUCores: 4, MemoryGB: 16}}
	}
	return ws
}
