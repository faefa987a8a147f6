// Package info is rcq-info, sinfo's counterpart: the workers, their state
// and what running jobs hold of them, for every logged-in user.
package info

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/table"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-info.
type Options struct {
	F *cli.Factory

	Nodes    bool   // -N: one line per node
	Long     bool   // -l: one line per worker with its allocation
	Format   string // -o: sinfo format codes
	NoHeader bool
	JSON     bool
}

// Partition is the one partition rcq has, marked default as sinfo marks it.
const Partition = "rcq*"

const long = `Show the workers, like sinfo.

rcq has one partition, rcq (shown as rcq*, the default). By default
rcq-info prints sinfo's summary, one line per state:

  PARTITION AVAIL TIMELIMIT NODES STATE NODELIST

where NODES counts workers and NODELIST names them. STATE is idle (online,
nothing running), mixed (online, some CPUs allocated), allocated (online,
every CPU or all memory allocated), drained (an admin drained it: it takes
no new jobs) or offline (its rcqd stopped heartbeating).

-N prints one line per node (the rcqd machine that runs a worker's jobs):
NODELIST NODES PARTITION STATE. -l/--long prints one line per worker:

  WORKER NODE STATE CPUS(A/I/O/T) MEMORY GPUS JOBS

CPUS(A/I/O/T) is allocated/idle/other/total CPUs as sinfo's %C (other:
the CPUs of drained and offline workers that no job holds), MEMORY and
GPUS are free/total (memory in GB), JOBS the running jobs.

-o/--format takes sinfo's codes: %P partition, %a availability (up), %l
time limit, %D number of workers, %N worker names (node names with -N),
%T state, %t state as sinfo's compact code (idle, mix, alloc, drain, down),
%C CPUs as A/I/O/T, %c CPUs per worker, %m memory per worker in MB, %G
generic resources (gpu:N, or (null)), %p the partition's priority
tier (1); %[.][width]code sets a width, a dot
right-justifies, %% is a literal %. As in sinfo, workers whose printed
fields are equal share one line (%N, %D and %C sum over them).

--json prints {"workers": [{"name", "node", "cpu_cores", "memory_gb",
"gpu_count", "status", "state", "alloc_cpus", "alloc_memory_gb",
"alloc_gpus", "running_jobs"}], "count"}.

` + cli.ExitStatusHelp

const example = `  rcq-info
  rcq-info -N
  rcq-info -l
  rcq-info -h -o "%P %c %m %G"`

// NewCmd builds rcq-info. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:     "rcq-info [flags]",
		Short:   "Show the workers and their state (like sinfo)",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format != "" {
				if _, err := parseFormat(opts.Format); err != nil {
					return err
				}
				if opts.Long {
					return cli.Usagef("--long and --format together: choose one")
				}
			}
			if opts.JSON && (opts.Format != "" || opts.Long || opts.Nodes) {
				return cli.Usagef("--json prints every worker: leave out --format, --long and --Node")
			}
			if runF != nil {
				return runF(opts)
			}
			return infoRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// -h is --noheader, as in sinfo; help is --help only.
	fl.Bool("help", false, "show this help")
	fl.BoolVarP(&opts.Nodes, "Node", "N", false, "one line per node")
	fl.BoolVarP(&opts.Long, "long", "l", false, "one line per worker, with CPUs, memory, GPUs and jobs")
	fl.StringVarP(&opts.Format, "format", "o", "", "columns as sinfo's `FORMAT`, e.g. \"%P %c %m %G\"")
	fl.BoolVarP(&opts.NoHeader, "noheader", "h", false, "no header line")
	fl.BoolVar(&opts.JSON, "json", false, "print the workers as JSON")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.NoFileCompletions)
	return cmd
}

// NewRootCmd is rcq-info's root command.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

