package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rcq-project/rcq/internal/client/thin"
)

// The sockets, the credentials file and ConnError live in internal/client/thin,
// which does not link net/http, so the commands' start-up path can use them
// without its package initialisation (docs/performance.md); these names keep
// the client's API.

// Credentials is what rcq-login keeps: the token and the server it belongs to.
type Credentials = thin.Credentials

// PermissionError refuses a credentials file that others may read.
type PermissionError = thin.PermissionError

// ConnError says rcqd could not be reached at all: nothing was answered.
type ConnError = thin.ConnError

// ErrNoCredentials is returned by LoadCredentials when nobody logged in.
var ErrNoCredentials = thin.ErrNoCredentials

// CredentialsPath is $XDG_CONFIG_HOME/rcq/credentials, or
// ~/.config/rcq/credentials when XDG_CONFIG_HOME is unset.
func CredentialsPath() (string, error) { return thin.CredentialsPath() }

// LoadCredentials reads the credentials file at path (see
// thin.LoadCredentials), in any form encoding/json reads.
func LoadCredentials(path string) (*Credentials, error) {
	return thin.LoadCredentials(path, json.Unmarshal)
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

// DefaultSockets are the Unix sockets the commands look for when no server
// is configured, in order (see thin.DefaultSockets).
func DefaultSockets() []string { return thin.DefaultSockets() }

// DefaultSocket is the first of DefaultSockets that exists, else the first.
func DefaultSocket() string { return thin.DefaultSocket() }

// DefaultServer is DefaultSocket as a server address: unix:///path.
func DefaultServer() string { return thin.DefaultServer() }

func firstExisting(paths []string) string { return thin.FirstExisting(paths) }

func defaultSockets(lookupEnv func(string) (string, bool), root bool) []string {
	return thin.DefaultSocketsFrom(lookupEnv, root)
}

func credentialsPath(getenv func(string) string, home func() (string, error)) (string, error) {
	return thin.CredentialsPathFrom(getenv, home)
}
