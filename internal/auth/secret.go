package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// SecretBytes is the length of a generated signing secret, and the least a
// secret file may hold.
const SecretBytes = 32

// LoadOrCreateSecret returns the signing secret kept in the file name of the
// directory dir, which the caller holds open: the file is opened relative to
// it (openat) and never through a symbolic link, so nobody can swap a path
// component under rcqd. When the file does not exist it creates it:
// SecretBytes random bytes, mode 0600, written to a temporary file in the
// same directory and linked into place, so no reader ever sees a partial
// secret and two racing starts end with one secret. It refuses a file that is
// not a regular file, is not owned by this process's user, is readable or
// writable by group or others, or holds fewer than SecretBytes bytes: a
// secret someone else owned or could read may be known to them, and lets
// them sign any token.
func LoadOrCreateSecret(dir *os.File, name string) ([]byte, error) {
	b, err := readSecret(dir, name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if err := createSecret(dir, name); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readSecret(dir, name) // ours, or the one a racing start linked first
}

func readSecret(dir *os.File, name string) ([]byte, error) {
	path := filepath.Join(dir.Name(), name)
	// O_NONBLOCK: a FIFO planted there must not hang the start.
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("secret file %s is a symbolic link: remove it to have a new secret generated (rm %s)", path, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, &fs.PathError{Op: "open", Path: path, Err: err} // for the caller
	case err != nil:
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("secret file %s is not a regular file: remove it to have a new secret generated", path)
	}
	if uid, me := st.Sys().(*syscall.Stat_t).Uid, os.Geteuid(); int(uid) != me {
		return nil, fmt.Errorf("secret file %s belongs to uid %d, not to rcqd's user (uid %d): its owner may know it; remove it to have a new one generated: rm %s", path, uid, me, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %04o, open to group or others: remove it to have a new one generated (rm %s), or, if nobody else can have read it, run chmod 600 %s", path, perm, path, path)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("read secret file %s: %w", path, err)
	}
	if len(b) < SecretBytes {
		return nil, fmt.Errorf("secret file %s holds %d bytes; at least %d are needed: remove it to have a new one generated", path, len(b), SecretBytes)
	}
	return b, nil
}

// createSecret writes a new secret as name in dir, failing with fs.ErrExist
// when name already exists.
func createSecret(dir *os.File, name string) error {
	path := filepath.Join(dir.Name(), name)
	dfd := int(dir.Fd())
	secret := make([]byte, SecretBytes)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	tmp := "." + name + "-" + hex.EncodeToString(suffix)
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create secret file in %s: %w", dir.Name(), err)
	}
	defer unix.Unlinkat(dfd, tmp, 0)
	f := os.NewFile(uintptr(fd), tmp)
	err = f.Chmod(0o600) // whatever the umask did
	if err == nil {
		_, err = f.Write(secret)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write secret file %s: %w", path, err)
	}
	// linkat fails with EEXIST when name exists: exclusive, like O_EXCL, and
	// the file appears whole.
	if err := unix.Linkat(dfd, tmp, dfd, name, 0); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "link", Path: path, Err: err}
		}
		return fmt.Errorf("create secret file %s: %w", path, err)
	}
	_ = dir.Sync()
	return nil
}
