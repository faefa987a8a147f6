package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/rcq-project/rcq/internal/paths"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Config is rcqd's effective configuration. Load fills every field, with the
// defaults that depend on the machine (state directory, socket, node name)
// already resolved and every path absolute.
type Config struct {
	File        string // the configuration file read; "" when none was
	Environment string // "development" or "production"
	StateDir    string
	Database    Database
	Listen      Listen
	Auth        Auth
	Scheduler   Scheduler
	Jobs        Jobs
	Node        Node           // this machine as a worker
	Workers     []WorkerConfig // extra virtual workers run by this rcqd
	Log         Log
	Metrics     Metrics
	Audit       Audit

	root bool              // rcqd runs as root
	src  map[string]string // key -> where its value came from
}

// Database says which PostgreSQL to use.
type Database struct {
	URL      string // "" runs a private server under StateDir
	RunAs    string // user the private server runs as when rcqd is root
	MaxConns int
}

// Listen says where the API is served.
type Listen struct {
	Socket     string      // Unix socket path
	SocketMode os.FileMode // its permission bits
	Addr       string      // TCP host:port; "" turns TCP off
	// AllowedHosts are the names TCP requests may carry in Host besides
	// localhost and IP addresses: "name" or "name:port".
	AllowedHosts []string
}

// Auth configures accounts and tokens.
type Auth struct {
	JWTSecret               string // "" means the generated file JWTSecretFile()
	JWTExpiryHours          int
	BcryptCost              int
	OpenRegistration        bool
	UnixUserFromEmail       bool
	TrustedProxies          []string // addresses or CIDR prefixes
	LoginRateLimitPerMinute int
}

// Scheduler configures ordering and the scheduling loop.
type Scheduler struct {
	IntervalSeconds   int
	MaxConcurrentJobs int
	FairShareWindow   time.Duration
	FairShareHalfLife time.Duration // 0: no decay inside the window
	WaitBoostPerHour  float64
	WaitBoostCap      float64
	FairShareMin      float64
	FairShareMax      float64
	LeaseTTL          time.Duration
}

// Jobs bounds what jobs may ask for and says where their files go.
type Jobs struct {
	DefaultEstimatedHours float64
	MaxEstimatedHours     float64
	MaxScriptBytes        int
	DefaultMemoryGB       int
	MaxPathBytes          int
	MaxNameBytes          int
	MaxDependencies       int
	MaxArraySize          int
	MaxPendingPerUser     int
	MaxPendingTotal       int
	MaxBatchesPerUser     int
	MaxPageSize           int
	MaxPids               int
	KillGraceSeconds      int
	StartTimeout          time.Duration // jobs.start_timeout
	RequeueArrayElements  bool          // jobs.requeue_array_elements
	LogDirectory          string
	OutputDirectory       string // "" means the job's working directory
}

// Node describes the local machine as a worker; zero sizes are detected.
type Node struct {
	Name     string
	CPUCores int
	MemoryGB int
	GPUCount int
	// DeadAfter: a node not heard from for this long is dead (node.dead_after).
	DeadAfter time.Duration
}

// WorkerConfig is an extra virtual worker from the configuration file.
type WorkerConfig struct {
	Name     string
	CPUCores int
	MemoryGB int
	GPUCount int
}

// Metrics says where GET /metrics is served besides the Unix socket.
type Metrics struct {
	Listen string // TCP host:port of a listener serving only /metrics; "" (default): none
}

// Log configures rcqd's own log.
type Log struct {
	Level  string // debug, info, warn or error
	Format string // text or json
}

// Audit configures the audit log (audit_events).
type Audit struct {
	Retention time.Duration // rows older than this are deleted
}

// LoadOptions are Load's inputs besides the files on disk.
type LoadOptions struct {
	// Flags is rcqd's parsed flag set; the flags BindFlags defines are read
	// when present and set. Nil reads no flags.
	Flags *pflag.FlagSet
	// ConfigFile is an explicit configuration file; it beats --config in
	// Flags and RCQ_CONFIG. It must exist.
	ConfigFile string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Root says whether rcqd runs as root; nil means os.Geteuid() == 0.
	Root func() bool
	// SearchPaths replaces the default list of configuration files tried
	// when none is named (for tests). Nil means the default list.
	SearchPaths []string
}

