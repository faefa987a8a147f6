package executor

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// DefaultOutputPattern is where a job's output goes when it names no file,
// relative to its working directory (or the configured output directory).
const DefaultOutputPattern = "rcq-%j.out"

// DefaultArrayOutputPattern is DefaultOutputPattern for an element of a
// job array (sbatch's default, slurm-%A_%a.out).
const DefaultArrayOutputPattern = "rcq-%A_%a.out"

// OutputPaths returns the files a job's stdout and stderr go to: its output and
// error patterns expanded (%j job id, %x job name, %u user, %A array id, %a
// array index, %% a literal %, %Nj the id zero-padded to width N), relative
// paths taken from the job's working directory. With no output pattern,
// stdout goes to <working dir>/rcq-<id>.out (an array element's to
// rcq-<array id>_<index>.out). With no error pattern, stderr goes into stdout's
// file and stderr == stdout.
func OutputPaths(j *rcq.Job) (stdout, stderr string) {
	return OutputPathsIn(j, "")
}

// OutputPathsIn is OutputPaths with a configured output directory
// (OUTPUT_DIRECTORY): when outputDir is set, the default file and relative
// patterns are placed there instead of in the working directory.
func OutputPathsIn(j *rcq.Job, outputDir string) (stdout, stderr string) {
	base := outputDir
	if base == "" {
		base = j.WorkingDir
	}
	if base == "" {
		base = "/"
	}
	resolve := func(pattern string) string {
		p := ExpandPattern(pattern, j)
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		return filepath.Clean(p)
	}
	out := j.Output
	if out == "" {
		out = DefaultOutputPattern
		if j.Array != nil {
			out = DefaultArrayOutputPattern
		}
	}
	stdout = resolve(out)
	stderr = stdout
	if j.Error != "" {
		stderr = resolve(j.Error)
	}
	return stdout, stderr
}

// ExpandPattern replaces the filename patterns of sbatch's -o/-e in p: %j (job
// id), %x (job name), %u (user), %A (the array's id; the job id for a job
// that is not in an array), %a (the element's index; 4294967294 for a job
// that is not in an array, as Slurm writes), %% (a literal %), with an
// optional zero-pad width between % and the letter (%4j -> 0042). Unknown
// patterns are kept as written, and so is %a on an array's row standing for
// elements not yet started (it has no one index). Substituted values never
// contain '/'.
func ExpandPattern(p string, j *rcq.Job) string {
	return rcq.ExpandFilename(p, func(letter byte) (string, bool) {
		switch letter {
		case 'j':
			return strconv.FormatInt(int64(j.ID), 10), true
		case 'A':
			if j.Array != nil {
				return strconv.FormatInt(int64(j.Array.ID), 10), true
			}
			return strconv.FormatInt(int64(j.ID), 10), true
		case 'a':
			switch {
			case j.Array == nil:
				return "4294967294", true
			case j.Array.TaskID != nil:
				return strconv.Itoa(*j.Array.TaskID), true
			}
		case 'x':
			return jobName(j), true
		case 'u':
			return userName(j), true
		}
		return "", false
	})
}

func jobName(j *rcq.Job) string {
	if j.Name != "" {
		return j.Name
	}
	return "job"
}

// userName is the job owner's name as %u shows it: the mapped Unix user, or
// the local part of the email.
func userName(j *rcq.Job) string {
	if j.UnixUser != "" {
		return j.UnixUser
	}
	local, _, _ := strings.Cut(j.UserEmail, "@")
	return local
}
