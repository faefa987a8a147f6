package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rcq-project/rcq/internal/apitype"
)

// The routes under /api/admin need an admin's token; any other account gets
// an *rcq.Error of Kind Forbidden with code "admin_required".

// Groups lists the groups by id (GET /api/admin/groups).
func (c *Client) Groups(ctx context.Context) (*apitype.GroupList, error) {
	var out apitype.GroupList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/admin/groups", out: &out}); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return &out, nil
}

// CreateGroup creates a group (POST /api/admin/groups); a quota or priority
// left nil takes rcqd's default.
func (c *Client) CreateGroup(ctx context.Context, req apitype.GroupRequest) (*apitype.Group, error) {
	var out apitype.Group
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/admin/groups", body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("create group %s: %w", req.Name, err)
	}
	return &out, nil
}

// UpdateGroup changes a group's quota and/or priority
// (PATCH /api/admin/groups/{id}); nil fields stay as they are.
func (c *Client) UpdateGroup(ctx context.Context, id int64, req apitype.GroupRequest) (*apitype.Group, error) {
	var out apitype.Group
	if err := c.do(ctx, request{method: http.MethodPatch, path: fmt.Sprintf("/api/admin/groups/%d", id), body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("update group %d: %w", id, err)
	}
	return &out, nil
}

// Users lists the accounts by id (GET /api/admin/users).
func (c *Client) Users(ctx context.Context) (*apitype.UserList, error) {
	var out apitype.UserList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/admin/users", out: &out}); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return &out, nil
}

// UpdateUser changes an account's admin flag, group and/or Unix user
// (PATCH /api/admin/users/{id}); nil fields stay as they are, and a Unix
// user of "" removes the mapping.
func (c *Client) UpdateUser(ctx context.Context, id int64, req apitype.UserUpdate) (*apitype.User, error) {
	var out apitype.User
	if err := c.do(ctx, request{method: http.MethodPatch, path: fmt.Sprintf("/api/admin/users/%d", id), body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	return &out, nil
}

// Workers lists the workers by id (GET /api/admin/workers).
func (c *Client) Workers(ctx context.Context) (*apitype.WorkerList, error) {
	var out apitype.WorkerList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/admin/workers", out: &out}); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return &out, nil
}

// CreateWorker creates a worker (POST /api/admin/workers): name, node and
// CPU cores are required.
func (c *Client) CreateWorker(ctx context.Context, req apitype.WorkerRequest) (*apitype.Worker, error) {
	var out apitype.Worker
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/admin/workers", body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("create worker %s: %w", req.Name, err)
	}
	return &out, nil
}

// UpdateWorker changes a worker's size and/or status
// (PATCH /api/admin/workers/{id}); nil or empty fields stay as they are.
func (c *Client) UpdateWorker(ctx context.Context, id int64, req apitype.WorkerRequest) (*apitype.Worker, error) {
	var out apitype.Worker
	if err := c.do(ctx, request{method: http.MethodPatch, path: fmt.Sprintf("/api/admin/workers/%d", id), body: req, out: &out}); err != nil {
		return nil, fmt.Errorf("update worker %d: %w", id, err)
	}
	return &out, nil
}

// DeleteWorker deletes a worker (DELETE /api/admin/workers/{id}). Without
// force it is refused (Conflict worker_busy) while jobs run there; with
// force rcqd drains it, waits for its jobs to end, then deletes it: the call
// returns only then (or when ctx ends, leaving it drained).
func (c *Client) DeleteWorker(ctx context.Context, id int64, force bool) error {
	path := fmt.Sprintf("/api/admin/workers/%d", id)
	if force {
		path += "?force=true"
	}
	if err := c.do(ctx, request{method: http.MethodDelete, path: path}); err != nil {
		return fmt.Errorf("delete worker %d: %w", id, err)
	}
	return nil
}

// DrainWorker stops new jobs from starting on a worker; its running jobs
// finish (POST /api/admin/workers/{id}/drain).
func (c *Client) DrainWorker(ctx context.Context, id int64) (*apitype.Worker, error) {
	return c.workerAction(ctx, "drain", id)
}

// ResumeWorker puts a worker back online (POST /api/admin/workers/{id}/resume).
func (c *Client) ResumeWorker(ctx context.Context, id int64) (*apitype.Worker, error) {
	return c.workerAction(ctx, "resume", id)
}

func (c *Client) workerAction(ctx context.Context, verb string, id int64) (*apitype.Worker, error) {
	var out apitype.Worker
	if err := c.do(ctx, request{method: http.MethodPost, path: fmt.Sprintf("/api/admin/workers/%d/%s", id, verb), out: &out}); err != nil {
		return nil, fmt.Errorf("%s worker %d: %w", verb, id, err)
	}
	return &out, nil
}