// SystemConfigFile is the configuration file tried last.
const SystemConfigFile = "/etc/rcq/rcqd.yaml"

// Load reads the configuration: flags beat the environment, which beats the
// configuration file, which beats the defaults. It returns a validated
// Config, or one error line naming the key, where its value came from and the
// accepted form.
func Load(opts LoadOptions) (*Config, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	root := os.Geteuid() == 0
	if opts.Root != nil {
		root = opts.Root()
	}
	c := &Config{root: root, src: map[string]string{}}

	v := viper.New()

	// The configuration file.
	file, err := findConfigFile(opts, lookup)
	if err != nil {
		return nil, err
	}
	fileKeys, fileNull := map[string]bool{}, map[string]bool{} // keys the file sets, and those it leaves empty ("listen:")
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %s", file, oneLine(err.Error()))
		}
		if err := checkFileKeys(v, file); err != nil {
			return nil, err
		}
		for _, k := range v.AllKeys() { // the file's keys: no defaults are set yet
			fileKeys[k] = true
			if v.Get(k) == nil {
				fileNull[k] = true
			}
		}
		c.File = file
	}
	// Defaults after the file, so the check above saw the file's keys only.
	for _, k := range keys {
		if k.def != nil {
			v.SetDefault(k.Name, k.def)
		}
	}

	// The environment, merged over the file.
	env := map[string]any{}
	for i := range keys {
		k := &keys[i]
		name, val, ok, err := envValue(k, lookup)
		if err != nil {
			return nil, err
		}
		if ok {
			setNested(env, k.Name, val)
			c.src[k.Name] = "env " + name
		}
	}
	if err := v.MergeConfigMap(env); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}

	// The flags, over everything.
	if opts.Flags != nil {
		for _, k := range keys {
			if k.Flag == "" {
				continue
			}
			f := opts.Flags.Lookup(k.Flag)
			if f == nil {
				continue
			}
			if err := v.BindPFlag(k.Name, f); err != nil {
				return nil, fmt.Errorf("flag --%s: %w", k.Flag, err)
			}
			if f.Changed {
				c.src[k.Name] = "flag --" + k.Flag
			}
		}
	}

	for i := range keys {
		k := &keys[i]
		if _, ok := c.src[k.Name]; !ok {
			if fileKeys[k.Name] {
				c.src[k.Name] = "file " + file
			} else {
				c.src[k.Name] = "default"
			}
		}
		val := v.Get(k.Name)
		if fileNull[k.Name] && strings.HasPrefix(c.src[k.Name], "file ") {
			switch {
			case k.emptyOK:
				val = ""
			case k.Name == "workers":
				val = []any{}
			default:
				return nil, fmt.Errorf("%s (from %s): has no value: give one, or remove the line to use the default (%s)", k.Name, c.src[k.Name], k.Default)
			}
		}
		if val == nil {
			continue
		}
		if err := assign(k.field(c), val); err != nil {
			return nil, fmt.Errorf("%s (from %s): %s", k.Name, c.src[k.Name], err)
		}
	}
	if err := c.resolve(lookup); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// findConfigFile returns the file to read: the explicit one (which must
// exist), else the first default that exists, else "".
func findConfigFile(opts LoadOptions, lookup func(string) (string, bool)) (string, error) {
	explicit, from := opts.ConfigFile, "--config"
	if explicit == "" && opts.Flags != nil {
		if f := opts.Flags.Lookup("config"); f != nil && f.Changed {
			explicit = f.Value.String()
		}
	}
	if explicit == "" {
		if e, ok := lookup("RCQ_CONFIG"); ok && e != "" {
			explicit, from = e, "RCQ_CONFIG"
		}
	}
	if explicit != "" {
		p, err := filepath.Abs(expandHome(explicit, lookup))
		if err != nil {
			return "", fmt.Errorf("config file %s: %w", explicit, err)
		}
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("config file %s (from %s) does not exist", p, from)
			}
			return "", fmt.Errorf("config file %s: %w", p, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("config file %s (from %s) is a directory", p, from)
		}
		return p, nil
	}
	paths := opts.SearchPaths
	if paths == nil {
		paths = defaultSearchPaths(lookup)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("config file %s: %w", p, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("config file %s is a directory", p)
		}
		return p, nil
	}
	return "", nil
}

