package rcq

import (
	"strconv"
	"strings"
	"syscall"
)

// signals a user may send to a running job (scancel --signal), by name.
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "ALRM": syscall.SIGALRM,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP, "WINCH": syscall.SIGWINCH,
}

// ParseSignal accepts USR1, SIGUSR1, usr1 or a number of one of those
// signals and returns its canonical name (USR1).
func ParseSignal(s string) (string, error) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	if _, ok := signals[name]; ok {
		return name, nil
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		for k, v := range signals {
			if int(v) == n {
				return k, nil
			}
		}
	}
	return "", Invalid("signal", "%q: use one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, ALRM, CONT, STOP, TSTP, WINCH (with or without SIG) or its number", s)
}

// SignalNumber returns the signal of a canonical name from ParseSignal.
func SignalNumber(name string) (syscall.Signal, bool) {
	sig, ok := signals[name]
	return sig, ok
}

// JobSignal is a signal a user asked for (POST /api/jobs/{id}/signal),
// recorded in the store until the executor of the job's node delivers it.
type JobSignal struct {
	ID     int64
	JobID  JobID
	Signal string // a canonical name from ParseSignal
}
