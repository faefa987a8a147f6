package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/rcq-project/rcq/internal/rcq"
)

// env is a fake environment.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// setup is one Load call's inputs.
type setup struct {
	env  env      // HOME is added when missing
	args []string // rcqd's command line
	file string   // configuration file contents; "" for none
	root bool
}

// load runs Load in a sandbox: a fake HOME, no default configuration
// files from the machine, the file (if any) passed with --config.
func load(t *testing.T, s setup) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	e := env{"HOME": "/home/t"} // only names paths; nothing is written there
	for k, v := range s.env {
		e[k] = v
	}
	fs := pflag.NewFlagSet("rcqd", pflag.ContinueOnError)
	BindFlags(fs)
	args := s.args
	if s.file != "" {
		p := filepath.Join(dir, "rcqd.yaml")
		if err := os.WriteFile(p, []byte(s.file), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", p}, args...)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return Load(LoadOptions{
		Flags:       fs,
		LookupEnv:   e.lookup,
		Root:        func() bool { return s.root },
		SearchPaths: []string{filepath.Join(dir, "absent.yaml")},
	})
}

func mustLoad(t *testing.T, s setup) *Config {
	t.Helper()
	c, err := load(t, s)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, setup{env: env{"HOME": "/home/ada"}})
	host, _ := os.Hostname()
	want := &Config{
		Environment: "development",
		StateDir:    "/home/ada/.local/state/rcq",
		Database:    Database{URL: "", RunAs: "postgres", MaxConns: 10},
		// Personal mode: socket for the owner only, TCP off, registration closed.
		Listen: Listen{Socket: "/home/ada/.local/state/rcq/rcqd.sock", SocketMode: 0o600, Addr: "", AllowedHosts: []string{}},
		Auth: Auth{JWTExpiryHours: 24, BcryptCost: 12, OpenRegistration: false, TrustedProxies: []string{},
			LoginRateLimitPerMinute: 20},
		Scheduler: Scheduler{IntervalSeconds: 30, MaxConcurrentJobs: 10, FairShareWindow: 720 * time.Hour,
			WaitBoostPerHour: 0.01, WaitBoostCap: 1.5, FairShareMin: 0.5, FairShareMax: 2, LeaseTTL: 15 * time.Second},
		Jobs: Jobs{DefaultEstimatedHours: 1, MaxEstimatedHours: 720, MaxScriptBytes: 1 << 20, KillGraceSeconds: 30,
			DefaultMemoryGB: 1, MaxPathBytes: 4096, MaxNameBytes: 200, MaxDependencies: 100, MaxArraySize: 100_000, MaxPendingPerUser: 10_000,
			MaxPendingTotal: 100_000, MaxBatchesPerUser: 2, MaxPageSize: 10_000, MaxPids: 4096,
			StartTimeout: time.Minute, RequeueArrayElements: true,
			LogDirectory: "/home/ada/.local/state/rcq/logs"},
		Node:    Node{Name: host, DeadAfter: time.Minute},
		Workers: []WorkerConfig{},
		Log:     Log{Level: "info", Format: "text"},
		Audit:   Audit{Retention: 365 * 24 * time.Hour},
	}
	c.src, want.src = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.Interval() != 30*time.Second || c.JWTExpiry() != 24*time.Hour || c.KillGrace() != 30*time.Second {
		t.Errorf("durations: %v %v %v", c.Interval(), c.JWTExpiry(), c.KillGrace())
	}
	if c.JWTSecretFile() != "/home/ada/.local/state/rcq/jwt-secret" {
		t.Errorf("JWTSecretFile = %s", c.JWTSecretFile())
	}
	if got := c.Limits(); got != rcq.DefaultLimits {
		t.Errorf("Limits = %+v, want rcq.DefaultLimits %+v", got, rcq.DefaultLimits)
	}
}

func TestMachineDefaults(t *testing.T) {
	tests := []struct {
		name             string
		env              env
		root             bool
		state, sock, log string
	}{
		{"user with XDG directories",
			env{"HOME": "/home/ada", "XDG_STATE_HOME": "/xdg/state", "XDG_RUNTIME_DIR": "/run/user/1000"}, false,
			"/xdg/state/rcq", "/run/user/1000/rcq/rcqd.sock", "/xdg/state/rcq/logs"},
		{"user without XDG_RUNTIME_DIR",
			env{"HOME": "/home/ada"}, false,
			"/home/ada/.local/state/rcq", "/home/ada/.local/state/rcq/rcqd.sock", "/home/ada/.local/state/rcq/logs"},
		{"relative XDG values are ignored",
			env{"HOME": "/home/ada", "XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "run"}, false,
			"/home/ada/.local/state/rcq", "/home/ada/.local/state/rcq/rcqd.sock", "/home/ada/.local/state/rcq/logs"},
		{"root", env{"HOME": "/root", "XDG_STATE_HOME": "/xdg/state", "XDG_RUNTIME_DIR": "/run/user/0"}, true,
			"/var/lib/rcq", "/run/rcq/rcqd.sock", "/var/lib/rcq/logs"},
		{"root with a state directory: the socket stays in /run",
			env{"RCQ_STATE_DIR": "/srv/rcq"}, true,
			"/srv/rcq", "/run/rcq/rcqd.sock", "/srv/rcq/logs"},
		{"state directory set, no XDG_RUNTIME_DIR: socket follows it",
			env{"RCQ_STATE_DIR": "/srv/rcq"}, false,
			"/srv/rcq", "/srv/rcq/rcqd.sock", "/srv/rcq/logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, setup{env: tt.env, root: tt.root})
			if c.StateDir != tt.state || c.Listen.Socket != tt.sock || c.Jobs.LogDirectory != tt.log {
				t.Errorf("state %s, socket %s, logs %s; want %s, %s, %s",
					c.StateDir, c.Listen.Socket, c.Jobs.LogDirectory, tt.state, tt.sock, tt.log)
			}
			if c.Root() != tt.root {
				t.Errorf("Root() = %v", c.Root())
			}
		})
	}
}

