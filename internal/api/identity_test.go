package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// fakeUnix names uids without the system's user database, for tests of how
// identity is routed; the attacks below use real Unix users.
type fakeUnix map[int]string

func (f fakeUnix) Check(name string) error {
	for _, n := range f {
		if n == name {
			return nil
		}
	}
	return &rcq.Error{Kind: rcq.KindInvalid, Code: auth.CodeUnknownUnixUser, Msg: "unix_user: " + name + " is not a Unix user"}
}

func (f fakeUnix) Login(uid int) (string, error) {
	if n, ok := f[uid]; ok {
		return n, nil
	}
	return "", fmt.Errorf("no uid %d", uid)
}

func (f fakeUnix) UIDMin() int { return 1000 }

// systemMode is the configuration of rcqd running as root.
func systemMode(c *api.Config, _ *api.Deps) { c.RunningAsRoot = true }

// personalMode is rcqd running as the Unix user owner.
func personalMode(owner int) func(*api.Config, *api.Deps) {
	return func(c *api.Config, _ *api.Deps) {
		c.RunningAsRoot, c.OwnerUID, c.OpenRegistration = false, owner, false
	}
}

func (e *env) mapUnixUser(id rcq.UserID, name string) {
	e.t.Helper()
	if _, err := e.st.UpdateUser(context.Background(), id, rcq.UserPatch{UnixUser: &name}); err != nil {
		e.t.Fatal(err)
	}
}

// peer serves the API as rcqd's Unix socket does for a peer whose uid the
// kernel reported as uid.
func (e *env) peer(uid int) *httptest.Server {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return api.WithConnInfo(ctx, api.ConnInfo{Unix: true, Peer: fmt.Sprintf("uid:%d", uid), UID: uid, HasUID: true})
	}
	srv.Start()
	e.t.Cleanup(srv.Close)
	return srv
}

// via sends r to srv instead of the TCP test server.
func (e *env) via(srv *httptest.Server, r req) resp {
	e.t.Helper()
	other := *e
	other.srv = srv
	return other.do(r)
}

func (e *env) me(srv *httptest.Server, token string) apitype.UserInfo {
	e.t.Helper()
	r := e.via(srv, req{method: "GET", path: "/api/auth/me", token: token})
	want(e.t, r, http.StatusOK, "")
	return decodeTo[apitype.UserInfo](e.t, r)
}

// TestPersonalSocketRefusesOtherUsers: user B on the socket of user A's
// personal rcqd (which runs every job as A) is refused on every route, with
// or without a token, even A's or the admin's; so is root. A needs no token.
func TestPersonalSocketRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	a, b := unixtest.New(t), unixtest.New(t)
	e := newEnv(t, personalMode(a.UID))
	e.mapUnixUser(e.admin, a.Name) // as bootstrap does in personal mode
	users, jobs := e.userCount(), e.jobCount()
	for _, uid := range []int{b.UID, 0} {
		srv := e.peer(uid)
		for _, r := range []req{
			{method: "GET", path: "/health"},
			{method: "GET", path: "/api/jobs"},
			{method: "GET", path: "/api/jobs", token: e.adminT},
			{method: "GET", path: "/api/jobs", token: e.aliceT},
			{method: "POST", path: "/api/jobs", token: e.adminT, body: map[string]any{"script": "#!/bin/sh\nid\n"}},
			{method: "POST", path: "/api/auth/token"},
			{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "alice@example.org", "password": password}},
			{method: "POST", path: "/api/auth/register", body: map[string]any{"email": "b@example.org", "password": "long enough pw"}},
			{method: "GET", path: "/api/nope"},
		} {
			got := e.via(srv, r)
			if got.status != http.StatusForbidden || got.errBody(t).Code != "not_owner" {
				t.Errorf("uid %d: %s %s: %s, want 403 not_owner", uid, r.method, r.path, got)
			}
		}
	}
	if e.userCount() != users || e.jobCount() != jobs {
		t.Errorf("refused requests created %d users and %d jobs", e.userCount()-users, e.jobCount()-jobs)
	}
	// The owner: no token is the owner's account; a token is its account.
	own := e.peer(a.UID)
	if u := e.me(own, ""); u.ID != int64(e.admin) || u.UnixUser != a.Name {
		t.Errorf("the owner without a token is %+v, want admin@localhost mapped to %s", u, a.Name)
	}
	if u := e.me(own, e.aliceT); u.ID != int64(e.alice) {
		t.Errorf("the owner with alice's token is %+v", u)
	}
	// Over TCP (turned on with --listen), tokens work as before.
	if u := e.me(e.srv, e.aliceT); u.ID != int64(e.alice) {
		t.Errorf("alice over TCP is %+v", u)
	}
}

