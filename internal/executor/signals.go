package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// signalRetry is the first wait before trying again to deliver a signal to a
// job that is still starting; it doubles up to the tick.
const signalRetry = 20 * time.Millisecond

var (
	// errNotYet: the job has no process group to signal yet (its launch or
	// adoption is under way, or its supervisor has not started the script).
	errNotYet = errors.New("the job's processes have not started yet")
	// errGone: the job's processes ended, or its process group is no longer
	// the one its supervisor started.
	errGone = errors.New("the job's processes have ended")
)

// signalResult says what one delivery pass did, for tests.
type signalResult struct {
	Delivered, Deferred, Gone int
}

// deliverSignals sends the signals recorded in the store to the process
// groups of this executor's jobs. Each request is marked delivered in the
// store before it is sent, so none is sent twice; a request whose job has not
// started yet is left for a later pass (Deferred); one whose job's processes
// are gone is left too, and drops out of the store's list when the job's end
// is recorded. It never waits for a job: kill(2) does not block.
func (e *Executor) deliverSignals(ctx context.Context) signalResult {
	var r signalResult
	reqs, err := e.store.PendingSignals(ctx, e.cfg.Node, e.cfg.Holder)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("read signals to deliver", "err", err)
		}
		r.Deferred++ // try again soon
		return r
	}
	for _, req := range reqs {
		sig, ok := rcq.SignalNumber(req.Signal)
		if !ok {
			continue // the store's CHECK allows only ParseSignal's names
		}
		pgid, err := e.jobGroup(req.JobID)
		switch {
		case errors.Is(err, errNotYet):
			r.Deferred++
			continue
		case err != nil:
			e.jobLog(req.JobID, "signal %s not sent: %v", req.Signal, err)
			r.Gone++
			continue
		}
		marked, err := e.store.SignalDelivered(ctx, req.ID)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("record a signal delivered; will retry", "job_id", req.JobID, "err", err)
			}
			r.Deferred++
			continue
		}
		if !marked {
			continue
		}
		if err := unix.Kill(-pgid, sig); err != nil {
			e.jobLog(req.JobID, "signal %s to process group %d: %v", req.Signal, pgid, err)
			r.Gone++
			continue
		}
		e.jobLog(req.JobID, "signal %s sent to process group %d", req.Signal, pgid)
		r.Delivered++
	}
	return r
}

// jobGroup returns the process group of a job this executor supervises,
// checked to be still the one its supervisor started: the group leader's
// start time is the one the supervisor recorded, it leads that group, and it
// is the supervisor's child. A group id is a pid, which the kernel reuses
// once the process is gone; as root, kill(-pgid) would reach whatever
// process group took that number. The leader cannot be replaced while the
// check runs: until its supervisor reaps it, even a dead leader keeps its pid.
func (e *Executor) jobGroup(id rcq.JobID) (int, error) {
	e.mu.Lock()
	tr := e.jobs[id]
	var dir string
	var sup int
	var live bool
	if tr != nil {
		dir, sup, live = tr.dir, tr.pid, tr.pidfd != nil && tr.outcome == nil
	}
	e.mu.Unlock()
	switch {
	case tr == nil || sup == 0:
		return 0, errNotYet // not taken yet, or being launched or adopted
	case !live:
		return 0, errGone // its supervisor has exited
	}
	pgid, start, err := readPid(filepath.Join(dir, jobPidFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, errNotYet // the supervisor is starting the script
	}
	if err != nil {
		return 0, err
	}
	ppid, pgrp, now, err := procStat(pgid)
	if err != nil || now != start || pgrp != pgid || ppid != sup {
		return 0, fmt.Errorf("%w: process group %d is not the one supervisor %d started", errGone, pgid, sup)
	}
	return pgid, nil
}

// procStat returns a process's parent, process group and start time in
// clock ticks since boot (fields 4, 5 and 22 of /proc/<pid>/stat).
func procStat(pid int) (ppid, pgrp int, start uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return ppid, pgrp, start, nil
}
