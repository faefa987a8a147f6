package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// eventStreams is scenario 11 (issue 13's event goals):
//
//   - rcq-submit --wait on a trivial job, run one after another: the delay
//     from the job's end as rcqd records it (completed_at) to the command's
//     exit (goal: p50 <= 20 ms);
//   - 1,000 GET /api/events streams open on one rcqd over its socket: the
//     delay from a submit to each stream holding the job's event (goal: p99
//     <= 100 ms), and rcqd's RSS growth for the streams (goal: <= 50 MB).
func (b *Bench) eventStreams(ctx context.Context) error {
	waits, streams, rounds := 30, 1000, 20
	if b.sizes.LatencyJobs < 100 { // -quick
		waits, rounds = 10, 5
	}
	b.logf("scenario 11: rcq-submit --wait x %d, then %d event streams x %d changes", waits, streams, rounds)
	if err := b.with(ctx, daemonOpts{}, func(d *daemon) error { return b.waitLatency(ctx, d, waits) }); err != nil {
		return err
	}
	return b.with(ctx, daemonOpts{drain: true}, func(d *daemon) error { return b.manyStreams(ctx, d, streams, rounds) })
}

func (b *Bench) waitLatency(ctx context.Context, d *daemon, n int) error {
	c, err := d.client(viaUnix)
	if err != nil {
		return err
	}
	// An observer stream (the admin's, every job) times the hops: when
	// rcqd recorded each end (the event's at: its transaction's start) and
	// when the event reached a subscriber beside rcq-submit's own.
	es, err := c.Events(ctx)
	if err != nil {
		return err
	}
	defer es.Close()
	type seen struct{ at, got time.Time }
	var mu sync.Mutex
	ends := map[int64]seen{}
	arrived := make(chan struct{}, 1)
	go func() {
		for ev := range es.C {
			got := time.Now()
			if ev.Job == nil || !rcq.JobState(ev.Job.State).Terminal() || ev.Job.CompletedAt == nil {
				continue
			}
			mu.Lock()
			ends[ev.Job.ID] = seen{ev.Job.At, got}
			mu.Unlock()
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}()
	wait := b.profile(ctx, d, "s11-wait", 5)
	defer wait()
	var total, hopEnd, hopDeliver, hopExit, hopStatus []float64
	for range n {
		cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "rcq-submit"), "--wait", "--parsable", "--wrap", "true")
		cmd.Env = d.CLIEnv
		cmd.Dir = d.WorkDir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		exited := time.Now()
		if err != nil {
			return fmt.Errorf("rcq-submit --wait: %w: %s", err, stderr.String())
		}
		id, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), 10, 64)
		if err != nil {
			return fmt.Errorf("rcq-submit --parsable printed %q", out)
		}
		j, err := c.Job(ctx, id)
		if err != nil {
			return err
		}
		if j.CompletedAt == nil {
			return fmt.Errorf("job %d has no completed_at after rcq-submit --wait (status %s)", id, j.Status)
		}
		total = append(total, msBetween(*j.CompletedAt, exited))
		deadline := time.After(10 * time.Second)
		for {
			mu.Lock()
			e, ok := ends[id]
			mu.Unlock()
			if ok {
				hopEnd = append(hopEnd, msBetween(*j.CompletedAt, e.at))
				if st, ok := statusWritten(d, id); ok {
					hopStatus = append(hopStatus, msBetween(*j.CompletedAt, st))
				}
				hopDeliver = append(hopDeliver, msBetween(e.at, e.got))
				hopExit = append(hopExit, msBetween(e.got, exited))
				break
			}
			select {
			case <-arrived:
				continue
			case <-deadline:
				return fmt.Errorf("job %d's end did not reach the observer stream within 10 s of rcq-submit's exit", id)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	p := params("jobs", n, "job", "true", "wait", "one after another")
	b.add(Result{11, "submit --wait end-to-exit", p, "p50 ms", median(total), "", nil}.goal(false, 20),
		Result{11, "submit --wait end-to-exit", p, "p99 ms", percentile(total, 99), "", nil},
		Result{11, "submit --wait end-to-exit", p, "max ms", maxOf(total), "", nil},
		// The hops, each p50 (they need not add up to the total's p50):
		// the job's end to rcqd's transaction recording it (supervisor
		// cleanup and exit, pidfd wake-up, status file, BEGIN); that
		// transaction to an event subscriber holding the event (commit,
		// the hub's read of the log, fan-out, write, parse); and that to
		// rcq-submit's exit (its own copy of the event, GET of the job,
		// output, exit).
		Result{11, "submit --wait hop end-to-recorded", p, "p50 ms", median(hopEnd), "", nil},
		Result{11, "submit --wait hop end-to-status-written", p, "p50 ms", median(hopStatus), "", nil},
		Result{11, "submit --wait hop recorded-to-delivered", p, "p50 ms", median(hopDeliver), "", nil},
		Result{11, "submit --wait hop delivered-to-exit", p, "p50 ms", median(hopExit), "", nil})
	return nil
}

// statusWritten is when job id's supervisor wrote its exit status (the
// line its log has for it, written just before): the part of the first hop
// the supervisor spends after the job's end (reaping leftovers, cgroups).
func statusWritten(d *daemon, id int64) (time.Time, bool) {
	b, err := os.ReadFile(filepath.Join(d.Dir, "logs", fmt.Sprintf("job-%d.log", id)))
	if err != nil {
		return time.Time{}, false
	}
	marker := fmt.Sprintf(" job supervisor: job %d ended:", id)
	for l := range strings.SplitSeq(string(b), "\n") {
		if ts, _, ok := strings.Cut(l, marker); ok {
			t, err := time.Parse(time.RFC3339Nano, ts)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

func msBetween(from, to time.Time) float64 { return float64(to.Sub(from)) / float64(time.Millisecond) }

// streamGot is one stream's receipt of one job event.
type streamGot struct {
	job     int64
	at, got time.Time
}

func (b *Bench) manyStreams(ctx context.Context, d *daemon, n, rounds int) error {
	c, err := d.client(viaUnix)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Sock)
		},
		MaxIdleConnsPerHost: -1,
	}}
	d.quiesce(ctx, 30*time.Second)
	before, err := procStatus(d.pid(), "VmRSS")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan streamGot, 4*n)
	var opened, closed sync.WaitGroup
	var mu sync.Mutex
	var openErr error
	for range n {
		opened.Add(1)
		closed.Add(1)
		go func() {
			defer closed.Done()
			req, _ := http.NewRequestWithContext(sctx, "GET", "http://rcqd/api/events", nil)
			req.Header.Set("Authorization", "Bearer "+d.Token)
			resp, err := hc.Do(req)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /api/events: %s", resp.Status)
			}
			// The answer's head comes once rcqd has registered the stream.
			opened.Done()
			if err != nil {
				mu.Lock()
				openErr = err
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			er := client.NewEventReader(resp.Body)
			for {
				ev, err := er.Next()
				if err != nil {
					return
				}
				if ev.Job != nil {
					got <- streamGot{ev.Job.ID, ev.Job.At, time.Now()}
				}
			}
		}()
	}
	opened.Wait()
	if openErr != nil {
		cancel()
		closed.Wait()
		return openErr
	}
	d.quiesce(ctx, 30*time.Second)
	after, err := procStatus(d.pid(), "VmRSS")
	if err != nil {
		return err
	}
	var fromSubmit, fromRecorded, spread []float64
	spec := trivialJob(d.WorkDir)
	wait := b.profile(ctx, d, "s11-streams", 5)
	defer wait()
	for range rounds {
		t0 := time.Now()
		resp, err := c.Submit(ctx, spec, client.SubmitOptions{})
		if err != nil {
			return err
		}
		var first, last time.Time
		for i := 0; i < n; {
			select {
			case g := <-got:
				if g.job != resp.JobID {
					continue // a later change of an earlier job (none while drained)
				}
				i++
				fromSubmit = append(fromSubmit, msBetween(t0, g.got))
				fromRecorded = append(fromRecorded, msBetween(g.at, g.got))
				if first.IsZero() || g.got.Before(first) {
					first = g.got
				}
				if g.got.After(last) {
					last = g.got
				}
			case <-time.After(30 * time.Second):
				return fmt.Errorf("a job event did not reach every one of %d streams within 30 s", n)
			}
		}
		spread = append(spread, msBetween(first, last))
	}
	cancel()
	closed.Wait()
	p := params("streams", n, "changes", rounds, "socket", "unix")
	b.add(Result{11, "event to 1,000 streams", p, "p50 ms", median(fromSubmit), "", nil},
		Result{11, "event to 1,000 streams", p, "p99 ms", percentile(fromSubmit, 99), "", nil}.goal(false, 100),
		// From the submit's transaction (the event's at) rather than from
		// before the request, and the time from the first stream holding
		// an event to the last (the fan-out and the 1,000 readers).
		Result{11, "event to 1,000 streams from recorded", p, "p99 ms", percentile(fromRecorded, 99), "", nil},
		Result{11, "event to 1,000 streams first-to-last", p, "p50 ms", median(spread), "", nil},
		Result{11, "event streams rcqd RSS growth", p, "MB", float64(after-before) / 1024, "", nil}.goal(false, 50))
	return nil
}
