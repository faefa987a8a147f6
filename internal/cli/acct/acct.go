// Package acct is rcq-acct, sacct's counterpart: the history of jobs
// (finished and running) from the store, newest first, as sacct's columns,
// its parsable forms, JSON, or per-group totals.
package acct

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-acct.
type Options struct {
	F *cli.Factory

	Jobs []int64
	// Elements are the array elements -j named (123_4, 123_[1-3]), by
	// array; their arrays are in Jobs, and only these elements are shown.
	Elements  map[int64]rcq.IndexSet
	User      string
	Me        bool
	Start     string
	End       string
	States    []string
	NoHeader  bool
	Parsable  bool // -p: "|" after every value
	Parsable2 bool // -P: "|" between values
	Format    string
	JSON      bool
	Summary   bool
	PageSize  int
	Names     []string // --name: only jobs with these names
	Groups    []string // -A/--accounts: only jobs of these groups
}

// DefaultFormat is rcq-acct's columns without --format.
const DefaultFormat = "JobID,JobName,User,Group,AllocCPUS,Elapsed,State,ExitCode"

const long = `Show the history of jobs, like sacct.

Without options rcq-acct shows the jobs that were running or ended since
midnight, newest first (by submit time), as sacct's columns:

  ` + DefaultFormat + `

Others' jobs are shown to admins only: without -u an admin sees every
account's jobs, anyone else their own. With -j the time window applies only
when -S or -E are given. Every job the window selects is shown: pages are
read one after another and printed as they come.

-S/--starttime and -E/--endtime take sacct's forms: YYYY-MM-DD[THH:MM[:SS]],
MMDD[YY], MM/DD[/YY], HH:MM[:SS] of today, now, now-1hours, now-2days
(seconds, minutes, hours, days, weeks), today, midnight. The window keeps
jobs submitted by the end and not ended before the start.

-s/--state takes Slurm's names or codes, comma-separated: PENDING (PD),
RUNNING (R), COMPLETED (CD), FAILED (F), CANCELLED (CA), TIMEOUT (TO),
OUT_OF_MEMORY (OOM), NODE_FAIL (NF); rcq ends jobs that ran out of memory or
lost their node as FAILED, so OOM and NF select nothing. Default: every
state but PENDING.

-o/--format takes sacct's field names, comma-separated, in any case, each
with an optional %WIDTH (JobName%30): ` + "JobID, JobIDRaw, JobName, User, Group, State, ExitCode, Elapsed, Start, End, Submit, AllocCPUS, AllocTRES, ReqMem, MaxRSS, TotalCPU, CPUTime, NodeList, Reason, WorkDir, StdOut, Timelimit, Account (the group), Partition, Cluster, NNodes, NCPUS, ReqCPUS, QOS, Priority" + `.
JobID is an array element's Slurm id (123_4; an array's elements never
started: 123_[5-99]), JobIDRaw its own job id. State is sacct's long name, ExitCode code:signal, Elapsed, TotalCPU and
CPUTime [DD-]HH:MM:SS, times YYYY-MM-DDTHH:MM:SS in local time or Unknown,
ReqMem like 4G, MaxRSS like 1234K. Group is the rcq group (Slurm's account),
User the Unix login mapped to the account, else its email.

--summary prints per-group totals over the same selection: jobs by state,
allocated CPU and GPU hours, and the CPU hours the jobs used.

` + cli.ExitStatusHelp

const example = `  rcq-acct
  rcq-acct -S now-2days -s F,TO
  rcq-acct -X -n -P -j 42,43 --format=JobIDRaw,State,ExitCode
  rcq-acct -o JobID,JobName%30,Elapsed,MaxRSS,TotalCPU -S 2026-01-01
  rcq-acct -u alice --summary -S 0101
  rcq-acct --json | jq '.jobs[] | select(.status == "failed") | .id'`

