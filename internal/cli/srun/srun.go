// Package srun is rcq's srun: inside an rcq job it runs a command as a job
// step of N tasks on this node, in the job's allocation, with Slurm's task
// variables (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS, SLURM_STEP_ID...).
// Outside an rcq job it refuses, so it never stands in for a real Slurm.
package srun

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Options is what the command line gave srun.
type Options struct {
	F *cli.Factory

	NTasks        int
	CPUsPerTask   int // 0: not given
	CPUBind       string
	Output        string
	Error         string
	Input         string
	Export        string
	JobName       string
	Chdir         string
	OpenMode      string
	Label         bool
	KillOnBadExit int
	Overcommit    bool
	Argv          []string // the command and its arguments
}

const long = `Run a command as a job step inside an rcq job, like Slurm's srun.

srun starts --ntasks copies of the command on this node, in the job's
allocation (its cores, memory limit and GPUs), and waits for them. Each task
sees SLURM_PROCID and SLURM_LOCALID (0 to N-1), SLURM_NTASKS, SLURM_STEP_ID
(0 for the job's first step, then 1, 2...), SLURM_NODEID=0 and the job's
variables. srun exits with the highest exit code of its tasks (128+N for a
task killed by signal N), and forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1, SIGUSR2 and SIGCONT to them.

-o/-e/-i take Slurm's step filename patterns: %t task id, %j job id,
%J job.step, %s step id, %n node id, %N node name, %x job name, %u user,
%A/%a array job id and index, %% a literal %, and a width (%3t -> 007).
Tasks whose patterns expand to the same file share it. "none" discards.

Slurm options that make no difference on one node (--mem, --time,
--partition, --exclusive, --distribution...) are accepted with one warning
each and ignored. Options that would change what runs are refused with
exit status 2: --pty, --x11, -N/--nodes 2 or more, --multi-prog,
--het-group, --begin, --dependency, --hold, --test-only, an MPI plugin
other than none, another job's --jobid, another node's --nodelist.

Outside an rcq job (RCQ_JOB_ID is not set) srun refuses with exit status 2:
it is put first on the PATH of rcq jobs only, so that scripts written for
Slurm run their steps in rcq; use Slurm's own srun elsewhere.

Exit status: the highest exit code of the tasks; 1 when the step could not
be created (more CPUs than the job has); 2 for a usage error or outside an
rcq job.`

const example = `  srun hostname
  srun -n 4 ./simulate --seed "$SLURM_PROCID"
  srun -n 8 -c 2 --cpu-bind=none -o 'out-%j-%t.txt' ./worker
  srun -n1 --cpu-bind=q snakemake ...`

// ignored are srun options that change nothing that matters on one node:
// each is accepted, warned about once and ignored. true: takes a value.
var ignored = map[string]bool{
	"mem": true, "mem-per-cpu": true, "mem-per-gpu": true, "gpus": true, "gpus-per-task": true,
	"gpus-per-node": true, "gpus-per-socket": true, "cpus-per-gpu": true, "gres": true, "gres-flags": true,
	"time": true, "time-min": true, "partition": true, "account": true, "qos": true, "comment": true,
	"constraint": true, "distribution": true, "hint": true, "ntasks-per-node": true, "ntasks-per-core": true,
	"ntasks-per-socket": true, "ntasks-per-gpu": true, "threads-per-core": true, "cores-per-socket": true,
	"sockets-per-node": true, "extra-node-info": true, "cpu-freq": true, "mem-bind": true, "gpu-bind": true,
	"accel-bind": true, "network": true, "signal": true, "wait": true, "wckey": true, "reservation": true,
	"prolog": true, "epilog": true, "task-prolog": true, "task-epilog": true, "tmp": true, "exclude": true,
	"switches": true, "profile": true, "acctg-freq": true, "licenses": true, "mail-type": true,
	"mail-user": true, "nice": true, "priority": true, "mincpus": true, "slurmd-debug": true, "bcast": true,
	"threads": true, "cluster": true, "clusters": true, "chdir-mode": true, "uid": true, "gid": true,
	"exclusive": false, "overlap": false, "exact": false, "whole": false, "no-kill": false,
	"spread-job": false, "contiguous": false, "use-min-nodes": false, "preserve-env": false,
	"oversubscribe": false, "no-allocate": false, "disable-status": false, "verbose": false,
	"quiet": false, "unbuffered": false, "propagate": false, "immediate": false, "resv-ports": false,
	"send-libs": false, "kill-on-invalid-dep": false,
}

// quietly are ignored options that need no warning: they describe what
// rcq's srun does anyway (unbuffered output, no status, verbosity).
var quietly = map[string]bool{"unbuffered": true, "disable-status": true, "verbose": true, "quiet": true}

// shorts are the one-letter names of ignored options.
var shorts = map[string]string{
	"time": "t", "partition": "p", "account": "A", "qos": "q", "constraint": "C", "distribution": "m",
	"wait": "W", "exclude": "x", "extra-node-info": "B", "gpus": "G", "threads": "T", "cluster": "M",
	"no-kill": "k", "preserve-env": "E", "oversubscribe": "s", "no-allocate": "Z", "disable-status": "X",
	"verbose": "v", "quiet": "Q", "unbuffered": "u", "immediate": "I",
}

