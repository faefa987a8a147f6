package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// An account check lets a statement run only for the account as it was
// read: a change to the account, or the end of the token's session, makes
// every checked statement refuse (ErrAccountChanged) and do nothing.
func TestAccountCheckGuardsItsStatement(t *testing.T) {
	t.Parallel()
	eachKeyedPath(t, func(t *testing.T, f *fixture, st *store.Store) {
		ctx := ctxT(t)
		read := func(jti string) *rcq.AccountCheck {
			t.Helper()
			u, revoked, err := st.TokenUser(ctx, f.alice, jti)
			if err != nil || revoked {
				t.Fatalf("token user: %v revoked %v", err, revoked)
			}
			return &rcq.AccountCheck{UserID: u.ID, RowVersion: u.RowVersion, TokenID: jti}
		}
		dependent := func() *rcq.Job {
			j := f.newJob(f.alice, res(1, 1, 0))
			j.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: f.submit(t, f.alice, res(1, 1, 0))}}
			return j
		}
		// Every way a checked statement stores or reads a job.
		statements := map[string]func(c *rcq.AccountCheck) error{
			"create": func(c *rcq.AccountCheck) error {
				_, _, err := st.CreateJobChecked(ctx, c, f.newJob(f.alice, res(1, 1, 0)), "")
				return err
			},
			"create with a key": func(c *rcq.AccountCheck) error {
				_, _, err := st.CreateJobChecked(ctx, c, f.newJob(f.alice, res(1, 1, 0)), time.Now().String())
				return err
			},
			"create with a dependency": func(c *rcq.AccountCheck) error {
				_, _, err := st.CreateJobChecked(ctx, c, dependent(), "")
				return err
			},
			"read": func(c *rcq.AccountCheck) error {
				_, err := st.JobByIDChecked(ctx, c, f.submit(t, f.alice, res(1, 1, 0)), 0)
				return err
			},
		}
		all := func(c *rcq.AccountCheck, want error) {
			t.Helper()
			for name, run := range statements {
				f.exec(t, `UPDATE jobs SET name = 'before'`)
				err := run(c)
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("%s: %v, want %v", name, err, want)
				}
				// Jobs stored by the checked statement: not 'before', and not
				// the job that "read" and "create with a dependency" store first.
				stored := f.count(t, `SELECT count(*) FROM jobs WHERE name <> 'before'`)
				if name == "read" || name == "create with a dependency" {
					stored--
				}
				if wantStored := map[bool]int{true: 1}[want == nil && name != "read"]; stored != wantStored {
					t.Errorf("%s stored %d jobs, want %d", name, stored, wantStored)
				}
			}
		}

		c := read("session-1")
		all(c, nil)

		// Any change to the account: here its group.
		g := f.group
		if _, err := st.UpdateUser(ctx, f.alice, rcq.UserPatch{GroupID: &g}); err != nil {
			t.Fatal(err)
		}
		all(c, rcq.ErrAccountChanged)

		// Read again, it holds; its session ended, it no longer does, while
		// the account's other session is not affected.
		c = read("session-1")
		all(c, nil)
		if err := st.RevokeToken(ctx, f.alice, "session-1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		all(c, rcq.ErrAccountChanged)
		all(read("session-2"), nil)

		// Another account's check is another row: bob's change is not alice's.
		bob := &rcq.AccountCheck{UserID: f.bob, RowVersion: c.RowVersion}
		if _, _, err := st.CreateJobChecked(ctx, bob, f.newJob(f.alice, res(1, 1, 0)), ""); !errors.Is(err, rcq.ErrAccountChanged) {
			t.Errorf("alice's row version under bob's id: %v, want ErrAccountChanged", err)
		}
	})
}
