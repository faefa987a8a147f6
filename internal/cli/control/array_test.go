package control

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// hold, release, update and requeue take array elements (123_4) and
// arrays by id.
func TestArrayElements(t *testing.T) {
	api := clitest.NewAPI(t)
	arr, one, two := int64(1), 1, 2
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", ArrayJobID: &arr, ArrayTasks: "3-9"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", ArrayJobID: &arr, ArrayTaskID: &one})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "completed", ArrayJobID: &arr, ArrayTaskID: &two,
		StartedAt: &clitest.Now, CompletedAt: &clitest.Now})
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
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "requeue", "1_1"); code != cli.ExitFailure ||
		e.Stderr.String() != "rcq-control: job 1_1 is pending: it is in the queue already, so there is no run to requeue\n" {
		t.Errorf("requeue a pending element: exit %d: %q", code, e.Stderr)
	}
	if code := e.Run(NewRootCmd(e.F), "requeue", "1_2"); code != 0 || api.Job(3).Status != "pending" || api.Job(3).Restarts != 1 {
		t.Errorf("requeue element 1_2: exit %d, job %+v: %s", code, api.Job(3), e.Stderr)
	}
	var got *Options
	run := NewCmd(e.F, func(o *Options) error { got = o; return nil })
	if code := e.Run(run, "update", "JobId=4,1_[2-3]", "Dependency=afterok:1_2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
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
