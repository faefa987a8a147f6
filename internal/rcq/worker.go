package rcq

import "time"

// WorkerState says whether a worker takes new jobs.
type WorkerState string

const (
	WorkerOnline  WorkerState = "online"  // takes new jobs
	WorkerDrained WorkerState = "drained" // finishes its jobs, takes no new ones
	WorkerOffline WorkerState = "offline" // its node stopped heartbeating
)

// Valid reports whether s is a known worker state.
func (s WorkerState) Valid() bool {
	return s == WorkerOnline || s == WorkerDrained || s == WorkerOffline
}

// Worker is a place jobs run: a machine, or a slice of one standing in for a
// machine. Node names the rcqd process whose executor runs its jobs.
type Worker struct {
	ID            WorkerID
	Name          string
	Node          string
	Capacity      Resources
	State         WorkerState
	LastHeartbeat time.Time
}

// Group is a research group: the unit of fair share.
type Group struct {
	ID       GroupID
	Name     string
	CPUQuota float64 // CPU-hours per fair-share window (30 days by default)
	Priority int     // 1-10, added to each job's priority
}

// AdminEmail is the account rcqd creates on an empty database. On the Unix
// socket it is also who root is (system mode) and who rcqd's own user is
// (personal mode).
const AdminEmail = "admin@localhost"

// DefaultGroup is the group rcqd creates on an empty database: where new
// accounts go unless an admin says otherwise.
const DefaultGroup GroupID = 1

// User is an account.
type User struct {
	ID           UserID
	Email        string
	GroupID      GroupID
	IsAdmin      bool
	UnixUser     string // who the job runs as when rcqd is root; "" for no mapping
	TokenVersion int    // bumped on logout and password change: older tokens stop working
	CreatedAt    time.Time
	// RowVersion changes with every change to the account (the store's row
	// version): an AccountCheck compares it to tell whether the account is
	// still as it was read.
	RowVersion uint32
}

// AccountCheck is an account as a request's authentication read it, for
// the store to re-check in the same round trip as the request's statement:
// the statement runs only if the account is unchanged since (RowVersion)
// and the token, if any, not ended. So authentication need not read the
// account again for every request, and a request never acts on an account
// that changed or a token that was revoked meanwhile. A refused check is
// ErrAccountChanged, and nothing was done.
type AccountCheck struct {
	UserID     UserID
	RowVersion uint32
	TokenID    string // the bearer token's id (its jti); "" without a token
}

// WorkerLoad is a worker with what the jobs running on it hold.
type WorkerLoad struct {
	Worker
	Allocated   Resources
	RunningJobs int
}

// Node states as sinfo names them (rcq-info, GET /api/workers).
const (
	NodeIdle      = "idle"      // online, nothing running
	NodeMixed     = "mixed"     // online, some CPUs allocated
	NodeAllocated = "allocated" // online, every CPU (or all memory) allocated
	NodeDrained   = "drained"   // drained by an admin: takes no new jobs
	NodeOffline   = "offline"   // its rcqd stopped heartbeating
)

// NodeState derives the sinfo-style state from the worker's state and what
// its running jobs hold.
func (w WorkerLoad) NodeState() string {
	switch {
	case w.State == WorkerOffline:
		return NodeOffline
	case w.State == WorkerDrained:
		return NodeDrained
	case w.RunningJobs == 0 && w.Allocated == (Resources{}):
		return NodeIdle
	case w.Allocated.CPUCores >= w.Capacity.CPUCores || w.Capacity.MemoryGB > 0 && w.Allocated.MemoryGB >= w.Capacity.MemoryGB:
		return NodeAllocated
	}
	return NodeMixed
}
