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
		db, err := d.db(ctx)
		if err != nil {
			return err
		}
		defer db.Close(context.Background())
		// Finished jobs of the admin, all ended within the last minutes (the
		// default window, since midnight, holds every one: the worst case),
		// on the machine's own worker.
		if _, err := db.Exec(ctx, `INSERT INTO jobs (user_id, group_id, name, script, working_dir, cpu_cores, memory_gb,
			gpu_count, estimated_hours, priority, status, submitted_at, started_at, completed_at, exit_code, worker_id,
			cpu_seconds, peak_memory_kb, output_path, error_path)
			SELECT u.id, u.group_id, 'bench-' || g, E'#!/bin/sh\ntrue\n', $1, 1, 1, 0, 1, 5, 'completed',
				now() - g * interval '1 ms' - interval '2 s', now() - g * interval '1 ms' - interval '1 s',
				now() - g * interval '1 ms', 0, w.id, 0.25, 1234, $1 || '/rcq-' || g || '.out', $1 || '/rcq-' || g || '.out'
			FROM generate_series(1, $2::int) g,
				(SELECT id, group_id FROM users WHERE lower(email) = 'admin@localhost') u,
				(SELECT min(id) AS id FROM workers) w`, d.WorkDir, sz.AcctJobs); err != nil {
			return fmt.Errorf("insert finished jobs: %w", err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count, status)
			SELECT 'bench-' || g, 'bench-absent', 4, 16, 0, 'online' FROM generate_series(1, $1::int) g`, sz.InfoWorkers-1); err != nil {
			return fmt.Errorf("insert workers: %w", err)
		}
		if _, err := db.Exec(ctx, `ANALYZE jobs; ANALYZE workers`); err != nil {
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
		acct, err := run(sz.AcctRuns, int64(sz.AcctJobs), "rcq-acct")
		if err != nil {
			return err
		}
		r = Result{10, "rcq-acct (default window)", params("finished", sz.AcctJobs, "in window", sz.AcctJobs, "runs", sz.AcctRuns, "stat", "median"), "ms", acct, "", nil}
		if sz.AcctJobs == 100_000 {
			r = r.goal(false, 300)
		}
		b.add(r)
		wait := b.profile(ctx, d, "s10-acct-P", 3)
		all, err := run(sz.AcctRuns, int64(sz.AcctJobs), "rcq-acct", "-P", "-S", "now-1days")
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
