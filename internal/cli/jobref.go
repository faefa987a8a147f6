package cli

import (
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// SplitJobRefs splits job refs given as separate arguments or comma lists,
// as scancel and squeue -j take them, keeping the commas inside an element
// list whole: "1,123_[1-3,7]" is "1" and "123_[1-3,7]".
func SplitJobRefs(args []string) []string {
	var out []string
	for _, a := range args {
		depth, start := 0, 0
		for i := 0; i <= len(a); i++ {
			switch {
			case i < len(a) && a[i] == '[':
				depth++
			case i < len(a) && a[i] == ']':
				depth = max(0, depth-1)
			case i == len(a) || a[i] == ',' && depth == 0:
				if s := strings.TrimSpace(a[start:i]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
	}
	return out
}

// ParseJobRefs reads job refs (123, 123_4, 123_[1-3,7]) given as separate
// arguments or comma lists; a bad one is a usage error naming the form.
func ParseJobRefs(args []string) ([]rcq.JobRef, error) {
	var refs []rcq.JobRef
	for _, s := range SplitJobRefs(args) {
		ref, err := rcq.ParseJobRef(s)
		if err != nil {
			return nil, Usagef("%v", err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// SplitRefs separates plain job ids (which may name whole arrays) from refs
// to array elements (123_4, 123_[1-3]).
func SplitRefs(refs []rcq.JobRef) (ids []int64, elements []rcq.JobRef) {
	for _, r := range refs {
		if r.Tasks == nil {
			ids = append(ids, int64(r.JobID))
		} else {
			elements = append(elements, r)
		}
	}
	return ids, elements
}

// RefMessage is rcqd's message for an action on the job or elements ref
// names that failed, naming them if the message does not already.
func RefMessage(ref string, err error) string {
	msg := rcq.MessageOf(err)
	if msg == "internal error" {
		msg = err.Error()
	}
	if strings.Contains(msg, "job "+ref) {
		return msg
	}
	// rcqd names an element's own row ("job 130 is already cancelled"):
	// name it as it was asked for, 123_4.
	if rest, ok := strings.CutPrefix(msg, "job "); ok && strings.Contains(ref, "_") {
		if n := len(rest) - len(strings.TrimLeft(rest, "0123456789")); n > 0 && strings.HasPrefix(rest[n:], " ") {
			return "job " + ref + rest[n:]
		}
	}
	return "job " + ref + ": " + msg
}
