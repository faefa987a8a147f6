// Package apitype holds the JSON bodies of rcq's REST API, shared by the
// server (internal/api) and the client (internal/client). Field names are
// stable: fields are added, never renamed. docs/api.md documents each.
package apitype

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// ErrorBody is every error response: {"error": "human message", "code":
// "machine_code", "request_id": "..."}. RequestID is also the response's
// X-Request-Id header and is in rcqd's log lines of the request.
type ErrorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// Health is GET /health.
type Health struct {
	Status  string `json:"status"` // "healthy" or "unhealthy"
	Message string `json:"message"`
	Version string `json:"version"`
}

// RegisterRequest is POST /api/auth/register.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	GroupID  int64  `json:"group_id"`
}

// RegisterResponse answers a registration.
type RegisterResponse struct {
	Message string `json:"message"`
	UserID  int64  `json:"user_id"`
	// Warning, when set, is what the new account cannot do yet: on a
	// root rcqd, run jobs before an admin maps it to a Unix user.
	Warning string `json:"warning,omitempty"`
}

// LoginRequest is POST /api/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// UserInfo is the caller as the token sees them.
type UserInfo struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	GroupID  int64  `json:"group_id"`
	IsAdmin  bool   `json:"is_admin"`
	UnixUser string `json:"unix_user,omitempty"`
}

// LoginResponse carries the token.
type LoginResponse struct {
	Message   string    `json:"message"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      UserInfo  `json:"user"`
}

// PasswordRequest is POST /api/auth/password.
type PasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// Message is a response that only says what happened.
type Message struct {
	Message string `json:"message"`
}

// Dependency is one entry of SubmitRequest.Dependencies. In a job shown by
// GET /api/jobs/{id}, State is the state of the job it waits on.
type Dependency struct {
	Type  string `json:"type"` // afterok, afterany, afternotok, aftercorr
	JobID int64  `json:"job_id"`
	// ArrayTaskID names one element of the array JobID (afterok:123_4);
	// absent, a dependency on an array waits for every element.
	ArrayTaskID *int   `json:"array_task_id,omitempty"`
	State       string `json:"state,omitempty"`
}

// DependencyList is the dependencies of a submit. Each entry is an object
// (a Dependency), or, as the seed's clients send them, a job id as a number
// (42) or a numeric string ("42"), which means afterok on that job.
type DependencyList []Dependency

// UnmarshalJSON reads objects strictly (an unknown key is refused), numbers
// and numeric strings. Its errors are *rcq.Error naming "dependencies".
func (l *DependencyList) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*l = nil
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return rcq.Invalid("dependencies", "expected a list of job ids or {\"type\",\"job_id\"} objects")
	}
	out := make(DependencyList, 0, len(items))
	for i, raw := range items {
		raw = bytes.TrimSpace(raw)
		var d Dependency
		switch {
		case len(raw) > 0 && raw[0] == '{':
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err != nil {
				return err
			}
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || id <= 0 {
				return rcq.Invalid("dependencies", "entry %d: %q is not a job id: use a positive whole number, or an object {\"type\",\"job_id\"}", i, s)
			}
			d = Dependency{Type: string(rcq.AfterOK), JobID: id}
		default:
			id, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || id <= 0 {
				return rcq.Invalid("dependencies", "entry %d: %s is not a job id: use a positive whole number, or an object {\"type\",\"job_id\"}", i, raw)
			}
			d = Dependency{Type: string(rcq.AfterOK), JobID: id}
		}
		out = append(out, d)
	}
	*l = out
	return nil
}

// SubmitRequest is POST /api/jobs. Optional fields left out take the defaults.
type SubmitRequest struct {
	Script         string            `json:"script"`
	Name           string            `json:"name,omitempty"`
	Args           []string          `json:"args,omitempty"`
	WorkingDir     string            `json:"working_dir,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	CPUCores       *int              `json:"cpu_cores,omitempty"`
	MemoryGB       *int              `json:"memory_gb,omitempty"`
	GPUCount       *int              `json:"gpu_count,omitempty"`
	EstimatedHours *float64          `json:"estimated_hours,omitempty"`
	Priority       *int              `json:"priority,omitempty"`
	Output         string            `json:"output,omitempty"`
	Error          string            `json:"error,omitempty"`
	Dependencies   DependencyList    `json:"dependencies,omitempty"`
	Hold           bool              `json:"hold,omitempty"`
	Umask          string            `json:"umask,omitempty"` // octal, "0022"; rcq-submit sends its own
	// Array makes a job array (sbatch --array): "0-99", "1,3,5-7", "0-99:4", "%8" throttle.
	Array string `json:"array,omitempty"`
	// TimeLimit "unlimited" (sbatch --time=UNLIMITED) asks for the most time
	// rcqd allows (jobs.max_estimated_hours), in place of estimated_hours.
	TimeLimit string `json:"time_limit,omitempty"`
	// Requeue: true puts the job back in the queue, once, if its node fails
	// or it is never launched (sbatch --requeue); false never (--no-requeue);
	// left out, rcqd's default (array elements only, jobs.requeue_array_elements).
	Requeue *bool `json:"requeue,omitempty"`
}

