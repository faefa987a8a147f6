package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/pgserver"
)

const trivialScript = "#!/bin/sh\ntrue\n"

func trivialJob(wd string) apitype.SubmitRequest {
	return apitype.SubmitRequest{Script: trivialScript, WorkingDir: wd, Name: "bench"}
}

// submitThroughput is scenario 1 (submits and batch submits with workers
// drained) and scenario 2 (PostgreSQL's single-row insert rate on the same
// kind of private server), with the ratios between them.
func (b *Bench) submitThroughput(ctx context.Context, s1, s2 bool) error {
	sz := b.sizes
	if s1 {
		for _, transport := range []transport{viaUnix, viaTCP} {
			for _, keyed := range []bool{false, true} {
				for _, c := range sz.Clients {
					if err := b.submitRow(ctx, transport, keyed, c); err != nil {
						return err
					}
				}
			}
		}
	}
	b.logf("scenario 1/2: batch submits and PostgreSQL's insert rate")
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
		if s1 {
			specs := make([]apitype.SubmitRequest, sz.BatchJobs)
			for i := range specs {
				specs[i] = trivialJob(d.WorkDir)
			}
			for _, t := range []transport{viaUnix, viaTCP} {
				c, err := d.client(t)
				if err != nil {
					return err
				}
				var rates []float64
				for range sz.Batches {
					t0 := time.Now()
					resp, err := c.SubmitBatch(ctx, apitype.BatchSubmitRequest{Jobs: specs})
					if err != nil {
						return err
					}
					el := time.Since(t0)
					if resp.Count != len(specs) {
						return fmt.Errorf("batch: %d jobs stored of %d", resp.Count, len(specs))
					}
					rates = append(rates, float64(len(specs))/el.Seconds())
					d.quiesce(ctx, 20*time.Second) // the scheduler's cycle over the new jobs
				}
				name := "batch submit " + string(t)
				b.add(Result{1, name, params("jobs/request", sz.BatchJobs, "requests", sz.Batches, "stat", "median"),
					"jobs/s", median(rates), "", nil}.goal(true, 20_000))
			}
		}
		if s1 {
			// The floor under a submit: the lightest authenticated request
			// (HTTP, JWT check, the user's row), at the largest concurrency.
			// A failure here is reported but does not cost scenario 2.
			c := sz.Clients[len(sz.Clients)-1]
			rate, err := meRate(ctx, d, c, sz.Submits)
			if err != nil {
				b.failures = append(b.failures, fmt.Sprintf("scenario 1: GET /api/auth/me at %d clients: %v", c, err))
				fmt.Fprintf(b.log, "rcq-bench: %s\n", b.failures[len(b.failures)-1])
			} else {
				b.add(Result{1, "GET /api/auth/me unix", params("requests", sz.Submits, "clients", c), "req/s", rate, "", nil})
			}
		}
		if s1 {
			peer, token, err := peerVersusToken(ctx, d, sz.Submits)
			if err != nil {
				return fmt.Errorf("scenario 1: peer identity against token: %w", err)
			}
			p := params("jobs", sz.Submits, "clients", 1, "order", "interleaved")
			b.add(Result{1, "submit unix peer", p, "p50 ms", median(ms(peer)), "", nil},
				Result{1, "submit unix token", p, "p50 ms", median(ms(token)), "", nil},
				Result{1, "submit peer/token", p, "p50 ratio", median(ms(peer)) / median(ms(token)), "", nil}.goal(false, 1.05))
			// What an Idempotency-Key costs one submit, free of the
			// machine's noise between the rows above.
			plain, keyed, err := plainVersusKeyed(ctx, d, sz.Submits)
			if err != nil {
				return fmt.Errorf("scenario 1: plain against keyed submits: %w", err)
			}
			b.add(Result{1, "submit unix", p, "p50 ms", median(ms(plain)), "", nil},
				Result{1, "submit unix keyed", p, "p50 ms", median(ms(keyed)), "", nil},
				Result{1, "submit keyed/plain", p, "p50 ratio", median(ms(keyed)) / median(ms(plain)), "", nil})
		}
		if !s2 {
			return nil
		}
		pgbench, err := preparePGBaseline(ctx, d)
		if err != nil {
			return fmt.Errorf("scenario 2: %w", err)
		}
		for _, c := range sz.Clients {
			tps, err := pgInsertRate(ctx, d, pgbench, c, sz.PGSeconds)
			if err != nil {
				return err
			}
			b.pgTPS[c] = tps
			b.add(Result{2, "PostgreSQL insert", params("clients", c, "seconds", sz.PGSeconds, "tool", "pgbench"), "tx/s", tps, "", nil})
		}
		if !s1 {
			return nil
		}
		// Against rcqd's submits, without and with an Idempotency-Key
		// (rcq-submit sends one when it may resend). rcqd's submit
		// transaction has no NOTIFY since store.announce: no insert+notify
		// row any more.
		for _, transport := range []string{"unix", "tcp"} {
			for _, keyed := range []bool{false, true} {
				for _, c := range sz.Clients {
					r := Result{2, submitName(transport, keyed) + "/insert", params("clients", c), "ratio",
						b.submit[submitKey(transport, keyed, c)] / b.pgTPS[c], "", nil}
					if c == 16 {
						r = r.goal(true, 0.5)
					}
					b.add(r)
				}
			}
		}
		return nil
	})
}

// submitName names a submit row: "submit unix", or "submit unix keyed"
// when every submit carries its own Idempotency-Key header, as rcq-submit's
// do when they may be resent (the store then checks and records the key in
// the submit's transaction: four statements instead of one).
func submitName(transport string, keyed bool) string {
	if keyed {
		return "submit " + transport + " keyed"
	}
	return "submit " + transport
}

func submitKey(transport string, keyed bool, c int) string {
	return fmt.Sprintf("%s/%v/%d", transport, keyed, c)
}

// submitRow is one row of scenario 1: Submits submits over t from c
// clients on a fresh rcqd with its workers drained, each with its own
// Idempotency-Key when keyed.
func (b *Bench) submitRow(ctx context.Context, t transport, keyed bool, c int) error {
	sz := b.sizes
	name := submitName(string(t), keyed)
	b.logf("scenario 1: %d submits over %s, %d clients, idempotency keys %v", sz.Submits, t, c, keyed)
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
		last := c == sz.Clients[len(sz.Clients)-1]
		wait := func() {}
		if last {
			profile := fmt.Sprintf("s1-submit-%s-%d", t, c)
			if keyed {
				profile += "-keyed"
			}
			wait = b.profile(ctx, d, profile, 5)
		}
		c0 := d.cpu()
		lat, done, elapsed, err := submitMany(ctx, d, t, c, sz.Submits, keyed)
		c1 := d.cpu()
		wait()
		if err != nil {
			return err
		}
		rate := float64(sz.Submits) / elapsed.Seconds()
		b.submit[submitKey(string(t), keyed, c)] = rate
		p := params("jobs", sz.Submits, "clients", c, "workers", "drained")
		b.add(Result{1, name, p, "jobs/s", rate, "", nil},
			Result{1, name, p, "p50 ms", median(ms(lat)), "", nil},
			Result{1, name, p, "p99 ms", percentile(ms(lat), 99), "", nil})
		if last {
			// Does a submit cost more as the queue grows?
			first, lastRate := edgeRates(done, sz.Submits/10)
			b.add(Result{1, name, p, "jobs/s first 10%", first, "", nil},
				Result{1, name, p, "jobs/s last 10%", lastRate, "", nil})
			b.add(cpuResults(1, name, p, c0, c1)...)
		}
		return nil
	})
}

// submitMany sends n submits from c clients, each with its own connection,
// each submit with its own Idempotency-Key when keyed, and returns each
// submit's latency and the total time.
func submitMany(ctx context.Context, d *daemon, t transport, c, n int, keyed bool) (lat, done []time.Duration, elapsed time.Duration, err error) {
	clients := make([]*client.Client, c)
	for i := range clients {
		cl, err := d.client(t)
		if err != nil {
			return nil, nil, 0, err
		}
		clients[i] = cl
	}
	lat = make([]time.Duration, n)
	done = make([]time.Duration, n) // when each submit returned, from the start
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	spec := trivialJob(d.WorkDir)
	t0 := time.Now()
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				var opts client.SubmitOptions
				if keyed {
					opts.IdempotencyKey = "bench-" + strconv.Itoa(i)
				}
				s := time.Now()
				if _, err := cl.Submit(ctx, spec, opts); err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
				lat[i] = time.Since(s)
				done[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed = time.Since(t0)
	select {
	case err := <-errs:
		return nil, nil, 0, err
	default:
	}
	return lat, done, elapsed, ctx.Err()
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// The baseline of scenario 2 is PostgreSQL's own: pgbench (PostgreSQL's
// benchmark client, installed beside its server) inserting single rows into
// a table shaped like a minimal job row, in a scratch database of its own
// on the daemon's private server. The scripts below are pgbench's input,
// run by pgbench: rcq-bench has no database driver and reads or writes
// nothing of rcq's through SQL.
const (
	pgScratchDB      = "rcq_bench_scratch"
	pgCreateDBScript = "CREATE DATABASE " + pgScratchDB + ";\n"
	pgCreateScript   = `CREATE TABLE bench_insert (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	script text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now());
`
	pgInsertScript = `INSERT INTO bench_insert (script) VALUES ('#!/bin/sh\ntrue\n');` + "\n"
)

// preparePGBaseline finds pgbench (on PATH, else beside the server's
// binaries) and creates the scratch database and its table; it returns
// pgbench's path.
func preparePGBaseline(ctx context.Context, d *daemon) (string, error) {
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		dir, derr := pgserver.FindBinDir()
		if derr != nil {
			return "", fmt.Errorf("pgbench not found on PATH, and no PostgreSQL server binaries: %w", derr)
		}
		pgbench = filepath.Join(dir, "pgbench")
		if _, err := os.Stat(pgbench); err != nil {
			return "", fmt.Errorf("pgbench not found on PATH nor in %s: install PostgreSQL's client programs", dir)
		}
	}
	for _, step := range []struct{ db, name, text string }{
		{"postgres", "create-db.sql", pgCreateDBScript},
		{pgScratchDB, "create-table.sql", pgCreateScript},
	} {
		if _, err := runPGBench(ctx, d, pgbench, step.db, step.name, step.text, "-t", "1", "-c", "1"); err != nil {
			return "", err
		}
	}
	return pgbench, nil
}

// runPGBench runs pgbench on the daemon's server against db with the script
// text (written to name in the state directory) and extra arguments.
func runPGBench(ctx context.Context, d *daemon, pgbench, db, name, text string, args ...string) ([]byte, error) {
	script := filepath.Join(d.Dir, name)
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		return nil, err
	}
	args = append([]string{"-n", "-f", script}, args...)
	args = append(args, "-h", d.pgSocket(), "-U", "rcq", db)
	cmd := exec.CommandContext(ctx, pgbench, args...)
	cmd.Env = append(cleanEnv(), "PGPASSWORD=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench %s: %w: %s", name, err, out)
	}
	return out, nil
}

// pgInsertRate measures single-row INSERT transactions per second on the
// daemon's private PostgreSQL with c clients (pgbench -c c -j min(c,2)).
func pgInsertRate(ctx context.Context, d *daemon, pgbench string, c, seconds int) (float64, error) {
	out, err := runPGBench(ctx, d, pgbench, pgScratchDB, "insert.sql", pgInsertScript,
		"-c", strconv.Itoa(c), "-j", strconv.Itoa(min(c, 2)), "-T", strconv.Itoa(seconds))
	if err != nil {
		return 0, err
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in its output: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// edgeRates returns the submit rate over the first k and the last k
// completions, given each completion's time from the start.
func edgeRates(done []time.Duration, k int) (first, last float64) {
	d := append([]time.Duration(nil), done...)
	slices.Sort(d)
	if k < 1 || 2*k > len(d) {
		return math.NaN(), math.NaN()
	}
	first = float64(k) / d[k-1].Seconds()
	last = float64(k) / (d[len(d)-1] - d[len(d)-1-k]).Seconds()
	return first, last
}

// peerVersusToken sends n submits over the Unix socket identified by the
// kernel's peer credentials (no token) and n with a bearer token, alternating
// one of each so that the machine's noise falls on both alike, and returns
// each kind's latencies.
func peerVersusToken(ctx context.Context, d *daemon, n int) (peer, token []time.Duration, err error) {
	pc, err := d.client(viaPeer)
	if err != nil {
		return nil, nil, err
	}
	tc, err := d.client(viaUnix)
	if err != nil {
		return nil, nil, err
	}
	spec := trivialJob(d.WorkDir)
	for range n {
		for _, k := range []struct {
			c   *client.Client
			lat *[]time.Duration
		}{{pc, &peer}, {tc, &token}} {
			t0 := time.Now()
			if _, err := k.c.Submit(ctx, spec, client.SubmitOptions{}); err != nil {
				return nil, nil, err
			}
			*k.lat = append(*k.lat, time.Since(t0))
		}
	}
	return peer, token, nil
}

// plainVersusKeyed sends n submits without an Idempotency-Key and n each
// with its own key, over the Unix socket with a token, alternating one of
// each, and returns each kind's latencies.
func plainVersusKeyed(ctx context.Context, d *daemon, n int) (plain, keyed []time.Duration, err error) {
	c, err := d.client(viaUnix)
	if err != nil {
		return nil, nil, err
	}
	spec := trivialJob(d.WorkDir)
	for i := range n {
		for _, k := range []struct {
			key string
			lat *[]time.Duration
		}{{"", &plain}, {"interleaved-" + strconv.Itoa(i), &keyed}} {
			t0 := time.Now()
			if _, err := c.Submit(ctx, spec, client.SubmitOptions{IdempotencyKey: k.key}); err != nil {
				return nil, nil, err
			}
			*k.lat = append(*k.lat, time.Since(t0))
		}
	}
	return plain, keyed, nil
}

// meRate sends n GET /api/auth/me from c clients over the Unix socket and
// returns requests per second.
func meRate(ctx context.Context, d *daemon, c, n int) (float64, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	t0 := time.Now()
	for range c {
		cl, err := d.client(viaUnix)
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if _, err := cl.Me(ctx); err != nil {
					var ce *client.ConnError
					if errors.As(err, &ce) {
						err = fmt.Errorf("GET /api/auth/me: %w: %v", err, ce.Err)
					}
					errs <- err
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(n) / el.Seconds(), ctx.Err()
}
