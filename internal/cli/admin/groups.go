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

func newGroupsCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return leaf(f, runF, ActionGroups, &cobra.Command{
		Use:   "groups [flags]",
		Short: "List groups",
		Long: `List the groups, by id, as a table:

  ID NAME CPU_QUOTA PRIORITY

CPU_QUOTA is the CPU-hours the group may use per fair-share window before
its jobs lose priority; PRIORITY (1-10) is added to each of its jobs'.
--json prints {"groups": [{"id", "name", "cpu_quota", "priority"}], "count"}.`,
		Example: "  rcq-admin groups\n  rcq-admin groups --json",
		Args:    cli.ArgsUsage(cobra.NoArgs),
	}, nil)
}

func newGroupCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return parent("group", "Create a group or change one", "create or set",
		newGroupCreateCmd(f, runF), newGroupSetCmd(f, runF))
}

func newGroupCreateCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var quota float64
	var priority int
	c := leaf(f, runF, ActionGroupCreate, &cobra.Command{
		Use:   "create NAME [flags]",
		Short: "Create a group",
		Long: `Create a group named NAME (unique, 1 to 100 characters). Without --quota
and --priority it gets rcqd's defaults (1000 CPU-hours, priority 1).
Accounts join it with rcq-admin user set --group ID or at registration.`,
		Example: "  rcq-admin group create physics --quota 5000 --priority 3",
		Args:    cli.ArgsUsage(cobra.ExactArgs(1)),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Name = strings.TrimSpace(args[0])
		if o.Name == "" {
			return cli.Usagef("the group name is empty: give a name such as physics")
		}
		o.Quota, o.Priority = changed(cmd, "quota", quota), changed(cmd, "priority", priority)
		return checkGroupFlags(o)
	})
	groupFlags(c, &quota, &priority)
	return c
}

func newGroupSetCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var quota float64
	var priority int
	c := leaf(f, runF, ActionGroupSet, &cobra.Command{
		Use:   "set ID [flags]",
		Short: "Change a group's CPU quota or priority",
		Long: `Change the CPU quota and/or the priority of group ID; what is not given
stays as it is. The scheduler uses the new values from its next cycle. A
group's name cannot be changed.`,
		Example:           "  rcq-admin group set 2 --quota 8000\n  rcq-admin group set 2 --priority 5",
		Args:              cli.ArgsUsage(cobra.ExactArgs(1)),
		ValidArgsFunction: completeGroups(f, true),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		if _, err := parseGroupID(args[0]); err != nil {
			return err
		}
		o.Target = args[0]
		o.Quota, o.Priority = changed(cmd, "quota", quota), changed(cmd, "priority", priority)
		if o.Quota == nil && o.Priority == nil {
			return cli.Usagef("nothing to change: give --quota, --priority or both")
		}
		return checkGroupFlags(o)
	})
	groupFlags(c, &quota, &priority)
	return c
}

func groupFlags(c *cobra.Command, quota *float64, priority *int) {
	c.Flags().Float64Var(quota, "quota", 0, "CPU quota: `CPU_HOURS` per fair-share window (0 to 1e12)")
	c.Flags().IntVar(priority, "priority", 0, "priority `N` (1-10) added to each of the group's jobs")
	_ = c.RegisterFlagCompletionFunc("quota", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("priority", cobra.FixedCompletions(
		[]cobra.Completion{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, cobra.ShellCompDirectiveNoFileComp))
}

func checkGroupFlags(o *Options) error {
	if q := o.Quota; q != nil && rcq.CheckCPUQuota(*q) != nil {
		return cli.Usagef("--quota %v: use %s", *q, rcq.CPUQuotaRange)
	}
	if p := o.Priority; p != nil && !rcq.PriorityRange.Contains(*p) {
		return cli.Usagef("--priority %d: use %s", *p, rcq.PriorityRange)
	}
	return nil
}

func parseGroupID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, cli.Usagef("%q is not a group id: use a positive number such as 2 (rcq-admin groups lists them)", s)
	}
	return id, nil
}

func groupsRun(ctx context.Context, o *Options, s *cli.Session) error {
	list, err := s.Groups(ctx)
	if err != nil {
		return err
	}
	t := newTable("ID", "NAME", "CPU_QUOTA", "PRIORITY").rightAlign(0, 2, 3)
	for _, g := range list.Groups {
		t.add(strconv.FormatInt(g.ID, 10), g.Name, formatQuota(g.CPUQuota), strconv.Itoa(g.Priority))
	}
	return o.printList(list, t)
}

func formatQuota(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }

func groupCreateRun(ctx context.Context, o *Options, s *cli.Session) error {
	g, err := s.CreateGroup(ctx, apitype.GroupRequest{Name: o.Name, CPUQuota: o.Quota, Priority: o.Priority})
	if err != nil {
		return err
	}
	return printGroup(o, "Created", g)
}

func groupSetRun(ctx context.Context, o *Options, s *cli.Session) error {
	id, err := parseGroupID(o.Target)
	if err != nil {
		return err
	}
	g, err := s.UpdateGroup(ctx, id, apitype.GroupRequest{CPUQuota: o.Quota, Priority: o.Priority})
	if err != nil {
		return err
	}
	return printGroup(o, "Updated", g)
}

func printGroup(o *Options, verb string, g *apitype.Group) error {
	return o.printResult(g, "%s group %d (%s): quota %s CPU-hours, priority %d", verb, g.ID, g.Name, formatQuota(g.CPUQuota), g.Priority)
}
