// Package submit is rcq-submit, sbatch's counterpart: it reads a batch
// script's #RCQ and #SBATCH directives, RCQ_*/SBATCH_* input variables and
// command-line options into a job and submits it.
//
// The parsers for directives (ParseDirectives, SplitWords), time limits
// (ParseTime), memory sizes (ParseMem), GPUs (ParseGPUs, ParseGres) and
// --export (BuildEnv) are exported for the fuzz targets and for other tools.
package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-submit.
type Options struct {
	F *cli.Factory

	// Args is the script and its arguments (empty: --wrap or standard input).
	Args []string
	// CmdLine holds the options given on the command line, by long name.
	CmdLine map[string]string
	// Slurm is set by sbatch: what Slurm refuses is refused (exit 1, Slurm's
	// words) instead of warned about.
	Slurm bool

	// PollInterval is the first delay between checks of --wait (it doubles
	// up to MaxPollInterval). Zero means the defaults.
	PollInterval, MaxPollInterval time.Duration
}

const long = `Submit a batch script to rcqd, like sbatch.

The script is a file (its arguments follow it), the command of --wrap, or
standard input. Options come from, lowest precedence first: the script's
directives, RCQ_* (and SBATCH_*) input variables, and the command line.

Directives are lines at the top of the script that start with #RCQ or
#SBATCH in column 0, up to the first line that is not a comment. They take
the same options as the command line, e.g. "#SBATCH --mem=4G". An #SBATCH
option rcq does not support is ignored with a warning, so Slurm scripts run
unchanged; an unknown #RCQ option is an error.

%s

The job runs with the umask rcq-submit runs with, like sbatch: after
"umask 077" every file the job creates is private to its user.

On success rcq-submit prints "Submitted batch job ID" (only ID with
--parsable). With --wait it then waits for the job and exits with the job's
exit code (1 when a signal ended it, or when it was cancelled or timed out).

With --array the script runs once per index, each run an element with its
own job id, state and output (default rcq-%%A_%%a.out), SLURM_ARRAY_TASK_ID
set to its index; ID is the array's id (rcq-queue -j ID, rcq-cancel ID or
ID_INDEX). --wait waits for every element and exits with the highest exit
code among them.

` + cli.ExitStatusHelp + `
  (with --wait: the job's exit code)`

const example = `  # a script with #RCQ or #SBATCH directives
  rcq-submit job.sh
  rcq-submit -J train -c 8 --mem 32G -G 1 -t 2-00:00 train.sh --epochs 10

  # a one-line job, waiting for it and keeping its exit code
  rcq-submit --wrap "python analyse.py" --wait

  # a chain: the second job starts when the first succeeded
  id=$(rcq-submit --parsable prepare.sh)
  rcq-submit -d afterok:$id compute.sh

  # a job array: 100 elements, at most 8 running at once; then a job after
  # element 4, and an array whose element i follows element i of the first
  id=$(rcq-submit --parsable --array=0-99%8 sweep.sh)
  rcq-submit -d afterok:${id}_4 check.sh
  rcq-submit --array=0-99 -d aftercorr:$id post.sh

  # a script from standard input; when would it start?
  echo 'sleep 60' | rcq-submit --test-only -c 4`

// wholeNodeMemory gives r the memory of the largest worker not offline:
// sbatch's --mem=0, "all the memory of the node", on a queue whose job may
// go to any worker.
func wholeNodeMemory(ctx context.Context, s *cli.Session, r *apitype.SubmitRequest) error {
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("--mem=0 (all of a node's memory): %w", err)
	}
	most := 0
	for _, w := range nodes.Workers {
		if w.Status != string(rcq.WorkerOffline) {
			most = max(most, w.MemoryGB)
		}
	}
	if most == 0 {
		return errors.New("--mem=0 (all of a node's memory): no worker is online to take the size of")
	}
	r.MemoryGB = &most
	return nil
}

// fieldOptions names the rcq-submit option behind each job field rcqd
// checks.
var fieldOptions = map[string]string{
	"cpu_cores": "--cpus-per-task", "memory_gb": "--mem", "gpu_count": "--gpus", "estimated_hours": "--time",
	"priority": "--priority", "name": "--job-name", "working_dir": "--chdir", "output": "--output",
	"error": "--error", "dependencies": "--dependency", "env": "--export", "script": "the script",
	"args": "the script's arguments", "array": "--array",
}

