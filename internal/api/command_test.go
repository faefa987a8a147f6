package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// commandEnv is the environment the tests' command lines come from: none
// of it is rcqd's own.
var commandEnv = []string{"HOME=/home/alice", "PATH=/opt/alice/bin:/usr/bin", "LANG=C.UTF-8"}

// command is a POST /api/jobs/command body for rcq-submit run in
// /home/alice/run with umask 0027.
func command(args ...string) map[string]any {
	return map[string]any{"program": "rcq-submit", "args": args, "env": commandEnv,
		"working_dir": "/home/alice/run", "umask": "0027"}
}

// with is body with the fields of more added or replaced.
func with(body map[string]any, more map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// submitCommand posts body as the token's owner, wants 201 and returns the
// answer and the stored job.
func (e *env) submitCommand(token string, body map[string]any) (apitype.CommandSubmitResponse, *rcq.Job) {
	e.t.Helper()
	r := e.post("/api/jobs/command", token, body)
	want(e.t, r, http.StatusCreated, "")
	out := decodeTo[apitype.CommandSubmitResponse](e.t, r)
	return out, e.job(out.JobID)
}

func TestSubmitCommandWrap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := command("--hold", "--wrap", "true")
	body["env"] = append(slices.Clone(commandEnv), "RCQ_TOKEN=alices-secret")
	r := e.post("/api/jobs/command", e.aliceT, body)
	want(t, r, http.StatusCreated, "")
	if strings.Contains(string(r.body), `"warnings"`) {
		t.Errorf("no warning, yet the answer has warnings: %s", r.body)
	}
	out := decodeTo[apitype.CommandSubmitResponse](t, r)
	j := e.job(out.JobID)
	if want := fmt.Sprintf("Submitted batch job %d\n", out.JobID); out.Output != want {
		t.Errorf("output %q, want %q", out.Output, want)
	}
	if out.Message != "Job submitted successfully" || out.Status != "pending" || out.JobID == 0 {
		t.Errorf("answer %+v, want POST /api/jobs's", out.SubmitResponse)
	}
	if j.UserID != e.alice || j.Script != "#!/bin/sh\ntrue\n" || j.Name != "wrap" || j.Hold != rcq.HoldUser {
		t.Errorf("job: owner %d, script %q, name %q, hold %q; want alice's held wrap of true", j.UserID, j.Script, j.Name, j.Hold)
	}
	// The environment is the body's (less the token), never rcqd's.
	if env := slices.Sorted(slices.Values(commandEnv)); !slices.Equal(j.Env, env) {
		t.Errorf("job env %q, want the body's %q", j.Env, env)
	}
	if j.WorkingDir != "/home/alice/run" || j.Umask != 0o027 {
		t.Errorf("job working dir %q, umask %s; want /home/alice/run, 0027", j.WorkingDir, j.Umask)
	}

	out, j = e.submitCommand(e.aliceT, command("--parsable", "-D", "sub", "--array=0-9", "--wrap", "echo $SLURM_ARRAY_TASK_ID"))
	if want := fmt.Sprintf("%d\n", out.JobID); out.Output != want {
		t.Errorf("--parsable: output %q, want %q", out.Output, want)
	}
	if out.ArrayTaskCount != 10 || out.Message != "Job array submitted successfully" {
		t.Errorf("--array=0-9: %+v, want an array of 10", out.SubmitResponse)
	}
	if j.WorkingDir != "/home/alice/run/sub" {
		t.Errorf("-D sub: working dir %q, want /home/alice/run/sub", j.WorkingDir)
	}
}

