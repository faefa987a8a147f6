// Package show is rcq-show, the counterpart of "scontrol show job": every
// field of a job as Slurm-style Key=Value lines, or the API's job as JSON.
package show

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-show.
type Options struct {
	F *cli.Factory

	JobIDs []int64
	// Refs are the jobs in the order named, array elements (123_4) too;
	// JobIDs those that are plain ids. Nil: JobIDs.
	Refs []rcq.JobRef
	JSON bool
}

const long = `Show jobs in full, like "scontrol show job".

Each job is printed as Key=Value lines with Slurm's names: JobId, JobName,
UserId, GroupId, Priority (and for a pending job its rank and the factors
of its final priority: Base, FairShare, WaitBoost), JobState, Reason and
ReasonDetail (the numbers behind the reason), Dependency (each with the
state of the job it waits on), ExitCode (code:signal), RunTime, TimeLimit,
SubmitTime, StartTime (expected, for a pending job the scheduler can place),
EndTime, NodeList, NumCPUs, TRES, MinMemoryNode, GRES (GPU indices),
TotalCPU (user+system CPU time), MaxRSS (peak memory), WorkDir, StdErr,
StdIn, StdOut and Umask. Several jobs are separated by a blank line.
"rcq-show job 42" is accepted too, as scontrol's habit.

An array element (123_4, or several: 123_[1-3]) shows ArrayJobId and
ArrayTaskId on its first line; an array's id shows every element, those
not yet started as one job with their indices (ArrayTaskId=4-99) and
ArrayTaskThrottle.

--json prints the API's job object (GET /api/jobs/{id}); several jobs are
{"jobs": [...]}.

A job that is not yours is reported like a missing one: "job N not found",
exit code 1 (admins see every job).

` + cli.ExitStatusHelp

const example = `  rcq-show 42
  rcq-show job 42
  rcq-show 42 43
  rcq-show 123_4
  rcq-show --json 42 | jq .exit_code`

// NewCmd builds rcq-show. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:               "rcq-show [flags] [job] ID...",
		Short:             "Show jobs in full (like scontrol show job)",
		Long:              long,
		Example:           example,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: cli.CompleteJobIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && strings.EqualFold(args[0], "job") {
				args = args[1:]
			}
			refs, err := cli.ParseJobRefs(args)
			if err != nil {
				return err
			}
			if len(refs) == 0 {
				return cli.Usagef("no job given: name a job id, e.g. rcq-show 42")
			}
			opts.JobIDs, _ = cli.SplitRefs(refs)
			opts.Refs = refs
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the API's job object as JSON")
	return cmd
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

func showRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	var jobs []*apitype.Job
	failed := false
	names := targets(opts)
	for _, id := range names {
		j, err := s.JobRef(ctx, id) // one request per job: the job, its plan and its dependencies' states
		if err == nil && j.ArrayJobID != nil && *j.ArrayJobID == j.ID && !strings.Contains(id, "_") {
			// An array's id: every element, as scontrol shows it.
			var list *apitype.JobList
			if list, err = s.ArrayJobs(ctx, j.ID); err == nil && len(list.Jobs) > 0 {
				for i := range list.Jobs {
					jobs = append(jobs, &list.Jobs[i])
				}
				continue
			}
		}
		var conn *client.ConnError
		switch {
		case err == nil:
			jobs = append(jobs, j)
			continue
		case errors.As(err, &conn), errors.Is(err, rcq.ErrUnauthorized), ctx.Err() != nil:
			return err
		case errors.Is(err, rcq.ErrNotFound):
			if len(names) == 1 {
				return fmt.Errorf("job %s not found", id)
			}
			f.Errorf("job %s not found", id)
		default:
			if len(names) == 1 {
				return err
			}
			f.Errorf("%s", err)
		}
		failed = true
	}
	if opts.JSON {
		if len(names) == 1 && len(jobs) == 1 {
			if err := cli.PrintJSON(f.IO.Out, jobs[0]); err != nil {
				return err
			}
		} else {
			if jobs == nil {
				jobs = []*apitype.Job{}
			}
			if err := cli.PrintJSON(f.IO.Out, map[string]any{"jobs": jobs}); err != nil {
				return err
			}
		}
	} else {
		var b strings.Builder
		for i, j := range jobs {
			if i > 0 {
				b.WriteByte('\n')
			}
			Write(&b, j, f.Now())
		}
		if _, err := io.WriteString(f.IO.Out, b.String()); err != nil {
			return err
		}
	}
	if failed {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// targets are the jobs to ask rcqd for, in the order named: ids, and each
// element of an element list (123_[1-3] is 123_1, 123_2, 123_3).
func targets(opts *Options) []string {
	refs := opts.Refs
	if refs == nil {
		for _, id := range opts.JobIDs {
			refs = append(refs, rcq.JobRef{JobID: rcq.JobID(id)})
		}
	}
	var out []string
	for _, r := range refs {
		if r.Tasks == nil {
			out = append(out, r.String())
			continue
		}
		for _, i := range r.Tasks.Indices() {
			out = append(out, rcq.ArrayJobName(r.JobID, i, nil, 0))
		}
	}
	return out
}

// Write prints j as scontrol prints a job: a first line, then indented
// lines of Key=Value pairs. now is the clock for a running job's RunTime;
// times are shown in its location.
func Write(w io.StringWriter, j *apitype.Job, now time.Time) {
	stamp := func(t time.Time) string { return t.In(now.Location()).Format("2006-01-02T15:04:05") }
	line := func(kvs ...string) {
		var b strings.Builder
		b.WriteString("   ")
		for i := 0; i < len(kvs); i += 2 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(kvs[i])
			b.WriteByte('=')
			b.WriteString(kvs[i+1])
		}
		b.WriteByte('\n')
		_, _ = w.WriteString(b.String())
	}
	first := "JobId=" + itoa(j.ID)
	if j.ArrayJobID != nil {
		first += " ArrayJobId=" + itoa(*j.ArrayJobID)
		switch {
		case j.ArrayTaskID != nil:
			first += " ArrayTaskId=" + strconv.Itoa(*j.ArrayTaskID)
		case j.ArrayTasks != "":
			first += " ArrayTaskId=" + j.ArrayTasks
		}
		if j.ArrayThrottle > 0 {
			first += " ArrayTaskThrottle=" + strconv.Itoa(j.ArrayThrottle)
		}
	}
	_, _ = w.WriteString(first + " JobName=" + j.Name + "\n")
	line("UserId", fmt.Sprintf("%s(%d)", j.User, j.UserID), "GroupId", itoa(j.GroupID))
	prio := []string{"Priority", strconv.Itoa(j.Priority)}
	if j.Rank > 0 {
		prio = append(prio, "Rank", strconv.Itoa(j.Rank))
	}
	if p := j.Computed; p != nil {
		prio = append(prio, "FinalPriority", factor(p.Final), "Base", factor(p.Base),
			"FairShare", factor(p.FairShare), "WaitBoost", factor(p.WaitBoost))
	}
	line(prio...)
	line("JobState", strings.ToUpper(j.Status), "Reason", reason(j), "Dependency", dependencies(j.Dependencies))
	if j.ReasonDetail != "" {
		line("ReasonDetail", j.ReasonDetail)
	}
	if j.Hold != "" {
		line("Hold", j.Hold)
	}
	line("ExitCode", ExitCode(j.ExitCode, j.Signal))
	limit := int64(math.Round(j.EstimatedHours * 3600))
	line("RunTime", Duration(runTime(j, now)), "TimeLimit", Duration(limit))
	start, end := "Unknown", "Unknown"
	switch {
	case j.StartedAt != nil:
		start = stamp(*j.StartedAt)
		if j.CompletedAt != nil {
			end = stamp(*j.CompletedAt)
		} else {
			end = stamp(j.StartedAt.Add(time.Duration(limit) * time.Second)) // expected, at the limit
		}
	case j.ExpectedStart != nil:
		start = stamp(*j.ExpectedStart)
		end = stamp(j.ExpectedStart.Add(time.Duration(limit) * time.Second))
	case j.CompletedAt != nil:
		end = stamp(*j.CompletedAt)
	}
	line("SubmitTime", stamp(j.SubmittedAt), "StartTime", start, "EndTime", end)
	node := "(null)"
	if j.Worker != "" {
		node = j.Worker
	}
	line("NodeList", node, "BatchHost", node)
	line("NumNodes", "1", "NumCPUs", strconv.Itoa(j.CPUCores), "NumTasks", "1", "CPUs/Task", strconv.Itoa(j.CPUCores))
	tres := fmt.Sprintf("cpu=%d,mem=%dG,node=1", j.CPUCores, j.MemoryGB)
	if j.GPUCount > 0 {
		tres += fmt.Sprintf(",gres/gpu=%d", j.GPUCount)
	}
	line("TRES", tres)
	mem := []string{"MinMemoryNode", strconv.Itoa(j.MemoryGB) + "G"}
	if j.GPUCount > 0 {
		gres := fmt.Sprintf("gpu:%d", j.GPUCount)
		if len(j.GPUIndices) > 0 {
			idx := make([]string, len(j.GPUIndices))
			for i, g := range j.GPUIndices {
				idx[i] = strconv.Itoa(g)
			}
			gres += "(IDX:" + strings.Join(idx, ",") + ")"
		}
		mem = append(mem, "GRES", gres)
	}
	line(mem...)
	line("TotalCPU", Duration(int64(math.Round(j.CPUSeconds))), "MaxRSS", strconv.FormatInt(j.PeakMemoryKB, 10)+"K")
	line("WorkDir", orNull(j.WorkingDir))
	line("StdErr", orNull(j.ErrorPath))
	line("StdIn", "/dev/null")
	line("StdOut", orNull(j.OutputPath))
	if j.Umask != "" {
		line("Umask", j.Umask)
	}
}

