package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/dbtest"
)

// TestArrayEndToEnd: a real rcqd runs an array of ten elements, two at a
// time: every element runs as its own job with its own SLURM_ARRAY_TASK_ID
// and writes its own rcq-<array>_<index>.out.
func TestArrayEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	d := startDaemon(t, t.TempDir(), "RCQ_DATABASE_URL="+dbtest.URL(t))
	d.ready()
	work, err := os.MkdirTemp("", "rcq-array-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	c, token := d.login()
	if os.Geteuid() == 0 {
		if code := d.api("PATCH", "/api/admin/users/1", token, map[string]any{"unix_user": "nobody"}, nil); code != http.StatusOK {
			t.Fatalf("map admin to nobody: %d", code)
		}
	}
	sub, err := c.Submit(context.Background(), apitype.SubmitRequest{WorkingDir: work, Array: "0-9%2",
		Script: "#!/bin/sh\necho \"task=$SLURM_ARRAY_TASK_ID array=$SLURM_ARRAY_JOB_ID job=$SLURM_JOB_ID count=$RCQ_ARRAY_TASK_COUNT\"\n"},
		client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ArrayTaskCount != 10 {
		t.Fatalf("submit: %+v", sub)
	}
	a := sub.JobID
	var list apitype.JobList
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) { // external processes: no event to wait on
		if code := d.api("GET", fmt.Sprintf("/api/jobs?ids=%d&limit=100", a), token, nil, &list); code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		done := len(list.Jobs) == 10
		for _, j := range list.Jobs {
			done = done && j.CompletedAt != nil
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the array did not finish in 2 minutes: %+v", list.Jobs)
		}
	}
	seen := map[int]bool{}
	for _, j := range list.Jobs {
		if j.Status != "completed" || j.ArrayJobID == nil || *j.ArrayJobID != a || j.ArrayTaskID == nil {
			t.Errorf("element %s: %s %+v", j.SlurmID(), j.Status, j)
			continue
		}
		task := *j.ArrayTaskID
		seen[task] = true
		out, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("rcq-%d_%d.out", a, task)))
		if err != nil {
			t.Errorf("element %d: %v", task, err)
			continue
		}
		if want := fmt.Sprintf("task=%d array=%d job=%d count=10", task, a, j.ID); strings.TrimSpace(string(out)) != want {
			t.Errorf("element %d wrote %q, want %q", task, out, want)
		}
		if j.OutputPath != filepath.Join(work, fmt.Sprintf("rcq-%d_%d.out", a, task)) {
			t.Errorf("element %d: output shown as %q", task, j.OutputPath)
		}
	}
	if len(seen) != 10 {
		t.Errorf("elements that ran: %v, want 0-9", seen)
	}
	d.stop()
}

// BenchmarkArrayRun measures issue 11's array goals on a real rcqd with a
// 64-core worker: the submit call of an array of `true` (ARRAY_N elements,
// default 10,000), and the elements run per second from that submit to the
// moment the queue has none of them left (an upper bound on the last end).
//
//	go test -run '^$' -bench ArrayRun -benchtime 1x ./internal/daemon
func BenchmarkArrayRun(b *testing.B) {
	n := 10_000
	if v := os.Getenv("ARRAY_N"); v != "" {
		fmt.Sscan(v, &n)
	}
	d := startDaemon(b, b.TempDir(), "RCQ_DATABASE_URL="+dbtest.URL(b),
		"RCQ_NODE_CPU_CORES=64", "RCQ_NODE_MEMORY_GB=64", "RCQ_SCHEDULER_MAX_CONCURRENT_JOBS=64", "RCQ_LOG_LEVEL=warn")
	d.ready()
	work, err := os.MkdirTemp("", "rcq-array-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o777); err != nil {
		b.Fatal(err)
	}
	c, _ := d.login()
	ctx := context.Background()
	// A warm-up submit, so the measured one does not pay for the first
	// connection and statements.
	warm, err := c.Submit(ctx, apitype.SubmitRequest{WorkingDir: work, Array: "1", Script: "#!/bin/sh\ntrue\n", Output: "/dev/null"}, client.SubmitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitJob(b, c, warm.JobID)
	t0 := time.Now()
	plain, err := c.Submit(ctx, apitype.SubmitRequest{WorkingDir: work, Script: "#!/bin/sh\ntrue\n", Output: "/dev/null"}, client.SubmitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("a plain job's submit for comparison: %v", time.Since(t0))
	waitJob(b, c, plain.JobID)
	idle := rssKB(b, d.cmd.Process.Pid)
	for range b.N {
		peak := make(chan int64)
		stopSampling := make(chan struct{})
		go func() { // rcqd's resident memory while the array runs
			var top int64
			for {
				select {
				case <-stopSampling:
					peak <- top
					return
				case <-time.After(20 * time.Millisecond):
				}
				top = max(top, rssKB(b, d.cmd.Process.Pid))
			}
		}()
		t0 := time.Now()
		sub, err := c.Submit(ctx, apitype.SubmitRequest{WorkingDir: work, Array: fmt.Sprintf("1-%d", n),
			Script: "#!/bin/sh\ntrue\n", Output: "/dev/null"}, client.SubmitOptions{})
		submit := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		for ; ; time.Sleep(100 * time.Millisecond) { // external processes: no event to wait on
			q, err := c.Queue(ctx, "")
			if err != nil {
				b.Fatal(err)
			}
			left := 0
			for _, j := range q.Jobs {
				if j.ArrayJobID != nil && *j.ArrayJobID == sub.JobID {
					left++
				}
			}
			if left == 0 {
				break
			}
		}
		run := time.Since(t0)
		close(stopSampling)
		above := float64(<-peak-idle) / 1024
		b.ReportMetric(above, "rss-MB-above-idle")
		b.ReportMetric(float64(submit.Microseconds())/1000, "submit-ms")
		b.ReportMetric(float64(n)/run.Seconds(), "elements/s")
		b.Logf("array of %d: submit %v, all ended %v after it (%.0f elements/s); rcqd RSS peak %.1f MB above idle", n, submit, run, float64(n)/run.Seconds(), above)
	}
	d.stop()
}

// rssKB is a process's resident set size (VmRSS), in KiB.
func rssKB(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Error(err)
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}
