package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sizes are the scenario parameters; the defaults are issue 6's.
type Sizes struct {
	Submits     int   // scenario 1: submits per row
	Clients     []int // scenarios 1 and 2: concurrencies
	BatchJobs   int   // scenario 1: jobs per batch request
	Batches     int   // scenario 1: batch requests (median)
	PGSeconds   int   // scenario 2: seconds per pgbench run
	LatencyJobs int   // scenario 3
	E2EJobs     int   // scenario 4
	E2ECores    int   // scenario 4: total CPU cores of the workers
	SpawnSecs   int   // scenario 4: seconds of the raw spawn loop
	CLIJobs     int   // scenario 5: shell loop length
	CLITimed    int   // scenario 5: individually timed calls
	QueueSizes  []int // scenario 6 (and 8: the memory levels are the 2nd and 3rd)
	QueueRuns   int   // scenario 6: runs per median
	SchedCycles int   // scenario 7: cycles timed
	SchedWorker int   // scenario 7: workers
	// Scenario 9, against Slurm.
	SlurmSubmits int // one-call submits of each
	SlurmPending int // held jobs in each queue for the queue view and the cancel
	SlurmRuns    int // queue views of each (median)
	SlurmCancels int // cancel rounds (median); each reloads both queues
	// Scenario 10.
	ShowRuns    int // rcq-show runs (median)
	InfoWorkers int // workers rcq-info lists
	AcctJobs    int // finished jobs rcq-acct reads
	AcctRuns    int // rcq-acct runs (median); rcq-info runs twice as many
}

func fullSizes() Sizes {
	return Sizes{Submits: 10_000, Clients: []int{1, 4, 16}, BatchJobs: 10_000, Batches: 3, PGSeconds: 5,
		LatencyJobs: 200, E2EJobs: 2000, E2ECores: 8, SpawnSecs: 3, CLIJobs: 1000, CLITimed: 200,
		QueueSizes: []int{1000, 10_000, 100_000}, QueueRuns: 5, SchedCycles: 3, SchedWorker: 1000,
		SlurmSubmits: 50, SlurmPending: 10_000, SlurmRuns: 10, SlurmCancels: 3,
		ShowRuns: 30, InfoWorkers: 1000, AcctJobs: 100_000, AcctRuns: 5}
}

func quickSizes() Sizes {
	return Sizes{Submits: 1000, Clients: []int{1, 4, 16}, BatchJobs: 5000, Batches: 1, PGSeconds: 2,
		LatencyJobs: 40, E2EJobs: 300, E2ECores: 8, SpawnSecs: 1, CLIJobs: 100, CLITimed: 30,
		QueueSizes: []int{1000, 5000, 20_000}, QueueRuns: 3, SchedCycles: 1, SchedWorker: 200,
		SlurmSubmits: 10, SlurmPending: 1000, SlurmRuns: 3, SlurmCancels: 1,
		ShowRuns: 10, InfoWorkers: 200, AcctJobs: 10_000, AcctRuns: 3}
}

// Bench runs the scenarios and collects their results.
type Bench struct {
	bin     string
	keep    bool
	sizes   Sizes
	log     io.Writer
	daemons []*daemon
	results []Result
	pgTPS   map[int]float64 // scenario 2, by clients
	// failures are measures that failed without stopping their scenario.
	failures []string
	// profileDir, when set, receives CPU profiles of rcqd during the
	// measures that bound a goal (-profile).
	profileDir string
	submit     map[string]float64 // scenario 1's jobs/s, by submitKey
	// slurmParts are the parts of scenario 9 to run (-slurm-parts):
	// "submit", "queue", "cancel"; nil runs every part.
	slurmParts map[string]bool
}

// slurmPart reports whether scenario 9 runs its part name.
func (b *Bench) slurmPart(name string) bool { return b.slurmParts == nil || b.slurmParts[name] }

func (b *Bench) add(rs ...Result) {
	for _, r := range rs {
		b.results = append(b.results, r)
		fmt.Fprintf(b.log, "  %d %s [%s] %s = %s\n", r.Scenario, r.Name, r.Params, r.Metric, fmtValue(r.Value))
	}
}

