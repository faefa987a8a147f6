package submit

import (
	"context"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/submit/plan"
	"github.com/spf13/cobra"
)

// checkAccount refuses the job, as sbatch does, when --account names a
// group other than the caller's: in rcq an account is its one group.
// Under rcq-submit it warns instead: the job runs in the caller's group.
func checkAccount(ctx context.Context, f *cli.Factory, s *cli.Session, p *Plan) error {
	group, err := s.GroupName(ctx)
	if err != nil {
		return err
	}
	if strings.EqualFold(group, p.Account) {
		return nil
	}
	if p.Slurm {
		return plan.SlurmRefusal("Invalid account or account/partition combination specified")
	}
	f.Warnf("%s: account %q is ignored: the job runs in your group, %s", p.AccountSource, p.Account, group)
	return nil
}

// NewSbatchCmd builds sbatch: rcq-submit with Slurm's refusals (another
// partition, cluster or account, more than one node: exit 1 with Slurm's
// message) and the Slurm-only options in its help.
func NewSbatchCmd(f *cli.Factory) *cobra.Command {
	cmd := newCmd(f, nil, true)
	for _, name := range plan.SlurmOnlyOptions() {
		cmd.Flags().Lookup(name).Hidden = false
	}
	return cmd
}