// TestSystemSocketIdentity: in system mode a Unix user's first request makes
// their account (mapped to them, default group, no admin, no password), later
// requests are that account and its jobs are theirs; root is the admin; system
// accounts, unknown uids and members of privileged groups are refused, and
// nothing is made for them.
func TestSystemSocketIdentity(t *testing.T) {
	t.Parallel()
	b, sudoer := unixtest.New(t), unixtest.New(t)
	sudoer.AddToGroup(t, "sudo", false)
	e := newEnv(t, systemMode)
	srv := e.peer(b.UID)

	r := e.via(srv, req{method: "POST", path: "/api/jobs", body: map[string]any{"script": "#!/bin/sh\nid -un\n"}})
	want(t, r, http.StatusCreated, "")
	jobID := decodeTo[apitype.SubmitResponse](t, r).JobID
	u, err := e.st.UserByUnixUser(context.Background(), b.Name)
	if err != nil {
		t.Fatalf("no account mapped to %s after its first request: %v", b.Name, err)
	}
	if u.Email != b.Name+"@localhost" || u.GroupID != rcq.DefaultGroup || u.IsAdmin {
		t.Errorf("account made on first use = %+v", u)
	}
	if j := e.job(jobID); j.UserID != u.ID {
		t.Errorf("job %d belongs to user %d, want %s's account %d", jobID, j.UserID, b.Name, u.ID)
	}
	users := e.userCount()
	if me := e.me(srv, ""); me.ID != int64(u.ID) || me.UnixUser != b.Name {
		t.Errorf("second request is %+v, want account %d", me, u.ID)
	}
	// Concurrent first requests of one new user make one account.
	c := unixtest.New(t)
	csrv := e.peer(c.UID)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { e.me(csrv, "") })
	}
	wg.Wait()
	if n := e.userCount(); n != users+1 {
		t.Errorf("8 concurrent first requests made %d accounts, want 1", n-users)
	}
	// No password logs in to a socket-made account.
	want(t, login(e, b.Name+"@localhost", ""), http.StatusUnauthorized, "invalid_credentials")
	want(t, login(e, b.Name+"@localhost", "any password at all"), http.StatusUnauthorized, "invalid_credentials")

	// Root is the admin.
	if me := e.me(e.peer(0), ""); me.ID != int64(e.admin) || !me.IsAdmin {
		t.Errorf("root on the socket is %+v, want admin@localhost", me)
	}
	users = e.userCount()
	for _, c := range []struct {
		who  string
		uid  int
		code string
	}{
		{"a system account (uid 1)", 1, "system_account"},
		{"a uid without a login name", 3999999, "unknown_uid"},
		{"a member of sudo", sudoer.UID, "unix_user_refused"},
	} {
		r := e.via(e.peer(c.uid), req{method: "GET", path: "/api/jobs"})
		want(t, r, http.StatusForbidden, c.code)
	}
	if n := e.userCount(); n != users {
		t.Errorf("refused peers got %d accounts", n-users)
	}
	// An account that merely has the email <login>@localhost is not the
	// user's: the first request is refused until an admin maps it.
	d := unixtest.New(t)
	want(t, e.post("/api/auth/register", e.adminT, map[string]any{"email": d.Name + "@localhost", "password": "long enough pw"}), http.StatusCreated, "")
	want(t, e.via(e.peer(d.UID), req{method: "GET", path: "/api/jobs"}), http.StatusConflict, "local_email_taken")
	if _, err := e.st.UserByUnixUser(context.Background(), d.Name); err == nil {
		t.Errorf("the account %s@localhost was taken for the Unix user %s", d.Name, d.Name)
	}
	// The socket's identity is the peer's, not the connection's: TCP still
	// needs a token.
	want(t, e.get("/api/jobs", ""), http.StatusUnauthorized, "missing_token")
}

