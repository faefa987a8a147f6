// Package compat holds the end-to-end proof that real workflow tools run
// unchanged on rcq through Slurm's command names: its tests (make
// test-compat, RCQ_COMPAT=1) start a throwaway rcqd on its private
// PostgreSQL, put rcq's sbatch, squeue, scancel, sacct, sinfo, scontrol,
// sacctmgr and srun first on PATH, and run small real workflows of
// Snakemake's Slurm executor and Toil's Slurm batch system (Debian's
// packages) with a dependency chain, parallel jobs, a failing job and a
// cancelled one. As root the tools run as a fresh Unix user (system mode);
// otherwise as the test's own user (personal mode).
//
// Without RCQ_COMPAT=1 the tests skip (go test ./... stays quick and needs
// no Python); with it a missing tool fails the test, so the target never
// passes without running.
package compat
