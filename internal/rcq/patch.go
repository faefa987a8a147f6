package rcq

// UserPatch changes an account; nil fields stay as they are.
type UserPatch struct {
	IsAdmin  *bool
	GroupID  *GroupID
	UnixUser *string
}

// WorkerPatch changes a worker; nil fields stay as they are.
type WorkerPatch struct {
	CPUCores *int
	MemoryGB *int
	GPUs     *int
	State    *WorkerState
}
