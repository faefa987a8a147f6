package config

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Key documents one configuration key.
type Key struct {
	Name    string   // YAML key, dotted for sections: "scheduler.interval_seconds"
	Env     []string // environment variables, strongest first
	Flag    string   // rcqd flag, without dashes; "" when there is none
	Default string   // the default, as a user reads it
	Help    string   // one line
	Secret  bool     // masked when the configuration is printed

	def     any                                 // typed default for viper; nil when derived at load time
	emptyOK bool                                // an empty environment value sets "" instead of being ignored
	field   func(*Config) any                   // pointer to the Config field
	fromEnv func(name, val string) (any, error) // special parsing of one variable (PORT)
	check   func(c *Config, k *Key) error       // validation of the field; nil when none
}

// envName is the RCQ_ name viper's key replacer would make: dots become
// underscores, letters are upper-cased.
func envName(key string) string {
	return "RCQ_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// Keys returns every configuration key in the order rcqd prints them.
func Keys() []Key {
	ks := make([]Key, len(keys))
	copy(ks, keys)
	for i := range ks {
		ks[i].Env = append([]string(nil), ks[i].Env...)
	}
	return ks
}

// withEnv fills in each key's RCQ_ name ahead of its aliases.
func withEnv(ks []Key) []Key {
	for i := range ks {
		if ks[i].Name == "workers" {
			continue // a list of sections: configuration file only
		}
		ks[i].Env = append([]string{envName(ks[i].Name)}, ks[i].Env...)
	}
	return ks
}

var keys = withEnv([]Key{
	{Name: "environment", Env: []string{"ENVIRONMENT"}, Default: "development",
		Help: `"development" or "production": production logs JSON`,
		def:  "development", field: func(c *Config) any { return &c.Environment }, check: checkEnvironment},
	{Name: "state_dir", Flag: "state-dir", Default: "$XDG_STATE_HOME/rcq (~/.local/state/rcq); /var/lib/rcq as root",
		Help:  "directory for the private database, the generated JWT secret, the admin password and job logs",
		field: func(c *Config) any { return &c.StateDir }},
	{Name: "socket", Flag: "socket", Default: "$XDG_RUNTIME_DIR/rcq/rcqd.sock (<state_dir>/rcqd.sock without XDG_RUNTIME_DIR); /run/rcq/rcqd.sock as root",
		Help:  "Unix socket the API is served on",
		field: func(c *Config) any { return &c.Listen.Socket }, check: checkSocket},
	{Name: "socket_mode", Default: "0666 as root (system mode); 0600 otherwise (personal mode)",
		Help: `permissions of the Unix socket, in octal ("0660"); in system mode the peer's uid is its identity, in personal mode only rcqd's own uid is served and group or other bits are refused`,
		def:  "0666", field: func(c *Config) any { return &c.Listen.SocketMode }, check: checkSocketMode},
	{Name: "listen", Env: []string{"PORT"}, Flag: "listen", Default: `127.0.0.1:8080 as root (system mode); "" (off) otherwise (personal mode)`,
		Help: `TCP address of the API, host:port; empty turns TCP off; PORT=N means 127.0.0.1:N`,
		def:  "127.0.0.1:8080", emptyOK: true, field: func(c *Config) any { return &c.Listen.Addr },
		fromEnv: listenFromEnv, check: checkListen},
	{Name: "allowed_hosts", Default: "[] (localhost and IP addresses only)",
		Help: `host names TCP requests may carry in their Host header besides localhost and IP addresses ("rcq.example.org", or "rcq.example.org:443" for one port; comma-separated in the environment); others get 400 bad_host, which stops DNS rebinding`,
		def:  []string{}, field: func(c *Config) any { return &c.Listen.AllowedHosts }, check: checkAllowedHosts},

	{Name: "database.url", Env: []string{"DATABASE_URL"}, Flag: "database-url", Default: `"" (a private PostgreSQL under state_dir)`,
		Help: "PostgreSQL URL (postgres://user:password@host:5432/db) or key=value string; empty runs a private server",
		def:  "", emptyOK: true, Secret: true, field: func(c *Config) any { return &c.Database.URL }, check: checkDatabaseURL},
	{Name: "database.run_as", Default: "postgres",
		Help: "system user the private PostgreSQL runs as when rcqd runs as root (PostgreSQL refuses root)",
		def:  "postgres", field: func(c *Config) any { return &c.Database.RunAs }, check: checkRunAs},
	{Name: "database.max_conns", Default: "10",
		Help: "largest number of connections rcqd opens to PostgreSQL",
		def:  10, field: func(c *Config) any { return &c.Database.MaxConns }, check: intBetween(1, 1000)},

	{Name: "auth.jwt_secret", Env: []string{"RCQ_JWT_SECRET", "JWT_SECRET"}, Default: `"" (32 random bytes generated into <state_dir>/jwt-secret, mode 0600)`,
		Help: "secret that signs tokens; at least 32 bytes",
		def:  "", emptyOK: true, Secret: true, field: func(c *Config) any { return &c.Auth.JWTSecret }, check: checkJWTSecret},
	{Name: "auth.jwt_expiry_hours", Env: []string{"JWT_EXPIRY_HOURS"}, Default: "24",
		Help: "hours a login token stays valid",
		def:  24, field: func(c *Config) any { return &c.Auth.JWTExpiryHours }, check: intBetween(1, 24*365)},
	{Name: "auth.bcrypt_cost", Default: "12",
		Help: "bcrypt cost of password hashes (4-31; each step doubles the time of a login)",
		def:  12, field: func(c *Config) any { return &c.Auth.BcryptCost }, check: intBetween(4, 31)},
	{Name: "auth.open_registration", Default: "true as root (system mode); false otherwise (personal mode, where true is refused)",
		Help: "anyone may register an account (over TCP, or on the socket); false makes registration admin-only",
		def:  true, field: func(c *Config) any { return &c.Auth.OpenRegistration }, check: checkOpenRegistration},
	{Name: "auth.unix_user_from_email", Default: "false",
		Help: "an admin's registration maps the new account to the Unix user named by its email's local part, when that user exists and may run jobs (refused with auth.open_registration); jobs of accounts without a Unix user fail when rcqd runs as root",
		def:  false, field: func(c *Config) any { return &c.Auth.UnixUserFromEmail }, check: checkUnixUserFromEmail},
	{Name: "auth.trusted_proxies", Default: "[] (none)",
		Help: "addresses or CIDR ranges whose X-Forwarded-For is believed (comma-separated in the environment)",
		def:  []string{}, field: func(c *Config) any { return &c.Auth.TrustedProxies }, check: checkProxies},
	{Name: "auth.login_rate_limit_per_minute", Default: "20",
		Help: "size of each login limit per minute: attempts per client address (loopback as one, IPv6 per /64) or socket uid, failed logins per account, registrations per email and in all",
		def:  20, field: func(c *Config) any { return &c.Auth.LoginRateLimitPerMinute }, check: intBetween(1, 1_000_000)},

	{Name: "scheduler.interval_seconds", Env: []string{"SCHEDULER_INTERVAL_SECONDS"}, Default: "30",
		Help: "seconds between periodic scheduling cycles (submits and job ends wake the scheduler at once)",
		def:  30, field: func(c *Config) any { return &c.Scheduler.IntervalSeconds }, check: intBetween(1, 86400)},
	{Name: "scheduler.max_concurrent_jobs", Env: []string{"MAX_CONCURRENT_JOBS"}, Default: "10",
		Help: "largest number of jobs running at once, over all workers",
		def:  10, field: func(c *Config) any { return &c.Scheduler.MaxConcurrentJobs }, check: intBetween(1, 1_000_000)},
	{Name: "scheduler.fair_share_window", Default: "720h",
		Help: "how far back usage counts against a group's quota (a Go duration: 720h = 30 days)",
		def:  30 * 24 * time.Hour, field: func(c *Config) any { return &c.Scheduler.FairShareWindow }, check: durationBetween(time.Hour, 10*365*24*time.Hour)},
	{Name: "scheduler.fair_share_half_life", Default: "0 (off)",
		Help: "half-life of past usage inside the window (a Go duration); 0 counts all usage in the window equally",
		def:  time.Duration(0), field: func(c *Config) any { return &c.Scheduler.FairShareHalfLife }, check: durationBetween(0, 10*365*24*time.Hour)},
	{Name: "scheduler.wait_boost_per_hour", Default: "0.01",
		Help: "priority multiplier a pending job gains per hour of waiting",
		def:  0.01, field: func(c *Config) any { return &c.Scheduler.WaitBoostPerHour }, check: floatBetween(0, 100)},
	{Name: "scheduler.wait_boost_cap", Default: "1.5",
		Help: "largest wait-time multiplier",
		def:  1.5, field: func(c *Config) any { return &c.Scheduler.WaitBoostCap }, check: floatBetween(1, 1000)},
	{Name: "scheduler.fair_share_min", Default: "0.5",
		Help: "smallest fair-share multiplier (a group far over its quota)",
		def:  0.5, field: func(c *Config) any { return &c.Scheduler.FairShareMin }, check: checkFairShareMin},
	{Name: "scheduler.fair_share_max", Default: "2.0",
		Help: "largest fair-share multiplier (a group that used nothing)",
		def:  2.0, field: func(c *Config) any { return &c.Scheduler.FairShareMax }, check: checkFairShareMax},
	{Name: "scheduler.lease_ttl", Default: "15s",
		Help: "how long the scheduling rcqd's lease lasts unrenewed before another rcqd takes over (a Go duration)",
		def:  15 * time.Second, field: func(c *Config) any { return &c.Scheduler.LeaseTTL }, check: durationBetween(time.Second, time.Hour)},

	{Name: "jobs.default_estimated_hours", Default: "1",
		Help: "time limit of a job that does not ask for one, in hours",
		def:  1.0, field: func(c *Config) any { return &c.Jobs.DefaultEstimatedHours }, check: checkDefaultHours},
	{Name: "jobs.max_estimated_hours", Default: "720",
		Help: "longest time limit a job may ask for, in hours",
		def:  720.0, field: func(c *Config) any { return &c.Jobs.MaxEstimatedHours }, check: floatBetween(1.0/3600, maxHours)},
	{Name: "jobs.max_script_bytes", Default: "1048576 (1 MiB)",
		Help: "largest job script accepted, in bytes",
		def:  1 << 20, field: func(c *Config) any { return &c.Jobs.MaxScriptBytes }, check: intBetween(1, 64<<20)},
	{Name: "jobs.default_memory_gb", Default: "1",
		Help: "memory limit of a job that asks for none (or for 0), in GB: a job never runs without one",
		def:  1, field: func(c *Config) any { return &c.Jobs.DefaultMemoryGB }, check: intBetween(1, 1<<24)},
	{Name: "jobs.max_path_bytes", Default: "4096",
		Help: "longest working directory, output or error path a job may name, in bytes",
		def:  4096, field: func(c *Config) any { return &c.Jobs.MaxPathBytes }, check: intBetween(1, 1<<16)},
	{Name: "jobs.max_name_bytes", Default: "200",
		Help: "longest job name, in bytes",
		def:  200, field: func(c *Config) any { return &c.Jobs.MaxNameBytes }, check: intBetween(1, 4096)},
	{Name: "jobs.max_dependencies", Default: "100",
		Help: "most dependencies one job may have",
		def:  100, field: func(c *Config) any { return &c.Jobs.MaxDependencies }, check: intBetween(0, 10_000)},
	{Name: "jobs.max_array_size", Default: "100000",
		Help: "most elements one job array may have (sbatch --array); a bigger array is refused with 400 invalid_array",
		def:  100_000, field: func(c *Config) any { return &c.Jobs.MaxArraySize }, check: intBetween(1, 4_000_001)},
	{Name: "jobs.max_pending_per_user", Default: "10000",
		Help: "most pending jobs one account may have; a submit beyond it gets 429 too_many_pending_jobs",
		def:  10_000, field: func(c *Config) any { return &c.Jobs.MaxPendingPerUser }, check: intBetween(1, 100_000_000)},
	{Name: "jobs.max_pending_total", Default: "100000",
		Help: "most pending jobs of all accounts together; a submit beyond it gets 429 too_many_pending_jobs_total",
		def:  100_000, field: func(c *Config) any { return &c.Jobs.MaxPendingTotal }, check: intBetween(1, 100_000_000)},
	{Name: "jobs.max_batches_per_user", Default: "2",
		Help: "batch submits one account may have in flight at once (and half of database.max_conns in all); more get 429 too_many_batches",
		def:  2, field: func(c *Config) any { return &c.Jobs.MaxBatchesPerUser }, check: intBetween(1, 1000)},
	{Name: "jobs.max_page_size", Default: "10000",
		Help: "most jobs in one page of GET /api/jobs and GET /api/queue (the limit parameter); the rest comes with the cursor in next",
		def:  10_000, field: func(c *Config) any { return &c.Jobs.MaxPageSize }, check: intBetween(1, 1_000_000)},
	{Name: "jobs.max_pids", Default: "4096",
		Help: "pids.max of each job's cgroup: most processes and threads one job may have at once",
		def:  4096, field: func(c *Config) any { return &c.Jobs.MaxPids }, check: intBetween(1, 1<<22)},
	{Name: "jobs.kill_grace_seconds", Default: "30",
		Help: "seconds between SIGTERM and SIGKILL when a job is cancelled or runs out of time",
		def:  30, field: func(c *Config) any { return &c.Jobs.KillGraceSeconds }, check: intBetween(0, 3600)},
	{Name: "jobs.start_timeout", Default: "60s",
		Help: "how long a started job may go unlaunched by its node's rcqd before it ends failed (LaunchFailed) and, if requeueable, goes back to pending once (a Go duration)",
		def:  60 * time.Second, field: func(c *Config) any { return &c.Jobs.StartTimeout }, check: durationBetween(5*time.Second, 24*time.Hour)},
	{Name: "jobs.requeue_array_elements", Default: "true",
		Help: "requeue array elements submitted without --requeue/--no-requeue when their node fails or their launch is lost, like jobs submitted with --requeue",
		def:  true, field: func(c *Config) any { return &c.Jobs.RequeueArrayElements }},
	{Name: "jobs.log_directory", Env: []string{"LOG_DIRECTORY"}, Default: "<state_dir>/logs",
		Help:  "directory of rcqd's own per-job logs (job-<id>.log: launch, signals, end, exit status)",
		field: func(c *Config) any { return &c.Jobs.LogDirectory }},
	{Name: "jobs.output_directory", Env: []string{"OUTPUT_DIRECTORY"}, Default: `"" (the job's working directory)`,
		Help: "directory for job output files given no path (rcq-<id>.out) and for relative output paths; empty: the job's working directory",
		def:  "", emptyOK: true, field: func(c *Config) any { return &c.Jobs.OutputDirectory }},

	{Name: "node.name", Default: "the host name",
		Help:  "name of this machine's worker",
		field: func(c *Config) any { return &c.Node.Name }, check: checkNode},
	{Name: "node.cpu_cores", Default: "0 (detect)",
		Help: "CPU cores this machine offers to jobs",
		def:  0, field: func(c *Config) any { return &c.Node.CPUCores }, check: intBetween(0, rcq.DefaultLimits.MaxCPUCores)},
	{Name: "node.memory_gb", Default: "0 (detect)",
		Help: "memory this machine offers to jobs, in GB",
		def:  0, field: func(c *Config) any { return &c.Node.MemoryGB }, check: intBetween(0, rcq.DefaultLimits.MaxMemoryGB)},
	{Name: "node.gpu_count", Default: "0 (detect)",
		Help: "GPUs this machine offers to jobs",
		def:  0, field: func(c *Config) any { return &c.Node.GPUCount }, check: intBetween(0, rcq.DefaultLimits.MaxGPUs)},
	{Name: "node.dead_after", Default: "60s",
		Help: "a node whose rcqd has not renewed its lease (heartbeat) for this long is dead: its running jobs end node_fail, or go back to pending once if requeueable (a Go duration, at least scheduler.lease_ttl)",
		def:  60 * time.Second, field: func(c *Config) any { return &c.Node.DeadAfter }, check: checkDeadAfter},
	{Name: "workers", Default: "[] (none)",
		Help:  "extra virtual workers run by this rcqd: a list of {name, cpu_cores, memory_gb, gpu_count} (configuration file only)",
		field: func(c *Config) any { return &c.Workers }, check: checkWorkers},

	{Name: "log.level", Flag: "log-level", Default: "info",
		Help: "least severe log level written: debug, info, warn or error",
		def:  "info", field: func(c *Config) any { return &c.Log.Level }, check: checkLogLevel},
	{Name: "log.format", Default: `"text"; "json" in production`,
		Help:  "log format: text or json",
		field: func(c *Config) any { return &c.Log.Format }, check: checkLogFormat},

	{Name: "metrics.listen", Default: `"" (off: /metrics only on the Unix socket)`,
		Help: "TCP address, host:port, of a listener serving only GET /metrics (Prometheus); empty turns it off",
		def:  "", emptyOK: true, field: func(c *Config) any { return &c.Metrics.Listen }, check: checkMetricsListen},
	{Name: "audit.retention", Default: "8760h (1 year)",
		Help: "how long rows of the audit log (admin actions, actions on other users' jobs, refused admin calls) are kept (a Go duration)",
		def:  365 * 24 * time.Hour, field: func(c *Config) any { return &c.Audit.Retention }, check: durationBetween(24*time.Hour, 100*365*24*time.Hour)},
})

const maxHours = 10 * 365 * 24 // far below time.Duration's limit

// listenFromEnv reads RCQ_LISTEN as an address and the seed's PORT as a port
// on the loopback interface.
func listenFromEnv(name, val string) (any, error) {
	if name != "PORT" {
		return val, nil
	}
	p, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("want a port number from 1 to 65535")
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// assign stores v, a value from viper (a flag's string, a YAML scalar or
// list, or an already parsed environment value), into the field ptr points to.
func assign(ptr any, v any) error {
	switch p := ptr.(type) {
	case *string:
		switch x := v.(type) {
		case string:
			*p = x
		case int, int64, uint64, float64, bool:
			*p = fmt.Sprint(x)
		default:
			return fmt.Errorf("want a string")
		}
	case *int:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*p = n
	case *float64:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		*p = f
	case *bool:
		switch x := v.(type) {
		case bool:
			*p = x
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return fmt.Errorf("want true or false, got %q", x)
			}
			*p = b
		default:
			return fmt.Errorf("want true or false")
		}
	case *time.Duration:
		d, err := toDuration(v)
		if err != nil {
			return err
		}
		*p = d
	case *os.FileMode:
		m, err := toMode(v)
		if err != nil {
			return err
		}
		*p = m
	case *[]string:
		l, err := toList(v)
		if err != nil {
			return err
		}
		*p = l
	case *[]WorkerConfig:
		w, err := toWorkers(v)
		if err != nil {
			return err
		}
		*p = w
	default:
		return fmt.Errorf("unsupported field type %T", ptr)
	}
	return nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		if int64(int(x)) == x {
			return int(x), nil
		}
	case uint64:
		if x <= uint64(^uint(0)>>1) {
			return int(x), nil
		}
	case float64:
		if x == float64(int64(x)) && x >= -1<<53 && x <= 1<<53 {
			return int(x), nil
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err == nil {
			return n, nil
		}
		return 0, fmt.Errorf("want a whole number, got %q", x)
	}
	return 0, fmt.Errorf("want a whole number, got %v", v)
}

func toFloat(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	case string:
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("want a number, got %q", x)
		}
	default:
		return 0, fmt.Errorf("want a number, got %v", v)
	}
	if f != f || f > 1e300 || f < -1e300 {
		return 0, fmt.Errorf("want a finite number, got %v", v)
	}
	return f, nil
}

