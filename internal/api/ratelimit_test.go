package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
)

// limitedEnv is an env with the default login limit (20 a minute) and a
// clock that stands still, so buckets refill only when the test says.
func limitedEnv(t *testing.T, mod func(*api.Config)) (*env, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	clock := time.Now().Add(5 * time.Second) // after the env's tokens were issued
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		c.LoginPerMinute = 20
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // X-Forwarded-For plays the remote clients
		d.Now = now
		if mod != nil {
			mod(c)
		}
	})
	return e, func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
}

// loginFrom logs in through the env's proxy as the client at addr.
func loginFrom(e *env, addr, email, pw string) resp {
	return e.do(req{method: "POST", path: "/api/auth/login", body: map[string]string{"email": email, "password": pw}, remote: addr})
}

// fromLocal sends a request over a real TCP connection from the loopback
// address local (127.0.0.2, 127.0.0.3, ...): what a local user rotating
// source addresses does.
func fromLocal(t *testing.T, base, local, path, body string) resp {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	r, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	return send(t, hc, r)
}

// rawPost sends a JSON POST to base+path with an optional Host header.
func rawPost(t *testing.T, base, host, path, body string) resp {
	t.Helper()
	r, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if host != "" {
		r.Host = host
	}
	return send(t, http.DefaultClient, r)
}

func send(t *testing.T, hc *http.Client, r *http.Request) resp {
	t.Helper()
	res, err := hc.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func credentials(email, pw string) string {
	return fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw)
}

// A local user rotating source addresses through 127.0.0.2...127.0.0.41 used
// to get a fresh budget from each: loopback is one address.
func TestLoginLimitRotatingLoopback(t *testing.T) {
	t.Parallel()
	e, _ := limitedEnv(t, func(c *api.Config) { c.TrustedProxies = nil })
	refused := 0
	for i := range 40 {
		r := fromLocal(t, e.srv.URL, fmt.Sprintf("127.0.0.%d", i+2), "/api/auth/login", credentials("alice@example.org", "wrong password"))
		switch {
		case r.status == http.StatusTooManyRequests:
			refused++
			// The address limit, not only the account's: every loopback
			// address is the same source.
			if !strings.Contains(r.errBody(t).Error, "from this address") {
				t.Fatalf("attempt %d from 127.0.0.%d: %s, want the per-address limit", i+1, i+2, r)
			}
		case refused > 0:
			t.Fatalf("attempt %d: %d after a 429: the limit let it through", i+1, r.status)
		case i >= 20:
			t.Fatalf("attempt %d from 127.0.0.%d: %d, want 429 before the 21st", i+1, i+2, r.status)
		}
	}
	if refused != 20 {
		t.Errorf("%d of 40 refused, want 20", refused)
	}
}

