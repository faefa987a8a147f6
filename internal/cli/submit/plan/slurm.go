package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/slurm"
)

// slurmOptions are sbatch's options that have no rcq-submit twin. They are
// accepted on the command line (hidden from rcq-submit's help; sbatch shows
// them), in #SBATCH and #RCQ lines, and some from SBATCH_* variables. Each
// either has an honest meaning on rcq's one-node jobs (--ntasks x
// --cpus-per-task cores, --nodes 1, --partition rcq, the caller's own group
// as --account) or is ignored with one warning naming it: none changes what
// runs without saying so.
var slurmOptions = []option{
	{long: "account", short: "A", env: []string{"SBATCH_ACCOUNT"}, directive: true,
		usage: "`NAME` of your group (Slurm's account); any other is refused"},
	{long: "partition", short: "p", env: []string{"SBATCH_PARTITION"}, directive: true,
		usage: "`NAME` of the partition: rcq, the only one; any other is refused"},
	{long: "clusters", short: "M", env: []string{"SBATCH_CLUSTERS"}, directive: true,
		usage: "`NAME` of the cluster: " + slurm.ClusterName + " (or all); any other is refused"},
	{long: "nodes", short: "N", directive: true,
		usage: "`N` nodes: 1 (or a range from 1); more are refused, an rcq job runs on one node"},
	{long: "ntasks", short: "n", directive: true,
		usage: "`N` tasks: the job gets N x --cpus-per-task cores (srun inside the job starts the tasks)"},
	{long: "ntasks-per-node", directive: true,
		usage: "`N` tasks on the one node: as --ntasks"},
	{long: "gpus-per-node", directive: true,
		usage: "`N` GPUs on the one node (or TYPE:N): as --gpus"},
	{long: "quiet", short: "Q", isBool: true, directive: true, usage: "accepted: rcq prints no progress messages"},
	{long: "verbose", short: "v", isBool: true, directive: true, usage: "accepted; no effect"},
	// A comment is metadata only, which tools (Snakemake) put on every job:
	// no warning, since some read sbatch's stderr and stdout as one.
	{long: "comment", directive: true, usage: "`TEXT` accepted and not kept (metadata only: nothing changes in what runs)"},
	// Ignored with a warning: they would not change what runs, or rcq
	// cannot honour them.
	ignored("qos", "q", "rcq has no QOS (normal is accepted)"),
	ignored("constraint", "C", "rcq has no node features"),
	ignoredOptional("exclusive", "the job gets the cores it asks for, not the whole node"),
	ignored("signal", "", "rcq sends no signal before the time limit"),
	ignored("open-mode", "", "rcq writes the output files as it always does"),
	ignored("wckey", "", "rcq has no workload keys"),
	ignored("mail-type", "", "rcq sends no mail (NONE is accepted)"),
	ignored("mail-user", "", "rcq sends no mail"),
	ignored("reservation", "", "rcq has no reservations"),
	ignored("licenses", "L", "rcq has no licenses"),
	ignoredOptional("nice", "use --priority"),
	ignored("begin", "b", "the job may start at once"),
	ignored("tmp", "", "rcq does not reserve disk space"),
	ignored("exclude", "x", "rcq picks the worker"),
	ignored("nodelist", "w", "rcq picks the worker"),
	ignored("threads-per-core", "", "rcq gives cores"),
	ignored("hint", "", "rcq gives cores"),
	ignored("distribution", "m", "rcq runs every task on one node"),
	ignored("mincpus", "", "use --cpus-per-task"),
	ignored("profile", "", "rcq records CPU time and peak memory of every job"),
	ignored("acctg-freq", "", "rcq records CPU time and peak memory of every job"),
	ignoredOptional("get-user-env", "--export decides the job's environment"),
}

func ignored(long, short, note string) option {
	return option{long: long, short: short, directive: true, note: note, usage: "ignored with a warning: " + note}
}

// ignoredOptional is ignored for an option whose value may be left out.
func ignoredOptional(long, note string) option {
	o := ignored(long, "", note)
	o.optional = true
	return o
}

// slurmOnly reports whether an option is one of slurmOptions.
func slurmOnly(long string) bool {
	for _, o := range slurmOptions {
		if o.long == long {
			return true
		}
	}
	return false
}

func init() { options = append(options, slurmOptions...) }

// SlurmRefusal is how sbatch refuses a job it will not submit: exit 1 and
// Slurm's own words, which tools match.
func SlurmRefusal(what string) error {
	return &exitcode.ExitError{Code: exitcode.Failure, Err: errors.New("error: Batch job submission failed: " + what)}
}