// asOptionError turns rcqd's refusal of a field (400 invalid_<field>) into a
// usage error (exit 2) naming the option that set it, as the checks made
// before sending do: rcqd knows limits the command does not (its maximum
// time limit, path and name lengths).
func asOptionError(err error) error {
	var e *rcq.Error
	if !errors.As(err, &e) || e.Kind != rcq.KindInvalid {
		return err
	}
	field, _ := strings.CutPrefix(e.Code, "invalid_")
	opt, ok := fieldOptions[field]
	if !ok {
		return err
	}
	return cli.Usagef("%s: %s", opt, strings.TrimPrefix(e.Msg, field+": "))
}

// inputVariables is the help's paragraph listing the input variables of
// every option, rcq's first, then Slurm's, wrapped like the rest.
func inputVariables() string {
	var ours, slurm []string
	for _, o := range options {
		for _, v := range o.env {
			if strings.HasPrefix(v, "SBATCH_") {
				slurm = append(slurm, v)
			} else {
				ours = append(ours, v)
			}
		}
	}
	text := "Input variables: " + strings.Join(ours, ", ") + ", and Slurm's " + strings.Join(slurm, ", ") +
		" (an RCQ_ variable wins over its SBATCH_ twin)."
	var b strings.Builder
	line := 0
	for _, w := range strings.Fields(text) {
		if line > 0 && line+1+len(w) > 76 {
			b.WriteByte('\n')
			line = 0
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// NewCmd builds rcq-submit. runF, when not nil, replaces the run: flag
// parsing tests stop there and inspect the options.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return newCmd(f, runF, false)
}

func newCmd(f *cli.Factory, runF func(*Options) error, slurm bool) *cobra.Command {
	opts := &Options{F: f, Slurm: slurm}
	cmd := &cobra.Command{
		Use:     "rcq-submit [flags] [script [args...]]",
		Short:   "Submit a batch job to rcq (like sbatch)",
		Long:    fmt.Sprintf(long, inputVariables()),
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.CmdLine = map[string]string{}
			for k, v := range fromFlags(cmd.Flags()) {
				opts.CmdLine[k] = v.value
			}
			if runF != nil {
				return runF(opts)
			}
			return submitRun(cmd.Context(), opts)
		},
	}
	// Everything after the script belongs to the script.
	cmd.Flags().SetInterspersed(false)
	addFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("dependency", cli.CompleteDependency)
	_ = cmd.MarkFlagDirname("chdir")
	for _, name := range []string{"job-name", "cpus-per-task", "mem", "mem-per-cpu", "gpus", "gres", "time", "priority", "export", "wrap", "array"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// Plan is a submit ready to send: the request and what to do afterwards.
type Plan struct {
	Request  apitype.SubmitRequest
	Hold     bool
	Parsable bool
	Wait     bool
	TestOnly bool
	// WholeNodeMemory is --mem=0: as sbatch, all the memory of a node; rcq
	// asks for the largest worker's memory when it sends the job.
	WholeNodeMemory bool
	JSON            bool
	// Account is sbatch's --account: it must name the caller's group.
	Account       string
	accountSource string
	// Slurm is set under sbatch: Slurm's refusals instead of warnings.
	Slurm bool
}

// Prepare reads the script and every source of options into a Plan, without
// talking to rcqd. Warnings go through f.Warnf.
func Prepare(opts *Options) (*Plan, error) {
	f := opts.F
	cmdline := settings{}
	for k, v := range opts.CmdLine {
		cmdline[k] = setting{value: v, source: "--" + k}
	}
	wrap, hasWrap := cmdline.get("wrap")
	var (
		script, name string
		args         []string
		dirs         []Directive
	)
	switch {
	case hasWrap && len(opts.Args) > 0:
		return nil, cli.Usagef("--wrap and a script file together: give one or the other")
	case hasWrap:
		script = "#!/bin/sh\n" + wrap + "\n"
		name = "wrap"
	case len(opts.Args) > 0:
		b, err := os.ReadFile(opts.Args[0])
		if err != nil {
			return nil, fmt.Errorf("read script: %w", err)
		}
		script, name, args = string(b), filepath.Base(opts.Args[0]), opts.Args[1:]
	default:
		if f.IO.IsStdinTTY() {
			return nil, cli.Usagef("no script: give a script file, --wrap COMMAND, or a script on standard input")
		}
		b, err := io.ReadAll(f.IO.In)
		if err != nil {
			return nil, fmt.Errorf("read script from standard input: %w", err)
		}
		script, name = string(b), "stdin"
	}
	if strings.TrimSpace(script) == "" || hasWrap && strings.TrimSpace(wrap) == "" {
		return nil, cli.Usagef("the script is empty: nothing to run")
	}
	if !hasWrap {
		var err error
		if dirs, err = ParseDirectives(script); err != nil {
			return nil, &cli.UsageError{Err: err}
		}
	}
	fromDirs, err := fromDirectives(dirs, func(msg string) { f.Warnf("%s", msg) })
	if err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	all := fromDirs.merge(fromEnv(f.Getenv)).merge(cmdline)

	p := &Plan{Slurm: opts.Slurm}
	if p, err = build(f, all, p); err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	r := &p.Request
	r.Script, r.Args = script, args
	if r.Name == "" {
		r.Name = name
	}
	return p, nil
}

// build turns the merged settings into the request. Errors name the option
// (and the directive line or variable) and the accepted form.
func build(f *cli.Factory, s settings, p *Plan) (*Plan, error) {
	r := &p.Request
	var err error
	for name, dst := range map[string]*bool{"hold": &p.Hold, "parsable": &p.Parsable, "wait": &p.Wait, "test-only": &p.TestOnly, "json": &p.JSON} {
		if *dst, err = s.boolOf(name); err != nil {
			return nil, err
		}
	}
	r.Hold = p.Hold
	if p.JSON && p.Parsable {
		return nil, fmt.Errorf("--json and --parsable together: choose one output")
	}
	if p.TestOnly && p.Wait {
		return nil, fmt.Errorf("--test-only and --wait together: a test submits nothing to wait for")
	}
	if v, ok := s["job-name"]; ok {
		r.Name = v.value
	}
	if v, ok := s["cpus-per-task"]; ok {
		n, err := strconv.Atoi(v.value)
		if r := rcq.DefaultLimits.CPUCoresRange(); err != nil || !r.Contains(n) {
			return nil, fmt.Errorf("%s: %q is not a number of CPU cores: use %s", v.source, v.value, r)
		}
		r.CPUCores = &n
	}
	if err := applySlurm(f, s, p); err != nil {
		return nil, err
	}
	if v, ok := s["mem"]; ok {
		if w, both := s["mem-per-cpu"]; both {
			return nil, fmt.Errorf("%s and %s together: give the job's memory (--mem) or memory per CPU core (--mem-per-cpu), not both", v.source, w.source)
		}
		gb, err := ParseMem(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.source, err)
		}
		r.MemoryGB = &gb
		p.WholeNodeMemory = gb == 0
	}
	if v, ok := s["mem-per-cpu"]; ok {
		cores := 1
		if r.CPUCores != nil {
			cores = *r.CPUCores
		}
		gb, err := ParseMemPer(v.value, cores)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.source, err)
		}
		r.MemoryGB = &gb
	}
	gpuSetting, ok := s["gpus"]
	if ok {
		n, typ, err := ParseGPUs(gpuSetting.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", gpuSetting.source, err)
		}
		if typ != "" {
			f.Warnf("%s: GPU type %q is ignored: rcq gives any free GPU", gpuSetting.source, typ)
		}
		r.GPUCount = &n
	}
	if v, ok := s["gres"]; ok {
		n, typ, ignored, err := ParseGres(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.source, err)
		}
		for _, g := range ignored {
			f.Warnf("%s: generic resource %q is not supported by rcq and is ignored", v.source, g)
		}
		if r.GPUCount == nil && n > 0 {
			if typ != "" {
				f.Warnf("%s: GPU type %q is ignored: rcq gives any free GPU", v.source, typ)
			}
			r.GPUCount = &n
		}
	}
	if v, ok := s["time"]; ok {
		d, err := ParseTime(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.source, err)
		}
		if d == 0 {
			// No limit (0, UNLIMITED, INFINITE): ask for the most rcqd
			// allows, which only rcqd knows.
			r.TimeLimit, r.EstimatedHours = rcq.Unlimited, nil
		} else {
			h := d.Hours()
			r.EstimatedHours, r.TimeLimit = &h, ""
		}
	}
	if v, ok := s["priority"]; ok {
		n, err := strconv.Atoi(v.value)
		if err != nil || !rcq.PriorityRange.Contains(n) {
			return nil, fmt.Errorf("%s: %q is not a priority: use %s", v.source, v.value, rcq.PriorityRange)
		}
		r.Priority = &n
	}
	if v, ok := s["output"]; ok {
		r.Output = v.value
	}
	if v, ok := s["error"]; ok {
		r.Error = v.value
	}
	cwd, err := f.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the current directory: %w", err)
	}
	r.WorkingDir = cwd
	if v, ok := s["chdir"]; ok {
		if v.value == "" {
			return nil, fmt.Errorf("%s: give a directory", v.source)
		}
		dir := v.value
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		r.WorkingDir = filepath.Clean(dir)
	}
	export, _ := s.get("export")
	env, err := BuildEnv(export, f.Environ())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s["export"].source, err)
	}
	r.Env = env
	r.Umask = processUmask().String()
	if v, ok := s["array"]; ok {
		// rcqd holds the limit on elements (jobs.max_array_size); the
		// form is checked here.
		spec, err := rcq.ParseArraySpec(v.value, rcq.MaxArrayIndex+1)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "array ")
			if !strings.Contains(msg, rcq.ArrayForm) {
				msg += ": use " + rcq.ArrayForm
			}
			return nil, fmt.Errorf("%s: %s", v.source, msg)
		}
		r.Array = spec.String()
	}
	if v, ok := s["dependency"]; ok {
		deps, err := rcq.ParseDependencies(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", v.source, strings.TrimPrefix(rcq.MessageOf(err), "dependency: "))
		}
		for _, d := range deps {
			r.Dependencies = append(r.Dependencies, apitype.Dependency{Type: string(d.Type), JobID: int64(d.JobID), ArrayTaskID: d.ArrayTaskID})
		}
	}
	return p, nil
}

