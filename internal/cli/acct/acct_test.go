package acct

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// fakeAcct serves n jobs (ids n..1, newest first) in pages of ?limit, and
// records the queries.
func fakeAcct(t *testing.T, n int, queries *[]string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/acct", func(w http.ResponseWriter, r *http.Request) {
		*queries = append(*queries, r.URL.RawQuery)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from := n
		if c := r.URL.Query().Get("cursor"); c != "" {
			from, _ = strconv.Atoi(c)
		}
		out := apitype.AcctList{Jobs: []apitype.AcctJob{}}
		start := clitest.Now.Add(-time.Hour)
		end := clitest.Now.Add(-time.Hour + 90*time.Second)
		code := 0
		for id := from; id > 0 && id > from-limit; id-- {
			out.Jobs = append(out.Jobs, apitype.AcctJob{ID: int64(id), Name: "j" + strconv.Itoa(id), User: "ann@lab",
				Group: "default", Status: "completed", CPUCores: 2, MemoryGB: 4, StartedAt: &start, CompletedAt: &end,
				ExitCode: &code, Worker: "node1"})
		}
		if last := from - limit; last > 0 {
			out.Next = strconv.Itoa(last)
		}
		out.Count = len(out.Jobs)
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newEnv(t *testing.T, server string) *clitest.Env {
	e := clitest.NewEnv(t, "rcq-acct", server)
	e.Vars["RCQ_TOKEN"] = "token"
	return e
}

// TestStreamsEveryPage: every job is printed, page after page, in the
// order rcqd gives them, with the default window (today) and states.
func TestStreamsEveryPage(t *testing.T) {
	t.Parallel()
	var queries []string
	e := newEnv(t, fakeAcct(t, 2500, &queries))
	if code := e.Run(NewRootCmd(e.F), "--page-size", "1000", "-P", "-o", "JobID,State,ExitCode,Elapsed,CPUTime,MaxRSS"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	lines := strings.Split(strings.TrimSuffix(e.Stdout.String(), "\n"), "\n")
	if len(lines) != 2501 || lines[0] != "JobID|State|ExitCode|Elapsed|CPUTime|MaxRSS" ||
		lines[1] != "2500|COMPLETED|0:0|00:01:30|00:03:00|" || lines[2500] != "1|COMPLETED|0:0|00:01:30|00:03:00|" {
		t.Fatalf("%d lines: first %q %q, last %q", len(lines), lines[0], lines[1], lines[len(lines)-1])
	}
	if len(queries) != 3 || !strings.Contains(queries[2], "cursor=500") {
		t.Errorf("queries %q", queries)
	}
	y, m, d := clitest.Now.In(time.Local).Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, time.Local).UTC().Format(time.RFC3339)
	if !strings.Contains(queries[0], "start="+strings.ReplaceAll(midnight, ":", "%3A")) ||
		!strings.Contains(queries[0], "states=running%2Ccompleted%2Cfailed%2Ccancelled%2Ctimeout") {
		t.Errorf("default query %q: want start=%s and every state but pending", queries[0], midnight)
	}
}

// TestOptions: what each option sends, and bad input exits 2 naming the
// accepted values before asking rcqd anything.
func TestOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want []string // substrings of the query
		not  []string
	}{
		{[]string{"-j", "3,4"}, []string{"ids=3%2C4"}, []string{"start="}},
		{[]string{"-j", "3", "-S", "2026-11-01"}, []string{"ids=3", "start=2026-1"}, nil},
		{[]string{"-s", "F,to,Cancelled"}, []string{"states=failed%2Ctimeout%2Ccancelled"}, nil},
		{[]string{"-u", "alice"}, []string{"user=alice"}, nil},
		{[]string{"-E", "now-2days"}, []string{"end=2026-11-26T12%3A00%3A00Z", "start=2026-11-2"}, nil},
	} {
		var queries []string
		e := newEnv(t, fakeAcct(t, 1, &queries))
		if code := e.Run(NewRootCmd(e.F), c.args...); code != 0 || len(queries) != 1 {
			t.Errorf("%v: exit %d, %d queries: %s", c.args, code, len(queries), e.Stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(queries[0], w) {
				t.Errorf("%v: query %q lacks %q", c.args, queries[0], w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(queries[0], w) {
				t.Errorf("%v: query %q has %q", c.args, queries[0], w)
			}
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-S", "yesterday"}, `-S/--starttime: "yesterday" is not a time: use YYYY-MM-DD[THH:MM[:SS]]`},
		{[]string{"-E", "soon"}, `-E/--endtime: "soon" is not a time`},
		{[]string{"-S", "now", "-E", "now-1hours"}, "-S/--starttime now is after -E/--endtime now-1hours"},
		{[]string{"-s", "DONE"}, `-s/--state: "DONE" is not a job state: use PENDING, RUNNING, COMPLETED`},
		{[]string{"-o", "JobID,Nope"}, `-o/--format: "Nope" is not a field: use JobID, JobName`},
		{[]string{"-o", "JobName%x"}, `-o/--format: "JobName%x"`},
		{[]string{"-j", "x"}, `--jobs: "x" is not a job id`},
		{[]string{"--me", "-u", "bob"}, "--me and --user together"},
		{[]string{"-u", "a,b"}, "give one user"},
		{[]string{"-p", "-P"}, "choose one"},
		{[]string{"extra"}, "unknown command"},
	} {
		var queries []string
		e := newEnv(t, fakeAcct(t, 1, &queries))
		code := e.Run(NewRootCmd(e.F), c.args...)
		if code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), c.msg) || len(queries) != 0 {
			t.Errorf("%v: exit %d, %d queries, stderr %q; want 2 and %q", c.args, code, len(queries), e.Stderr, c.msg)
		}
	}
	// States rcq never gives select nothing, without a request.
	var queries []string
	e := newEnv(t, fakeAcct(t, 1, &queries))
	if code := e.Run(NewRootCmd(e.F), "-s", "OOM,BF", "-n"); code != 0 || e.Stdout.Len() != 0 || len(queries) != 0 {
		t.Errorf("-s OOM,BF: exit %d, %q, %d queries", code, e.Stdout, len(queries))
	}
	// NODE_FAIL is rcq's node_fail (a job whose node died).
	for _, s := range []string{"NF", "node_fail", "NODE_FAIL"} {
		queries = nil
		e = newEnv(t, fakeAcct(t, 1, &queries))
		if code := e.Run(NewRootCmd(e.F), "-s", s, "-n"); code != 0 || len(queries) != 1 || !strings.HasSuffix(queries[0], "&states=node_fail") {
			t.Errorf("-s %s: exit %d, queries %q, stderr %q", s, code, queries, e.Stderr)
		}
	}
}

// TestValue: each field as sacct prints it.
func TestValue(t *testing.T) {
	t.Parallel()
	now := clitest.Now
	sub := now.Add(-3 * time.Hour)
	start := now.Add(-2 * time.Hour)
	end := now.Add(-time.Hour + 5*time.Second)
	code := 137
	done := &apitype.AcctJob{ID: 7, Name: "train", User: "ann@lab", UnixUser: "ann", Group: "physics", Status: "cancelled",
		CPUCores: 4, MemoryGB: 16, GPUCount: 2, EstimatedHours: 2.5, SubmittedAt: sub, StartedAt: &start, CompletedAt: &end,
		ExitCode: &code, Signal: "KILL", Worker: "node1", CPUSeconds: 3600.4, PeakMemoryKB: 2048, Reason: "CancelledByUser",
		WorkingDir: "/home/ann", Output: "/home/ann/rcq-7.out"}
	running := &apitype.AcctJob{ID: 8, User: "bob@lab", Status: "running", CPUCores: 2, MemoryGB: 1, SubmittedAt: sub, StartedAt: &start, EstimatedHours: 1}
	pending := &apitype.AcctJob{ID: 9, User: "bob@lab", Status: "pending", CPUCores: 2, MemoryGB: 1, SubmittedAt: sub, Reason: "Priority", EstimatedHours: 1}
	for _, c := range []struct {
		j     *apitype.AcctJob
		field string
		want  string
	}{
		{done, "JobID", "7"}, {done, "JobIDRaw", "7"}, {done, "JobName", "train"}, {done, "User", "ann"},
		{running, "User", "bob@lab"}, {done, "Group", "physics"}, {done, "State", "CANCELLED"},
		{running, "State", "RUNNING"}, {pending, "State", "PENDING"},
		{done, "ExitCode", "0:9"}, {running, "ExitCode", "0:0"}, {done, "Elapsed", "01:00:05"},
		{running, "Elapsed", "02:00:00"}, {pending, "Elapsed", "00:00:00"},
		{done, "Start", slurmTime(start)}, {done, "End", slurmTime(end)}, {running, "End", "Unknown"},
		{pending, "Start", "Unknown"}, {done, "Submit", slurmTime(sub)},
		{done, "AllocCPUS", "4"}, {pending, "AllocCPUS", "0"},
		{done, "AllocTRES", "cpu=4,mem=16G,node=1,gres/gpu=2"}, {pending, "AllocTRES", ""},
		{done, "ReqMem", "16G"}, {done, "MaxRSS", "2048K"}, {running, "MaxRSS", ""},
		{done, "TotalCPU", "01:00:00"}, {done, "CPUTime", "04:00:20"}, {running, "CPUTime", "04:00:00"},
		{done, "NodeList", "node1"}, {pending, "NodeList", "None assigned"},
		{done, "Reason", "CancelledByUser"}, {running, "Reason", "None"}, {pending, "Reason", "Priority"},
		{done, "WorkDir", "/home/ann"}, {done, "StdOut", "/home/ann/rcq-7.out"}, {done, "Timelimit", "02:30:00"},
	} {
		if got := Value(c.j, c.field, now); got != c.want {
			t.Errorf("job %d %s = %q, want %q", c.j.ID, c.field, got, c.want)
		}
	}
}

func slurmTime(t time.Time) string { return t.Local().Format("2006-01-02T15:04:05") }
