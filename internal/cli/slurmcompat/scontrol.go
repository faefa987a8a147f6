package slurmcompat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/control"
	"github.com/rcq-project/rcq/internal/cli/show"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// minJobAge is how long a finished job stays in "scontrol show job" without
// an id, as Slurm's MinJobAge (its default, 300 s).
const minJobAge = 300 * time.Second

func newScontrol(f *cli.Factory) *cobra.Command {
	var oneliner, ver bool
	cmd := &cobra.Command{
		Use:   "scontrol [flags] command [args...]",
		Short: "Show and change rcq jobs (Slurm's scontrol)",
		Long: `scontrol under rcq: "show job [ID[,ID...]]" (show jobid too; every job of
yours running, pending or ended in the last 5 minutes when no id is given),
"show config", "show partition", "show node", "hold", "release",
"update JobId=ID KEY=VALUE...", "requeue" and "requeuehold" (rcq-control),
"version", "ping". -o/--oneliner prints each record on one line; -d and -a are
accepted.

` + cli.ExitStatusHelp,
		Example: "  scontrol show job 42\n  scontrol -o show job 42\n  scontrol show config | grep ClusterName\n  scontrol hold 42",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ver {
				fmt.Fprintln(f.IO.Out, version())
				return nil
			}
			if len(args) == 0 {
				return slurmError("error: no command: use show job|config|partition|node, hold, release, update, requeue, requeuehold, version or ping")
			}
			ctx := cmd.Context()
			switch verb := strings.ToLower(args[0]); verb {
			case "show":
				if len(args) < 2 {
					return slurmError("error: too few arguments for keyword:show")
				}
				return scontrolShow(ctx, f, strings.ToLower(args[1]), args[2:], oneliner)
			case "hold", "uhold", "release", "update", "requeue":
				if verb == "uhold" {
					args[0] = "hold"
				}
				return runRCQ(ctx, f, control.NewRootCmd(f), append([]string{strings.ToLower(args[0])}, args[1:]...))
			case "requeuehold":
				return runRCQ(ctx, f, control.NewRootCmd(f), append([]string{"requeue", "--hold"}, args[1:]...))
			case "version", "--version":
				fmt.Fprintln(f.IO.Out, version())
				return nil
			case "ping":
				s, err := f.Client()
				if err != nil {
					return err
				}
				host, _ := os.Hostname()
				state := "UP"
				if h, err := s.Health(ctx); err != nil || h.Status != "healthy" {
					state = "DOWN"
				}
				fmt.Fprintf(f.IO.Out, "Slurmctld(primary) at %s is %s\n", host, state)
				if state != "UP" {
					return &cli.ExitError{Code: cli.ExitFailure}
				}
				return nil
			}
			return slurmError("error: invalid keyword: %s", args[0])
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&oneliner, "oneliner", "o", false, "each record on one line")
	fl.CountP("details", "d", "accepted; rcq shows every detail")
	noEffect(cmd, "all:a", "quiet:Q", "verbose:v", "future")
	fl.StringP("clusters", "M", "", "`NAME` of the cluster: "+slurm.ClusterName)
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

func scontrolShow(ctx context.Context, f *cli.Factory, what string, args []string, oneliner bool) error {
	s, err := f.Client()
	if err != nil {
		return err
	}
	var b strings.Builder
	switch what {
	case "job", "jobs", "jobid":
		if err := showJobs(ctx, f, s, args, &b); err != nil {
			return err
		}
	case "config":
		writeConfig(&b, f.Now())
		oneliner = false
	case "partition", "partitions":
		if len(args) > 0 && args[0] != slurm.Partition {
			return slurmError("Partition %s not found", args[0])
		}
		nodes, err := s.Nodes(ctx)
		if err != nil {
			return err
		}
		cpus := 0
		var names []string
		for _, w := range nodes.Workers {
			cpus += w.CPUCores
			names = append(names, w.Name)
		}
		fmt.Fprintf(&b, "PartitionName=%s\n   AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL\n   Default=YES QoS=N/A\n"+
			"   MaxNodes=1 MaxTime=UNLIMITED MinNodes=0\n   Nodes=%s\n   PriorityTier=1 RootOnly=NO\n   State=UP TotalCPUs=%d TotalNodes=%d\n",
			slurm.Partition, strings.Join(names, ","), cpus, len(names))
	case "node", "nodes":
		nodes, err := s.Nodes(ctx)
		if err != nil {
			return err
		}
		for i, w := range nodes.Workers {
			if len(args) > 0 && args[0] != w.Name {
				continue
			}
			if i > 0 && b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "NodeName=%s Arch=x86_64\n   CPUAlloc=%d CPUTot=%d\n   NodeHostName=%s\n   RealMemory=%d AllocMem=%d\n   State=%s\n   Partitions=%s\n",
				w.Name, w.AllocCPUs, w.CPUCores, w.Node, w.MemoryGB*1024, w.AllocMemoryGB*1024, strings.ToUpper(w.State), slurm.Partition)
		}
		if b.Len() == 0 && len(args) > 0 {
			return slurmError("Node %s not found", args[0])
		}
	default:
		return slurmError("error: invalid entity:%s for keyword:show", what)
	}
	out := b.String()
	if oneliner {
		out = strings.ReplaceAll(out, "\n   ", " ")
	}
	_, err = f.IO.Out.Write([]byte(out))
	return err
}

