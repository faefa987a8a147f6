package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.get("/health", "")
	want(t, r, http.StatusOK, "")
	h := decodeTo[apitype.Health](t, r)
	if h.Status != "healthy" || h.Message != "Research Compute Queue API is running" || h.Version != "test" {
		t.Errorf("health = %+v", h)
	}
	e.st.Close()
	r = e.get("/health", "")
	want(t, r, http.StatusServiceUnavailable, "")
	if h := decodeTo[apitype.Health](t, r); h.Status != "unhealthy" {
		t.Errorf("health with the database closed = %+v", h)
	}
}

func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	// A store whose server refuses connections, as when PostgreSQL is down.
	down, err := store.Open(context.Background(), "postgres://rcq@127.0.0.1:1/rcq?sslmode=disable", store.Options{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.Store = down })
	r := e.get("/health", "")
	want(t, r, http.StatusServiceUnavailable, "")
	if h := decodeTo[apitype.Health](t, r); h.Status != "unhealthy" {
		t.Errorf("health with the database down = %+v", h)
	}
	// Routes that need the database answer 503 with a clear message, not 500 and not 401.
	for _, r := range []resp{
		e.get("/api/jobs", e.aliceT),
		e.get("/api/auth/me", e.aliceT),
		login(e, "alice@example.org", password),
	} {
		want(t, r, http.StatusServiceUnavailable, "database_unavailable")
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	reg := func(email, pw string, group int64) resp {
		return e.post("/api/auth/register", "", map[string]any{"email": email, "password": pw, "group_id": group})
	}
	r := reg("Ada@Example.ORG", "long enough pw", 1)
	want(t, r, http.StatusCreated, "")
	rr := decodeTo[apitype.RegisterResponse](t, r)
	if rr.Message != "User registered successfully" || rr.UserID <= 0 {
		t.Errorf("register = %+v", rr)
	}
	u, _, err := e.st.UserByID(context.Background(), rcq.UserID(rr.UserID))
	if err != nil || u.Email != "ada@example.org" || u.IsAdmin || u.GroupID != 1 {
		t.Errorf("registered user = %+v %v", u, err)
	}
	// The new account can log in.
	want(t, e.post("/api/auth/login", "", map[string]string{"email": "ada@example.org", "password": "long enough pw"}), http.StatusOK, "")

	users := e.userCount()
	for _, c := range []struct {
		name, email, pw string
		group           int64
		status          int
		code, mention   string
	}{
		{"bad email", "not-an-email", "long enough pw", 1, 400, "invalid_email", "email"},
		{"display name", "Ada <ada2@example.org>", "long enough pw", 1, 400, "invalid_email", "email"},
		{"short password", "s@example.org", "short", 1, 400, "invalid_password", "8"},
		{"73 bytes", "p73@example.org", strings.Repeat("a", 73), 1, 400, "invalid_password", "72"},
		{"75 multibyte bytes", "p75@example.org", strings.Repeat("€", 25), 1, 400, "invalid_password", "72"},
		{"duplicate, other case", "ADA@example.org", "long enough pw", 1, 409, "email_taken", ""},
		{"another group", "g@example.org", "long enough pw", 2, 400, "group_requires_admin", "group_id"},
		{"negative group", "g2@example.org", "long enough pw", -1, 400, "invalid_group_id", ""},
	} {
		r := reg(c.email, c.pw, c.group)
		if r.status != c.status || r.errBody(t).Code != c.code || !strings.Contains(r.errBody(t).Error, c.mention) {
			t.Errorf("%s: got %s, want %d %s mentioning %q", c.name, r, c.status, c.code, c.mention)
		}
	}
	if n := e.userCount(); n != users {
		t.Errorf("refused registrations created %d users", n-users)
	}
	// An admin chooses the group; one that does not exist is refused.
	want(t, e.post("/api/auth/register", e.adminT, map[string]any{"email": "g@example.org", "password": "long enough pw", "group_id": 99}),
		http.StatusBadRequest, "invalid_group_id")
	// Exactly 72 bytes is fine.
	want(t, reg("p72@example.org", strings.Repeat("é", 36), 1), http.StatusCreated, "")
	// Bodies are strict here too.
	want(t, e.post("/api/auth/register", "", `{"email":"x@example.org","password":"long enough pw","is_admin":true}`), 400, "unknown_field")
}

func TestRegisterClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.OpenRegistration = false })
	body := map[string]any{"email": "new@example.org", "password": "long enough pw", "group_id": 1}
	users := e.userCount()
	want(t, e.post("/api/auth/register", "", body), http.StatusForbidden, "registration_closed")
	want(t, e.post("/api/auth/register", e.aliceT, body), http.StatusForbidden, "registration_closed")
	want(t, e.post("/api/auth/register", "garbage", body), http.StatusForbidden, "registration_closed")
	if n := e.userCount(); n != users {
		t.Fatalf("closed registration created %d users", n-users)
	}
	want(t, e.post("/api/auth/register", e.adminT, body), http.StatusCreated, "")
}

func login(e *env, email, pw string) resp {
	return e.post("/api/auth/login", "", map[string]string{"email": email, "password": pw})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := login(e, " Alice@EXAMPLE.org ", password)
	want(t, r, http.StatusOK, "")
	lr := decodeTo[apitype.LoginResponse](t, r)
	if lr.Message != "Login successful" || lr.Token == "" || lr.User.ID != int64(e.alice) || lr.User.Email != "alice@example.org" || lr.User.IsAdmin || lr.User.GroupID != 1 {
		t.Fatalf("login = %+v", lr)
	}
	if d := time.Until(lr.ExpiresAt); d < 50*time.Minute || d > 61*time.Minute {
		t.Errorf("token expires in %v, signer TTL is 1h", d)
	}
	me := e.get("/api/auth/me", lr.Token)
	want(t, me, http.StatusOK, "")
	if u := decodeTo[apitype.UserInfo](t, me); u.ID != int64(e.alice) || u.Email != "alice@example.org" {
		t.Errorf("me = %+v", u)
	}

	wrong := login(e, "alice@example.org", "wrong password")
	unknown := login(e, "nobody@example.org", "wrong password")
	long := login(e, "alice@example.org", password+strings.Repeat("x", 72))
	// bcrypt would compare only 72 bytes: a password whose first 72 bytes match must still fail.
	hash, err := e.pw.Hash(strings.Repeat("k", 72))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateUser(context.Background(), rcq.User{Email: "k@example.org", GroupID: 1}, hash); err != nil {
		t.Fatal(err)
	}
	prefix := login(e, "k@example.org", strings.Repeat("k", 73))
	for name, r := range map[string]resp{"wrong password": wrong, "unknown email": unknown, "over 72 bytes": long, "72-byte prefix": prefix} {
		if r.status != http.StatusUnauthorized || !bytes.Equal(r.sansID(), wrong.sansID()) {
			t.Errorf("%s: %s; want 401 with the body of a wrong password %s", name, r, wrong)
		}
	}
	want(t, login(e, "k@example.org", strings.Repeat("k", 72)), http.StatusOK, "")
	want(t, e.post("/api/auth/login", "", `{"email":"alice@example.org"`), http.StatusBadRequest, "")
	want(t, e.do(req{method: "POST", path: "/api/auth/login", body: `email=a&password=b`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), http.StatusUnsupportedMediaType, "")
}

func TestLogoutAndPasswordChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.LoginPerMinute = 20 })
	tok := decodeTo[apitype.LoginResponse](t, login(e, "alice@example.org", password)).Token
	other := decodeTo[apitype.LoginResponse](t, login(e, "alice@example.org", password)).Token
	third := decodeTo[apitype.LoginResponse](t, login(e, "alice@example.org", password)).Token
	want(t, e.get("/api/auth/me", tok), http.StatusOK, "")
	// A logout ends its own session only: the account's other tokens (other
	// machines, CI) go on.
	want(t, e.post("/api/auth/logout", tok, nil), http.StatusOK, "")
	want(t, e.get("/api/auth/me", tok), http.StatusUnauthorized, "token_revoked")
	want(t, e.post("/api/auth/logout", tok, nil), http.StatusUnauthorized, "token_revoked")
	want(t, e.get("/api/jobs", other), http.StatusOK, "")
	// Bob ending his session ends none of Alice's.
	want(t, e.post("/api/auth/logout", e.bobT, nil), http.StatusOK, "")
	want(t, e.get("/api/jobs", other), http.StatusOK, "")
	want(t, e.post("/api/auth/logout?all=maybe", other, nil), http.StatusBadRequest, "invalid_all")
	// all=true ends every token issued before it.
	want(t, e.post("/api/auth/logout?all=true", other, nil), http.StatusOK, "")
	want(t, e.get("/api/jobs", other), http.StatusUnauthorized, "token_revoked")
	want(t, e.get("/api/jobs", third), http.StatusUnauthorized, "token_revoked")

	tok = decodeTo[apitype.LoginResponse](t, login(e, "alice@example.org", password)).Token
	pwReq := func(old, nw string) resp {
		return e.post("/api/auth/password", tok, map[string]string{"old_password": old, "new_password": nw})
	}
	want(t, pwReq("not the password", "brand new password"), http.StatusUnauthorized, "invalid_credentials")
	want(t, pwReq(password, "short"), http.StatusBadRequest, "invalid_new_password")
	r := pwReq(password, strings.Repeat("ü", 37))
	want(t, r, http.StatusBadRequest, "invalid_new_password")
	if !strings.Contains(r.errBody(t).Error, "72") {
		t.Errorf("74-byte new password: %s does not name the 72-byte limit", r)
	}
	want(t, e.get("/api/auth/me", tok), http.StatusOK, "") // refused changes revoke nothing
	want(t, pwReq(password, "brand new password"), http.StatusOK, "")
	want(t, e.get("/api/auth/me", tok), http.StatusUnauthorized, "token_revoked")
	want(t, login(e, "alice@example.org", password), http.StatusUnauthorized, "invalid_credentials")
	want(t, login(e, "alice@example.org", "brand new password"), http.StatusOK, "")
	want(t, e.post("/api/auth/password", "", map[string]string{"old_password": "a", "new_password": "b"}), http.StatusUnauthorized, "missing_token")

	// Guesses at the old password are rate limited per account.
	tok = decodeTo[apitype.LoginResponse](t, login(e, "alice@example.org", "brand new password")).Token
	limited := false
	for range 25 {
		r := pwReq("a wrong guess", "another new password")
		if r.status == http.StatusTooManyRequests {
			limited = r.header.Get("Retry-After") != ""
			break
		}
		want(t, r, http.StatusUnauthorized, "invalid_credentials")
	}
	if !limited {
		t.Error("25 wrong old passwords within a minute were not rate limited (429 with Retry-After)")
	}
}

