package executor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestArrayElementEnvAndOutput: an array element runs with Slurm's and
// rcq's array variables, its output in rcq-%A_%a.out by default, and a job
// submitted from inside an element does not inherit them.
func TestArrayElementEnvAndOutput(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	task := 8
	j := newJob(57, dir, "#!/bin/sh\nenv | grep ARRAY_ | sort\n")
	j.Array = &rcq.JobArray{ID: 50, TaskID: &task, Spec: "0-12:4%2", Throttle: 2, Count: 4, Min: 0, Max: 12, Step: 4}
	st.add(j)
	if got := st.wait(t, 57, 30*time.Second); got.State != rcq.JobCompleted {
		t.Fatalf("state %s reason %s", got.State, got.Reason)
	}
	out := readFile(t, filepath.Join(dir, "rcq-50_8.out"))
	want := "RCQ_ARRAY_JOB_ID=50\nRCQ_ARRAY_TASK_COUNT=4\nRCQ_ARRAY_TASK_ID=8\nRCQ_ARRAY_TASK_MAX=12\nRCQ_ARRAY_TASK_MIN=0\nRCQ_ARRAY_TASK_STEP=4\n" +
		"SLURM_ARRAY_JOB_ID=50\nSLURM_ARRAY_TASK_COUNT=4\nSLURM_ARRAY_TASK_ID=8\nSLURM_ARRAY_TASK_MAX=12\nSLURM_ARRAY_TASK_MIN=0\nSLURM_ARRAY_TASK_STEP=4\n"
	if out != want {
		t.Errorf("array variables:\n%s\nwant:\n%s", out, want)
	}

	// A plain job whose submitter ran inside an element sees none of them.
	k := newJob(58, dir, "#!/bin/sh\nenv | grep -c ARRAY_ || true\n")
	k.Env = []string{"SLURM_ARRAY_TASK_ID=3", "RCQ_ARRAY_JOB_ID=50", "PATH=/usr/bin:/bin"}
	st.add(k)
	if got := st.wait(t, 58, 30*time.Second); got.State != rcq.JobCompleted {
		t.Fatalf("state %s", got.State)
	}
	if out := readFile(t, filepath.Join(dir, "rcq-58.out")); strings.TrimSpace(out) != "0" {
		t.Errorf("a plain job saw array variables: %q", out)
	}
}

func TestArrayPatterns(t *testing.T) {
	task := 4
	el := &rcq.Job{ID: 130, Name: "sweep", UnixUser: "alice", Array: &rcq.JobArray{ID: 123, TaskID: &task}}
	row := &rcq.Job{ID: 123, Name: "sweep", Array: &rcq.JobArray{ID: 123, Pending: rcq.IndexSet{{First: 5, Last: 9, Step: 1}}}}
	plain := &rcq.Job{ID: 7}
	for _, c := range []struct {
		j        *rcq.Job
		in, want string
	}{
		{el, "%A_%a.out", "123_4.out"},
		{el, "%x-%j-%A-%3a", "sweep-130-123-004"},
		{row, "%A_%a.out", "123_%a.out"},
		{plain, "%A_%a", "7_4294967294"},
	} {
		if got := ExpandPattern(c.in, c.j); got != c.want {
			t.Errorf("ExpandPattern(%q) for job %d = %q, want %q", c.in, c.j.ID, got, c.want)
		}
	}
	el.WorkingDir = "/w"
	if o, e := OutputPaths(el); o != "/w/rcq-123_4.out" || e != o {
		t.Errorf("default output of an element: %q %q", o, e)
	}
}
