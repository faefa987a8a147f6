package executor

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// outputFlags open a job's output file: created or truncated like sbatch's
// default, never through a symlink as the last component.
const outputFlags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openOutput opens a job's output file. With asUser it is opened with the
// job user's file-system identity, so a job can never make root create,
// truncate or write a file that its user could not.
//
// How: on one locked OS thread the supervisor switches its fsuid, fsgid and
// supplementary groups to the user's (setfsuid/setfsgid/setgroups act on the
// calling thread only when made as raw system calls, and a non-zero fsuid
// drops CAP_DAC_OVERRIDE and friends from the effective set), opens the file,
// and switches back. The kernel does every permission check (directories on
// the way, the file, sticky /tmp, protected symlinks) as the user, and a file
// it creates belongs to the user. The thread runs in its own goroutine: if
// switching back failed, the goroutine ends with the thread still locked and
// the Go runtime destroys that thread instead of reusing it.
func openOutput(path string, asUser bool, uid, gid uint32, groups []uint32) (*os.File, error) {
	if !asUser {
		return os.OpenFile(path, outputFlags, 0o644)
	}
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err, restored := openAsUserLocked(path, uid, gid, groups)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

func openAsUserLocked(path string, uid, gid uint32, groups []uint32) (f *os.File, err error, restored bool) {
	saved, err := unix.Getgroups()
	if err != nil {
		return nil, err, true
	}
	gs := make([]int, len(groups))
	for i, g := range groups {
		gs[i] = int(g)
	}
	restore := func() bool {
		if prev, _ := unix.SetfsuidRetUid(0); prev != int(uid) && prev != 0 {
			return false
		}
		if prev, _ := unix.SetfsuidRetUid(0); prev != 0 {
			return false
		}
		unix.Setfsgid(0)
		if prev, _ := unix.SetfsgidRetGid(0); prev != 0 {
			return false
		}
		return unix.Setgroups(saved) == nil
	}
	if err := unix.Setgroups(gs); err != nil {
		return nil, fmt.Errorf("setgroups: %w", err), restore()
	}
	unix.Setfsgid(int(gid))
	if prev, _ := unix.SetfsgidRetGid(int(gid)); prev != int(gid) {
		return nil, fmt.Errorf("setfsgid %d failed", gid), restore()
	}
	unix.Setfsuid(int(uid))
	if prev, _ := unix.SetfsuidRetUid(int(uid)); prev != int(uid) {
		return nil, fmt.Errorf("setfsuid %d failed", uid), restore()
	}
	f, err = os.OpenFile(path, outputFlags, 0o644)
	return f, err, restore()
}
