package cli_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// With no credentials file, a command on rcqd's socket works as the caller's
// Unix user (no token sent); over TCP it is told to log in.
func TestClientWithoutLogin(t *testing.T) {
	sock := clitest.NewSocketAPI(t, "ann@lab")
	e := clitest.NewEnv(t, "rcq-queue", sock.URL)
	s, err := e.F.Client()
	if err != nil {
		t.Fatalf("no login on the socket: %v", err)
	}
	if s.Token() != "" {
		t.Errorf("a token %q was sent without a login", s.Token())
	}
	if email, err := s.Me(context.Background()); err != nil || email != "ann@lab" {
		t.Errorf("Me = %q, %v; want the peer ann@lab", email, err)
	}

	tcp := clitest.NewAPI(t)
	e = clitest.NewEnv(t, "rcq-queue", tcp.URL)
	_, err = e.F.Client()
	var ae *cli.AuthError
	if !errors.As(err, &ae) || ae.Msg != "not logged in: run rcq-login" {
		t.Errorf("no login over TCP: %v", err)
	}
}