// reason is the job's reason as scontrol shows it: None when there is none.
func reason(j *apitype.Job) string {
	if j.Reason == "" {
		return rcq.ReasonNone
	}
	return j.Reason
}

// dependencies is Slurm's Dependency value with the state of each job
// waited on: afterok:41(COMPLETED),afterany:42(PENDING); (null) for none.
func dependencies(ds []apitype.Dependency) string {
	if len(ds) == 0 {
		return "(null)"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		st := strings.ToUpper(d.State)
		if st == "" {
			st = "UNKNOWN"
		}
		target := itoa(d.JobID)
		if d.ArrayTaskID != nil {
			target += "_" + strconv.Itoa(*d.ArrayTaskID)
		}
		parts[i] = fmt.Sprintf("%s:%s(%s)", d.Type, target, st)
	}
	return strings.Join(parts, ",")
}

// runTime is how long the job has run (or ran), in seconds.
func runTime(j *apitype.Job, now time.Time) int64 {
	if j.StartedAt == nil {
		return 0
	}
	end := now
	if j.CompletedAt != nil {
		end = *j.CompletedAt
	}
	return int64(end.Sub(*j.StartedAt) / time.Second)
}

// ExitCode is Slurm's "code:signal": 0:0 for a job that has not ended; for
// a job a signal ended, 0 and the signal's number (rcq records such a job's
// code as the shell does, 128+signal: Slurm shows 0:9, not 137:9).
func ExitCode(code *int, signal string) string {
	if signal != "" {
		if n, ok := rcq.SignalNumber(signal); ok {
			return fmt.Sprintf("0:%d", int(n))
		}
	}
	c := 0
	if code != nil {
		c = *code
	}
	return fmt.Sprintf("%d:0", c)
}

// Duration is scontrol's time: [days-]hours:minutes:seconds, two digits each.
func Duration(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

func factor(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}
