package cancel

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// setup stores ann's pending 1 "a", running 2 "b", completed 3 "a", and
// bob's pending 4 "a".
func setup(t *testing.T, as string) (*clitest.API, *clitest.Env) {
	api := clitest.NewAPI(t)
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "a", Status: "pending"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "b", Status: "running"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "a", Status: "completed"})
	api.AddJob(apitype.Job{UserID: 2, User: "bob@lab", Name: "a", Status: "pending"})
	e := clitest.NewEnv(t, "rcq-cancel", api.URL)
	e.Login(t, api, as)
	return api, e
}

func TestFlagParsing(t *testing.T) {
	_, e := setup(t, "ann@lab")
	var got *Options
	code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), "-t", "PD,R", "-n", "x", "--me", "-s", "USR1", "-i", "-Q", "4", "5,6")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := &Options{F: e.F, JobIDs: []int64{4, 5, 6}, States: []string{"PD", "R"}, Names: []string{"x"}, Me: true, Signal: "USR1", Interactive: true, Quiet: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options = %+v", got)
	}
	for _, args := range [][]string{{}, {"x"}, {"0"}, {"--me", "-u", "a@b"}, {"-s", "", "1"}} {
		_, e := setup(t, "ann@lab")
		if code := e.Run(NewCmd(e.F, func(*Options) error { return nil }), args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestCancelByID(t *testing.T) {
	api, e := setup(t, "ann@lab")
	code := e.Run(NewRootCmd(e.F), "1", "2")
	if code != 0 || e.Stderr.Len() != 0 || e.Stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q stderr %q", code, e.Stdout, e.Stderr)
	}
	if api.Job(1).Status != "cancelled" || api.Job(2).Status != "cancelled" {
		t.Errorf("jobs not cancelled")
	}
	// Finished, missing and another user's jobs: one line each, exit 1.
	code = e.Run(NewRootCmd(e.F), "3", "99", "4")
	want := "rcq-cancel: job 3 is already completed\nrcq-cancel: job 99 not found\nrcq-cancel: job 4 not found\n"
	if code != 1 || e.Stderr.String() != want {
		t.Errorf("exit %d, stderr %q", code, e.Stderr)
	}
	if api.Job(4).Status != "pending" {
		t.Errorf("bob's job was cancelled")
	}
}

func TestQuiet(t *testing.T) {
	_, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "-Q", "3"); code != 0 || e.Stderr.Len() != 0 {
		t.Errorf("already finished with --quiet: exit %d, %q", code, e.Stderr)
	}
	if code := e.Run(NewRootCmd(e.F), "--quiet", "99"); code != 1 || e.Stderr.Len() != 0 {
		t.Errorf("missing with --quiet: exit %d, %q", code, e.Stderr)
	}
}

func TestFilters(t *testing.T) {
	api, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "--name", "a"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if api.Job(1).Status != "cancelled" || api.Job(2).Status != "running" || api.Job(4).Status != "pending" {
		t.Errorf("states: %s %s %s", api.Job(1).Status, api.Job(2).Status, api.Job(4).Status)
	}
	// An admin filtering by user.
	api, e = setup(t, "admin@lab")
	if code := e.Run(NewRootCmd(e.F), "-u", "bob@lab", "-t", "PD", "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if api.Job(4).Status != "cancelled" || api.Job(1).Status != "pending" {
		t.Errorf("admin -u: %s %s", api.Job(4).Status, api.Job(1).Status)
	}
	var out struct{ Results []Result }
	if err := json.Unmarshal(e.Stdout.Bytes(), &out); err != nil || len(out.Results) != 1 || !out.Results[0].OK || out.Results[0].JobID != 4 {
		t.Errorf("--json = %s (%v)", e.Stdout, err)
	}
	// Ids outside the filters are reported.
	_, e = setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "--me", "-t", "R", "1", "2"); code != 1 || !strings.Contains(e.Stderr.String(), "job 1 not found or does not match the filters") {
		t.Errorf("exit %d, %q", code, e.Stderr)
	}
}

func TestSignalAndInteractive(t *testing.T) {
	api, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "-s", "USR1", "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if !reflect.DeepEqual(api.Signals, []string{"2:USR1"}) || api.Job(2).Status != "running" {
		t.Errorf("signals %v, state %s", api.Signals, api.Job(2).Status)
	}
	e.Stdin.WriteString("n\ny\n")
	if code := e.Run(NewRootCmd(e.F), "-i", "--me"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if api.Job(1).Status != "pending" || api.Job(2).Status != "cancelled" {
		t.Errorf("interactive: %s %s", api.Job(1).Status, api.Job(2).Status)
	}
	if !strings.Contains(e.Stderr.String(), "Cancel job 1 (a, ann@lab)? [y/n] ") {
		t.Errorf("prompt: %q", e.Stderr)
	}
}

func TestCompletion(t *testing.T) {
	_, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "__complete", ""); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	// The caller's pending and running jobs, not finished ones nor others',
	// newest first and kept in that order (:36 = no files, keep order).
	if got := e.Stdout.String(); got != "2\tb (running)\n1\ta (pending)\n:36\n" {
		t.Errorf("job ids: %q", got)
	}
	e.Stdout.Reset()
	e.Run(NewRootCmd(e.F), "__complete", "1", "")
	if got := e.Stdout.String(); got != "2\tb (running)\n:36\n" {
		t.Errorf("after 1: %q", got)
	}
	e.Stdout.Reset()
	e.Run(NewRootCmd(e.F), "__complete", "--state", "PD,")
	if got := e.Stdout.String(); !strings.Contains(got, "PD,running\tR\n") || !strings.HasSuffix(got, ":6\n") {
		t.Errorf("states: %q", got)
	}
	e.Stdout.Reset()
	e.Run(NewRootCmd(e.F), "__complete", "-s", "")
	if got := e.Stdout.String(); !strings.HasPrefix(got, "TERM\nKILL\n") {
		t.Errorf("signals: %q", got)
	}
	// Without rcqd, completion offers nothing and prints no error.
	e = clitest.NewEnv(t, "rcq-cancel", "unix:///nowhere/rcqd.sock")
	e.Vars["RCQ_TOKEN"] = "x"
	e.Run(NewRootCmd(e.F), "__complete", "")
	if got := e.Stdout.String(); got != ":4\n" {
		t.Errorf("no rcqd: %q", got)
	}
}

// A filter cancels every job it selects in one request, however many.
func TestFilterIsOneCall(t *testing.T) {
	api, e := setup(t, "ann@lab")
	for range 1500 {
		api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "sweep", Status: "pending"})
	}
	if code := e.Run(NewRootCmd(e.F), "--me", "-n", "sweep"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if !reflect.DeepEqual(api.Requests, []string{"POST /api/jobs/cancel"}) {
		t.Errorf("requests %v, want one POST /api/jobs/cancel", api.Requests)
	}
	for id := int64(5); id < 1505; id++ {
		if st := api.Job(id).Status; st != "cancelled" {
			t.Fatalf("job %d is %s", id, st)
		}
	}
	if api.Job(1).Status != "pending" || api.Job(4).Status != "pending" {
		t.Errorf("jobs outside the filter were cancelled")
	}
	// Only pending and running jobs can be cancelled: other states are a usage error.
	if code := e.Run(NewRootCmd(e.F), "--me", "-t", "CD"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "--state: CD: only pending and running") {
		t.Errorf("-t CD: exit %d, %q", code, e.Stderr)
	}
}
