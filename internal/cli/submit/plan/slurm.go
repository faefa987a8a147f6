package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
	"github.com/rcq-project/rcq/internal/slurm"
)

// SlurmRefusal is how sbatch refuses a job it will not submit: exit 1 and
// Slurm's own words, which tools match.
func SlurmRefusal(what string) error {
	return &exitcode.ExitError{Code: exitcode.Failure, Err: errors.New("error: Batch job submission failed: " + what)}
}

// SlurmOnlyOptions are the long names of sbatch's options that have no
// rcq-submit twin (hidden from rcq-submit's help, shown in sbatch's).
func SlurmOnlyOptions() []string {
	var names []string
	for _, o := range argv.All() {
		if o.Slurm {
			names = append(names, o.Long)
		}
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
	for _, o := range argv.All() {
		v, ok := s[o.Long]
		if !ok || o.Note == "" {
			continue
		}
		switch {
		case o.Long == "qos" && strings.EqualFold(v.value, "normal"),
			o.Long == "mail-type" && strings.EqualFold(v.value, "NONE"),
			o.Bool && v.value == "false":
			continue
		}
		shown := v.source
		if strings.HasPrefix(shown, "--") && !o.Bool && v.value != argv.OptionalSet {
			shown += "=" + v.value
		}
		in.Warnf("%s is not supported by rcq and is ignored: %s", shown, o.Note)
	}
	return nil
}
