package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Login and registration are limited by several token buckets, each holding
// n attempts refilled evenly over a window (a minute):
//
//   - per source: the client address on TCP (every 127.0.0.0/8 and ::1 count
//     as one address, an IPv6 /64 as one), the peer uid on the Unix socket.
//     Every attempt spends one, so one source cannot try faster than n a
//     minute, whatever it tries.
//   - per account (the normalised email): only failed logins spend it, so
//     guessing one account's password from many addresses is capped at n a
//     minute in all. A TCP attempt takes a token before the password is
//     checked and gets it back when the password is right, so concurrent
//     guesses cannot overshoot.
//   - registrations per email and in all, so probing which emails exist
//     (409 email_taken) costs what guessing passwords does.
//
// A failed login costs the attacker, not the victim:
//
//   - on the Unix socket only the peer's uid bucket applies: an empty account
//     bucket (someone guessing from TCP or from another uid) never stops a
//     correct login from another uid, and a uid can only exhaust its own.
//   - on TCP, an empty account bucket refuses only sources that have not
//     logged in to that account before: an address that logged in to it with
//     the right password in the last knownFor (at most maxKnown addresses per
//     account, kept in memory) still gets through, limited by its own source
//     bucket. So the victim logging in from their usual address is not locked
//     out by a storm from elsewhere, and an attacker gains nothing unless they
//     share the victim's address, where the per-address limit holds them to n
//     a minute as before. Every local TCP user shares the loopback address:
//     on a shared machine the socket, with a bucket per uid, is the
//     transport that keeps one user from locking out another.
//
// Buckets are in memory: a restart of rcqd fills them all again.

const (
	knownFor = 30 * 24 * time.Hour
	maxKnown = 8
)

// bucket is a token bucket: tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// rateLimiter holds every bucket of one rate: n tokens per window, at most n
// saved. Full buckets are dropped, so memory follows the recent attempts.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	known   map[string]map[string]time.Time // account key -> sources that logged in -> when
	perSec  float64
	burst   float64
	now     func() time.Time
	swept   time.Time
}

func newRateLimiter(n int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{buckets: map[string]*bucket{}, known: map[string]map[string]time.Time{},
		perSec: float64(n) / window.Seconds(), burst: float64(n), now: now}
}

// rateLimitError is a KindRateLimited error that knows when to come back.
type rateLimitError struct {
	err  *rcq.Error
	wait time.Duration
}

func (e *rateLimitError) Error() string { return e.err.Msg }

func (e *rateLimitError) Unwrap() error { return e.err }

func (e *rateLimitError) retryAfter() string {
	return strconv.Itoa(int(e.wait.Seconds()) + 1)
}

func asRateLimit(err error, target **rateLimitError) bool { return errors.As(err, target) }

// Bucket keys. A source key is addrKey or unixKey followed by the source.
const (
	addrKey     = "addr:"
	unixKey     = "unix:"
	accountKey  = "account:"  // an email: failed logins
	regEmailKey = "register:" // an email: registrations
	regAllKey   = "register"  // every registration
)

// limited is the 429 for key, to come back after wait.
func limited(key string, wait time.Duration) error {
	var what string
	switch {
	case strings.HasPrefix(key, addrKey):
		what = "too many attempts from this address"
	case strings.HasPrefix(key, unixKey):
		what = "too many attempts from this Unix user"
	case strings.HasPrefix(key, accountKey):
		what = "too many failed logins for this account"
	case strings.HasPrefix(key, regEmailKey):
		what = "too many registrations for this email"
	case key == regAllKey:
		what = "too many registrations on this server"
	default: // "user:<id>": password changes
		what = "too many attempts on this account"
	}
	return &rateLimitError{
		err:  &rcq.Error{Kind: rcq.KindRateLimited, Code: "rate_limited", Msg: what + "; try again in " + (wait.Round(time.Second) + time.Second).String()},
		wait: wait,
	}
}

// take spends one token of key, or says how long until there is one. The
// caller holds mu.
func (l *rateLimiter) take(key string, now time.Time) (time.Duration, bool) {
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b := l.fill(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.perSec * float64(time.Second)), false
}

// fill brings key's bucket up to now, creating it full.
func (l *rateLimiter) fill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.perSec)
		b.at = now
	}
	return b
}

