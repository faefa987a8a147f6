package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/spf13/cobra"
)

// Exit codes of every rcq command.
const (
	ExitOK          = exitcode.OK
	ExitFailure     = exitcode.Failure
	ExitUsage       = exitcode.Usage
	ExitUnreachable = exitcode.Unreachable
	ExitAuth        = exitcode.Auth
	ExitInterrupted = exitcode.Interrupted
)

// ExitStatusHelp is the exit status section of every command's help and
// manual page.
const ExitStatusHelp = `Exit status:
  0    success
  1    failure
  2    usage error (bad option or value)
  3    rcqd unreachable
  4    not logged in, or the token expired or was rejected
  130  interrupted`

// UsageError is a bad option, value or argument: exit code 2.
type UsageError = exitcode.UsageError

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error { return exitcode.Usagef(format, args...) }

// AuthError means the caller has no usable token: exit code 4.
type AuthError = exitcode.AuthError

// ExitError ends a command with Code; Err, when set, is printed first.
// Commands that already printed what went wrong return it with a nil Err.
type ExitError = exitcode.ExitError

// Main runs the command build returns with the process's arguments, streams
// and signals (SIGINT and SIGTERM cancel the command's context), and returns
// the exit code. It never calls os.Exit.
func Main(name string, build func(*Factory) *cobra.Command) int {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := NewFactory(name, System())
	return Run(ctx, f, build(f), os.Args[1:])
}

// Run executes cmd with args and returns the exit code, printing the error,
// if any, as one line on stderr prefixed with the program's name.
func Run(ctx context.Context, f *Factory, cmd *cobra.Command, args []string) int {
	f.Setup(cmd)
	cmd.SetArgs(args)
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	c, err := cmd.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code, msg := ExitCode(ctx, err)
	if msg != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s: %s\n", f.Name, msg)
	}
	var usage *UsageError
	if code == ExitUsage && c != nil && errors.As(err, &usage) {
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", c.CommandPath())
	}
	return code
}

// ExitCode picks the exit code for err and the one-line message to print
// ("" for none).
func ExitCode(ctx context.Context, err error) (int, string) { return exitcode.Of(ctx, err) }

// tuneGC lets the heap of a command grow to 5 times its live data (Go's
// default: 2 times) under a 512 MiB ceiling, unless GOGC or GOMEMLIMIT say
// otherwise. A command lives for one request: collecting while it decodes a
// page of 10,000 jobs cost rcq-queue a third of its CPU time
// (docs/performance.md).
func tuneGC() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(512 << 20)
	}
}

// ArgsUsage wraps one of cobra's argument checks so a wrong number
// of arguments is a usage error (exit code 2).
func ArgsUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &UsageError{Err: err}
		}
		return nil
	}
}
