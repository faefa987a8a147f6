package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/jsonappend"
	"github.com/rcq-project/rcq/internal/rcq"
)

// PrintJSON writes v as one indented JSON document.
func PrintJSON(w io.Writer, v any) error {
	// Compact first, then indented by jsonappend.Indent (the same bytes as the
	// encoder's SetIndent, in a fraction of the time for a long list).
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	out := jsonappend.Indent(make([]byte, 0, compact.Len()*2), bytes.TrimSuffix(compact.Bytes(), []byte("\n")))
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// PrintCompactJSON writes compact JSON (one value, as encoding/json writes
// it without HTML escaping) indented as PrintJSON does, for commands that
// encode their output by hand.
func PrintCompactJSON(w io.Writer, compact []byte) error {
	out := jsonappend.Indent(make([]byte, 0, len(compact)*2), compact)
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// ParseJobID reads one job id; Slurm's "ID.step" and "ID_task" forms are not
// accepted.
func ParseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, Usagef("%q is not a job id: use a positive number such as 42", s)
	}
	return id, nil
}

// ParseJobIDs reads job ids given as separate arguments or comma lists.
func ParseJobIDs(args []string) ([]int64, error) {
	var ids []int64
	for _, a := range args {
		for _, s := range strings.Split(a, ",") {
			if s == "" {
				continue
			}
			id, err := ParseJobID(s)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// JobMessage is rcqd's message for an action on job id that failed, naming
// the job if the message does not already.
func JobMessage(id int64, err error) string {
	msg := rcq.MessageOf(err)
	if msg == "internal error" {
		msg = err.Error()
	}
	if strings.Contains(msg, fmt.Sprintf("job %d", id)) {
		return msg
	}
	return fmt.Sprintf("job %d: %s", id, msg)
}
