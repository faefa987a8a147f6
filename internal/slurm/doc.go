// Package slurm is Slurm's vocabulary, pure: state names and codes, sacct's
// field names, ExitCode as code:signal, durations as [DD-]HH:MM:SS, times as
// YYYY-MM-DDTHH:MM:SS and the time forms sacct's -S and -E accept. rcq-acct
// and rcq-queue (and the Slurm-name entry points) format with these
// functions, so one field looks the same wherever it is shown.
package slurm
