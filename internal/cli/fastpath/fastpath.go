// Package fastpath is the start-up path of rcq-submit and rcq-show: their
// one request sent over the local rcqd's Unix socket by a process that links
// neither cobra nor net/http (internal/client/thin), which is most of what
// these commands spent before (docs/performance.md, issue 12). It links
// neither fmt nor encoding/json either, for rcq-submit's (package send).
//
// It handles only the plain case: everything the full command does
// differently (help, completion, another server than a Unix socket, any
// doubt about the credentials, any warning or error before the request is
// sent) is left to the full implementation, which Fallback runs in the same
// process by exec'ing the rcq umbrella under the command's name. So messages
// and exit codes have one implementation, and the start-up path reads only
// the command lines it reads exactly as the full command does (tests hold
// each reader to the full command's parser).
package fastpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rcq-project/rcq/internal/client/thin"
)

// The exit codes the start-up paths end with themselves, as package
// exitcode has them: this package links neither exitcode nor fmt, which
// rcq-submit's start-up path must not (TestExitCodesAreExitcodes).
const (
	ExitFailure     = 1 // exitcode.Failure
	ExitUnreachable = 3 // exitcode.Unreachable: rcqd could not be reached
)

// Target is where to send the request and with which token.
type Target struct {
	Socket string   // the socket's path
	Tried  []string // every default socket looked for, when no server was given
	Token  string   // "" on the socket without credentials: rcqd knows the uid
}

// Resolve finds the server as the full commands do (cli.Factory.Client):
// --server (serverFlag), $RCQ_SERVER, the saved credentials' server, or the
// local daemon's sockets; and the token: $RCQ_TOKEN or the saved
// credentials'. ok is false whenever the full command might do something
// else than send the request over a Unix socket (a TCP server, credentials
// it would refuse or for another server).
func Resolve(serverFlag string) (t Target, ok bool) {
	explicit := serverFlag
	if explicit == "" {
		explicit = os.Getenv("RCQ_SERVER")
	}
	path, err := thin.CredentialsPath()
	if err != nil {
		return t, false
	}
	creds, err := thin.LoadCredentials(path, nil) // another form: the full command reads it
	switch {
	case errors.Is(err, thin.ErrNoCredentials):
		creds = nil
	case err != nil:
		return t, false
	}
	server := thin.Target(explicit, creds)
	if tok := os.Getenv("RCQ_TOKEN"); tok != "" {
		t.Token = tok
	} else if creds != nil {
		if server != creds.Server && strings.TrimSuffix(server, "/") != strings.TrimSuffix(creds.Server, "/") ||
			creds.Expired(time.Now()) {
			return t, false
		}
		t.Token = creds.Token
	}
	if server == "" {
		t.Tried = thin.DefaultSockets()
		t.Socket = thin.FirstExisting(t.Tried)
		return t, true
	}
	t.Socket, ok = thin.SocketPath(server)
	return t, ok
}

// Fallback runs the full implementation of the command name (rcq-submit)
// with the process's arguments: the rcq umbrella next to this program (or
// on $PATH) exec'd under that name. It returns only when that fails.
func Fallback(name string) int {
	rcqPath := ""
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "rcq")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			rcqPath = p
		}
	}
	if rcqPath == "" {
		rcqPath = onPath("rcq")
	}
	if rcqPath == "" {
		os.Stderr.WriteString(name + ": the rcq program is needed for this (it is installed with " + name + "): not found next to " + name + " nor on PATH\n")
		return ExitFailure
	}
	argv := append([]string{name}, os.Args[1:]...)
	err := syscall.Exec(rcqPath, argv, os.Environ())
	os.Stderr.WriteString(name + ": run " + rcqPath + ": " + err.Error() + "\n")
	return ExitFailure
}

// onPath is the first executable file named name in $PATH's absolute
// directories, or "": exec.LookPath's answer (which refuses a relative
// one), without linking os/exec and its package initialisation into every
// start for this rare case.
func onPath(name string) string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Header is the header lines every request of the commands carries
// (internal/client's newRequest): JSON both ways (Content-Type for a
// request that changes state), the program's name, the token.
func Header(name, token string, changes bool) []string {
	h := []string{"Accept: application/json", "User-Agent: " + name}
	if changes {
		h = append(h, "Content-Type: application/json")
	}
	if token != "" {
		h = append(h, "Authorization: Bearer "+token)
	}
	return h
}

// Do sends r to t; a connection refused before anything was sent is
// reported through fallback=true (the full command then names every socket
// it tried, with its own words).
func Do(t Target, r thin.Request) (resp *thin.Response, fallback bool, err error) {
	resp, err = thin.Do(t.Socket, r)
	var ce *thin.ConnError
	if errors.As(err, &ce) {
		if !ce.Sent {
			return nil, true, err
		}
		ce.Tried = t.Tried
	}
	return resp, false, err
}
