package submit

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/rcq"
)

// --array, -a, #SBATCH/#RCQ --array and SBATCH_ARRAY_INX send the spec in
// sbatch's form; the array's id is printed as a job's.
func TestArray(t *testing.T) {
	api := clitest.NewAPI(t)
	for _, c := range []struct {
		args []string
		env  string
		want string
		out  string
	}{
		{[]string{"--array=0-99%8", "--wrap", "x"}, "", "0-99%8", "Submitted batch job 1\n"},
		{[]string{"-a", "1,3,5-7", "--parsable", "--wrap", "x"}, "", "1,3,5-7", "2\n"},
		{[]string{writeScript(t, "#!/bin/sh\n#SBATCH --array=0-9:4\ntrue\n")}, "", "0-8:4", "Submitted batch job 3\n"},
		{[]string{writeScript(t, "#!/bin/sh\n#RCQ -a 2-3\ntrue\n")}, "", "2-3", "Submitted batch job 4\n"},
		{[]string{"--wrap", "x"}, "5-6%1", "5-6%1", "Submitted batch job 5\n"},
		// The command line wins over the directive.
		{[]string{"--array", "7", writeScript(t, "#!/bin/sh\n#SBATCH --array=0-9\ntrue\n")}, "", "7", "Submitted batch job 6\n"},
	} {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		e.Vars["SBATCH_ARRAY_INX"] = c.env
		if code := e.Run(NewRootCmd(e.F), c.args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", c.args, code, e.Stderr)
		}
		if got := api.Submits[len(api.Submits)-1].Array; got != c.want {
			t.Errorf("%q: array %q, want %q", c.args, got, c.want)
		}
		if e.Stdout.String() != c.out {
			t.Errorf("%q: stdout %q, want %q", c.args, e.Stdout, c.out)
		}
	}
	// No --array: no array.
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != 0 || api.Submits[len(api.Submits)-1].Array != "" {
		t.Errorf("plain job: exit %d, array %q", code, api.Submits[len(api.Submits)-1].Array)
	}
}

// A bad spec is exit 2 naming the option (or directive line) and the form;
// nothing is sent.
func TestBadArray(t *testing.T) {
	api := clitest.NewAPI(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--array=", "--wrap", "x"}, "rcq-submit: --array: " + `"": no indices: ` + rcq.ArrayForm},
		{[]string{"--array=5-1", "--wrap", "x"}, `--array: "5-1": range "5-1" is reversed`},
		{[]string{"--array=0-99:0", "--wrap", "x"}, `--array: "0-99:0": step in "0-99:0" must be a whole number >= 1`},
		{[]string{"--array=1-3%0", "--wrap", "x"}, `the throttle after % must be a whole number >= 1`},
		{[]string{"-a", "x", "--wrap", "x"}, `"x" is not an index`},
		{[]string{"-a", "0-4000001", "--wrap", "x"}, `index 4000001 is above the largest, 4000000`},
		{[]string{writeScript(t, "#!/bin/sh\n#SBATCH --array=3-\ntrue\n")}, `#SBATCH --array (line 2): "3-"`},
	} {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		if code := e.Run(NewRootCmd(e.F), c.args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(e.Stderr.String(), c.msg) || !strings.Contains(e.Stderr.String(), rcq.ArrayForm) {
			t.Errorf("%q: stderr %q, want %q and the form", c.args, e.Stderr, c.msg)
		}
	}
	if len(api.Submits) != 0 {
		t.Errorf("%d submits reached the server", len(api.Submits))
	}
}

func TestArrayEnd(t *testing.T) {
	arr := int64(10)
	code := func(n int) *int { return &n }
	task := func(n int) *int { return &n }
	el := func(id int64, i int, status string, exit *int) apitype.Job {
		return apitype.Job{ID: id, ArrayJobID: &arr, ArrayTaskID: task(i), Status: status, ExitCode: exit}
	}
	for _, c := range []struct {
		name   string
		rows   []apitype.Job
		done   bool
		code   int
		worst  string
		failed int
	}{
		{"none yet", nil, false, 0, "", 0},
		{"one running", []apitype.Job{el(10, 0, "completed", code(0)), el(11, 1, "running", nil)}, false, 0, "", 0},
		{"pending remainder", []apitype.Job{{ID: 10, ArrayJobID: &arr, ArrayTasks: "2-5", Status: "pending"}, el(11, 1, "completed", code(0))}, false, 0, "", 0},
		{"all completed", []apitype.Job{el(10, 2, "completed", code(0)), el(11, 1, "completed", code(0))}, true, 0, "10_2", 0},
		{"the highest code", []apitype.Job{el(10, 2, "failed", code(3)), el(11, 1, "failed", code(7)), el(12, 0, "completed", code(0))}, true, 7, "10_1", 2},
		{"a signal is 1", []apitype.Job{el(10, 2, "completed", code(0)), {ID: 11, ArrayJobID: &arr, ArrayTaskID: task(1), Status: "cancelled", Signal: "TERM"}}, true, 1, "10_1", 1},
		{"cancelled before starting", []apitype.Job{{ID: 10, ArrayJobID: &arr, ArrayTasks: "2-5", Status: "cancelled"}, el(11, 1, "completed", code(0))}, true, 1, "10_[2-5]", 4},
	} {
		done, got, worst, failed := ArrayEnd(c.rows)
		w := ""
		if worst != nil {
			w = worst.SlurmID()
		}
		if done != c.done || got != c.code || w != c.worst || failed != c.failed {
			t.Errorf("%s: done %v code %d worst %q failed %d; want %v %d %q %d", c.name, done, got, w, failed, c.done, c.code, c.worst, c.failed)
		}
	}
}

// afterok:123_4 names one element; aftercorr:123 a whole array.
func TestArrayDependencies(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "-a", "0-3", "-d", "afterok:12_4:13,aftercorr:12", "--wrap", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	four := 4
	want := apitype.DependencyList{{Type: "afterok", JobID: 12, ArrayTaskID: &four}, {Type: "afterok", JobID: 13}, {Type: "aftercorr", JobID: 12}}
	if !reflect.DeepEqual(api.Submits[0].Dependencies, want) {
		t.Errorf("deps %+v, want %+v", api.Submits[0].Dependencies, want)
	}
	e = clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "-d", "aftercorr:12_4", "--wrap", "x"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "--dependency: \"aftercorr:12_4\": aftercorr names a whole array") {
		t.Errorf("aftercorr on an element: exit %d: %s", code, e.Stderr)
	}
}
