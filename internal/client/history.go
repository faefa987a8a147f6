package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// ClusterHistory returns how many jobs were running and pending over the
// last hours, at instants step apart (GET /api/cluster/history); 0 leaves
// either to rcqd (24 hours, 15 minutes). Any account may call it.
func (c *Client) ClusterHistory(ctx context.Context, hours int, step time.Duration) (*apitype.ClusterHistory, error) {
	q := url.Values{}
	if hours > 0 {
		q.Set("hours", strconv.Itoa(hours))
	}
	if step > 0 {
		q.Set("step", step.String())
	}
	path := "/api/cluster/history"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out apitype.ClusterHistory
	if err := c.do(ctx, request{method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, fmt.Errorf("cluster history: %w", err)
	}
	return &out, nil
}

// ShareHistory returns the scheduler's fair-share settings and every
// group's CPU-hours per interval of step over the fair-share window (GET
// /api/share/history); 0 leaves the step to rcqd. Any account may call it.
func (c *Client) ShareHistory(ctx context.Context, step time.Duration) (*apitype.ShareHistory, error) {
	path := "/api/share/history"
	if step > 0 {
		path += "?step=" + url.QueryEscape(step.String())
	}
	var out apitype.ShareHistory
	if err := c.do(ctx, request{method: http.MethodGet, path: path, out: &out}); err != nil {
		return nil, fmt.Errorf("share history: %w", err)
	}
	return &out, nil
}
