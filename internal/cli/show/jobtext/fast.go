package jobtext

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/rcq-project/rcq/internal/jsonappend"
)

// Fast is rcq-show's start-up path (package fastpath): one job named by a
// plain id, as text or as JSON, from rcqd on a Unix socket. handled is
// false when the full command must run: anything else on the command line
// (help, several jobs, array ids), another server, or any answer but the
// job itself (a missing job, an error, an array's id, which lists its
// elements); a GET changes nothing, so the full command may ask again.
func Fast(name string, args []string) (code int, handled bool) {
	server, id, asJSON, ok := FastArgs(args)
	if !ok {
		return 0, false
	}
	t, ok := fastpath.Resolve(server)
	if !ok {
		return 0, false
	}
	resp, _, err := fastpath.Do(t, thin.Request{Method: "GET", Path: "/api/jobs/" + strconv.FormatInt(id, 10), Header: fastpath.Header(name, t.Token, false)})
	if err != nil || resp.Status != 200 {
		return 0, false
	}
	j, err := decodeJob(resp.Body)
	if err != nil || j.ArrayJobID != nil && *j.ArrayJobID == j.ID {
		return 0, false
	}
	var out string
	if asJSON {
		out = string(JSON(resp.Body))
	} else {
		var b strings.Builder
		Write(&b, &j, time.Now())
		out = b.String()
	}
	if _, err := os.Stdout.WriteString(out); err != nil {
		return exitcode.Fail(name, err), true
	}
	return 0, true
}

// JSON is rcqd's answer to GET /api/jobs/{id} as rcq-show --json prints
// the job: what cli.PrintJSON writes of it decoded, without decoding it
// (TestFastJSONIsThePrintedJob).
func JSON(body []byte) []byte {
	body = bytes.TrimSuffix(body, []byte("\n"))
	plain := jsonappend.Reencode(make([]byte, 0, len(body)), body)
	return append(jsonappend.Indent(make([]byte, 0, 2*len(plain)), plain), '\n')
}

// FastArgs reads the command lines the start-up path serves: one job by a
// plain id ("job" before it is accepted, as with scontrol), --server and
// --json, read as the full command reads them. ok is false for anything
// else (--help, --, --json=VALUE, several jobs, an array element): the full
// command reads those (TestFastArgsAgreesWithTheFullCommand).
func FastArgs(args []string) (server string, id int64, asJSON, ok bool) {
	var words []string
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case len(s) < 2 || s[0] != '-':
			words = append(words, s)
		case strings.HasPrefix(s, "--server="):
			server = s[len("--server="):]
		case s == "--server" && i+1 < len(args):
			i++
			server = args[i]
		case s == "--json":
			asJSON = true
		default:
			return "", 0, false, false
		}
	}
	if len(words) > 0 && strings.EqualFold(words[0], "job") {
		words = words[1:]
	}
	if len(words) != 1 {
		return "", 0, false, false
	}
	id, err := strconv.ParseInt(words[0], 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != words[0] {
		return "", 0, false, false
	}
	return server, id, asJSON, true
}
