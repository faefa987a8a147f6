package show

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// An element shows ArrayJobId and ArrayTaskId; an array's id shows every
// row of the array, the one of elements not yet started with their indices.
func TestShowArray(t *testing.T) {
	api := clitest.NewAPI(t)
	arr, one, two := int64(1), 1, 2
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending", Hold: "user", ArrayJobID: &arr, ArrayTasks: "3-9", ArrayThrottle: 2})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "completed", ArrayJobID: &arr, ArrayTaskID: &one})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "after", Status: "pending", Hold: "user",
		Dependencies: []apitype.Dependency{{Type: "afterok", JobID: 1, ArrayTaskID: &two, State: "pending"}}})
	e := clitest.NewEnv(t, "rcq-show", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "1_1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if first, _, _ := strings.Cut(e.Stdout.String(), "\n"); first != "JobId=2 ArrayJobId=1 ArrayTaskId=1 JobName=sweep" {
		t.Errorf("element: first line %q", first)
	}
	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F), "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var firsts []string
	for _, l := range strings.Split(e.Stdout.String(), "\n") {
		if strings.HasPrefix(l, "JobId=") {
			firsts = append(firsts, l)
		}
	}
	if want := "JobId=1 ArrayJobId=1 ArrayTaskId=3-9 ArrayTaskThrottle=2 JobName=sweep|JobId=2 ArrayJobId=1 ArrayTaskId=1 JobName=sweep"; strings.Join(firsts, "|") != want {
		t.Errorf("array: %q\nwant %q", firsts, want)
	}
	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F), "3"); code != 0 || !strings.Contains(e.Stdout.String(), "Dependency=afterok:1_2(PENDING)") {
		t.Errorf("dependency on an element: exit %d\n%s", code, e.Stdout)
	}
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "1_[1,5]"); code != 1 || e.Stderr.String() != "rcq-show: job 1_5 not found\n" {
		t.Errorf("missing element: exit %d: %q", code, e.Stderr)
	}
}