func (b *Bench) logf(format string, a ...any) {
	fmt.Fprintf(b.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// stopAll stops every daemon still running.
func (b *Bench) stopAll() {
	for _, d := range b.daemons {
		if err := d.stop(b.keep); err != nil {
			fmt.Fprintf(b.log, "rcq-bench: stop rcqd in %s: %v\n", d.Dir, err)
		}
	}
	b.daemons = nil
}

// with runs f on a fresh daemon and stops it afterwards.
func (b *Bench) with(ctx context.Context, o daemonOpts, f func(*daemon) error) error {
	d, err := b.startDaemon(ctx, o)
	if err == nil {
		err = f(d)
	}
	b.stopAll()
	return err
}

// Main runs rcq-bench with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rcq-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonPath := fs.String("json", "bench-results.json", "write the results as JSON to `PATH` (empty: do not)")
	bin := fs.String("bin", "bin", "directory holding rcqd and the rcq commands (make build)")
	quick := fs.Bool("quick", false, "reduced sizes for a quick check (about a minute); the figures are not issue 6's")
	only := fs.String("only", "", "comma-separated scenarios to run (1-11; 2 needs 1, 8 runs with 6 and 7, 9 needs Slurm); default all but 9")
	withSlurm := fs.Bool("slurm", false, "run scenario 9 only: rcq side by side with a running Slurm (sbatch, squeue, scancel) on this machine; fails when Slurm is not there")
	schedBench := fs.Bool("sched", true, "scenario 7 also runs the scheduler's go test benchmarks at 100k jobs x 1000 workers (needs the source tree)")
	keep := fs.Bool("keep", false, "keep the state directories (logs, databases) for inspection")
	profileDir := fs.String("profile", "", "write CPU profiles of rcqd during the measures with goals into `DIR`")
	slurmParts := fs.String("slurm-parts", "submit,queue,cancel", "the `PARTS` of scenario 9 to run, comma-separated: submit, queue, cancel")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rcq-bench [flags]\n\nRuns rcq's end-to-end benchmarks (docs/performance.md) on throwaway rcqd instances\nand prints one table.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	want := map[int]bool{}
	switch {
	case *withSlurm && *only != "":
		fmt.Fprintln(stderr, "rcq-bench: -slurm runs scenario 9 only; -only 9 is the same, without -slurm")
		return 2
	case *withSlurm:
		want[9] = true
	case *only == "":
		// Scenario 9 needs Slurm running beside rcq: only on request.
		for i := 1; i <= 11; i++ {
			want[i] = i != 9
		}
	default:
		for _, s := range strings.Split(*only, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 || n > 11 {
				fmt.Fprintf(stderr, "rcq-bench: -only: %q is not a scenario 1-11\n", s)
				return 2
			}
			want[n] = true
		}
	}
	parts := map[string]bool{}
	for _, p := range strings.Split(*slurmParts, ",") {
		p = strings.TrimSpace(p)
		if p != "submit" && p != "queue" && p != "cancel" {
			fmt.Fprintf(stderr, "rcq-bench: -slurm-parts: %q is not a part of scenario 9: use submit, queue, cancel, comma-separated\n", p)
			return 2
		}
		parts[p] = true
	}
	if want[9] {
		// Before anything starts: without Slurm this mode has nothing to
		// compare with, and says so.
		if _, err := findSlurm(context.Background()); err != nil {
			fmt.Fprintf(stderr, "rcq-bench: scenario 9: %v\n", err)
			return 1
		}
	}
	binDir, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintf(stderr, "rcq-bench: %v\n", err)
		return 1
	}
	for _, name := range []string{"rcqd", "rcq-login", "rcq-submit", "rcq-queue", "rcq-cancel", "rcq-show", "rcq-info", "rcq-acct"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			fmt.Fprintf(stderr, "rcq-bench: %s not found in %s: run make build, or pass -bin DIR\n", name, binDir)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &Bench{bin: binDir, keep: *keep, sizes: fullSizes(), log: stderr, pgTPS: map[int]float64{}, submit: map[string]float64{}, slurmParts: parts}
	if *quick {
		b.sizes = quickSizes()
	}
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "rcq-bench: %v\n", err)
			return 1
		}
		b.profileDir = *profileDir
	}
	defer b.stopAll() // also on panic: no rcqd or PostgreSQL left behind

	rep := &Report{Date: time.Now().UTC(), Machine: machine(), Quick: *quick}
	start := time.Now()
	type scenario struct {
		n   []int
		run func(context.Context) error
	}
	for _, s := range []scenario{
		{[]int{1, 2}, func(ctx context.Context) error { return b.submitThroughput(ctx, want[1], want[2]) }},
		{[]int{3}, b.submitToStart},
		{[]int{4}, b.endToEnd},
		{[]int{5}, b.commandLine},
		{[]int{6, 7, 8}, func(ctx context.Context) error { return b.queueSchedMemory(ctx, want[6], want[7], want[8]) }},
		{[]int{7}, func(ctx context.Context) error {
			if !*schedBench {
				return nil
			}
			return b.schedGoBench(ctx)
		}},
		{[]int{9}, b.versusSlurm},
		{[]int{10}, b.details},
		{[]int{11}, b.eventStreams},
	} {
		run := false
		for _, n := range s.n {
			run = run || want[n]
		}
		if !run {
			continue
		}
		if err := s.run(ctx); err != nil {
			b.stopAll()
			msg := fmt.Sprintf("scenario %v: %v", s.n, err)
			rep.Failures = append(rep.Failures, msg)
			fmt.Fprintf(stderr, "rcq-bench: %s\n", msg)
		}
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "rcq-bench: interrupted")
			break
		}
	}
	b.stopAll()
	// One table in scenario order (6 and 8 are measured interleaved).
	sort.SliceStable(b.results, func(i, j int) bool { return b.results[i].Scenario < b.results[j].Scenario })
	rep.Results = b.results
	rep.Failures = append(b.failures, rep.Failures...)
	rep.Seconds = time.Since(start).Seconds()
	fmt.Fprintln(stdout)
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "rcq-bench: %v\n", err)
		return 1
	}
	if *jsonPath != "" {
		if err := rep.WriteJSON(*jsonPath); err != nil {
			fmt.Fprintf(stderr, "rcq-bench: %v\n", err)
			return 1
		}
	}
	switch {
	case ctx.Err() != nil:
		return 130
	case len(rep.Failures) > 0:
		return 1
	}
	return 0
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Root: os.Geteuid() == 0}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				m.MemoryMB = kb / 1024
			}
		}
	}
	if out, err := exec.Command("postgres", "--version").Output(); err == nil {
		m.PostgreSQL = strings.TrimSpace(strings.TrimPrefix(string(out), "postgres "))
	}
	return m
}
