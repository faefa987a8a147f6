package api

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// pageLimit reads ?limit=: 1 to limits.MaxPageSize jobs, def when absent.
func (s *Server) pageLimit(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > s.cfg.Limits.MaxPageSize {
		return 0, rcq.Invalid("limit", "must be a whole number from 1 to %d (jobs.max_page_size); page on with the cursor in next", s.cfg.Limits.MaxPageSize)
	}
	return n, nil
}

// A cursor is where a page ended, opaque to clients (base64url): "j" with
// the submit time in microseconds and the id of the last job listed by
// GET /api/jobs, "q" with the id of the last job of a GET /api/queue page.
// Keys of jobs, not offsets: a page boundary stays put while jobs come and
// go, so no job is listed twice.

// jobsPage cuts js, read with one job more than limit, to the page, and
// returns the cursor of the next page ("" when this is the last).
func jobsPage(js []rcq.Job, limit int) ([]rcq.Job, string) {
	if len(js) <= limit {
		return js, ""
	}
	js = js[:limit]
	return js, jobsCursor(rcq.JobPos{SubmittedAt: js[limit-1].SubmittedAt, ID: js[limit-1].ID})
}

func jobsCursor(p rcq.JobPos) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "j%d.%d", p.SubmittedAt.UnixMicro(), p.ID))
}

func parseJobsCursor(s string) (rcq.JobPos, error) {
	var p rcq.JobPos
	if s == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var micros, id int64
	if err == nil {
		_, err = fmt.Sscanf(string(b), "j%d.%d", &micros, &id)
	}
	if err != nil || id <= 0 || jobsCursor(rcq.JobPos{SubmittedAt: time.UnixMicro(micros), ID: rcq.JobID(id)}) != s {
		return p, badCursor()
	}
	return rcq.JobPos{SubmittedAt: time.UnixMicro(micros).UTC(), ID: rcq.JobID(id)}, nil
}

func queueCursor(id rcq.JobID) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "q%d", id))
}

func parseQueueCursor(s string) (rcq.JobID, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var id int64
	if err == nil {
		_, err = fmt.Sscanf(string(b), "q%d", &id)
	}
	if err != nil || id <= 0 || queueCursor(rcq.JobID(id)) != s {
		return 0, badCursor()
	}
	return rcq.JobID(id), nil
}

func badCursor() error {
	return rcq.Invalid("cursor", "is not a cursor of this listing: pass the next of the page before, unchanged")
}
