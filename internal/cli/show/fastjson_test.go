package show

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/show/jobtext"
	"github.com/rcq-project/rcq/internal/rcq"
)

// fastJSONAgrees fails t unless rcq-show --json's start-up path prints j,
// as rcqd writes it, byte for byte as the full command prints it: decoded,
// then cli.PrintJSON.
func fastJSONAgrees(t *testing.T, j *apitype.Job) {
	t.Helper()
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(j); err != nil { // as rcqd's writeJSON
		t.Fatal(err)
	}
	var decoded apitype.Job
	if err := json.Unmarshal(body.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := cli.PrintJSON(&want, &decoded); err != nil {
		t.Fatal(err)
	}
	if got := jobtext.JSON(body.Bytes()); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("rcqd wrote %s\nthe start-up path prints\n%s\nthe full command\n%s", body.Bytes(), got, want.Bytes())
	}
}

// TestFastJSONIsThePrintedJob: rcq-show --json JOB prints rcqd's answer
// without decoding it, exactly as the full command prints the decoded job,
// whatever its strings hold (rcqd escapes <, > and &; the commands do not).
func TestFastJSONIsThePrintedJob(t *testing.T) {
	now := time.Date(2026, 12, 4, 21, 0, 0, 123, time.UTC)
	code, worker, task := 3, int64(2), 4
	minimal := &apitype.Job{ID: 1, SubmittedAt: now}
	full := &apitype.Job{ID: 2, UserID: 3, User: "ann@lab", UnixUser: "ann", GroupID: 1,
		Name: `a<b>&c "q" \u003c`, Script: "#!/bin/sh\necho '<&>' \\u0026 \u2028 é\n", Args: []string{"", "<", `\`},
		WorkingDir: "/home/ann/x&y", CPUCores: 2, MemoryGB: 4, GPUCount: 1, EstimatedHours: 1e-7, Priority: 5,
		Status: "failed", Reason: "NonZeroExitCode", ReasonDetail: "exit <3>", Hold: "",
		Dependencies: []apitype.Dependency{{Type: "afterok", JobID: 1, State: "completed"}},
		SubmittedAt:  now, StartedAt: &now, CompletedAt: &now, WorkerID: &worker, Worker: "w&1",
		GPUIndices: []int{0}, ExitCode: &code, Signal: "SIGKILL", OutputPath: "/o/<1>.out",
		Umask: "0022", CPUSeconds: 12.5, PeakMemoryKB: 1 << 20, Rank: 7,
		Computed: &rcq.PriorityFactors{}, ArrayTaskID: &task, ArrayTasks: "1-10%2", Restarts: 1}
	for _, j := range []*apitype.Job{minimal, full} {
		fastJSONAgrees(t, j)
	}
}

// FuzzFastJSON: a job whose name, script and reason hold any text is printed
// alike both ways.
func FuzzFastJSON(f *testing.F) {
	for _, seed := range []string{"", "<&>", `\u003c`, "\\\u003c", "\u2028\xff", `"\`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fastJSONAgrees(t, &apitype.Job{ID: 1, Name: s, Script: s + s, ReasonDetail: s, Args: []string{s}})
	})
}
