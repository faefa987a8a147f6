package control

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// hold, release and update take array elements (123_4) and arrays by id.
func TestArrayElements(t *testing.T) {
	api := clitest.NewAPI(t)
	arr, one := int64(1), 1
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", ArrayJobID: &arr, ArrayTasks: "3-9"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", ArrayJobID: &arr, ArrayTaskID: &one})
	e := clitest.NewEnv(t, "rcq-control", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "hold", "1_1"); code != 0 {
		t.Fatalf("hold 1_1: exit %d: %s", code, e.Stderr)
	}
	if api.Job(2).Hold != "user" || api.Job(1).Hold != "" {
		t.Errorf("hold 1_1: element %q, array row %q", api.Job(2).Hold, api.Job(1).Hold)
	}
	if code := e.Run(NewRootCmd(e.F), "release", "1_1,1"); code != 0 || api.Job(2).Hold != "" {
		t.Errorf("release: exit %d: %s", code, e.Stderr)
	}
	if code := e.Run(NewRootCmd(e.F), "update", "1_1", "JobName=one"); code != 0 || api.Job(2).Name != "one" {
		t.Errorf("update: exit %d, name %q: %s", code, api.Job(2).Name, e.Stderr)
	}
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "hold", "1_9"); code != 1 || e.Stderr.String() != "rcq-control: job 1_9 not found\n" {
		t.Errorf("missing element: exit %d: %q", code, e.Stderr)
	}
	if code := e.Run(NewRootCmd(e.F), "requeue", "1_1"); code != cli.ExitUsage {
		t.Errorf("requeue an element: exit %d", code)
	}
	var got *Options
	run := NewCmd(e.F, func(o *Options) error { got = o; return nil })
	if code := e.Run(run, "update", "JobId=4,1_[2-3]", "Dependency=afterok:1_2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	two := 2
	if len(got.Refs) != 2 || got.Refs[1].String() != "1_[2-3]" || !reflect.DeepEqual(got.JobIDs, []int64{4}) ||
		!reflect.DeepEqual(*got.Update.Dependencies, []apitype.Dependency{{Type: "afterok", JobID: 1, ArrayTaskID: &two}}) {
		t.Errorf("options %+v", got)
	}
}

// rcq-control show is scontrol show job: rcq-show's output, elements too.
func TestShow(t *testing.T) {
	api := clitest.NewAPI(t)
	arr, one := int64(1), 1
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", Hold: "user", ArrayJobID: &arr, ArrayTasks: "3-9"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", Hold: "user", ArrayJobID: &arr, ArrayTaskID: &one})
	e := clitest.NewEnv(t, "rcq-control", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "show", "job", "1_1"); code != 0 || !strings.HasPrefix(e.Stdout.String(), "JobId=2 ArrayJobId=1 ArrayTaskId=1 JobName=sweep\n   UserId=ann@lab(1)") {
		t.Errorf("show job 1_1: exit %d\n%s%s", code, e.Stdout, e.Stderr)
	}
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "show", "9"); code != 1 || e.Stderr.String() != "rcq-control: job 9 not found\n" {
		t.Errorf("show 9: exit %d: %q", code, e.Stderr)
	}
}
