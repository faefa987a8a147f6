package rcq

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type (
	JobID    int64
	UserID   int64
	GroupID  int64
	WorkerID int64
)

// Hold says who holds a pending job back. A held job is never started.
type Hold string

const (
	HoldNone  Hold = ""
	HoldUser  Hold = "user"
	HoldAdmin Hold = "admin"
)

// Reasons a pending job waits, or a finished job ended as it did, in Slurm's
// words where one fits. docs/scheduling.md and docs/jobs.md explain each.
const (
	ReasonPriority                 = "Priority"
	ReasonResources                = "Resources"
	ReasonDependency               = "Dependency"
	ReasonDependencyNeverSatisfied = "DependencyNeverSatisfied"
	ReasonHeldUser                 = "JobHeldUser"
	ReasonHeldAdmin                = "JobHeldAdmin"
	ReasonConcurrencyLimit         = "ConcurrencyLimit"
	ReasonArrayTaskLimit           = "JobArrayTaskLimit" // the array's throttle (%N) is reached
	ReasonWorkerDrained            = "WorkerDrained"
	ReasonNone                     = "None"
	ReasonCancelledByUser          = "CancelledByUser"
	ReasonNonZeroExit              = "NonZeroExitCode"
	ReasonTimeLimit                = "TimeLimit"
	ReasonOutOfMemory              = "OutOfMemory"
	ReasonWorkerLost               = "WorkerLost"
	ReasonLaunchFailed             = "LaunchFailed"
	ReasonOutputNotRegularFile     = "OutputNotRegularFile"
	ReasonNodeFail                 = "NodeFail" // its node's rcqd stopped renewing its lease (node.dead_after)
	// ReasonRequeued: a pending job that ran and was put back in the queue
	// (its node failed, it never reported started, or its owner or an
	// admin requeued it); the detail says why.
	ReasonRequeued = "Requeued"
)

// DependencyType is how a job depends on another (sbatch --dependency).
type DependencyType string

const (
	AfterOK    DependencyType = "afterok"    // the other job completed with exit 0
	AfterAny   DependencyType = "afterany"   // the other job ended, however
	AfterNotOK DependencyType = "afternotok" // the other job ended other than completed
	// AfterCorr: element i of an array waits for element i of another array
	// to complete with exit 0 (an element the other array lacks: met).
	AfterCorr DependencyType = "aftercorr"
)

// ValidDependencyType reports whether t is a dependency type rcq knows.
func ValidDependencyType(t DependencyType) bool {
	return t == AfterOK || t == AfterAny || t == AfterNotOK || t == AfterCorr
}

// DependencyTypes lists the types, for messages.
const DependencyTypes = "afterok, afterany, afternotok or aftercorr"

// Dependency is one condition of a job on another. JobID may be an array's
// id: then the condition is on every element of the array, or, with
// ArrayTaskID, on that one element (afterok:123_4). An aftercorr dependency
// of an array element carries the element's own index as ArrayTaskID once
// the element has its own row.
type Dependency struct {
	Type        DependencyType `json:"type"`
	JobID       JobID          `json:"job_id"`
	ArrayTaskID *int           `json:"array_task_id,omitempty"`
}

// Target is the job the dependency names, as sbatch writes it: 123 or 123_4.
func (d Dependency) Target() string {
	if d.ArrayTaskID != nil && d.Type != AfterCorr {
		return fmt.Sprintf("%d_%d", d.JobID, *d.ArrayTaskID)
	}
	return fmt.Sprint(d.JobID)
}

func (d Dependency) String() string { return string(d.Type) + ":" + d.Target() }

// Satisfied reports whether d is met by a job in state s, and whether it can
// still be met at all (false: DependencyNeverSatisfied).
func (d Dependency) Satisfied(s JobState) (met, possible bool) {
	if !s.Terminal() {
		return false, true
	}
	switch d.Type {
	case AfterOK, AfterCorr:
		return s == JobCompleted, s == JobCompleted
	case AfterNotOK:
		return s != JobCompleted, s != JobCompleted
	default:
		return true, true
	}
}

// ParseDependencies reads sbatch's form: "afterok:1:2,afterany:3", with
// array elements as 123_4 ("afterok:123_4") and aftercorr:ID (element i of
// this array after element i of ID). Comma and '?' are not distinguished:
// every listed condition must hold (AND).
func ParseDependencies(s string) ([]Dependency, error) {
	var deps []Dependency
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		typ := DependencyType(strings.ToLower(fields[0]))
		if !ValidDependencyType(typ) || len(fields) < 2 {
			return nil, Invalid("dependency", "%q: use afterok:ID[:ID...], afterany:ID, afternotok:ID or aftercorr:ID (an ID may be an array element, 123_4), comma-separated", part)
		}
		for _, f := range fields[1:] {
			idText, taskText, isElement := strings.Cut(f, "_")
			var id int64
			if _, err := fmt.Sscan(idText, &id); err != nil || id <= 0 || fmt.Sprint(id) != idText {
				return nil, Invalid("dependency", "%q: %q is not a job id (123) or array element (123_4)", part, f)
			}
			d := Dependency{Type: typ, JobID: JobID(id)}
			if isElement {
				task, err := strconv.Atoi(taskText)
				if err != nil || task < 0 || task > MaxArrayIndex || strconv.Itoa(task) != taskText {
					return nil, Invalid("dependency", "%q: %q is not a job id (123) or array element (123_4)", part, f)
				}
				if typ == AfterCorr {
					return nil, Invalid("dependency", "%q: aftercorr names a whole array (aftercorr:123), not an element", part)
				}
				d.ArrayTaskID = &task
			}
			deps = append(deps, d)
		}
	}
	return deps, nil
}