// sweep drops full buckets and forgotten sources. The caller holds mu.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.perSec >= l.burst {
			delete(l.buckets, k)
		}
	}
	for acct, srcs := range l.known {
		for src, at := range srcs {
			if now.Sub(at) > knownFor {
				delete(srcs, src)
			}
		}
		if len(srcs) == 0 {
			delete(l.known, acct)
		}
	}
	l.swept = now
}

// allow spends one attempt of key or says how long to wait.
func (l *rateLimiter) allow(keys ...string) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if wait, ok := l.take(k, now); !ok {
			return limited(k, wait)
		}
	}
	return nil
}

// loginAttempt is one password check against an account, begun by
// beginLogin; the handler ends it with failed or succeeded.
type loginAttempt struct {
	l       *rateLimiter
	account string // bucket key
	source  string
	tcp     bool
	took    bool // took a token of the account bucket, returned on success
}

// beginLogin lets a password check against email go ahead, or refuses it
// because the account's bucket is empty and this source is not one the
// account logged in from. The source bucket was spent already (allow).
func (l *rateLimiter) beginLogin(email, source string, tcp bool) (*loginAttempt, error) {
	a := &loginAttempt{l: l, account: accountKey + email, source: source, tcp: tcp}
	if !tcp {
		return a, nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	wait, ok := l.take(a.account, now)
	if ok {
		a.took = true
		return a, nil
	}
	if at, known := l.known[a.account][source]; known && now.Sub(at) <= knownFor {
		return a, nil
	}
	return nil, limited(a.account, wait)
}

// failed charges a wrong password to the account. A token taken at the
// start stays spent; a check let through without one (the socket, a known
// source) spends one if there is one, without running into debt, so the
// lockout seen by others never grows past a window.
func (a *loginAttempt) failed() {
	if a.took {
		return
	}
	now := a.l.now()
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if b := a.l.fill(a.account, now); b.tokens >= 1 {
		b.tokens--
	}
}

// abandoned returns the account's token: the check could not be made.
func (a *loginAttempt) abandoned() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	a.giveBack(a.l.now())
}

// giveBack returns the token taken at the start, if any. The caller holds mu.
func (a *loginAttempt) giveBack(now time.Time) {
	if a.took {
		b := a.l.fill(a.account, now)
		b.tokens = min(a.l.burst, b.tokens+1)
	}
}

// succeeded returns the account's token and, on TCP, remembers the source as
// one the account logs in from.
func (a *loginAttempt) succeeded() {
	now := a.l.now()
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	a.giveBack(now)
	if !a.tcp {
		return
	}
	srcs := a.l.known[a.account]
	if srcs == nil {
		srcs = map[string]time.Time{}
		a.l.known[a.account] = srcs
	}
	srcs[a.source] = now
	for len(srcs) > maxKnown { // forget the oldest
		var oldest string
		for s, at := range srcs {
			if oldest == "" || at.Before(srcs[oldest]) {
				oldest = s
			}
		}
		delete(srcs, oldest)
	}
}

// allowRegistration spends one registration for email and one of all
// registrations. The source bucket was spent already (allow).
func (l *rateLimiter) allowRegistration(email string) error {
	return l.allow(regEmailKey+email, regAllKey)
}

// clientKey names the client for rate limiting: on the Unix socket, the
// peer's uid as rcqd recorded it; on TCP the peer's address or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For hop that is not a
// trusted proxy; addresses are grouped as sourceAddr says.
func (s *Server) clientKey(r *http.Request) string {
	if c := connInfo(r); c.Unix {
		return unixKey + c.Peer
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return addrKey + host
	}
	if !s.trusted(addr) {
		return addrKey + sourceAddr(addr)
	}
	// Each proxy appends the address it saw, so only the hops a trusted
	// proxy wrote can be believed: the client is the rightmost hop that is
	// not a trusted proxy. Anything to its left the client may have invented.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return addrKey + hop
		}
		if !s.trusted(a) {
			return addrKey + sourceAddr(a)
		}
	}
	return addrKey + sourceAddr(addr)
}

// sourceAddr groups the addresses one client can pick from freely: every
// loopback address (127.0.0.0/8 and ::1) is one machine, and an IPv6 /64 is
// what one site is routed, so rotating through either does not multiply the
// budget.
func sourceAddr(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.Is6():
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
