package bench

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
)

// buildBinaries builds rcqd and rcq-login for the daemon tests.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	if _, err := exec.LookPath("initdb"); err != nil {
		if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
			t.Fatal("no PostgreSQL server binaries (pg_ctl): install them with scripts/ensure-postgres.sh (make test does)")
		}
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/", "./cmd/rcqd", "./cmd/rcq-login")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startSleeper starts a daemon and a job that sleeps, and waits until the
// job runs: rcqd, its PostgreSQL and a supervisor are then alive.
func startSleeper(t *testing.T, b *Bench) *daemon {
	t.Helper()
	ctx := context.Background()
	d, err := b.startDaemon(ctx, daemonOpts{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.client(viaUnix)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Submit(ctx, apitype.SubmitRequest{Script: "#!/bin/sh\nsleep 300\n", WorkingDir: d.WorkDir}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := c.Job(ctx, resp.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s after 30s", j.ID, j.Status)
		}
		time.Sleep(20 * time.Millisecond) // an external process: poll with a deadline
	}
	if len(pidsWith(d.Dir)) < 2 { // PostgreSQL and the supervisor at least
		t.Fatalf("expected PostgreSQL and a supervisor naming %s, found pids %v", d.Dir, pidsWith(d.Dir))
	}
	return d
}

func assertGone(t *testing.T, d *daemon, rcqdPID int) {
	t.Helper()
	if err := syscall.Kill(rcqdPID, 0); err == nil {
		t.Errorf("rcqd %d still alive", rcqdPID)
	}
	if pids := pidsWith(d.Dir); len(pids) > 0 {
		t.Errorf("processes still naming %s: %v", d.Dir, pids)
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s not removed: %v", d.Dir, err)
	}
}

// TestStopLeavesNothing: stopping a daemon ends rcqd, its PostgreSQL and
// the supervisor of a running job, and removes the state directory.
func TestStopLeavesNothing(t *testing.T) {
	b := &Bench{bin: buildBinaries(t), log: io.Discard}
	defer b.stopAll()
	d := startSleeper(t, b)
	pid := d.pid()
	b.stopAll()
	assertGone(t, d, pid)
}

// TestStopAfterCrash: when rcqd died without stopping its PostgreSQL (and
// its supervisors outlive it by design), stop still ends them.
func TestStopAfterCrash(t *testing.T) {
	b := &Bench{bin: buildBinaries(t), log: io.Discard}
	defer b.stopAll()
	d := startSleeper(t, b)
	pid := d.pid()
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	if _, err := os.Stat(filepath.Join(d.Dir, "pgdata", "postmaster.pid")); err != nil {
		t.Fatalf("PostgreSQL should outlive a killed rcqd: %v", err)
	}
	b.stopAll()
	assertGone(t, d, pid)
}
