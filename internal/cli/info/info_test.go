package info

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// workers: w1 mixed on node1, w2 and w3 idle on node1 and node2, w4 drained
// on node2 with a job still running.
var workers = []apitype.NodeInfo{
	{Name: "w1", Node: "node1", CPUCores: 8, MemoryGB: 32, GPUCount: 2, Status: "online", State: "mixed", AllocCPUs: 2, AllocMemoryGB: 4, AllocGPUs: 1, RunningJobs: 1},
	{Name: "w2", Node: "node1", CPUCores: 8, MemoryGB: 32, GPUCount: 2, Status: "online", State: "idle"},
	{Name: "w3", Node: "node2", CPUCores: 4, MemoryGB: 16, Status: "online", State: "idle"},
	{Name: "w4", Node: "node2", CPUCores: 4, MemoryGB: 16, Status: "drained", State: "drained", AllocCPUs: 1, AllocMemoryGB: 1, RunningJobs: 1},
}

func run(t *testing.T, args ...string) (*clitest.Env, int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/workers" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(apitype.NodeList{Workers: workers, Count: len(workers)})
	}))
	t.Cleanup(srv.Close)
	e := clitest.NewEnv(t, "rcq-info", srv.URL)
	e.Vars["RCQ_TOKEN"] = "tok"
	return e, e.Run(NewRootCmd(e.F), args...)
}

func TestOutputs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `PARTITION AVAIL TIMELIMIT NODES   STATE NODELIST
rcq*         up  infinite     1   mixed w1
rcq*         up  infinite     2    idle w2,w3
rcq*         up  infinite     1 drained w4
`},
		{[]string{"-N"}, `NODELIST NODES PARTITION   STATE
node1        1 rcq*        mixed
node1        1 rcq*         idle
node2        1 rcq*         idle
node2        1 rcq*      drained
`},
		{[]string{"-l"}, `WORKER NODE  STATE   CPUS(A/I/O/T)  MEMORY GPUS JOBS
w1     node1 mixed         2/6/0/8 28G/32G  1/2    1
w2     node1 idle          0/8/0/8 32G/32G  2/2    0
w3     node2 idle          0/4/0/4 16G/16G  0/0    0
w4     node2 drained       1/0/3/4 15G/16G  0/0    1
`},
		{[]string{"-h", "-o", "%P %c %m %G"}, "rcq* 8 32768 gpu:2\nrcq* 4 16384 (null)\n"},
		{[]string{"-o", "%.6D|%C|%t|%.4N%%"}, " NODES|CPUS(A/I/O/T)|STATE|NODE%\n     1|2/6/0/8|mix|  w1%\n     2|0/12/0/12|idle|w2,w%\n     1|1/0/3/4|drain|  w4%\n"},
	} {
		e, code := run(t, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, e.Stderr)
		}
		if got := e.Stdout.String(); got != c.want {
			t.Errorf("%v:\n%s\nwant\n%s", c.args, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	e, code := run(t, "--json")
	var l apitype.NodeList
	if code != 0 || json.Unmarshal(e.Stdout.Bytes(), &l) != nil || l.Count != 4 || l.Workers[3] != workers[3] {
		t.Fatalf("exit %d: %s %s", code, e.Stdout, e.Stderr)
	}
}

func TestBadFormat(t *testing.T) {
	e, code := run(t, "-o", "%P %Z")
	if code != 2 || !strings.Contains(e.Stderr.String(), "%Z is not a field: use %P %a %l %D %N %T %t %C %c %m %G") {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
}
