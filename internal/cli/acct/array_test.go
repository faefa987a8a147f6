package acct

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

// JobID names an array element 123_4, JobIDRaw is its own job id; -j takes
// elements, asking rcqd for their array and keeping the elements named.
func TestArrayElements(t *testing.T) {
	t.Parallel()
	var queries []string
	arr, zero, one, two := int64(1), 0, 1, 2
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/acct", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query().Get("ids"))
		all := []apitype.AcctJob{
			{ID: 4, Name: "plain", Status: "completed", ExitCode: &zero},
			{ID: 3, Name: "sweep", Status: "failed", ExitCode: &two, ArrayJobID: &arr, ArrayTaskID: &two},
			{ID: 2, Name: "sweep", Status: "completed", ExitCode: &zero, ArrayJobID: &arr, ArrayTaskID: &one},
			{ID: 1, Name: "sweep", Status: "cancelled", ArrayJobID: &arr, ArrayTasks: "3-5"},
		}
		// ids= selects jobs, and every row of an array by its id, as rcqd.
		ids := map[string]bool{}
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			ids[id] = id != ""
		}
		out := apitype.AcctList{Jobs: []apitype.AcctJob{}}
		for _, j := range all {
			if r.URL.Query().Get("ids") == "" || ids[strconv.FormatInt(j.ID, 10)] || j.ArrayJobID != nil && ids[strconv.FormatInt(*j.ArrayJobID, 10)] {
				out.Jobs = append(out.Jobs, j)
			}
		}
		out.Count = len(out.Jobs)
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		jobs, want string
	}{
		{"", "4|4|COMPLETED\n1_2|3|FAILED\n1_1|2|COMPLETED\n1_[3-5]|1|CANCELLED\n"},
		{"1_2,4", "4|4|COMPLETED\n1_2|3|FAILED\n"},
		{"1_[1,4]", "1_1|2|COMPLETED\n1_[3-5]|1|CANCELLED\n"},
		{"1_2,1", "1_2|3|FAILED\n1_1|2|COMPLETED\n1_[3-5]|1|CANCELLED\n"},
	} {
		e := newEnv(t, srv.URL)
		args := []string{"-n", "-P", "-o", "JobID,JobIDRaw,State"}
		if c.jobs != "" {
			args = append(args, "-j", c.jobs)
		}
		if code := e.Run(NewRootCmd(e.F), args...); code != 0 {
			t.Fatalf("-j %s: exit %d: %s", c.jobs, code, e.Stderr)
		}
		if e.Stdout.String() != c.want {
			t.Errorf("-j %s:\n%s\nwant:\n%s", c.jobs, e.Stdout, c.want)
		}
	}
	if want := []string{"", "1,4", "1", "1"}; len(queries) != 4 || queries[1] != want[1] || queries[2] != want[2] || queries[3] != want[3] {
		t.Errorf("ids asked: %q, want %q", queries, want)
	}
}
