package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/rcq"
)

func at(d time.Duration) *time.Time {
	t := clitest.Now.Add(d)
	return &t
}

func intp(i int) *int { return &i }

// seed stores: ann's running job 1, ann's pending jobs 2 and 3, bob's pending
// job 4, ann's completed job 5 and failed job 6.
func seed(api *clitest.API) {
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "train", Status: "running", CPUCores: 8, MemoryGB: 32,
		GPUCount: 1, Priority: 5, EstimatedHours: 2, StartedAt: at(-(26*time.Hour + 3*time.Minute + 4*time.Second)), Worker: "node1"})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "prep", Status: "pending", CPUCores: 2, MemoryGB: 4,
		Priority: 3, Reason: rcq.ReasonResources, ReasonDetail: "needs 2 cores; node1 has 0 free until 14:00", Rank: 1,
		Computed: &rcq.PriorityFactors{Base: 3, FairShare: 0.5, WaitBoost: 1.25, Final: 1.875}, ExpectedStart: at(2 * time.Hour)})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "held", Status: "pending", CPUCores: 1, MemoryGB: 1,
		Priority: 1, Hold: "user", Reason: rcq.ReasonHeldUser, Rank: 3})
	api.AddJob(apitype.Job{UserID: 2, User: "bob@lab", GroupID: 2, Name: "secret", Status: "pending", CPUCores: 4, MemoryGB: 8,
		Priority: 9, Reason: rcq.ReasonPriority, Rank: 2})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "done", Status: "completed", CPUCores: 1, MemoryGB: 1,
		StartedAt: at(-time.Hour), CompletedAt: at(-time.Hour + 90*time.Second), Worker: "node1", ExitCode: intp(0)})
	api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "oops", Status: "failed", CPUCores: 1, MemoryGB: 1,
		StartedAt: at(-time.Hour), CompletedAt: at(-time.Hour + 5*time.Second), Worker: "node1", ExitCode: intp(2), Reason: rcq.ReasonNonZeroExit})
}

func run(t *testing.T, args ...string) (*clitest.API, *clitest.Env, int) {
	t.Helper()
	api := clitest.NewAPI(t)
	seed(api)
	e := clitest.NewEnv(t, "rcq-queue", api.URL)
	e.Login(t, api, "ann@lab")
	code := e.Run(NewRootCmd(e.F), args...)
	return api, e, code
}