func toDuration(v any) (time.Duration, error) {
	const form = `want a Go duration with a unit, such as "15s", "90m" or "720h"`
	switch x := v.(type) {
	case time.Duration:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "0" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%s, got %q", form, x)
		}
		return d, nil
	case int, int64, uint64, float64:
		if fmt.Sprint(x) == "0" {
			return 0, nil
		}
		return 0, fmt.Errorf("%s, got the bare number %v", form, x)
	}
	return 0, fmt.Errorf("%s", form)
}

func toMode(v any) (os.FileMode, error) {
	const form = `want permission bits in octal, such as "0660" or "0666"`
	switch x := v.(type) {
	case os.FileMode:
		return x, nil
	case int: // YAML reads 0660 as octal already
		if x >= 0 && x <= 0o777 {
			return os.FileMode(x), nil
		}
	case string:
		s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(x), "0o"), "0O")
		n, err := strconv.ParseUint(s, 8, 32)
		if err == nil && n <= 0o777 {
			return os.FileMode(n), nil
		}
		return 0, fmt.Errorf("%s, got %q", form, x)
	}
	return 0, fmt.Errorf("%s, got %v (quote it: \"0660\")", form, v)
}

func toList(v any) ([]string, error) {
	var out []string
	switch x := v.(type) {
	case []string:
		out = append(out, x...)
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings, got %v", e)
			}
			out = append(out, strings.TrimSpace(s))
		}
	default:
		return nil, fmt.Errorf("want a list of strings")
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func toWorkers(v any) ([]WorkerConfig, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of {name, cpu_cores, memory_gb, gpu_count}")
	}
	ws := []WorkerConfig{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("entry %d: want {name, cpu_cores, memory_gb, gpu_count}", i+1)
		}
		var w WorkerConfig
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			var ptr any
			switch strings.ToLower(k) {
			case "name":
				ptr = &w.Name
			case "cpu_cores":
				ptr = &w.CPUCores
			case "memory_gb":
				ptr = &w.MemoryGB
			case "gpu_count":
				ptr = &w.GPUCount
			default:
				return nil, fmt.Errorf("entry %d: unknown key %q (want name, cpu_cores, memory_gb, gpu_count)", i+1, k)
			}
			if err := assign(ptr, m[k]); err != nil {
				return nil, fmt.Errorf("entry %d: %s: %w", i+1, k, err)
			}
		}
		ws = append(ws, w)
	}
	return ws, nil
}