// SubmitResponse answers a submit. Test-only submits (POST /api/jobs?test_only=true)
// carry no id and fill ExpectedStart.
type SubmitResponse struct {
	Message string `json:"message"`
	JobID   int64  `json:"job_id,omitempty"`
	Status  string `json:"status"`
	// ArrayTaskCount is the number of elements of a job array (JobID is the array's id).
	ArrayTaskCount int        `json:"array_task_count,omitempty"`
	ExpectedStart  *time.Time `json:"expected_start,omitempty"`
	// With ?test_only=true and no expected start: why the job would wait.
	Reason       string `json:"reason,omitempty"`
	ReasonDetail string `json:"reason_detail,omitempty"`
}

// CommandSubmitRequest is POST /api/jobs/command: a command line of
// rcq-submit or sbatch, which rcqd reads as the command itself reads it.
type CommandSubmitRequest struct {
	// Program is "rcq-submit" or "sbatch" (Slurm's refusals instead of
	// warnings).
	Program string `json:"program"`
	// Args is the command line after the program's name.
	Args []string `json:"args,omitempty"`
	// Env is the submitting process's environment, NAME=value entries: its
	// RCQ_* and SBATCH_* input variables, and --export's source.
	Env []string `json:"env,omitempty"`
	// WorkingDir is the submitting process's directory: absolute.
	WorkingDir string `json:"working_dir"`
	// Umask is the submitting process's umask, octal ("0022"); empty is
	// the default, as in SubmitRequest.
	Umask string `json:"umask,omitempty"`
	// Script is the content of the script file Args names, or the script
	// the command reads from standard input; none with --wrap. rcqd opens
	// no file the request names.
	Script string `json:"script,omitempty"`
}

// CommandSubmitResponse answers POST /api/jobs/command: POST /api/jobs's
// answer, with what the command prints.
type CommandSubmitResponse struct {
	SubmitResponse
	// Output is the line the command prints on standard output:
	// "Submitted batch job N\n", or "N\n" with --parsable.
	Output string `json:"output"`
	// Warnings are the command's warnings, one line each, without the
	// program's name.
	Warnings []string `json:"warnings,omitempty"`
}

// BatchSubmitRequest is POST /api/jobs/batch: up to 10,000 specs, all or nothing.
type BatchSubmitRequest struct {
	Jobs []SubmitRequest `json:"jobs"`
}

// BatchSubmitResponse answers a batch submit, ids in request order.
type BatchSubmitResponse struct {
	Message string  `json:"message"`
	JobIDs  []int64 `json:"job_ids"`
	Count   int     `json:"count"`
}

// Job is a job as GET /api/jobs/{id} shows it.
type Job struct {
	ID             int64                `json:"id"`
	UserID         int64                `json:"user_id"`
	User           string               `json:"user"`
	UnixUser       string               `json:"unix_user,omitempty"` // the Unix login mapped to the account
	GroupID        int64                `json:"group_id"`
	Name           string               `json:"name"`
	Script         string               `json:"script"`
	Args           []string             `json:"args"`
	WorkingDir     string               `json:"working_dir"`
	CPUCores       int                  `json:"cpu_cores"`
	MemoryGB       int                  `json:"memory_gb"`
	GPUCount       int                  `json:"gpu_count"`
	EstimatedHours float64              `json:"estimated_hours"`
	Priority       int                  `json:"priority"`
	Status         string               `json:"status"`
	Reason         string               `json:"reason"`
	ReasonDetail   string               `json:"reason_detail,omitempty"`
	Hold           string               `json:"hold,omitempty"`
	Dependencies   []Dependency         `json:"dependencies"`
	SubmittedAt    time.Time            `json:"submitted_at"`
	StartedAt      *time.Time           `json:"started_at"`
	CompletedAt    *time.Time           `json:"completed_at"`
	WorkerID       *int64               `json:"worker_id"`
	Worker         string               `json:"worker,omitempty"`
	GPUIndices     []int                `json:"gpu_indices"`
	ExitCode       *int                 `json:"exit_code"`
	Signal         string               `json:"signal,omitempty"`
	OutputPath     string               `json:"output_path"`   // stdout's file, its pattern resolved
	ErrorPath      string               `json:"error_path"`    // stderr's file (once the bare "error" key, which read as a failure)
	ErrorMessage   string               `json:"error_message"` // why it did not complete; "" unless failed, timeout or cancelled
	Umask          string               `json:"umask"`
	CPUSeconds     float64              `json:"cpu_seconds"`
	PeakMemoryKB   int64                `json:"peak_memory_kb"`
	Rank           int                  `json:"rank,omitempty"`
	Computed       *rcq.PriorityFactors `json:"computed_priority,omitempty"`
	ExpectedStart  *time.Time           `json:"expected_start,omitempty"`
	// Array jobs: ArrayJobID is the array's id on every row of the array.
	// An element that has its own row carries ArrayTaskID; the array's row
	// for its elements not yet started carries their indices in ArrayTasks
	// (sbatch's form, "4-99") and the throttle. SlurmID shows either.
	ArrayJobID    *int64 `json:"array_job_id,omitempty"`
	ArrayTaskID   *int   `json:"array_task_id,omitempty"`
	ArrayTasks    string `json:"array_tasks,omitempty"`
	ArrayThrottle int    `json:"array_throttle,omitempty"`
	// Requeue is what the job asked for (nil: rcqd's default); Restarts how
	// many times it went back to the queue after its node failed or its
	// launch was lost, RequeuedAt when it last did.
	Requeue    *bool      `json:"requeue,omitempty"`
	Restarts   int        `json:"restarts"`
	RequeuedAt *time.Time `json:"requeued_at,omitempty"`
}

// SlurmID is the job's id as squeue shows it: "123", an element "123_4",
// or an array's elements not yet started "123_[4-99%8]".
func (j *Job) SlurmID() string {
	return slurmID(j.ID, j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle)
}

// JobUpdate is PATCH /api/jobs/{id}: changes to a pending job; fields left
// out stay. Dependencies, when present, replaces the job's dependencies ([]
// removes them). Users may rename, change dependencies, and lower the time
// limit and priority; admins may change anything in either direction.
type JobUpdate struct {
	Name           *string       `json:"name,omitempty"`
	EstimatedHours *float64      `json:"estimated_hours,omitempty"` // the time limit
	Priority       *int          `json:"priority,omitempty"`
	Dependencies   *[]Dependency `json:"dependencies,omitempty"`
}

// JobList is GET /api/jobs: one page of jobs. Next is the cursor of the
// next page (pass it as ?cursor=), "" on the last page.
type JobList struct {
	Jobs  []Job  `json:"jobs"`
	Count int    `json:"count"` // jobs in this page
	Next  string `json:"next"`
}

// JobAction answers cancel, hold, release and signal.
type JobAction struct {
	Message string `json:"message"`
	JobID   int64  `json:"job_id"`
	Status  string `json:"status,omitempty"`
}

// CancelRequest is POST /api/jobs/cancel: cancel, in one call, every
// pending and running job that matches all the fields given (at least one).
type CancelRequest struct {
	IDs    []int64  `json:"ids,omitempty"`
	States []string `json:"states,omitempty"` // pending, running (or PD, R); none: both
	Names  []string `json:"names,omitempty"`
	User   string   `json:"user,omitempty"` // an email or a mapped Unix login; others' need an admin
	Me     bool     `json:"me,omitempty"`   // the caller's jobs (an admin's own)
}

// CancelResponse answers POST /api/jobs/cancel: the jobs cancelled
// (ascending), and each job named in ids that was not, with why.
type CancelResponse struct {
	Count     int             `json:"count"`
	Cancelled []int64         `json:"cancelled"`
	Refused   []CancelRefusal `json:"refused"`
}

