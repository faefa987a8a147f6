//go:build !linux

package srun

import "syscall"

// taskAttr puts a task in its own process group. srun runs inside rcq jobs,
// which run on Linux only; elsewhere it builds (the rcq umbrella for
// darwin) and refuses outside a job.
func taskAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
