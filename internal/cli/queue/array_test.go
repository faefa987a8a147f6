package queue

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/rcq"
)

// seedArray stores ann's plain pending job 1 and array 2 (0-9%2): elements
// 4-9 not yet started (the array's row), 2_3 running (job 3), 2_1 split off
// and held (job 4), 2_0 completed a minute ago (job 5).
func seedArray(api *clitest.API) {
	arr := int64(2)
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "solo", Status: "pending", CPUCores: 1, MemoryGB: 1,
		Priority: 1, Reason: rcq.ReasonPriority, Rank: 1})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "sweep", Status: "pending", CPUCores: 1, MemoryGB: 1,
		Priority: 1, Reason: "JobArrayTaskLimit", Rank: 2, ArrayJobID: &arr, ArrayTasks: "4-9", ArrayThrottle: 2})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "sweep", Status: "running", CPUCores: 1, MemoryGB: 1,
		StartedAt: at(-90 * time.Second), Worker: "node1", ArrayJobID: &arr, ArrayTaskID: intp(3)})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "sweep", Status: "pending", CPUCores: 1, MemoryGB: 1,
		Priority: 1, Hold: "user", Reason: rcq.ReasonHeldUser, Rank: 3, ArrayJobID: &arr, ArrayTaskID: intp(1)})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "sweep", Status: "completed", CPUCores: 1, MemoryGB: 1,
		StartedAt: at(-2 * time.Minute), CompletedAt: at(-time.Minute), Worker: "node1", ExitCode: intp(0), ArrayJobID: &arr, ArrayTaskID: intp(0)})
}

func runArray(t *testing.T, args ...string) (*clitest.API, *clitest.Env) {
	t.Helper()
	api := clitest.NewAPI(t)
	seedArray(api)
	e := clitest.NewEnv(t, "rcq-queue", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), args...); code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, e.Stderr)
	}
	return api, e
}

// An array's elements not yet started are one line, 2_[4-9%2]; started or
// split-off elements one line each; -r unfolds the folded line.
func TestArrayFolding(t *testing.T) {
	_, e := runArray(t, "-h", "-o", "%i %t %R")
	want := "1 PD (Priority)\n2_[4-9%2] PD (JobArrayTaskLimit)\n2_1 PD (JobHeldUser)\n2_3 R node1\n2_0 CD node1\n"
	if e.Stdout.String() != want {
		t.Errorf("folded:\n%s\nwant:\n%s", e.Stdout, want)
	}
	_, e = runArray(t, "-h", "-r", "-t", "PD", "-o", "%i %A %K %R")
	want = "1 1 N/A (Priority)\n" +
		"2_4 2 4 (JobArrayTaskLimit)\n2_5 2 5 (JobArrayTaskLimit)\n2_6 2 6 (JobArrayTaskLimit)\n" +
		"2_7 2 7 (JobArrayTaskLimit)\n2_8 2 8 (JobArrayTaskLimit)\n2_9 2 9 (JobArrayTaskLimit)\n" +
		"2_1 4 1 (JobHeldUser)\n"
	if e.Stdout.String() != want {
		t.Errorf("-r:\n%s\nwant:\n%s", e.Stdout, want)
	}
	// %A is each row's own job id, %K the index, or the folded indices.
	_, e = runArray(t, "-h", "--array=false", "-t", "PD,R", "-o", "%.10i|%A|%K")
	want = "         1|1|N/A\n 2_[4-9%2]|2|4-9%2\n       2_1|4|1\n       2_3|3|3\n"
	if e.Stdout.String() != want {
		t.Errorf("%%A %%K:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

// The default table sizes JOBID to the folded line.
func TestArrayTable(t *testing.T) {
	_, e := runArray(t, "-t", "PD,R")
	want := `    JOBID NAME  USER    GROUP ST TIME CPUS MEM GPUS PRIORITY NODELIST(REASON)
        1 solo  ann@lab     1 PD 0:00    1  1G    0        1 (Priority)
2_[4-9%2] sweep ann@lab     1 PD 0:00    1  1G    0        1 (JobArrayTaskLimit)
      2_1 sweep ann@lab     1 PD 0:00    1  1G    0        1 (JobHeldUser)
      2_3 sweep ann@lab     1  R 1:30    1  1G    0        - node1
`
	if e.Stdout.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

// -j 2 selects every row of array 2; -j 2_3 one element; a list of
// elements cuts the folded line to those not yet started.
func TestArraySelectors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-j", "2"}, "2_[4-9%2]\n2_1\n2_3\n2_0\n"},
		{[]string{"-j", "2_3"}, "2_3\n"},
		{[]string{"-j", "2_5"}, "2_5\n"},
		{[]string{"-j", "2_[0,3,5-6,8]"}, "2_[5-6,8%2]\n2_3\n2_0\n"},
		{[]string{"-j", "1,2_[1,9]"}, "1\n2_9\n2_1\n"},
		{[]string{"-j", "2_[5-6]", "-r"}, "2_5\n2_6\n"},
		{[]string{"-j", "2_11"}, ""},
		{[]string{"-j", "2_4,2_5", "-t", "all"}, "2_[4-5%2]\n"},
	} {
		_, e := runArray(t, append([]string{"-h", "-o", "%i"}, c.args...)...)
		if e.Stdout.String() != c.want {
			t.Errorf("%q:\n%s\nwant:\n%s", c.args, e.Stdout, c.want)
		}
	}
	// History asks rcqd for the arrays of the elements named.
	api, _ := runArray(t, "-t", "CD", "-j", "2_0,7")
	if got := api.Requests[len(api.Requests)-1]; !strings.Contains(got, "ids=2%2C7") {
		t.Errorf("request %q, want ids=2,7", got)
	}
	api = clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-queue", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "-j", "2_[3-1]"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "--jobs: \"2_[3-1]\" is not "+rcq.JobRefForm) {
		t.Errorf("bad -j: exit %d: %s", code, e.Stderr)
	}
}

func TestArrayJSON(t *testing.T) {
	_, e := runArray(t, "--json", "-j", "2", "-t", "PD")
	var out Output
	if err := json.Unmarshal(e.Stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Jobs) != 2 || *out.Jobs[0].ArrayJobID != 2 || out.Jobs[0].ArrayTasks != "4-9" || out.Jobs[0].ArrayThrottle != 2 || *out.Jobs[1].ArrayTaskID != 1 {
		t.Errorf("json: %s", e.Stdout)
	}
}
