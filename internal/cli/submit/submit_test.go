package submit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

func TestFlagParsing(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-submit", "unix:///nowhere.sock")
	var got *Options
	cmd := NewCmd(e.F, func(o *Options) error { got = o; return nil })
	code := e.Run(cmd, "-J", "x", "--mem=4G", "-c8", "-H", "job.sh", "--mem", "1G", "-J", "arg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := map[string]string{"job-name": "x", "mem": "4G", "cpus-per-task": "8", "hold": "true"}
	if !reflect.DeepEqual(got.CmdLine, want) {
		t.Errorf("CmdLine = %v, want %v", got.CmdLine, want)
	}
	// Everything after the script is the script's.
	if !reflect.DeepEqual(got.Args, []string{"job.sh", "--mem", "1G", "-J", "arg"}) {
		t.Errorf("Args = %q", got.Args)
	}

	e = clitest.NewEnv(t, "rcq-submit", "unix:///nowhere.sock")
	if code := e.Run(NewCmd(e.F, func(*Options) error { return nil }), "--nope"); code != cli.ExitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
	if !strings.Contains(e.Stderr.String(), "rcq-submit: unknown flag: --nope\nRun 'rcq-submit --help' for usage.") {
		t.Errorf("stderr = %q", e.Stderr)
	}
}

func writeScript(t *testing.T, body string) string {
	path := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	e.Vars["SBATCH_MEM_PER_NODE"] = "3G" // loses to RCQ_MEM
	e.Vars["RCQ_MEM"] = "2G"             // beats the directive
	e.Vars["SBATCH_TIMELIMIT"] = "30"    // beats the directive, loses to -t
	e.Vars["SECRET_ENV"] = "x"
	e.Vars["RCQ_TOKEN"] = ""
	script := writeScript(t, `#!/bin/sh
#SBATCH --job-name=from-sbatch
#SBATCH --mem=8G
#SBATCH --partition gpu
#SBATCH --time=2-00
#RCQ -c 4 --gres=gpu:a100:2 --priority 3
#RCQ -o "out %j.txt"
echo hi
#RCQ --job-name=too-late
exit 0
`)
	code := e.Run(NewRootCmd(e.F), "-J", "cmdline", "-t", "1:30:00", "-D", "sub", "--export=NONE,HOME,X=1", "-d", "afterok:1:2,afterany:3", script, "a1", "a 2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if e.Stdout.String() != "Submitted batch job 1\n" {
		t.Errorf("stdout = %q", e.Stdout)
	}
	wantWarn := "rcq-submit: warning: #SBATCH --partition (line 4): partition \"gpu\" is ignored: rcq has one partition, rcq\n" +
		"rcq-submit: warning: #RCQ --gres (line 6): GPU type \"a100\" is ignored: rcq gives any free GPU\n"
	if e.Stderr.String() != wantWarn {
		t.Errorf("stderr = %q\nwant %q", e.Stderr, wantWarn)
	}
	r := api.Submits[0]
	if r.Name != "cmdline" || *r.MemoryGB != 2 || *r.CPUCores != 4 || *r.GPUCount != 2 || *r.Priority != 3 || *r.EstimatedHours != 1.5 {
		t.Errorf("request = %+v", r)
	}
	if r.Output != "out %j.txt" || r.WorkingDir != "/work/dir/sub" || !reflect.DeepEqual(r.Args, []string{"a1", "a 2"}) {
		t.Errorf("output %q dir %q args %q", r.Output, r.WorkingDir, r.Args)
	}
	if !reflect.DeepEqual(r.Env, map[string]string{"HOME": "/home/ann", "X": "1"}) {
		t.Errorf("env = %v", r.Env)
	}
	wantDeps := apitype.DependencyList{{Type: "afterok", JobID: 1}, {Type: "afterok", JobID: 2}, {Type: "afterany", JobID: 3}}
	if !reflect.DeepEqual(r.Dependencies, wantDeps) {
		t.Errorf("deps = %+v", r.Dependencies)
	}
	if !strings.HasPrefix(r.Script, "#!/bin/sh\n#SBATCH --job-name=from-sbatch") {
		t.Errorf("script not sent as is: %q", r.Script)
	}
}

// --mem-per-cpu is memory per core times the cores, rounded up once, as
// sbatch computes it; from a directive too.
func TestMemPerCPU(t *testing.T) {
	api := clitest.NewAPI(t)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"-c", "2", "--mem-per-cpu=2G", "--wrap", "x"}, 4},
		{[]string{"-c", "3", "--mem-per-cpu", "1500M", "--wrap", "x"}, 5}, // 4500M
		{[]string{"--mem-per-cpu", "3G", "--wrap", "x"}, 3},               // one core
		{[]string{"-c", "4", writeScript(t, "#!/bin/sh\n#SBATCH --mem-per-cpu=512M\ntrue\n")}, 2},
	} {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		e.Vars["RCQ_MEM"] = ""
		if code := e.Run(NewRootCmd(e.F), c.args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", c.args, code, e.Stderr)
		}
		if got := api.Submits[len(api.Submits)-1].MemoryGB; got == nil || *got != c.want {
			t.Errorf("%q: memory_gb %v, want %d", c.args, got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	e.Vars["RCQ_TOKEN"] = ""
	if code := e.Run(NewRootCmd(e.F), "--wrap", "echo hello", "--parsable"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if e.Stdout.String() != "1\n" {
		t.Errorf("--parsable printed %q", e.Stdout)
	}
	r := api.Submits[0]
	if r.Script != "#!/bin/sh\necho hello\n" || r.Name != "wrap" || r.WorkingDir != "/work/dir" {
		t.Errorf("request = %+v", r)
	}
	if r.CPUCores != nil || r.MemoryGB != nil || r.GPUCount != nil || r.EstimatedHours != nil || r.Priority != nil || r.Hold {
		t.Errorf("unset options were sent: %+v", r)
	}
	// --export=ALL is the default: the environment travels.
	if r.Env["HOME"] != "/home/ann" || r.Env["RCQ_SERVER"] != api.URL {
		t.Errorf("env = %v", r.Env)
	}
}

// TestUnlimitedTime: -t UNLIMITED (INFINITE, 0; #SBATCH too) is sent as
// time_limit "unlimited" with no estimated_hours: rcqd applies its own
// maximum, which the client does not know; a limit is sent as hours.
func TestUnlimitedTime(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	for _, args := range [][]string{{"-t", "UNLIMITED"}, {"--time=infinite"}, {"-t", "0"}, {"--time", "Unlimited"}} {
		if code := e.Run(NewRootCmd(e.F), append(args, "--wrap", "x")...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, e.Stderr)
		}
		r := api.Submits[len(api.Submits)-1]
		if r.TimeLimit != "unlimited" || r.EstimatedHours != nil {
			t.Errorf("%q: time_limit %q, estimated_hours %v; want \"unlimited\" and none", args, r.TimeLimit, r.EstimatedHours)
		}
	}
	if code := e.Run(NewRootCmd(e.F), "-t", "90", "--wrap", "x"); code != 0 {
		t.Fatalf("-t 90: exit %d: %s", code, e.Stderr)
	}
	if r := api.Submits[len(api.Submits)-1]; r.TimeLimit != "" || r.EstimatedHours == nil || *r.EstimatedHours != 1.5 {
		t.Errorf("-t 90: time_limit %q, estimated_hours %v; want 1.5 hours", r.TimeLimit, r.EstimatedHours)
	}
}

func TestStdinAndJSON(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	e.Stdin.WriteString("#!/bin/sh\n#RCQ --hold\nsleep 1\n")
	if code := e.Run(NewRootCmd(e.F), "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	var resp apitype.SubmitResponse
	if err := json.Unmarshal(e.Stdout.Bytes(), &resp); err != nil || resp.JobID != 1 || resp.Status != "pending" {
		t.Errorf("--json printed %q (%v)", e.Stdout, err)
	}
	if r := api.Submits[0]; r.Name != "stdin" || !r.Hold {
		t.Errorf("request = %+v", r)
	}
}

func TestBadValuesSendNothing(t *testing.T) {
	api := clitest.NewAPI(t)
	script := writeScript(t, "#!/bin/sh\n#RCQ --bogus\n")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--mem", "4X", "--wrap", "x"}, `rcq-submit: --mem: "4X" is not a memory size: use a whole number with an optional unit K, M, G or T`},
		{[]string{"-t", "1:2:3:4", "--wrap", "x"}, `rcq-submit: --time: "1:2:3:4" is not a time limit: use minutes, MM:SS, HH:MM:SS`},
		{[]string{"-c", "0", "--wrap", "x"}, `rcq-submit: --cpus-per-task: "0" is not a number of CPU cores`},
		{[]string{"--priority", "11", "--wrap", "x"}, `--priority: "11" is not a priority: use a whole number from 1 to 10`},
		{[]string{"-d", "after:1", "--wrap", "x"}, `--dependency: "after:1": use afterok:ID`},
		{[]string{"--wrap", "x", script}, "--wrap and a script file together"},
		{[]string{script}, "#RCQ (line 2): unknown option --bogus"},
		{[]string{"--parsable", "--json", "--wrap", "x"}, "--json and --parsable together"},
		{[]string{"--mem", "2G", "--mem-per-cpu", "1G", "--wrap", "x"}, "--mem and --mem-per-cpu together"},
		{[]string{"--mem-per-cpu", "1X", "--wrap", "x"}, `--mem-per-cpu: "1X" is not a memory size`},
		{[]string{}, "the script is empty"},
		{[]string{"--wrap", " "}, "the script is empty"},
	}
	for _, c := range cases {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		e.Vars["RCQ_MEM"] = ""
		if code := e.Run(NewRootCmd(e.F), c.args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(e.Stderr.String(), c.msg) {
			t.Errorf("%q: stderr %q, want %q", c.args, e.Stderr, c.msg)
		}
	}
	// A bad input variable names the variable.
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	e.Vars["SBATCH_TIMELIMIT"] = "soon"
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "SBATCH_TIMELIMIT: \"soon\"") {
		t.Errorf("exit %d: %s", code, e.Stderr)
	}
	if len(api.Submits) != 0 {
		t.Errorf("%d submits reached the server", len(api.Submits))
	}
}

func TestWait(t *testing.T) {
	api := clitest.NewAPI(t)
	for _, c := range []struct {
		script string
		code   int
		msg    string
	}{
		{"#!/bin/sh\nexit 0\n", 0, ""},
		{"#!/bin/sh\nexit 3\n", 3, "rcq-submit: job 2 failed with exit code 3\n"},
	} {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		e.Stdin.WriteString(c.script)
		cmd := NewCmd(e.F, func(o *Options) error {
			o.PollInterval, o.MaxPollInterval = time.Millisecond, time.Millisecond
			return submitRun(t.Context(), o)
		})
		if code := e.Run(cmd, "--wait"); code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.script, code, c.code, e.Stderr)
		}
		if !strings.HasPrefix(e.Stdout.String(), "Submitted batch job ") || e.Stderr.String() != c.msg {
			t.Errorf("stdout %q stderr %q", e.Stdout, e.Stderr)
		}
	}
}

