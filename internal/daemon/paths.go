package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/executor"
)

// As root, rcqd writes files that decide who may do what (the admin
// password, the JWT secret, job logs, job directories). A directory of its
// own that another user can change lets that user swap those files: plant a
// symlink where rcqd writes (root then truncates a file in /etc), or plant a
// secret of their own (and sign admin tokens). So, as root, rcqd's
// directories and every directory above them must be root's and closed to
// others, and rcqd opens its files relative to a directory it holds open,
// never following a symbolic link.

// ownDir creates dir if missing (mode 0700: the umask can only remove bits),
// refuses it as root unless checkOwnedDir accepts it, and returns it open.
func ownDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := checkOwnedDir(dir); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
}

// checkOwnedDir accepts a directory that nobody but root can change: it and
// every directory above it belong to root and are not writable by group or
// others. A directory above may be writable by others if it is sticky (like
// /tmp): others cannot then rename or remove root's entries in it. Symbolic
// links on the way must belong to root; the directories they lead to are
// checked the same way. The error names the path and the command that fixes
// it.
func checkOwnedDir(dir string) error {
	if err := checkChain(dir); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if real != filepath.Clean(dir) {
		return checkChain(real)
	}
	return nil
}

// checkChain checks path and each directory above it, as they are named
// (not following a symbolic link in the last place).
func checkChain(path string) error {
	leaf := true
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		link := st.Mode&unix.S_IFMT == unix.S_IFLNK
		openToOthers := st.Mode&0o022 != 0 && (leaf || st.Mode&unix.S_ISVTX == 0)
		switch {
		case link && st.Uid != 0:
			return fmt.Errorf("%s is a symbolic link owned by uid %d, and rcqd runs as root: its owner could point it elsewhere; make it root's: chown -h root:root %s", p, st.Uid, p)
		case !link && (st.Uid != 0 || openToOthers):
			why := fmt.Sprintf("owned by uid %d", st.Uid)
			if st.Uid == 0 {
				why = fmt.Sprintf("writable by group or others (mode %04o)", st.Mode&0o7777)
			}
			return fmt.Errorf("%s is %s, and rcqd runs as root: whoever can change it can swap rcqd's files there; fix it with: chown root:root %s && chmod go-w %s", p, why, p, p)
		}
		if p == "/" {
			return nil
		}
		leaf = false
	}
}

// lockStateDir makes sure one rcqd at a time uses a state directory. The
// kernel drops the lock when the process dies, however it dies.
func lockStateDir(dir *os.File) (unlock func(), err error) {
	f, err := executor.OpenIn(dir, "rcqd.lock", unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another rcqd is running with the state directory %s: stop it first, or give this one another --state-dir", dir.Name())
		}
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	return func() { f.Close() }, nil
}
