package queue

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Row is one job as rcq-queue shows it, and as --json prints it. Field names
// are stable: fields are added, never renamed.
type Row struct {
	ID             int64                `json:"id"`
	Name           string               `json:"name"`
	User           string               `json:"user"`
	UnixUser       string               `json:"unix_user,omitempty"`
	GroupID        int64                `json:"group_id"`
	State          string               `json:"state"`
	StateCode      string               `json:"state_code"`
	Own            bool                 `json:"own"`
	CPUCores       int                  `json:"cpu_cores"`
	MemoryGB       int                  `json:"memory_gb"`
	GPUCount       int                  `json:"gpu_count"`
	TimeLimitHours float64              `json:"time_limit_hours,omitempty"`
	ElapsedSeconds int64                `json:"elapsed_seconds"`
	Priority       int                  `json:"priority,omitempty"`
	Computed       *rcq.PriorityFactors `json:"computed_priority,omitempty"`
	Rank           int                  `json:"rank,omitempty"`
	Reason         string               `json:"reason,omitempty"`
	ReasonDetail   string               `json:"reason_detail,omitempty"`
	Worker         string               `json:"worker,omitempty"`
	GPUIndices     []int                `json:"gpu_indices,omitempty"`
	SubmittedAt    *time.Time           `json:"submitted_at,omitempty"`
	StartedAt      *time.Time           `json:"started_at,omitempty"`
	CompletedAt    *time.Time           `json:"completed_at,omitempty"`
	ExpectedStart  *time.Time           `json:"expected_start,omitempty"`
	ExitCode       *int                 `json:"exit_code,omitempty"`
	// Array jobs (see apitype.QueueJob): an element carries its array's id
	// and its index; the array's row of elements not yet started their
	// indices and throttle.
	ArrayJobID    *int64 `json:"array_job_id,omitempty"`
	ArrayTaskID   *int   `json:"array_task_id,omitempty"`
	ArrayTasks    string `json:"array_tasks,omitempty"`
	ArrayThrottle int    `json:"array_throttle,omitempty"`
}

// SlurmID is the row's id as squeue's %i shows it: 123, an element 123_4,
// or an array's elements not yet started folded, 123_[4-99%8].
// The folded indices are shown as rcqd sent them, never read: a line of
// 100,000 elements costs its text.
func (r *Row) SlurmID() string {
	switch {
	case r.ArrayJobID == nil:
		return strconv.FormatInt(r.ID, 10)
	case r.ArrayTaskID != nil:
		return rcq.ArrayJobName(rcq.JobID(*r.ArrayJobID), *r.ArrayTaskID, nil, 0)
	}
	s := strconv.FormatInt(*r.ArrayJobID, 10) + "_[" + r.ArrayTasks
	if r.ArrayThrottle > 0 {
		s += "%" + strconv.Itoa(r.ArrayThrottle)
	}
	return s + "]"
}

// Output is rcq-queue --json.
type Output struct {
	Jobs  []Row     `json:"jobs"`
	Count int       `json:"count"`
	Now   time.Time `json:"now"`

	table *tableSink // the table, built as the rows came (Jobs is empty)
}

func elapsed(state rcq.JobState, started, completed *time.Time, now time.Time) int64 {
	if started == nil {
		return 0
	}
	end := now
	if state.Terminal() && completed != nil {
		end = *completed
	}
	if end.Before(*started) {
		return 0
	}
	return int64(end.Sub(*started) / time.Second)
}

// fromQueue converts a row of GET /api/queue into r (zero), in place: a
// Row is ~300 bytes, and 10,000 of them copied twice showed in rcq-queue's
// profile.
func fromQueue(r *Row, j *apitype.QueueJob, now time.Time) {
	st := rcq.JobState(j.Status)
	r.ID, r.Name, r.User, r.UnixUser, r.GroupID, r.State, r.StateCode = j.ID, j.Name, j.User, j.UnixUser, j.GroupID, j.Status, st.Short()
	r.Own, r.CPUCores, r.MemoryGB, r.GPUCount = j.Own, j.CPUCores, j.MemoryGB, j.GPUCount
	r.TimeLimitHours, r.ElapsedSeconds = j.EstimatedHours, elapsed(st, j.StartedAt, nil, now)
	r.Priority, r.Computed, r.Rank, r.Reason, r.ReasonDetail = j.Priority, j.Computed, j.Rank, j.Reason, j.ReasonDetail
	r.Worker, r.GPUIndices, r.SubmittedAt, r.StartedAt, r.ExpectedStart = j.Worker, j.GPUIndices, j.SubmittedAt, j.StartedAt, j.ExpectedStart
	r.ArrayJobID, r.ArrayTaskID, r.ArrayTasks, r.ArrayThrottle = j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle
}

