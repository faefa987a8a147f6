// Package slurm is Slurm's vocabulary, pure: state names and codes, sacct's
// field names, ExitCode as code:signal, durations as [DD-]HH:MM:SS, times as
// YYYY-MM-DDTHH:MM:SS and the time forms sacct's -S and -E accept. rcq-acct
// and rcq-queue (and the Slurm-name entry points) format with these
// functions, so one field looks the same wherever it is shown.
package slurm

// ClusterName is the name rcq gives itself where Slurm names its cluster
// (scontrol show config, sacctmgr, sbatch --clusters).
const ClusterName = "rcq"

// Partition is rcq's one partition, the default (sinfo shows it as rcq*).
const Partition = "rcq"

// Version is the Slurm release whose command-line forms and output formats
// rcq's Slurm command names speak (scontrol show config's SLURM_VERSION,
// --version).
const Version = "22.05.0"