// TestSocketTokenMustBeThePeers: a token copied from user B (or any account
// that is not A's) used on the socket by user A is refused; root and admin
// tokens are allowed, and B's token still works for B and over TCP.
func TestSocketTokenMustBeThePeers(t *testing.T) {
	t.Parallel()
	a, b := unixtest.New(t), unixtest.New(t)
	e := newEnv(t, systemMode)
	asA, asB := e.peer(a.UID), e.peer(b.UID)
	aID, bID := e.me(asA, "").ID, e.me(asB, "").ID
	bTok := e.token(rcq.UserID(bID))
	aTok := e.token(rcq.UserID(aID))
	for name, tok := range map[string]string{"B's token": bTok, "alice's token (no Unix user)": e.aliceT} {
		r := e.via(asA, req{method: "GET", path: "/api/jobs", token: tok})
		want(t, r, http.StatusForbidden, "token_not_yours")
		r = e.via(asA, req{method: "POST", path: "/api/jobs", token: tok, body: map[string]any{"script": "#!/bin/sh\nid\n"}})
		if r.status != http.StatusForbidden {
			t.Errorf("A submitting with %s: %s, want 403", name, r)
		}
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("refused submits made %d jobs", n)
	}
	if me := e.me(asA, aTok); me.ID != aID {
		t.Errorf("A with A's token is %+v", me)
	}
	if me := e.me(asA, e.adminT); me.ID != int64(e.admin) {
		t.Errorf("A with the admin's token is %+v", me)
	}
	if me := e.me(e.peer(0), bTok); me.ID != bID {
		t.Errorf("root with B's token is %+v", me)
	}
	if me := e.me(asB, bTok); me.ID != bID {
		t.Errorf("B with B's token is %+v", me)
	}
	if me := e.me(e.srv, bTok); me.ID != bID {
		t.Errorf("B's token over TCP is %+v", me)
	}
	// A malformed Authorization header is not taken for "no token".
	r := e.via(asA, req{method: "GET", path: "/api/jobs", header: map[string]string{"Authorization": "Basic YTpi"}})
	want(t, r, http.StatusUnauthorized, "invalid_token")
}

// TestTokenRoute: on the socket, POST /api/auth/token gives the peer's
// account a token with no password (what rcq-login does there), usable over
// TCP; over TCP the route does not exist.
func TestTokenRoute(t *testing.T) {
	t.Parallel()
	b := unixtest.New(t)
	e := newEnv(t, systemMode)
	r := e.via(e.peer(b.UID), req{method: "POST", path: "/api/auth/token"})
	want(t, r, http.StatusOK, "")
	lr := decodeTo[apitype.LoginResponse](t, r)
	if lr.Token == "" || lr.User.UnixUser != b.Name || lr.User.Email != b.Name+"@localhost" || lr.ExpiresAt.IsZero() {
		t.Fatalf("token response = %+v", lr)
	}
	if me := e.me(e.srv, lr.Token); me.ID != lr.User.ID {
		t.Errorf("the token over TCP is %+v, want user %d", me, lr.User.ID)
	}
	want(t, e.post("/api/auth/token", lr.Token, nil), http.StatusNotFound, "no_route")
	want(t, e.post("/api/auth/token", "", nil), http.StatusNotFound, "no_route")
}

