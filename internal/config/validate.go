package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Validate checks every key and returns the first problem as one line naming
// the key, its value (never a secret's), where it came from and what is
// accepted.
func (c *Config) Validate() error {
	for i := range keys {
		k := &keys[i]
		if k.check == nil {
			continue
		}
		if err := k.check(c, k); err != nil {
			return err
		}
	}
	return nil
}

// bad formats a validation error for k.
func (c *Config) bad(k *Key, format string, args ...any) error {
	val := ""
	if !k.Secret {
		val = " = " + show(deref(k.field(c)))
	}
	return fmt.Errorf("%s%s (from %s): %s", k.Name, val, c.Source(k.Name), fmt.Sprintf(format, args...))
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return fmtDuration(x)
	case os.FileMode:
		return fmt.Sprintf("%04o", uint32(x))
	}
	return fmt.Sprint(v)
}

func intBetween(lo, hi int) func(*Config, *Key) error {
	return func(c *Config, k *Key) error {
		n := *k.field(c).(*int)
		if n < lo || n > hi {
			return c.bad(k, "must be a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

func floatBetween(lo, hi float64) func(*Config, *Key) error {
	return func(c *Config, k *Key) error {
		f := *k.field(c).(*float64)
		if f < lo || f > hi {
			return c.bad(k, "must be a number from %g to %g", lo, hi)
		}
		return nil
	}
}

func durationBetween(lo, hi time.Duration) func(*Config, *Key) error {
	return func(c *Config, k *Key) error {
		d := *k.field(c).(*time.Duration)
		if d < lo || d > hi {
			return c.bad(k, "must be a Go duration from %s to %s, such as \"15s\" or \"720h\"", fmtDuration(lo), fmtDuration(hi))
		}
		return nil
	}
}

// checkDeadAfter: node.dead_after is a duration from scheduler.lease_ttl (a
// node's lease must have expired before it can be dead: a shorter value
// would mean the lease's TTL anyway) to a day.
func checkDeadAfter(c *Config, k *Key) error {
	lo := max(c.Scheduler.LeaseTTL, time.Second)
	if d := c.Node.DeadAfter; d < lo || d > 24*time.Hour {
		return c.bad(k, "must be a Go duration from scheduler.lease_ttl (%s) to 24h, such as \"60s\"", fmtDuration(lo))
	}
	return nil
}

// fmtDuration prints d as Go syntax without zero tails: "720h", "1h30m", "15s".
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func checkEnvironment(c *Config, k *Key) error {
	if c.Environment != "development" && c.Environment != "production" {
		return c.bad(k, `must be "development" or "production"`)
	}
	return nil
}

// maxSocketPath is the longest Unix socket path every platform accepts
// (sun_path is 108 bytes on Linux, 104 on the BSDs and macOS, with a NUL).
const maxSocketPath = 103

func checkSocket(c *Config, k *Key) error {
	if len(c.Listen.Socket) > maxSocketPath {
		return c.bad(k, "is %d bytes; a Unix socket path may have at most %d: choose a shorter --socket or RCQ_SOCKET", len(c.Listen.Socket), maxSocketPath)
	}
	return nil
}

func checkSocketMode(c *Config, k *Key) error {
	if m := c.Listen.SocketMode; m&^0o777 != 0 || m&0o600 != 0o600 {
		return c.bad(k, `must be permission bits in octal that let the owner read and write, such as "0660" or "0666"`)
	}
	if !c.root && c.Listen.SocketMode&0o077 != 0 {
		return c.bad(k, `personal mode (rcqd not running as root) serves only its own user: use "0600" or remove the setting, or run rcqd as root (system mode)`)
	}
	return nil
}

func checkOpenRegistration(c *Config, k *Key) error {
	if !c.root && c.Auth.OpenRegistration {
		return c.bad(k, "personal mode (rcqd not running as root) runs every job as its own user, so nobody else may register: remove the setting (the owner creates accounts on the socket), or run rcqd as root (system mode)")
	}
	return nil
}

func checkUnixUserFromEmail(c *Config, k *Key) error {
	if c.Auth.UnixUserFromEmail && c.Auth.OpenRegistration {
		return c.bad(k, "with auth.open_registration true (from %s) anyone could choose the Unix user their jobs run as: set auth.open_registration to false (admins then create accounts), or remove this setting",
			c.Source("auth.open_registration"))
	}
	return nil
}

func checkListen(c *Config, k *Key) error {
	a := c.Listen.Addr
	if a == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return c.bad(k, `must be host:port, such as "127.0.0.1:8080" or ":8080", or empty to turn TCP off`)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return c.bad(k, "port must be a number from 0 to 65535")
	}
	return nil
}

func checkMetricsListen(c *Config, k *Key) error {
	a := c.Metrics.Listen
	if a == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return c.bad(k, `must be host:port, such as "127.0.0.1:9090" or ":9090", or empty to serve /metrics only on the Unix socket`)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return c.bad(k, "port must be a number from 0 to 65535")
	}
	if a == c.Listen.Addr && port != "0" {
		return c.bad(k, "must not be the API's address (listen, %s): /metrics is served on a listener of its own", a)
	}
	return nil
}

func checkAllowedHosts(c *Config, k *Key) error {
	for _, h := range c.Listen.AllowedHosts {
		if !validHost(h) {
			return c.bad(k, "%q is not a host name, or name:port, such as rcq.example.org or rcq.example.org:443", h)
		}
	}
	return nil
}

// validHost accepts a DNS name or an IP address, optionally with a port.
func validHost(s string) bool {
	name, port, err := net.SplitHostPort(s)
	if err != nil {
		name, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return false
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func checkDatabaseURL(c *Config, k *Key) error {
	s := strings.TrimSpace(c.Database.URL)
	if s == "" {
		return nil
	}
	const form = "must be a PostgreSQL URL (postgres://user:password@host:5432/db) or a key=value string (host=/run/postgresql dbname=rcq), or empty for a private server"
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return c.bad(k, "%s", form)
		}
		return nil
	}
	if !strings.Contains(s, "=") {
		return c.bad(k, "%s", form)
	}
	return nil
}

func checkRunAs(c *Config, k *Key) error {
	if c.Database.URL == "" && c.root && strings.TrimSpace(c.Database.RunAs) == "" {
		return c.bad(k, "must name a system user: PostgreSQL refuses to run as root")
	}
	if c.Database.RunAs == "root" {
		return c.bad(k, "must not be root: PostgreSQL refuses to run as root")
	}
	return nil
}

// MinSecret is the shortest JWT secret rcqd accepts, in bytes, in every
// environment: a shorter one can be guessed offline from any token.
const MinSecret = 32

func checkJWTSecret(c *Config, k *Key) error {
	if n := len(c.Auth.JWTSecret); n > 0 && n < MinSecret {
		return c.bad(k, "is %d bytes; at least %d are needed: generate one with `openssl rand -base64 48`, or unset it to have rcqd generate one in %s",
			n, MinSecret, c.JWTSecretFile())
	}
	return nil
}

func checkProxies(c *Config, k *Key) error {
	for _, p := range c.Auth.TrustedProxies {
		if _, ok := proxyPrefix(p); !ok {
			return c.bad(k, "%q is neither an IP address nor a CIDR range such as 10.0.0.0/8", p)
		}
	}
	return nil
}

// proxyPrefix reads an address (as a one-address range) or a CIDR range.
func proxyPrefix(s string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	return p, err == nil
}

// ProxyPrefixes is TrustedProxies as ranges (Validate has checked each).
func (a Auth) ProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range a.TrustedProxies {
		if p, ok := proxyPrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}

func checkFairShareMin(c *Config, k *Key) error {
	if f := c.Scheduler.FairShareMin; f <= 0 || f > 1 {
		return c.bad(k, "must be a number above 0 and at most 1")
	}
	return nil
}

func checkFairShareMax(c *Config, k *Key) error {
	if f := c.Scheduler.FairShareMax; f < 1 || f > 1000 {
		return c.bad(k, "must be a number from 1 to 1000")
	}
	return nil
}

func checkDefaultHours(c *Config, k *Key) error {
	j := c.Jobs
	if j.DefaultEstimatedHours <= 0 || j.DefaultEstimatedHours > j.MaxEstimatedHours {
		return c.bad(k, "must be above 0 and at most jobs.max_estimated_hours (%g)", j.MaxEstimatedHours)
	}
	return nil
}

func checkNode(c *Config, k *Key) error {
	// The node's own worker carries its name.
	if err := rcq.CheckWorkerName(c.Node.Name); err != nil {
		return c.bad(k, "%s", strings.TrimPrefix(rcq.MessageOf(err), "name: "))
	}
	return nil
}

func checkWorkers(c *Config, k *Key) error {
	seen := map[string]bool{c.Node.Name: true}
	for i, w := range c.Workers {
		where := fmt.Sprintf("%s[%d] (from %s)", k.Name, i, c.Source(k.Name))
		switch {
		case w.Name == "":
			return fmt.Errorf("%s: has no name: give each worker a name", where)
		case rcq.CheckWorkerName(w.Name) != nil:
			return fmt.Errorf("%s: name %q %s", where, w.Name, strings.TrimPrefix(rcq.MessageOf(rcq.CheckWorkerName(w.Name)), "name: "))
		case seen[w.Name]:
			return fmt.Errorf("%s: name %q is used twice (node.name counts too): give each worker its own name", where, w.Name)
		}
		if err := rcq.DefaultLimits.CheckCapacity(rcq.Resources{CPUCores: w.CPUCores, MemoryGB: w.MemoryGB, GPUs: w.GPUCount}); err != nil {
			field, rule, _ := strings.Cut(rcq.MessageOf(err), ": ")
			return fmt.Errorf("%s: worker %q: %s %s", where, w.Name, field, rule)
		}
		if w.MemoryGB == 0 {
			// As rcq-admin worker create --mem: a worker of 0 GB would
			// take no job (each asks for 1 GB or more), silently.
			return fmt.Errorf("%s: worker %q: memory_gb is missing: give its memory in GB, at least 1 (every job asks for 1 GB or more)", where, w.Name)
		}
		seen[w.Name] = true
	}
	return nil
}

func checkLogLevel(c *Config, k *Key) error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
		return nil
	}
	return c.bad(k, "must be debug, info, warn or error")
}

func checkLogFormat(c *Config, k *Key) error {
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return c.bad(k, "must be text or json")
	}
	return nil
}
