// Package queue is rcq-queue, squeue's counterpart: the queue in the
// scheduler's order with the reasons behind waits, finished jobs on request,
// as a table for people or JSON for programs.
package queue

import (
	"bytes"
	"context"
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

// Options is what the command line gave rcq-queue.
type Options struct {
	F *cli.Factory

	Me       bool
	Users    []string
	States   []string
	Jobs     []string
	Names    []string
	Array    bool // -r: one line per array element
	Start    bool
	Long     bool
	Format   string
	Sort     string
	NoHeader bool
	Iterate  int
	JSON     bool
	Limit    int
	Recent   time.Duration // the default view also shows jobs that ended this recently
}

const long = `Show the queue, like squeue.

Without options rcq-queue shows pending jobs in the order the scheduler
will start them, then running jobs, as a table:

  JOBID NAME USER GROUP ST TIME CPUS MEM GPUS PRIORITY NODELIST(REASON)

ST is Slurm's state code (PD pending, R running, CD completed, F failed,
CA cancelled, TO timeout), TIME the time used, and the last column the
worker of a running job or, in parentheses, why a pending job waits. USER
is the Unix login mapped to the account (as squeue and rcq-acct show it),
else its email. Other
users' jobs show only their id, user, group, state and size.

Jobs that ended in the last --recent (5 minutes) follow, a failed one with
its reason in the last column, so a job that fails at once does not just
vanish (squeue's MinJobAge). Older finished jobs are shown with -t all or
-t CD,F,CA,TO (history, newest first, at most --limit jobs), and by
rcq-acct.

Job arrays: an array's elements not yet started are one line,
123_[4-99%8] (indices, and the throttle after %); started elements one
line each, 123_3. -r/--array shows one line per element. -j takes arrays
and elements: 123 (every element), 123_4, 123_[1-3,7].

-o/--format takes squeue's codes: %i id (123_4 for an array element),
%A the job's own id, %K the array index, %j name, %u user, %g group,
%t state code, %T state, %M time used, %l time limit, %S start (actual or
expected), %C CPUs, %m memory, %b GPUs, %Q priority, %r reason, %R reason
or worker, %N worker, %P partition (always rcq), %D nodes (always 1), and
rcq's %E reason detail, %B %F %W priority factors (base, fair share, wait
boost), %Y rank. %.10i right-justifies in 10 characters,
%10i left-justifies; longer values are cut. -S/--sort takes the same letters,
comma-separated, each with an optional - for descending (e.g. -S -Q,i).

` + cli.ExitStatusHelp

const example = `  rcq-queue
  rcq-queue --me -t pending --start
  rcq-queue -l -j 42,43
  rcq-queue -r -j 123_[1-10]
  rcq-queue -t all --limit 20
  rcq-queue -o "%.8i %.10j %.2t %.10M %R" -S -Q
  rcq-queue -i 5
  rcq-queue --json | jq '.jobs[] | select(.state == "pending") | .id'`

// NewCmd builds rcq-queue. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	var users, states, jobs, names string
	cmd := &cobra.Command{
		Use:     "rcq-queue [flags]",
		Short:   "Show the rcq queue (like squeue)",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Users, opts.States, opts.Jobs, opts.Names = cli.SplitList(users), cli.SplitList(states), cli.SplitJobRefs([]string{jobs}), cli.SplitList(names)
			if opts.Limit < 1 || opts.Limit > 1000 {
				return cli.Usagef("--limit %d: use a number from 1 to 1000", opts.Limit)
			}
			if opts.Iterate < 0 {
				return cli.Usagef("--iterate %d: use a number of seconds of at least 1", opts.Iterate)
			}
			if runF != nil {
				return runF(opts)
			}
			return queueRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// -h is --noheader, as in squeue; help is --help only.
	fl.Bool("help", false, "show this help")
	fl.BoolVar(&opts.Me, "me", false, "only my jobs")
	fl.StringVarP(&users, "user", "u", "", "only the jobs of these `USERS` (an email or a Unix login; several: emails, comma-separated)")
	fl.StringVarP(&states, "states", "t", "", "only jobs in these `STATES`: comma list of names or codes (PD,R,CD,F,CA,TO), or all")
	fl.StringVarP(&jobs, "jobs", "j", "", "only these job `IDS` (comma-separated): jobs, arrays (123), array elements (123_4, 123_[1-3,7])")
	fl.BoolVarP(&opts.Array, "array", "r", false, "one line per array element (default: an array's elements not yet started on one line)")
	fl.StringVarP(&names, "name", "n", "", "only jobs with these `NAMES` (comma-separated)")
	fl.BoolVar(&opts.Start, "start", false, "show pending jobs with their expected start times (from the backfill plan)")
	fl.BoolVarP(&opts.Long, "long", "l", false, "more columns: time limit, priority factors (base, fair share, wait boost) and the reason's detail")
	fl.StringVarP(&opts.Format, "format", "o", "", "columns as squeue's `FORMAT`, e.g. \"%.8i %j %t %M %R\"")
	fl.StringVarP(&opts.Sort, "sort", "S", "", "sort by these format `LETTERS`, e.g. -Q,i (default: the scheduler's order)")
	fl.BoolVarP(&opts.NoHeader, "noheader", "h", false, "no header line")
	fl.IntVarP(&opts.Iterate, "iterate", "i", 0, "redraw every `SECONDS` until interrupted")
	fl.BoolVar(&opts.JSON, "json", false, "print the jobs as JSON")
	fl.IntVar(&opts.Limit, "limit", 100, "at most `N` finished jobs (1-1000)")
	fl.DurationVar(&opts.Recent, "recent", 5*time.Minute, "without -t, also show jobs that ended within this `DURATION`, like squeue's MinJobAge (0: none)")
	_ = cmd.RegisterFlagCompletionFunc("states", cli.CompleteStates)
	_ = cmd.RegisterFlagCompletionFunc("jobs", cli.CompleteJobIDs(f))
	for _, name := range []string{"user", "name", "format", "sort", "iterate", "limit"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// query is the parsed selection.
type query struct {
	history bool // finished jobs wanted: GET /api/jobs
	states  map[rcq.JobState]bool
	ids     map[int64]bool         // jobs, and whole arrays
	idList  []int64                // what to ask rcqd for: ids, and the arrays of elements
	tasks   map[int64]rcq.IndexSet // array id: the elements asked for
	names   map[string]bool
	users   map[string]bool
	user    string // the one user to ask rcqd for
}

func parseQuery(opts *Options) (*query, error) {
	q := &query{states: map[rcq.JobState]bool{}, names: map[string]bool{}, users: map[string]bool{}, ids: map[int64]bool{}, tasks: map[int64]rcq.IndexSet{}}
	for _, s := range opts.States {
		if strings.EqualFold(s, "all") {
			for _, st := range rcq.JobStates {
				q.states[st] = true
			}
			continue
		}
		st, err := rcq.ParseJobState(s)
		if err != nil {
			return nil, cli.Usagef("--states: %s", strings.TrimPrefix(rcq.MessageOf(err), "state: "))
		}
		q.states[st] = true
	}
	if len(q.states) == 0 {
		q.states[rcq.JobPending] = true
		if !opts.Start {
			q.states[rcq.JobRunning] = true
		}
	}
	for st := range q.states {
		if st.Terminal() {
			q.history = true
		}
	}
	refs, err := cli.ParseJobRefs(opts.Jobs)
	if err != nil {
		return nil, cli.Usagef("--jobs: %v", err)
	}
	for _, ref := range refs {
		id := int64(ref.JobID)
		if !q.ids[id] && q.tasks[id] == nil {
			q.idList = append(q.idList, id)
		}
		if ref.Tasks == nil {
			q.ids[id] = true
		} else {
			q.tasks[id] = rcq.NewIndexSet(append(q.tasks[id].Indices(), ref.Tasks.Indices()...))
		}
	}
	for _, n := range opts.Names {
		q.names[n] = true
	}
	if len(opts.Users) == 1 {
		// rcqd filters on one user, named by an email or a Unix login.
		q.user = opts.Users[0]
	} else {
		for _, u := range opts.Users {
			q.users[u] = true
		}
	}
	return q, nil
}

func (q *query) keep(r *Row) bool {
	return q.states[rcq.JobState(r.State)] && q.keepAnyState(r)
}

// keepAnyState is keep without the state filter. A folded array row that
// -j names some elements of is cut to those elements.
func (q *query) keepAnyState(r *Row) bool {
	return q.keepID(r) &&
		(len(q.names) == 0 || q.names[r.Name]) &&
		(len(q.users) == 0 || q.users[r.User] || r.UnixUser != "" && q.users[r.UnixUser])
}

// keepID is -j: a job, every row of an array (123), or elements (123_4).
func (q *query) keepID(r *Row) bool {
	if len(q.ids) == 0 && len(q.tasks) == 0 || q.ids[r.ID] {
		return true
	}
	if r.ArrayJobID == nil {
		return false
	}
	if q.ids[*r.ArrayJobID] {
		return true
	}
	want := q.tasks[*r.ArrayJobID]
	switch {
	case want == nil:
		return false
	case r.ArrayTaskID != nil:
		return want.Contains(*r.ArrayTaskID)
	}
	pending, err := rcq.ParseIndexSet(r.ArrayTasks)
	if err != nil {
		return false
	}
	keep := pending.Intersect(want)
	r.ArrayTasks = keep.String()
	if keep.Len() == 1 { // one element: shown as such, 123_4
		i := keep.Min()
		r.ArrayTaskID, r.ArrayTasks, r.ArrayThrottle = &i, "", 0
	}
	return len(keep) > 0
}

// fetch asks rcqd for the rows q selects.
func fetch(ctx context.Context, opts *Options, s *cli.Session, q *query) (*Output, error) {
	if opts.Me {
		me, err := s.Me(ctx)
		if err != nil {
			return nil, err
		}
		q.users = map[string]bool{me: true}
		q.user = me
	}
	out := &Output{Jobs: []Row{}}
	if !q.history {
		// A table as it stands (no -S, -r, -o, --json or -i) is built as
		// the rows arrive, cell by cell, without the rows.
		var t *tableSink
		if !opts.JSON && opts.Format == "" && opts.Sort == "" && !opts.Array && opts.Iterate == 0 {
			t = newTableSink(tableCodes(opts), !opts.NoHeader)
			out.table = t
		}
		var tmp Row
		// Row by row as the pages arrive (the rows form): only the rows
		// kept are held, no page (docs/performance.md).
		pages, err := s.EachQueueRow(ctx, client.QueueQuery{User: q.user, Fields: apiFields(opts)}, client.QueueVisitor{
			Page: func(p *apitype.Queue) {
				if out.Now.IsZero() {
					out.Now = p.Now
				}
				if t != nil {
					t.grow(p.Count, p.Next != "")
				} else {
					out.Jobs = slices.Grow(out.Jobs, p.Count)
				}
			},
			Row: func(j *apitype.QueueJob) error {
				if t != nil {
					tmp = Row{}
					fromQueue(&tmp, j, out.Now)
					if q.keep(&tmp) {
						t.add(&tmp)
					}
					return nil
				}
				out.Jobs = append(out.Jobs, Row{})
				r := &out.Jobs[len(out.Jobs)-1]
				fromQueue(r, j, out.Now)
				if !q.keep(r) {
					out.Jobs = out.Jobs[:len(out.Jobs)-1]
				}
				return nil
			},
		})
		if err != nil {
			return nil, err
		}
		if pages > 1 {
			// Each page is in order, not their union.
			if t != nil {
				t.sortQueue()
			} else {
				sortQueue(out.Jobs)
			}
		}
		if out.Now.IsZero() {
			out.Now = opts.F.Now()
		}
		if len(opts.States) == 0 && !opts.Start && opts.Recent > 0 {
			recent, err := recentlyEnded(ctx, s, q, out.Now.Add(-opts.Recent), out.Now)
			if err != nil {
				return nil, err
			}
			if t != nil {
				for i := range recent {
					t.add(&recent[i])
				}
				out.Count = t.rows
				return out, nil
			}
			out.Jobs = append(out.Jobs, recent...)
		}
		if t != nil {
			out.Count = t.rows
			return out, nil
		}
	} else {
		jq := client.JobsQuery{Limit: opts.Limit, User: q.user, IDs: q.idList, Newest: true}
		for st := range q.states {
			jq.States = append(jq.States, string(st))
		}
		slices.Sort(jq.States)
		if len(jq.States) == len(rcq.JobStates) {
			jq.States = []string{"all"}
		}
		if len(q.names) == 1 {
			jq.Name = opts.Names[0]
		}
		list, err := s.Jobs(ctx, jq)
		if err != nil {
			return nil, err
		}
		if list.Next != "" {
			// Never a silent cut: say how to see the rest.
			opts.F.Warnf("only the newest %d jobs are shown: more with --limit (up to 1000), or all of them with rcq-acct", opts.Limit)
		}
		out.Now = opts.F.Now()
		me := s.Email
		pending := false
		for _, j := range list.Jobs {
			r := fromJob(j, me, out.Now)
			if q.keep(&r) {
				out.Jobs = append(out.Jobs, r)
				pending = pending || r.State == string(rcq.JobPending)
			}
		}
		if pending {
			// The scheduler's word on pending jobs (reason, rank, expected
			// start) is in the queue view.
			qu, err := s.Queue(ctx, q.user)
			if err != nil {
				return nil, err
			}
			byID := map[int64]*apitype.QueueJob{}
			for i := range qu.Jobs {
				byID[qu.Jobs[i].ID] = &qu.Jobs[i]
			}
			for i := range out.Jobs {
				r := &out.Jobs[i]
				if qj := byID[r.ID]; qj != nil && r.State == string(rcq.JobPending) && qj.Own {
					r.Reason, r.ReasonDetail, r.Rank = qj.Reason, qj.ReasonDetail, qj.Rank
					r.Computed, r.ExpectedStart = qj.Computed, qj.ExpectedStart
				}
			}
		}
	}
	if opts.Array {
		out.Jobs = unfold(out.Jobs)
	}
	if err := sortRows(out.Jobs, opts.Sort); err != nil {
		return nil, err
	}
	out.Count = len(out.Jobs)
	return out, nil
}

// recentlyEnded are the jobs q selects that ended since, newest first: the
// default view shows them for a while, so a job that failed right after
// its submit does not just vanish (squeue's MinJobAge).
func recentlyEnded(ctx context.Context, s *cli.Session, q *query, since, now time.Time) ([]Row, error) {
	var rows []Row
	aq := client.AcctQuery{User: q.user, IDs: q.idList, States: []string{"CD", "F", "CA", "TO"}, Start: since}
	err := s.EachAcct(ctx, aq, func(page *apitype.AcctList) error {
		for _, j := range page.Jobs {
			if j.CompletedAt == nil || j.CompletedAt.Before(since) {
				continue // cancelled while pending: the window keeps it by its submit
			}
			r := fromAcct(j, s.Email, now)
			if q.keepAnyState(&r) {
				rows = append(rows, r)
			}
		}
		return nil
	})
	return rows, err
}

func sortRows(rows []Row, spec string) error {
	keys := cli.SplitList(spec)
	if len(keys) == 0 {
		return nil
	}
	type key struct {
		code byte
		desc bool
	}
	var ks []key
	for _, k := range keys {
		desc := strings.HasPrefix(k, "-")
		k = strings.TrimLeft(k, "+-")
		if len(k) != 1 || (headers[k[0]] == "" && k[0] != 'p') {
			return cli.Usagef("--sort: %q is not a sort key: use format letters such as i, j, u, t, M, S, C, m, b, Q, each with an optional - for descending", k)
		}
		ks = append(ks, key{k[0], desc})
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		for _, k := range ks {
			c := compare(&a, &b, k.code)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return nil
}

// column is one -o field, or literal text (Code 0).
type column = slurm.Column

// ParseFormat reads an squeue -o format: text with %[.][width]letter codes.
func ParseFormat(s string) ([]column, error) {
	cols, err := slurm.ParseColumns(s, "ijugtTMlSCmbQrRNPDEBFWYAK")
	if err != nil {
		return nil, cli.Usagef("--format: %v", err)
	}
	return cols, nil
}

// renderFormat prints rows as -o asks, squeue's way: no alignment beyond
// the widths given.
func renderFormat(w io.Writer, cols []column, rows []Row, header bool) {
	line := func(cell func(column) string) {
		var b strings.Builder
		for _, c := range cols {
			if c.Code == 0 {
				b.WriteString(c.Literal)
				continue
			}
			b.WriteString(cli.Fit(cell(c), c.Width, c.Right))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if header {
		line(func(c column) string { return headers[c.Code] })
	}
	for i := range rows {
		line(func(c column) string { return rows[i].value(c.Code) })
	}
}

// WriteFormat prints rows as an -o format asks (squeue under Slurm's name
// prints the header alone when its options select nothing).
func WriteFormat(w io.Writer, cols []column, rows []Row, header bool) error {
	renderFormat(w, cols, rows, header)
	return nil
}

// tableCodes are the columns of the default, --long and --start tables.
// apiFields are the keys of the queue's rows the output needs (nil: all):
// a table leaves out what none of its columns or its sort shows, which is
// most of a held job's bytes (its reason's detail, its submit time), so
// rcqd renders and the command decodes less (docs/performance.md).
func apiFields(opts *Options) []string {
	if opts.JSON {
		return nil
	}
	used := opts.Format + opts.Sort
	if opts.Format == "" {
		used += tableCodes(opts)
	}
	fields := []string{"id", "user", "unix_user", "group_id", "status", "cpu_cores", "memory_gb", "gpu_count", "own",
		"name", "priority", "computed_priority", "rank", "reason", "started_at", "worker",
		"array_job_id", "array_task_id", "array_tasks", "array_throttle"}
	for _, f := range []struct {
		codes, key string
	}{{"E", "reason_detail"}, {"S", "expected_start"}, {"l", "estimated_hours"}} {
		if strings.ContainsAny(used, f.codes) {
			fields = append(fields, f.key)
		}
	}
	return fields
}

func tableCodes(opts *Options) string {
	switch {
	case opts.Start:
		return "ijutSCmbR"
	case opts.Long:
		return "ijugtMlCmbQBFWRE"
	}
	return "ijugtMCmbQR"
}

// renderTable prints rows as an aligned table without borders, squeue's
// way (cli.WriteAligned, the fast writer): each column as wide as its
// widest cell, one space between columns, names and reasons left-aligned,
// everything else right-aligned. (tablewriter took most of rcq-queue's time
// at 100,000 jobs: docs/performance.md.)
func renderTable(w io.Writer, codes string, rows []Row, header bool) error {
	codes = strings.ReplaceAll(codes, " ", "")
	if len(rows) == 0 && !header {
		return nil
	}
	t := newTable(codes, len(rows)+1)
	if header {
		for _, c := range []byte(codes) {
			t.Cells = append(t.Cells, headers[c]...)
			t.End()
		}
	}
	for i := range rows {
		for _, c := range []byte(codes) {
			t.Cells = rows[i].appendValue(t.Cells, c)
			t.End()
		}
	}
	return t.Write(w, nil)
}

// tableSink is a table (renderTable's) built as the rows arrive: each
// row's cells go into the table at once, and the row is not kept (a Row is
// ~350 bytes, and 10,000 of them were a third of rcq-queue's memory to
// fault in).
type tableSink struct {
	codes  string
	t      *cli.Aligned
	header bool
	rows   int                // rows added, without the header
	keys   []apitype.QueueKey // each queue row's order, when several pages come
	sorted []int              // the order of the rows, when sorted
}

func newTableSink(codes string, header bool) *tableSink {
	codes = strings.ReplaceAll(codes, " ", "")
	t := &tableSink{codes: codes, t: newTable(codes, 0), header: header}
	if header {
		for _, c := range []byte(codes) {
			t.t.Cells = append(t.t.Cells, headers[c]...)
			t.t.End()
		}
	}
	return t
}

// grow makes room for n more rows; more says more pages follow, so the
// rows' order is kept to sort their union.
func (t *tableSink) grow(n int, more bool) {
	t.t.Grow(n)
	if more && t.keys == nil {
		t.keys = make([]apitype.QueueKey, 0, 2*n)
	}
}

func (t *tableSink) add(r *Row) {
	for _, c := range []byte(t.codes) {
		t.t.Cells = r.appendValue(t.t.Cells, c)
		t.t.End()
	}
	t.rows++
	if t.keys != nil {
		t.keys = append(t.keys, r.queueKey())
	}
}

// sortQueue orders the rows added so far in queue order.
func (t *tableSink) sortQueue() {
	t.sorted = make([]int, len(t.keys))
	for i := range t.sorted {
		t.sorted[i] = i
	}
	slices.SortStableFunc(t.sorted, func(a, b int) int { return t.keys[a].Compare(t.keys[b]) })
}

func (t *tableSink) write(w io.Writer) error {
	if t.rows == 0 && !t.header {
		return nil
	}
	if t.sorted == nil {
		return t.t.Write(w, nil)
	}
	// The header, the queue's rows in order, then the rows added after
	// the sort (the recently ended).
	first := 0
	var order []int
	if t.header {
		order, first = append(order, 0), 1
	}
	for _, i := range t.sorted {
		order = append(order, first+i)
	}
	for i := first + len(t.sorted); i < first+t.rows; i++ {
		order = append(order, i)
	}
	return t.t.Write(w, order)
}

// newTable is an aligned table of the columns of codes: names, users and
// reasons left-aligned, everything else right-aligned.
func newTable(codes string, rows int) *cli.Aligned {
	right := make([]bool, len(codes))
	for i, c := range []byte(codes) {
		right[i] = c != 'R' && c != 'E' && c != 'j' && c != 'u'
	}
	return cli.NewAligned(right, rows)
}

// iterateUnit is what one --iterate step is; tests shorten it.
var iterateUnit = time.Second

// printOutput writes one snapshot of the queue.
func printOutput(w io.Writer, opts *Options, out *Output, cols []column) error {
	switch {
	case out.table != nil:
		return out.table.write(w)
	case opts.JSON:
		return writeOutput(w, out)
	case cols != nil:
		renderFormat(w, cols, out.Jobs, !opts.NoHeader)
		return nil
	}
	return renderTable(w, tableCodes(opts), out.Jobs, !opts.NoHeader)
}

func queueRun(ctx context.Context, opts *Options) error {
	q, err := parseQuery(opts)
	if err != nil {
		return err
	}
	var cols []column
	if opts.Format != "" {
		if cols, err = ParseFormat(opts.Format); err != nil {
			return err
		}
	}
	s, err := opts.F.Client()
	if err != nil {
		return err
	}
	w := opts.F.IO.Out
	it := newIteration(ctx, opts, s)
	defer it.close()
	for {
		out, err := it.read(ctx, func() (*Output, error) { return fetch(ctx, opts, s, q) })
		if err != nil {
			return err
		}
		if opts.Iterate == 0 {
			return printOutput(w, opts, out, cols)
		}
		var buf bytes.Buffer
		if opts.F.IO.IsStdoutTTY() {
			buf.WriteString("\x1b[H\x1b[2J") // redraw in place
		}
		fmt.Fprintln(&buf, opts.F.Now().Format(time.ANSIC))
		if err := printOutput(&buf, opts, out, cols); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		if err := it.wait(ctx, time.Duration(opts.Iterate)*iterateUnit); err != nil {
			return err
		}
	}
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }
