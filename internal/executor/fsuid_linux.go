package executor

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// cred is a job user's file-system identity; nil means this process's own
// (rcqd not root: every job runs as rcqd's user).
type cred struct {
	uid, gid uint32
	groups   []uint32
}

// specCred is the identity a supervisor acts as for its job's paths.
func specCred(sp *jobSpec) *cred {
	if !sp.SetUser {
		return nil
	}
	return &cred{uid: sp.UID, gid: sp.GID, groups: sp.Groups}
}

// asUser runs fn with c's file-system identity, so that the kernel does
// every permission check of fn's path operations (directories on the way,
// the file, sticky /tmp, protected symlinks) as the job's user, and a file fn
// creates belongs to the user. rcqd and its supervisors never look at a
// user-chosen path as root: root would see through the user's permissions
// and could tell the user what exists inside another user's 0700 directory.
//
// How: on one locked OS thread it switches fsuid, fsgid and supplementary
// groups to the user's (setfsuid/setfsgid/setgroups act on the calling
// thread only when made as raw system calls, and a non-zero fsuid drops
// CAP_DAC_OVERRIDE and friends from the effective set), runs fn, and switches
// back. The thread runs in its own goroutine: if switching back failed, the
// goroutine ends with the thread still locked and the Go runtime destroys
// that thread instead of reusing it. fn must not start goroutines that touch
// the file system on its behalf: they would run on other threads, as root.
func asUser(c *cred, fn func() error) error {
	if c == nil {
		return fn()
	}
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, restored := asUserLocked(c, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

func asUserLocked(c *cred, fn func() error) (err error, restored bool) {
	saved, err := unix.Getgroups()
	if err != nil {
		return err, true
	}
	gs := make([]int, len(c.groups))
	for i, g := range c.groups {
		gs[i] = int(g)
	}
	restore := func() bool {
		if prev, _ := unix.SetfsuidRetUid(0); prev != int(c.uid) && prev != 0 {
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
		return fmt.Errorf("setgroups: %w", err), restore()
	}
	unix.Setfsgid(int(c.gid))
	if prev, _ := unix.SetfsgidRetGid(int(c.gid)); prev != int(c.gid) {
		return fmt.Errorf("setfsgid %d failed", c.gid), restore()
	}
	unix.Setfsuid(int(c.uid))
	if prev, _ := unix.SetfsuidRetUid(int(c.uid)); prev != int(c.uid) {
		return fmt.Errorf("setfsuid %d failed", c.uid), restore()
	}
	err = fn()
	return err, restore()
}

// errNotRegular refuses an output path that is not a regular file: a FIFO
// would block the job's start (and a reader could stall it at will), a device
// has effects of its own (/dev/kmsg writes to the kernel log), a socket is
// not a file.
var errNotRegular = errors.New("not a regular file")

// outputOK reports whether a job may write to (or rcqd may stream) the file
// st describes: a regular file, or, for writing, the null device.
func outputOK(st *unix.Stat_t, write bool) bool {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return true
	case unix.S_IFCHR:
		return write && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3 // /dev/null
	}
	return false
}

// openChecked opens path as c without following a symbolic link and without
// blocking (a FIFO without a peer, a device), and returns it only if it is a
// file outputOK accepts, in blocking mode again. A path that exists and is
// not acceptable is refused before it is opened, so no device sees an open;
// the check after the open closes the race with a swap in between.
func openChecked(c *cred, path string, flags int, perm uint32) (*os.File, error) {
	write := flags&(unix.O_WRONLY|unix.O_RDWR) != 0
	var f *os.File
	err := asUser(c, func() error {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK && !outputOK(&st, write) {
			return errNotRegular
		}
		fd, err := unix.Open(path, flags|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err != nil {
			return &os.PathError{Op: "open", Path: path, Err: err}
		}
		if err := unix.Fstat(fd, &st); err != nil || !outputOK(&st, write) {
			unix.Close(fd)
			if err != nil {
				return &os.PathError{Op: "stat", Path: path, Err: err}
			}
			return errNotRegular
		}
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return &os.PathError{Op: "fcntl", Path: path, Err: err}
		}
		f = os.NewFile(uintptr(fd), path)
		return nil
	})
	return f, err
}

// outputFlags open a job's output file: created or truncated like sbatch's
// default. The mode is 0666 less the job's umask, which the supervisor has
// made its own.
const outputFlags = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC

// openOutput opens a job's output file for the job, as its user.
func openOutput(c *cred, path string) (*os.File, error) {
	return openChecked(c, path, outputFlags, 0o666)
}

// checkWorkDir checks, as the job's user, that its working directory is a
// directory the user can reach.
func checkWorkDir(c *cred, dir string) error {
	return asUser(c, func() error {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return unix.ENOTDIR
		}
		return nil
	})
}

// ReadOutput opens a job's output file for reading as the job's user would:
// with the user's file-system identity when this process is root (so
// streaming shows only what the user could read anyway), without following a
// symbolic link, without blocking, and only a regular file. Callers should
// answer every error alike: what the user cannot see, they must not learn
// about.
func ReadOutput(j *rcq.Job, path string) (*os.File, error) {
	var c *cred
	if os.Geteuid() == 0 {
		uid, gid, groups, err := credentials(j)
		if err != nil {
			return nil, err
		}
		c = &cred{uid: uid, gid: gid, groups: groups}
	}
	return openChecked(c, path, unix.O_RDONLY, 0)
}
