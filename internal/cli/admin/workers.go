package admin

import (
	"context"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// timeLayout is rcq-queue's: local time to the second.
const timeLayout = "2006-01-02T15:04:05"

func newWorkersCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return leaf(f, runF, ActionWorkers, &cobra.Command{
		Use:   "workers [flags]",
		Short: "List workers",
		Long: `List the workers, by id, as a table:

  ID NAME NODE CPUS MEM GPUS STATUS LAST_HEARTBEAT

NODE is the rcqd that runs the worker's jobs, MEM its memory in GB, STATUS
online (takes new jobs), drained (finishes its jobs, takes no new ones) or
offline (its rcqd stopped heartbeating), LAST_HEARTBEAT in local time.
--json prints {"workers": [{"id", "name", "node", "cpu_cores", "memory_gb",
"gpu_count", "status", "last_heartbeat"}], "count"}.`,
		Example: "  rcq-admin workers\n  rcq-admin workers --json",
		Args:    cli.ArgsUsage(cobra.NoArgs),
	}, nil)
}

func newWorkerCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return parent("worker", "Drain, resume, create or resize a worker", "drain, resume, create or set",
		newWorkerStateCmd(f, runF, ActionWorkerDrain), newWorkerStateCmd(f, runF, ActionWorkerResume),
		newWorkerCreateCmd(f, runF), newWorkerSetCmd(f, runF))
}

func newWorkerStateCmd(f *cli.Factory, runF func(*Options) error, action string) *cobra.Command {
	c := &cobra.Command{
		Use:   "drain ID|NAME [flags]",
		Short: "Start no new jobs on a worker",
		Long: `Drain the worker with id ID or name NAME (like scontrol update
state=drain): the jobs running there finish, the scheduler starts nothing
new there (pending jobs that only it could hold wait with reason
WorkerDrained). A drained worker stays drained across rcqd restarts until
rcq-admin worker resume.`,
		Example: "  rcq-admin worker drain node7",
	}
	if action == ActionWorkerResume {
		c.Use = "resume ID|NAME [flags]"
		c.Short = "Put a worker back online"
		c.Long = `Put the worker with id ID or name NAME back online: the scheduler starts
jobs there again. (A worker whose rcqd is not running is marked offline
again within about a minute.)`
		c.Example = "  rcq-admin worker resume node7"
	}
	c.Args = cli.ArgsUsage(cobra.ExactArgs(1))
	c.ValidArgsFunction = completeWorkers(f)
	return leaf(f, runF, action, c, func(cmd *cobra.Command, o *Options, args []string) error {
		return setWorkerTarget(o, args[0])
	})
}

func newWorkerCreateCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var node string
	var cpus, mem, gpus int
	c := leaf(f, runF, ActionWorkerCreate, &cobra.Command{
		Use:   "create NAME --node NODE --cpus N [flags]",
		Short: "Add a worker",
		Long: `Add a worker named NAME (unique, 1 to 100 characters without spaces, '/'
or ','), online, whose jobs the rcqd with node.name NODE runs. The workers
an rcqd declares in its configuration are registered by that rcqd at start
and need no create.`,
		Example: "  rcq-admin worker create gpu-a --node node1 --cpus 32 --mem 256 --gpus 4",
		Args:    cli.ArgsUsage(cobra.ExactArgs(1)),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Name, o.Node = strings.TrimSpace(args[0]), strings.TrimSpace(node)
		if o.Name == "" {
			return cli.Usagef("the worker name is empty: give a name such as gpu-a")
		}
		if o.Node == "" || !cmd.Flags().Changed("cpus") {
			return cli.Usagef("--node and --cpus are required: e.g. --node node1 --cpus 32")
		}
		o.CPUs, o.Mem, o.GPUs = changed(cmd, "cpus", cpus), changed(cmd, "mem", mem), changed(cmd, "gpus", gpus)
		return checkSizes(o)
	})
	c.Flags().StringVar(&node, "node", "", "the `NODE` (node.name of the rcqd) that runs the worker's jobs")
	_ = c.RegisterFlagCompletionFunc("node", cobra.NoFileCompletions)
	sizeFlags(c, &cpus, &mem, &gpus)
	return c
}

func newWorkerSetCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var cpus, mem, gpus int
	c := leaf(f, runF, ActionWorkerSet, &cobra.Command{
		Use:   "set ID|NAME [flags]",
		Short: "Change a worker's size",
		Long: `Change the CPU cores, memory and/or GPUs of the worker with id ID or name
NAME; what is not given stays as it is. Shrinking a worker below what its
running jobs use is allowed: they keep running, and nothing more starts
there until enough of them end. A configured worker gets its configured
size back when its rcqd restarts.`,
		Example:           "  rcq-admin worker set gpu-a --mem 128\n  rcq-admin worker set 2 --cpus 16 --gpus 0",
		Args:              cli.ArgsUsage(cobra.ExactArgs(1)),
		ValidArgsFunction: completeWorkers(f),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		if err := setWorkerTarget(o, args[0]); err != nil {
			return err
		}
		o.CPUs, o.Mem, o.GPUs = changed(cmd, "cpus", cpus), changed(cmd, "mem", mem), changed(cmd, "gpus", gpus)
		if o.CPUs == nil && o.Mem == nil && o.GPUs == nil {
			return cli.Usagef("nothing to change: give --cpus, --mem or --gpus")
		}
		return checkSizes(o)
	})
	sizeFlags(c, &cpus, &mem, &gpus)
	return c
}

