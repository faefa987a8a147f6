package store_test

import (
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestListJobsAfter: a page starting after a job's position (submit time,
// then id) holds exactly the jobs after it in the listing's order, also
// among jobs that share one submit time (a batch), in both orders.
func TestListJobsAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	first := f.submit(t, f.alice, res(1, 1, 0))
	batch, err := f.st.CreateJobs(ctx, []*rcq.Job{f.newJob(f.alice, res(1, 1, 0)), f.newJob(f.alice, res(1, 1, 0)), f.newJob(f.alice, res(1, 1, 0))})
	if err != nil {
		t.Fatal(err)
	}
	last := f.submit(t, f.alice, res(1, 1, 0))
	all := append(append([]rcq.JobID{first}, batch...), last)
	for _, newest := range []bool{false, true} {
		order := slices.Clone(all)
		if newest {
			slices.Reverse(order)
		}
		var got []rcq.JobID
		after := rcq.JobPos{}
		for {
			js, err := f.st.ListJobs(ctx, rcq.JobFilter{UserID: f.alice, Limit: 2, NewestFirst: newest, After: after})
			if err != nil {
				t.Fatal(err)
			}
			if len(js) == 0 {
				break
			}
			for _, j := range js {
				got = append(got, j.ID)
			}
			l := js[len(js)-1]
			after = rcq.JobPos{SubmittedAt: l.SubmittedAt, ID: l.ID}
		}
		if !slices.Equal(got, order) {
			t.Errorf("newest=%v: pages of 2 listed %v, want %v", newest, got, order)
		}
	}
}

// TestQueueJobsPages: the queue read a page at a time, by id, pending and
// running together, for everyone or one account.
func TestQueueJobsPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	var want, alices []rcq.JobID
	for i := range 7 {
		owner := f.alice
		if i%2 == 1 {
			owner = f.bob
		}
		id := f.submit(t, owner, res(1, 1, 0))
		want = append(want, id)
		if owner == f.alice {
			alices = append(alices, id)
		}
	}
	f.start(t, want[2])
	done := f.submit(t, f.alice, res(1, 1, 0))
	if _, err := f.st.CancelJob(ctx, done, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user rcq.UserID
		want []rcq.JobID
	}{{0, want}, {f.alice, alices}} {
		var got []rcq.JobID
		after := rcq.JobID(0)
		for {
			js, err := f.st.QueueJobs(ctx, rcq.QueueFilter{UserID: c.user, After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(js) == 0 {
				break
			}
			for _, j := range js {
				got = append(got, j.ID)
			}
			after = js[len(js)-1].ID
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("user %d: pages of 3 = %v, want %v (pending and running, by id)", c.user, got, c.want)
		}
	}
}
