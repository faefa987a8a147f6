package show

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/rcq"
)

func at(d time.Duration) *time.Time { t := clitest.Now.Add(d); return &t }
func intp(n int) *int               { return &n }

// setup stores ann's failed job 1 (killed by a signal, with dependencies),
// ann's held job 2 and bob's held job 3.
func setup(t *testing.T) (*clitest.API, *clitest.Env) {
	api := clitest.NewAPI(t)
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "train", Status: "failed",
		CPUCores: 4, MemoryGB: 16, GPUCount: 2, GPUIndices: []int{0, 1}, EstimatedHours: 26.5, Priority: 3,
		Reason: rcq.ReasonNonZeroExit, ReasonDetail: "exit code 137",
		Dependencies: []apitype.Dependency{{Type: "afterok", JobID: 7, State: "completed"}, {Type: "afterany", JobID: 8}},
		SubmittedAt:  clitest.Now.Add(-2 * time.Hour), StartedAt: at(-time.Hour), CompletedAt: at(-time.Hour + 90*time.Second),
		Worker: "node1", ExitCode: intp(137), Signal: "KILL", WorkingDir: "/home/ann", OutputPath: "/home/ann/rcq-1.out",
		ErrorPath: "/home/ann/rcq-1.out", Umask: "0022", CPUSeconds: 3725.4, PeakMemoryKB: 123456})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "held", Status: "pending", Hold: "user",
		Reason: rcq.ReasonHeldUser, CPUCores: 1, MemoryGB: 1, EstimatedHours: 1, Priority: 1, SubmittedAt: clitest.Now.Add(-time.Minute),
		Computed: &rcq.PriorityFactors{Base: 1, FairShare: 0.5, WaitBoost: 1.25, Final: 0.625}, Rank: 4})
	api.AddJob(apitype.Job{UserID: 2, User: "bob@lab", Name: "bobs", Status: "pending", Hold: "user"})
	e := clitest.NewEnv(t, "rcq-show", api.URL)
	e.Login(t, api, "ann@lab")
	return api, e
}

