// Package paths is where rcqd keeps its state and listens when nothing is
// configured. rcqd (internal/config) and the commands (internal/client/thin)
// both read it, so a command finds the socket of a daemon it never talked
// to; it links only path/filepath and strings, for the commands' start-up
// path.
package paths

import (
	"path/filepath"
	"strings"
)

// System locations used when rcqd runs as root.
const (
	SystemStateDir = "/var/lib/rcq"
	SystemSocket   = "/run/rcq/rcqd.sock"
)

// DefaultStateDir returns where rcqd keeps its state when none is configured:
// SystemStateDir as root, else $XDG_STATE_HOME/rcq, else ~/.local/state/rcq.
// lookupEnv reads the environment (os.LookupEnv, or a test's map). It returns
// "" when neither XDG_STATE_HOME nor HOME is set to an absolute path.
// rcqd (internal/config) and the command-line client share it, so both name
// the same socket without talking to each other.
func DefaultStateDir(lookupEnv func(string) (string, bool), root bool) string {
	if root {
		return SystemStateDir
	}
	if d, ok := absEnv(lookupEnv, "XDG_STATE_HOME"); ok {
		return filepath.Join(d, "rcq")
	}
	if h, ok := absEnv(lookupEnv, "HOME"); ok {
		return filepath.Join(h, ".local", "state", "rcq")
	}
	return ""
}

// DefaultSocket returns rcqd's socket path when none is configured:
// SystemSocket as root, else $XDG_RUNTIME_DIR/rcq/rcqd.sock, else
// <stateDir>/rcqd.sock ("" when stateDir is "").
func DefaultSocket(lookupEnv func(string) (string, bool), root bool, stateDir string) string {
	if root {
		return SystemSocket
	}
	if d, ok := absEnv(lookupEnv, "XDG_RUNTIME_DIR"); ok {
		return filepath.Join(d, "rcq", "rcqd.sock")
	}
	if stateDir == "" {
		return ""
	}
	return filepath.Join(stateDir, "rcqd.sock")
}

// absEnv returns the variable's value when it is an absolute path; the XDG
// base directory specification says relative values are to be ignored.
func absEnv(lookupEnv func(string) (string, bool), name string) (string, bool) {
	v, ok := lookupEnv(name)
	v = strings.TrimSpace(v)
	if !ok || !filepath.IsAbs(v) {
		return "", false
	}
	return filepath.Clean(v), true
}
