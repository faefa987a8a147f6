package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Fast is rcq-submit's start-up path (package fastpath): it reads args as
// the full command does (ParseArgs) and prepares the job with the same
// Prepare, and when the job is a
// plain one (no --wait, --test-only, --json, --mem=0 or --account, a script
// file or --wrap, no warning) and rcqd is on a Unix socket, it submits it
// and prints what rcq-submit prints. handled is false when it sent nothing
// and left the whole command to the full implementation.
func Fast(name string, args []string) (code int, handled bool) {
	a, ok := argv.Parse(args)
	if !ok {
		return 0, false
	}
	if _, wrap := a.CmdLine["wrap"]; !wrap && len(a.Rest) == 0 {
		return 0, false // the script on standard input: read once, by the full command
	}
	warned := false
	p, err := Prepare(&Input{Args: a.Rest, CmdLine: a.CmdLine,
		Getenv: os.Getenv, Environ: os.Environ, Getwd: os.Getwd,
		Stdin: os.Stdin, StdinTTY: func() bool { return true },
		Warnf: func(string, ...any) { warned = true }})
	if err != nil || warned || p.Wait || p.TestOnly || p.JSON || p.WholeNodeMemory || p.Account != "" {
		return 0, false
	}
	t, ok := fastpath.Resolve(a.Server)
	if !ok {
		return 0, false
	}
	body, ok := appendRequest(make([]byte, 0, 4096), &p.Request)
	if !ok {
		return 0, false
	}
	// No Idempotency-Key: the request goes once, on a connection of its
	// own, and is never sent again (a key is for a client that may resend:
	// the full command's HTTP transport, internal/cli/submit). Without one
	// rcqd's insert is one statement less work.
	r := thin.Request{Method: "POST", Path: "/api/jobs", Body: body, Header: fastpath.Header(name, t.Token, true)}
	resp, fallback, err := fastpath.Do(t, r)
	switch {
	case fallback:
		return 0, false
	case err != nil:
		return fastpath.Fail(name, err), true
	case resp.Status < 200 || resp.Status > 299:
		return fastpath.Fail(name, AsOptionError(fmt.Errorf("submit: %w", thin.ErrorFromBody(resp.Status, resp.Body)))), true
	}
	id, err := jobIDOf(resp.Body)
	if err != nil {
		return fastpath.Fail(name, fmt.Errorf("submit: %w", &rcq.Error{Kind: rcq.KindInternal, Code: "bad_response",
			Msg: "POST /api/jobs: unreadable answer from rcqd", Err: err})), true
	}
	line := "Submitted batch job " + strconv.FormatInt(id, 10) + "\n"
	if p.Parsable {
		line = strconv.FormatInt(id, 10) + "\n"
	}
	if _, err := os.Stdout.WriteString(line); err != nil {
		return fastpath.Fail(name, err), true
	}
	return 0, true
}

// jobIDOf is the job_id of rcqd's answer to a submit. rcqd writes it as
// {"message":"...","job_id":N,...}: the member is found without decoding
// the rest (a string value cannot hold the bytes "job_id": unescaped), and
// any other shape is decoded by encoding/json.
func jobIDOf(body []byte) (int64, error) {
	const key = `"job_id":`
	if i := bytes.Index(body, []byte(key)); i >= 0 {
		digits := body[i+len(key):]
		n := 0
		for n < len(digits) && '0' <= digits[n] && digits[n] <= '9' {
			n++
		}
		if n > 0 && n < len(digits) && (digits[n] == ',' || digits[n] == '}') {
			if id, err := strconv.ParseInt(string(digits[:n]), 10, 64); err == nil {
				return id, nil
			}
		}
	}
	var out apitype.SubmitResponse
	err := json.Unmarshal(body, &out)
	return out.JobID, err
}
