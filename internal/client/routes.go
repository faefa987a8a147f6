package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// Health is GET /health. It needs no token.
func (c *Client) Health(ctx context.Context) (*apitype.Health, error) {
	var out apitype.Health
	err := c.do(ctx, request{method: http.MethodGet, path: "/health", out: &out, noAuth: true})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Register creates an account (POST /api/auth/register).
func (c *Client) Register(ctx context.Context, req apitype.RegisterRequest) (*apitype.RegisterResponse, error) {
	var out apitype.RegisterResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/auth/register", body: req, out: &out, noAuth: true}); err != nil {
		return nil, fmt.Errorf("register %s: %w", req.Email, err)
	}
	return &out, nil
}

// Login exchanges an email and password for a token (POST /api/auth/login).
// It does not change the client's own token.
func (c *Client) Login(ctx context.Context, req apitype.LoginRequest) (*apitype.LoginResponse, error) {
	var out apitype.LoginResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/auth/login", body: req, out: &out, noAuth: true}); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", req.Email, err)
	}
	return &out, nil
}

// PeerToken asks rcqd for a token for the caller's account without a
// password (POST /api/auth/token): on the Unix socket only, where rcqd knows
// the caller by uid. Send it without a token.
func (c *Client) PeerToken(ctx context.Context) (*apitype.LoginResponse, error) {
	var out apitype.LoginResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/auth/token", out: &out, noAuth: true}); err != nil {
		return nil, fmt.Errorf("log in as your Unix user: %w", err)
	}
	return &out, nil
}

// Logout ends the session of the client's token (POST /api/auth/logout);
// with all, every token of the account.
func (c *Client) Logout(ctx context.Context, all bool) (*apitype.Message, error) {
	var out apitype.Message
	path := "/api/auth/logout"
	if all {
		path += "?all=true"
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: path, out: &out}); err != nil {
		return nil, fmt.Errorf("log out: %w", err)
	}
	return &out, nil
}

// ChangePassword sets the caller's password (POST /api/auth/password); it
// ends every session of the account. On the socket without a token the old
// password may be empty: the kernel vouches for the caller.
func (c *Client) ChangePassword(ctx context.Context, req apitype.PasswordRequest) (*apitype.Message, error) {
	var out apitype.Message
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/auth/password", body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("change password: %w", err)
	}
	return &out, nil
}

// Me returns the caller as the token sees them (GET /api/auth/me).
func (c *Client) Me(ctx context.Context) (*apitype.UserInfo, error) {
	var out apitype.UserInfo
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/auth/me", out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitOptions modify a submit.
type SubmitOptions struct {
	// IdempotencyKey makes a retried submit return the first job instead of a second.
	IdempotencyKey string
	// TestOnly validates and estimates the start; nothing is stored.
	TestOnly bool
}

// Submit sends a job (POST /api/jobs).
func (c *Client) Submit(ctx context.Context, req apitype.SubmitRequest, opts SubmitOptions) (*apitype.SubmitResponse, error) {
	r := request{method: http.MethodPost, path: "/api/jobs", body: req}
	if opts.TestOnly {
		r.path += "?test_only=true"
	}
	if opts.IdempotencyKey != "" {
		r.headers = map[string]string{"Idempotency-Key": opts.IdempotencyKey}
	}
	var out apitype.SubmitResponse
	r.out = &out
	if err := c.do(ctx, r); err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	return &out, nil
}

// SubmitBatch sends several jobs at once, all or nothing (POST /api/jobs/batch).
func (c *Client) SubmitBatch(ctx context.Context, req apitype.BatchSubmitRequest) (*apitype.BatchSubmitResponse, error) {
	var out apitype.BatchSubmitResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/jobs/batch", body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("submit batch: %w", err)
	}
	return &out, nil
}

