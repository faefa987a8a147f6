package rcq

import (
	"context"
	"encoding/json"
	"time"
)

// Actor is who makes a request: the account, the connection it came on and
// the request's id. The API puts it in every authenticated request's
// context (WithActor); the store reads it there to write the audit rows of
// the changes it makes, in their transactions. A context without one (rcqd's
// own work: registration of its workers, the scheduler) writes none.
type Actor struct {
	ID        UserID
	Email     string
	Peer      string // "uid:1000" on the socket, the client's address on TCP
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns the actor ctx carries, if any.
func ActorOf(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Audit outcomes.
const (
	AuditOK      = "ok"      // the change was made
	AuditRefused = "refused" // the caller may not do it (written in its own transaction)
)

// Audit target kinds.
const (
	AuditGroup   = "group"
	AuditAccount = "account"
	AuditWorker  = "worker"
	AuditJob     = "job"
	AuditJobs    = "jobs"  // a bulk cancel: the filter is in Detail
	AuditRoute   = "route" // a refused call: the route's pattern
)

// AuditEntry is one row of the audit log. Before and After are the target's
// values around the change, as JSON (nil when there is none: a create has no
// Before).
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorID    UserID
	ActorEmail string
	Peer       string
	Action     string // "<kind>.<verb>", e.g. group.update, job.cancel
	TargetKind string
	TargetID   string
	Before     json.RawMessage
	After      json.RawMessage
	RequestID  string
	Outcome    string
	Detail     string
}

// AuditFilter selects audit rows: every set field must match. Rows come
// newest first; After is the cursor (rows with a smaller id).
type AuditFilter struct {
	Since, Until time.Time // zero: unbounded
	ActorID      UserID    // 0: any
	ActorEmail   string    // "": any (case-insensitive)
	TargetKind   string
	TargetID     string
	Action       string // exact, or "group." style prefix
	Before       int64  // only rows with id < Before (0: from the newest)
	Limit        int
}
