package sched

import (
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestReasons(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 32, 2))}
	heldUser := pending(1, res(1, 1, 0), 1)
	heldUser.Hold = rcq.HoldUser
	heldAdmin := pending(2, res(1, 1, 0), 1)
	heldAdmin.Hold = rcq.HoldAdmin
	waits := pending(3, res(1, 1, 0), 1)
	waits.Dependencies = []rcq.Dependency{{Type: rcq.AfterAny, JobID: 90}, {Type: rcq.AfterOK, JobID: 91}}
	never := pending(4, res(1, 1, 0), 1)
	never.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 92}}
	neverNotOK := pending(5, res(1, 1, 0), 1)
	neverNotOK.Dependencies = []rcq.Dependency{{Type: rcq.AfterNotOK, JobID: 93}}
	met := pending(6, res(1, 1, 0), 1)
	met.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 93}, {Type: rcq.AfterNotOK, JobID: 92}, {Type: rcq.AfterAny, JobID: 90}}
	onPending := pending(7, res(1, 1, 0), 1)
	onPending.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 1}}
	heldNever := pending(8, res(1, 1, 0), 1)
	heldNever.Hold = rcq.HoldUser
	heldNever.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 92}}
	unknown := pending(9, res(1, 1, 0), 1)
	unknown.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 999}}
	gpuShort := pending(10, res(1, 1, 4), 1)

	snap := snapshot(workers, nil, heldUser, heldAdmin, waits, never, neverNotOK, met, onPending, heldNever, unknown, gpuShort)
	snap.DepStates = map[rcq.JobID]rcq.JobState{90: rcq.JobCompleted, 91: rcq.JobRunning, 92: rcq.JobFailed, 93: rcq.JobCompleted}
	p := Schedule(snap, unlimited())

	for _, tc := range []struct {
		id             int
		reason, detail string
	}{
		{1, rcq.ReasonHeldUser, "held by its owner"},
		{2, rcq.ReasonHeldAdmin, "held by an administrator"},
		{3, rcq.ReasonDependency, "waits for afterok:91 (job 91 is running)"},
		{4, rcq.ReasonDependencyNeverSatisfied, "afterok:92 can never be met: job 92 ended failed"},
		{5, rcq.ReasonDependencyNeverSatisfied, "afternotok:93 can never be met: job 93 ended completed"},
		{6, "", ""},
		{7, rcq.ReasonDependency, "waits for afterok:1 (job 1 is pending)"},
		{8, rcq.ReasonDependencyNeverSatisfied, "afterok:92"},
		{9, rcq.ReasonDependency, "job 999 is not known"},
		{10, rcq.ReasonResources, "needs 4 gpu_count; the largest online worker has 2"},
	} {
		j := planned(p, tc.id)
		if j.Reason != tc.reason || !strings.Contains(j.Detail, tc.detail) {
			t.Errorf("job %d: reason %q detail %q, want %q containing %q", tc.id, j.Reason, j.Detail, tc.reason, tc.detail)
		}
		_, started := startOf(p, tc.id)
		if started != (tc.reason == "") {
			t.Errorf("job %d started = %v, want %v", tc.id, started, tc.reason == "")
		}
		if tc.reason != "" && j.ExpectedStart != nil {
			t.Errorf("job %d (%s) has expected start %v, want none", tc.id, tc.reason, j.ExpectedStart)
		}
	}
	cancelled := map[rcq.JobID]string{}
	for _, c := range p.Cancels {
		cancelled[c.JobID] = c.Detail
	}
	if len(cancelled) != 3 || cancelled[4] == "" || cancelled[5] == "" || cancelled[8] == "" {
		t.Errorf("cancels = %+v, want jobs 4, 5 and 8 with details", p.Cancels)
	}
}

func TestResourcesDetail(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 64, 0)), worker(2, res(16, 16, 0))}
	run := []rcq.RunningJob{running(100, 1, res(4, 8, 0), time.Hour, 2), running(101, 2, res(12, 8, 0), time.Hour, 2)}
	p := Schedule(snapshot(workers, run,
		pending(1, res(6, 4, 0), 1),  // top blocked
		pending(2, res(5, 60, 0), 1), // 5 cores are free nowhere
		pending(3, res(4, 9, 0), 1),  // 4 cores free on both, 9 GB only on w1
	), unlimited())
	if j := planned(p, 1); !strings.Contains(j.Detail, "needs 6 cpu_cores; largest free is 4 on w1; reserved on w1 from 13:00") {
		t.Errorf("job 1 detail = %q", j.Detail)
	}
	// Job 3 fits only w1 (memory), which is reserved from 13:00; it runs an
	// hour, so it ends by then and is backfilled.
	if s, ok := startOf(p, 3); !ok || s.WorkerID != 1 {
		t.Errorf("job 3: start %+v %v, want backfilled on w1", s, ok)
	}
	if j := planned(p, 2); j.Reason != rcq.ReasonResources || !strings.Contains(j.Detail, "needs 5 cpu_cores") {
		t.Errorf("job 2: %q %q", j.Reason, j.Detail)
	}
}

func TestClock(t *testing.T) {
	if got := clock(now.Add(2*time.Hour+5*time.Minute), now); got != "14:05" {
		t.Errorf("same day: %q", got)
	}
	if got := clock(now.Add(24*time.Hour), now); got != "Nov 29 12:00" {
		t.Errorf("next day: %q", got)
	}
}