func defaultSearchPaths(lookup func(string) (string, bool)) []string {
	var ps []string
	if d, ok := lookup("XDG_CONFIG_HOME"); ok && filepath.IsAbs(d) {
		ps = append(ps, filepath.Join(d, "rcq", "rcqd.yaml"))
	} else if h, ok := lookup("HOME"); ok && filepath.IsAbs(h) {
		ps = append(ps, filepath.Join(h, ".config", "rcq", "rcqd.yaml"))
	}
	return append(ps, SystemConfigFile)
}

// checkFileKeys refuses keys in the file that rcqd does not know, naming the
// key the user probably meant.
func checkFileKeys(v *viper.Viper, file string) error {
	known, sections := map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		known[k.Name] = true
		if sec, _, ok := strings.Cut(k.Name, "."); ok {
			sections[sec] = true
		}
	}
	var unknown []string
	for _, k := range v.AllKeys() {
		if known[k] {
			continue
		}
		if m, ok := v.Get(k).(map[string]any); sections[k] && (v.Get(k) == nil || ok && len(m) == 0) {
			continue // an empty section ("scheduler:" with its keys commented out)
		}
		unknown = append(unknown, k)
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	u := unknown[0]
	if sections[u] {
		return fmt.Errorf("config file %s: %q must be a section: %q on a line of its own, then its keys indented below it", file, u, u+":")
	}
	msg := fmt.Sprintf("config file %s: unknown key %q", file, u)
	last := u[strings.LastIndex(u, ".")+1:]
	for _, k := range keys {
		if k.Name != u && (k.Name == last || strings.HasSuffix(k.Name, "."+last)) {
			msg += fmt.Sprintf(": did you mean %q?", k.Name)
			break
		}
	}
	return errors.New(msg)
}

// envValue returns the value of the strongest environment variable set for
// k, already parsed to the field's type so a bad value is reported with the
// variable's name. An empty value counts as unset unless k accepts "".
func envValue(k *Key, lookup func(string) (string, bool)) (name string, val any, ok bool, err error) {
	for _, name := range k.Env {
		s, ok := lookup(name)
		// An empty PORT is unset (shells export empty variables freely);
		// an empty RCQ_LISTEN turns TCP off.
		if !ok || (s == "" && (!k.emptyOK || name == "PORT")) {
			continue
		}
		var raw any = s
		if k.fromEnv != nil {
			if raw, err = k.fromEnv(name, s); err != nil {
				return "", nil, false, fmt.Errorf("%s=%q: %s", name, s, err)
			}
		}
		// Parse into a scratch value of the field's type.
		var scratch Config
		ptr := k.field(&scratch)
		if err := assign(ptr, raw); err != nil {
			return "", nil, false, fmt.Errorf("%s=%q: %s", name, s, err)
		}
		return name, deref(ptr), true, nil
	}
	return "", nil, false, nil
}

func deref(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *float64:
		return *p
	case *bool:
		return *p
	case *time.Duration:
		return *p
	case *os.FileMode:
		return *p
	case *[]string:
		return *p
	case *[]WorkerConfig:
		return *p
	}
	panic(fmt.Sprintf("config: no environment form for %T", ptr))
}

func setNested(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = val
}

// resolve fills the defaults that depend on the machine and makes paths
// absolute.
func (c *Config) resolve(lookup func(string) (string, bool)) error {
	c.Environment = strings.ToLower(strings.TrimSpace(c.Environment))
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))

	if c.StateDir == "" {
		c.StateDir = paths.DefaultStateDir(lookup, c.root)
		if c.StateDir == "" {
			return errors.New("state_dir: neither HOME nor XDG_STATE_HOME is set: set --state-dir or RCQ_STATE_DIR")
		}
	}
	if c.Listen.Socket == "" {
		c.Listen.Socket = paths.DefaultSocket(lookup, c.root, c.StateDir)
	}
	if !c.root {
		// Personal mode: every job runs as rcqd's user, so only that user may
		// reach it. Defaults that open it to others are turned off; values
		// set on purpose stay, and Validate refuses those that cannot hold.
		if c.Source("listen") == "default" {
			c.Listen.Addr = ""
		}
		if c.Source("socket_mode") == "default" {
			c.Listen.SocketMode = 0o600
		}
		if c.Source("auth.open_registration") == "default" {
			c.Auth.OpenRegistration = false
		}
	}
	if c.Jobs.LogDirectory == "" {
		c.Jobs.LogDirectory = filepath.Join(c.StateDir, "logs")
	}
	if c.Node.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Node.Name = h
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
		if c.Environment == "production" {
			c.Log.Format = "json"
		}
	}
	for _, p := range []*string{&c.StateDir, &c.Listen.Socket, &c.Jobs.LogDirectory, &c.Jobs.OutputDirectory} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(expandHome(*p, lookup))
		if err != nil {
			return fmt.Errorf("path %s: %w", *p, err)
		}
		*p = abs
	}
	if c.Listen.AllowedHosts == nil {
		c.Listen.AllowedHosts = []string{}
	}
	if c.Auth.TrustedProxies == nil {
		c.Auth.TrustedProxies = []string{}
	}
	if c.Workers == nil {
		c.Workers = []WorkerConfig{}
	}
	return nil
}

