package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Store is what the API needs from the database. internal/store implements it.
type Store interface {
	Ping(ctx context.Context) error

	CreateUser(ctx context.Context, u rcq.User, passwordHash string) (rcq.UserID, error)
	UserByEmail(ctx context.Context, email string) (*rcq.User, string, error)
	UserByID(ctx context.Context, id rcq.UserID) (*rcq.User, string, error)
	UserByUnixUser(ctx context.Context, name string) (*rcq.User, error)
	Users(ctx context.Context) ([]rcq.User, error)
	UpdateUser(ctx context.Context, id rcq.UserID, p rcq.UserPatch) (*rcq.User, error)
	SetPassword(ctx context.Context, id rcq.UserID, hash string) error
	BumpTokenVersion(ctx context.Context, id rcq.UserID) error
	TokenUser(ctx context.Context, id rcq.UserID, jti string) (*rcq.User, bool, error)
	RevokeToken(ctx context.Context, id rcq.UserID, jti string, expires time.Time) error

	Groups(ctx context.Context) ([]rcq.Group, error)
	GroupByID(ctx context.Context, id rcq.GroupID) (*rcq.Group, error)
	CreateGroup(ctx context.Context, g rcq.Group) (rcq.GroupID, error)
	UpdateGroup(ctx context.Context, id rcq.GroupID, quota *float64, priority *int) (*rcq.Group, error)

	Workers(ctx context.Context) ([]rcq.Worker, error)
	WorkerLoads(ctx context.Context) ([]rcq.WorkerLoad, error)
	CreateWorker(ctx context.Context, w rcq.Worker) (*rcq.Worker, error)
	UpdateWorker(ctx context.Context, id rcq.WorkerID, p rcq.WorkerPatch) (*rcq.Worker, error)
	// DeleteWorker deletes a worker no job holds resources on (Conflict
	// worker_busy otherwise), audited in the same transaction.
	DeleteWorker(ctx context.Context, id rcq.WorkerID) error
	// WorkerJobs lists the jobs holding resources on a worker.
	WorkerJobs(ctx context.Context, id rcq.WorkerID) ([]rcq.JobID, error)
	// KnownNodes lists the nodes whose rcqd has heartbeated.
	KnownNodes(ctx context.Context) ([]rcq.KnownNode, error)
	LargestFit(ctx context.Context, r rcq.Resources) (bool, *rcq.Worker, error)

	CreateJobChecked(ctx context.Context, c *rcq.AccountCheck, j *rcq.Job, idemKey string) (rcq.JobID, bool, error)
	CreateJobsFrom(ctx context.Context, next func() ([]*rcq.Job, error)) ([]rcq.JobID, error)
	JobByID(ctx context.Context, id rcq.JobID, owner rcq.UserID) (*rcq.Job, error)
	JobByIDChecked(ctx context.Context, c *rcq.AccountCheck, id rcq.JobID, owner rcq.UserID) (*rcq.Job, error)
	ResolveRef(ctx context.Context, ref rcq.JobRef, owner rcq.UserID, split bool) ([]rcq.JobID, error)
	ArrayElement(ctx context.Context, arrayID rcq.JobID, task int, owner rcq.UserID) (*rcq.Job, error)
	ListJobs(ctx context.Context, f rcq.JobFilter) ([]rcq.Job, error)
	QueueJobs(ctx context.Context, f rcq.QueueFilter) ([]rcq.Job, error)
	CancelJob(ctx context.Context, id rcq.JobID, owner rcq.UserID) (rcq.JobState, error)
	// CancelMatching cancels every pending and running job f selects, in one transaction.
	CancelMatching(ctx context.Context, f rcq.CancelFilter) (rcq.CancelResult, error)
	SetHold(ctx context.Context, id rcq.JobID, owner rcq.UserID, hold rcq.Hold, admin bool) error
	// RequeueJob puts a job of owner (0: any) that ran back in the queue (scontrol requeue).
	RequeueJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, hold rcq.Hold, detail string) (rcq.JobState, error)
	UpdatePendingJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, u rcq.JobUpdate, check func(*rcq.Job) error) (*rcq.Job, error)
	JobStates(ctx context.Context, ids []rcq.JobID) (map[rcq.JobID]rcq.JobState, error)
	// SignalJob records a signal for a running job of owner (0: any) for its node's executor.
	SignalJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, signal string) error

	// AcctJobs and AcctSummary are accounting: rcq-acct, GET /api/acct.
	AcctJobs(ctx context.Context, f rcq.AcctFilter) ([]rcq.Job, error)
	// EachAcctJob is AcctJobs a row at a time, the job reused between calls.
	EachAcctJob(ctx context.Context, f rcq.AcctFilter, fn func(*rcq.Job) error) error
	AcctSummary(ctx context.Context, f rcq.AcctFilter) ([]rcq.GroupAcct, error)

	// WriteAudit writes one audit row in its own transaction (a refused
	// admin call); AuditEvents lists rows, newest first. Changes write
	// theirs in their own transactions, with the actor of the context.
	WriteAudit(ctx context.Context, e rcq.AuditEntry) error
	AuditEvents(ctx context.Context, f rcq.AuditFilter) ([]rcq.AuditEntry, error)

	// ClusterHistory and UsageHistory are the dashboard's charts (history.go).
	ClusterHistory(ctx context.Context, from time.Time, step time.Duration, points int) ([]rcq.HistoryPoint, error)
	UsageHistory(ctx context.Context, from time.Time, step time.Duration, points int) ([]rcq.UsageSeries, error)
}

