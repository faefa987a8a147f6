package api

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
	"github.com/rcq-project/rcq/internal/cli/submit/plan"
	"github.com/rcq-project/rcq/internal/rcq"
)

// submitCommand is POST /api/jobs/command: an rcq-submit or sbatch command
// line, read by the command's own code (package plan) as the command reads
// it, and submitted as POST /api/jobs submits. It lets rcq-submit's
// start-up path leave the reading of options, directives and input
// variables to rcqd; on any 4xx that client runs the full command instead.
//
// Everything the command would take from its process comes from the body:
// environment, directory, umask, and the script (rcqd opens no path the
// request names: the script file's name only names the job). The job is
// the caller's, whatever the environment says.
func (s *Server) submitCommand(w http.ResponseWriter, r *http.Request) error {
	var req apitype.CommandSubmitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	in, err := commandInput(&req)
	if err != nil {
		return err
	}
	var warnings []string
	in.Warnf = func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	p, err := plan.Prepare(in)
	if err != nil {
		return commandError(err)
	}
	if err := clientOption(p, req.Program); err != nil {
		return err
	}
	resp, err := s.createJob(w, r, &p.Request, key)
	if err != nil {
		return optionError(err)
	}
	out := apitype.CommandSubmitResponse{SubmitResponse: resp, Warnings: warnings}
	id := strconv.FormatInt(resp.JobID, 10)
	if p.Parsable {
		out.Output = id + "\n"
	} else {
		out.Output = "Submitted batch job " + id + "\n"
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// commandInput is the plan's input for a command line: its process's
// environment, directory, umask and script are the request's.
func commandInput(req *apitype.CommandSubmitRequest) (*plan.Input, error) {
	in := &plan.Input{}
	switch req.Program {
	case "rcq-submit":
	case "sbatch":
		in.Slurm = true
	default:
		return nil, rcq.Invalid("program", "%q is not a command this route reads: use \"rcq-submit\" or \"sbatch\"", req.Program)
	}
	if !filepath.IsAbs(req.WorkingDir) {
		return nil, rcq.Invalid("working_dir", "%q is not an absolute path: give the directory the command runs in, such as \"/home/alice/run\"", req.WorkingDir)
	}
	umask, err := rcq.ParseUmask(req.Umask)
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(req.Env))
	for i, kv := range req.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, rcq.Invalid("env", "entry %d is not NAME=value: send the environment as NAME=value strings", i)
		}
		if _, dup := env[name]; dup {
			return nil, rcq.Invalid("env", "%q is given twice: send each variable once, as NAME=value", name)
		}
		env[name] = value
	}
	a, ok := argv.Parse(req.Args)
	if !ok {
		return nil, rcq.Invalid("args", "the command line has an option this route does not read (--help, an unknown option, a missing value or a boolean other than true or false): run %s itself", req.Program)
	}
	_, wrap := a.CmdLine["wrap"]
	switch {
	case len(a.Rest) > 0 && req.Script == "":
		return nil, rcq.Invalid("script", "the command line names the script file %q: send its content as script (rcqd reads no file a request names)", a.Rest[0])
	case len(a.Rest) == 0 && wrap && req.Script != "":
		return nil, rcq.Invalid("script", "--wrap makes the job's script: send no script with it")
	case len(a.Rest) == 0 && !wrap && req.Script == "":
		return nil, rcq.Invalid("script", "the command line names no script file and no --wrap: send the script the command reads from standard input as script")
	}
	in.Args, in.CmdLine = a.Rest, a.CmdLine
	in.Getenv = func(name string) string { return env[name] }
	in.Environ = func() []string { return req.Env }
	in.Getwd = func() (string, error) { return req.WorkingDir, nil }
	in.Stdin, in.StdinTTY = strings.NewReader(req.Script), func() bool { return false }
	in.ReadFile = func(string) ([]byte, error) { return []byte(req.Script), nil }
	in.Umask = func() rcq.Umask { return umask }
	return in, nil
}

// commandError is Prepare's refusal as the API's: a bad option or value
// (a usage error, exit 2 from the command) and sbatch's refusals are 400
// invalid_command with the command's own words; an *rcq.Error keeps its
// kind and code.
func commandError(err error) error {
	var usage *exitcode.UsageError
	var e *rcq.Error
	if !errors.As(err, &usage) && errors.As(err, &e) {
		return err
	}
	return &rcq.Error{Kind: rcq.KindInvalid, Code: "invalid_command", Msg: err.Error(), Err: err}
}

// clientOption refuses a plan that needs the command itself: waiting for
// the job, a test, JSON output, the largest worker's memory (--mem=0) or
// the check of --account against the caller's group.
func clientOption(p *plan.Plan, program string) error {
	var opt string
	switch {
	case p.Wait:
		opt = "--wait"
	case p.TestOnly:
		opt = "--test-only"
	case p.JSON:
		opt = "--json"
	case p.WholeNodeMemory:
		opt = "--mem=0 (all of a node's memory)"
	case p.Account != "":
		opt = "--account"
	default:
		return nil
	}
	return rcq.Errorf(rcq.KindUnprocessable, "client_option",
		"%s needs the command itself: run %s with it, or send the job with POST /api/jobs", opt, program)
}

// optionError is a refusal of the submit's fields worded as the command
// words it: naming the option that set the field (plan.AsOptionError),
// under the field's code.
func optionError(err error) error {
	var usage *exitcode.UsageError
	if errors.As(plan.AsOptionError(err), &usage) {
		return &rcq.Error{Kind: rcq.KindInvalid, Code: rcq.CodeOf(err), Msg: usage.Error(), Err: err}
	}
	return err
}
