// Package cli is the plumbing shared by the rcq-* commands: the Factory and
// IOStreams commands are built from, Run and Main (the only place that prints
// an error and picks the exit code), job id parsing, JSON output and shell
// completion helpers. Each command lives in its own package below
// (login, submit, queue, cancel) and exposes NewCmd(f, runF).
package cli
