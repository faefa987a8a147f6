package client

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// DefaultSocket is the Unix socket the commands dial when no server is
// configured. It is the socket rcqd listens on by default (rcqd computes it
// with the same rcq.DefaultSocket and rcq.DefaultStateDir):
//
//   - $RCQ_SOCKET when set (rcqd's own variable);
//   - /run/rcq/rcqd.sock when running as root;
//   - $XDG_RUNTIME_DIR/rcq/rcqd.sock;
//   - <state dir>/rcqd.sock, the state dir being $RCQ_STATE_DIR,
//     $XDG_STATE_HOME/rcq or ~/.local/state/rcq.
func DefaultSocket() string {
	return defaultSocket(os.LookupEnv, os.Geteuid() == 0)
}

func defaultSocket(lookupEnv func(string) (string, bool), root bool) string {
	abs := func(name string) string {
		v, ok := lookupEnv(name)
		if v = strings.TrimSpace(v); ok && filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
		return ""
	}
	if s := abs("RCQ_SOCKET"); s != "" {
		return s
	}
	stateDir := abs("RCQ_STATE_DIR")
	if stateDir == "" {
		stateDir = rcq.DefaultStateDir(lookupEnv, root)
	}
	if s := rcq.DefaultSocket(lookupEnv, root, stateDir); s != "" {
		return s
	}
	return rcq.SystemSocket
}

// DefaultServer is DefaultSocket as a server address: unix:///path.
func DefaultServer() string { return "unix://" + DefaultSocket() }
