package thin

import "syscall"

// unixSocket opens a stream socket that is closed on exec in the same call.
func unixSocket() (int, error) {
	return syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}
