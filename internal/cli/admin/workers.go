package admin

import (
	"context"
	"fmt"
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
	return parent("worker", "Drain, resume, create, resize or delete a worker", "drain, resume, create, set or delete",
		newWorkerStateCmd(f, runF, ActionWorkerDrain), newWorkerStateCmd(f, runF, ActionWorkerResume),
		newWorkerCreateCmd(f, runF), newWorkerSetCmd(f, runF), newWorkerDeleteCmd(f, runF))
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
	var offline bool
	c := leaf(f, runF, ActionWorkerCreate, &cobra.Command{
		Use:   "create NAME --node NODE --cpus N --mem GB [flags]",
		Short: "Add a worker",
		Long: `Add a worker named NAME (unique, 1 to 100 characters without spaces, '/'
or ','), online, whose jobs the rcqd with node.name NODE runs. The workers
an rcqd declares in its configuration are registered by that rcqd at start
and need no create.

NODE must be a node whose rcqd has run on this database (heartbeated):
anything else is refused, naming the known nodes, so a typo never makes a
worker that takes jobs nobody runs. To add a worker for a node whose rcqd
has not started yet, create it --offline: it comes online with that rcqd's
first heartbeat. --mem is required and at least 1 (a worker of 0 GB would
take no job).`,
		Example: "  rcq-admin worker create gpu-a --node node1 --cpus 32 --mem 256 --gpus 4\n" +
			"  rcq-admin worker create spare --node node9 --cpus 8 --mem 32 --offline",
		Args: cli.ArgsUsage(cobra.ExactArgs(1)),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Name, o.Node = strings.TrimSpace(args[0]), strings.TrimSpace(node)
		if o.Name == "" {
			return cli.Usagef("the worker name is empty: give a name such as gpu-a")
		}
		if o.Node == "" || !cmd.Flags().Changed("cpus") || !cmd.Flags().Changed("mem") {
			return cli.Usagef("--node, --cpus and --mem are required: e.g. --node node1 --cpus 32 --mem 128")
		}
		o.CPUs, o.Mem, o.GPUs = changed(cmd, "cpus", cpus), changed(cmd, "mem", mem), changed(cmd, "gpus", gpus)
		if mem < 1 {
			return cli.Usagef("--mem %d: a worker needs at least 1 GB (one of 0 GB would take no job)", mem)
		}
		o.Offline = offline
		return checkSizes(o)
	})
	c.Flags().StringVar(&node, "node", "", "the `NODE` (node.name of the rcqd) that runs the worker's jobs")
	c.Flags().BoolVar(&offline, "offline", false, "create it offline: for a node whose rcqd has not started yet (it comes online with the first heartbeat)")
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

func newWorkerDeleteCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var force bool
	c := leaf(f, runF, ActionWorkerDelete, &cobra.Command{
		Use:   "delete ID|NAME [flags]",
		Short: "Delete a worker",
		Long: `Delete the worker with id ID or name NAME. It leaves every list and its
name is free again; the jobs that ran there keep naming it in rcq-acct.
While jobs run on it the delete is refused, naming them (exit status 1);
with --force the worker is drained first (nothing new starts there), the
command waits for its jobs to end, then deletes it. Interrupting a --force
delete leaves the worker drained.`,
		Example:           "  rcq-admin worker delete typo-worker\n  rcq-admin worker delete node7 --force",
		Args:              cli.ArgsUsage(cobra.ExactArgs(1)),
		ValidArgsFunction: completeWorkers(f),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Force = force
		return setWorkerTarget(o, args[0])
	})
	c.Flags().BoolVar(&force, "force", false, "drain the worker, wait for its jobs to end, then delete it")
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

func workerDeleteRun(ctx context.Context, o *Options, s *cli.Session) error {
	id, err := workerID(ctx, s, o.Target)
	if err != nil {
		return err
	}
	if o.Force {
		fmt.Fprintf(o.F.IO.ErrOut, "Draining worker %d and waiting for its jobs to end...\n", id)
	}
	if err := s.DeleteWorker(ctx, id, o.Force); err != nil {
		return err
	}
	return o.printResult(map[string]any{"id": id, "deleted": true}, "Deleted worker %d (%s)", id, o.Target)
}

func workerCreateRun(ctx context.Context, o *Options, s *cli.Session) error {
	req := apitype.WorkerRequest{Name: o.Name, Node: o.Node, CPUCores: o.CPUs, MemoryGB: o.Mem, GPUCount: o.GPUs}
	if o.Offline {
		req.Status = string(rcq.WorkerOffline)
	}
	w, err := s.CreateWorker(ctx, req)
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
