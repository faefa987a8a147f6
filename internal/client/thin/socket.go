package thin

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/rcq-project/rcq/internal/paths"
)

// DefaultSockets are the Unix sockets the commands look for when no server
// is configured, in order:
//
//   - $RCQ_SOCKET when set (rcqd's own variable), and then only it;
//   - the socket a personal rcqd of this user listens on by default (rcqd
//     computes it with the same paths.DefaultSocket and paths.DefaultStateDir):
//     $XDG_RUNTIME_DIR/rcq/rcqd.sock, else <state dir>/rcqd.sock, the state
//     dir being $RCQ_STATE_DIR, $XDG_STATE_HOME/rcq or ~/.local/state/rcq;
//     /run/rcq/rcqd.sock when running as root;
//   - /run/rcq/rcqd.sock, the system rcqd's.
func DefaultSockets() []string {
	return DefaultSocketsFrom(os.LookupEnv, os.Geteuid() == 0)
}

// DefaultSocket is the first of DefaultSockets that exists, else the first:
// a user's own rcqd wins over the system's.
func DefaultSocket() string {
	return FirstExisting(DefaultSockets())
}

// FirstExisting is the first of paths that is a socket, else the first.
func FirstExisting(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == os.ModeSocket {
			return p
		}
	}
	return paths[0]
}

// DefaultSocketsFrom is DefaultSockets for an environment and a root flag.
func DefaultSocketsFrom(lookupEnv func(string) (string, bool), root bool) []string {
	abs := func(name string) string {
		v, ok := lookupEnv(name)
		if v = strings.TrimSpace(v); ok && filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
		return ""
	}
	if s := abs("RCQ_SOCKET"); s != "" {
		return []string{s}
	}
	stateDir := abs("RCQ_STATE_DIR")
	if stateDir == "" {
		stateDir = paths.DefaultStateDir(lookupEnv, root)
	}
	s := paths.DefaultSocket(lookupEnv, root, stateDir)
	if s == "" || s == paths.SystemSocket {
		return []string{paths.SystemSocket}
	}
	return []string{s, paths.SystemSocket}
}

// DefaultServer is DefaultSocket as a server address: unix:///path.
func DefaultServer() string { return "unix://" + DefaultSocket() }