func submitRun(ctx context.Context, opts *Options) error {
	f := opts.F
	p, err := Prepare(opts)
	if err != nil {
		return err
	}
	s, err := f.Client()
	if err != nil {
		return err
	}
	if p.Account != "" {
		if err := checkAccount(ctx, f, s, p); err != nil {
			return err
		}
	}
	if p.WholeNodeMemory {
		if err := wholeNodeMemory(ctx, s, &p.Request); err != nil {
			return err
		}
	}
	// A fresh key per invocation: should the request be retried after a lost
	// answer, rcqd returns the job it already made instead of a second one.
	resp, err := s.Submit(ctx, p.Request, client.SubmitOptions{TestOnly: p.TestOnly, IdempotencyKey: newKey()})
	if err != nil {
		return asOptionError(err)
	}
	out := f.IO.Out
	if p.TestOnly {
		if p.JSON {
			return cli.PrintJSON(out, resp)
		}
		switch {
		case resp.ExpectedStart != nil:
			f.Errorf("Job would start at %s", resp.ExpectedStart.Local().Format("2006-01-02T15:04:05"))
		case resp.Reason != "":
			f.Errorf("Job would wait (%s): %s", resp.Reason, resp.ReasonDetail)
		default:
			f.Errorf("Job is valid; rcqd cannot tell yet when it would start")
		}
		return nil
	}
	switch {
	case p.JSON && !p.Wait:
		return cli.PrintJSON(out, resp)
	case p.JSON:
	case p.Parsable:
		fmt.Fprintf(out, "%d\n", resp.JobID)
	default:
		fmt.Fprintf(out, "Submitted batch job %d\n", resp.JobID)
	}
	if !p.Wait {
		return nil
	}
	if p.Request.Array != "" {
		return waitArray(ctx, opts, s, resp, p.JSON)
	}
	job, err := cli.WaitJob(ctx, s.Client, resp.JobID, opts.PollInterval, opts.MaxPollInterval, cli.Ended)
	if err != nil {
		return err
	}
	if p.JSON {
		if err := cli.PrintJSON(out, job); err != nil {
			return err
		}
	}
	code := cli.ExitCodeOf(job)
	if code != 0 {
		f.Errorf("%s", cli.DescribeEnd(job))
	}
	return &cli.ExitError{Code: code}
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "rcq-submit-" + hex.EncodeToString(b[:])
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }
