package apitype

import "time"

// AcctJob is one job of GET /api/acct: what accounting (rcq-acct, sacct)
// shows of it, without its script and environment. Fields are added, never
// renamed.
type AcctJob struct {
	ID             int64      `json:"id"`
	User           string     `json:"user"`
	UnixUser       string     `json:"unix_user,omitempty"`
	GroupID        int64      `json:"group_id"`
	Group          string     `json:"group"`
	Name           string     `json:"name"`
	Status         string     `json:"status"`
	WorkingDir     string     `json:"working_dir"`
	CPUCores       int        `json:"cpu_cores"`
	MemoryGB       int        `json:"memory_gb"`
	GPUCount       int        `json:"gpu_count"`
	EstimatedHours float64    `json:"estimated_hours"`
	Reason         string     `json:"reason,omitempty"`
	ReasonDetail   string     `json:"reason_detail,omitempty"`
	SubmittedAt    time.Time  `json:"submitted_at"`
	StartedAt      *time.Time `json:"started_at"`
	CompletedAt    *time.Time `json:"completed_at"`
	ExitCode       *int       `json:"exit_code"`
	Signal         string     `json:"signal,omitempty"`
	Worker         string     `json:"worker,omitempty"`
	CPUSeconds     float64    `json:"cpu_seconds"`
	PeakMemoryKB   int64      `json:"peak_memory_kb"`
	Output         string     `json:"output"`
	Error          string     `json:"error"`
	// Array jobs, as in Job: sacct shows SlurmID (123_4; 123_[5-9] for
	// elements that never started, e.g. cancelled with the array).
	ArrayJobID    *int64 `json:"array_job_id,omitempty"`
	ArrayTaskID   *int   `json:"array_task_id,omitempty"`
	ArrayTasks    string `json:"array_tasks,omitempty"`
	ArrayThrottle int    `json:"array_throttle,omitempty"`
}

// SlurmID is the job's id as sacct shows it (see Job.SlurmID).
func (j *AcctJob) SlurmID() string {
	return slurmID(j.ID, j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle)
}

// AcctList is GET /api/acct: one page of jobs, newest first. Next is the
// cursor of the next page (pass it as ?cursor=), "" on the last page.
type AcctList struct {
	Jobs  []AcctJob `json:"jobs"`
	Count int       `json:"count"`
	Next  string    `json:"next"`
}

// NextCursorHeader is the response header of GET /api/acct holding the
// page's Next as well, so a client can ask for the next page before it
// reads this one's rows: present on every page, empty on the last.
const NextCursorHeader = "X-Rcq-Next-Cursor"

// AcctGroup is one group's totals in GET /api/acct/summary. CPU and GPU hours
// are allocated (cores or GPUs times the time run; running jobs up to now);
// used_cpu_hours is the CPU time the jobs' processes used.
type AcctGroup struct {
	GroupID      int64          `json:"group_id"`
	Group        string         `json:"group"`
	Jobs         int            `json:"jobs"`
	ByState      map[string]int `json:"by_state"`
	CPUHours     float64        `json:"cpu_hours"`
	GPUHours     float64        `json:"gpu_hours"`
	UsedCPUHours float64        `json:"used_cpu_hours"`
}

// AcctSummary is GET /api/acct/summary: per-group totals of the jobs the
// same filters as GET /api/acct select.
type AcctSummary struct {
	Groups []AcctGroup `json:"groups"`
	From   *time.Time  `json:"from,omitempty"`
	To     *time.Time  `json:"to,omitempty"`
}
