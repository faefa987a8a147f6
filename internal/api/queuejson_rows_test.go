package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestQueueRowsForm: GET /api/queue?form=rows shows each caller what the
// object form shows them (another user's job without its name, an admin
// every job in full), and an unknown form is refused naming the field.
func TestQueueRowsForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mine := e.submit(e.aliceT, map[string]any{"hold": true, "name": "alices"})
	bobs := e.submit(e.bobT, map[string]any{"hold": true, "name": "secret-name"})
	type page struct {
		Fields []string
		Rows   [][]json.RawMessage
		Count  int
		Next   string
	}
	names := func(tok string) map[int64]string {
		t.Helper()
		r := e.get("/api/queue?form=rows&fields=id,name,own,status", tok)
		want(t, r, http.StatusOK, "")
		if tok == e.aliceT && strings.Contains(string(r.body), "secret-name") {
			t.Fatalf("alice's rows show the name of bob's job: %s", r.body)
		}
		p := decodeTo[page](t, r)
		if !slices.Equal(p.Fields, []string{"id", "status", "own", "name"}) || p.Count != 2 || len(p.Rows) != 2 || p.Next != "" {
			t.Fatalf("rows page %s", r.body)
		}
		out := map[int64]string{}
		for _, row := range p.Rows {
			var id int64
			var name string
			_ = json.Unmarshal(row[0], &id)
			_ = json.Unmarshal(row[3], &name)
			out[id] = name
		}
		return out
	}
	if got := names(e.aliceT); got[mine] != "alices" || got[bobs] != "" {
		t.Errorf("alice's rows: names %v", got)
	}
	if got := names(e.adminT); got[mine] != "alices" || got[bobs] != "secret-name" {
		t.Errorf("admin's rows: names %v", got)
	}
	// The object form, asked right after, is still the object form.
	r := e.get("/api/queue?fields=id,name,own,status", e.aliceT)
	if !strings.HasPrefix(string(r.body), `{"jobs":[`) {
		t.Errorf("object form after the rows form: %s", r.body)
	}
	want(t, e.get("/api/queue?form=table", e.aliceT), http.StatusBadRequest, "invalid_form")
	want(t, e.get("/api/queue?form=rows", ""), http.StatusUnauthorized, "")
}