// CancelRefusal is one named job a bulk cancel left alone: Error and Code
// are what DELETE /api/jobs/{id} would have answered (not_found,
// job_finished).
type CancelRefusal struct {
	JobID int64  `json:"job_id"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

// SignalRequest is POST /api/jobs/{id}/signal.
type SignalRequest struct {
	Signal string `json:"signal"` // a name (USR1, SIGUSR1) or a number
}

// QueueJob is one row of GET /api/queue. Other users' jobs carry only id,
// user, group, status and size; the caller's own (or an admin's view) carry all.
type QueueJob struct {
	ID             int64                `json:"id"`
	User           string               `json:"user"`
	UnixUser       string               `json:"unix_user,omitempty"` // the Unix login mapped to the account
	GroupID        int64                `json:"group_id"`
	Status         string               `json:"status"`
	CPUCores       int                  `json:"cpu_cores"`
	MemoryGB       int                  `json:"memory_gb"`
	GPUCount       int                  `json:"gpu_count"`
	Own            bool                 `json:"own"`
	Name           string               `json:"name,omitempty"`
	Priority       int                  `json:"priority,omitempty"`
	Computed       *rcq.PriorityFactors `json:"computed_priority,omitempty"`
	Rank           int                  `json:"rank,omitempty"`
	Reason         string               `json:"reason,omitempty"`
	ReasonDetail   string               `json:"reason_detail,omitempty"`
	ExpectedStart  *time.Time           `json:"expected_start,omitempty"`
	SubmittedAt    *time.Time           `json:"submitted_at,omitempty"`
	StartedAt      *time.Time           `json:"started_at,omitempty"`
	EstimatedHours float64              `json:"estimated_hours,omitempty"`
	Worker         string               `json:"worker,omitempty"`
	GPUIndices     []int                `json:"gpu_indices,omitempty"`
	// Array jobs: ArrayJobID is the array's id on every row of the array.
	// An element that has its own row carries ArrayTaskID; the array's row
	// for its elements not yet started carries their indices in ArrayTasks
	// (sbatch's form, "4-99") and the throttle. SlurmID shows either.
	ArrayJobID    *int64 `json:"array_job_id,omitempty"`
	ArrayTaskID   *int   `json:"array_task_id,omitempty"`
	ArrayTasks    string `json:"array_tasks,omitempty"`
	ArrayThrottle int    `json:"array_throttle,omitempty"`
}

// SlurmID is the job's id as squeue shows it (see Job.SlurmID).
func (j *QueueJob) SlurmID() string {
	return slurmID(j.ID, j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle)
}

func slurmID(id int64, arrayID *int64, task *int, tasks string, throttle int) string {
	switch {
	case arrayID == nil:
		return strconv.FormatInt(id, 10)
	case task != nil:
		return rcq.ArrayJobName(rcq.JobID(*arrayID), *task, nil, 0)
	default:
		pending, err := rcq.ParseIndexSet(tasks)
		if err != nil { // never from rcqd; show what it sent
			return strconv.FormatInt(*arrayID, 10) + "_[" + tasks + "]"
		}
		return rcq.ArrayJobName(rcq.JobID(*arrayID), 0, pending, throttle)
	}
}

// Queue is GET /api/queue: one page of the pending and running jobs, the
// pages splitting the queue by job id, each page in queue order (SortQueue).
// Next is the cursor of the next page (pass it as ?cursor=), "" on the last.
type Queue struct {
	Jobs  []QueueJob `json:"jobs"`
	Count int        `json:"count"` // jobs in this page
	// Now is the server's clock, so clients compute elapsed times consistently.
	Now  time.Time `json:"now"`
	Next string    `json:"next"`
}

// QueueFields are the keys of a queue row (QueueJob), in its order: GET
// /api/queue?fields=a,b,... sends only those (the table of rcq-queue needs
// about half of the bytes of a row), and the rows form names its columns
// with them.
var QueueFields = []string{"id", "user", "unix_user", "group_id", "status", "cpu_cores", "memory_gb", "gpu_count", "own",
	"name", "priority", "computed_priority", "rank", "reason", "reason_detail", "expected_start", "submitted_at",
	"started_at", "estimated_hours", "worker", "gpu_indices", "array_job_id", "array_task_id", "array_tasks", "array_throttle"}

// SortQueue puts jobs in queue order (QueueKey). rcqd orders each page so;
// a client that reads several pages orders their union with it.
func SortQueue(jobs []QueueJob) {
	key := func(j *QueueJob) QueueKey { return QueueKey{j.Status == string(rcq.JobPending), j.Rank, j.ID} }
	slices.SortStableFunc(jobs, func(a, b QueueJob) int { return key(&a).Compare(key(&b)) })
}

// QueueKey is what puts a row in queue order: pending rows first, in the
// scheduler's order (rank; rows without one after those with one, by id),
// then the others by id.
type QueueKey struct {
	Pending bool
	Rank    int
	ID      int64
}

// Compare is -1 when a comes before b in queue order, 1 after, 0 for the
// same place.
func (a QueueKey) Compare(b QueueKey) int {
	if a.Pending != b.Pending {
		if a.Pending {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.rank(), b.rank()), cmp.Compare(a.ID, b.ID))
}

// rank is the key's rank, a row without one last.
func (a QueueKey) rank() int {
	if a.Rank == 0 {
		return int(^uint(0) >> 1)
	}
	return a.Rank
}

// Group is an admin view of a group.
type Group struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	CPUQuota float64 `json:"cpu_quota"`
	Priority int     `json:"priority"`
}

// GroupRequest creates (name required) or updates a group (fields left out stay).
type GroupRequest struct {
	Name     string   `json:"name,omitempty"`
	CPUQuota *float64 `json:"cpu_quota,omitempty"`
	Priority *int     `json:"priority,omitempty"`
}

// User is an admin view of an account.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	GroupID   int64     `json:"group_id"`
	IsAdmin   bool      `json:"is_admin"`
	UnixUser  string    `json:"unix_user"`
	CreatedAt time.Time `json:"created_at"`
}

// UserUpdate changes an account; fields left out stay.
type UserUpdate struct {
	IsAdmin  *bool   `json:"is_admin,omitempty"`
	GroupID  *int64  `json:"group_id,omitempty"`
	UnixUser *string `json:"unix_user,omitempty"`
}

// Worker is an admin view of a worker: its size and state.
type Worker struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Node          string    `json:"node"`
	CPUCores      int       `json:"cpu_cores"`
	MemoryGB      int       `json:"memory_gb"`
	GPUCount      int       `json:"gpu_count"`
	Status        string    `json:"status"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
}

