//go:build !linux

package thin

import "syscall"

// unixSocket opens a stream socket closed on exec. Without SOCK_CLOEXEC
// (darwin) the flag is set right after: the commands start no process
// between the two.
func unixSocket() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	return fd, err
}
