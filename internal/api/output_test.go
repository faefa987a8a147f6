package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/executor"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// Output streaming opens the file as the job's Unix user. User B points a
// job's output at a file in user A's 0700 home and streams it: the answer
// is the same 404, word for word, before and after A creates the file, so B
// cannot learn what exists there; /etc/shadow, /dev/kmsg and a FIFO answer
// alike (a device is never even opened). A still streams A's own output.
func TestJobOutputAsJobUser(t *testing.T) {
	t.Parallel()
	a, b := unixtest.New(t), unixtest.New(t)
	e := newEnv(t, func(_ *api.Config, d *api.Deps) {
		d.ReadOutput = executor.ReadOutput
		d.OutputPaths = executor.OutputPaths
	})
	ctx := context.Background()
	for id, name := range map[rcq.UserID]string{e.alice: a.Name, e.bob: b.Name} {
		if _, err := e.st.UpdateUser(ctx, id, rcq.UserPatch{UnixUser: &name}); err != nil {
			t.Fatal(err)
		}
	}
	output := func(token string, id int64) resp {
		return e.get(fmt.Sprintf("/api/jobs/%d/output", id), token)
	}
	started := func(token string, body map[string]any) int64 {
		id := e.submit(token, body)
		e.start(id)
		return id
	}

	mine := started(e.aliceT, map[string]any{"working_dir": a.Home, "output": "mine.out"})
	a.WriteFile(t, filepath.Join(a.Home, "mine.out"), []byte("a's output\n"), 0o600)
	if r := output(e.aliceT, mine); r.status != http.StatusOK || string(r.body) != "a's output\n" {
		t.Fatalf("A streaming A's own output: %s", r)
	}

	notes := filepath.Join(a.Home, "notes.txt")
	probe := started(e.bobT, map[string]any{"working_dir": b.Home, "output": notes})
	before := output(e.bobT, probe)
	want(t, before, http.StatusNotFound, "no_output")
	a.WriteFile(t, notes, []byte("a's notes\n"), 0o644)
	after := output(e.bobT, probe)
	if after.status != before.status || string(after.sansID()) != string(before.sansID()) {
		t.Errorf("B learns that %s now exists:\nbefore: %s\nafter:  %s", notes, before, after)
	}
	if strings.Contains(string(after.body), "a's notes") {
		t.Errorf("B read A's file: %s", after)
	}

	fifo := filepath.Join(b.Home, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(fifo, b.UID, b.GID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/etc/shadow", "/dev/kmsg", fifo} {
		id := started(e.bobT, map[string]any{"working_dir": b.Home, "output": path})
		r := output(e.bobT, id)
		want(t, r, http.StatusNotFound, "no_output")
		if strings.Contains(string(r.body), "root:") {
			t.Errorf("B read %s: %s", path, r)
		}
	}
}

// A NUL byte in a path field is a 400 naming the field, never a 500, and
// stores nothing.
func TestNULInPathFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, field := range []string{"working_dir", "output", "error"} {
		body := map[string]any{"script": "#!/bin/sh\ntrue\n", field: "/tmp/a\x00b"}
		r := e.post("/api/jobs", e.aliceT, body)
		want(t, r, http.StatusBadRequest, "invalid_"+field)
		if msg := r.errBody(t).Error; !strings.HasPrefix(msg, field+":") || !strings.Contains(msg, "NUL") {
			t.Errorf("%s with NUL: %q, want the field and the rule", field, msg)
		}
		r = e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []any{body}})
		want(t, r, http.StatusBadRequest, "invalid_"+field)
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("%d jobs stored", n)
	}
}

// A submit's umask is validated and kept; none means 0022.
func TestSubmitUmask(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for in, want := range map[string]rcq.Umask{"": rcq.DefaultUmask, "0077": 0o077, "027": 0o027} {
		body := map[string]any{}
		if in != "" {
			body["umask"] = in
		}
		if got := e.job(e.submit(e.aliceT, body)).Umask; got != want {
			t.Errorf("umask %q stored as %v, want %v", in, got, want)
		}
	}
	for _, bad := range []string{"0778", "1022", "rw-", "-1"} {
		want(t, e.post("/api/jobs", e.aliceT, map[string]any{"script": "true", "umask": bad}), http.StatusBadRequest, "invalid_umask")
	}
}

// A NUL byte in a query parameter (a name or user filter) is a 400 naming
// the parameter, not a 500 from PostgreSQL.
func TestNULInQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/api/jobs?name=a%00b", "/api/jobs?user=a%00b@example.org", "/api/queue?user=a%00b@example.org"} {
		r := e.get(path, e.aliceT)
		param := "name"
		if strings.Contains(path, "user=") {
			param = "user"
		}
		want(t, r, http.StatusBadRequest, "invalid_"+param)
	}
	want(t, e.get("/api/jobs?name=ab", e.aliceT), http.StatusOK, "")
}