// WorkerRequest creates (name and sizes required) or updates a worker.
type WorkerRequest struct {
	Name     string `json:"name,omitempty"`
	Node     string `json:"node,omitempty"`
	CPUCores *int   `json:"cpu_cores,omitempty"`
	MemoryGB *int   `json:"memory_gb,omitempty"`
	GPUCount *int   `json:"gpu_count,omitempty"`
	Status   string `json:"status,omitempty"`
}

// NodeInfo is one worker in GET /api/workers, which every account may read:
// its name, node and size, its state and what running jobs hold of it.
// Status is the worker's own state (online, drained, offline); State is
// sinfo's (idle, mixed, allocated, drained, offline), derived from Status
// and the allocation.
type NodeInfo struct {
	Name          string `json:"name"`
	Node          string `json:"node"`
	CPUCores      int    `json:"cpu_cores"`
	MemoryGB      int    `json:"memory_gb"`
	GPUCount      int    `json:"gpu_count"`
	Status        string `json:"status"`
	State         string `json:"state"`
	AllocCPUs     int    `json:"alloc_cpus"`
	AllocMemoryGB int    `json:"alloc_memory_gb"`
	AllocGPUs     int    `json:"alloc_gpus"`
	RunningJobs   int    `json:"running_jobs"`
}

// NodeList is GET /api/workers.
type NodeList struct {
	Workers []NodeInfo `json:"workers"`
	Count   int        `json:"count"`
}

// UserShare is one account's part of its group's fair-share usage.
// UsageShare is its usage over the group's (0 when the group used nothing).
type UserShare struct {
	Email         string  `json:"email"`
	UsageCPUHours float64 `json:"usage_cpu_hours"`
	UsageShare    float64 `json:"usage_share"`
}

// GroupShare is one group in GET /api/share: its quota and priority, its
// usage over the fair-share window (CPU-hours, decayed as the scheduler
// decays it), the scheduler's fair-share factor for it, and, for the
// caller's own group (every group for an admin), its users; Users is null
// for the groups whose members the caller may not see.
type GroupShare struct {
	ID            int64       `json:"id"`
	Name          string      `json:"name"`
	CPUQuota      float64     `json:"cpu_quota"`
	Priority      int         `json:"priority"`
	UsageCPUHours float64     `json:"usage_cpu_hours"`
	FairShare     float64     `json:"fair_share"`
	Users         []UserShare `json:"users"`
}

// ShareList is GET /api/share: every group by id.
type ShareList struct {
	Groups []GroupShare `json:"groups"`
	Count  int          `json:"count"`
}
