package plan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
	"github.com/rcq-project/rcq/internal/rcq"
)

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
	AccountSource string // where --account came from, for messages
	// Slurm is set under sbatch: Slurm's refusals instead of warnings.
	Slurm bool
}

// Input is what Prepare reads: the command line and the process's
// environment, working directory and standard input.
type Input struct {
	// Args is the script and its arguments (empty: --wrap or standard input).
	Args []string
	// CmdLine holds the options given on the command line, by long name.
	CmdLine map[string]string
	// Slurm is set by sbatch: what Slurm refuses is refused (exit 1, Slurm's
	// words) instead of warned about.
	Slurm bool

	Getenv   func(string) string
	Environ  func() []string
	Getwd    func() (string, error)
	Stdin    io.Reader
	StdinTTY func() bool
	// Warnf reports one warning line (the program's name is added by it).
	Warnf func(format string, args ...any)
	// ReadFile reads the script file Args names (nil: os.ReadFile). rcqd's
	// POST /api/jobs/command gives the request's script here: it opens no
	// path a caller names.
	ReadFile func(name string) ([]byte, error)
	// Umask is the mask the job runs with (nil: this process's).
	Umask func() rcq.Umask
}

// Prepare reads the script and every source of options into a Plan, without
// talking to rcqd. Warnings go through in.Warnf.
func Prepare(in *Input) (*Plan, error) {
	opts := in
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
		return nil, exitcode.Usagef("--wrap and a script file together: give one or the other")
	case hasWrap:
		script = "#!/bin/sh\n" + wrap + "\n"
		name = "wrap"
	case len(opts.Args) > 0:
		readFile := os.ReadFile
		if in.ReadFile != nil {
			readFile = in.ReadFile
		}
		b, err := readFile(opts.Args[0])
		if err != nil {
			return nil, fmt.Errorf("read script: %w", err)
		}
		script, name, args = string(b), filepath.Base(opts.Args[0]), opts.Args[1:]
	default:
		if in.StdinTTY() {
			return nil, exitcode.Usagef("no script: give a script file, --wrap COMMAND, or a script on standard input")
		}
		b, err := io.ReadAll(in.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read script from standard input: %w", err)
		}
		script, name = string(b), "stdin"
	}
	if strings.TrimSpace(script) == "" || hasWrap && strings.TrimSpace(wrap) == "" {
		return nil, exitcode.Usagef("the script is empty: nothing to run")
	}
	if !hasWrap {
		var err error
		if dirs, err = ParseDirectives(script); err != nil {
			return nil, &exitcode.UsageError{Err: err}
		}
	}
	fromDirs, err := fromDirectives(dirs, func(msg string) { in.Warnf("%s", msg) })
	if err != nil {
		return nil, &exitcode.UsageError{Err: err}
	}
	all := fromDirs.merge(fromEnv(in.Getenv)).merge(cmdline)

	p := &Plan{Slurm: opts.Slurm}
	if p, err = build(in, all, p); err != nil {
		return nil, &exitcode.UsageError{Err: err}
	}
	r := &p.Request
	r.Script, r.Args = script, args
	if r.Name == "" {
		r.Name = name
	}
	return p, nil
}

// requeueOf reads --requeue and --no-requeue: nil when neither is given
// (rcqd's default). Both given, the stronger source wins (the command line
// over variables over directives, as every option); both from sources of
// one rank is an error.
func requeueOf(s settings) (*bool, error) {
	yes, err := s.boolOf("requeue")
	if err != nil {
		return nil, err
	}
	no, err := s.boolOf("no-requeue")
	if err != nil {
		return nil, err
	}
	switch {
	case yes && no:
		ry, rn := sourceRank(s["requeue"].source), sourceRank(s["no-requeue"].source)
		if ry == rn {
			return nil, fmt.Errorf("%s and %s together: choose one", s["requeue"].source, s["no-requeue"].source)
		}
		v := ry > rn
		return &v, nil
	case yes:
		v := true
		return &v, nil
	case no:
		v := false
		return &v, nil
	}
	return nil, nil
}

// sourceRank orders where a setting came from by precedence: the command
// line (--x) over input variables over directive lines (#SBATCH, #RCQ).
func sourceRank(source string) int {
	switch {
	case strings.HasPrefix(source, "--"):
		return 2
	case strings.HasPrefix(source, "#"):
		return 0
	}
	return 1
}

// build turns the merged settings into the request. Errors name the option
// (and the directive line or variable) and the accepted form.
func build(in *Input, s settings, p *Plan) (*Plan, error) {
	r := &p.Request
	var err error
	for name, dst := range map[string]*bool{"hold": &p.Hold, "parsable": &p.Parsable, "wait": &p.Wait, "test-only": &p.TestOnly, "json": &p.JSON} {
		if *dst, err = s.boolOf(name); err != nil {
			return nil, err
		}
	}
	r.Hold = p.Hold
	if r.Requeue, err = requeueOf(s); err != nil {
		return nil, err
	}
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
	if err := applySlurm(in, s, p); err != nil {
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
			in.Warnf("%s: GPU type %q is ignored: rcq gives any free GPU", gpuSetting.source, typ)
		}
		r.GPUCount = &n
	}
	if v, ok := s["gres"]; ok {
		n, typ, ignored, err := ParseGres(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.source, err)
		}
		for _, g := range ignored {
			in.Warnf("%s: generic resource %q is not supported by rcq and is ignored", v.source, g)
		}
		if r.GPUCount == nil && n > 0 {
			if typ != "" {
				in.Warnf("%s: GPU type %q is ignored: rcq gives any free GPU", v.source, typ)
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
	cwd, err := in.Getwd()
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
	env, err := BuildEnv(export, in.Environ())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s["export"].source, err)
	}
	r.Env = env
	umask := processUmask
	if in.Umask != nil {
		umask = in.Umask
	}
	r.Umask = umask().String()
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

// fieldOptions names the rcq-submit option behind each job field rcqd
// checks.
var fieldOptions = map[string]string{
	"cpu_cores": "--cpus-per-task", "memory_gb": "--mem", "gpu_count": "--gpus", "estimated_hours": "--time",
	"priority": "--priority", "name": "--job-name", "working_dir": "--chdir", "output": "--output",
	"error": "--error", "dependencies": "--dependency", "env": "--export", "script": "the script",
	"args": "the script's arguments", "array": "--array",
}

// AsOptionError turns rcqd's refusal of a field (400 invalid_<field>) into a
// usage error (exit 2) naming the option that set it, as the checks made
// before sending do: rcqd knows limits the command does not (its maximum
// time limit, path and name lengths).
func AsOptionError(err error) error {
	var e *rcq.Error
	if !errors.As(err, &e) || e.Kind != rcq.KindInvalid {
		return err
	}
	field, _ := strings.CutPrefix(e.Code, "invalid_")
	opt, ok := fieldOptions[field]
	if !ok {
		return err
	}
	return exitcode.Usagef("%s: %s", opt, strings.TrimPrefix(e.Msg, field+": "))
}

// InputVariables is the help's paragraph listing the input variables of
// every option, rcq's first, then Slurm's, wrapped like the rest.
func InputVariables() string {
	var ours, slurm []string
	for _, o := range argv.All() {
		for _, v := range o.Env {
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