// TestRegisterNeverChoosesGroupOrUnixUser: a self-registered account gets
// the default group (asking for another is refused) and no Unix user, even
// with auth.unix_user_from_email; an admin's registration gets both, with the
// Unix user checked like any mapping; the localhost domain is kept for
// accounts made on the socket.
func TestRegisterNeverChoosesGroupOrUnixUser(t *testing.T) {
	t.Parallel()
	b, c := unixtest.New(t), unixtest.New(t)
	e := newEnv(t, func(cfg *api.Config, d *api.Deps) {
		systemMode(cfg, d)
		cfg.UnixUserFromEmail = true // Validate refuses it with open registration; the API must hold anyway
	})
	gid := decodeTo[apitype.Group](t, e.post("/api/admin/groups", e.adminT, map[string]any{"name": "vip", "priority": 10})).ID
	reg := func(token, email string, group int64) resp {
		return e.post("/api/auth/register", token, map[string]any{"email": email, "password": "long enough pw", "group_id": group})
	}
	users := e.userCount()
	want(t, reg("", "eve@example.org", gid), http.StatusBadRequest, "group_requires_admin")
	want(t, reg(e.aliceT, "eve@example.org", gid), http.StatusBadRequest, "group_requires_admin")
	want(t, reg("", b.Name+"@localhost", 0), http.StatusBadRequest, "reserved_email")
	if n := e.userCount(); n != users {
		t.Fatalf("refused registrations made %d accounts", n-users)
	}
	// Self-registered with the email of a Unix user: no Unix user.
	r := reg("", b.Name+"@example.org", 0)
	want(t, r, http.StatusCreated, "")
	u, _, _ := e.st.UserByID(context.Background(), rcq.UserID(decodeTo[apitype.RegisterResponse](t, r).UserID))
	if u.UnixUser != "" || u.GroupID != rcq.DefaultGroup {
		t.Errorf("self-registered account = %+v, want no Unix user, group 1", u)
	}
	// An admin's registration: the group, and the Unix user from the email.
	r = reg(e.adminT, c.Name+"@example.org", gid)
	want(t, r, http.StatusCreated, "")
	u, _, _ = e.st.UserByID(context.Background(), rcq.UserID(decodeTo[apitype.RegisterResponse](t, r).UserID))
	if u.UnixUser != c.Name || u.GroupID != rcq.GroupID(gid) {
		t.Errorf("admin-made account = %+v, want Unix user %s, group %d", u, c.Name, gid)
	}
	// ... checked: root, a system account, PostgreSQL's user, one taken.
	users = e.userCount()
	for _, email := range []string{"root@example.org", "daemon@example.org", "postgres@example.org"} {
		r := reg(e.adminT, email, 0)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.errBody(t).Error, "unix_user: ") {
			t.Errorf("admin registering %s: %s, want 400 naming unix_user", email, r)
		}
	}
	want(t, reg(e.adminT, c.Name+"@other.example.org", 0), http.StatusConflict, "unix_user_taken")
	if n := e.userCount(); n != users {
		t.Errorf("refused admin registrations made %d accounts", n-users)
	}
	// An email naming no Unix user makes an account without one.
	r = reg(e.adminT, "rcqt-no-such-user@example.org", 0)
	want(t, r, http.StatusCreated, "")
}

