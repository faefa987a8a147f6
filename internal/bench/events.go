package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
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
	st, err := d.store(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var ms, logged []float64
	var seen int64 // the last event id read
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
		ms = append(ms, float64(exited.Sub(*j.CompletedAt))/float64(time.Millisecond))
		// When rcqd recorded the end (the transaction's time of its event):
		// the part of the delay before the event stream has anything to send.
		// (An rcqd before events has no such table: the row is left out,
		// so -bin may name older binaries for a before-and-after.)
		evs, err := st.EventsAfter(ctx, seen, 0, 0, 100000)
		if err == nil {
			found := false
			for _, ev := range evs {
				seen = ev.ID
				if !found && ev.JobID == rcq.JobID(id) && ev.CompletedAt != nil {
					logged = append(logged, float64(exited.Sub(ev.At))/float64(time.Millisecond))
					found = true
				}
			}
		}
	}
	p := params("jobs", n, "job", "true", "wait", "one after another")
	b.add(Result{11, "submit --wait end-to-exit", p, "p50 ms", median(ms), "", nil}.goal(false, 20),
		Result{11, "submit --wait end-to-exit", p, "p99 ms", percentile(ms, 99), "", nil},
		Result{11, "submit --wait end-to-exit", p, "max ms", maxOf(ms), "", nil})
	if len(logged) == n {
		b.add(Result{11, "submit --wait end-recorded-to-exit", p, "p50 ms", median(logged), "", nil},
			Result{11, "submit --wait end-recorded-to-exit", p, "p99 ms", percentile(logged, 99), "", nil})
	}
	return nil
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
	got := make(chan time.Time, 4*n)
	var opened, closed sync.WaitGroup
	var mu sync.Mutex
	var openErr error
	for range n {
		opened.Add(1)
		closed.Add(1)
		go func() {
			defer closed.Done()
			req, _ := http.NewRequestWithContext(sctx, "GET", "http://rcqd/api/events", nil)
			resp, err := hc.Do(req)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /api/events: %s", resp.Status)
			}
			if err != nil {
				mu.Lock()
				openErr = err
				mu.Unlock()
				opened.Done()
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			subscribed := false
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					if !subscribed {
						opened.Done()
					}
					return
				}
				switch {
				case !subscribed && l == ": subscribed\n":
					subscribed = true
					opened.Done()
				case l == "event: job\n":
					got <- time.Now()
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
	var ms []float64
	spec := trivialJob(d.WorkDir)
	for range rounds {
		t0 := time.Now()
		if _, err := c.Submit(ctx, spec, client.SubmitOptions{}); err != nil {
			return err
		}
		for range n {
			select {
			case at := <-got:
				ms = append(ms, float64(at.Sub(t0))/float64(time.Millisecond))
			case <-time.After(30 * time.Second):
				return fmt.Errorf("a job event did not reach every one of %d streams within 30 s", n)
			}
		}
	}
	cancel()
	closed.Wait()
	p := params("streams", n, "changes", rounds, "socket", "unix")
	b.add(Result{11, "event to 1,000 streams", p, "p50 ms", median(ms), "", nil},
		Result{11, "event to 1,000 streams", p, "p99 ms", percentile(ms, 99), "", nil}.goal(false, 100),
		Result{11, "event streams rcqd RSS growth", p, "MB", float64(after-before) / 1024, "", nil}.goal(false, 50))
	return nil
}
