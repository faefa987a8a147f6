//go:build unix && !linux

package pgserver

import (
	"errors"
	"syscall"
)

// sysProcAttr starts a child in its own session, as cred when not nil. stopWithParent needs
// Linux's parent-death signal and is ignored here.
func sysProcAttr(cred *syscall.Credential, stopWithParent bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Credential: cred}
}

// processGone reports whether pid no longer runs.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// isPostmasterOf reports whether pid may be the postmaster of dataDir: without /proc, any live
// process is taken to be it, and the socket check in Start decides.
func isPostmasterOf(pid int, dataDir string) bool {
	return !processGone(pid)
}

// dataDirUsers would list the processes working in dataDir; without /proc it finds none.
func dataDirUsers(dataDir string) []int { return nil }
