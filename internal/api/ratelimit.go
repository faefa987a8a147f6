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

	"golang.org/x/time/rate"

	"github.com/rcq-project/rcq/internal/rcq"
)

// rateLimiter allows n attempts per window per client address (a token
// bucket refilled evenly). Idle buckets are dropped so memory stays bounded.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	every   rate.Limit
	burst   int
	now     func() time.Time
	swept   time.Time
}

func newRateLimiter(n int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{buckets: map[string]*rate.Limiter{}, every: rate.Limit(float64(n) / window.Seconds()), burst: n, now: now}
}

// rateLimitError is a KindRateLimited error that knows when to come back.
type rateLimitError struct {
	err  *rcq.Error
	wait time.Duration
}

func (e *rateLimitError) Error() string { return e.err.Msg }

func (e *rateLimitError) retryAfter() string {
	return strconv.Itoa(int(e.wait.Seconds()) + 1)
}

func asRateLimit(err error, target **rateLimitError) bool { return errors.As(err, target) }

// allow spends one attempt of key or says how long to wait.
func (l *rateLimiter) allow(key string) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return &rateLimitError{
			err:  &rcq.Error{Kind: rcq.KindRateLimited, Code: "rate_limited", Msg: "too many attempts from this address; try again in " + (d.Round(time.Second) + time.Second).String()},
			wait: d,
		}
	}
	return nil
}

func (e *rateLimitError) Unwrap() error { return e.err }

// clientKey names the client for rate limiting: the peer's address, or,
// when the peer is a trusted proxy, the rightmost X-Forwarded-For hop that is
// not a trusted proxy; for the Unix socket, the peer's uid as rcqd recorded
// it.
func (s *Server) clientKey(r *http.Request) string {
	if c := connInfo(r); c.Unix {
		return "unix:" + c.Peer
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !s.trusted(addr) {
		return addr.Unmap().String()
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
			return hop
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return addr.Unmap().String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
