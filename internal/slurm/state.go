package slurm

import (
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// State is one of Slurm's job states: its long name and its compact code.
type State struct {
	Name string // COMPLETED
	Code string // CD
}

// States are the states sacct's -s accepts, in Slurm's order. OUT_OF_MEMORY
// is Slurm's; rcq ends such jobs failed, so selecting it selects nothing.
var States = []State{
	{"PENDING", "PD"}, {"RUNNING", "R"}, {"COMPLETED", "CD"}, {"FAILED", "F"},
	{"CANCELLED", "CA"}, {"TIMEOUT", "TO"}, {"OUT_OF_MEMORY", "OOM"}, {"NODE_FAIL", "NF"},
}

// otherStates are Slurm's other job states (squeue's and sacct's lists):
// rcq never gives a job one, so selecting them selects nothing.
var otherStates = []State{
	{"BOOT_FAIL", "BF"}, {"COMPLETING", "CG"}, {"CONFIGURING", "CF"}, {"DEADLINE", "DL"},
	{"PREEMPTED", "PR"}, {"REQUEUED", "RQ"}, {"REQUEUE_FED", "RF"}, {"REQUEUE_HOLD", "RH"},
	{"RESIZING", "RS"}, {"RESV_DEL_HOLD", "RD"}, {"REVOKED", "RV"}, {"SIGNALING", "SI"},
	{"SPECIAL_EXIT", "SE"}, {"STAGE_OUT", "SO"}, {"STOPPED", "ST"}, {"SUSPENDED", "S"},
}

// StateOf is the Slurm state of an rcq state.
func StateOf(s rcq.JobState) State {
	switch s {
	case rcq.JobPending:
		return States[0]
	case rcq.JobRunning:
		return States[1]
	case rcq.JobCompleted:
		return States[2]
	case rcq.JobFailed:
		return States[3]
	case rcq.JobCancelled:
		return States[4]
	case rcq.JobTimeout:
		return States[5]
	case rcq.JobNodeFail:
		return States[7]
	}
	return State{Name: strings.ToUpper(string(s)), Code: "??"}
}

// StateNames is the accepted-values list for messages.
const StateNames = "PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL (or PD, R, CD, F, CA, TO, OOM, NF)"

// ParseState reads a long name or code in any case (COMPLETED, cd, Timeout).
// It returns the rcq state, or "" for a Slurm state rcq never gives a job
// (OUT_OF_MEMORY, COMPLETING, SUSPENDED and Slurm's others), and an error naming the accepted values for
// anything else.
func ParseState(s string) (rcq.JobState, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, st := range States {
		if u != st.Name && u != st.Code {
			continue
		}
		for _, k := range rcq.JobStates {
			if StateOf(k) == st {
				return k, nil
			}
		}
		return "", nil
	}
	for _, st := range otherStates {
		if u == st.Name || u == st.Code {
			return "", nil
		}
	}
	return "", rcq.Invalid("state", "%q is not a job state: use %s", s, StateNames)
}
