// Package exitcode holds the exit codes of every rcq command and the errors
// that choose them. It links neither cobra nor net/http, so the start-up
// path of rcq-submit and rcq-show (which do not link them either) ends
// exactly as the full commands do; package cli re-exports every name.
package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Exit codes of every rcq command.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Unreachable = 3
	Auth        = 4
	Interrupted = 130
)

// UsageError is a bad option, value or argument: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// AuthError means the caller has no usable token: exit code 4.
type AuthError struct{ Msg string }

func (e *AuthError) Error() string { return e.Msg }

// ExitError ends a command with Code; Err, when set, is printed first.
// Commands that already printed what went wrong return it with a nil Err.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// Of picks the exit code for err and the one-line message to print ("" for
// none).
func Of(ctx context.Context, err error) (int, string) {
	var (
		exit  *ExitError
		usage *UsageError
		auth  *AuthError
		conn  *thin.ConnError
	)
	switch {
	case errors.As(err, &exit):
		if exit.Err == nil {
			return exit.Code, ""
		}
		return exit.Code, exit.Err.Error()
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return Interrupted, ""
	case errors.As(err, &usage):
		return Usage, usage.Error()
	case errors.As(err, &conn):
		return Unreachable, conn.Error()
	case errors.As(err, &auth):
		return Auth, auth.Msg
	case errors.Is(err, rcq.ErrUnauthorized):
		return Auth, "session expired: run rcq-login"
	}
	return Failure, err.Error()
}

// Fail prints err as the full commands do (cli.Run), for the start-up paths: one line prefixed with
// name, and for a usage error the pointer to --help; it returns the exit
// code.
func Fail(name string, err error) int {
	code, msg := Of(context.Background(), err)
	if msg != "" {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, msg)
	}
	if code == Usage {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", name)
	}
	return code
}