// Jobs that ended within --recent stay in the default view after the queue
// (squeue's MinJobAge), a failed one with its reason; older ones do not.
func TestRecentlyEnded(t *testing.T) {
	_, e, code := run(t, "-h", "-o", "%i %t %R", "--recent", "61m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if want := "2 PD (Resources)\n3 PD (JobHeldUser)\n4 PD (-)\n1 R node1\n6 F (NonZeroExitCode)\n5 CD node1\n"; e.Stdout.String() != want {
		t.Errorf("--recent 61m:\n%s\nwant:\n%s", e.Stdout, want)
	}
	_, e, _ = run(t, "-h", "-o", "%i", "--recent", "59m30s") // job 6 ended 59m55s ago, job 5 58m30s ago
	if want := "2\n3\n4\n1\n5\n"; e.Stdout.String() != want {
		t.Errorf("--recent 59m30s:\n%s\nwant:\n%s", e.Stdout, want)
	}
	_, e, _ = run(t, "-h", "-o", "%i", "--recent", "0")
	if want := "2\n3\n4\n1\n"; e.Stdout.String() != want {
		t.Errorf("--recent 0:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

func TestDefaultTable(t *testing.T) {
	_, e, code := run(t)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := `JOBID NAME  USER    GROUP ST       TIME CPUS MEM GPUS PRIORITY NODELIST(REASON)
    2 prep  ann@lab     1 PD       0:00    2  4G    0     1.88 (Resources)
    3 held  ann@lab     1 PD       0:00    1  1G    0        1 (JobHeldUser)
    4 -     bob@lab     2 PD       0:00    4  8G    0        - (-)
    1 train ann@lab     1  R 1-02:03:04    8 32G    1        5 node1
`
	if e.Stdout.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

func TestNoHeaderAndFilters(t *testing.T) {
	api, e, code := run(t, "-h", "--me", "-t", "PD", "-n", "prep,held", "-o", "%i %j")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if e.Stdout.String() != "2 prep\n3 held\n" {
		t.Errorf("stdout = %q", e.Stdout)
	}
	// Only the keys the format needs: not the reason's detail (%E) nor the
	// submit time.
	last := api.Requests[len(api.Requests)-1]
	if !strings.HasPrefix(last, "GET /api/queue?fields=id%2Cuser%2C") || !strings.HasSuffix(last, "&user=ann%40lab") ||
		strings.Contains(last, "reason_detail") || strings.Contains(last, "submitted_at") {
		t.Errorf("request = %q", last)
	}
}

func TestAPIFieldsFollowTheOutput(t *testing.T) {
	for _, c := range []struct {
		opts     Options
		has, not []string
	}{
		{Options{}, []string{"id", "computed_priority", "reason", "started_at", "array_tasks"}, []string{"reason_detail", "expected_start", "estimated_hours", "submitted_at", "gpu_indices"}},
		{Options{Long: true}, []string{"reason_detail", "estimated_hours"}, []string{"expected_start"}},
		{Options{Start: true}, []string{"expected_start"}, []string{"reason_detail"}},
		{Options{Format: "%i %E", Sort: "l"}, []string{"reason_detail", "estimated_hours"}, []string{"expected_start"}},
	} {
		got := apiFields(&c.opts)
		for _, k := range c.has {
			if !slices.Contains(got, k) {
				t.Errorf("%+v: %v lacks %s", c.opts, got, k)
			}
		}
		for _, k := range c.not {
			if slices.Contains(got, k) {
				t.Errorf("%+v: %v has %s", c.opts, got, k)
			}
		}
	}
	if got := apiFields(&Options{JSON: true}); got != nil {
		t.Errorf("--json asks for %v, want every key", got)
	}
}

func TestFormat(t *testing.T) {
	_, e, code := run(t, "-j", "1,2", "-o", "%.5i|%6j|%4t|%T|%.10M|%l|%C %m %b %Q %r %R %E %Y", "-S", "i")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := `JOBID|NAME  |ST  |STATE|      TIME|TIME_LIMIT|CPUS MEM GPUS PRIORITY REASON NODELIST(REASON) DETAIL RANK
    1|train |R   |RUNNING|1-02:03:04|2:00:00|8 32G 1 5 None node1 - -
    2|prep  |PD  |PENDING|      0:00|N/A|2 4G 0 1.88 Resources (Resources) needs 2 cores; node1 has 0 free until 14:00 1
`
	if e.Stdout.String() != want {
		t.Errorf("format:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

// squeue's stock format runs unchanged: %P is the partition, %D the nodes.
func TestSqueueStockFormat(t *testing.T) {
	_, e, code := run(t, "-j", "1,2", "-o", "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R", "-S", "i")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	lines := strings.Split(strings.TrimRight(e.Stdout.String(), "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "JOBID PARTITION NAME USER ST TIME NODES NODELIST(REASON)" {
		t.Fatalf("stock format:\n%s", e.Stdout)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) < 8 || f[1] != "rcq" || f[6] != "1" {
			t.Errorf("row %q: want partition rcq and 1 node", l)
		}
	}
}

func TestFormatWidthTruncates(t *testing.T) {
	cols, err := ParseFormat("%.3j%%%5i")
	if err != nil {
		t.Fatal(err)
	}
	r := Row{ID: 42, Name: "training"}
	var b strings.Builder
	renderFormat(&b, cols, []Row{r}, false)
	if b.String() != "tra%42\n" {
		t.Errorf("got %q", b.String())
	}
	for _, bad := range []string{"%", "%.", "%z", "%.10", "%12345i"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q): want an error", bad)
		}
	}
}

func TestHistory(t *testing.T) {
	api, e, code := run(t, "-t", "CD,failed", "--limit", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := `JOBID NAME USER    GROUP ST TIME CPUS MEM GPUS PRIORITY NODELIST(REASON)
    6 oops ann@lab     1  F 0:05    1  1G    0        - (NonZeroExitCode)
    5 done ann@lab     1 CD 1:30    1  1G    0        - node1
`
	if e.Stdout.String() != want {
		t.Errorf("history:\n%s\nwant:\n%s", e.Stdout, want)
	}
	if last := api.Requests[len(api.Requests)-1]; last != "GET /api/jobs?limit=5&order=newest&status=completed%2Cfailed" {
		t.Errorf("request = %q", last)
	}
	if e.Stderr.Len() != 0 {
		t.Errorf("every finished job fits in --limit 5, yet stderr says %q", e.Stderr)
	}
	// A cut list says so on stderr, with how to see the rest.
	_, e, _ = run(t, "-t", "CD,failed", "--limit", "1", "-h", "-o", "%i")
	if e.Stdout.String() != "6\n" || !strings.Contains(e.Stderr.String(), "only the newest 1 jobs are shown: more with --limit") {
		t.Errorf("--limit 1: stdout %q stderr %q, want job 6 and a note that the list was cut", e.Stdout, e.Stderr)
	}
	// -t all asks for everything; pending jobs get the scheduler's reasons.
	api, e, _ = run(t, "-t", "all", "-o", "%i %t %r", "-h")
	if e.Stdout.String() != "6 F NonZeroExitCode\n5 CD -\n3 PD JobHeldUser\n2 PD Resources\n1 R None\n" {
		t.Errorf("-t all: %q", e.Stdout)
	}
	if !slices.Contains(api.Requests, "GET /api/jobs?limit=100&order=newest&status=all") {
		t.Errorf("requests = %q", api.Requests)
	}
}

func TestStartAndLong(t *testing.T) {
	_, e, code := run(t, "--start", "--me")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	start := clitest.Now.Add(2 * time.Hour).Local().Format(timeLayout)
	want := `JOBID NAME USER    ST          START_TIME CPUS MEM GPUS NODELIST(REASON)
    2 prep ann@lab PD ` + start + `    2  4G    0 (Resources)
    3 held ann@lab PD                 N/A    1  1G    0 (JobHeldUser)
`
	if e.Stdout.String() != want {
		t.Errorf("--start:\n%s\nwant:\n%s", e.Stdout, want)
	}
	_, e, _ = run(t, "-l", "-j", "2")
	want = `JOBID NAME USER    GROUP ST TIME TIME_LIMIT CPUS MEM GPUS PRIORITY  BASE FAIRSHARE WAITBOOST NODELIST(REASON) DETAIL
    2 prep ann@lab     1 PD 0:00        N/A    2  4G    0     1.88 3.000     0.500     1.250 (Resources)      needs 2 cores; node1 has 0 free until 14:00
`
	if e.Stdout.String() != want {
		t.Errorf("-l:\n%s\nwant:\n%s", e.Stdout, want)
	}
}

func TestJSON(t *testing.T) {
	_, e, code := run(t, "--json", "-S", "-Q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var out Output
	if err := json.Unmarshal(e.Stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range out.Jobs {
		ids = append(ids, r.ID)
	}
	// Sorted by priority, highest first: 5 (job 1), 1.875 (job 2), 1 (job 3), 0 (job 4, hidden).
	if !reflect.DeepEqual(ids, []int64{1, 2, 3, 4}) || out.Count != 4 || !out.Now.Equal(clitest.Now) {
		t.Errorf("ids %v count %d now %v", ids, out.Count, out.Now)
	}
	r := out.Jobs[0]
	if r.State != "running" || r.StateCode != "R" || r.ElapsedSeconds != 26*3600+3*60+4 || r.Worker != "node1" || !r.Own {
		t.Errorf("row = %+v", r)
	}
	if out.Jobs[3].Own || out.Jobs[3].Name != "" {
		t.Errorf("another user's job shows %+v", out.Jobs[3])
	}
	// Field names are part of the interface.
	var raw map[string][]map[string]any
	_ = json.Unmarshal(e.Stdout.Bytes(), &raw)
	for _, k := range []string{"id", "name", "user", "group_id", "state", "state_code", "own", "cpu_cores", "memory_gb", "gpu_count", "elapsed_seconds", "worker"} {
		if _, ok := raw["jobs"][0][k]; !ok {
			t.Errorf("JSON row lacks %q", k)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-t", "bogus"}, {"-o", "%z"}, {"-S", "zz"}, {"--limit", "0"}, {"-j", "x"}, {"extra"}} {
		_, e, code := run(t, args...)
		if code != cli.ExitUsage || !strings.HasPrefix(e.Stderr.String(), "rcq-queue: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, e.Stderr)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[int64]string{0: "0:00", 59: "0:59", 61: "1:01", 3600: "1:00:00", 86399: "23:59:59", 86400: "1-00:00:00", 90061: "1-01:01:01", -5: "0:00",
		36000: "10:00:00", 3599: "59:59", 100 * 86400: "100-00:00:00"}
	for in, want := range cases {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", in, got, want)
		}
	}
	// As the Sprintf it replaced, over a range of every shape.
	for sec := int64(-3); sec < 3*86400; sec += 7 {
		d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
		want := fmt.Sprintf("%d:%02d", m, s)
		switch {
		case sec < 0:
			want = "0:00"
		case d > 0:
			want = fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
		case h > 0:
			want = fmt.Sprintf("%d:%02d:%02d", h, m, s)
		}
		if got := FormatDuration(sec); got != want {
			t.Fatalf("FormatDuration(%d) = %q, want %q", sec, got, want)
		}
	}
}

// cancelAfter cancels a context at the nth write.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	if w.n--; w.n == 0 {
		w.cancel()
	}
	return w.buf.Write(p)
}

func TestIterate(t *testing.T) {
	iterateUnit = time.Millisecond
	api := clitest.NewAPI(t)
	seed(api)
	e := clitest.NewEnv(t, "rcq-queue", api.URL)
	e.Login(t, api, "ann@lab")
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{n: 3, cancel: cancel}
	e.F.IO.Out = w
	e.F.IO.SetTTY(false, true, false)
	code := cli.Run(ctx, e.F, NewRootCmd(e.F), []string{"-i", "1", "--me", "-o", "%i", "-t", "R"})
	if code != cli.ExitInterrupted {
		t.Errorf("exit %d, want 130 (%s)", code, e.Stderr)
	}
	// Each snapshot redraws the terminal, with the time on top.
	snap := "\x1b[H\x1b[2J" + clitest.Now.Format(time.ANSIC) + "\nJOBID\n1\n"
	if got := w.buf.String(); got != snap+snap+snap {
		t.Errorf("output %q", got)
	}
	if e.Stderr.Len() != 0 {
		t.Errorf("stderr %q", e.Stderr)
	}
}

// TestQueueReadsEveryPage: with 2,500 pending jobs and rcqd's page size at
// 1,000, rcq-queue shows all 2,500 (three pages), in the scheduler's order
// across pages, in the tables and in --json: it never stops at one page.
func TestQueueReadsEveryPage(t *testing.T) {
	api := clitest.NewAPI(t)
	api.QueuePage = 1000
	for i := range 2500 {
		// Later jobs rank first, so the pages (split by id) must be merged.
		api.AddJob(apitype.Job{UserID: 1, User: "ann@lab", GroupID: 1, Name: "j", Status: "pending", CPUCores: 1, MemoryGB: 1,
			Priority: 1, Reason: rcq.ReasonPriority, Rank: 2500 - i})
	}
	// -o (rows kept), --json, and the default table (built as the rows
	// arrive, ordered by its keys).
	for _, args := range [][]string{{"-h", "-o", "%i"}, {"--json"}, {"-h"}} {
		e := clitest.NewEnv(t, "rcq-queue", api.URL)
		e.Login(t, api, "ann@lab")
		api.Requests = nil
		if code := e.Run(NewRootCmd(e.F), args...); code != 0 {
			t.Fatalf("rcq-queue %v: exit %d: %s", args, code, e.Stderr)
		}
		var ids []string
		if args[0] == "--json" {
			var out struct {
				Jobs []struct {
					ID int64 `json:"id"`
				} `json:"jobs"`
				Count int `json:"count"`
			}
			if err := json.Unmarshal(e.Stdout.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			for _, j := range out.Jobs {
				ids = append(ids, strconv.FormatInt(j.ID, 10))
			}
			if out.Count != 2500 {
				t.Errorf("--json count = %d, want 2500", out.Count)
			}
		} else {
			for _, line := range strings.Split(strings.TrimSpace(e.Stdout.String()), "\n") {
				ids = append(ids, strings.Fields(line)[0])
			}
		}
		if len(ids) != 2500 || ids[0] != "2500" || ids[2499] != "1" {
			t.Errorf("rcq-queue %v showed %d jobs (first %v): want all 2,500, job 2500 first", args, len(ids), ids[:min(3, len(ids))])
		}
		queues := 0
		for _, r := range api.Requests {
			if strings.HasPrefix(r, "GET /api/queue") {
				queues++
			}
		}
		if queues != 3 {
			t.Errorf("rcq-queue %v read %d pages, want 3: %q", args, queues, api.Requests)
		}
	}
}