// sortQueue puts rows of the queue in queue order (apitype.QueueKey).
func sortQueue(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int { return a.queueKey().Compare(b.queueKey()) })
}

// queueKey is what puts the row in queue order.
func (r *Row) queueKey() apitype.QueueKey {
	return apitype.QueueKey{Pending: r.State == string(rcq.JobPending), Rank: r.Rank, ID: r.ID}
}

// fromAcct converts a job of GET /api/acct.
func fromAcct(j apitype.AcctJob, me string, now time.Time) Row {
	st := rcq.JobState(j.Status)
	sub := j.SubmittedAt
	return Row{
		ID: j.ID, Name: j.Name, User: j.User, UnixUser: j.UnixUser, GroupID: j.GroupID, State: j.Status, StateCode: st.Short(),
		Own: me == "" || j.User == me, CPUCores: j.CPUCores, MemoryGB: j.MemoryGB, GPUCount: j.GPUCount,
		TimeLimitHours: j.EstimatedHours, ElapsedSeconds: elapsed(st, j.StartedAt, j.CompletedAt, now),
		Reason: j.Reason, ReasonDetail: j.ReasonDetail, Worker: j.Worker, SubmittedAt: &sub,
		StartedAt: j.StartedAt, CompletedAt: j.CompletedAt, ExitCode: j.ExitCode,
		ArrayJobID: j.ArrayJobID, ArrayTaskID: j.ArrayTaskID, ArrayTasks: j.ArrayTasks, ArrayThrottle: j.ArrayThrottle,
	}
}

// fromJob converts a job of GET /api/jobs.
func fromJob(j apitype.Job, me string, now time.Time) Row {
	st := rcq.JobState(j.Status)
	sub := j.SubmittedAt
	return Row{
		ID: j.ID, Name: j.Name, User: j.User, UnixUser: j.UnixUser, GroupID: j.GroupID, State: j.Status, StateCode: st.Short(),
		Own: me == "" || j.User == me, CPUCores: j.CPUCores, MemoryGB: j.MemoryGB, GPUCount: j.GPUCount,
		TimeLimitHours: j.EstimatedHours, ElapsedSeconds: elapsed(st, j.StartedAt, j.CompletedAt, now),
		Priority: j.Priority, Computed: j.Computed, Rank: j.Rank, Reason: j.Reason, ReasonDetail: j.ReasonDetail,
		Worker: j.Worker, GPUIndices: j.GPUIndices, SubmittedAt: &sub, StartedAt: j.StartedAt,
		CompletedAt: j.CompletedAt, ExpectedStart: j.ExpectedStart, ExitCode: j.ExitCode,
		ArrayJobID: j.ArrayJobID, ArrayTaskID: j.ArrayTaskID, ArrayTasks: j.ArrayTasks, ArrayThrottle: j.ArrayThrottle,
	}
}

// FormatDuration writes seconds as squeue's TIME: [days-][hours:]minutes:seconds,
// days and hours only when needed.
func FormatDuration(sec int64) string { return string(appendDuration(nil, sec)) }

func appendDuration(b []byte, sec int64) []byte {
	if sec < 0 {
		sec = 0
	}
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	two := func(v int64) {
		b = append(b, byte('0'+v/10), byte('0'+v%10))
	}
	switch {
	case d > 0:
		b = strconv.AppendInt(b, d, 10)
		b = append(b, '-')
		two(h)
		b = append(b, ':')
	case h > 0:
		b = strconv.AppendInt(b, h, 10)
		b = append(b, ':')
	default:
		b = strconv.AppendInt(b, m, 10)
		b = append(b, ':')
		two(s)
		return b
	}
	two(m)
	b = append(b, ':')
	two(s)
	return b
}