// expandHome turns a leading "~/" into the home directory.
func expandHome(p string, lookup func(string) (string, bool)) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	h, ok := lookup("HOME")
	if !ok || h == "" {
		return p
	}
	return filepath.Join(h, strings.TrimPrefix(p, "~"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Source says where key's value came from: "flag --listen", "env PORT",
// "file /etc/rcq/rcqd.yaml" or "default".
func (c *Config) Source(key string) string {
	if s, ok := c.src[key]; ok {
		return s
	}
	return "default"
}

// Production reports whether Environment is "production".
func (c *Config) Production() bool { return c.Environment == "production" }

// Root reports whether the configuration was loaded for rcqd running as root.
func (c *Config) Root() bool { return c.root }

// The two modes, chosen by who runs rcqd.
const (
	// ModeSystem is rcqd as root: the socket is open to every local user, each
	// is their own account, and jobs run as the account's Unix user.
	ModeSystem = "system"
	// ModePersonal is rcqd as an ordinary user: every job runs as that user,
	// so only that user may use it (socket in a 0700 directory, other uids
	// refused, TCP off by default, registration closed).
	ModePersonal = "personal"
)

// Mode is ModeSystem when rcqd runs as root, else ModePersonal.
func (c *Config) Mode() string {
	if c.root {
		return ModeSystem
	}
	return ModePersonal
}

// JWTSecretFile is where rcqd keeps the secret it generates when
// Auth.JWTSecret is empty.
func (c *Config) JWTSecretFile() string { return filepath.Join(c.StateDir, "jwt-secret") }

// JWTExpiry is Auth.JWTExpiryHours as a duration.
func (c *Config) JWTExpiry() time.Duration { return time.Duration(c.Auth.JWTExpiryHours) * time.Hour }

// Interval is Scheduler.IntervalSeconds as a duration.
func (c *Config) Interval() time.Duration {
	return time.Duration(c.Scheduler.IntervalSeconds) * time.Second
}

// KillGrace is Jobs.KillGraceSeconds as a duration.
func (c *Config) KillGrace() time.Duration {
	return time.Duration(c.Jobs.KillGraceSeconds) * time.Second
}

// Limits returns the bounds a submit is checked against.
func (c *Config) Limits() rcq.Limits {
	l := rcq.DefaultLimits
	l.DefaultEstimatedHours = c.Jobs.DefaultEstimatedHours
	l.MaxEstimatedHours = c.Jobs.MaxEstimatedHours
	l.MaxScriptBytes = c.Jobs.MaxScriptBytes
	l.DefaultMemoryGB = c.Jobs.DefaultMemoryGB
	l.MaxPathBytes = c.Jobs.MaxPathBytes
	l.MaxNameBytes = c.Jobs.MaxNameBytes
	l.MaxDependencies = c.Jobs.MaxDependencies
	l.MaxArraySize = c.Jobs.MaxArraySize
	l.MaxBatchesPerUser = c.Jobs.MaxBatchesPerUser
	// A batch may hold a database connection while its body arrives: half
	// the pool for batches leaves the other half to everything else.
	l.MaxBatches = max(1, c.Database.MaxConns/2)
	l.MaxPageSize = c.Jobs.MaxPageSize
	return l
}

// SlogLevel is Log.Level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