// optionalValue are ignored options whose value may be left out.
var optionalValue = map[string]bool{"propagate": true, "immediate": true, "resv-ports": true, "send-libs": true}

// refused are srun options that would change what runs: exit status 2.
var refused = map[string]string{
	"pty":        "rcq runs no interactive steps",
	"x11":        "rcq forwards no X11",
	"multi-prog": "rcq's srun runs one command in every task",
	"het-group":  "rcq has no heterogeneous jobs",
	"begin":      "a step starts now, inside its job",
	"dependency": "a step starts now, inside its job",
	"hold":       "a step starts now, inside its job",
	"test-only":  "rcq's srun always runs the step",
	"container":  "rcq runs no containers",
}

// NewCmd builds srun. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f, NTasks: 1}
	var nodes, jobID, mpi, nodelist string
	var ignoredVals = map[string]*string{}
	var ignoredBools = map[string]*bool{}
	var refusedVals = map[string]*string{}
	cmd := &cobra.Command{
		Use:     "srun [flags] command [args...]",
		Short:   "Run a job step inside an rcq job (Slurm's srun)",
		Long:    long,
		Example: example,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("no command given: srun [options] command [args...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Argv = args
			fl := cmd.Flags()
			for name, why := range refused {
				if fl.Changed(name) {
					return cli.Usagef("--%s is not supported: %s", name, why)
				}
			}
			if fl.Changed("nodes") {
				if err := checkNodes(nodes); err != nil {
					return err
				}
			}
			if fl.Changed("mpi") && mpi != "none" {
				return cli.Usagef("--mpi=%s is not supported: rcq starts no MPI process manager; use --mpi=none, or mpirun inside the job", mpi)
			}
			if !fl.Changed("ntasks") {
				opts.NTasks = 1
				if n, err := strconv.Atoi(f.Getenv("SLURM_NTASKS")); err == nil && n > 0 {
					opts.NTasks = n
				}
			}
			if opts.NTasks < 1 {
				return cli.Usagef("--ntasks: give a number of tasks of 1 or more")
			}
			if !fl.Changed("cpus-per-task") {
				if c, err := strconv.Atoi(f.Getenv("SRUN_CPUS_PER_TASK")); err == nil && c > 0 {
					opts.CPUsPerTask = c
				}
			} else if opts.CPUsPerTask < 1 {
				return cli.Usagef("--cpus-per-task: give a number of CPUs of 1 or more")
			}
			if opts.OpenMode != "" && opts.OpenMode != "append" && opts.OpenMode != "truncate" {
				return cli.Usagef("--open-mode: use append or truncate")
			}
			if opts.KillOnBadExit != 0 && opts.KillOnBadExit != 1 {
				return cli.Usagef("--kill-on-bad-exit: use 0 or 1")
			}
			if err := checkExport(opts.Export); err != nil {
				return err
			}
			// Inside a job from here on: a job step belongs to a job.
			job := f.Getenv("RCQ_JOB_ID")
			if job == "" {
				return cli.Usagef("not inside an rcq job (RCQ_JOB_ID is not set): rcq's srun runs job steps only in the rcq job it is called from; outside rcq, use Slurm's own srun")
			}
			if fl.Changed("jobid") && jobID != job {
				return cli.Usagef("--jobid %s: rcq's srun runs steps only in its own job, %s", jobID, job)
			}
			if fl.Changed("nodelist") && !onlyNode(nodelist, nodeName(f)) {
				return cli.Usagef("--nodelist %s: this job runs on %s only", nodelist, nodeName(f))
			}
			warned := map[string]bool{}
			fl.Visit(func(fl *pflag.Flag) {
				if _, ok := ignored[fl.Name]; ok && !quietly[fl.Name] && !warned[fl.Name] {
					warned[fl.Name] = true
					fmt.Fprintf(f.IO.ErrOut, "srun: warning: --%s is not supported by rcq's srun and is ignored\n", fl.Name)
				}
			})
			if opts.CPUBind != "" && !bindQuiet(opts.CPUBind) {
				fmt.Fprintf(f.IO.ErrOut, "srun: warning: --cpu-bind=%s is not supported by rcq's srun and is ignored: the tasks share the job's CPUs\n", opts.CPUBind)
			}
			if runF != nil {
				return runF(opts)
			}
			return srunRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false) // the first argument that is not an option is the command
	fl.IntVarP(&opts.NTasks, "ntasks", "n", 0, "run `N` tasks (default: $SLURM_NTASKS, else 1)")
	fl.IntVarP(&opts.CPUsPerTask, "cpus-per-task", "c", 0, "`N` CPUs for each task: N x --ntasks must fit in the job's CPUs")
	fl.StringVar(&opts.CPUBind, "cpu-bind", "", "`TYPE`: none, quiet or verbose (the tasks share the job's CPUs); other types warn and are ignored")
	fl.StringVarP(&opts.Output, "output", "o", "", "write the tasks' stdout to files named by `PATTERN` (%t task, %j job, %J job.step...), none, or a task number")
	fl.StringVarP(&opts.Error, "error", "e", "", "write the tasks' stderr to files named by `PATTERN` (default: where --output goes)")
	fl.StringVarP(&opts.Input, "input", "i", "", "`MODE`: all (each task reads srun's stdin), none, a task number, or a file PATTERN")
	fl.StringVar(&opts.Export, "export", "", "`VARS`: ALL (default), NONE (only SLURM_* and RCQ_*), or NAME[=VALUE] list, with ALL, to add")
	fl.StringVarP(&opts.JobName, "job-name", "J", "", "name the step `NAME` (the %x of patterns)")
	fl.StringVarP(&opts.Chdir, "chdir", "D", "", "run the tasks in `DIR`")
	fl.StringVar(&opts.OpenMode, "open-mode", "", "`MODE` of output files: truncate (default) or append")
	fl.BoolVarP(&opts.Label, "label", "l", false, "prefix each output line with its task id (\"2: \")")
	fl.IntVarP(&opts.KillOnBadExit, "kill-on-bad-exit", "K", 0, "kill the other tasks when one exits non-zero (=0: do not)")
	fl.Lookup("kill-on-bad-exit").NoOptDefVal = "1"
	fl.BoolVarP(&opts.Overcommit, "overcommit", "O", false, "allow more tasks x CPUs than the job has")
	fl.StringVarP(&nodes, "nodes", "N", "", "`N`: 1 (rcq runs a step on the job's one node)")
	fl.StringVar(&jobID, "jobid", "", "`ID` of the job: only the job srun runs in")
	fl.StringVar(&mpi, "mpi", "", "`TYPE`: none only")
	fl.StringVarP(&nodelist, "nodelist", "w", "", "`NODE`: only the job's node")
	for name, takes := range ignored {
		short := shorts[name]
		usage := "accepted and ignored (one warning)"
		if quietly[name] {
			usage = "accepted: rcq's srun does this anyway"
		}
		if takes {
			v := new(string)
			ignoredVals[name] = v
			fl.StringVarP(v, name, short, "", usage)
		} else if optionalValue[name] {
			v := new(string)
			ignoredVals[name] = v
			fl.StringVarP(v, name, short, "", usage)
			fl.Lookup(name).NoOptDefVal = " "
		} else {
			b := new(bool)
			ignoredBools[name] = b
			fl.BoolVarP(b, name, short, false, usage)
		}
		fl.Lookup(name).Hidden = !quietly[name]
	}
	for name := range refused {
		v := new(string)
		refusedVals[name] = v
		fl.StringVar(v, name, "", "refused: exit status 2")
		fl.Lookup(name).Hidden = true
		if name == "pty" || name == "x11" || name == "hold" || name == "test-only" || name == "multi-prog" {
			fl.Lookup(name).NoOptDefVal = " "
		}
	}
	fl.Lookup("begin").Shorthand = "b"
	fl.Lookup("dependency").Shorthand = "d"
	fl.Lookup("hold").Shorthand = "H"
	return cmd
}

