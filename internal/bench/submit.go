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

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
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
			for _, c := range sz.Clients {
				b.logf("scenario 1: %d submits over %s, %d clients", sz.Submits, transport, c)
				err := b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error {
					wait := func() {}
					if c == sz.Clients[len(sz.Clients)-1] {
						wait = b.profile(ctx, d, fmt.Sprintf("s1-submit-%s-%d", transport, c), 5)
					}
					c0 := d.cpu()
					lat, done, elapsed, err := submitMany(ctx, d, transport, c, sz.Submits)
					c1 := d.cpu()
					wait()
					if err != nil {
						return err
					}
					rate := float64(sz.Submits) / elapsed.Seconds()
					b.submit[fmt.Sprintf("%s/%d", transport, c)] = rate
					p := params("jobs", sz.Submits, "clients", c, "workers", "drained")
					name := "submit " + string(transport)
					b.add(Result{1, name, p, "jobs/s", rate, "", nil},
						Result{1, name, p, "p50 ms", median(ms(lat)), "", nil},
						Result{1, name, p, "p99 ms", percentile(ms(lat), 99), "", nil})
					if c == sz.Clients[len(sz.Clients)-1] {
						// Does a submit cost more as the queue grows?
						first, last := edgeRates(done, sz.Submits/10)
						b.add(Result{1, name, p, "jobs/s first 10%", first, "", nil},
							Result{1, name, p, "jobs/s last 10%", last, "", nil})
						b.add(cpuResults(1, name, p, c0, c1)...)
					}
					return nil
				})
				if err != nil {
					return err
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
		}
		if !s2 {
			return nil
		}
		for _, c := range sz.Clients {
			tps, tool, err := pgInsertRate(ctx, d, c, sz.PGSeconds, false)
			if err != nil {
				return err
			}
			b.pgTPS[c] = tps
			b.add(Result{2, "PostgreSQL insert", params("clients", c, "seconds", sz.PGSeconds, "tool", tool), "tx/s", tps, "", nil})
		}
		// The same with a NOTIFY in the transaction, as rcqd's submit does:
		// what the design's submit transaction can reach at best.
		for _, c := range sz.Clients {
			tps, tool, err := pgInsertRate(ctx, d, c, sz.PGSeconds, true)
			if err != nil {
				return err
			}
			b.pgNotifyTPS[c] = tps
			b.add(Result{2, "PostgreSQL insert+notify", params("clients", c, "seconds", sz.PGSeconds, "tool", tool), "tx/s", tps, "", nil})
		}
		if !s1 {
			return nil
		}
		for _, transport := range []string{"unix", "tcp"} {
			for _, c := range sz.Clients {
				r := Result{2, "submit/insert " + transport, params("clients", c), "ratio", b.submit[fmt.Sprintf("%s/%d", transport, c)] / b.pgTPS[c], "", nil}
				if c == 16 {
					r = r.goal(true, 0.5)
				}
				b.add(r)
			}
			c := sz.Clients[len(sz.Clients)-1]
			b.add(Result{2, "submit/insert+notify " + transport, params("clients", c), "ratio",
				b.submit[fmt.Sprintf("%s/%d", transport, c)] / b.pgNotifyTPS[c], "", nil})
		}
		return nil
	})
}

// submitMany sends n submits from c clients, each with its own connection,
// and returns each submit's latency and the total time.
func submitMany(ctx context.Context, d *daemon, t transport, c, n int) (lat, done []time.Duration, elapsed time.Duration, err error) {
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
				s := time.Now()
				if _, err := cl.Submit(ctx, spec, client.SubmitOptions{}); err != nil {
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

// pgInsertRate measures single-row INSERT transactions per second on the
// daemon's private PostgreSQL with c clients: pgbench with a custom script
// when installed, else a pgx loop.
func pgInsertRate(ctx context.Context, d *daemon, c, seconds int, withNotify bool) (float64, string, error) {
	conn, err := d.db(ctx)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_insert (
		id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
		script text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, "", err
	}
	const insert = `INSERT INTO bench_insert (script) VALUES ('#!/bin/sh\ntrue\n')`
	// rcqd's submit transaction also notifies (store.notify); PostgreSQL
	// serializes the commits of notifying transactions on one lock.
	const notify = `SELECT pg_notify('bench_events', '{"kind":"job_submitted"}')`
	text := insert + ";\n"
	if withNotify {
		text = "BEGIN;\n" + insert + ";\n" + notify + ";\nCOMMIT;\n"
	}
	if pgbench, err := exec.LookPath("pgbench"); err == nil {
		script := filepath.Join(d.Dir, "insert.sql")
		if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
			return 0, "", err
		}
		cmd := exec.CommandContext(ctx, pgbench, "-n", "-f", script, "-c", strconv.Itoa(c), "-j", strconv.Itoa(min(c, 2)),
			"-T", strconv.Itoa(seconds), "-h", filepath.Join(d.Dir, "pgdata-socket"), "-U", "rcq", "postgres")
		cmd.Env = append(cleanEnv(), "PGPASSWORD=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, "", fmt.Errorf("pgbench: %w: %s", err, out)
		}
		m := tpsRE.FindSubmatch(out)
		if m == nil {
			return 0, "", fmt.Errorf("pgbench: no tps in its output: %s", out)
		}
		tps, err := strconv.ParseFloat(string(m[1]), 64)
		return tps, "pgbench", err
	}
	// pgx loop: c connections, each inserting one row per transaction.
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	stop := time.Now().Add(time.Duration(seconds) * time.Second)
	conns := make([]interface{ Close(context.Context) error }, 0, c)
	t0 := time.Now()
	for range c {
		cn, err := d.db(ctx)
		if err != nil {
			return 0, "", err
		}
		conns = append(conns, cn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				var err error
				if withNotify {
					err = pgx.BeginFunc(ctx, cn, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, insert); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, notify)
						return err
					})
				} else {
					_, err = cn.Exec(ctx, insert)
				}
				if err != nil {
					errs <- err
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	for _, cn := range conns {
		_ = cn.Close(context.Background())
	}
	select {
	case err := <-errs:
		return 0, "", err
	default:
	}
	return float64(total.Load()) / el.Seconds(), "pgx loop", nil
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