const timeLayout = "2006-01-02T15:04:05"

// value is the row's field by squeue format letter.
func (r *Row) value(code byte) string { return string(r.appendValue(nil, code)) }

func appendOrDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}

// appendValue appends the row's field by squeue format letter: the table
// of 10,000 rows is written without a string a cell.
func (r *Row) appendValue(b []byte, code byte) []byte {
	st := rcq.JobState(r.State)
	switch code {
	case 'i':
		switch {
		case r.ArrayJobID == nil:
			return strconv.AppendInt(b, r.ID, 10)
		case r.ArrayTaskID != nil:
			return append(b, rcq.ArrayJobName(rcq.JobID(*r.ArrayJobID), *r.ArrayTaskID, nil, 0)...)
		}
		return append(b, r.SlurmID()...)
	case 'A':
		return strconv.AppendInt(b, r.ID, 10)
	case 'K':
		switch {
		case r.ArrayTaskID != nil:
			return strconv.AppendInt(b, int64(*r.ArrayTaskID), 10)
		case r.ArrayTasks != "" && r.ArrayThrottle > 0:
			return strconv.AppendInt(append(append(b, r.ArrayTasks...), '%'), int64(r.ArrayThrottle), 10)
		case r.ArrayTasks != "":
			return append(b, r.ArrayTasks...)
		}
		return append(b, "N/A"...)
	case 'j':
		return appendOrDash(b, r.Name)
	case 'u':
		// As squeue and rcq-acct: the Unix login mapped to the account,
		// else its email.
		if r.UnixUser != "" {
			return append(b, r.UnixUser...)
		}
		return appendOrDash(b, r.User)
	case 'g':
		return strconv.AppendInt(b, r.GroupID, 10)
	case 't':
		return append(b, r.StateCode...)
	case 'T':
		return append(b, strings.ToUpper(r.State)...)
	case 'M':
		return appendDuration(b, r.ElapsedSeconds)
	case 'l':
		if r.TimeLimitHours <= 0 {
			return append(b, "N/A"...)
		}
		return appendDuration(b, int64(r.TimeLimitHours*3600+0.5))
	case 'S':
		t := r.StartedAt
		if st == rcq.JobPending {
			t = r.ExpectedStart
		}
		if t == nil {
			return append(b, "N/A"...)
		}
		return t.Local().AppendFormat(b, timeLayout)
	case 'C':
		return strconv.AppendInt(b, int64(r.CPUCores), 10)
	case 'm':
		return append(strconv.AppendInt(b, int64(r.MemoryGB), 10), 'G')
	case 'b':
		return strconv.AppendInt(b, int64(r.GPUCount), 10)
	case 'Q':
		if r.Computed != nil {
			return strconv.AppendFloat(b, r.Computed.Final, 'f', 2, 64)
		}
		if r.Priority == 0 {
			return append(b, '-')
		}
		return strconv.AppendInt(b, int64(r.Priority), 10)
	case 'r':
		if st == rcq.JobRunning {
			return append(b, "None"...)
		}
		return appendOrDash(b, r.Reason)
	case 'R':
		// As squeue: the node of a running or completed job, the reason of
		// one that waits or did not complete ((NonZeroExitCode), ...).
		if st == rcq.JobRunning || st == rcq.JobCompleted && r.Worker != "" {
			return appendOrDash(b, r.Worker)
		}
		return append(appendOrDash(append(b, '('), r.Reason), ')')
	case 'E':
		return appendOrDash(b, r.ReasonDetail)
	case 'B':
		return append(b, factor(r.Computed, func(p *rcq.PriorityFactors) float64 { return p.Base })...)
	case 'F':
		return append(b, factor(r.Computed, func(p *rcq.PriorityFactors) float64 { return p.FairShare })...)
	case 'W':
		return append(b, factor(r.Computed, func(p *rcq.PriorityFactors) float64 { return p.WaitBoost })...)
	case 'P':
		return append(b, Partition...)
	case 'D':
		return append(b, '1')
	case 'N':
		if st == rcq.JobPending {
			return b
		}
		return append(b, r.Worker...)
	case 'Y':
		if r.Rank == 0 {
			return append(b, '-')
		}
		return strconv.AppendInt(b, int64(r.Rank), 10)
	}
	return b
}

