package client

import (
	"os"
	"path/filepath"
)

// DefaultSocket is the Unix socket rcqd listens on and the commands dial when
// nothing else is configured:
//
//   - /run/rcq/rcqd.sock when running as root;
//   - $XDG_RUNTIME_DIR/rcq/rcqd.sock otherwise;
//   - $XDG_STATE_HOME/rcq/rcqd.sock (~/.local/state/rcq/rcqd.sock) when
//     XDG_RUNTIME_DIR is unset.
//
// rcqd uses the same function so both sides agree.
func DefaultSocket() string {
	return defaultSocket(os.Geteuid(), os.Getenv, os.UserHomeDir)
}

func defaultSocket(euid int, getenv func(string) string, home func() (string, error)) string {
	if euid == 0 {
		return "/run/rcq/rcqd.sock"
	}
	if dir := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rcq", "rcqd.sock")
	}
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rcq", "rcqd.sock")
	}
	h, err := home()
	if err != nil || h == "" {
		h = os.TempDir()
	}
	return filepath.Join(h, ".local", "state", "rcq", "rcqd.sock")
}

// DefaultServer is DefaultSocket as a server address: unix:///path.
func DefaultServer() string { return "unix://" + DefaultSocket() }