// NewCmd builds rcq-acct. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	var jobs, states, names, groups string
	var allocations bool
	cmd := &cobra.Command{
		Use:     "rcq-acct [flags]",
		Short:   "Show the history of rcq jobs (like sacct)",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := cli.ParseJobRefs([]string{jobs})
			if err != nil {
				return cli.Usagef("--jobs: %v", err)
			}
			opts.Jobs, opts.Elements = jobRefs(refs)
			opts.States = cli.SplitList(states)
			opts.Names, opts.Groups = cli.SplitList(names), cli.SplitList(groups)
			if opts.Me && opts.User != "" {
				return cli.Usagef("--me and --user together: choose one")
			}
			if strings.Contains(opts.User, ",") {
				return cli.Usagef("--user %s: give one user (an email or a Unix login)", opts.User)
			}
			if opts.Parsable && opts.Parsable2 {
				return cli.Usagef("-p/--parsable and -P/--parsable2 together: choose one")
			}
			if opts.PageSize < 1 || opts.PageSize > 10000 {
				return cli.Usagef("--page-size %d: use a number from 1 to 10000", opts.PageSize)
			}
			if runF != nil {
				return runF(opts)
			}
			return acctRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&jobs, "jobs", "j", "", "only these job `IDS` (comma-separated): jobs, arrays (123: every element), array elements (123_4, 123_[1-3,7])")
	fl.StringVarP(&opts.User, "user", "u", "", "only the jobs of `USER` (an email or a Unix login; others' need an admin)")
	fl.BoolVar(&opts.Me, "me", false, "only my jobs")
	fl.StringVarP(&opts.Start, "starttime", "S", "", "jobs not ended before `TIME` (default: midnight, of -E's day when earlier; none with -j)")
	fl.StringVarP(&opts.End, "endtime", "E", "", "jobs submitted by `TIME` (default: now)")
	fl.StringVarP(&states, "state", "s", "", "only jobs in these `STATES`: Slurm names or codes, comma-separated (CD,F,CA,TO,OOM,NF,R,PD)")
	fl.BoolVarP(&opts.NoHeader, "noheader", "n", false, "no header lines")
	fl.BoolVarP(&opts.Parsable, "parsable", "p", false, "values separated by |, with a | at the end of each line")
	fl.BoolVarP(&opts.Parsable2, "parsable2", "P", false, "values separated by |, none at the end")
	fl.StringVarP(&opts.Format, "format", "o", "", "the `FIELDS` to show, comma-separated, e.g. JobID,State,ExitCode (default "+DefaultFormat+")")
	fl.StringVar(&names, "name", "", "only jobs with these `NAMES` (comma-separated)")
	fl.StringVarP(&groups, "accounts", "A", "", "only jobs of these `GROUPS` (Slurm's accounts, comma-separated)")
	fl.BoolVar(&opts.JSON, "json", false, "print the jobs (or the summary) as JSON")
	fl.BoolVar(&opts.Summary, "summary", false, "per-group totals: jobs by state, CPU and GPU hours")
	fl.BoolVarP(&allocations, "allocations", "X", false, "accepted for sacct's sake: rcq jobs have no steps, so every line is an allocation")
	fl.IntVar(&opts.PageSize, "page-size", 1000, "read `N` jobs per request")
	_ = fl.MarkHidden("page-size")
	_ = cmd.RegisterFlagCompletionFunc("state", completeStates)
	_ = cmd.RegisterFlagCompletionFunc("format", completeFields)
	_ = cmd.RegisterFlagCompletionFunc("jobs", cli.CompleteJobIDs(f))
	for _, name := range []string{"user", "starttime", "endtime"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

func completeStates(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	var out []cobra.Completion
	for _, s := range slurm.States {
		out = append(out, cobra.CompletionWithDesc(prefix+s.Code, s.Name))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func completeFields(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	var out []cobra.Completion
	for _, f := range slurm.AcctFields {
		out = append(out, prefix+f.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// query turns the options into the API's query; none is false when the
// states asked for are ones rcq never gives (OOM, NF), so nothing matches.
func query(opts *Options) (q client.AcctQuery, none bool, err error) {
	now := opts.F.Now()
	q = client.AcctQuery{User: opts.User, IDs: opts.Jobs, Limit: opts.PageSize}
	if opts.Start != "" {
		if q.Start, err = slurm.ParseTime(opts.Start, now, time.Local); err != nil {
			return q, false, cli.Usagef("-S/--starttime: %s", strings.TrimPrefix(rcq.MessageOf(err), "time: "))
		}
	} else if len(opts.Jobs) == 0 {
		y, m, d := now.In(time.Local).Date()
		q.Start = time.Date(y, m, d, 0, 0, 0, 0, time.Local)
	}
	if opts.End != "" {
		if q.End, err = slurm.ParseTime(opts.End, now, time.Local); err != nil {
			return q, false, cli.Usagef("-E/--endtime: %s", strings.TrimPrefix(rcq.MessageOf(err), "time: "))
		}
	}
	if opts.Start == "" && !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		// -E before today: the default start is the midnight of that day.
		y, m, d := q.End.In(time.Local).Date()
		q.Start = time.Date(y, m, d, 0, 0, 0, 0, time.Local)
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return q, false, cli.Usagef("-S/--starttime %s is after -E/--endtime %s: the window would be empty", opts.Start, opts.End)
	}
	if len(opts.States) == 0 {
		for _, st := range rcq.JobStates {
			if st != rcq.JobPending {
				q.States = append(q.States, string(st))
			}
		}
		return q, false, nil
	}
	seen := map[rcq.JobState]bool{}
	for _, s := range opts.States {
		st, err := slurm.ParseState(s)
		if err != nil {
			return q, false, cli.Usagef("-s/--state: %s", strings.TrimPrefix(rcq.MessageOf(err), "state: "))
		}
		if st != "" && !seen[st] {
			seen[st] = true
			q.States = append(q.States, string(st))
		}
	}
	return q, len(q.States) == 0, nil
}

func acctRun(ctx context.Context, opts *Options) error {
	var cols []slurm.FormatColumn
	if !opts.Summary || opts.Format != "" {
		format := opts.Format
		if format == "" {
			format = DefaultFormat
		}
		var err error
		if cols, err = slurm.ParseFormat(format); err != nil {
			return cli.Usagef("-o/--format: %s", strings.TrimPrefix(rcq.MessageOf(err), "format: "))
		}
	}
	q, none, err := query(opts)
	if err != nil {
		return err
	}
	s, err := opts.F.Client()
	if err != nil {
		return err
	}
	if opts.Me {
		if q.User, err = s.Me(ctx); err != nil {
			return err
		}
	}
	if opts.Summary {
		return summaryRun(ctx, opts, s, q, none)
	}
	w := opts.F.IO.Out
	if opts.JSON {
		return streamJSON(ctx, w, s, q, none, opts.keep)
	}
	q.Fields = apiFields(cols)
	fcs := make([]cli.FixedColumn, len(cols))
	for i, c := range cols {
		fcs[i] = cli.FixedColumn{Header: c.Name, Width: c.Width, Right: c.Right}
	}
	sep := ""
	if opts.Parsable || opts.Parsable2 {
		sep = "|"
	}
	t := cli.NewFixedWriter(w, fcs, sep, opts.Parsable)
	if !opts.NoHeader {
		if err := t.Header(); err != nil {
			return err
		}
	}
	if !none {
		now := opts.F.Now()
		vals := make([]string, len(cols))
		err = s.EachAcct(ctx, q, func(p *apitype.AcctList) error {
			for i := range p.Jobs {
				if !opts.keep(&p.Jobs[i]) {
					continue
				}
				for k, c := range cols {
					vals[k] = Value(&p.Jobs[i], c.Name, now)
				}
				if err := t.Row(vals); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if ferr := t.Flush(); err == nil {
		err = ferr
	}
	return err
}

// fieldKeys are the keys of an accounting row each sacct field reads
// (Value), beside those every row needs (baseKeys).
var fieldKeys = map[string][]string{
	"JobIDRaw": {}, "JobName": {}, "User": {"user", "unix_user"}, "Group": {}, "Account": {},
	"NCPUS": {"cpu_cores"}, "ReqCPUS": {"cpu_cores"}, "State": {}, "ExitCode": {"exit_code", "signal"},
	"Elapsed": {"started_at", "completed_at"}, "Start": {"started_at"}, "End": {"completed_at"}, "Submit": {"submitted_at"},
	"AllocCPUS": {"started_at", "cpu_cores"}, "AllocTRES": {"started_at", "cpu_cores", "memory_gb", "gpu_count"},
	"ReqMem": {"memory_gb"}, "MaxRSS": {"peak_memory_kb"}, "TotalCPU": {"cpu_seconds"},
	"CPUTime": {"started_at", "completed_at", "cpu_cores"}, "NodeList": {"worker"}, "Reason": {"reason"},
	"WorkDir": {"working_dir"}, "StdOut": {"output"}, "Timelimit": {"estimated_hours"},
}

// baseKeys are read for every row: its id as sacct shows it (JobID), and
// the filters applied here (--name, -A, -j's elements).
var baseKeys = []string{"id", "name", "group", "status", "array_job_id", "array_task_id", "array_tasks", "array_throttle"}

// apiFields are the keys of the rows the columns need: rcqd renders and the
// command decodes a fifth of a row for sacct's default columns
// (docs/performance.md). nil (every key) for a field it does not know.
func apiFields(cols []slurm.FormatColumn) []string {
	keys := slices.Clone(baseKeys)
	for _, c := range cols {
		more, ok := fieldKeys[c.Name]
		if !ok && c.Name != "JobID" && c.Name != "Partition" && c.Name != "Cluster" && c.Name != "NNodes" && c.Name != "QOS" && c.Name != "Priority" {
			return nil
		}
		for _, k := range more {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// keep applies the filters rcqd does not: --name and -A/--accounts.
func (opts *Options) keep(j *apitype.AcctJob) bool {
	in := func(list []string, v string, fold bool) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v || fold && strings.EqualFold(x, v) {
				return true
			}
		}
		return false
	}
	return opts.wanted(j) && in(opts.Names, j.Name, false) && in(opts.Groups, j.Group, true)
}

// streamJSON writes {"jobs": [...], "count": N} page by page: the jobs as
// GET /api/acct gives them, never all held at once.
func streamJSON(ctx context.Context, w io.Writer, s *cli.Session, q client.AcctQuery, none bool, keep func(*apitype.AcctJob) bool) error {
	if _, err := io.WriteString(w, "{\n  \"jobs\": ["); err != nil {
		return err
	}
	n := 0
	if !none {
		err := s.EachAcct(ctx, q, func(p *apitype.AcctList) error {
			for i := range p.Jobs {
				if !keep(&p.Jobs[i]) {
					continue
				}
				b, err := json.MarshalIndent(&p.Jobs[i], "    ", "  ")
				if err != nil {
					return err
				}
				sep := ",\n    "
				if n == 0 {
					sep = "\n    "
				}
				n++
				if _, err := fmt.Fprintf(w, "%s%s", sep, b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	end := "\n  ],\n"
	if n == 0 {
		end = "],\n"
	}
	_, err := fmt.Fprintf(w, "%s  \"count\": %d\n}\n", end, n)
	return err
}

// jobRefs splits -j's refs into the ids to ask rcqd for (jobs, arrays, and
// the arrays of elements named) and the elements named, by array.
func jobRefs(refs []rcq.JobRef) ([]int64, map[int64]rcq.IndexSet) {
	var ids []int64
	whole := map[int64]bool{}
	elements := map[int64]rcq.IndexSet{}
	for _, r := range refs {
		id := int64(r.JobID)
		if !whole[id] && elements[id] == nil {
			ids = append(ids, id)
		}
		if r.Tasks == nil {
			whole[id] = true
		} else {
			elements[id] = rcq.NewIndexSet(append(elements[id].Indices(), r.Tasks.Indices()...))
		}
	}
	for id := range whole {
		delete(elements, id) // the whole array was named too
	}
	if len(elements) == 0 {
		elements = nil
	}
	return ids, elements
}

// wanted reports whether -j's elements keep j: every job but the other
// elements of an array of which -j named only some.
func (opts *Options) wanted(j *apitype.AcctJob) bool {
	if opts.Elements == nil || j.ArrayJobID == nil {
		return true
	}
	set, ok := opts.Elements[*j.ArrayJobID]
	switch {
	case !ok:
		return true
	case j.ArrayTaskID != nil:
		return set.Contains(*j.ArrayTaskID)
	}
	pending, err := rcq.ParseIndexSet(j.ArrayTasks)
	return err == nil && len(pending.Intersect(set)) > 0
}

// Value is one sacct field of a job, as sacct prints it.
func Value(j *apitype.AcctJob, field string, now time.Time) string {
	st := rcq.JobState(j.Status)
	switch field {
	case "JobID":
		return j.SlurmID() // 123, an array element 123_4
	case "JobIDRaw":
		return fmt.Sprint(j.ID)
	case "JobName":
		return j.Name
	case "User":
		if j.UnixUser != "" {
			return j.UnixUser
		}
		return j.User
	case "Group", "Account":
		return j.Group
	case "Partition":
		return slurm.Partition
	case "Cluster":
		return slurm.ClusterName
	case "NNodes":
		return "1"
	case "NCPUS", "ReqCPUS":
		return fmt.Sprint(j.CPUCores)
	case "QOS":
		return "normal"
	case "Priority":
		return "1"
	case "State":
		return slurm.StateOf(st).Name
	case "ExitCode":
		if !st.Terminal() {
			return "0:0"
		}
		return slurm.ExitCode(j.ExitCode, j.Signal)
	case "Elapsed":
		return slurm.Duration(elapsed(j, now))
	case "Start":
		return slurm.Time(j.StartedAt)
	case "End":
		return slurm.Time(j.CompletedAt)
	case "Submit":
		return slurm.Time(&j.SubmittedAt)
	case "AllocCPUS":
		if j.StartedAt == nil {
			return "0"
		}
		return fmt.Sprint(j.CPUCores)
	case "AllocTRES":
		if j.StartedAt == nil {
			return ""
		}
		t := fmt.Sprintf("cpu=%d,mem=%s,node=1", j.CPUCores, slurm.MemGB(j.MemoryGB))
		if j.GPUCount > 0 {
			t += fmt.Sprintf(",gres/gpu=%d", j.GPUCount)
		}
		return t
	case "ReqMem":
		return slurm.MemGB(j.MemoryGB)
	case "MaxRSS":
		return slurm.MemKB(j.PeakMemoryKB)
	case "TotalCPU":
		return slurm.Duration(int64(j.CPUSeconds + 0.5))
	case "CPUTime":
		return slurm.Duration(elapsed(j, now) * int64(j.CPUCores))
	case "NodeList":
		if j.Worker == "" {
			return "None assigned"
		}
		return j.Worker
	case "Reason":
		if j.Reason == "" {
			return "None"
		}
		return j.Reason
	case "WorkDir":
		return j.WorkingDir
	case "StdOut":
		return j.Output
	case "Timelimit":
		if j.EstimatedHours <= 0 {
			return "UNLIMITED"
		}
		return slurm.Duration(int64(j.EstimatedHours*3600 + 0.5))
	}
	return ""
}

func elapsed(j *apitype.AcctJob, now time.Time) int64 {
	if j.StartedAt == nil {
		return 0
	}
	end := now
	if j.CompletedAt != nil {
		end = *j.CompletedAt
	}
	if end.Before(*j.StartedAt) {
		return 0
	}
	return int64(end.Sub(*j.StartedAt) / time.Second)
}

// summaryStates are the columns of --summary, in Slurm's order.
var summaryStates = []rcq.JobState{rcq.JobCompleted, rcq.JobFailed, rcq.JobCancelled, rcq.JobTimeout, rcq.JobNodeFail, rcq.JobRunning, rcq.JobPending}

func summaryRun(ctx context.Context, opts *Options, s *cli.Session, q client.AcctQuery, none bool) error {
	sum := &apitype.AcctSummary{Groups: []apitype.AcctGroup{}}
	if !none {
		var err error
		if sum, err = s.AcctSummary(ctx, q); err != nil {
			return err
		}
	}
	w := opts.F.IO.Out
	if opts.JSON {
		return cli.PrintJSON(w, sum)
	}
	cols := []cli.FixedColumn{{Header: "Group", Width: 12}, {Header: "Jobs", Width: 8, Right: true}}
	for _, st := range summaryStates {
		name := slurm.StateOf(st).Name
		cols = append(cols, cli.FixedColumn{Header: name, Width: max(len(name), 8), Right: true})
	}
	cols = append(cols, cli.FixedColumn{Header: "CPUHours", Width: 12, Right: true},
		cli.FixedColumn{Header: "GPUHours", Width: 12, Right: true}, cli.FixedColumn{Header: "UsedCPUHours", Width: 12, Right: true})
	sep := ""
	if opts.Parsable || opts.Parsable2 {
		sep = "|"
	}
	t := cli.NewFixedWriter(w, cols, sep, opts.Parsable)
	if !opts.NoHeader {
		if err := t.Header(); err != nil {
			return err
		}
	}
	hours := func(h float64) string { return fmt.Sprintf("%.2f", h) }
	for _, g := range sum.Groups {
		vals := []string{g.Group, fmt.Sprint(g.Jobs)}
		for _, st := range summaryStates {
			vals = append(vals, fmt.Sprint(g.ByState[string(st)]))
		}
		vals = append(vals, hours(g.CPUHours), hours(g.GPUHours), hours(g.UsedCPUHours))
		if err := t.Row(vals); err != nil {
			return err
		}
	}
	return t.Flush()
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }
