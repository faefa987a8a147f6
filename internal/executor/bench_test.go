package executor

import (
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// BenchmarkLaunchTrue measures the launch path end to end: b.N jobs running
// `true` are handed to the executor at once; it launches each under its own
// supervisor and records each end in the (in-memory) store.
func BenchmarkLaunchTrue(b *testing.B) {
	st, dir := newMemStore(), openDir(b)
	e := startExec(b, st, b.TempDir(), nil)
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
