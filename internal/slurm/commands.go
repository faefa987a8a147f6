package slurm

// Commands are the Slurm command names the rcq binary answers to when it is
// invoked under them (argv[0], through symbolic links): rcqd links each into
// the Slurm-compatibility directory that it puts first on jobs' PATH.
var Commands = []string{"srun"}