func TestNoHome(t *testing.T) {
	_, err := Load(LoadOptions{LookupEnv: env{}.lookup, Root: func() bool { return false }, SearchPaths: []string{}})
	if err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Fatalf("Load without HOME: %v; want an error pointing at --state-dir", err)
	}
	c, err := Load(LoadOptions{LookupEnv: env{"RCQ_STATE_DIR": "/srv/rcq"}.lookup, Root: func() bool { return false }, SearchPaths: []string{}})
	if err != nil || c.StateDir != "/srv/rcq" {
		t.Fatalf("Load with RCQ_STATE_DIR and no HOME: %v, %v", c, err)
	}
}

func TestPrecedence(t *testing.T) {
	file := `
state_dir: /file/state
listen: 10.0.0.1:1111
database:
  url: postgres://file@db/rcq
log:
  level: warn
scheduler:
  max_concurrent_jobs: 3
  lease_ttl: 20s
`
	envAll := env{
		"RCQ_STATE_DIR": "/env/state", "RCQ_LISTEN": "10.0.0.2:2222", "RCQ_DATABASE_URL": "postgres://env@db/rcq",
		"RCQ_LOG_LEVEL": "error", "MAX_CONCURRENT_JOBS": "4", "RCQ_SCHEDULER_LEASE_TTL": "30s",
	}
	flagsAll := []string{"--state-dir", "/flag/state", "--listen", "10.0.0.3:3333",
		"--database-url", "postgres://flag@db/rcq", "--log-level", "debug"}

	type got struct {
		state, listen, url, level string
		jobs                      int
		lease                     time.Duration
	}
	tests := []struct {
		name string
		s    setup
		want got
		src  string // Source("listen")
	}{
		{"defaults", setup{}, got{"", "", "", "info", 10, 15 * time.Second}, "default"},
		{"file beats defaults", setup{file: file},
			got{"/file/state", "10.0.0.1:1111", "postgres://file@db/rcq", "warn", 3, 20 * time.Second}, "file "},
		{"environment beats file", setup{file: file, env: envAll},
			got{"/env/state", "10.0.0.2:2222", "postgres://env@db/rcq", "error", 4, 30 * time.Second}, "env RCQ_LISTEN"},
		{"flags beat environment", setup{file: file, env: envAll, args: flagsAll},
			got{"/flag/state", "10.0.0.3:3333", "postgres://flag@db/rcq", "debug", 4, 30 * time.Second}, "flag --listen"},
		{"flags beat file", setup{file: file, args: flagsAll},
			got{"/flag/state", "10.0.0.3:3333", "postgres://flag@db/rcq", "debug", 3, 20 * time.Second}, "flag --listen"},
		{"flags beat defaults", setup{args: flagsAll},
			got{"/flag/state", "10.0.0.3:3333", "postgres://flag@db/rcq", "debug", 10, 15 * time.Second}, "flag --listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.s)
			g := got{c.StateDir, c.Listen.Addr, c.Database.URL, c.Log.Level, c.Scheduler.MaxConcurrentJobs, c.Scheduler.LeaseTTL}
			if tt.want.state == "" { // the default, under the sandbox's HOME
				tt.want.state = g.state
				if g.state != "/home/t/.local/state/rcq" {
					t.Errorf("state dir %s is not the default", g.state)
				}
			}
			if g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
			if src := c.Source("listen"); !strings.HasPrefix(src, tt.src) {
				t.Errorf("Source(listen) = %q, want %q...", src, tt.src)
			}
		})
	}
}

func TestSeedNames(t *testing.T) {
	c := mustLoad(t, setup{env: env{
		"DATABASE_URL":               "postgres://rcq:pw@db.example:5432/rcq",
		"PORT":                       "9000",
		"ENVIRONMENT":                "production",
		"JWT_SECRET":                 strings.Repeat("s", 40),
		"JWT_EXPIRY_HOURS":           "8",
		"SCHEDULER_INTERVAL_SECONDS": "5",
		"MAX_CONCURRENT_JOBS":        "64",
		"LOG_DIRECTORY":              "/data/logs",
		"OUTPUT_DIRECTORY":           "/data/out",
	}})
	got := []any{c.Database.URL, c.Listen.Addr, c.Environment, c.Auth.JWTSecret, c.Auth.JWTExpiryHours,
		c.Scheduler.IntervalSeconds, c.Scheduler.MaxConcurrentJobs, c.Jobs.LogDirectory, c.Jobs.OutputDirectory, c.Log.Format}
	want := []any{"postgres://rcq:pw@db.example:5432/rcq", "127.0.0.1:9000", "production", strings.Repeat("s", 40), 8,
		5, 64, "/data/logs", "/data/out", "json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if !c.Production() {
		t.Error("Production() false")
	}
}