// Guessing one account's password from many addresses is capped per
// account, whatever the addresses; the account's owner and other accounts
// are not locked out.
func TestLoginLimitPerAccount(t *testing.T) {
	t.Parallel()
	e, advance := limitedEnv(t, nil)
	// Alice logged in from her usual address before the attack.
	want(t, loginFrom(e, "198.51.100.7", "alice@example.org", password), http.StatusOK, "")
	for i := range 40 {
		r := loginFrom(e, fmt.Sprintf("203.0.113.%d", i+1), "alice@example.org", "wrong password")
		if i < 20 {
			want(t, r, http.StatusUnauthorized, "invalid_credentials")
			continue
		}
		want(t, r, http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(r.errBody(t).Error, "this account") || r.header.Get("Retry-After") == "" {
			t.Fatalf("attempt %d: %s, want a per-account 429 with Retry-After", i+1, r)
		}
	}
	// The right password from a new address is held back too: the attacker
	// could be holding it.
	want(t, loginFrom(e, "192.0.2.99", "alice@example.org", password), http.StatusTooManyRequests, "rate_limited")
	// Alice from the address she logged in from before gets through.
	want(t, loginFrom(e, "198.51.100.7", "alice@example.org", password), http.StatusOK, "")
	// A wrong password from there is still checked (and answered) normally:
	// that address is held only by its own per-address limit.
	want(t, loginFrom(e, "198.51.100.7", "alice@example.org", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	// Bob, from another address, logs in.
	want(t, loginFrom(e, "192.0.2.10", "bob@example.org", password), http.StatusOK, "")
	// Case and spaces do not make another account.
	want(t, loginFrom(e, "203.0.113.200", " ALICE@Example.org", "wrong password"), http.StatusTooManyRequests, "rate_limited")
	// Unknown accounts are limited alike, so a 429 says nothing about
	// whether an account exists.
	for i := range 20 {
		want(t, loginFrom(e, fmt.Sprintf("203.0.114.%d", i+1), "nobody@example.org", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	}
	want(t, loginFrom(e, "203.0.114.100", "nobody@example.org", "wrong password"), http.StatusTooManyRequests, "rate_limited")
	// The bucket refills: after a minute Alice logs in from anywhere.
	advance(time.Minute)
	want(t, loginFrom(e, "192.0.2.99", "alice@example.org", password), http.StatusOK, "")
}

// Concurrent guesses cannot overshoot the per-account cap: each takes a
// token before its password is checked.
func TestLoginLimitPerAccountConcurrent(t *testing.T) {
	t.Parallel()
	e, _ := limitedEnv(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for i := range 60 {
		wg.Go(func() {
			r := loginFrom(e, fmt.Sprintf("203.0.113.%d", i+1), "alice@example.org", "wrong password")
			if r.status == http.StatusUnauthorized {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if checked != 20 {
		t.Errorf("%d of 60 concurrent guesses were checked, want 20", checked)
	}
}

// An IPv6 client holds a /64: rotating addresses inside it is one source.
func TestLoginLimitIPv6Prefix(t *testing.T) {
	t.Parallel()
	e, _ := limitedEnv(t, nil)
	for i := range 20 { // a different unknown account each time: only the source limit applies
		want(t, loginFrom(e, fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprintf("u%d@example.org", i), "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	}
	r := loginFrom(e, "2001:db8:1:2:ffff::1", "u99@example.org", "wrong password")
	want(t, r, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(r.errBody(t).Error, "address") {
		t.Errorf("%s: want the per-address limit", r)
	}
	// The next /64 is another source.
	want(t, loginFrom(e, "2001:db8:1:3::1", "bob@example.org", password), http.StatusOK, "")
}

// A storm of wrong passwords against Alice, from TCP and from another Unix
// user on the socket, never stops Alice's correct login on the socket.
func TestLoginStormDoesNotLockOutTheSocket(t *testing.T) {
	t.Parallel()
	e, _ := limitedEnv(t, func(c *api.Config) { c.RunningAsRoot = true }) // system mode: every local user may use the socket
	for i := range 25 {
		loginFrom(e, fmt.Sprintf("203.0.113.%d", i+1), "alice@example.org", "wrong password")
	}
	want(t, loginFrom(e, "192.0.2.1", "alice@example.org", password), http.StatusTooManyRequests, "rate_limited")
	attacker, victim := e.peer(2001).URL, e.peer(1001).URL
	for i := range 25 {
		r := rawPost(t, attacker, "", "/api/auth/login", credentials("alice@example.org", "wrong password"))
		if i < 20 {
			want(t, r, http.StatusUnauthorized, "invalid_credentials")
			continue
		}
		want(t, r, http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(r.errBody(t).Error, "Unix user") {
			t.Fatalf("%s: want the attacker's own uid limit", r)
		}
	}
	want(t, rawPost(t, victim, "", "/api/auth/login", credentials("alice@example.org", password)), http.StatusOK, "")
	// Bob on TCP is not held back by either storm.
	want(t, loginFrom(e, "192.0.2.2", "bob@example.org", password), http.StatusOK, "")
}

// Probing which emails exist by registering them (409 email_taken) is cut
// off like password guessing: per address, per email and in all.
func TestRegistrationProbing(t *testing.T) {
	t.Parallel()
	reg := func(e *env, addr, email string) resp {
		return e.do(req{method: "POST", path: "/api/auth/register", body: map[string]any{"email": email, "password": "long enough pw"}, remote: addr})
	}
	t.Run("one address", func(t *testing.T) {
		t.Parallel()
		e, _ := limitedEnv(t, nil)
		users := e.userCount()
		for i := range 50 {
			r := reg(e, "203.0.113.1", fmt.Sprintf("probe%d@example.org", i))
			if i >= 20 {
				want(t, r, http.StatusTooManyRequests, "rate_limited")
				if !strings.Contains(r.errBody(t).Error, "address") {
					t.Fatalf("%s: want the per-address limit", r)
				}
			} else if r.status != http.StatusCreated {
				t.Fatalf("probe %d: %s", i, r)
			}
		}
		if n := e.userCount() - users; n != 20 {
			t.Errorf("%d accounts created, want 20", n)
		}
	})
	t.Run("many addresses", func(t *testing.T) {
		t.Parallel()
		e, _ := limitedEnv(t, nil)
		refused := 0
		for i := range 50 {
			r := reg(e, fmt.Sprintf("203.0.113.%d", i+1), fmt.Sprintf("probe%d@example.org", i))
			if r.status == http.StatusTooManyRequests {
				refused++
				if !strings.Contains(r.errBody(t).Error, "registrations") {
					t.Errorf("%s: want the server-wide registration limit", r)
				}
			} else if i >= 20 {
				t.Fatalf("probe %d from its own address: %s, want 429 before the 21st", i+1, r)
			}
		}
		if refused != 30 {
			t.Errorf("%d of 50 probes refused, want 30", refused)
		}
		// Logging in is not registering: Bob still logs in.
		want(t, loginFrom(e, "192.0.2.3", "bob@example.org", password), http.StatusOK, "")
	})
	t.Run("one email", func(t *testing.T) {
		t.Parallel()
		e, _ := limitedEnv(t, nil)
		for i := range 20 {
			want(t, reg(e, fmt.Sprintf("203.0.113.%d", i+1), "ALICE@example.org"), http.StatusConflict, "email_taken")
		}
		r := reg(e, "203.0.113.99", "alice@example.org")
		want(t, r, http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(r.errBody(t).Error, "this email") {
			t.Errorf("%s: want the per-email registration limit", r)
		}
	})
}
