package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rcq-project/rcq/internal/apitype"
)

// Job refs name a job, a whole array (123), an array element (123_4) or
// several (123_[1-3,7]) in the {id} of the job routes; the methods below
// take one in sbatch's form (rcq.JobRef.String) and escape it for the path.

func refPath(ref string) string { return "/api/jobs/" + url.PathEscape(ref) }

// JobRef returns the job a ref names (GET /api/jobs/{ref}): an element not
// yet started is shown as its array's job with ArrayTaskID set.
func (c *Client) JobRef(ctx context.Context, ref string) (*apitype.Job, error) {
	var out apitype.Job
	if err := c.do(ctx, request{method: http.MethodGet, path: refPath(ref), out: &out}); err != nil {
		return nil, fmt.Errorf("job %s: %w", ref, err)
	}
	return &out, nil
}

func (c *Client) refAction(ctx context.Context, method, verb, ref string, q url.Values) (*apitype.JobAction, error) {
	path := refPath(ref)
	if verb != "cancel" {
		path += "/" + verb
	}
	var out apitype.JobAction
	if err := c.do(ctx, request{method: method, path: withQuery(path, q), out: &out}); err != nil {
		return nil, fmt.Errorf("%s job %s: %w", verb, ref, err)
	}
	return &out, nil
}

// CancelRef cancels the jobs a ref names (DELETE /api/jobs/{ref}).
func (c *Client) CancelRef(ctx context.Context, ref string) (*apitype.JobAction, error) {
	return c.refAction(ctx, http.MethodDelete, "cancel", ref, nil)
}

// HoldRef holds the pending jobs a ref names (POST /api/jobs/{ref}/hold).
func (c *Client) HoldRef(ctx context.Context, ref string) (*apitype.JobAction, error) {
	return c.refAction(ctx, http.MethodPost, "hold", ref, nil)
}

// ReleaseRef releases the held jobs a ref names (POST /api/jobs/{ref}/release).
func (c *Client) ReleaseRef(ctx context.Context, ref string) (*apitype.JobAction, error) {
	return c.refAction(ctx, http.MethodPost, "release", ref, nil)
}

// RequeueRef puts the jobs a ref names that ran back in the queue under
// their ids (POST /api/jobs/{ref}/requeue, scontrol requeue); with hold,
// held (?hold=true, scontrol requeuehold). A pending job is a Conflict with
// code "job_pending".
func (c *Client) RequeueRef(ctx context.Context, ref string, hold bool) (*apitype.JobAction, error) {
	var q url.Values
	if hold {
		q = url.Values{"hold": {"true"}}
	}
	return c.refAction(ctx, http.MethodPost, "requeue", ref, q)
}

// ArrayJobs lists every row of array id, the elements started or split off
// and the array's row of those not yet (GET /api/jobs?ids=ID&status=all),
// every page.
func (c *Client) ArrayJobs(ctx context.Context, id int64) (*apitype.JobList, error) {
	return c.AllJobs(ctx, JobsQuery{IDs: []int64{id}, States: []string{"all"}, Limit: 1000})
}

// SignalRef sends a signal to the running jobs a ref names
// (POST /api/jobs/{ref}/signal).
func (c *Client) SignalRef(ctx context.Context, ref, signal string) (*apitype.JobAction, error) {
	var out apitype.JobAction
	req := request{method: http.MethodPost, path: refPath(ref) + "/signal", body: apitype.SignalRequest{Signal: signal}, out: &out}
	if err := c.do(ctx, req); err != nil {
		return nil, fmt.Errorf("signal job %s: %w", ref, err)
	}
	return &out, nil
}

// UpdateJobRef changes the pending jobs a ref names (PATCH /api/jobs/{ref})
// and returns the job as changed (of several: the first).
func (c *Client) UpdateJobRef(ctx context.Context, ref string, u apitype.JobUpdate) (*apitype.Job, error) {
	var out apitype.Job
	if err := c.do(ctx, request{method: http.MethodPatch, path: refPath(ref), body: u, out: &out}); err != nil {
		return nil, fmt.Errorf("update job %s: %w", ref, err)
	}
	return &out, nil
}