func TestRCQBeatsPlain(t *testing.T) {
	tests := []struct {
		rcqName, rcqVal, plain, plainVal string
		get                              func(*Config) any
		want                             any
	}{
		{"RCQ_DATABASE_URL", "postgres://a@h/x", "DATABASE_URL", "postgres://b@h/x", func(c *Config) any { return c.Database.URL }, "postgres://a@h/x"},
		{"RCQ_LISTEN", "127.0.0.1:7000", "PORT", "9000", func(c *Config) any { return c.Listen.Addr }, "127.0.0.1:7000"},
		{"RCQ_ENVIRONMENT", "development", "ENVIRONMENT", "production", func(c *Config) any { return c.Environment }, "development"},
		{"RCQ_JWT_SECRET", rcqSecret, "JWT_SECRET", "plain-secret-" + rcqSecret, func(c *Config) any { return c.Auth.JWTSecret }, rcqSecret},
		{"RCQ_AUTH_JWT_SECRET", rcqSecret, "RCQ_JWT_SECRET", "alias-secret-" + rcqSecret, func(c *Config) any { return c.Auth.JWTSecret }, rcqSecret},
		{"RCQ_AUTH_JWT_EXPIRY_HOURS", "2", "JWT_EXPIRY_HOURS", "3", func(c *Config) any { return c.Auth.JWTExpiryHours }, 2},
		{"RCQ_SCHEDULER_INTERVAL_SECONDS", "7", "SCHEDULER_INTERVAL_SECONDS", "8", func(c *Config) any { return c.Scheduler.IntervalSeconds }, 7},
		{"RCQ_SCHEDULER_MAX_CONCURRENT_JOBS", "11", "MAX_CONCURRENT_JOBS", "12", func(c *Config) any { return c.Scheduler.MaxConcurrentJobs }, 11},
		{"RCQ_JOBS_LOG_DIRECTORY", "/rcq/logs", "LOG_DIRECTORY", "/plain/logs", func(c *Config) any { return c.Jobs.LogDirectory }, "/rcq/logs"},
		{"RCQ_JOBS_OUTPUT_DIRECTORY", "/rcq/out", "OUTPUT_DIRECTORY", "/plain/out", func(c *Config) any { return c.Jobs.OutputDirectory }, "/rcq/out"},
	}
	for _, tt := range tests {
		t.Run(tt.rcqName, func(t *testing.T) {
			c := mustLoad(t, setup{env: env{tt.rcqName: tt.rcqVal, tt.plain: tt.plainVal}})
			if got := tt.get(c); got != tt.want {
				t.Errorf("with %s and %s set: %v, want %v", tt.rcqName, tt.plain, got, tt.want)
			}
			if src := c.Source(keyOfEnv(tt.rcqName)); src != "env "+tt.rcqName {
				t.Errorf("Source = %q", src)
			}
			// The plain name alone works too.
			c = mustLoad(t, setup{env: env{tt.plain: tt.plainVal}})
			if got := tt.get(c); got == tt.want {
				t.Errorf("with only %s set the value is still %v", tt.plain, got)
			}
		})
	}
}

func keyOfEnv(name string) string {
	for _, k := range keys {
		for _, e := range k.Env {
			if e == name {
				return k.Name
			}
		}
	}
	return ""
}

func TestListenAndPort(t *testing.T) {
	tests := []struct {
		name string
		s    setup
		want string
	}{
		{"PORT", setup{env: env{"PORT": "9000"}}, "127.0.0.1:9000"},
		{"PORT beats the file", setup{env: env{"PORT": "9000"}, file: "listen: 0.0.0.0:80\n"}, "127.0.0.1:9000"},
		{"--listen beats PORT", setup{env: env{"PORT": "9000"}, args: []string{"--listen", ":7000"}}, ":7000"},
		{"empty RCQ_LISTEN turns TCP off", setup{env: env{"RCQ_LISTEN": ""}}, ""},
		{"empty RCQ_LISTEN beats PORT", setup{env: env{"RCQ_LISTEN": "", "PORT": "9000"}}, ""},
		{"empty PORT is unset", setup{env: env{"PORT": ""}, root: true}, "127.0.0.1:8080"},
		{"empty PORT is unset: personal mode's default", setup{env: env{"PORT": ""}}, ""},
		{"empty --listen turns TCP off", setup{args: []string{"--listen="}, env: env{"RCQ_LISTEN": "127.0.0.1:1"}}, ""},
		{"empty listen in the file turns TCP off", setup{file: "listen: \"\"\n"}, ""},
		{"port 0 picks a free port", setup{env: env{"RCQ_LISTEN": "127.0.0.1:0"}}, "127.0.0.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := mustLoad(t, tt.s); c.Listen.Addr != tt.want {
				t.Errorf("Listen.Addr = %q, want %q", c.Listen.Addr, tt.want)
			}
		})
	}
}

func TestEmptyEnvironmentValues(t *testing.T) {
	c := mustLoad(t, setup{env: env{"MAX_CONCURRENT_JOBS": "", "RCQ_LOG_LEVEL": "", "ENVIRONMENT": "", "RCQ_DATABASE_URL": "", "DATABASE_URL": "postgres://x@h/db"}})
	if c.Scheduler.MaxConcurrentJobs != 10 || c.Log.Level != "info" || c.Environment != "development" {
		t.Errorf("empty variables changed numbers or names: %d %q %q", c.Scheduler.MaxConcurrentJobs, c.Log.Level, c.Environment)
	}
	if c.Database.URL != "" {
		t.Errorf("an empty RCQ_DATABASE_URL should select the private server over DATABASE_URL, got %q", c.Database.URL)
	}
}

