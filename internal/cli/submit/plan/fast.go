package plan

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/fastpath"
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
	a, ok := ParseArgs(args)
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
	// The key need only be unique among the account's submits of a day:
	// 128 bits of the runtime's generator (seeded by the kernel at start)
	// are, and cost nothing, where crypto/rand's first use cost a tenth of
	// a millisecond or more here.
	key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, rand.Uint64()), rand.Uint64())
	r := thin.Request{Method: "POST", Path: "/api/jobs", Body: body,
		Header: append(fastpath.Header(name, t.Token, true), "Idempotency-Key: rcq-submit-"+hex.EncodeToString(key))}
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
