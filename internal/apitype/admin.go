package apitype

// The list bodies of the admin routes, written by rcqd (internal/api) and
// read by the client (internal/client, rcq-admin): one type for both sides.

// GroupList is GET /api/admin/groups: every group, by id.
type GroupList struct {
	Groups []Group `json:"groups"`
	Count  int     `json:"count"`
}

// UserList is GET /api/admin/users: every account, by id.
type UserList struct {
	Users []User `json:"users"`
	Count int    `json:"count"`
}

// WorkerList is GET /api/admin/workers: every worker, by id.
type WorkerList struct {
	Workers []Worker `json:"workers"`
	Count   int      `json:"count"`
}