// NewRootCmd builds the srun program.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

// checkNodes accepts a node count or range whose minimum is 1.
func checkNodes(s string) error {
	lo, _, _ := strings.Cut(s, "-")
	n, err := strconv.Atoi(lo)
	if err != nil || n < 1 {
		return cli.Usagef("--nodes %q: give a node count, 1 on rcq", s)
	}
	if n > 1 {
		return cli.Usagef("--nodes %s: rcq runs a job step on the job's one node; use -N 1", s)
	}
	return nil
}

// onlyNode reports whether the node list names node alone (or is empty).
func onlyNode(list, node string) bool {
	for n := range strings.SplitSeq(list, ",") {
		if n = strings.TrimSpace(n); n != "" && n != node && n != shortHost(node) {
			return false
		}
	}
	return true
}

// bindQuiet reports whether a --cpu-bind value asks for nothing but what rcq
// does: no binding, with or without reporting it.
func bindQuiet(s string) bool {
	for w := range strings.SplitSeq(s, ",") {
		switch w {
		case "none", "no", "q", "quiet", "v", "verbose":
		default:
			return false
		}
	}
	return true
}

// checkExport validates --export: ALL, NONE, or a list of NAME or NAME=VALUE
// items, optionally with ALL or NONE first.
func checkExport(s string) error {
	if s == "" {
		return nil
	}
	for i, item := range splitExport(s) {
		if (item == "ALL" || item == "NONE") && i == 0 {
			continue
		}
		name, _, _ := strings.Cut(item, "=")
		if !validName(name) {
			return cli.Usagef("--export: %q is not a variable name: use ALL, NONE or NAME[=VALUE],...", item)
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// splitExport splits an --export list at commas that start a new NAME or
// NAME=VALUE item, so a value may itself hold commas (A=1,2,B=3).
func splitExport(s string) []string {
	parts := strings.Split(s, ",")
	var out []string
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if len(out) > 0 && !validName(name) {
			out[len(out)-1] += "," + p
			continue
		}
		out = append(out, p)
	}
	return out
}