// Directives, input variables and the command line are read as the
// command reads them; the job is named after the script's file.
func TestSubmitCommandScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	script := "#!/bin/sh\n#SBATCH -c 2\n#RCQ --mem=2G\n#SBATCH -t 30\necho \"$@\"\n"
	body := with(command("/home/alice/run/job.sh", "a1", "--a2"), map[string]any{"script": script})
	body["env"] = append(slices.Clone(commandEnv), "RCQ_PRIORITY=5")
	_, j := e.submitCommand(e.aliceT, body)
	if j.Name != "job.sh" || j.Script != script || !slices.Equal(j.Args, []string{"a1", "--a2"}) {
		t.Errorf("job name %q, script %q, args %q; want job.sh, the body's, [a1 --a2]", j.Name, j.Script, j.Args)
	}
	if j.Resources.CPUCores != 2 || j.Resources.MemoryGB != 2 || j.EstimatedHours != 0.5 || j.Priority != 5 {
		t.Errorf("job %+v, %g hours, priority %d; want 2 cores, 2 GB, 0.5 hours, priority 5", j.Resources, j.EstimatedHours, j.Priority)
	}

	// The command line wins over directives; -J over the file's name.
	_, j = e.submitCommand(e.aliceT, with(command("-c", "4", "-J", "named", "job.sh"), map[string]any{"script": script}))
	if j.Name != "named" || j.Resources.CPUCores != 4 {
		t.Errorf("-c 4 -J named: name %q, %d cores", j.Name, j.Resources.CPUCores)
	}
	// No script file and no --wrap: the script is standard input's.
	_, j = e.submitCommand(e.aliceT, with(command("--mem", "3G"), map[string]any{"script": script}))
	if j.Name != "stdin" || j.Script != script || j.Resources.MemoryGB != 3 {
		t.Errorf("standard input: name %q, script %q, %d GB", j.Name, j.Script, j.Resources.MemoryGB)
	}
}

// rcqd opens no path a command line names, whatever it is and whoever may
// read it: the script is the body's. The environment does not choose the
// owner.
func TestSubmitCommandNeverReadsCallerPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	readable := filepath.Join(t.TempDir(), "on-disk.sh")
	writeFile(t, readable, "#!/bin/sh\necho the file on rcqd's disk\n")
	if _, err := os.Stat("/etc/shadow"); err != nil {
		t.Fatalf("the test needs /etc/shadow to exist: %v", err)
	}
	script := "#!/bin/sh\necho hi\n"
	for _, path := range []string{"/nonexistent/dir/job.sh", "/etc/shadow", readable} {
		body := with(command(path), map[string]any{"script": script,
			"env": []string{"USER=bob", "LOGNAME=bob", "HOME=/home/bob", "RCQ_USER=bob@example.org"}})
		_, j := e.submitCommand(e.aliceT, body)
		if j.Script != script {
			t.Errorf("%s: stored script %q, want the body's", path, j.Script)
		}
		if j.Name != filepath.Base(path) {
			t.Errorf("%s: name %q, want %q", path, j.Name, filepath.Base(path))
		}
		if j.UserID != e.alice {
			t.Errorf("%s: the job belongs to user %d, want alice (%d) whatever USER says", path, j.UserID, e.alice)
		}
	}
}

// On the socket each Unix user's command line makes that user's job,
// which another user cannot see, whatever the environment claims.
func TestSubmitCommandAsUnixUsers(t *testing.T) {
	t.Parallel()
	a, b := unixtest.New(t), unixtest.New(t)
	e := newEnv(t, systemMode)
	asA, asB := e.peer(a.UID), e.peer(b.UID)
	body := command("--wrap", "id -un")
	body["env"] = []string{"USER=" + a.Name, "LOGNAME=" + a.Name, "HOME=" + a.Home}
	body["working_dir"] = b.Home
	r := e.via(asB, req{method: "POST", path: "/api/jobs/command", body: body})
	want(t, r, http.StatusCreated, "")
	id := decodeTo[apitype.CommandSubmitResponse](t, r).JobID
	ub, err := e.st.UserByUnixUser(t.Context(), b.Name)
	if err != nil {
		t.Fatal(err)
	}
	if j := e.job(id); j.UserID != ub.ID || j.WorkingDir != b.Home {
		t.Errorf("%s's job belongs to user %d in %q, want %d in %q", b.Name, j.UserID, j.WorkingDir, ub.ID, b.Home)
	}
	want(t, e.via(asA, req{method: "GET", path: fmt.Sprintf("/api/jobs/%d", id)}), http.StatusNotFound, "not_found")
	want(t, e.via(asB, req{method: "GET", path: fmt.Sprintf("/api/jobs/%d", id)}), http.StatusOK, "")

	r = e.via(asA, req{method: "POST", path: "/api/jobs/command", body: command("--wrap", "id -un")})
	want(t, r, http.StatusCreated, "")
	ua, err := e.st.UserByUnixUser(t.Context(), a.Name)
	if err != nil {
		t.Fatal(err)
	}
	if j := e.job(decodeTo[apitype.CommandSubmitResponse](t, r).JobID); j.UserID != ua.ID {
		t.Errorf("%s's job belongs to user %d, want %d", a.Name, j.UserID, ua.ID)
	}
}