// Planner is the scheduler's read side: the current plan, where a job
// would start, and the groups' fair share.
type Planner interface {
	Plan(ctx context.Context) (*rcq.Plan, error)
	Preview(ctx context.Context, j rcq.PendingJob) (*rcq.PlannedJob, error)
	// Shares is every group's usage and fair-share factor as the scheduler
	// computes them, with its users' usage.
	Shares(ctx context.Context) ([]rcq.GroupUsage, error)
	// ShareSettings is the fair-share window, bounds and wait boost.
	ShareSettings() rcq.ShareSettings
}

// Config is the API's slice of rcqd's configuration.
type Config struct {
	Version           string
	Limits            rcq.Limits
	OpenRegistration  bool
	UnixUserFromEmail bool // an admin's registration maps the account to the email's local part
	LoginPerMinute    int  // login and register attempts per minute per source, per account, and registrations in all
	TrustedProxies    []netip.Prefix
	// RunningAsRoot is system mode: socket peers are their Unix users.
	// Otherwise rcqd is in personal mode: only OwnerUID may use the socket.
	RunningAsRoot bool
	OwnerUID      int // rcqd's own uid

	// AllowedHosts are the names TCP requests may carry in Host besides
	// localhost and IP addresses: "name" (any port) or "name:port".
	AllowedHosts []string
}

// Deps are the Server's collaborators.
type Deps struct {
	Store     Store
	Planner   Planner
	Signer    *auth.Signer
	Passwords *auth.Passwords
	// OutputPaths resolves a job's stdout and stderr files (the executor's rule).
	OutputPaths func(j *rcq.Job) (stdout, stderr string)
	// UnixUsers checks accounts' Unix users and names socket peers; nil
	// means the machine's (UID_MIN from /etc/login.defs, PostgreSQL's
	// user "postgres").
	UnixUsers UnixUsers
	// ReadOutput opens a job's output file for reading as the job's user,
	// refusing anything but a regular file (the executor's rule).
	ReadOutput func(j *rcq.Job, path string) (*os.File, error)
	// HomeDir is the working directory of a job submitted without one: the
	// home of the Unix user it will run as ("" when unknown).
	HomeDir func(u *rcq.User) string
	Logger  *slog.Logger
	Now     func() time.Time
	// Wake, when set, is called after a change the scheduler must see
	// (cancel, hold, release, update, requeue). The store's NOTIFY wakes
	// every rcqd too; this in-process call saves its round trip and makes
	// the next GET /api/queue plan the change. Submits reach this
	// process's scheduler through the store's announcement instead
	// (store.Store.OnAnnounce, which rcqd sets), once and with whether the
	// job could start at all.
	Wake func()
	// EventLog serves GET /api/events; nil answers it 404 (as an rcqd
	// without events would, so clients poll).
	EventLog EventLog
	// Metrics, when set, counts every request and submit (internal/metrics).
	Metrics Observer
	// MetricsHandler, when set, serves GET /metrics on the Unix socket.
	MetricsHandler http.Handler
}

// Observer is what the API tells rcqd's metrics; internal/metrics implements
// it. route is the route pattern ("-": none matched), never the raw path.
type Observer interface {
	Request(method, route string, status int, took time.Duration)
	// Submitted: a submit through route stored jobs jobs in took.
	Submitted(route string, jobs int, took time.Duration)
}

// Server serves the API.
type Server struct {
	Deps
	cfg        Config
	limiter    *rateLimiter
	batches    batchSlots // batch submits in flight
	queueViews *queueReads
	hub        *eventHub // nil without an EventLog
	accounts   *accounts
	handler    http.Handler
}

// New builds the router.
func New(cfg Config, d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Wake == nil {
		d.Wake = func() {}
	}
	if d.UnixUsers == nil {
		d.UnixUsers = auth.NewUnixUsers(auth.LoginDefs, "postgres")
	}
	if cfg.Limits == (rcq.Limits{}) {
		cfg.Limits = rcq.DefaultLimits
	}
	if cfg.LoginPerMinute <= 0 {
		cfg.LoginPerMinute = 20
	}
	s := &Server{Deps: d, cfg: cfg, limiter: newRateLimiter(cfg.LoginPerMinute, time.Minute, d.Now)}
	s.queueViews = newQueueReads(s.readQueue)
	s.accounts = newAccounts(d.Now)
	if d.EventLog != nil {
		s.hub = newEventHub(d.EventLog, d.Planner, d.Logger)
	}
	s.handler = s.router()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists every route with its policy, for tests and docs.
func (s *Server) Routes() []Route { return s.routes() }

func (s *Server) router() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.accessLog, recoverer(s.Logger), s.socketGate)
	r.Use(s.hygiene) // on TCP: Host and Content-Type checks against browsers (hygiene.go)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, rcq.Errorf(rcq.KindNotFound, "no_route", "no such route: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &rcq.Error{Kind: rcq.KindMethodNotAllowed, Code: "method_not_allowed", Msg: r.Method + " is not allowed on " + r.URL.Path})
	})
	for _, rt := range s.routes() {
		r.Method(rt.Method, rt.Pattern, s.guard(rt))
	}
	s.mountUI(r)
	return r
}

// connKey marks how a request arrived (the daemon sets it per connection).
type connKey struct{}

// ConnInfo is what rcqd knows of a request's connection.
type ConnInfo struct {
	Unix   bool   // arrived on the Unix socket
	Peer   string // a rate-limit key for Unix peers, e.g. "uid:1000"
	UID    int    // the Unix peer's uid, from SO_PEERCRED; meaningful only with HasUID
	HasUID bool   // the kernel told the peer's uid (every Unix socket connection on Linux)
}

// WithConnInfo records how a connection arrived; rcqd calls it from
// http.Server.ConnContext.
func WithConnInfo(ctx context.Context, c ConnInfo) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func connInfo(r *http.Request) ConnInfo {
	c, _ := r.Context().Value(connKey{}).(ConnInfo)
	return c
}
