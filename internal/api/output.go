package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// followPoll is how often a followed output file is checked for new data.
const followPoll = 200 * time.Millisecond

func (s *Server) jobOutput(w http.ResponseWriter, r *http.Request) error {
	j, err := s.callerJob(r)
	if err != nil {
		return err
	}
	id := j.ID
	q := r.URL.Query()
	follow := q.Get("follow") == "true" || q.Get("follow") == "1"
	if j.StartedAt == nil {
		return rcq.Errorf(rcq.KindConflict, "job_not_started", "job %d has not started: it has no output yet", id)
	}
	stdout, stderr := s.OutputPaths(j)
	path := stdout
	switch q.Get("stream") {
	case "", "stdout":
	case "stderr":
		path = stderr
	default:
		return rcq.Invalid("stream", "%q: use stdout or stderr", q.Get("stream"))
	}
	f, err := s.openOutput(j, path)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	lastCheck := time.Time{}
	for {
		n, err := io.CopyBuffer(w, f, buf)
		if err != nil {
			return nil // the client went away
		}
		if n > 0 && flusher != nil {
			flusher.Flush()
		}
		if !follow {
			return nil
		}
		// Stop once the job's processes are gone and the file is drained.
		if time.Since(lastCheck) > time.Second {
			lastCheck = time.Now()
			cur, err := s.Store.JobByID(r.Context(), id, owner(r))
			if err != nil || cur.CompletedAt != nil {
				_, _ = io.CopyBuffer(w, f, buf)
				return nil
			}
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}

// openOutput opens a job's output file for reading without following a
// symlink, and, when rcqd runs as root, only if the file belongs to the job's
// Unix user: -o /etc/shadow must not let a user read it through rcqd.
func (s *Server) openOutput(j *rcq.Job, path string) (*os.File, error) {
	notThere := rcq.Errorf(rcq.KindNotFound, "no_output", "job %d has no %s yet", j.ID, path)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notThere
	}
	if err != nil {
		return nil, rcq.Errorf(rcq.KindForbidden, "output_unreadable", "cannot read %s", path)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, rcq.Errorf(rcq.KindForbidden, "output_unreadable", "%s is not a regular file", path)
	}
	if s.cfg.RunningAsRoot {
		st, ok := fi.Sys().(*syscall.Stat_t)
		uid := -1
		if s.UnixUID != nil && j.UnixUser != "" {
			if u, err := s.UnixUID(j.UnixUser); err == nil {
				uid = u
			}
		}
		if !ok || uid < 0 || int(st.Uid) != uid {
			f.Close()
			return nil, rcq.Errorf(rcq.KindForbidden, "output_unreadable", "%s does not belong to the job's user", path)
		}
	}
	return f, nil
}