// A configured JWT secret shorter than 32 bytes is refused in every
// environment with one line naming the key, where it came from and the
// minimum, never the secret: a 3-byte secret is guessed from one token.
func TestShortSecretRefused(t *testing.T) {
	for _, e := range []env{
		{"JWT_SECRET": "abc"},
		{"ENVIRONMENT": "production", "JWT_SECRET": "abc"},
	} {
		_, err := load(t, setup{env: e})
		if err == nil {
			t.Fatalf("%v: a 3-byte JWT secret was accepted", e)
		}
		msg := err.Error()
		for _, want := range []string{"auth.jwt_secret", "env JWT_SECRET", "3 bytes", "at least 32"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
		}
		if strings.Contains(msg, "abc") || strings.Contains(msg, "\n") {
			t.Errorf("error %q shows the secret or is not one line", msg)
		}
	}
	// 32 bytes, or none (generated), are taken anywhere.
	for _, e := range []env{
		{"JWT_SECRET": strings.Repeat("k", 32)},
		{"ENVIRONMENT": "production", "JWT_SECRET": strings.Repeat("k", 32)},
		{"ENVIRONMENT": "production"},
	} {
		if _, err := load(t, setup{env: e}); err != nil {
			t.Errorf("%v: %v", e, err)
		}
	}
}

// rcqSecret is a JWT secret long enough to be accepted.
const rcqSecret = "rcq-secret-0123456789abcdef0123456789"

