package executor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// gatedSupervisor runs the real supervisor, but for a job whose hold file
// <gates>/hold-<id> exists it waits until the file is removed: the job stays
// "launched, script not started yet" for as long as the test wants.
func gatedSupervisor(t *testing.T, gates string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"/bin/sh", "-c", `while [ -e "$0/hold-$(basename "$2")" ]; do sleep 0.01; done; exec "$1" supervise "$2"`, gates, exe}
}

// Signals are delivered from the store by the executor's own loop: a job that
// ignores them takes them without holding anything up, a job still starting
// gets its signal once it runs (it is not dropped after a wait, as when the
// event listener delivered signals), and others are served meanwhile.
func TestSignalsDeliveredFromTheStore(t *testing.T) {
	t.Parallel()
	st, dir, gates := newMemStore(), openDir(t), t.TempDir()
	e := startExec(t, st, t.TempDir(), func(c *Config) { c.SupervisorCommand = gatedSupervisor(t, gates) })

	st.add(newJob(21, dir, "#!/bin/bash\ntrap '' USR1\necho ready > ign.ready\nwhile [ ! -e ign.stop ]; do sleep 0.05; done\necho survived\n"))
	catcher := "#!/bin/bash\ntrap 'echo got-usr1; exit 0' USR1\necho ready > %s\nwhile :; do sleep 0.05; done\n"
	st.add(newJob(22, dir, fmt.Sprintf(catcher, "c.ready")))
	hold := filepath.Join(gates, "hold-23")
	if err := os.WriteFile(hold, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st.add(newJob(23, dir, fmt.Sprintf(catcher, "g.ready")))
	e.Notify()
	waitFile(t, filepath.Join(dir, "ign.ready"), 30*time.Second)
	waitFile(t, filepath.Join(dir, "c.ready"), 30*time.Second)

	var ignored []*memSignal
	for range 5 {
		ignored = append(ignored, st.signal(21, "USR1"))
	}
	gated := st.signal(23, "USR1")
	st.signal(22, "USR1")
	e.NotifySignals()

	if j := st.wait(t, 22, 30*time.Second); j.State != rcq.JobCompleted {
		t.Fatalf("job 22 after USR1: %s, want completed by its trap", j.State)
	}
	if out := readFile(t, filepath.Join(dir, "rcq-22.out")); !strings.Contains(out, "got-usr1") {
		t.Errorf("job 22's output %q lacks its trap's line", out)
	}
	// Delivered in request order, in the same pass as job 22's.
	for _, sg := range ignored {
		if !st.delivered(sg) {
			t.Errorf("signal %d to job 21 (ignoring USR1) not delivered", sg.ID)
		}
	}
	if st.delivered(gated) {
		t.Fatal("a signal was marked delivered to job 23, whose script has not started")
	}

	os.Remove(hold)
	j := st.wait(t, 23, 30*time.Second)
	out := readFile(t, filepath.Join(dir, "rcq-23.out"))
	// Before its trap is set the signal kills it; after, the trap ends it.
	if !(j.State == rcq.JobCompleted && strings.Contains(out, "got-usr1")) && j.Signal != "USR1" {
		t.Errorf("job 23 after it started: state %s signal %q output %q; want its USR1", j.State, j.Signal, out)
	}
	if !st.delivered(gated) {
		t.Error("job 23's signal not marked delivered")
	}

	os.WriteFile(filepath.Join(dir, "ign.stop"), nil, 0o644)
	if j := st.wait(t, 21, 30*time.Second); j.State != rcq.JobCompleted {
		t.Errorf("job 21, which ignores USR1: %s, want completed", j.State)
	}
	if out := readFile(t, filepath.Join(dir, "rcq-21.out")); !strings.Contains(out, "survived") {
		t.Errorf("job 21's output %q", out)
	}
}

// A job's recorded process group is signalled only while it is still the one
// its supervisor started: a group whose leader has another parent (the pid
// was reused by an unrelated process, even one started at the recorded tick)
// or another start time (reused by a later child) is left alone. The control
// case shows the same process is signalled when it passes the check.
func TestSignalNeverReachesAReusedProcessGroup(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), t.TempDir()
	e, err := New(Config{Node: "n1", Holder: "n1:test", StateDir: t.TempDir(), SupervisorCommand: []string{"/bin/false"}, NoCgroups: true}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The victim: another process group that a stale job.pid could name. It
	// logs every USR1 and USR2 it gets; USR2 also ends it.
	log, ready := filepath.Join(dir, "log"), filepath.Join(dir, "ready")
	victim := exec.Command("/bin/bash", "-c", `trap 'echo USR1 >> "$0"' USR1; trap 'echo USR2 >> "$0"; exit 0' USR2; echo ready > "$1"; while :; do sleep 0.05; done`, log, ready)
	victim.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		victim.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		victim.Process.Kill()
		<-exited
	})
	waitFile(t, ready, 30*time.Second)
	pgid := victim.Process.Pid
	start, err := procStartTime(pgid)
	if err != nil {
		t.Fatal(err)
	}
	decoy := exec.Command("sleep", "600") // a supervisor that is not the victim's parent
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		decoy.Process.Kill()
		decoy.Wait()
	})

	const id = rcq.JobID(5)
	st.add(newJob(id, dir, "#!/bin/sh\n"))
	jobDir := filepath.Join(e.jobsDir, "5")
	if err := os.Mkdir(jobDir, 0o700); err != nil {
		t.Fatal(err)
	}
	supervise := func(sup int, recordedStart uint64) {
		t.Helper()
		fd, err := unix.PidfdOpen(sup, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(jobDir, jobPidFile))
		if err := os.WriteFile(filepath.Join(jobDir, jobPidFile), fmt.Appendf(nil, "%d %d\n", pgid, recordedStart), 0o600); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		if old := e.jobs[id]; old != nil {
			old.pidfd.Close()
		}
		e.jobs[id] = &tracked{job: rcq.Job{ID: id}, dir: jobDir, pid: sup, pidfd: os.NewFile(uintptr(fd), "pidfd")}
		e.mu.Unlock()
	}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		sup   int
		start uint64
	}{
		{"leader with another parent", decoy.Process.Pid, start},
		{"leader started at another time", os.Getpid(), start + 1},
	} {
		supervise(c.sup, c.start)
		sg := st.signal(id, "USR1")
		if r := e.deliverSignals(ctx); r.Delivered != 0 || r.Gone != 1 {
			t.Errorf("%s: delivery %+v, want refused as gone", c.name, r)
		}
		if st.delivered(sg) {
			t.Errorf("%s: signal marked delivered", c.name)
		}
		st.SignalDelivered(ctx, sg.ID) // out of the way of the control case
	}

	// Control: the victim's real parent and start time pass the check.
	supervise(os.Getpid(), start)
	st.signal(id, "USR2")
	if r := e.deliverSignals(ctx); r.Delivered != 1 {
		t.Fatalf("control case: delivery %+v, want the signal sent", r)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the victim did not get USR2 in the control case")
	}
	// Signals are handled in number order (USR1 < USR2): a USR1 sent by a
	// refused case would show before USR2.
	if got := readFile(t, log); got != "USR2\n" {
		t.Errorf("the victim's log %q, want only the control case's USR2", got)
	}
	e.mu.Lock()
	e.jobs[id].pidfd.Close()
	e.mu.Unlock()
}