func infoRun(ctx context.Context, opts *Options) error {
	s, err := opts.F.Client()
	if err != nil {
		return err
	}
	list, err := s.Nodes(ctx)
	if err != nil {
		return err
	}
	w := opts.F.IO.Out
	switch {
	case opts.JSON:
		return cli.PrintJSON(w, list)
	case opts.Long:
		return writeLong(w, list.Workers, opts.NoHeader)
	}
	format := opts.Format
	if format == "" {
		format = defaultFormat
		if opts.Nodes {
			format = nodeFormat
		}
		cols, _ := parseFormat(format)
		header, rows := lines(cols, list.Workers, opts.Nodes)
		if opts.NoHeader {
			header = nil
		}
		var cells [][]string
		var right []int
		for i, c := range fields(cols) {
			if c.Right {
				right = append(right, i)
			}
		}
		for _, r := range rows {
			cells = append(cells, r.cells)
		}
		return table.Write(w, header, cells, right...)
	}
	cols, err := parseFormat(format)
	if err != nil {
		return err
	}
	header, rows := lines(cols, list.Workers, opts.Nodes)
	var b strings.Builder
	if !opts.NoHeader {
		b.WriteString(render(cols, header) + "\n")
	}
	for _, r := range rows {
		b.WriteString(render(cols, r.cells) + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// Default formats, sinfo's own (the table aligns them).
const (
	defaultFormat = "%P %.a %.l %.D %.T %N"
	nodeFormat    = "%N %.D %P %.T"
)

// column is one -o field, or literal text (Code 0).
type column = slurm.Column

var headers = map[byte]string{
	'P': "PARTITION", 'a': "AVAIL", 'l': "TIMELIMIT", 'D': "NODES", 'N': "NODELIST",
	'T': "STATE", 't': "STATE", 'C': "CPUS(A/I/O/T)", 'c': "CPUS", 'm': "MEMORY", 'G': "GRES",
	'p': "PRIO_TIER",
}

// parseFormat reads an sinfo -o format: text with %[.][width]code fields.
func parseFormat(s string) ([]column, error) {
	cols, err := slurm.ParseColumns(s, "PalDNTtCcmGp")
	if err != nil {
		return nil, cli.Usagef("--format: %v", err)
	}
	return cols, nil
}

func fields(cols []column) []column {
	var out []column
	for _, c := range cols {
		if c.Code != 0 {
			out = append(out, c)
		}
	}
	return out
}

// row is one output line: the workers that share its fields.
type row struct {
	key     string
	workers []apitype.NodeInfo
	cells   []string
}

// aggregated codes are summed over a line's workers; the others group them.
func aggregated(code byte) bool { return code == 'N' || code == 'D' || code == 'C' }

// lines groups workers into lines as sinfo does: workers whose
// non-aggregated fields print the same share a line, in the order of their
// first worker; with byNode, the node is part of every line's key.
func lines(cols []column, ws []apitype.NodeInfo, byNode bool) ([]string, []row) {
	fs := fields(cols)
	header := make([]string, len(fs))
	for i, c := range fs {
		header[i] = headers[c.Code]
	}
	var rows []row
	index := map[string]int{}
	for _, w := range ws {
		var key strings.Builder
		if byNode {
			key.WriteString(w.Node + "\x00")
		}
		for _, c := range fs {
			if !aggregated(c.Code) {
				key.WriteString(value(c.Code, []apitype.NodeInfo{w}, byNode) + "\x00")
			}
		}
		k := key.String()
		i, ok := index[k]
		if !ok {
			i = len(rows)
			index[k] = i
			rows = append(rows, row{key: k})
		}
		rows[i].workers = append(rows[i].workers, w)
	}
	for i := range rows {
		rows[i].cells = make([]string, len(fs))
		for j, c := range fs {
			rows[i].cells[j] = value(c.Code, rows[i].workers, byNode)
		}
	}
	return header, rows
}

// value is one field of a line of workers (all equal in the fields that
// are not aggregated).
func value(code byte, ws []apitype.NodeInfo, byNode bool) string {
	w := ws[0]
	switch code {
	case 'P':
		return Partition
	case 'a':
		return "up"
	case 'p':
		return "1" // the one partition's priority tier
	case 'l':
		return "infinite"
	case 'D':
		return strconv.Itoa(len(ws))
	case 'N':
		var names []string
		for _, x := range ws {
			n := x.Name
			if byNode {
				n = x.Node
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		return strings.Join(names, ",")
	case 'T':
		return w.State
	case 't':
		return compact(w.State)
	case 'C':
		var a, i, o, t int
		for _, x := range ws {
			ca, ci, co, ct := cpus(x)
			a, i, o, t = a+ca, i+ci, o+co, t+ct
		}
		return fmt.Sprintf("%d/%d/%d/%d", a, i, o, t)
	case 'c':
		return strconv.Itoa(w.CPUCores)
	case 'm':
		return strconv.Itoa(w.MemoryGB * 1024)
	case 'G':
		if w.GPUCount == 0 {
			return "(null)"
		}
		return "gpu:" + strconv.Itoa(w.GPUCount)
	}
	return ""
}

// compact is sinfo's %t code for a state.
func compact(state string) string {
	switch state {
	case rcq.NodeMixed:
		return "mix"
	case rcq.NodeAllocated:
		return "alloc"
	case rcq.NodeDrained:
		return "drain"
	case rcq.NodeOffline:
		return "down"
	}
	return state
}

// cpus splits a worker's CPUs as sinfo's %C: allocated, idle (free on an
// online worker), other (free on a drained or offline one), total.
func cpus(w apitype.NodeInfo) (alloc, idle, other, total int) {
	free := max(w.CPUCores-w.AllocCPUs, 0)
	if w.Status == string(rcq.WorkerOnline) {
		return w.AllocCPUs, free, 0, w.CPUCores
	}
	return w.AllocCPUs, 0, free, w.CPUCores
}

func render(cols []column, cells []string) string {
	var b strings.Builder
	i := 0
	for _, c := range cols {
		if c.Code == 0 {
			b.WriteString(c.Literal)
			continue
		}
		b.WriteString(cli.Fit(cells[i], c.Width, c.Right))
		i++
	}
	return strings.TrimRight(b.String(), " ")
}

func writeLong(w io.Writer, ws []apitype.NodeInfo, noHeader bool) error {
	header := []string{"WORKER", "NODE", "STATE", "CPUS(A/I/O/T)", "MEMORY", "GPUS", "JOBS"}
	if noHeader {
		header = nil
	}
	rows := make([][]string, len(ws))
	for i, x := range ws {
		rows[i] = []string{x.Name, x.Node, x.State, value('C', ws[i:i+1], false),
			fmt.Sprintf("%dG/%dG", max(x.MemoryGB-x.AllocMemoryGB, 0), x.MemoryGB),
			fmt.Sprintf("%d/%d", max(x.GPUCount-x.AllocGPUs, 0), x.GPUCount), strconv.Itoa(x.RunningJobs)}
	}
	return table.Write(w, header, rows, 3, 4, 5, 6)
}
