package executor

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// BenchmarkLaunchTrue measures the launch path end to end: b.N jobs running
// `true` are handed to the executor at once; it launches each under its own
// supervisor and records each end in the (in-memory) store. Compare with
// BenchmarkRawSpawn. The supervisor's start-up dominates: measure the real
// binary with RCQ_BENCH_SUPERVISOR (rcqd, or a small CGO_ENABLED=0 binary
// whose main calls SuperviseMain), and a tmpfs run directory with
// RCQ_BENCH_RUNDIR=/dev/shm; TMPDIR decides where outputs and logs go.
func BenchmarkLaunchTrue(b *testing.B) {
	st, dir := newMemStore(), openDir(b)
	e := startExec(b, st, b.TempDir(), func(c *Config) {
		// RCQ_BENCH_SUPERVISOR=/path/to/rcqd measures with the real binary.
		if exe := os.Getenv("RCQ_BENCH_SUPERVISOR"); exe != "" {
			c.SupervisorCommand = []string{exe, "supervise"}
		}
		// RCQ_BENCH_NO_CGROUPS=1 measures without job cgroups (their cost).
		c.NoCgroups = os.Getenv("RCQ_BENCH_NO_CGROUPS") != ""
		// RCQ_BENCH_RUNDIR=/dev/shm puts the job directories on a tmpfs.
		if d := os.Getenv("RCQ_BENCH_RUNDIR"); d != "" {
			run, err := os.MkdirTemp(d, "rcq-bench")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(run) })
			c.RunDir = run
		}
	})
	self0, kids0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		j := &rcq.Job{ID: rcq.JobID(i + 1), Script: "#!/bin/sh\ntrue\n", WorkingDir: dir, UnixUser: testUser()}
		st.add(j)
	}
	e.Notify()
	for i := range b.N {
		id := rcq.JobID(i + 1)
		j := st.wait(b, id, 10*time.Minute)
		if j.State != rcq.JobCompleted {
			b.Fatalf("job %d: %s %s", id, j.State, j.Reason)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	// CPU per job: the executor's own, and its children's (supervisors and
	// the jobs they reaped).
	b.ReportMetric(float64((cpuTime(syscall.RUSAGE_SELF)-self0).Microseconds())/float64(b.N), "exec-cpu-us/job")
	b.ReportMetric(float64((cpuTime(syscall.RUSAGE_CHILDREN)-kids0).Microseconds())/float64(b.N), "child-cpu-us/job")
}

func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRawSpawn is the baseline: the machine's rate of running
// `/bin/sh -c true` with the same concurrency and no supervision at all.
func BenchmarkRawSpawn(b *testing.B) {
	par := 4 * runtime.GOMAXPROCS(0)
	ch := make(chan struct{}, b.N)
	for range b.N {
		ch <- struct{}{}
	}
	close(ch)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for range ch {
				if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}
