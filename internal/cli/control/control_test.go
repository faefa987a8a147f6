package control

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// setup stores ann's pending 1 (2 hours, priority 5), running 2, failed 3,
// and bob's pending 4.
func setup(t *testing.T, as string) (*clitest.API, *clitest.Env) {
	api := clitest.NewAPI(t)
	started := clitest.Now.Add(-time.Hour)
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "a", Status: "pending", Hold: "user", EstimatedHours: 2, Priority: 5})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "b", Status: "running", EstimatedHours: 1, Priority: 1, StartedAt: &started})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", Name: "c", Status: "failed", EstimatedHours: 1, Priority: 1,
		StartedAt: &started, CompletedAt: &clitest.Now})
	api.AddJob(apitype.Job{UserID: 2, User: "bob@lab", Name: "d", Status: "pending", Hold: "user", EstimatedHours: 1, Priority: 1})
	e := clitest.NewEnv(t, "rcq-control", api.URL)
	e.Login(t, api, as)
	return api, e
}

func ptr[T any](v T) *T { return &v }

func TestParseUpdate(t *testing.T) {
	_, e := setup(t, "ann@lab")
	cases := []struct {
		args []string
		want apitype.JobUpdate
		id   int64
	}{
		{[]string{"update", "42", "TimeLimit=30", "JobName=short"}, apitype.JobUpdate{EstimatedHours: ptr(0.5), Name: ptr("short")}, 42},
		{[]string{"update", "JobId=7", "priority=2", "Name=x", "timelimit=1-00"}, apitype.JobUpdate{Priority: ptr(2), Name: ptr("x"), EstimatedHours: ptr(24.0)}, 7},
		{[]string{"update", "7", "Dependency=afterok:3:4,afterany:5"}, apitype.JobUpdate{Dependencies: &[]apitype.Dependency{
			{Type: "afterok", JobID: 3}, {Type: "afterok", JobID: 4}, {Type: "afterany", JobID: 5}}}, 7},
		{[]string{"update", "7", "Dependency="}, apitype.JobUpdate{Dependencies: &[]apitype.Dependency{}}, 7},
	}
	for _, args := range [][]string{{"update", "7,8", "Priority=1"}, {"update", "JobId=7,8", "Priority=1"}} {
		var got *Options
		if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), args...); code != 0 || !reflect.DeepEqual(got.JobIDs, []int64{7, 8}) {
			t.Errorf("%q: exit %d, options %+v: %s", args, code, got, e.Stderr)
		}
	}
	for _, c := range cases {
		var got *Options
		if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), c.args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", c.args, code, e.Stderr)
		}
		if got.Action != "update" || !reflect.DeepEqual(got.JobIDs, []int64{c.id}) || !reflect.DeepEqual(got.Update, c.want) {
			t.Errorf("%q: options %+v, update %+v", c.args, got, got.Update)
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"update"}, "requires at least 1 arg"},
		{[]string{"update", "42"}, "nothing to change"},
		{[]string{"update", "TimeLimit=3"}, "no job given"},
		{[]string{"update", "42", "Colour=red"}, `"Colour" is not a key`},
		{[]string{"update", "42", "TimeLimit=soon"}, "TimeLimit: \"soon\" is not a time limit"},
		{[]string{"update", "42", "TimeLimit=0"}, "TimeLimit: a job keeps a limit"},
		{[]string{"update", "42", "Priority=11"}, "Priority: \"11\" is not a priority"},
		{[]string{"update", "42", "Dependency=after:3"}, "Dependency: \"after:3\""},
		{[]string{"update", "42", "43"}, "is not KEY=VALUE"},
		{[]string{"update", "JobId=4", "JobId=5", "Priority=1"}, "JobId given twice"},
		{[]string{"update", "4", "JobId=5", "Priority=1"}, "JobId given twice"},
		{[]string{"update", "x", "Priority=1"}, "is not a job id"},
		{[]string{"hold"}, "requires at least 1 arg"},
		{[]string{"release", "abc"}, "is not a job id"},
		{[]string{"frobnicate", "1"}, `unknown command "frobnicate"`},
		{nil, "no command given"},
	} {
		_, e := setup(t, "ann@lab")
		code := e.Run(NewCmd(e.F, func(*Options) error { return nil }), c.args...)
		if code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, e.Stderr, c.msg)
		}
	}
}

func TestHoldRelease(t *testing.T) {
	api, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "release", "1"); code != 0 || e.Stdout.Len() != 0 || e.Stderr.Len() != 0 {
		t.Fatalf("release: exit %d, stdout %q, stderr %q", code, e.Stdout, e.Stderr)
	}
	if api.Job(1).Hold != "" {
		t.Errorf("job 1 still held")
	}
	if code := e.Run(NewRootCmd(e.F), "hold", "1"); code != 0 || api.Job(1).Hold != "user" {
		t.Fatalf("hold: exit %d, hold %q: %s", code, api.Job(1).Hold, e.Stderr)
	}
	// A running job, another user's and a missing one: a line each, exit 1;
	// the others are still done.
	_, e = setup(t, "ann@lab")
	code := e.Run(NewRootCmd(e.F), "release", "2", "4", "99", "1")
	want := "rcq-control: job 2 is running, not pending\nrcq-control: job 4 not found\nrcq-control: job 99 not found\n"
	if code != cli.ExitFailure || e.Stderr.String() != want {
		t.Errorf("exit %d, stderr %q, want %q", code, e.Stderr, want)
	}
}

