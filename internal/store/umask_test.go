package store_test

import (
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A job's umask is stored by both submit paths and read back; the schema
// refuses one beyond the permission bits.
func TestJobUmask(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	one := f.newJob(f.alice, res(1, 1, 0))
	one.Umask = 0o077
	id, _, err := f.st.CreateJob(ctx, one, "")
	if err != nil {
		t.Fatal(err)
	}
	batch := f.newJob(f.alice, res(1, 1, 0))
	batch.Umask = 0o027
	ids, err := f.st.CreateJobs(ctx, []*rcq.Job{batch})
	if err != nil {
		t.Fatal(err)
	}
	for want, id := range map[rcq.Umask]rcq.JobID{0o077: id, 0o027: ids[0]} {
		if got := f.job(t, id).Umask; got != want {
			t.Errorf("job %d: umask %v, want %v", id, got, want)
		}
	}
	bad := f.newJob(f.alice, res(1, 1, 0))
	bad.Umask = 0o1000
	if _, _, err := f.st.CreateJob(ctx, bad, ""); err == nil {
		t.Error("the schema stored umask 01000")
	}
}
