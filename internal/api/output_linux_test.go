package api

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A follower's watch wakes on a write to the file it has open, also once
// its path names another file. Each wait may last as long as the test may
// run: it returns because of an event, or the test fails.
func TestOutputWatchWakesOnWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, dl)
		defer stop()
	}
	wait := func(w *outputWatch, what string) {
		t.Helper()
		w.wait(ctx, 1<<62)
		if ctx.Err() != nil {
			t.Fatalf("the watch did not wake on %s", what)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "job.out")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := watchOutput(f)
	if err != nil {
		t.Fatalf("watchOutput: %v", err)
	}
	defer w.Close()
	old := filepath.Join(dir, "old.out")
	if err := os.Rename(path, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("another file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wait(w, "the rename")
	job, err := os.OpenFile(old, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if _, err := job.WriteString("line\n"); err != nil {
		t.Fatal(err)
	}
	wait(w, "a write to the open file")
}
