package api

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// followPoll is how often a followed output file is checked for new data
// without an inotify watch, and how long a watched one waits at most for an
// event (a write from another machine on a shared file system raises none
// here).
const followPoll = 200 * time.Millisecond

func (s *Server) jobOutput(w http.ResponseWriter, r *http.Request) error {
	j, err := s.callerRefJob(r)
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
	for follow && err != nil && rcq.KindOf(err) == rcq.KindNotFound && j.CompletedAt == nil {
		// The job has started but its supervisor may not have created
		// the file yet: a follower waits for it while the job runs (a
		// path the user cannot read waits the same way, then is the
		// same 404).
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(followPoll):
		}
		if j, err = s.Store.JobByID(r.Context(), id, owner(r)); err != nil {
			return err
		}
		f, err = s.openOutput(j, path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	// Watched before the first read, so a write between a read and the
	// wait is an event already queued: a line reaches the follower as soon
	// as the job writes it, not at the next poll.
	var watch *outputWatch
	if follow {
		ow, err := watchOutput(f)
		if err != nil {
			s.Logger.Debug("following job output by polling", "job_id", id, "err", err)
		} else {
			watch = ow
			defer watch.Close()
		}
	}
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
		if watch != nil {
			watch.wait(r.Context(), followPoll)
		} else {
			select {
			case <-r.Context().Done():
			case <-time.After(followPoll):
			}
		}
		if r.Context().Err() != nil {
			return nil
		}
	}
}

// openOutput opens a job's output file through the ReadOutput dependency: as
// the job's Unix user, so a user streams only what that user could read
// anyway (-o /etc/shadow reads nothing), and only a regular file. Every
// failure is one answer: whether a path the user cannot see exists is not
// theirs to learn.
func (s *Server) openOutput(j *rcq.Job, path string) (*os.File, error) {
	f, err := s.ReadOutput(j, path)
	if err != nil {
		s.Logger.Debug("job output not readable", "job_id", j.ID, "path", path, "err", err)
		return nil, rcq.Errorf(rcq.KindNotFound, "no_output", "job %d has no output file %s that its user can read (yet)", j.ID, path)
	}
	return f, nil
}
