package thin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rcq-project/rcq/internal/jsonscan"
)

// Credentials is what rcq-login keeps: the token and the server it belongs to.
type Credentials struct {
	Server    string    `json:"server"`
	Token     string    `json:"token"`
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Expired reports whether the token's expiry is known and past at now.
func (c *Credentials) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// CredentialsPath is $XDG_CONFIG_HOME/rcq/credentials, or
// ~/.config/rcq/credentials when XDG_CONFIG_HOME is unset.
func CredentialsPath() (string, error) {
	return CredentialsPathFrom(os.Getenv, os.UserHomeDir)
}

// CredentialsPathFrom is CredentialsPath for an environment and a home
// directory lookup.
func CredentialsPathFrom(getenv func(string) string, home func() (string, error)) (string, error) {
	if dir := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rcq", "credentials"), nil
	}
	h, err := home()
	if err != nil || h == "" {
		return "", fmt.Errorf("find the credentials file: no home directory and no XDG_CONFIG_HOME")
	}
	return filepath.Join(h, ".config", "rcq", "credentials"), nil
}

// ErrNoCredentials is returned by LoadCredentials when nobody logged in.
var ErrNoCredentials = errors.New("not logged in: run rcq-login")

// PermissionError refuses a credentials file that others may read.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s is readable by other users (mode %04o): fix it with: chmod 600 %s", e.Path, e.Mode.Perm(), e.Path)
}

// LoadCredentials reads the credentials file at path. A missing file gives
// ErrNoCredentials; a file readable by group or others gives a *PermissionError
// and is not read.
func LoadCredentials(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: path, Mode: st.Mode()}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var c Credentials
	if err := decodeCredentials(data, &c); err != nil {
		return nil, fmt.Errorf("read credentials %s: %w: run rcq-login again", path, err)
	}
	if c.Token == "" {
		return nil, ErrNoCredentials
	}
	return &c, nil
}

// decodeCredentials is json.Unmarshal of the credentials file into c. The
// file rcq-login writes (a flat object of plain strings) is read without
// encoding/json's reflection, whose first use cost each start of rcq-submit
// and rcq-show more than the rest of reading the file; any other shape
// (escapes, other keys, other spellings) is left to encoding/json, so the
// result is always encoding/json's (TestDecodeCredentialsMatchesEncodingJSON).
func decodeCredentials(data []byte, c *Credentials) error {
	if plainCredentials(data, c) {
		return nil
	}
	*c = Credentials{}
	return json.Unmarshal(data, c)
}

// plainCredentials decodes data into c when it is a flat object whose
// members are Credentials' keys spelled as tagged, each once, with ASCII
// string values without escapes; it reports false (c unchanged) for
// anything else.
func plainCredentials(data []byte, c *Credentials) bool {
	var out Credentials
	s := jsonscan.Scanner{B: data}
	var key string
	seen := map[string]bool{}
	ok := s.Members(func(raw []byte, plain bool) bool {
		key = string(raw[1 : len(raw)-1])
		if !plain || seen[key] {
			return false
		}
		seen[key] = true
		return true
	}, func() bool {
		raw, plain, ok := s.String()
		if !ok || !plain {
			return false
		}
		v := string(raw[1 : len(raw)-1])
		switch key {
		case "server":
			out.Server = v
		case "token":
			out.Token = v
		case "email":
			out.Email = v
		case "expires_at":
			return out.ExpiresAt.UnmarshalJSON(raw) == nil
		default:
			return false
		}
		return true
	})
	if !ok || !s.End() {
		return false
	}
	*c = out
	return true
}

// SaveCredentials writes c to path atomically: the directory is created (or
// tightened) to 0700 and the file is 0600 whatever the umask.
func SaveCredentials(path string, c *Credentials) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// RemoveCredentials deletes the credentials file; a missing file is not an error.
func RemoveCredentials(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove credentials: %w", err)
	}
	return nil
}
