package srun

import "syscall"

// taskAttr puts a task in its own process group (signals reach all of it)
// and kills it if srun dies.
func taskAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
