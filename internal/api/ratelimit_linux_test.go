package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// Two real Unix users on one machine: the attacker guesses the victim's
// password on the socket, while others guess it over TCP. The attacker is
// stopped by the limit of their own uid; the victim, on the socket as
// themselves, logs in with the right password. The kernel says who is who
// (SO_PEERCRED), as rcqd's listener does.
func TestLoginStormRealUnixUsers(t *testing.T) {
	t.Parallel()
	victim, attacker := unixtest.New(t), unixtest.New(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skipf("needs curl to connect as another Unix user: %v", err)
	}
	e, _ := limitedEnv(t, func(c *api.Config) { c.RunningAsRoot = true }) // system mode: every local user may use the socket
	victimEmail := victim.Name + "@example.org"
	e.newUser(victimEmail, false)

	dir, err := os.MkdirTemp("", "rcqsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "rcqd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.api, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		info := api.ConnInfo{Unix: true, Peer: "unknown"}
		if uid, ok := peerUID(t, c); ok {
			info.Peer, info.UID, info.HasUID = fmt.Sprintf("uid:%d", uid), uid, true
		}
		return api.WithConnInfo(ctx, info)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	login := func(u unixtest.User, host, pw string) int {
		t.Helper()
		out, err := u.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
			"-H", "Content-Type: application/json", "-H", "Host: "+host,
			"--data-binary", credentials(victimEmail, pw), "http://rcq/api/auth/login").Output()
		if err != nil {
			t.Fatalf("curl as %s: %v", u.Name, err)
		}
		code, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("curl as %s printed %q", u.Name, out)
		}
		return code
	}

	for i := range 25 {
		loginFrom(e, fmt.Sprintf("203.0.113.%d", i+1), victimEmail, "wrong password")
	}
	want(t, loginFrom(e, "192.0.2.1", victimEmail, password), http.StatusTooManyRequests, "rate_limited")
	for i := range 25 {
		code := login(attacker, "rcq", "wrong password")
		if i < 20 && code != http.StatusUnauthorized || i >= 20 && code != http.StatusTooManyRequests {
			t.Fatalf("the attacker's guess %d on the socket: %d", i+1, code)
		}
	}
	// The victim logs in; on the socket any Host is served.
	if code := login(victim, "evil.example", password); code != http.StatusOK {
		t.Fatalf("the victim's correct login on the socket after the storms: %d, want 200", code)
	}
}

// peerUID names a socket peer as rcqd does: "uid:N" from SO_PEERCRED.
func peerUID(t *testing.T, c net.Conn) (uid int, ok bool) {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		t.Errorf("connection %T is not a Unix socket", c)
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		t.Error(err)
		return 0, false
	}
	_ = raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid, ok = int(cred.Uid), true
		}
	})
	return uid, ok
}
