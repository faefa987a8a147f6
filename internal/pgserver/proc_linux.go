package pgserver

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysProcAttr starts a child in its own session, as cred when not nil. With stopWithParent the
// kernel sends the child SIGINT (a fast shutdown for postgres) when the thread that started it
// dies; the caller keeps that thread alive for as long as the child runs.
func sysProcAttr(cred *syscall.Credential, stopWithParent bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if stopWithParent {
		a.Pdeathsig = syscall.SIGINT
	}
	return a
}

// processGone reports whether pid no longer runs: no such process, or a zombie waiting to be
// reaped.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so look after the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z' || stat[i+2] == 'X'
	}
	return false
}

// isPostmasterOf reports whether pid is a running postgres whose working directory is dataDir
// (the postmaster changes into its data directory). When /proc does not say (no permission),
// a live postgres process is taken to be it.
func isPostmasterOf(pid int, dataDir string) bool {
	if processGone(pid) {
		return false
	}
	proc := "/proc/" + strconv.Itoa(pid)
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	switch string(bytes.TrimSpace(comm)) {
	case "postgres", "postmaster":
	default:
		return false
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return true
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	return cwd == want
}

// dataDirUsers returns the live processes whose working directory is dataDir: the postmaster
// and backends of a server on it (all of them change into the data directory).
func dataDirUsers(dataDir string) []int {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == want && !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
