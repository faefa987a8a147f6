package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// AcctQuery selects jobs for GET /api/acct and /api/acct/summary. Zero
// fields are left out.
type AcctQuery struct {
	User   string   // email or Unix login; others' need an admin
	IDs    []int64  // only these jobs
	States []string // long names or Slurm codes (PD, R, CD, F, CA, TO), or "all"
	Start  time.Time
	End    time.Time
	Limit  int    // jobs in a page; 0: rcqd's largest page
	Cursor string // the Next of the page before
	// Fields keeps only these keys of each row (apitype.AcctJob's JSON
	// names); nil: every key.
	Fields []string
}

// Values encodes the query string.
func (q AcctQuery) Values() url.Values {
	v := url.Values{}
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
	if len(q.States) > 0 {
		v.Set("states", strings.Join(q.States, ","))
	}
	if !q.Start.IsZero() {
		v.Set("start", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		v.Set("end", q.End.UTC().Format(time.RFC3339Nano))
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
	return v
}

// Acct lists one page of jobs for accounting, newest first (GET
// /api/acct); its Next, passed as q.Cursor, gives the next page.
func (c *Client) Acct(ctx context.Context, q AcctQuery) (*apitype.AcctList, error) {
	var out apitype.AcctList
	if err := c.do(ctx, request{method: http.MethodGet, path: withQuery("/api/acct", q.Values()), out: &out}); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return &out, nil
}

// EachAcct calls fn with every page of the jobs q selects, newest first,
// following next to the last page. The next page is asked for as soon as
// the current one's headers say its cursor (apitype.NextCursorHeader),
// while its rows are read, decoded and handed to fn, so rcqd never waits
// for the caller between pages; at most three pages are held (one read,
// one waiting, one with fn). Without that header (an older rcqd) the next
// page is asked for once the current one is decoded.
func (c *Client) EachAcct(ctx context.Context, q AcctQuery, fn func(*apitype.AcctList) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // an unread prefetch ends with the call
	type result struct {
		page *apitype.AcctList
		err  error
	}
	// Each page's result comes on its own channel, the channels in page
	// order; the room of pages bounds how far the reading runs ahead.
	pages := make(chan chan result, 1)
	go func() {
		defer close(pages)
		for {
			r := request{method: http.MethodGet, path: withQuery("/api/acct", q.Values())}
			ch := make(chan result, 1)
			read := func(resp *http.Response, header string, early bool) result {
				var out apitype.AcctList
				r.out = &out
				if err := c.read(ctx, r, resp); err != nil {
					return result{err: fmt.Errorf("list jobs: %w", err)}
				}
				if early && out.Next != header {
					return result{err: fmt.Errorf("list jobs: rcqd's next cursor %q is not the one its header said (%q)", out.Next, header)}
				}
				return result{page: &out}
			}
			next := ""
			resp, err := c.send(ctx, r)
			if err != nil {
				ch <- result{err: fmt.Errorf("list jobs: %w", err)}
			} else if h, early := resp.Header[http.CanonicalHeaderKey(apitype.NextCursorHeader)]; early {
				next = h[0]
				go func() { ch <- read(resp, next, true) }()
			} else {
				res := read(resp, "", false)
				if res.err == nil {
					next = res.page.Next
				}
				ch <- res
			}
			select {
			case pages <- ch:
			case <-ctx.Done():
				return
			}
			if err != nil || next == "" {
				return
			}
			if next == q.Cursor {
				ch := make(chan result, 1)
				ch <- result{err: fmt.Errorf("list jobs: rcqd answered the same page twice (cursor %q)", q.Cursor)}
				select {
				case pages <- ch:
				case <-ctx.Done():
				}
				return
			}
			q.Cursor = next
		}
	}()
	for ch := range pages {
		res := <-ch
		if res.err != nil {
			return res.err
		}
		if err := fn(res.page); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// AcctSummary totals per group the jobs q selects (GET /api/acct/summary;
// q.Limit and q.Cursor are not sent).
func (c *Client) AcctSummary(ctx context.Context, q AcctQuery) (*apitype.AcctSummary, error) {
	q.Limit, q.Cursor = 0, ""
	var out apitype.AcctSummary
	if err := c.do(ctx, request{method: http.MethodGet, path: withQuery("/api/acct/summary", q.Values()), out: &out}); err != nil {
		return nil, fmt.Errorf("summarize jobs: %w", err)
	}
	return &out, nil
}
