package jobtext

import (
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/spf13/pflag"
)

// Fast is rcq-show's start-up path (package fastpath): one job named by a
// plain id, as text, from rcqd on a Unix socket. handled is false when the
// full command must run: anything else on the command line (--json, help,
// several jobs, array ids), another server, or any answer but the job
// itself (a missing job, an error, an array's id, which lists its
// elements); a GET changes nothing, so the full command may ask again.
func Fast(name string, args []string) (code int, handled bool) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", "", "")
	asJSON := fs.Bool("json", false, "")
	help := fs.BoolP("help", "h", false, "")
	if err := fs.Parse(args); err != nil || *help || *asJSON {
		return 0, false
	}
	rest := fs.Args()
	if len(rest) > 0 && strings.EqualFold(rest[0], "job") {
		rest = rest[1:]
	}
	if len(rest) != 1 {
		return 0, false
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != rest[0] {
		return 0, false
	}
	t, ok := fastpath.Resolve(*server)
	if !ok {
		return 0, false
	}
	resp, _, err := fastpath.Do(t, thin.Request{Method: "GET", Path: "/api/jobs/" + rest[0], Header: fastpath.Header(name, t.Token, false)})
	if err != nil || resp.Status != 200 {
		return 0, false
	}
	j, err := decodeJob(resp.Body)
	if err != nil || j.ArrayJobID != nil && *j.ArrayJobID == j.ID {
		return 0, false
	}
	var b strings.Builder
	Write(&b, &j, time.Now())
	if _, err := os.Stdout.WriteString(b.String()); err != nil {
		return fastpath.Fail(name, err), true
	}
	return 0, true
}