// Job is a job as stored: what was asked for, and what became of it.
type Job struct {
	ID             JobID
	UserID         UserID
	UserEmail      string
	UnixUser       string // the owner's mapped Unix account, for the executor
	GroupID        GroupID
	GroupName      string // filled by accounting lists (store.AcctJobs) only
	Name           string
	Script         string
	Args           []string
	WorkingDir     string
	Env            []string // KEY=value, as captured at submit
	Resources      Resources
	EstimatedHours float64 // also the time limit
	Priority       int     // 1-10, as submitted
	State          JobState
	Reason         string
	ReasonDetail   string // the words behind Reason, e.g. why a launch failed
	Hold           Hold
	Dependencies   []Dependency
	Output         string // output path pattern (%j %x %u %%), "" for the default
	Error          string // error path pattern, "" for "into the output file"
	Umask          Umask  // file mode creation mask the job runs with
	SubmittedAt    time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time // set when the job's processes are gone
	ExitCode       *int
	Signal         string // the signal that ended it, if one did
	WorkerID       *WorkerID
	WorkerName     string
	GPUIndices     []int
	CPUSeconds     float64 // user+sys of the whole job
	PeakMemoryKB   int64
	Array          *JobArray // nil for a job that is not part of an array
	// Requeue is what the job asked for when its node fails or its launch
	// is lost (sbatch --requeue/--no-requeue): nil for the default (array
	// elements are requeued when jobs.requeue_array_elements is set).
	Requeue    *bool
	Restarts   int        // times it was put back in the queue after it ran
	RequeuedAt *time.Time // when it last was
}

// TimeLimit is the job's wall-clock limit.
func (j *Job) TimeLimit() time.Duration {
	return time.Duration(j.EstimatedHours * float64(time.Hour))
}

// ExpectedEnd is when the job reaches its time limit, for backfill.
func (j *Job) ExpectedEnd() time.Time {
	if j.StartedAt == nil {
		return time.Time{}
	}
	return j.StartedAt.Add(j.TimeLimit())
}

// JobFilter selects jobs for listing. Zero fields select everything.
type JobFilter struct {
	UserID      UserID // 0: any user (the API sets it for non-admins)
	States      []JobState
	Name        string
	IDs         []JobID
	Refs        []JobRef  // job refs (123, 123_4): a whole array or some elements
	Since       time.Time // submitted at or after
	DependsOn   JobID     // only jobs with a dependency on this job (0: any)
	Limit       int
	NewestFirst bool
	// After is where the page before ended: only jobs after it in the
	// listing's order (submit time, then id) are listed. Zero: from the start.
	After JobPos
}

// JobPos is a place in a list of jobs ordered by submit time, then id:
// a job's key, so a page boundary stays put while jobs are added.
type JobPos struct {
	SubmittedAt time.Time
	ID          JobID // 0: no position
}

// QueueFilter selects a page of the queue: pending and running jobs, by id.
type QueueFilter struct {
	UserID UserID // 0: every account's jobs
	After  JobID  // only jobs with a larger id: where the page before ended
	Limit  int    // 0: every job
}

// Start is one decision of the scheduler: run a job on a worker with these
// GPUs. With ArrayTask, JobID is an array whose element of that index, still
// pending in the array's own row, starts: the store splits it off, and the
// Start it reports as done carries the element's own job id.
type Start struct {
	JobID      JobID
	WorkerID   WorkerID
	GPUIndices []int
	ArrayTask  *int
}

// Outcome is how a job's processes ended, as the executor saw it.
type Outcome struct {
	JobID        JobID
	State        JobState // completed, failed, timeout (or cancelled when cancelled)
	Reason       string
	Detail       string // the words behind Reason, shown to the job's owner
	ExitCode     *int
	Signal       string
	EndedAt      time.Time
	CPUSeconds   float64
	PeakMemoryKB int64
	// Holder and Restarts fence the report, when Holder is set: it is
	// recorded only while the job is in the run that Holder launched (not
	// launched by another holder, not requeued since), so a node that was
	// paused past node.dead_after cannot write its late result over what
	// happened since.
	Holder   string
	Restarts int
}