func TestTestOnly(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewRootCmd(e.F), "--test-only", "--wrap", "true"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := "rcq-submit: Job would start at " + clitest.Now.Add(5*time.Minute).Local().Format("2006-01-02T15:04:05") + "\n"
	if e.Stderr.String() != want || e.Stdout.Len() != 0 {
		t.Errorf("stderr %q stdout %q", e.Stderr, e.Stdout)
	}
	if api.TestOnly != 1 || len(api.Submits) != 0 {
		t.Errorf("test-only stored a job")
	}
}

func TestConnectionAndSession(t *testing.T) {
	api := clitest.NewAPI(t)
	// Not logged in.
	e := clitest.NewEnv(t, "rcq-submit", api.URL)
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != cli.ExitAuth || e.Stderr.String() != "rcq-submit: not logged in: run rcq-login\n" {
		t.Errorf("not logged in: exit %d, %q", code, e.Stderr)
	}
	// A rejected token.
	e = clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Vars["RCQ_TOKEN"] = "expired"
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != cli.ExitAuth || e.Stderr.String() != "rcq-submit: session expired: run rcq-login\n" {
		t.Errorf("expired: exit %d, %q", code, e.Stderr)
	}
	// A token saved for another server.
	e = clitest.NewEnv(t, "rcq-submit", api.URL)
	e.Login(t, api, "ann@lab")
	e.Vars["RCQ_SERVER"] = "http://127.0.0.1:1"
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != cli.ExitAuth || !strings.Contains(e.Stderr.String(), "not logged in to http://127.0.0.1:1") {
		t.Errorf("other server: exit %d, %q", code, e.Stderr)
	}
	// No daemon on the socket.
	sock := filepath.Join(t.TempDir(), "rcqd.sock")
	e = clitest.NewEnv(t, "rcq-submit", "unix://"+sock)
	e.Vars["RCQ_TOKEN"] = "whatever"
	want := "rcq-submit: cannot reach rcqd at " + sock + ": is it running? Start it with: rcqd\n"
	if code := e.Run(NewRootCmd(e.F), "--wrap", "x"); code != cli.ExitUnreachable || e.Stderr.String() != want {
		t.Errorf("unreachable: exit %d, %q", code, e.Stderr)
	}
}

