package rcq

import (
	"strconv"
	"strings"
)

// Umask is the file mode creation mask a job runs with: the submitter's, so
// that a job creates files as a shell of its user would (umask 0077 keeps
// them private).
type Umask uint32

// DefaultUmask is the mask of a job whose submit names none: most systems'
// login default.
const DefaultUmask Umask = 0o022

// ParseUmask reads a mask as umask(1) prints it: 1 to 4 octal digits, at
// most 0777. The empty string is DefaultUmask.
func ParseUmask(s string) (Umask, error) {
	if s == "" {
		return DefaultUmask, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || len(s) > 4 || n > 0o777 {
		return 0, Invalid("umask", "%q is not a umask: use 1 to 4 octal digits from 0000 to 0777, such as \"0022\" or \"0077\"", s)
	}
	return Umask(n), nil
}

// String prints the mask as umask(1) does: "0022". (Not with fmt: every
// rcq-submit prints one, and fmt's first use is a start-up cost.)
func (m Umask) String() string {
	s := strconv.FormatUint(uint64(m), 8)
	return strings.Repeat("0", max(0, 4-len(s))) + s
}
