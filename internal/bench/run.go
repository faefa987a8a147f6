package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// submitToStart is scenario 3: jobs submitted one after another on an idle
// worker, each once the previous has started; latency as rcqd records it
// (started_at - submitted_at) and as the job sees it (its first line's
// timestamp - submitted_at).
func (b *Bench) submitToStart(ctx context.Context) error {
	n := b.sizes.LatencyJobs
	b.logf("scenario 3: %d jobs one after another on an idle worker", n)
	return b.with(ctx, daemonOpts{}, func(d *daemon) error {
		c, err := d.client(viaUnix)
		if err != nil {
			return err
		}
		spec := apitype.SubmitRequest{Script: "#!/bin/sh\ndate +%s.%N\n", WorkingDir: d.WorkDir, Name: "latency"}
		wait := b.profile(ctx, d, "s3-latency", 5)
		defer wait()
		seen := map[int64]float64{} // job id -> the job's own timestamp (Unix seconds)
		var ids []int64
		for range n {
			resp, err := c.Submit(ctx, spec, client.SubmitOptions{})
			if err != nil {
				return err
			}
			ids = append(ids, resp.JobID)
			// Wait for the job's first line: an external process, so poll
			// its output file with a deadline.
			out := filepath.Join(d.WorkDir, fmt.Sprintf("rcq-%d.out", resp.JobID))
			deadline := time.Now().Add(30 * time.Second)
			for {
				if bs, err := os.ReadFile(out); err == nil {
					if line, _, ok := bytes.Cut(bs, []byte("\n")); ok {
						ts, err := strconv.ParseFloat(string(line), 64)
						if err != nil {
							return fmt.Errorf("job %d wrote %q, not a timestamp", resp.JobID, line)
						}
						seen[resp.JobID] = ts
						break
					}
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("job %d did not start within 30s (%s)", resp.JobID, out)
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(500 * time.Microsecond)
			}
		}
		var rcqd, job []float64
		for i := 0; i < len(ids); i += 100 {
			part := ids[i:min(i+100, len(ids))]
			list, err := c.Jobs(ctx, client.JobsQuery{IDs: part, States: []string{"all"}, Limit: len(part)})
			if err != nil {
				return err
			}
			if len(list.Jobs) != len(part) {
				return fmt.Errorf("GET /api/jobs returned %d of %d jobs", len(list.Jobs), len(part))
			}
			for _, j := range list.Jobs {
				if j.StartedAt == nil {
					return fmt.Errorf("job %d has no started_at (status %s)", j.ID, j.Status)
				}
				rcqd = append(rcqd, float64(j.StartedAt.Sub(j.SubmittedAt))/float64(time.Millisecond))
				sub := float64(j.SubmittedAt.UnixNano()) / 1e9
				job = append(job, (seen[j.ID]-sub)*1000)
			}
		}
		p := params("jobs", n, "worker", "idle, 2 cores", "wait", "previous started")
		for _, s := range []struct {
			name string
			xs   []float64
		}{{"submit-to-start rcqd", rcqd}, {"submit-to-start job", job}} {
			b.add(Result{3, s.name, p, "p50 ms", median(s.xs), "", nil}.goal(false, 10),
				Result{3, s.name, p, "p99 ms", percentile(s.xs, 99), "", nil}.goal(false, 50),
				Result{3, s.name, p, "max ms", maxOf(s.xs), "", nil})
		}
		return nil
	})
}

// spawnRate is the machine's raw process-spawn rate: /bin/sh -c true
// started and waited for by a Go loop, par at a time, for secs seconds.
func spawnRate(ctx context.Context, par int, secs int) (float64, error) {
	var mu sync.Mutex
	var total int
	var firstErr error
	stop := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for time.Now().Before(stop) && ctx.Err() == nil {
				if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(total) / time.Since(t0).Seconds(), ctx.Err()
}

// endToEnd is scenario 4: jobs running `true` on workers with E2ECores
// cores in all, from the first submit to the last completion, beside the
// raw spawn rate.
func (b *Bench) endToEnd(ctx context.Context) error {
	sz := b.sizes
	b.logf("scenario 4: raw spawn rate, then %d jobs end to end on %d cores", sz.E2EJobs, sz.E2ECores)
	spawn, err := spawnRate(ctx, 2, sz.SpawnSecs)
	if err != nil {
		return fmt.Errorf("spawn loop: %w", err)
	}
	b.add(Result{4, "raw spawn /bin/sh -c true", params("parallel", 2, "seconds", sz.SpawnSecs), "spawns/s", spawn, "", nil})
	// The machine's own worker gets 2 cores; virtual workers of 2 cores
	// make up the rest.
	var cfg strings.Builder
	cfg.WriteString("workers:\n")
	for i := 1; i < sz.E2ECores/2; i++ {
		fmt.Fprintf(&cfg, "  - {name: v%d, cpu_cores: 2, memory_gb: 4, gpu_count: 0}\n", i)
	}
	o := daemonOpts{config: cfg.String(), env: []string{"RCQ_NODE_CPU_CORES=2", "RCQ_NODE_GPU_COUNT=0",
		"MAX_CONCURRENT_JOBS=" + strconv.Itoa(sz.E2ECores)}}
	return b.with(ctx, o, func(d *daemon) error {
		c, err := d.client(viaUnix)
		if err != nil {
			return err
		}
		// Waiting reads a count through the store, not the API, so the
		// wait costs rcqd nothing.
		st, err := d.store(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		specs := make([]apitype.SubmitRequest, sz.E2EJobs)
		for i := range specs {
			specs[i] = trivialJob(d.WorkDir)
		}
		c0 := d.cpu()
		t0 := time.Now()
		wait := b.profile(ctx, d, "s4-end-to-end", 10)
		defer wait()
		if _, err := c.SubmitBatch(ctx, apitype.BatchSubmitRequest{Jobs: specs}); err != nil {
			return err
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			left, err := st.CountJobs(ctx, rcq.JobPending, rcq.JobRunning)
			if err != nil {
				return err
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d jobs still pending or running after 5 minutes", left)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(20 * time.Millisecond)
		}
		c1 := d.cpu()
		jobs, err := st.ListJobs(ctx, rcq.JobFilter{})
		if err != nil {
			return err
		}
		var last time.Time
		var done, bad int
		var runs []float64 // started->ended of each job, ms
		var busy float64   // their sum, s
		for _, j := range jobs {
			if j.State != rcq.JobCompleted || j.ExitCode == nil || *j.ExitCode != 0 || j.StartedAt == nil || j.CompletedAt == nil {
				bad++
				continue
			}
			done++
			if j.CompletedAt.After(last) {
				last = *j.CompletedAt
			}
			run := j.CompletedAt.Sub(*j.StartedAt)
			runs = append(runs, float64(run)/float64(time.Millisecond))
			busy += run.Seconds()
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d jobs did not complete with exit code 0", bad, sz.E2EJobs)
		}
		rate := float64(done) / last.Sub(t0).Seconds()
		// Where a job's time goes: from start to recorded end (supervisor,
		// job, reporting), and how many slots were busy on average.
		runP50, runP99 := median(runs), percentile(runs, 99)
		p := params("jobs", sz.E2EJobs, "cores", sz.E2ECores, "workers", sz.E2ECores/2, "submit", "1 batch")
		b.add(Result{4, "end-to-end true", p, "jobs/s", rate, "", nil}.goal(true, 500),
			Result{4, "end-to-end/spawn", p, "ratio", rate / spawn, "", nil}.goal(true, 0.25))
		b.add(Result{4, "end-to-end started->ended", p, "p50 ms", runP50, "", nil},
			Result{4, "end-to-end started->ended", p, "p99 ms", runP99, "", nil},
			Result{4, "end-to-end busy slots", p, "mean of " + strconv.Itoa(sz.E2ECores), busy / last.Sub(t0).Seconds(), "", nil})
		b.add(cpuResults(4, "end-to-end true", p, c0, c1)...)
		return nil
	})
}

// commandLine is scenario 5: sequential rcq-submit --wrap true processes
// from a shell loop with the cached token.
func (b *Bench) commandLine(ctx context.Context) error {
	sz := b.sizes
	b.logf("scenario 5: %d sequential rcq-submit from a shell loop", sz.CLIJobs)
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
		if err := d.loginCLI(ctx); err != nil {
			return err
		}
		submit := filepath.Join(d.bin, "rcq-submit")
		loop := exec.CommandContext(ctx, "/bin/sh", "-c",
			`i=0; while [ $i -lt "$1" ]; do "$0" --wrap true >/dev/null || exit 1; i=$((i+1)); done`, submit, strconv.Itoa(sz.CLIJobs))
		loop.Env = d.CLIEnv
		loop.Dir = d.WorkDir
		c0 := d.cpu()
		t0 := time.Now()
		wait := b.profile(ctx, d, "s5-cli", 5)
		defer wait()
		if out, err := loop.CombinedOutput(); err != nil {
			return fmt.Errorf("shell loop: %w: %s", err, out)
		}
		rate := float64(sz.CLIJobs) / time.Since(t0).Seconds()
		c1 := d.cpu()
		var calls []time.Duration
		for range sz.CLITimed {
			cmd := exec.CommandContext(ctx, submit, "--wrap", "true")
			cmd.Env = d.CLIEnv
			cmd.Dir = d.WorkDir
			s := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("rcq-submit: %w: %s", err, out)
			}
			calls = append(calls, time.Since(s))
		}
		b.add(Result{5, "rcq-submit shell loop", params("calls", sz.CLIJobs, "workers", "drained"), "jobs/s", rate, "", nil}.goal(true, 150),
			Result{5, "rcq-submit one call", params("calls", sz.CLITimed, "stat", "median"), "ms", median(ms(calls)), "", nil}.goal(false, 8),
			Result{5, "rcq-submit one call", params("calls", sz.CLITimed), "p99 ms", percentile(ms(calls), 99), "", nil})
		b.add(cpuResults(5, "rcq-submit shell loop", params("calls", sz.CLIJobs), c0, c1)...)
		return nil
	})
}