func TestDependencyCompletion(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-submit", "unix:///nowhere.sock")
	e.Run(NewRootCmd(e.F), "__complete", "-d", "afterok:1,")
	want := "afterok:1,afterok:\tafter the jobs completed with exit code 0\n" +
		"afterok:1,afterany:\tafter the jobs ended, however\n" +
		"afterok:1,afternotok:\tafter the jobs failed, timed out or were cancelled\n" +
		"afterok:1,aftercorr:\teach array element after the same element of another array\n:6\n"
	if got := e.Stdout.String(); got != want {
		t.Errorf("got %q", got)
	}
}

// rcq-submit sends the umask it runs with, so the job's files are as private
// as the submitting shell's (umask is process-wide: this test is not
// parallel, and none in this package is).
func TestSendsUmask(t *testing.T) {
	for _, m := range []int{0o077, 0o022, 0o002} {
		old := syscall.Umask(m)
		api := clitest.NewAPI(t)
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		code := e.Run(NewRootCmd(e.F), "--wrap", "touch x")
		syscall.Umask(old)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, e.Stderr)
		}
		if got, want := api.Submits[0].Umask, fmt.Sprintf("%04o", m); got != want {
			t.Errorf("with umask %04o rcq-submit sent umask %q, want %q", m, got, want)
		}
	}
}