// showJobs writes the jobs named (scontrol show job ID[,ID...]), or every
// job of the caller's that Slurm would still hold in memory.
func showJobs(ctx context.Context, f *cli.Factory, s *cli.Session, args []string, b *strings.Builder) error {
	now := f.Now()
	var jobs []apitype.Job
	if len(args) > 0 {
		ids, err := cli.ParseJobIDs(args)
		if err != nil {
			return slurmError("error: Invalid job id specified")
		}
		for _, id := range ids {
			j, err := s.Job(ctx, id)
			if errors.Is(err, rcq.ErrNotFound) {
				return errInvalidJobID(f)
			}
			if err != nil {
				return err
			}
			jobs = append(jobs, *j)
		}
	} else {
		list, err := s.Jobs(ctx, client.JobsQuery{States: []string{"all"}, Limit: 1000, Newest: true, Since: now.Add(-24 * time.Hour)})
		if err != nil {
			return err
		}
		for _, j := range list.Jobs {
			if rcq.JobState(j.Status).Terminal() && (j.CompletedAt == nil || now.Sub(*j.CompletedAt) > minJobAge) {
				continue
			}
			jobs = append(jobs, j)
		}
		if len(jobs) == 0 {
			b.WriteString("No jobs in the system\n")
			return nil
		}
	}
	for i := range jobs {
		if i > 0 {
			b.WriteByte('\n')
		}
		j := &jobs[i]
		if j.UnixUser != "" {
			// Slurm's UserId is the login and its uid.
			j.User = j.UnixUser
			if u, err := user.Lookup(j.UnixUser); err == nil {
				if uid, err := strconv.ParseInt(u.Uid, 10, 64); err == nil {
					j.UserID = uid
				}
			}
		}
		show.Write(b, j, now)
	}
	return nil
}

// writeConfig writes the lines of "scontrol show config" that tools grep
// for, with rcq's values.
func writeConfig(b *strings.Builder, now time.Time) {
	host, _ := os.Hostname()
	fmt.Fprintf(b, "Configuration data as of %s\n", now.Format(slurm.TimeLayout))
	for _, kv := range [][2]string{
		{"AccountingStorageType", "accounting_storage/rcq"},
		{"ClusterName", slurm.ClusterName},
		{"DefMemPerNode", "1024"},
		{"JobAcctGatherType", "jobacct_gather/rcq"},
		{"MinJobAge", "300 sec"},
		{"MpiDefault", "none"},
		{"PriorityType", "priority/multifactor"},
		{"SchedulerType", "sched/backfill"},
		{"SelectType", "select/cons_tres"},
		{"SlurmctldHost[0]", host},
		{"SLURM_VERSION", slurm.Version},
	} {
		fmt.Fprintf(b, "%-23s = %s\n", kv[0], kv[1])
	}
}
