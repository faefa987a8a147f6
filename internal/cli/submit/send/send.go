// Package send is rcq-submit's start-up path: it sends the command line
// itself, with the process's environment, working directory, umask and the
// script file's content, to rcqd's POST /api/jobs/command over the local
// Unix socket, and rcqd reads it with the full command's own code (package
// plan) and stores the job.
//
// It links only what a Go program needs to start (os, syscall, strconv,
// strings, time) and rcq's leaf packages: not fmt, encoding/json, reflect
// or the domain packages, whose package initialisation cost every submit
// half a millisecond before main ran (docs/performance.md, "Ninth
// session"; TestSubmitStartupIsLean in internal/cli holds it so).
//
// Anything it does not send as it stands is left to the full command
// (fastpath.Fallback), which reads the command line in this process and
// says what is wrong in its own words: an option it does not read (--help,
// an unknown option), the script on standard input, the options the command
// does itself (--wait, --test-only, --json, --account), a script file it
// cannot read, no Unix socket or credentials it would not use, and any 4xx
// answer, after which nothing was stored.
package send

import (
	"os"
	"strconv"
	"syscall"

	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/rcq-project/rcq/internal/jsonappend"
	"github.com/rcq-project/rcq/internal/jsonscan"
)

// clientOptions are what the command itself does after (or instead of) the
// submit: rcqd answers them 422, so they go to the full command at once.
var clientOptions = []string{"wait", "test-only", "json", "account"}

// Command submits the job args describe, as the program name (rcq-submit),
// and prints what the full command prints. handled is false when nothing was
// stored and the full command is to run instead.
func Command(name string, args []string) (code int, handled bool) {
	a, ok := argv.Parse(args)
	if !ok {
		return 0, false
	}
	for _, o := range clientOptions {
		if _, set := a.CmdLine[o]; set {
			return 0, false
		}
	}
	_, wrap := a.CmdLine["wrap"]
	var script []byte
	switch {
	case wrap:
	case len(a.Rest) == 0:
		return 0, false // the script on standard input: read once, by the full command
	default:
		var err error
		if script, err = os.ReadFile(a.Rest[0]); err != nil {
			return 0, false
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 0, false
	}
	t, ok := fastpath.Resolve(a.Server)
	if !ok {
		return 0, false
	}
	body := appendCommand(make([]byte, 0, 8192), name, args, os.Environ(), cwd, processUmask(), script, !wrap)
	// No Idempotency-Key: the request goes once, on a connection of its
	// own, and is never sent again (a key is for a client that may resend:
	// the full command's HTTP transport). Without one rcqd's insert is one
	// statement less work.
	r := thin.Request{Method: "POST", Path: "/api/jobs/command", Body: body, Header: fastpath.Header(name, t.Token, true)}
	resp, fallback, err := fastpath.Do(t, r)
	switch {
	case fallback:
		return 0, false
	case err != nil:
		return fail(name, err.Error(), fastpath.ExitUnreachable), true
	case resp.Status >= 400 && resp.Status < 500:
		return 0, false
	case resp.Status < 200 || resp.Status > 299:
		return fail(name, "submit: "+thin.ReadError(resp.Status, resp.Body).Msg, fastpath.ExitFailure), true
	}
	out, warnings, ok := readAnswer(resp.Body)
	if !ok {
		return fail(name, "submit: POST /api/jobs/command: unreadable answer from rcqd", fastpath.ExitFailure), true
	}
	for _, w := range warnings {
		os.Stderr.WriteString(name + ": warning: " + w + "\n")
	}
	if _, err := os.Stdout.WriteString(out); err != nil {
		return fail(name, err.Error(), fastpath.ExitFailure), true
	}
	return 0, true
}

// fail prints msg as the full commands print an error and returns code.
func fail(name, msg string, code int) int {
	os.Stderr.WriteString(name + ": " + msg + "\n")
	return code
}

// appendCommand appends the body of POST /api/jobs/command: the program's
// name, its arguments, the environment, working directory and umask, and
// the script file's content when there is a script file.
func appendCommand(b []byte, name string, args, env []string, cwd string, umask int, script []byte, hasScript bool) []byte {
	o := jsonappend.Open(b, true)
	o.String("program", name)
	o.Key("args")
	o.B = appendStrings(o.B, args)
	o.Key("env")
	o.B = appendStrings(o.B, env)
	o.String("working_dir", cwd)
	o.String("umask", octal(umask))
	if hasScript {
		o.String("script", string(script))
	}
	return o.Close()
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, s, true)
	}
	return append(b, ']')
}

// octal is a umask as rcq writes one: four octal digits, "0022".
func octal(m int) string {
	s := strconv.FormatInt(int64(m), 8)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// processUmask is this process's umask, read by setting it and putting it
// back: rcq-submit creates no file in between (plan reads it so too).
func processUmask() int {
	m := syscall.Umask(0o077)
	syscall.Umask(m)
	return m
}

// readAnswer reads rcqd's 201 answer: the line to print ("output") and the
// warnings. ok is false unless it is an object with a string "output".
func readAnswer(body []byte) (out string, warnings []string, ok bool) {
	s := jsonscan.Scanner{B: body}
	var key string
	hasOut := false
	ok = s.Members(func(raw []byte, _ bool) bool {
		key, ok = jsonscan.Unquote(raw)
		return ok
	}, func() bool {
		switch key {
		case "output":
			out, hasOut = str(&s)
			return hasOut
		case "warnings":
			return s.Elements(func() bool {
				w, ok := str(&s)
				warnings = append(warnings, w)
				return ok
			})
		}
		return s.Value()
	})
	return out, warnings, ok && hasOut && s.End()
}

// str takes a string value.
func str(s *jsonscan.Scanner) (string, bool) {
	raw, _, ok := s.String()
	if !ok {
		return "", false
	}
	return jsonscan.Unquote(raw)
}
