package programs

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

func TestUmbrella(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq", api.URL)
	e.Login(t, api, "ann@lab")
	if code := e.Run(NewUmbrella(e.F), "submit", "--wrap", "true"); code != 0 || e.Stdout.String() != "Submitted batch job 1\n" {
		t.Fatalf("rcq submit: exit %d, %q %q", code, e.Stdout, e.Stderr)
	}
	e.Stdout.Reset()
	if code := e.Run(NewUmbrella(e.F), "queue", "-h", "-o", "%i %j"); code != 0 || e.Stdout.String() != "1 wrap\n" {
		t.Errorf("rcq queue: exit %d, %q %q", code, e.Stdout, e.Stderr)
	}
	e.Stdout.Reset()
	if code := e.Run(NewUmbrella(e.F), "cancel", "1"); code != 0 || api.Job(1).Status != "cancelled" {
		t.Errorf("rcq cancel: exit %d, %q", code, e.Stderr)
	}
	e.Stdout.Reset()
	if code := e.Run(NewUmbrella(e.F), "show", "1"); code != 0 || !strings.HasPrefix(e.Stdout.String(), "JobId=1 JobName=wrap\n") {
		t.Errorf("rcq show: exit %d, %q %q", code, e.Stdout, e.Stderr)
	}
	e.Stdout.Reset()
	if code := e.Run(NewUmbrella(e.F), "control", "update", "1", "JobName=x"); code != 1 || !strings.Contains(e.Stderr.String(), "job 1 is cancelled, not pending") {
		t.Errorf("rcq control: exit %d, %q %q", code, e.Stdout, e.Stderr)
	}
	e.Stderr.Reset()
	if code := e.Run(NewUmbrella(e.F), "frobnicate"); code != cli.ExitUsage || !strings.HasPrefix(e.Stderr.String(), `rcq: unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, e.Stderr)
	}
	e.Stdout.Reset()
	if code := e.Run(NewUmbrella(e.F)); code != 0 || !strings.Contains(e.Stdout.String(), "submit") {
		t.Errorf("rcq alone: exit %d, %q", code, e.Stdout)
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	for _, p := range append(All(), Umbrella) {
		c := p.Command()
		if !strings.Contains(c.Example, p.Name) && p.Name != "rcq" || c.Example == "" {
			t.Errorf("%s has no examples", p.Name)
		}
		if c.Flags().Lookup("server") == nil && c.PersistentFlags().Lookup("server") == nil {
			t.Errorf("%s has no --server", p.Name)
		}
		if !strings.Contains(c.Long, "Exit status") {
			t.Errorf("%s does not document its exit status", p.Name)
		}
	}
}
