package slurm

// Commands are the Slurm command names the rcq binary answers to when it is
// invoked under them (argv[0], through symbolic links): rcqd links each into
// the Slurm-compatibility directory that it puts first on jobs' PATH, so a
// job's srun, sbatch or squeue is rcq's. internal/cli/slurmcompat's Names
// must list the same (a test checks).
var Commands = []string{"sbatch", "squeue", "scancel", "sacct", "sinfo", "scontrol", "sacctmgr", "srun"}