func TestInvalidValues(t *testing.T) {
	long := "/" + strings.Repeat("s", 120) + "/rcqd.sock"
	tests := []struct {
		name string
		s    setup
		want []string // substrings of the error
	}{
		{"negative MAX_CONCURRENT_JOBS", setup{env: env{"MAX_CONCURRENT_JOBS": "-1"}},
			[]string{"scheduler.max_concurrent_jobs = -1", "env MAX_CONCURRENT_JOBS", "whole number from 1"}},
		{"MAX_CONCURRENT_JOBS not a number", setup{env: env{"MAX_CONCURRENT_JOBS": "ten"}},
			[]string{`MAX_CONCURRENT_JOBS="ten"`, "whole number"}},
		{"interval zero", setup{env: env{"SCHEDULER_INTERVAL_SECONDS": "0"}}, []string{"scheduler.interval_seconds = 0"}},
		{"duration without a unit", setup{env: env{"RCQ_SCHEDULER_LEASE_TTL": "15"}}, []string{"RCQ_SCHEDULER_LEASE_TTL", "Go duration", `"15s"`}},
		{"bad duration", setup{env: env{"RCQ_SCHEDULER_FAIR_SHARE_WINDOW": "a month"}}, []string{"RCQ_SCHEDULER_FAIR_SHARE_WINDOW", "Go duration"}},
		{"negative duration", setup{env: env{"RCQ_SCHEDULER_FAIR_SHARE_HALF_LIFE": "-1h"}}, []string{"scheduler.fair_share_half_life = -1h ", "from 0 to"}},
		{"environment", setup{env: env{"ENVIRONMENT": "staging"}}, []string{`environment = "staging"`, `"development" or "production"`}},
		{"listen", setup{env: env{"RCQ_LISTEN": "localhost"}}, []string{`listen = "localhost"`, "host:port"}},
		{"listen port", setup{args: []string{"--listen", "127.0.0.1:99999"}}, []string{"flag --listen", "0 to 65535"}},
		{"PORT", setup{env: env{"PORT": "http"}}, []string{`PORT="http"`, "port number"}},
		{"socket mode", setup{env: env{"RCQ_SOCKET_MODE": "999"}}, []string{"RCQ_SOCKET_MODE", "octal"}},
		{"socket mode without owner access", setup{env: env{"RCQ_SOCKET_MODE": "0066"}}, []string{"socket_mode = 0066", "owner"}},
		{"socket path too long", setup{env: env{"RCQ_SOCKET": long}}, []string{"socket", "at most 103"}},
		{"trusted proxy", setup{env: env{"RCQ_AUTH_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"}}, []string{`"proxy.example"`, "CIDR"}},
		{"allowed host with a scheme", setup{env: env{"RCQ_ALLOWED_HOSTS": "rcq.example.org, https://rcq.example.org"}}, []string{"allowed_hosts", `"https://rcq.example.org"`, "name:port"}},
		{"allowed host wildcard", setup{file: "allowed_hosts: [\"*.example.org\"]\n"}, []string{"allowed_hosts", `"*.example.org"`}},
		{"allowed host port", setup{file: "allowed_hosts: [\"rcq.example.org:0\"]\n"}, []string{"allowed_hosts", `"rcq.example.org:0"`}},
		{"database url scheme", setup{env: env{"DATABASE_URL": "mysql://root@db/rcq"}}, []string{"database.url (from env DATABASE_URL)", "postgres://"}},
		{"database url garbage", setup{env: env{"DATABASE_URL": "db.example"}}, []string{"database.url", "key=value"}},
		{"run as root", setup{root: true, file: "database:\n  run_as: root\n"}, []string{"database.run_as", "must not be root"}},
		{"login rate limit", setup{env: env{"RCQ_AUTH_LOGIN_RATE_LIMIT_PER_MINUTE": "0"}}, []string{"auth.login_rate_limit_per_minute = 0", "from 1"}},
		{"bcrypt cost", setup{env: env{"RCQ_AUTH_BCRYPT_COST": "3"}}, []string{"auth.bcrypt_cost = 3", "4 to 31"}},
		{"bool", setup{env: env{"RCQ_AUTH_OPEN_REGISTRATION": "maybe"}}, []string{"RCQ_AUTH_OPEN_REGISTRATION", "true or false"}},
		{"float", setup{env: env{"RCQ_SCHEDULER_WAIT_BOOST_CAP": "NaN"}}, []string{"RCQ_SCHEDULER_WAIT_BOOST_CAP", "finite"}},
		{"fair share min", setup{env: env{"RCQ_SCHEDULER_FAIR_SHARE_MIN": "0"}}, []string{"scheduler.fair_share_min = 0"}},
		{"default hours above the maximum", setup{env: env{"RCQ_JOBS_DEFAULT_ESTIMATED_HOURS": "1000"}}, []string{"jobs.default_estimated_hours = 1000", "at most jobs.max_estimated_hours (720)"}},
		{"max hours overflow", setup{env: env{"RCQ_JOBS_MAX_ESTIMATED_HOURS": "1e12"}}, []string{"jobs.max_estimated_hours"}},
		{"log level", setup{args: []string{"--log-level", "loud"}}, []string{`log.level = "loud" (from flag --log-level)`, "debug, info, warn or error"}},
		{"log format", setup{env: env{"RCQ_LOG_FORMAT": "xml"}}, []string{"log.format", "text or json"}},
		{"metrics listen", setup{env: env{"RCQ_METRICS_LISTEN": "9090"}}, []string{`metrics.listen = "9090"`, "host:port"}},
		{"metrics listen on the API's address", setup{env: env{"RCQ_LISTEN": "127.0.0.1:8181", "RCQ_METRICS_LISTEN": "127.0.0.1:8181"}}, []string{"metrics.listen", "the API's address"}},
		{"node name", setup{env: env{"RCQ_NODE_NAME": "my node"}}, []string{"node.name", "without spaces"}},
		{"negative node cores", setup{env: env{"RCQ_NODE_CPU_CORES": "-2"}}, []string{"node.cpu_cores = -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.s)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	c := mustLoad(t, setup{root: true, file: `
environment: production
socket_mode: 0660
allowed_hosts: [rcq.example.org, "rcq.example.org:443", "10.0.0.5"]
auth:
  jwt_secret: "0123456789abcdef0123456789abcdef"
  open_registration: false
  trusted_proxies: [10.0.0.0/8, 192.168.1.1]
scheduler:
  fair_share_window: 48h
  fair_share_half_life: 12h
  wait_boost_per_hour: 0.5
node:
  name: head
  cpu_cores: 8
workers:
  - name: gpu-a
    cpu_cores: 16
    memory_gb: 64
    gpu_count: 4
  - name: small
    cpu_cores: 2
    memory_gb: 4
`})
	if c.Listen.SocketMode != 0o660 || c.Auth.OpenRegistration || c.Scheduler.FairShareWindow != 48*time.Hour ||
		c.Scheduler.FairShareHalfLife != 12*time.Hour || c.Scheduler.WaitBoostPerHour != 0.5 || c.Log.Format != "json" {
		t.Errorf("file values not applied: %+v", c)
	}
	if !reflect.DeepEqual(c.Listen.AllowedHosts, []string{"rcq.example.org", "rcq.example.org:443", "10.0.0.5"}) {
		t.Errorf("allowed hosts = %q", c.Listen.AllowedHosts)
	}
	if !reflect.DeepEqual(c.Auth.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}) {
		t.Errorf("trusted proxies = %q", c.Auth.TrustedProxies)
	}
	if c.Node != (Node{Name: "head", CPUCores: 8, DeadAfter: time.Minute}) {
		t.Errorf("node = %+v", c.Node)
	}
	want := []WorkerConfig{{"gpu-a", 16, 64, 4}, {"small", 2, 4, 0}}
	if !reflect.DeepEqual(c.Workers, want) {
		t.Errorf("workers = %+v, want %+v", c.Workers, want)
	}
	if !strings.HasPrefix(c.Source("workers"), "file /") || c.File == "" {
		t.Errorf("Source(workers) = %q, File = %q", c.Source("workers"), c.File)
	}
	// The socket mode as a quoted string, and trusted proxies from the environment.
	c = mustLoad(t, setup{root: true, file: "socket_mode: \"0640\"\n", env: env{"RCQ_AUTH_TRUSTED_PROXIES": "10.1.0.0/16, ::1"}})
	if c.Listen.SocketMode != 0o640 || !reflect.DeepEqual(c.Auth.TrustedProxies, []string{"10.1.0.0/16", "::1"}) {
		t.Errorf("socket mode %o, proxies %q", c.Listen.SocketMode, c.Auth.TrustedProxies)
	}
	c = mustLoad(t, setup{env: env{"RCQ_ALLOWED_HOSTS": "rcq.example.org, [::1]:8080"}})
	if !reflect.DeepEqual(c.Listen.AllowedHosts, []string{"rcq.example.org", "[::1]:8080"}) {
		t.Errorf("allowed hosts from the environment = %q", c.Listen.AllowedHosts)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown key", "max_concurrent_jobs: 5\n", []string{`unknown key "max_concurrent_jobs"`, `did you mean "scheduler.max_concurrent_jobs"`}},
		{"unknown section key", "scheduler:\n  intervall_seconds: 5\n", []string{`unknown key "scheduler.intervall_seconds"`}},
		{"not YAML", "scheduler: [1, 2\n", []string{"config file", "yaml"}},
		{"wrong type", "scheduler:\n  interval_seconds: often\n", []string{"scheduler.interval_seconds (from file ", "whole number"}},
		{"duration as a bare number", "scheduler:\n  lease_ttl: 15\n", []string{"scheduler.lease_ttl", "Go duration"}},
		{"dead_after below the lease ttl", "scheduler:\n  lease_ttl: 20s\nnode:\n  dead_after: 10s\n", []string{"node.dead_after", "scheduler.lease_ttl (20s)"}},
		{"start_timeout too short", "jobs:\n  start_timeout: 1s\n", []string{"jobs.start_timeout", "Go duration from 5s"}},
		{"socket mode in decimal", "socket_mode: 660\n", []string{"socket_mode", "octal"}},
		{"worker without a name", "workers:\n  - cpu_cores: 4\n", []string{"workers[0]", "no name"}},
		{"worker with zero cores", "workers:\n  - name: w1\n    cpu_cores: 0\n", []string{`worker "w1"`, "cpu_cores must be a whole number from 1"}},
		{"worker without memory", "workers:\n  - {name: w1, cpu_cores: 2}\n", []string{`worker "w1"`, "memory_gb is missing", "at least 1"}},
		{"worker of 0 GB", "workers:\n  - {name: w1, cpu_cores: 2, memory_gb: 0}\n", []string{`worker "w1"`, "memory_gb is missing"}},
		{"worker named twice", "workers:\n  - {name: w1, cpu_cores: 1, memory_gb: 1}\n  - {name: w1, cpu_cores: 2, memory_gb: 1}\n", []string{`"w1" is used twice`}},
		{"worker named like the node", "node:\n  name: head\nworkers:\n  - {name: head, cpu_cores: 1, memory_gb: 1}\n", []string{`"head" is used twice`}},
		{"worker with an unknown key", "workers:\n  - {name: w1, cpus: 4}\n", []string{`unknown key "cpus"`}},
		{"workers not a list", "workers: 3\n", []string{"workers", "list"}},
		{"unknown empty key", "bogus:\n", []string{`unknown key "bogus"`}},
		{"section given a value", "scheduler: 4\n", []string{`"scheduler" must be a section`}},
		{"key without a value", "scheduler:\n  interval_seconds:\n", []string{"scheduler.interval_seconds (from file ", "has no value", "default (30)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, setup{file: tt.file})
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestConfigFileEmptyValues(t *testing.T) {
	// Sections whose keys are all commented out, and empty values where ""
	// means something, are fine.
	c := mustLoad(t, setup{file: "scheduler:\n#  interval_seconds: 5\njobs: {}\nlisten:\nworkers:\n", env: env{"MAX_CONCURRENT_JOBS": "4"}})
	if c.Scheduler.IntervalSeconds != 30 || c.Scheduler.MaxConcurrentJobs != 4 || c.Listen.Addr != "" || len(c.Workers) != 0 {
		t.Errorf("got interval %d, jobs %d, listen %q, workers %v", c.Scheduler.IntervalSeconds, c.Scheduler.MaxConcurrentJobs, c.Listen.Addr, c.Workers)
	}
}

func TestConfigFileSearch(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	xdg := filepath.Join(dir, "xdg")
	system := filepath.Join(dir, "etc", "rcqd.yaml")
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loadWith := func(e env, explicit string) (*Config, error) {
		e["HOME"] = home
		var paths []string
		for _, p := range defaultSearchPaths(e.lookup) {
			if p == SystemConfigFile {
				p = system
			}
			paths = append(paths, p)
		}
		return Load(LoadOptions{ConfigFile: explicit, LookupEnv: e.lookup, Root: func() bool { return false }, SearchPaths: paths})
	}
	// No file anywhere: fine.
	c, err := loadWith(env{}, "")
	if err != nil || c.File != "" {
		t.Fatalf("no file: %v, %q", err, c.File)
	}
	write(system, "node:\n  name: from-etc\n")
	if c, err = loadWith(env{}, ""); err != nil || c.Node.Name != "from-etc" || c.File != system {
		t.Fatalf("system file: %v, %+v", err, c)
	}
	write(filepath.Join(home, ".config", "rcq", "rcqd.yaml"), "node:\n  name: from-home\n")
	if c, err = loadWith(env{}, ""); err != nil || c.Node.Name != "from-home" {
		t.Fatalf("~/.config file: %v, %+v", err, c)
	}
	write(filepath.Join(xdg, "rcq", "rcqd.yaml"), "node:\n  name: from-xdg\n")
	if c, err = loadWith(env{"XDG_CONFIG_HOME": xdg}, ""); err != nil || c.Node.Name != "from-xdg" {
		t.Fatalf("XDG_CONFIG_HOME file: %v, %+v", err, c)
	}
	explicit := filepath.Join(dir, "mine.conf") // any extension: always YAML
	write(explicit, "node:\n  name: explicit\n")
	if c, err = loadWith(env{"XDG_CONFIG_HOME": xdg}, explicit); err != nil || c.Node.Name != "explicit" {
		t.Fatalf("explicit file: %v, %+v", err, c)
	}
	if c, err = loadWith(env{"RCQ_CONFIG": explicit}, ""); err != nil || c.Node.Name != "explicit" {
		t.Fatalf("RCQ_CONFIG: %v, %+v", err, c)
	}
	missing := filepath.Join(dir, "missing.yaml")
	if _, err = loadWith(env{}, missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing --config file: %v", err)
	}
	if _, err = loadWith(env{"RCQ_CONFIG": missing}, ""); err == nil || !strings.Contains(err.Error(), "RCQ_CONFIG") {
		t.Fatalf("missing RCQ_CONFIG file: %v", err)
	}
}

func TestPaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, setup{args: []string{"--state-dir", "rel/state"}, env: env{"HOME": "/home/ada", "OUTPUT_DIRECTORY": "~/out", "RCQ_SOCKET": "~/rcqd.sock"}})
	if c.StateDir != filepath.Join(wd, "rel/state") {
		t.Errorf("relative state dir became %s", c.StateDir)
	}
	if c.Jobs.OutputDirectory != "/home/ada/out" || c.Listen.Socket != "/home/ada/rcqd.sock" {
		t.Errorf("~ not expanded: %s, %s", c.Jobs.OutputDirectory, c.Listen.Socket)
	}
}

func TestFlagSetWithoutSomeFlags(t *testing.T) {
	fs := pflag.NewFlagSet("other", pflag.ContinueOnError)
	fs.String("listen", "", "")
	fs.Bool("verbose", false, "")
	if err := fs.Parse([]string{"--listen", ":1234", "--verbose"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(LoadOptions{Flags: fs, LookupEnv: env{"HOME": "/h"}.lookup, Root: func() bool { return false }, SearchPaths: []string{}})
	if err != nil || c.Listen.Addr != ":1234" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestMasked(t *testing.T) {
	const secret = "s3cr3t-jwt-value-that-is-long-enough-000"
	tests := []struct {
		url, pw, keep string
	}{
		{"postgres://rcq:hunter2pass@db.example:5432/rcq?sslmode=require", "hunter2pass", "postgres://rcq:" + Mask + "@db.example:5432/rcq?sslmode=require"},
		{"postgres://db.example/rcq?user=rcq&password=qwerty123", "qwerty123", "user=rcq"},
		{"host=db.example user=rcq password='p@ss word' dbname=rcq", "p@ss word", "host=db.example user=rcq password=" + Mask + " dbname=rcq"},
		{"host=db.example password=plainpw", "plainpw", "password=" + Mask},
	}
	for _, tt := range tests {
		c := mustLoad(t, setup{env: env{"JWT_SECRET": secret, "DATABASE_URL": tt.url}})
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		m := c.Masked()
		flat := buf.String() + " " + strings.ReplaceAll(yamlString(t, m), "\n", " ")
		for _, hidden := range []string{secret, tt.pw} {
			if strings.Contains(flat, hidden) {
				t.Errorf("printed configuration shows %q:\n%s", hidden, buf.String())
			}
		}
		if !strings.Contains(buf.String(), tt.keep) {
			t.Errorf("printed configuration lacks %q:\n%s", tt.keep, buf.String())
		}
		if m["auth"].(map[string]any)["jwt_secret"] != Mask {
			t.Errorf("Masked jwt_secret = %v", m["auth"].(map[string]any)["jwt_secret"])
		}
		// Masking does not touch the Config itself.
		if c.Auth.JWTSecret != secret || c.Database.URL != tt.url {
			t.Error("masking changed the configuration")
		}
	}
}

func yamlString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// What `rcqd config` prints is a configuration file that loads back to the
// same configuration, with each value's source in a comment.
func TestWriteToRoundTrip(t *testing.T) {
	c := mustLoad(t, setup{
		env:  env{"MAX_CONCURRENT_JOBS": "7", "PORT": "9001"},
		args: []string{"--log-level", "debug"},
		file: "scheduler:\n  lease_ttl: 45s\nworkers:\n  - {name: w1, cpu_cores: 2, memory_gb: 4, gpu_count: 1}\n",
	})
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"max_concurrent_jobs: 7 # from env MAX_CONCURRENT_JOBS",
		"listen: 127.0.0.1:9001 # from env PORT",
		"level: debug # from flag --log-level",
		"lease_ttl: 45s # from file ",
		"socket_mode: \"0600\"",
		"# mode: personal (",
		"jwt_secret: \"\" # generated into " + c.JWTSecretFile(),
		"fair_share_window: 720h\n",
		"  - name: w1\n    cpu_cores: 2\n    memory_gb: 4\n    gpu_count: 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	c2 := mustLoad(t, setup{file: out})
	c.src, c2.src, c.File, c2.File = nil, nil, "", ""
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("printed configuration loads back differently:\n got %+v\nwant %+v", c2, c)
	}
}

func TestKeys(t *testing.T) {
	ks := Keys()
	seen := map[string]bool{}
	envs := map[string]bool{}
	var c Config
	for _, k := range ks {
		if seen[k.Name] {
			t.Errorf("key %s listed twice", k.Name)
		}
		seen[k.Name] = true
		if k.Help == "" || k.Default == "" || strings.Contains(k.Help, "\n") {
			t.Errorf("key %s lacks one-line help or a default", k.Name)
		}
		if k.Name != "workers" && (len(k.Env) == 0 || k.Env[0] != envName(k.Name)) {
			t.Errorf("key %s: environment names %v do not start with %s", k.Name, k.Env, envName(k.Name))
		}
		for _, e := range k.Env {
			if envs[e] {
				t.Errorf("environment name %s used twice", e)
			}
			envs[e] = true
		}
		if k.field == nil || k.field(&c) == nil {
			t.Errorf("key %s has no field", k.Name)
		}
	}
	for _, e := range []string{"DATABASE_URL", "PORT", "ENVIRONMENT", "JWT_SECRET", "JWT_EXPIRY_HOURS",
		"SCHEDULER_INTERVAL_SECONDS", "MAX_CONCURRENT_JOBS", "LOG_DIRECTORY", "OUTPUT_DIRECTORY",
		"RCQ_STATE_DIR", "RCQ_DATABASE_URL", "RCQ_SOCKET", "RCQ_LISTEN", "RCQ_ENVIRONMENT", "RCQ_JWT_SECRET",
		"RCQ_SCHEDULER_MAX_CONCURRENT_JOBS"} {
		if !envs[e] {
			t.Errorf("no key reads %s", e)
		}
	}
	// Every field of Config is reachable from exactly one key.
	fields := map[any]string{}
	for _, k := range ks {
		p := k.field(&c)
		if other, dup := fields[p]; dup {
			t.Errorf("keys %s and %s set the same field", other, k.Name)
		}
		fields[p] = k.Name
	}
	if n := countLeafFields(reflect.TypeOf(c)); n != len(ks)+1 { // +1: File
		t.Errorf("Config has %d settable fields but there are %d keys", n, len(ks))
	}
	ks[0].Env[0] = "CHANGED"
	if Keys()[0].Env[0] == "CHANGED" {
		t.Error("Keys returns the package's own table")
	}
}

// countLeafFields counts exported fields, descending into section structs.
func countLeafFields(t reflect.Type) int {
	n := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			n += countLeafFields(f.Type)
		} else {
			n++
		}
	}
	return n
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("rcqd", pflag.ContinueOnError)
	BindFlags(fs)
	for _, name := range []string{"config", "state-dir", "database-url", "socket", "listen", "log-level"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s not defined", name)
		}
	}
	for _, k := range keys {
		if k.Flag != "" && fs.Lookup(k.Flag) == nil {
			t.Errorf("key %s names flag --%s, which BindFlags does not define", k.Name, k.Flag)
		}
	}
}

func TestLimits(t *testing.T) {
	c := mustLoad(t, setup{env: env{"RCQ_JOBS_DEFAULT_ESTIMATED_HOURS": "2.5", "RCQ_JOBS_MAX_ESTIMATED_HOURS": "48", "RCQ_JOBS_MAX_SCRIPT_BYTES": "4096"}})
	l := c.Limits()
	if l.DefaultEstimatedHours != 2.5 || l.MaxEstimatedHours != 48 || l.MaxScriptBytes != 4096 || l.MaxCPUCores != rcq.DefaultLimits.MaxCPUCores {
		t.Errorf("Limits = %+v", l)
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (Log{Level: lvl}).SlogLevel().String(); got != want {
			t.Errorf("%s -> %s, want %s", lvl, got, want)
		}
	}
}

func TestProxyPrefixes(t *testing.T) {
	a := Auth{TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1", "::1"}}
	var got []string
	for _, p := range a.ProxyPrefixes() {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 127.0.0.1/32 ::1/128"; strings.Join(got, " ") != want {
		t.Errorf("ProxyPrefixes = %v, want %s", got, want)
	}
}

// TestModes: who runs rcqd picks its mode, its defaults and what it refuses.
func TestModes(t *testing.T) {
	sys := mustLoad(t, setup{root: true})
	if sys.Mode() != ModeSystem || sys.Listen.SocketMode != 0o666 || sys.Listen.Addr != "127.0.0.1:8080" || !sys.Auth.OpenRegistration {
		t.Errorf("system mode defaults: mode %s, socket %04o, listen %q, open registration %v",
			sys.Mode(), sys.Listen.SocketMode, sys.Listen.Addr, sys.Auth.OpenRegistration)
	}
	per := mustLoad(t, setup{})
	if per.Mode() != ModePersonal || per.Listen.SocketMode != 0o600 || per.Listen.Addr != "" || per.Auth.OpenRegistration {
		t.Errorf("personal mode defaults: mode %s, socket %04o, listen %q, open registration %v",
			per.Mode(), per.Listen.SocketMode, per.Listen.Addr, per.Auth.OpenRegistration)
	}
	// --listen turns TCP on in personal mode; registration stays closed.
	if c := mustLoad(t, setup{args: []string{"--listen", "127.0.0.1:9999"}}); c.Listen.Addr != "127.0.0.1:9999" || c.Auth.OpenRegistration {
		t.Errorf("personal mode with --listen: %q, open registration %v", c.Listen.Addr, c.Auth.OpenRegistration)
	}
	// A system-mode configuration that maps Unix users from emails closes registration.
	if _, err := load(t, setup{root: true, file: "auth:\n  open_registration: false\n  unix_user_from_email: true\n"}); err != nil {
		t.Errorf("unix_user_from_email with closed registration: %v", err)
	}
	if _, err := load(t, setup{env: env{"RCQ_AUTH_UNIX_USER_FROM_EMAIL": "true"}}); err != nil {
		t.Errorf("unix_user_from_email in personal mode (registration closed): %v", err)
	}
	for _, tt := range []struct {
		name string
		s    setup
		want []string
	}{
		{"open registration in personal mode", setup{env: env{"RCQ_AUTH_OPEN_REGISTRATION": "true"}},
			[]string{"auth.open_registration = true (from env RCQ_AUTH_OPEN_REGISTRATION)", "personal mode", "run rcqd as root"}},
		{"open registration in personal mode, from the file", setup{file: "auth:\n  open_registration: true\n"},
			[]string{"auth.open_registration = true (from file ", "personal mode"}},
		{"a socket others may open in personal mode", setup{file: "socket_mode: \"0666\"\n"},
			[]string{`socket_mode = 0666 (from file `, `use "0600"`}},
		{"unix_user_from_email with open registration", setup{root: true, env: env{"RCQ_AUTH_UNIX_USER_FROM_EMAIL": "true"}},
			[]string{"auth.unix_user_from_email = true (from env RCQ_AUTH_UNIX_USER_FROM_EMAIL)", "auth.open_registration true (from default)", "set auth.open_registration to false"}},
		{"unix_user_from_email with open registration, both in the file", setup{root: true, file: "auth:\n  open_registration: true\n  unix_user_from_email: true\n"},
			[]string{"auth.unix_user_from_email = true (from file ", "anyone could choose the Unix user"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.s)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	var buf bytes.Buffer
	if _, err := sys.WriteTo(&buf); err != nil || !strings.Contains(buf.String(), "# mode: system (rcqd runs as root") {
		t.Errorf("rcqd config as root does not name system mode: %v\n%s", err, buf.String())
	}
}