// forge signs claims with method and key, bypassing auth.Signer.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"uid": int64(e.alice), "gid": 1, "adm": false, "ver": 0, "iss": issuer,
			"sub": strconv.FormatInt(int64(e.alice), 10), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	// The forger is right: a token it makes with the real secret and sound claims works.
	good := forge(t, jwt.SigningMethodHS256, secret, claims(nil))
	want(t, e.get("/api/auth/me", good), http.StatusOK, "")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))
	// Tampered: alice's valid token with bob's id pasted into the payload.
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	m["uid"], m["sub"], m["adm"] = int64(e.admin), strconv.FormatInt(int64(e.admin), 10), true
	tampered, _ := json.Marshal(m)
	tamperedTok := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2]

	cases := map[string]string{
		"expired":        forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"another secret": forge(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!"), claims(nil)),
		"alg none":       none,
		"HS384":          forge(t, jwt.SigningMethodHS384, secret, claims(nil)),
		"HS512":          forge(t, jwt.SigningMethodHS512, secret, claims(nil)),
		"RS256":          forge(t, jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"tampered":       tamperedTok,
		"no exp":         forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"nbf future":     forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"iat future":     forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })),
		"wrong iss":      forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"no iss":         forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"unknown user":   forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["uid"], c["sub"] = 99999, "99999" })),
		"sub mismatch":   forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["sub"] = strconv.FormatInt(int64(e.admin), 10) })),
		"old version":    forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["ver"] = -1 })),
		"garbage":        "not.a.token",
		"empty":          "",
	}
	for name, tok := range cases {
		r := e.get("/api/auth/me", tok)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: got %s, want 401", name, r)
		}
		r = e.get("/api/jobs", tok)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s on /api/jobs: got %s, want 401", name, r)
		}
	}
	// A token forged with the admin flag set cannot reach admin routes: the store decides.
	adm := forge(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["adm"] = true }))
	want(t, e.get("/api/admin/users", adm), http.StatusForbidden, "admin_required")

	for name, h := range map[string]string{"missing header": "", "basic auth": "Basic YWxpY2U6cHc=", "bearer without token": "Bearer ", "token without scheme": good} {
		r := e.do(req{method: "GET", path: "/api/auth/me", header: map[string]string{"Authorization": h}})
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: got %s, want 401", name, r)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now().Add(5 * time.Second) // after the env's tokens were issued
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, func(c *api.Config, d *api.Deps) { c.LoginPerMinute = 20; d.Now = now })
	bad := func(xff string) resp {
		return e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "alice@example.org", "password": "wrong password"}, remote: xff})
	}
	for i := range 20 {
		want(t, bad(fmt.Sprintf("10.0.0.%d", i)), http.StatusUnauthorized, "invalid_credentials")
	}
	r := bad("10.0.1.1")
	want(t, r, http.StatusTooManyRequests, "rate_limited")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// Without a trusted proxy, X-Forwarded-For changes nothing.
	for i := range 5 {
		want(t, bad(fmt.Sprintf("192.168.7.%d", i)), http.StatusTooManyRequests, "rate_limited")
	}
	// Registration shares the limit.
	want(t, e.post("/api/auth/register", "", map[string]any{"email": "z@example.org", "password": "long enough pw"}), http.StatusTooManyRequests, "rate_limited")
	// The right password does not get through either while limited...
	want(t, login(e, "alice@example.org", password), http.StatusTooManyRequests, "rate_limited")
	// Another client address still logs in.
	other := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(`{"email":"bob@example.org","password":"`+password+`"}`))
	other.RemoteAddr = "192.0.2.55:4321"
	other.Host = "localhost"
	other.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, other)
	if w.Code != http.StatusOK {
		t.Errorf("login from another address while 127.0.0.1 is limited: %d %s", w.Code, w.Body)
	}
	// ...and authenticated routes are not login-limited.
	want(t, e.get("/api/auth/me", e.aliceT), http.StatusOK, "")
	// After a minute the bucket is full again.
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	want(t, login(e, "alice@example.org", password), http.StatusOK, "")
}

func TestRateLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	// The clock stands still: on the wall clock, 20 logins taking over
	// 3 s (a loaded machine) earned a token back and the 21st passed.
	e, _ := limitedEnv(t, nil)
	bad := func(xff string) resp {
		return e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "alice@example.org", "password": "wrong password"}, remote: xff})
	}
	for range 20 {
		want(t, bad("203.0.113.7"), http.StatusUnauthorized, "")
	}
	want(t, bad("203.0.113.7"), http.StatusTooManyRequests, "rate_limited")
	// Another client behind the proxy is keyed apart: it may still try an
	// account of its own, and log in.
	want(t, e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "bob@example.org", "password": "wrong password"}, remote: "203.0.113.8"}), http.StatusUnauthorized, "invalid_credentials")
	want(t, e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "bob@example.org", "password": password}, remote: "198.51.100.1"}), http.StatusOK, "")
	// The proxy appends the address it saw; what the client wrote before it
	// is the client's to invent, so it must not reset the limit.
	for i := range 5 {
		r := bad(fmt.Sprintf("10.9.9.%d, 203.0.113.7", i))
		want(t, r, http.StatusTooManyRequests, "rate_limited")
	}
	// A chain of trusted proxies: the first untrusted hop from the right is the client.
	want(t, bad("203.0.113.7, 127.0.0.5"), http.StatusTooManyRequests, "rate_limited")
}

// Login with an unknown email and with a wrong password must cost the same:
// both run one bcrypt comparison. `go test` checks they look the same; the
// benchmark pair below compares their times (go test -bench Login -count 10 |
// benchstat).
func TestLoginUnknownEmailAndWrongPasswordAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for range 3 {
		a := login(e, "alice@example.org", "wrong password")
		b := login(e, "nobody@example.org", "wrong password")
		if a.status != http.StatusUnauthorized || a.status != b.status || !bytes.Equal(a.sansID(), b.sansID()) || a.header.Get("Content-Type") != b.header.Get("Content-Type") {
			t.Fatalf("wrong password %s vs unknown email %s", a, b)
		}
	}
}

func benchLogin(b *testing.B, email string) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		b.Fatal(err)
	}
	// A realistic cost, so the comparison is dominated by bcrypt as in production.
	pw, err := auth.NewPasswords(10)
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := pw.Hash(password)
	if _, err := st.CreateUser(ctx, rcq.User{Email: "alice@example.org", GroupID: 1}, hash); err != nil {
		b.Fatal(err)
	}
	s := api.New(api.Config{LoginPerMinute: 1 << 30}, api.Deps{Store: st, Passwords: pw})
	body := []byte(`{"email":"` + email + `","password":"wrong password"}`)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		r, _ := http.NewRequest("POST", "/api/auth/login", bytes.NewReader(body))
		r.RemoteAddr = "127.0.0.1:1"
		r.Host = "localhost"
		r.Header.Set("Content-Type", "application/json")
		s.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkLoginUnknownEmail(b *testing.B)  { benchLogin(b, "nobody@example.org") }
func BenchmarkLoginWrongPassword(b *testing.B) { benchLogin(b, "alice@example.org") }