func factor(p *rcq.PriorityFactors, get func(*rcq.PriorityFactors) float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(get(p), 'f', 3, 64)
}

// headers by format letter.
var headers = map[byte]string{
	'i': "JOBID", 'j': "NAME", 'u': "USER", 'g': "GROUP", 't': "ST", 'T': "STATE", 'M': "TIME",
	'l': "TIME_LIMIT", 'S': "START_TIME", 'C': "CPUS", 'm': "MEM", 'b': "GPUS", 'Q': "PRIORITY",
	'r': "REASON", 'R': "NODELIST(REASON)", 'E': "DETAIL", 'B': "BASE", 'F': "FAIRSHARE",
	'W': "WAITBOOST", 'P': "PARTITION", 'D': "NODES", 'N': "NODELIST", 'Y': "RANK",
	'A': "JOBID", 'K': "ARRAY_TASK_ID",
}

// Partition is rcq's one partition, as squeue's %P and sinfo show it.
const Partition = "rcq"

// compare orders two rows by one format letter.
func compare(a, b *Row, code byte) int {
	switch code {
	case 'i':
		// An array's rows together, by index; the folded row first.
		return cmp.Or(cmp.Compare(arrayOf(a), arrayOf(b)), cmp.Compare(taskOf(a), taskOf(b)))
	case 'A':
		return cmp.Compare(a.ID, b.ID)
	case 'K':
		return cmp.Compare(taskOf(a), taskOf(b))
	case 'g':
		return cmp.Compare(a.GroupID, b.GroupID)
	case 'M':
		return cmp.Compare(a.ElapsedSeconds, b.ElapsedSeconds)
	case 'l':
		return cmp.Compare(a.TimeLimitHours, b.TimeLimitHours)
	case 'C':
		return cmp.Compare(a.CPUCores, b.CPUCores)
	case 'm':
		return cmp.Compare(a.MemoryGB, b.MemoryGB)
	case 'b':
		return cmp.Compare(a.GPUCount, b.GPUCount)
	case 'Q', 'p':
		return cmp.Compare(priorityOf(a), priorityOf(b))
	case 'Y':
		return cmp.Compare(a.Rank, b.Rank)
	case 't', 'T':
		return cmp.Compare(stateOrder(a.State), stateOrder(b.State))
	case 'S':
		return cmp.Compare(a.value('S'), b.value('S'))
	}
	return strings.Compare(a.value(code), b.value(code))
}

func priorityOf(r *Row) float64 {
	if r.Computed != nil {
		return r.Computed.Final
	}
	return float64(r.Priority)
}

func stateOrder(s string) int {
	for i, st := range rcq.JobStates {
		if string(st) == s {
			return i
		}
	}
	return len(rcq.JobStates)
}

// arrayOf is a row's array id, or its own id.
func arrayOf(r *Row) int64 {
	if r.ArrayJobID != nil {
		return *r.ArrayJobID
	}
	return r.ID
}

// taskOf orders an array's rows: the folded row (-1), then by index.
func taskOf(r *Row) int {
	if r.ArrayTaskID != nil {
		return *r.ArrayTaskID
	}
	return -1
}

// unfold is squeue -r: the folded row of an array's elements not yet
// started becomes one row per element (123_4, 123_5, ...).
func unfold(rows []Row) []Row {
	n := 0
	for i := range rows {
		if rows[i].ArrayTasks != "" {
			n++
		}
	}
	if n == 0 {
		return rows
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		set, err := rcq.ParseIndexSet(r.ArrayTasks)
		if r.ArrayTasks == "" || r.ArrayTaskID != nil || err != nil {
			out = append(out, r)
			continue
		}
		for _, i := range set.Indices() {
			e := r
			e.ArrayTaskID, e.ArrayTasks, e.ArrayThrottle = &i, "", 0
			out = append(out, e)
		}
	}
	return out
}
