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

// AuditQuery selects rows of the audit log (GET /api/admin/audit). Zero
// fields are left out.
type AuditQuery struct {
	Since  time.Time
	Until  time.Time
	Actor  string // an account's email or id
	Target string // KIND or KIND:ID: group, account, worker, job, jobs, route
	Action string // group.update, or a prefix ending in a dot: job.
	Limit  int    // rows in a page; 0: rcqd's default (1000)
	Cursor string // the Next of the page before
}

// Values encodes the query string.
func (q AuditQuery) Values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	for _, kv := range [][2]string{{"actor", q.Actor}, {"target", q.Target}, {"action", q.Action}, {"cursor", q.Cursor}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Audit lists one page of the audit log, newest first (GET
// /api/admin/audit); its Next, passed as q.Cursor, gives the next (older)
// page. Admins only.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (*apitype.AuditList, error) {
	var out apitype.AuditList
	if err := c.do(ctx, request{method: http.MethodGet, path: withQuery("/api/admin/audit", q.Values()), out: &out}); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return &out, nil
}
