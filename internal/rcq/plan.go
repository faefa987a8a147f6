package rcq

import "time"

// PendingJob is what the scheduler needs to know of a pending job.
type PendingJob struct {
	ID             JobID
	UserID         UserID
	GroupID        GroupID
	Resources      Resources
	EstimatedHours float64
	Priority       int
	Hold           Hold
	Dependencies   []Dependency
	SubmittedAt    time.Time
	// Job arrays: ArrayJobID is the array's id on each of its rows, with
	// its throttle (0: none). The array's own row, standing for elements
	// not yet started, lists the next of their indices in ArrayTasks
	// (ArrayMore: there are more than these).
	ArrayJobID    JobID
	ArrayThrottle int
	ArrayTasks    []int
	ArrayMore     bool
	// ArrayNever: indices of the array's row whose aftercorr can never be
	// met (the corresponding element did not complete): they are cancelled.
	ArrayNever []int
}

// RunningJob is a job that holds resources on a worker: started, and its
// processes not yet gone (a cancelled job holds them until they are).
type RunningJob struct {
	ID             JobID
	GroupID        GroupID
	WorkerID       WorkerID
	Resources      Resources
	GPUIndices     []int
	StartedAt      time.Time
	EstimatedHours float64
	ArrayJobID     JobID // the array of an array element, 0 for others
}

// GroupShare is a group with its recent usage, for fair share.
type GroupShare struct {
	Group
	UsageCPUHours float64 // over the fair-share window, decayed if configured
}

// Snapshot is one consistent view of the store for one scheduling cycle.
type Snapshot struct {
	Now       time.Time // the database's clock
	Pending   []PendingJob
	Running   []RunningJob
	Workers   []Worker
	Groups    []GroupShare
	DepStates map[JobID]JobState // the state of every job a pending job depends on
	// TaskStates: the state of every array element a pending job depends
	// on by index (afterok:123_4, an element's aftercorr); an element the
	// array does not have is absent.
	TaskStates map[ArrayTask]JobState
}

// ArrayTask names one element of an array: 123_4.
type ArrayTask struct {
	Array JobID
	Task  int
}

// PriorityFactors is how a job's final priority came about:
// Final = Base x FairShare x WaitBoost.
type PriorityFactors struct {
	Base      float64 `json:"base"`
	FairShare float64 `json:"fair_share"`
	WaitBoost float64 `json:"wait_boost"`
	Final     float64 `json:"final"`
}

// PlannedJob is the scheduler's word on one pending job.
type PlannedJob struct {
	JobID         JobID
	Rank          int // 1 = next to start
	Priority      PriorityFactors
	Reason        string     // why it waits (a Reason* constant); "" when it starts now
	Detail        string     // the numbers behind the reason
	ExpectedStart *time.Time // nil when no estimate can be made
	WorkerID      WorkerID   // where it starts or is expected to start; 0 if unknown
}

// DependencyCancel ends a job whose dependencies can never be satisfied;
// with ArrayTask, the element of that index still pending in the array
// JobID's row.
type DependencyCancel struct {
	JobID     JobID
	Detail    string
	ArrayTask *int
}

// Plan is the outcome of one scheduling cycle.
type Plan struct {
	Starts  []Start
	Cancels []DependencyCancel
	Jobs    []PlannedJob // every pending job (including those starting now), in order
}

// UserUsage is one account's usage inside one group over the fair-share
// window, decayed like its group's.
type UserUsage struct {
	UserID        UserID
	Email         string
	UsageCPUHours float64
}

// GroupUsage is a group's fair-share standing: its usage, the scheduler's
// fair-share factor for it, and its members' usage (every current member,
// and anyone who used it inside the window).
type GroupUsage struct {
	GroupShare
	FairShare float64
	Users     []UserUsage
}
