package cancel

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// An array element is cancelled by its Slurm id (123_4), one call per ref;
// a missing element is one line and exit 1, as a missing job.
func TestCancelArrayElement(t *testing.T) {
	api := clitest.NewAPI(t)
	arr, one, two := int64(1), 1, 2
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", ArrayJobID: &arr, ArrayTasks: "3-9"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "running", ArrayJobID: &arr, ArrayTaskID: &one})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "completed", ArrayJobID: &arr, ArrayTaskID: &two})
	e := clitest.NewEnv(t, "rcq-cancel", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "1_1"); code != 0 || e.Stderr.Len() != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if api.Job(2).Status != "cancelled" || api.Job(1).Status != "pending" {
		t.Errorf("element 1_1 (job 2) %s, array row %s", api.Job(2).Status, api.Job(1).Status)
	}
	code := e.Run(NewRootCmd(e.F), "1_2,1_99", "--json")
	if code != 1 {
		t.Errorf("finished and missing elements: exit %d", code)
	}
	var out struct{ Results []Result }
	if err := json.Unmarshal(e.Stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 2 || out.Results[0].Job != "1_2" || out.Results[0].Code != "job_finished" ||
		out.Results[1].Job != "1_99" || out.Results[1].Error != "job 1_99 not found" {
		t.Errorf("results %+v", out.Results)
	}
	for _, args := range [][]string{{"1_"}, {"1_[2-1]"}, {"1_4", "--me"}} {
		e := clitest.NewEnv(t, "rcq-cancel", api.URL)
		e.Login(t, api, "ann@lab")
		if code := e.Run(NewRootCmd(e.F), args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, e.Stderr)
		}
	}
}

// Several elements are one ref in one call: DELETE /api/jobs/1_[3-5,7].
func TestCancelElementsParse(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-cancel", "unix:///nowhere.sock")
	var got *Options
	if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), "7,1_[3-5,7]", "1_4"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var refs []string
	for _, r := range got.Elements {
		refs = append(refs, r.String())
	}
	if len(got.JobIDs) != 1 || got.JobIDs[0] != 7 || strings.Join(refs, " ") != "1_[3-5,7] 1_4" {
		t.Errorf("ids %v elements %q", got.JobIDs, refs)
	}
}