func sizeFlags(c *cobra.Command, cpus, mem, gpus *int) {
	c.Flags().IntVar(cpus, "cpus", 0, "`N` CPU cores (at least 1)")
	c.Flags().IntVar(mem, "mem", 0, "memory in `GB`")
	c.Flags().IntVar(gpus, "gpus", 0, "`N` GPUs")
	for _, name := range []string{"cpus", "mem", "gpus"} {
		_ = c.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
}

func checkSizes(o *Options) error {
	lim := rcq.DefaultLimits
	for _, c := range []struct {
		flag string
		n    *int
		r    rcq.IntRange
	}{{"--cpus", o.CPUs, lim.CPUCoresRange()}, {"--mem", o.Mem, lim.MemoryGBRange()}, {"--gpus", o.GPUs, lim.GPUsRange()}} {
		if c.n != nil && !c.r.Contains(*c.n) {
			return cli.Usagef("%s %d: use %s", c.flag, *c.n, c.r)
		}
	}
	return nil
}

func setWorkerTarget(o *Options, arg string) error {
	o.Target = strings.TrimSpace(arg)
	if o.Target == "" {
		return cli.Usagef("the worker is empty: give its id or name (rcq-admin workers lists them)")
	}
	return nil
}

func workersRun(ctx context.Context, o *Options, s *cli.Session) error {
	list, err := s.Workers(ctx)
	if err != nil {
		return err
	}
	t := newTable("ID", "NAME", "NODE", "CPUS", "MEM", "GPUS", "STATUS", "LAST_HEARTBEAT").rightAlign(0, 3, 4, 5)
	for _, w := range list.Workers {
		hb := "-"
		if !w.LastHeartbeat.IsZero() {
			hb = w.LastHeartbeat.Local().Format(timeLayout)
		}
		t.add(strconv.FormatInt(w.ID, 10), w.Name, w.Node, strconv.Itoa(w.CPUCores), strconv.Itoa(w.MemoryGB)+"G",
			strconv.Itoa(w.GPUCount), w.Status, hb)
	}
	return o.printList(list, t)
}

// workerID resolves an id or a name into a worker id: a positive number is
// an id, anything else a name looked up in the list of workers.
func workerID(ctx context.Context, s *cli.Session, target string) (int64, error) {
	if id, err := strconv.ParseInt(target, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	list, err := s.Workers(ctx)
	if err != nil {
		return 0, err
	}
	for _, w := range list.Workers {
		if w.Name == target {
			return w.ID, nil
		}
	}
	return 0, rcq.Errorf(rcq.KindNotFound, "worker_not_found", "no worker named %q: rcq-admin workers lists them", target)
}

func workerStateRun(ctx context.Context, o *Options, s *cli.Session) error {
	id, err := workerID(ctx, s, o.Target)
	if err != nil {
		return err
	}
	if o.Action == ActionWorkerDrain {
		w, err := s.DrainWorker(ctx, id)
		if err != nil {
			return err
		}
		return o.printResult(w, "Drained worker %d (%s): its running jobs finish, no new job starts there", w.ID, w.Name)
	}
	w, err := s.ResumeWorker(ctx, id)
	if err != nil {
		return err
	}
	return o.printResult(w, "Resumed worker %d (%s): it takes new jobs", w.ID, w.Name)
}

func workerCreateRun(ctx context.Context, o *Options, s *cli.Session) error {
	w, err := s.CreateWorker(ctx, apitype.WorkerRequest{Name: o.Name, Node: o.Node, CPUCores: o.CPUs, MemoryGB: o.Mem, GPUCount: o.GPUs})
	if err != nil {
		return err
	}
	return printWorker(o, "Created", w)
}

func workerSetRun(ctx context.Context, o *Options, s *cli.Session) error {
	id, err := workerID(ctx, s, o.Target)
	if err != nil {
		return err
	}
	w, err := s.UpdateWorker(ctx, id, apitype.WorkerRequest{CPUCores: o.CPUs, MemoryGB: o.Mem, GPUCount: o.GPUs})
	if err != nil {
		return err
	}
	return printWorker(o, "Updated", w)
}

func printWorker(o *Options, verb string, w *apitype.Worker) error {
	return o.printResult(w, "%s worker %d (%s) on node %s: %d CPUs, %dG memory, %d GPUs, %s",
		verb, w.ID, w.Name, w.Node, w.CPUCores, w.MemoryGB, w.GPUCount, w.Status)
}
