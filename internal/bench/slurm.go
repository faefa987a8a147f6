package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ErrNoSlurm means Slurm's commands are missing or slurmctld does not
// answer: scenario 9 cannot run, and says so.
var ErrNoSlurm = errors.New("no running Slurm on this machine")

// slurm runs Slurm's own commands (sbatch, squeue, scancel) as the caller.
type slurm struct {
	user string // the Unix login whose jobs scancel --user cancels
	env  []string
	dir  string // sbatch's working directory
}

// findSlurm checks that Slurm's commands are installed and that slurmctld
// answers, and that the caller has no Slurm job yet (scenario 9 cancels
// every job of the user, and counts them).
func findSlurm(ctx context.Context) (*slurm, error) {
	for _, name := range []string{"sbatch", "squeue", "scancel"} {
		if _, err := exec.LookPath(name); err != nil {
			return nil, fmt.Errorf("%w: %s is not installed (see /work/shared/slurm-anchor/README.md, or docs/performance.md: setup.sh over64 fast, then start.sh)", ErrNoSlurm, name)
		}
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &slurm{user: u.Username, env: os.Environ()}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	n, err := s.count(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: slurmctld does not answer (%v): start it (start.sh)", ErrNoSlurm, err)
	}
	if n > 0 {
		return nil, fmt.Errorf("the Slurm queue already holds %d jobs of %s; scenario 9 cancels every job of the user: empty the queue first (scancel --user %s)", n, s.user, s.user)
	}
	return s, nil
}

// count is the number of the user's jobs squeue shows (pending and running).
func (s *slurm) count(ctx context.Context) (int, error) {
	cmd := exec.CommandContext(ctx, "squeue", "-h", "-o", "%i", "-u", s.user)
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return 0, fmt.Errorf("squeue: %w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return 0, fmt.Errorf("squeue: %w", err)
	}
	return bytes.Count(out, []byte("\n")), nil
}

// run runs one Slurm command and returns how long it took and how many bytes
// it printed.
func (s *slurm) run(ctx context.Context, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.env
	cmd.Dir = s.dir
	var n countWriter
	cmd.Stdout = &n
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return el, int64(n), nil
}

// load submits n held jobs with sbatch, par at a time, and waits until
// squeue shows want jobs of the user.
func (s *slurm) load(ctx context.Context, n, par, want int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				// A busy slurmctld times out now and then ("Socket timed
				// out on send/recv operation"): a job that failed to submit
				// is tried again, up to six times, waiting longer each time.
				var err error
				for try := range 6 {
					if try > 0 {
						time.Sleep(time.Duration(try) * time.Second)
					}
					if _, _, err = s.run(ctx, "sbatch", "--hold", "-o", "/dev/null", "--wrap", "true"); err == nil {
						break
					}
				}
				if err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	// A timed-out sbatch that was tried again may have made its job after
	// all: cancel the newest extra ones.
	cmd := exec.CommandContext(ctx, "squeue", "-h", "-o", "%i", "-u", s.user, "--sort=-i")
	cmd.Env = s.env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("squeue: %w", err)
	}
	if ids := strings.Fields(string(out)); len(ids) > want {
		if _, _, err := s.run(ctx, "scancel", ids[:len(ids)-want]...); err != nil {
			return err
		}
	}
	return s.waitCount(ctx, want, time.Minute)
}

// waitCount waits until squeue shows exactly want jobs of the user.
func (s *slurm) waitCount(ctx context.Context, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := s.count(ctx)
		if err != nil {
			return err
		}
		if n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("squeue shows %d jobs of %s, not %d, after %s", n, s.user, want, limit)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cancelAll cancels every job of the user and waits until squeue shows none.
func (s *slurm) cancelAll(ctx context.Context) (time.Duration, error) {
	el, _, err := s.run(ctx, "scancel", "--user", s.user)
	if err != nil {
		return 0, err
	}
	return el, s.waitCount(ctx, 0, 2*time.Minute)
}

// versusSlurm is scenario 9: rcq's commands side by side with Slurm's on
// this machine, interleaved (one of each in turn) so that the machine's
// noise falls on both alike, as ratios of medians.
func (b *Bench) versusSlurm(ctx context.Context) error {
	s, err := findSlurm(ctx)
	if err != nil {
		return err
	}
	sz := b.sizes
	b.logf("scenario 9: rcq against Slurm (user %s): %d submits each, queue and cancel at %d pending", s.user, sz.SlurmSubmits, sz.SlurmPending)
	// Slurm's jobs are cancelled whatever happens.
	defer func() {
		s.dir = "" // the daemon's working directory is gone by now
		if n, err := s.count(context.Background()); err == nil && n > 0 {
			if _, err := s.cancelAll(context.Background()); err != nil {
				fmt.Fprintf(b.log, "rcq-bench: cancelling the Slurm jobs left: %v\n", err)
			}
		}
	}()
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
		if err := d.loginCLI(ctx); err != nil {
			return err
		}
		s.dir = d.WorkDir
		c, err := d.client(viaUnix)
		if err != nil {
			return err
		}
		st, err := d.store(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		rcqPending := func() (int, error) {
			n, err := st.CountJobs(ctx, rcq.JobPending)
			return int(n), err
		}
		cli := func(name string, args ...string) (time.Duration, int64, error) {
			cmd := exec.CommandContext(ctx, filepath.Join(d.bin, name), args...)
			cmd.Env = d.CLIEnv
			cmd.Dir = d.WorkDir
			var n countWriter
			cmd.Stdout = &n
			var stderr strings.Builder
			cmd.Stderr = &stderr
			t0 := time.Now()
			err := cmd.Run()
			el := time.Since(t0)
			if err != nil {
				return 0, 0, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
			}
			return el, int64(n), nil
		}

		// (a) One submit of a held job, each way, in turn; then the same
		// request from this process (no process start), for where the
		// time goes. The in-process requests run in a loop of their own:
		// run between the pairs, each one's aftermath in rcqd (the
		// scheduler's cycle, the event hub's read) fell on the command run
		// next, and only rcq-submit needs rcqd.
		var rs, ss, api []time.Duration
		held := trivialJob(d.WorkDir)
		held.Hold = true
		for i := range sz.SlurmSubmits {
			if !b.slurmPart("submit") {
				break
			}
			pair := []func() error{
				func() error {
					el, _, err := cli("rcq-submit", "--hold", "--wrap", "true")
					rs = append(rs, el)
					return err
				},
				func() error {
					el, _, err := s.run(ctx, "sbatch", "--hold", "--wrap", "true")
					ss = append(ss, el)
					return err
				},
			}
			if i%2 == 1 {
				pair[0], pair[1] = pair[1], pair[0]
			}
			for _, f := range pair {
				if err := f(); err != nil {
					return err
				}
			}
		}
		for range sz.SlurmSubmits {
			if !b.slurmPart("submit") {
				break
			}
			t0 := time.Now()
			// Without an Idempotency-Key, as rcq-submit sends it.
			if _, err := c.Submit(ctx, held, client.SubmitOptions{}); err != nil {
				return err
			}
			api = append(api, time.Since(t0))
		}
		p := params("calls", sz.SlurmSubmits, "order", "interleaved", "stat", "median")
		if b.slurmPart("submit") {
			b.add(Result{9, "rcq-submit --hold --wrap true", p, "ms", median(ms(rs)), "", nil},
				Result{9, "sbatch --hold --wrap true", p, "ms", median(ms(ss)), "", nil},
				Result{9, "rcq-submit/sbatch", p, "ratio", median(ms(rs)) / median(ms(ss)), "", nil}.goal(false, 0.8),
				Result{9, "POST /api/jobs (held)", params("calls", sz.SlurmSubmits, "order", "after-the-pairs", "stat", "median"), "ms", median(ms(api)), "", nil})
		}
		if !b.slurmPart("queue") && !b.slurmPart("cancel") {
			return nil
		}

		// Both queues up to SlurmPending held jobs.
		fill := func() error {
			have, err := rcqPending()
			if err != nil {
				return err
			}
			b.logf("scenario 9: loading %d held jobs into rcqd and %d into Slurm", sz.SlurmPending-have, sz.SlurmPending)
			if err := loadHeld(ctx, c, d.WorkDir, sz.SlurmPending-have); err != nil {
				return err
			}
			n, err := s.count(ctx)
			if err != nil {
				return err
			}
			t0 := time.Now()
			if err := s.load(ctx, sz.SlurmPending-n, 4, sz.SlurmPending); err != nil {
				return err
			}
			b.logf("scenario 9: Slurm took %.1f s to load (4 sbatch at a time)", time.Since(t0).Seconds())
			d.quiesce(ctx, 30*time.Second)
			return nil
		}
		if err := fill(); err != nil {
			return err
		}

		// (b) The queue, each way, in turn.
		var rq, rj, sq []time.Duration
		for i := range sz.SlurmRuns {
			if !b.slurmPart("queue") {
				break
			}
			steps := []func() error{
				func() error {
					el, n, err := cli("rcq-queue")
					if err == nil && n < int64(sz.SlurmPending) {
						err = fmt.Errorf("rcq-queue printed %d bytes for %d jobs", n, sz.SlurmPending)
					}
					rq = append(rq, el)
					return err
				},
				func() error {
					el, n, err := s.run(ctx, "squeue")
					if err == nil && n < int64(sz.SlurmPending) {
						err = fmt.Errorf("squeue printed %d bytes for %d jobs", n, sz.SlurmPending)
					}
					sq = append(sq, el)
					return err
				},
				func() error {
					el, n, err := cli("rcq-queue", "--json")
					if err == nil && n < int64(sz.SlurmPending) {
						err = fmt.Errorf("rcq-queue --json printed %d bytes for %d jobs", n, sz.SlurmPending)
					}
					rj = append(rj, el)
					return err
				},
			}
			if i%2 == 1 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, f := range steps {
				if err := f(); err != nil {
					return err
				}
			}
		}
		p = params("pending", sz.SlurmPending, "runs", sz.SlurmRuns, "order", "interleaved", "stat", "median")
		if b.slurmPart("queue") {
			b.add(Result{9, "rcq-queue", p, "ms", median(ms(rq)), "", nil},
				Result{9, "rcq-queue --json", p, "ms", median(ms(rj)), "", nil},
				Result{9, "squeue", p, "ms", median(ms(sq)), "", nil},
				Result{9, "rcq-queue/squeue", p, "ratio", median(ms(rq)) / median(ms(sq)), "", nil}.goal(false, 0.7),
				Result{9, "rcq-queue --json/squeue", p, "ratio", median(ms(rj)) / median(ms(sq)), "", nil}.goal(false, 1))
		}
		if !b.slurmPart("cancel") {
			return nil
		}

		// (c) Cancel every pending job of the user, each way, in turn; both
		// queues are loaded again between rounds. rcq-cancel --me is run
		// until nothing is left (the calls are counted: one is the goal).
		var rc, sc []time.Duration
		var calls []int
		for i := range sz.SlurmCancels {
			if i > 0 {
				if err := fill(); err != nil {
					return err
				}
			}
			steps := []func() error{
				func() error {
					var total time.Duration
					k := 0
					for {
						el, _, err := cli("rcq-cancel", "--me")
						if err != nil {
							return err
						}
						total += el
						k++
						left, err := rcqPending()
						if err != nil {
							return err
						}
						if left == 0 {
							break
						}
						if k == 100 {
							return fmt.Errorf("rcq-cancel --me: %d jobs still pending after %d calls", left, k)
						}
					}
					rc = append(rc, total)
					calls = append(calls, k)
					return nil
				},
				func() error {
					el, err := s.cancelAll(ctx)
					sc = append(sc, el)
					return err
				},
			}
			if i%2 == 1 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, f := range steps {
				if err := f(); err != nil {
					return err
				}
			}
			d.quiesce(ctx, 30*time.Second)
		}
		p = params("pending", sz.SlurmPending, "rounds", sz.SlurmCancels, "order", "interleaved", "stat", "median")
		b.add(Result{9, "rcq-cancel --me", p + " calls=" + joinInts(calls), "ms", median(ms(rc)), "", nil},
			Result{9, "scancel --user", p, "ms", median(ms(sc)), "", nil},
			Result{9, "rcq-cancel/scancel", p, "ratio", median(ms(rc)) / median(ms(sc)), "", nil}.goal(false, 0.5))
		return nil
	})
}

// loadHeld submits n held jobs in batches of at most 10,000.
func loadHeld(ctx context.Context, c interface {
	SubmitBatch(context.Context, apitype.BatchSubmitRequest) (*apitype.BatchSubmitResponse, error)
}, wd string, n int) error {
	for n > 0 {
		k := min(n, 10_000)
		specs := make([]apitype.SubmitRequest, k)
		for i := range specs {
			specs[i] = trivialJob(wd)
			specs[i].Hold = true
		}
		if _, err := c.SubmitBatch(ctx, apitype.BatchSubmitRequest{Jobs: specs}); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}
