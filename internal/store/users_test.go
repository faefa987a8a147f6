package store_test

import (
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestUnixUserUnique is the attack "map my account to a Unix user another
// account already has" (the socket would then take either for the other):
// refused by the store on create and on update with 409 unix_user_taken, and
// by the schema itself for a hand-written query.
func TestUnixUserUnique(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ann := "ann"
	if _, err := f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{UnixUser: &ann}); err != nil {
		t.Fatal(err)
	}
	u, err := f.st.UserByUnixUser(ctx, "ann")
	if err != nil || u.ID != f.alice {
		t.Fatalf("UserByUnixUser(ann) = %+v, %v; want alice", u, err)
	}
	_, err = f.st.UpdateUser(ctx, f.bob, rcq.UserPatch{UnixUser: &ann})
	wantKind(t, err, rcq.KindConflict, "unix_user_taken")
	_, err = f.st.CreateUser(ctx, rcq.User{Email: "eve@example.org", GroupID: 1, UnixUser: "ann"}, "h")
	wantKind(t, err, rcq.KindConflict, "unix_user_taken")
	if _, err := f.db.Exec(ctx, `UPDATE users SET unix_user = 'ann' WHERE id = $1`, f.bob); err == nil {
		t.Error("the schema let a second account take the Unix user ann")
	}
	if u, _, _ := f.st.UserByID(ctx, f.bob); u.UnixUser != "" {
		t.Errorf("bob's Unix user = %q after refusals", u.UnixUser)
	}
	// The email conflict is still told apart.
	_, err = f.st.CreateUser(ctx, rcq.User{Email: "ALICE@example.org", GroupID: 1, UnixUser: "other"}, "h")
	wantKind(t, err, rcq.KindConflict, "email_taken")

	// Any number of accounts may have no Unix user; none is found by "".
	empty := ""
	if _, err := f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{UnixUser: &empty}); err != nil {
		t.Fatal(err)
	}
	_, err = f.st.UserByUnixUser(ctx, "")
	wantKind(t, err, rcq.KindNotFound, "user_not_found")
	_, err = f.st.UserByUnixUser(ctx, "ann")
	wantKind(t, err, rcq.KindNotFound, "user_not_found")
	// Freed, the name can be taken again.
	if _, err := f.st.UpdateUser(ctx, f.bob, rcq.UserPatch{UnixUser: &ann}); err != nil {
		t.Errorf("map bob to a freed Unix user: %v", err)
	}
}