// TestAdminMapUnixUserRefusesPrivileged: an admin mapping account B to root,
// a system account, PostgreSQL's user, a sudo member or a Unix user another
// account has is refused with 400 (409 for the taken one) naming unix_user;
// an ordinary user is accepted.
func TestAdminMapUnixUserRefusesPrivileged(t *testing.T) {
	t.Parallel()
	a, sudoer, pg := unixtest.New(t), unixtest.New(t), unixtest.New(t)
	sudoer.AddToGroup(t, "sudo", false)
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		systemMode(c, d)
		d.UnixUsers = auth.NewUnixUsers(auth.LoginDefs, pg.Name) // pg stands in for database.run_as
	})
	patch := func(id rcq.UserID, name string) resp {
		return e.do(req{method: "PATCH", path: fmt.Sprintf("/api/admin/users/%d", id), token: e.adminT, body: map[string]any{"unix_user": name}})
	}
	r := patch(e.alice, a.Name)
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.User](t, r); u.UnixUser != a.Name {
		t.Errorf("alice mapped = %+v", u)
	}
	before := snapshotAdminState(t, e)
	for _, c := range []struct{ name, mention string }{
		{"root", "uid 0"},
		{"daemon", "system account"},
		{pg.Name, "PostgreSQL"},
		{sudoer.Name, "sudo"},
		{"rcqt-no-such-user", "not a Unix user"},
		{"Bad Name", "not a Unix login name"},
	} {
		r := patch(e.bob, c.name)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.errBody(t).Error, "unix_user: ") || !strings.Contains(r.errBody(t).Error, c.mention) {
			t.Errorf("map bob to %s: %s, want 400 naming unix_user and %q", c.name, r, c.mention)
		}
	}
	want(t, patch(e.bob, a.Name), http.StatusConflict, "unix_user_taken")
	if after := snapshotAdminState(t, e); after != before {
		t.Errorf("refused mappings changed accounts:\n%s\n->\n%s", before, after)
	}
	// "" unmaps; then the name is free for another account.
	want(t, patch(e.alice, ""), http.StatusOK, "")
	want(t, patch(e.bob, a.Name), http.StatusOK, "")
}

// TestAccessLog: one info line per request with the route pattern, status,
// peer and account, never the token or the body.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		c.OwnerUID = 4242
		d.UnixUsers = fakeUnix{4242: "owner"}
		d.Logger = slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	})
	e.mapUnixUser(e.admin, "owner")
	e.via(e.peer(4242), req{method: "GET", path: "/api/jobs/12345"})
	e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "alice@example.org", "password": password}})
	e.get("/api/jobs", e.aliceT)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, wantLine := range []string{
		` method=GET route=/api/jobs/{id} status=404 `,
		`peer=uid:4242 user_id=` + fmt.Sprint(e.admin),
		` method=POST route=/api/auth/login status=200 `,
		` method=GET route=/api/jobs status=200 `,
		`peer=127.0.0.1:`,
		`user_id=` + fmt.Sprint(e.alice),
	} {
		if !strings.Contains(out, wantLine) {
			t.Errorf("access log lacks %q:\n%s", wantLine, out)
		}
	}
	for _, secret := range []string{password, e.aliceT, "alice@example.org"} {
		if strings.Contains(out, secret) {
			t.Errorf("access log holds %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// On the socket without a token the kernel vouches for the caller: the
// account made for a Unix user sets its first password with no old one, and
// then logs in over TCP. With a token, or over TCP, the old password is
// needed: a stolen token does not change a password.
func TestPeerSetsPasswordWithoutTheOldOne(t *testing.T) {
	t.Parallel()
	b := unixtest.New(t)
	e := newEnv(t, systemMode)
	srv := e.peer(b.UID)
	r := e.via(srv, req{method: "POST", path: "/api/auth/password", body: map[string]string{"new_password": "a brand new password"}})
	want(t, r, http.StatusOK, "")
	login := e.post("/api/auth/login", "", map[string]string{"email": b.Name + "@localhost", "password": "a brand new password"})
	want(t, login, http.StatusOK, "")
	tok := decodeTo[apitype.LoginResponse](t, login).Token
	// The same account with a token, on the socket and over TCP: the old
	// password is asked.
	body := map[string]string{"old_password": "wrong", "new_password": "another new password"}
	want(t, e.via(srv, req{method: "POST", path: "/api/auth/password", token: tok, body: body}), http.StatusUnauthorized, "invalid_credentials")
	want(t, e.post("/api/auth/password", tok, body), http.StatusUnauthorized, "invalid_credentials")
	want(t, e.post("/api/auth/password", e.aliceT, map[string]string{"new_password": "no old password given"}), http.StatusUnauthorized, "invalid_credentials")
}
