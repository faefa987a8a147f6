package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SecretBytes is the length of a generated signing secret.
const SecretBytes = 32

// LoadOrCreateSecret returns the signing secret kept at path. When the file
// does not exist it creates it: SecretBytes random bytes, mode 0600, written to
// a temporary file in the same directory and linked into place, so no reader
// ever sees a partial secret and two racing starts end with one secret. It
// refuses a file that is not a regular file, is readable or writable by group
// or others, or holds fewer than SecretBytes bytes.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if err := createSecret(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readSecret(path) // ours, or the one a racing start linked first
}

func readSecret(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("secret file %s is a symbolic link: replace it with a regular file of mode 0600", path)
		}
		return nil, err // fs.ErrNotExist passes through for the caller
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("secret file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %04o, open to group or others: run chmod 600 %s", path, perm, path)
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

// createSecret writes a new secret to path, failing with fs.ErrExist when
// path already exists.
func createSecret(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create secret directory: %w", err)
	}
	secret := make([]byte, SecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("generate secret: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-*") // O_EXCL, mode 0600
	if err != nil {
		return fmt.Errorf("create secret file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil { // whatever the umask did
		tmp.Close()
		return fmt.Errorf("create secret file: %w", err)
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return fmt.Errorf("write secret file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write secret file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write secret file: %w", err)
	}
	// link fails with EEXIST when path exists: exclusive, like O_EXCL, and
	// the file appears whole.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create secret file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
