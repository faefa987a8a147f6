package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rcq-project/rcq/internal/apitype"
)

// Nodes lists every worker with its state and allocation (GET /api/workers);
// any account may call it.
func (c *Client) Nodes(ctx context.Context) (*apitype.NodeList, error) {
	var out apitype.NodeList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/workers", out: &out}); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return &out, nil
}

// Share lists every group's quota, usage and fair-share factor, with the
// members of the caller's own group (every group's for an admin)
// (GET /api/share).
func (c *Client) Share(ctx context.Context) (*apitype.ShareList, error) {
	var out apitype.ShareList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/share", out: &out}); err != nil {
		return nil, fmt.Errorf("fair share: %w", err)
	}
	return &out, nil
}