// SlurmOnlyOptions are the long names of sbatch's options that have no
// rcq-submit twin (hidden from rcq-submit's help, shown in sbatch's).
func SlurmOnlyOptions() []string {
	names := make([]string, len(slurmOptions))
	for i, o := range slurmOptions {
		names[i] = o.long
	}
	return names
}

// applySlurm reads the Slurm-only options of s into p: it refuses what rcq
// cannot run as asked (another partition or cluster, more than one node),
// turns --ntasks into cores and --gpus-per-node into GPUs, and warns once
// for each option it ignores. It runs after --cpus-per-task is read and
// before --mem-per-cpu, which multiplies by the cores.
func applySlurm(in *Input, s settings, p *Plan) error {
	r := &p.Request
	// Under sbatch, what Slurm refuses is refused; rcq-submit warns and
	// goes on, so old scripts with #SBATCH lines for another cluster run.
	refuse := func(v setting, what, slurmWords string) error {
		if p.Slurm {
			return SlurmRefusal(slurmWords)
		}
		in.Warnf("%s: %s", v.source, what)
		return nil
	}
	if v, ok := s["partition"]; ok {
		found := false
		for _, part := range strings.Split(v.value, ",") {
			found = found || strings.TrimSpace(part) == slurm.Partition
		}
		if !found {
			if err := refuse(v, fmt.Sprintf("partition %q is ignored: rcq has one partition, %s", v.value, slurm.Partition),
				"Invalid partition name specified"); err != nil {
				return err
			}
		}
	}
	if v, ok := s["clusters"]; ok {
		for _, c := range strings.Split(v.value, ",") {
			if c = strings.TrimSpace(c); c == slurm.ClusterName || strings.EqualFold(c, "all") {
				continue
			}
			if p.Slurm {
				//lint:ignore ST1005 sbatch's own words, which tools match
				return &exitcode.ExitError{Code: exitcode.Failure, Err: fmt.Errorf("error: '%s' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.", c)}
			}
			in.Warnf("%s: cluster %q is ignored: this is %s", v.source, c, slurm.ClusterName)
		}
	}
	if v, ok := s["nodes"]; ok {
		lo, _, _ := strings.Cut(v.value, "-")
		if n, err := strconv.Atoi(strings.TrimSpace(lo)); err != nil || n < 1 {
			return fmt.Errorf("%s: %q is not a node count: use 1 (an rcq job runs on one node)", v.source, v.value)
		} else if n > 1 {
			if err := refuse(v, fmt.Sprintf("%d nodes: the job runs on one node", n), "Node count specification invalid"); err != nil {
				return err
			}
		}
	}
	if v, ok := s["account"]; ok {
		if strings.TrimSpace(v.value) == "" {
			return fmt.Errorf("%s: give an account name (your group)", v.source)
		}
		p.Account, p.AccountSource = strings.TrimSpace(v.value), v.source
	}
	tasks := 0
	for _, name := range []string{"ntasks-per-node", "ntasks"} { // --ntasks wins
		if v, ok := s[name]; ok {
			n, err := strconv.Atoi(v.value)
			if err != nil || n < 1 {
				return fmt.Errorf("%s: %q is not a number of tasks: use a whole number of at least 1", v.source, v.value)
			}
			tasks = n
		}
	}
	if tasks > 0 {
		per := 1
		if r.CPUCores != nil {
			per = *r.CPUCores
		}
		cores := tasks * per
		r.CPUCores = &cores
	}
	if v, ok := s["gpus-per-node"]; ok {
		n, typ, err := ParseGPUs(v.value)
		if err != nil {
			return fmt.Errorf("%s: %w", v.source, err)
		}
		if typ != "" {
			in.Warnf("%s: GPU type %q is ignored: rcq gives any free GPU", v.source, typ)
		}
		r.GPUCount = &n
	}
	for _, o := range slurmOptions {
		v, ok := s[o.long]
		if !ok || o.note == "" {
			continue
		}
		switch {
		case o.long == "qos" && strings.EqualFold(v.value, "normal"),
			o.long == "mail-type" && strings.EqualFold(v.value, "NONE"),
			o.isBool && v.value == "false":
			continue
		}
		shown := v.source
		if strings.HasPrefix(shown, "--") && !o.isBool && v.value != optionalSet {
			shown += "=" + v.value
		}
		in.Warnf("%s is not supported by rcq and is ignored: %s", shown, o.note)
	}
	return nil
}

// optionalSet is the value of an option with an optional value given
// without one (--exclusive).
const optionalSet = "(set)"