func TestUpdate(t *testing.T) {
	api, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "update", "1", "TimeLimit=1:00:00", "JobName=renamed", "Priority=5"); code != 0 || e.Stderr.Len() != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if j := api.Job(1); j.Name != "renamed" || j.EstimatedHours != 1 || j.Priority != 5 {
		t.Errorf("job after update: %+v", j)
	}
	// Raising is refused with rcqd's words, exit 1, and nothing changes.
	_, e = setup(t, "ann@lab")
	code := e.Run(NewRootCmd(e.F), "update", "1", "TimeLimit=3:00:00")
	if code != cli.ExitFailure || !strings.Contains(e.Stderr.String(), "rcq-control: job 1: only an admin may raise a time limit") {
		t.Errorf("raise: exit %d, stderr %q", code, e.Stderr)
	}
	// A value rcqd refuses is a usage error naming the key as typed here.
	_, e = setup(t, "ann@lab")
	code = e.Run(NewRootCmd(e.F), "update", "1", "Dependency=afterok:9")
	if code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "job 1: Dependency: job 1 may depend only on jobs submitted before it") {
		t.Errorf("bad dependency: exit %d, stderr %q", code, e.Stderr)
	}
	// Another user's job is not found; a running one is not pending.
	for id, msg := range map[string]string{"4": "rcq-control: job 4 not found\n", "2": "rcq-control: job 2 is running, not pending\n"} {
		_, e = setup(t, "ann@lab")
		if code := e.Run(NewRootCmd(e.F), "update", id, "JobName=x"); code != cli.ExitFailure || e.Stderr.String() != msg {
			t.Errorf("update %s: exit %d, stderr %q", id, code, e.Stderr)
		}
	}
	// Several jobs: each is tried; the ones refused get a line.
	api, e = setup(t, "ann@lab")
	code = e.Run(NewRootCmd(e.F), "update", "1,2,4", "JobName=many")
	if code != cli.ExitFailure || api.Job(1).Name != "many" || e.Stderr.String() != "rcq-control: job 2 is running, not pending\nrcq-control: job 4 not found\n" {
		t.Errorf("update 1,2,4: exit %d, name %q, stderr %q", code, api.Job(1).Name, e.Stderr)
	}
	// An admin may raise.
	api, e = setup(t, "admin@lab")
	if code := e.Run(NewRootCmd(e.F), "update", "JobId=4", "Priority=9", "TimeLimit=2-00"); code != 0 {
		t.Fatalf("admin: exit %d: %s", code, e.Stderr)
	}
	if j := api.Job(4); j.Priority != 9 || j.EstimatedHours != 48 {
		t.Errorf("bob's job after the admin's update: %+v", j)
	}
}

// requeue puts ann's failed and running jobs back in the queue (exit 0,
// nothing printed); a pending job is refused with rcqd's reason and bob's
// job is not found (exit 1); --hold puts a job back held.
func TestRequeue(t *testing.T) {
	api, e := setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "requeue", "3", "2"); code != 0 || e.Stderr.Len() != 0 || e.Stdout.Len() != 0 {
		t.Fatalf("requeue 3 2: exit %d, stdout %q, stderr %q", code, e.Stdout, e.Stderr)
	}
	for _, id := range []int64{2, 3} {
		if j := api.Job(id); j.Status != "pending" || j.Restarts != 1 || j.Reason != "Requeued" || j.ReasonDetail != "requeued by ann@lab" || j.Hold != "" {
			t.Errorf("job %d after requeue: %+v", id, j)
		}
	}
	_, e = setup(t, "ann@lab")
	code := e.Run(NewRootCmd(e.F), "requeue", "1", "4", "3")
	want := "rcq-control: job 1 is pending: it is in the queue already, so there is no run to requeue\nrcq-control: job 4 not found\n"
	if code != cli.ExitFailure || e.Stderr.String() != want {
		t.Errorf("requeue 1 4 3: exit %d, stderr %q, want %q", code, e.Stderr, want)
	}
	api, e = setup(t, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "requeue", "--hold", "3"); code != 0 || api.Job(3).Hold != "user" || api.Job(3).Status != "pending" {
		t.Errorf("requeue --hold 3: exit %d, job %+v: %s", code, api.Job(3), e.Stderr)
	}
	var got *Options
	if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), "requeue", "--hold", "7", "8_2"); code != 0 ||
		got.Action != "requeue" || !got.Hold || len(got.Refs) != 2 || got.Refs[1].String() != "8_2" {
		t.Errorf("requeue --hold 7 8_2: exit %d, options %+v", code, got)
	}
	if code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), "hold", "--hold", "7"); code != cli.ExitUsage {
		t.Errorf("hold --hold: exit %d, want a usage error (--hold is requeue's)", code)
	}
}