// JobsQuery selects jobs for GET /api/jobs. Zero fields are left out.
type JobsQuery struct {
	States []string // long names or Slurm codes, or "all"
	Limit  int      // jobs in a page
	Name   string
	Since  time.Time
	User   string // email; admins only for other users
	IDs    []int64
	Newest bool   // order=newest; otherwise order=oldest (rcqd's default is newest)
	Cursor string // the Next of the page before
}

// Values encodes the query string.
func (q JobsQuery) Values() url.Values {
	v := url.Values{}
	if len(q.States) > 0 {
		v.Set("status", strings.Join(q.States, ","))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Name != "" {
		v.Set("name", q.Name)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if len(q.IDs) > 0 {
		ids := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		v.Set("ids", strings.Join(ids, ","))
	}
	if q.Newest { // rcqd lists newest first unless told
		v.Set("order", "newest")
	} else {
		v.Set("order", "oldest")
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// Jobs lists one page of jobs (GET /api/jobs); its Next, passed as
// q.Cursor, gives the next page.
func (c *Client) Jobs(ctx context.Context, q JobsQuery) (*apitype.JobList, error) {
	var out apitype.JobList
	if err := c.do(ctx, request{method: http.MethodGet, path: withQuery("/api/jobs", q.Values()), out: &out}); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return &out, nil
}

// AllJobs lists every job q selects, page by page (q.Limit jobs a page), in
// the listing's order.
func (c *Client) AllJobs(ctx context.Context, q JobsQuery) (*apitype.JobList, error) {
	all := &apitype.JobList{Jobs: []apitype.Job{}}
	for {
		page, err := c.Jobs(ctx, q)
		if err != nil {
			return nil, err
		}
		all.Jobs = append(all.Jobs, page.Jobs...)
		if page.Next == "" {
			all.Count = len(all.Jobs)
			return all, nil
		}
		if page.Next == q.Cursor {
			return nil, fmt.Errorf("list jobs: rcqd answered the same page twice (cursor %q)", q.Cursor)
		}
		q.Cursor = page.Next
	}
}

// Job returns one job (GET /api/jobs/{id}).
func (c *Client) Job(ctx context.Context, id int64) (*apitype.Job, error) {
	var out apitype.Job
	if err := c.do(ctx, request{method: http.MethodGet, path: fmt.Sprintf("/api/jobs/%d", id), out: &out}); err != nil {
		return nil, fmt.Errorf("job %d: %w", id, err)
	}
	return &out, nil
}

func (c *Client) action(ctx context.Context, method, verb string, id int64, body any) (*apitype.JobAction, error) {
	path := fmt.Sprintf("/api/jobs/%d", id)
	if verb != "cancel" {
		path += "/" + verb
	}
	var out apitype.JobAction
	if err := c.do(ctx, request{method: method, path: path, body: body, out: &out}); err != nil {
		return nil, fmt.Errorf("%s job %d: %w", verb, id, err)
	}
	return &out, nil
}

// Cancel cancels a job (DELETE /api/jobs/{id}). A finished job gives a
// conflict with code "job_finished".
func (c *Client) Cancel(ctx context.Context, id int64) (*apitype.JobAction, error) {
	return c.action(ctx, http.MethodDelete, "cancel", id, nil)
}

// CancelJobs cancels, in one call, every pending and running job that
// matches req (POST /api/jobs/cancel). Named jobs that were not cancelled
// come back in Refused, each with the error a single cancel would give.
func (c *Client) CancelJobs(ctx context.Context, req apitype.CancelRequest) (*apitype.CancelResponse, error) {
	var out apitype.CancelResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/jobs/cancel", body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("cancel jobs: %w", err)
	}
	return &out, nil
}

// Hold holds a pending job (POST /api/jobs/{id}/hold).
func (c *Client) Hold(ctx context.Context, id int64) (*apitype.JobAction, error) {
	return c.action(ctx, http.MethodPost, "hold", id, nil)
}

// Release releases a held job (POST /api/jobs/{id}/release).
func (c *Client) Release(ctx context.Context, id int64) (*apitype.JobAction, error) {
	return c.action(ctx, http.MethodPost, "release", id, nil)
}

// UpdateJob changes a pending job (PATCH /api/jobs/{id}) and returns it as
// changed. A user raising a time limit or priority gets a Forbidden error
// with code "admin_required"; a job no longer pending a Conflict.
func (c *Client) UpdateJob(ctx context.Context, id int64, u apitype.JobUpdate) (*apitype.Job, error) {
	var out apitype.Job
	if err := c.do(ctx, request{method: http.MethodPatch, path: fmt.Sprintf("/api/jobs/%d", id), body: u, out: &out}); err != nil {
		return nil, fmt.Errorf("update job %d: %w", id, err)
	}
	return &out, nil
}

// Signal sends a signal to a running job without cancelling it
// (POST /api/jobs/{id}/signal).
func (c *Client) Signal(ctx context.Context, id int64, signal string) (*apitype.JobAction, error) {
	return c.action(ctx, http.MethodPost, "signal", id, apitype.SignalRequest{Signal: signal})
}

// Output streams a job's stdout or stderr (GET /api/jobs/{id}/output). With
// follow, the stream stays open until the job ends. The caller closes it.
func (c *Client) Output(ctx context.Context, id int64, stream string, follow bool) (io.ReadCloser, error) {
	v := url.Values{}
	if stream != "" {
		v.Set("stream", stream)
	}
	if follow {
		v.Set("follow", "true")
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: withQuery(fmt.Sprintf("/api/jobs/%d/output", id), v)})
	if err != nil {
		return nil, fmt.Errorf("output of job %d: %w", id, err)
	}
	return resp.Body, nil
}

// QueueQuery selects a page of GET /api/queue. Zero fields are left out.
type QueueQuery struct {
	User   string // email: only this account's jobs
	Limit  int    // jobs in the page; 0: rcqd's default (its largest page)
	Cursor string // the Next of the page before
	// Fields keeps only these keys of each row (apitype.QueueJob's JSON
	// names); nil: every key.
	Fields []string
}

// values encodes the query string; rows asks for the rows form.
func (q QueueQuery) values(rows bool) url.Values {
	v := url.Values{}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if len(q.Fields) > 0 {
		v.Set("fields", strings.Join(q.Fields, ","))
	}
	if rows {
		v.Set("form", "rows")
	}
	return v
}

// QueuePage returns one page of the queue (GET /api/queue): the next
// pending and running jobs by id after q.Cursor, in queue order.
func (c *Client) QueuePage(ctx context.Context, q QueueQuery) (*apitype.Queue, error) {
	var out apitype.Queue
	if err := c.do(ctx, request{method: http.MethodGet, path: withQuery("/api/queue", q.values(false)), out: &out}); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return &out, nil
}

// Queue returns the whole queue, pending jobs in the scheduler's order, then
// running ones, reading it page by page (GET /api/queue) however long it is.
// user, when set, keeps only that user's jobs. Now is the first page's.
func (c *Client) Queue(ctx context.Context, user string) (*apitype.Queue, error) {
	return c.QueueAll(ctx, QueueQuery{User: user})
}

// QueueAll is Queue for a query (its Limit and Cursor are the first page's).
func (c *Client) QueueAll(ctx context.Context, q QueueQuery) (*apitype.Queue, error) {
	var all *apitype.Queue
	for pages := 1; ; pages++ {
		page, err := c.QueuePage(ctx, q)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = page
		} else {
			all.Jobs = append(all.Jobs, page.Jobs...)
		}
		if page.Next == "" {
			if pages > 1 {
				apitype.SortQueue(all.Jobs) // each page is in order, not their union
			}
			all.Count, all.Next = len(all.Jobs), ""
			return all, nil
		}
		if page.Next == q.Cursor {
			return nil, fmt.Errorf("queue: rcqd answered the same page twice (cursor %q)", q.Cursor)
		}
		q.Cursor = page.Next
	}
}
