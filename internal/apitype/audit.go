package apitype

import (
	"encoding/json"
	"time"
)

// AuditEvent is one row of the audit log (GET /api/admin/audit): who
// (account, its email then, and the socket peer's uid or the client's
// address), what (action, target), the target's values before and after,
// the request's id and whether it was done or refused.
type AuditEvent struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id"`
	ActorEmail string          `json:"actor_email"`
	Peer       string          `json:"peer"`
	Action     string          `json:"action"`
	TargetKind string          `json:"target_kind"`
	TargetID   string          `json:"target_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	RequestID  string          `json:"request_id"`
	Outcome    string          `json:"outcome"` // ok or refused
	Detail     string          `json:"detail"`
}

// AuditList is GET /api/admin/audit: a page of rows, newest first; Next is
// the cursor of the next (older) page, "" on the last.
type AuditList struct {
	Events []AuditEvent `json:"events"`
	Count  int          `json:"count"`
	Next   string       `json:"next"`
}