// rcq-submit warns about what Slurm refuses; sbatch refuses it, in Slurm's
// words, and stores nothing.
func TestSubmitCommandWarningsAndSlurmRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	script := "#!/bin/sh\n#SBATCH --partition=gpu\n#SBATCH --qos=high\necho hi\n"
	out, _ := e.submitCommand(e.aliceT, with(command("job.sh"), map[string]any{"script": script}))
	if len(out.Warnings) != 2 || !strings.Contains(out.Warnings[0], `partition "gpu" is ignored`) || !strings.Contains(out.Warnings[1], "--qos") {
		t.Errorf("warnings %q, want the partition's and the QOS's", out.Warnings)
	}
	for _, w := range out.Warnings {
		if strings.Contains(w, "\n") || strings.Contains(w, "%!") {
			t.Errorf("warning %q is not one formatted line", w)
		}
	}
	jobs := e.jobCount()
	r := e.post("/api/jobs/command", e.aliceT, with(command("job.sh"), map[string]any{"program": "sbatch", "script": script}))
	want(t, r, http.StatusBadRequest, "invalid_command")
	if msg := r.errBody(t).Error; msg != "error: Batch job submission failed: Invalid partition name specified" {
		t.Errorf("sbatch's refusal: %q, want Slurm's words", msg)
	}
	r = e.post("/api/jobs/command", e.aliceT, with(command("-N", "2", "--wrap", "true"), map[string]any{"program": "sbatch"}))
	want(t, r, http.StatusBadRequest, "invalid_command")
	if n := e.jobCount(); n != jobs {
		t.Errorf("refused sbatch command lines stored %d jobs", n-jobs)
	}
	// The same -N 2 under rcq-submit is a warning.
	out, _ = e.submitCommand(e.aliceT, command("-N", "2", "--wrap", "true"))
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "2 nodes") {
		t.Errorf("rcq-submit -N 2: warnings %q", out.Warnings)
	}
}

func TestSubmitCommandRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	script := map[string]any{"script": "#!/bin/sh\necho hi\n"}
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
		says   string // the message names this
	}{
		{"unknown program", with(command("--wrap", "true"), map[string]any{"program": "srun"}), 400, "invalid_program", `program: "srun"`},
		{"no program", with(command("--wrap", "true"), map[string]any{"program": ""}), 400, "invalid_program", `"rcq-submit" or "sbatch"`},
		{"--help", command("--help"), 400, "invalid_args", "args: "},
		{"unknown option", with(command("--frobnicate", "job.sh"), script), 400, "invalid_args", "run rcq-submit itself"},
		{"option without its value", command("--wrap"), 400, "invalid_args", "args: "},
		{"relative working_dir", with(command("--wrap", "true"), map[string]any{"working_dir": "run"}), 400, "invalid_working_dir", "absolute"},
		{"no working_dir", with(command("--wrap", "true"), map[string]any{"working_dir": ""}), 400, "invalid_working_dir", "absolute"},
		{"bad umask", with(command("--wrap", "true"), map[string]any{"umask": "0999"}), 400, "invalid_umask", "umask: "},
		{"env entry without =", with(command("--wrap", "true"), map[string]any{"env": []string{"PATH"}}), 400, "invalid_env", "NAME=value"},
		{"env twice", with(command("--wrap", "true"), map[string]any{"env": []string{"A=1", "A=2"}}), 400, "invalid_env", `"A"`},
		{"script file without script", command("/home/alice/job.sh"), 400, "invalid_script", `script: the command line names the script file "/home/alice/job.sh"`},
		{"standard input without script", command("-c", "2"), 400, "invalid_script", "standard input"},
		{"--wrap with script", with(command("--wrap", "true"), script), 400, "invalid_script", "--wrap"},
		{"unknown field", with(command("--wrap", "true"), map[string]any{"stdin": "x"}), 400, "unknown_field", `"stdin"`},
		{"usage error", command("--mem=lots", "--wrap", "true"), 400, "invalid_command", "--mem: "},
		{"usage error in a directive", with(command("job.sh"), map[string]any{"script": "#!/bin/sh\n#SBATCH --mem=lots\ntrue\n"}), 400, "invalid_command", "--mem"},
		{"--priority out of range", command("--priority", "99", "--wrap", "true"), 400, "invalid_command", "--priority: "},
		{"-c out of range", command("-c", "100000", "--wrap", "true"), 400, "invalid_command", "--cpus-per-task"},
		{"--wrap and a script file", with(command("--wrap", "true", "job.sh"), script), 400, "invalid_command", "--wrap"},
		// rcqd's own checks, worded for the option that set the field.
		{"time over rcqd's maximum", command("-t", "1000:00:00", "--wrap", "true"), 400, "invalid_estimated_hours", "--time: must be"},
		{"name rcqd refuses", command("-J", "a/b", "--wrap", "true"), 400, "invalid_name", "--job-name: "},
		{"dependency on no job", command("-d", "afterok:999999", "--wrap", "true"), 400, "invalid_dependencies", "--dependency: "},
		{"too large for any worker", command("-c", "64", "--wrap", "true"), 422, "too_large_for_any_worker", "no worker can ever hold"},
		// What only the command itself does.
		{"--wait", command("--wait", "--wrap", "true"), 422, "client_option", "--wait needs the command itself"},
		{"--test-only", command("--test-only", "--wrap", "true"), 422, "client_option", "--test-only"},
		{"--json", command("--json", "--wrap", "true"), 422, "client_option", "--json"},
		{"--mem=0", command("--mem=0", "--wrap", "true"), 422, "client_option", "--mem=0"},
		{"--account", command("--account=default", "--wrap", "true"), 422, "client_option", "--account"},
		{"--account in a directive", with(command("job.sh"), map[string]any{"script": "#!/bin/sh\n#SBATCH -A default\ntrue\n"}), 422, "client_option", "--account"},
	} {
		r := e.post("/api/jobs/command", e.aliceT, c.body)
		if r.status != c.status || r.errBody(t).Code != c.code {
			t.Errorf("%s: %s, want %d %s", c.name, r, c.status, c.code)
			continue
		}
		if msg := r.errBody(t).Error; !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q, want one line with %q", c.name, msg, c.says)
		}
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("refused command lines stored %d jobs", n)
	}
}

func TestSubmitCommandIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	post := func(key string) resp {
		return e.do(req{method: "POST", path: "/api/jobs/command", token: e.aliceT, body: command("--wrap", "true"),
			header: map[string]string{"Idempotency-Key": key}})
	}
	first, again := post("cmd-1"), post("cmd-1")
	want(t, first, http.StatusCreated, "")
	want(t, again, http.StatusCreated, "")
	a, b := decodeTo[apitype.CommandSubmitResponse](t, first), decodeTo[apitype.CommandSubmitResponse](t, again)
	if a.JobID != b.JobID || a.Output != b.Output {
		t.Errorf("replay: job %d %q, then %d %q", a.JobID, a.Output, b.JobID, b.Output)
	}
	if first.header.Get("Idempotent-Replayed") != "" || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed: %q then %q, want none then true", first.header.Get("Idempotent-Replayed"), again.header.Get("Idempotent-Replayed"))
	}
	want(t, post(strings.Repeat("k", 256)), http.StatusBadRequest, "invalid_idempotency_key")
	if n := e.jobCount(); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

// The answer's JSON names are the contract's.
func TestSubmitCommandAnswerFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.post("/api/jobs/command", e.aliceT, with(command("job.sh"), map[string]any{"script": "#!/bin/sh\n#SBATCH -p gpu\ntrue\n"}))
	want(t, r, http.StatusCreated, "")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"message", "job_id", "status", "output", "warnings"} {
		if _, ok := m[k]; !ok {
			t.Errorf("the answer %s has no %q", r.body, k)
		}
	}
}