func TestFlagParsing(t *testing.T) {
	_, e := setup(t)
	var got *Options
	if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), "job", "4", "5,6", "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	refs := []rcq.JobRef{{JobID: 4}, {JobID: 5}, {JobID: 6}}
	if want := (&Options{F: e.F, JobIDs: []int64{4, 5, 6}, Refs: refs, JSON: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("options = %+v", got)
	}
	for _, args := range [][]string{{}, {"job"}, {"x"}, {"0"}, {"4_"}, {"4_[2-1]"}, {"--format", "x", "1"}} {
		_, e := setup(t)
		if code := e.Run(NewCmd(e.F, func(*Options) error { return nil }), args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestShowFinishedJob(t *testing.T) {
	_, e := setup(t)
	if code := e.Run(NewRootCmd(e.F), "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := `JobId=1 JobName=train
   UserId=ann@lab(1) GroupId=1
   Priority=3
   JobState=FAILED Reason=NonZeroExitCode Dependency=afterok:7(COMPLETED),afterany:8(UNKNOWN)
   ReasonDetail=exit code 137
   Restarts=0 ExitCode=0:9
   RunTime=00:01:30 TimeLimit=1-02:30:00
   SubmitTime=2026-11-28T10:00:00 StartTime=2026-11-28T11:00:00 EndTime=2026-11-28T11:01:30
   NodeList=node1 BatchHost=node1
   NumNodes=1 NumCPUs=4 NumTasks=1 CPUs/Task=4
   TRES=cpu=4,mem=16G,node=1,gres/gpu=2
   MinMemoryNode=16G GRES=gpu:2(IDX:0,1)
   TotalCPU=01:02:05 MaxRSS=123456K
   WorkDir=/home/ann
   StdErr=/home/ann/rcq-1.out
   StdIn=/dev/null
   StdOut=/home/ann/rcq-1.out
   Umask=0022
`
	if got := e.Stdout.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestShowPendingJobWithPriorityFactors(t *testing.T) {
	_, e := setup(t)
	if code := e.Run(NewRootCmd(e.F), "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	out := e.Stdout.String()
	for _, want := range []string{
		"   Priority=1 Rank=4 FinalPriority=0.625 Base=1.000 FairShare=0.500 WaitBoost=1.250\n",
		"   JobState=PENDING Reason=JobHeldUser Dependency=(null)\n",
		"   Hold=user\n", "   Restarts=0 ExitCode=0:0\n", "   RunTime=00:00:00 TimeLimit=01:00:00\n",
		"StartTime=Unknown EndTime=Unknown\n", "   NodeList=(null) BatchHost=(null)\n", "   TRES=cpu=1,mem=1G,node=1\n",
		"   MinMemoryNode=1G\n", "   WorkDir=(null)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Another user's job and a missing one read the same: exit 1, "job N not
// found"; with several ids the others are still shown.
func TestShowNotFound(t *testing.T) {
	for _, id := range []string{"3", "99"} {
		_, e := setup(t)
		if code := e.Run(NewRootCmd(e.F), id); code != cli.ExitFailure || e.Stderr.String() != "rcq-show: job "+id+" not found\n" || e.Stdout.Len() != 0 {
			t.Errorf("show %s: exit %d, stdout %q, stderr %q", id, code, e.Stdout, e.Stderr)
		}
	}
	_, e := setup(t)
	code := e.Run(NewRootCmd(e.F), "1", "3", "2")
	if code != cli.ExitFailure || e.Stderr.String() != "rcq-show: job 3 not found\n" ||
		!strings.HasPrefix(e.Stdout.String(), "JobId=1 ") || !strings.Contains(e.Stdout.String(), "\n\nJobId=2 ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, e.Stdout, e.Stderr)
	}
}

func TestShowJSON(t *testing.T) {
	api, e := setup(t)
	if code := e.Run(NewRootCmd(e.F), "--json", "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var j apitype.Job
	if err := json.Unmarshal(e.Stdout.Bytes(), &j); err != nil {
		t.Fatalf("%v: %s", err, e.Stdout)
	}
	if want := api.Job(1); !reflect.DeepEqual(j, want) {
		t.Errorf("JSON %+v, want the API's job %+v", j, want)
	}
	_, e = setup(t)
	if code := e.Run(NewRootCmd(e.F), "--json", "1", "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var list struct{ Jobs []apitype.Job }
	if err := json.Unmarshal(e.Stdout.Bytes(), &list); err != nil || len(list.Jobs) != 2 || list.Jobs[1].ID != 2 {
		t.Errorf("JSON of two jobs: %v %s", err, e.Stdout)
	}
}

func TestFormats(t *testing.T) {
	for sec, want := range map[int64]string{0: "00:00:00", 59: "00:00:59", 3600: "01:00:00", 86399: "23:59:59", 86400: "1-00:00:00", 90061: "1-01:01:01", -5: "00:00:00"} {
		if got := Duration(sec); got != want {
			t.Errorf("Duration(%d) = %q, want %q", sec, got, want)
		}
	}
	for _, c := range []struct {
		code *int
		sig  string
		want string
	}{{nil, "", "0:0"}, {intp(0), "", "0:0"}, {intp(2), "", "2:0"}, {nil, "TERM", "0:15"}, {intp(137), "KILL", "0:9"}, {intp(1), "BOGUS", "1:0"}} {
		if got := ExitCode(c.code, c.sig); got != c.want {
			t.Errorf("ExitCode(%v, %q) = %q, want %q", c.code, c.sig, got, c.want)
		}
	}
}

// A job whose node failed shows JobState=NODE_FAIL, the reason and its
// detail, and Requeue= (as asked) and Restarts= on scontrol's line.
func TestShowNodeFailJob(t *testing.T) {
	api, e := setup(t)
	requeue := true
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "lost", Status: "node_fail",
		Reason: rcq.ReasonNodeFail, ReasonDetail: "node node2 was last seen at 2026-11-28T10:59:00Z (no heartbeat for more than node.dead_after, 1m0s)",
		CPUCores: 1, MemoryGB: 1, EstimatedHours: 1, Priority: 1, SubmittedAt: clitest.Now.Add(-2 * time.Hour),
		StartedAt: at(-time.Hour), CompletedAt: at(-time.Hour + time.Minute), Worker: "w2", Requeue: &requeue, Restarts: 1})
	if code := e.Run(NewRootCmd(e.F), "4"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	out := e.Stdout.String()
	for _, want := range []string{"   JobState=NODE_FAIL Reason=NodeFail", "   ReasonDetail=node node2 was last seen at ",
		"\n   Requeue=1 Restarts=1 ExitCode=0:0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
