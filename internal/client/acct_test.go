package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestAcct: the query travels as GET /api/acct's parameters, EachAcct
// hands over every page in order and stops at the last, the summary drops
// paging, and a refusal comes back as *rcq.Error.
func TestAcct(t *testing.T) {
	t.Parallel()
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/acct", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.URL.Query().Get("user") == "bob" {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "only admins may see other users' jobs", Code: "other_users_jobs"})
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		out := apitype.AcctList{Jobs: []apitype.AcctJob{}}
		for id := from + 1; id <= min(from+2, 5); id++ {
			out.Jobs = append(out.Jobs, apitype.AcctJob{ID: int64(id)})
		}
		if from+2 < 5 {
			out.Next = strconv.Itoa(from + 2)
		}
		out.Count = len(out.Jobs)
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/acct/summary", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, "summary?"+r.URL.RawQuery)
		_ = json.NewEncoder(w).Encode(apitype.AcctSummary{Groups: []apitype.AcctGroup{{GroupID: 1, Group: "default", Jobs: 3}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := AcctQuery{User: "alice", IDs: []int64{1, 2}, States: []string{"CD", "F"}, Start: start, End: start.Add(time.Hour), Limit: 2}
	var got []int64
	if err := c.EachAcct(ctx, q, func(p *apitype.AcctList) error {
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("pages gave %v", got)
	}
	base := "end=2026-01-02T04%3A04%3A05Z&ids=1%2C2&limit=2&start=2026-01-02T03%3A04%3A05Z&states=CD%2CF&user=alice"
	want := []string{base, "cursor=2&" + base, "cursor=4&" + base}
	if !slices.Equal(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}
	queries = nil
	s, err := c.AcctSummary(ctx, AcctQuery{User: "alice", Limit: 2, Cursor: "x"})
	if err != nil || len(s.Groups) != 1 || s.Groups[0].Jobs != 3 {
		t.Fatalf("summary %+v, %v", s, err)
	}
	if !slices.Equal(queries, []string{"summary?user=alice"}) {
		t.Errorf("summary query %q", queries)
	}
	_, err = c.Acct(ctx, AcctQuery{User: "bob"})
	var re *rcq.Error
	if !errors.As(err, &re) || re.Kind != rcq.KindForbidden || re.Code != "other_users_jobs" {
		t.Errorf("refusal: %v", err)
	}
}

// TestEachAcctAsksAhead: with the cursor in a header (rcqd's), EachAcct
// asks for the next page before it has read the current one's rows: page
// 1's rows are only sent once page 2 has been asked for, which a client
// that waited for the rows would never do. A header that is not the body's
// next is an error, not a skipped or repeated page.
func TestEachAcctAsksAhead(t *testing.T) {
	t.Parallel()
	asked2 := make(chan struct{})
	lie := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/acct", func(w http.ResponseWriter, r *http.Request) {
		cursor := r.URL.Query().Get("cursor")
		out := apitype.AcctList{Jobs: []apitype.AcctJob{}}
		switch cursor {
		case "":
			out.Jobs, out.Next = append(out.Jobs, apitype.AcctJob{ID: 1}), "p2"
		case "p2":
			close(asked2)
			out.Jobs = append(out.Jobs, apitype.AcctJob{ID: 2})
		}
		out.Count = len(out.Jobs)
		h := out.Next
		if lie {
			h = "elsewhere"
		}
		w.Header().Set(apitype.NextCursorHeader, h)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if cursor == "" && !lie {
			select {
			case <-asked2:
			case <-time.After(10 * time.Second):
				t.Error("page 2 was not asked for while page 1's rows were still to come")
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	if err := c.EachAcct(context.Background(), AcctQuery{}, func(p *apitype.AcctList) error {
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("pages gave %v", got)
	}
	lie = true
	err = c.EachAcct(context.Background(), AcctQuery{}, func(p *apitype.AcctList) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not the one its header said") {
		t.Errorf("header and body disagree: err = %v", err)
	}
}
