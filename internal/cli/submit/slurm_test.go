package submit

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// sbatch's options without an rcq twin: honest meanings on one node, one
// warning per ignored option, Slurm's refusals (exit 1, Slurm's words)
// under sbatch and warnings under rcq-submit.
func TestSlurmOptions(t *testing.T) {
	api := clitest.NewAPI(t)
	for _, c := range []struct {
		name  string
		slurm bool
		args  []string
		code  int
		cores int
		gpus  int
		err   string
	}{
		{name: "ntasks x cpus", slurm: true, args: []string{"-n", "3", "-c", "2", "-N", "1", "-p", "rcq", "--wrap", "x"}, cores: 6},
		{name: "ntasks-per-node", slurm: true, args: []string{"--ntasks-per-node=4", "--nodes=1-1", "--wrap", "x"}, cores: 4},
		{name: "from #SBATCH", slurm: true, args: []string{writeScript(t, "#!/bin/sh\n#SBATCH --ntasks=2 --cpus-per-task=3 --gpus-per-node=1\ntrue\n")}, cores: 6, gpus: 1},
		{name: "ignored", slurm: true, args: []string{"--qos=high", "--exclusive", "--signal=B:INT@30", "--requeue", "--mail-type=END", "--qos", "normal", "--wrap", "x"}, cores: 1,
			err: "sbatch: warning: --exclusive is not supported by rcq and is ignored: the job gets the cores it asks for, not the whole node\n" +
				"sbatch: warning: --signal=B:INT@30 is not supported by rcq and is ignored: rcq sends no signal before the time limit\n" +
				"sbatch: warning: --mail-type=END is not supported by rcq and is ignored: rcq sends no mail (NONE is accepted)\n"},
		{name: "accepted quietly", slurm: true, args: []string{"-Q", "-v", "--no-requeue", "--mail-type=NONE", "-M", "rcq", "--wrap", "x"}, cores: 1},
		{name: "other partition", slurm: true, args: []string{"-p", "gpu", "--wrap", "x"}, code: cli.ExitFailure,
			err: "sbatch: error: Batch job submission failed: Invalid partition name specified\n"},
		{name: "two nodes", slurm: true, args: []string{"-N", "2", "--wrap", "x"}, code: cli.ExitFailure,
			err: "sbatch: error: Batch job submission failed: Node count specification invalid\n"},
		{name: "other cluster", slurm: true, args: []string{"-M", "big", "--wrap", "x"}, code: cli.ExitFailure, err: "sbatch: error: 'big' can't be reached now"},
		{name: "bad ntasks", slurm: true, args: []string{"-n", "0", "--wrap", "x"}, code: cli.ExitUsage, err: `sbatch: --ntasks: "0" is not a number of tasks`},
		{name: "rcq-submit warns", args: []string{"-p", "gpu", "-N", "2", "--wrap", "x"}, cores: 1,
			err: "rcq-submit: warning: --partition: partition \"gpu\" is ignored: rcq has one partition, rcq\n" +
				"rcq-submit: warning: --nodes: 2 nodes: the job runs on one node\n"},
	} {
		name := "rcq-submit"
		if c.slurm {
			name = "sbatch"
		}
		e := clitest.NewEnv(t, name, api.URL)
		e.Login(t, api, "ann@lab")
		n := len(api.Submits)
		code := e.Run(newCmd(e.F, nil, c.slurm), c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, e.Stderr)
			continue
		}
		if c.err != "" && !strings.HasPrefix(e.Stderr.String(), c.err) || c.err == "" && e.Stderr.Len() > 0 {
			t.Errorf("%s: stderr %q, want %q", c.name, e.Stderr, c.err)
		}
		if code != 0 {
			if len(api.Submits) != n {
				t.Errorf("%s: refused, but a job was sent", c.name)
			}
			continue
		}
		r := api.Submits[len(api.Submits)-1]
		cores, gpus := 1, 0
		if r.CPUCores != nil {
			cores = *r.CPUCores
		}
		if r.GPUCount != nil {
			gpus = *r.GPUCount
		}
		if cores != c.cores || gpus != c.gpus {
			t.Errorf("%s: %d cores %d GPUs, want %d and %d", c.name, cores, gpus, c.cores, c.gpus)
		}
	}
}