// --requeue and --no-requeue (and #SBATCH --requeue, SBATCH_REQUEUE) send
// requeue true or false; neither leaves it out (rcqd's default); both from
// one kind of source is a usage error, otherwise the stronger source wins.
func TestRequeue(t *testing.T) {
	api := clitest.NewAPI(t)
	yes, no := true, false
	for _, c := range []struct {
		name string
		vars map[string]string
		args []string
		want *bool
		err  string
	}{
		{name: "neither", args: []string{"--wrap", "x"}},
		{name: "flag", args: []string{"--requeue", "--wrap", "x"}, want: &yes},
		{name: "no flag", args: []string{"--no-requeue", "--wrap", "x"}, want: &no},
		{name: "directive", args: []string{writeScript(t, "#!/bin/sh\n#SBATCH --requeue\ntrue\n")}, want: &yes},
		{name: "variable", vars: map[string]string{"SBATCH_REQUEUE": "1"}, args: []string{"--wrap", "x"}, want: &yes},
		{name: "flag beats directive", args: []string{"--no-requeue", writeScript(t, "#!/bin/sh\n#SBATCH --requeue\ntrue\n")}, want: &no},
		{name: "both flags", args: []string{"--requeue", "--no-requeue", "--wrap", "x"}, err: "rcq-submit: --requeue and --no-requeue together: choose one\n"},
	} {
		e := clitest.NewEnv(t, "rcq-submit", api.URL)
		e.Login(t, api, "ann@lab")
		for k, v := range c.vars {
			e.Vars[k] = v
		}
		before := len(api.Submits)
		code := e.Run(NewRootCmd(e.F), c.args...)
		if c.err != "" {
			if code != cli.ExitUsage || !strings.HasPrefix(e.Stderr.String(), c.err) || len(api.Submits) != before {
				t.Errorf("%s: exit %d, stderr %q", c.name, code, e.Stderr)
			}
			continue
		}
		if code != 0 || len(api.Submits) != before+1 {
			t.Errorf("%s: exit %d: %s", c.name, code, e.Stderr)
			continue
		}
		got := api.Submits[before].Requeue
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%s: requeue %v, want %v", c.name, got, c.want)
		}
	}
}
