package cli

import (
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

func TestExitCodeOf(t *testing.T) {
	n := func(i int) *int { return &i }
	cases := []struct {
		job  apitype.Job
		want int
	}{
		{apitype.Job{Status: "completed", ExitCode: n(0)}, 0},
		{apitype.Job{Status: "failed", ExitCode: n(7)}, 7},
		{apitype.Job{Status: "failed", ExitCode: n(300)}, 255},
		{apitype.Job{Status: "failed", Signal: "KILL"}, 1},
		{apitype.Job{Status: "cancelled", Signal: "TERM", ExitCode: n(143)}, 1},
		{apitype.Job{Status: "timeout"}, 1},
		{apitype.Job{Status: "cancelled"}, 1},
		{apitype.Job{Status: "failed", ExitCode: n(0)}, 1},
	}
	for _, c := range cases {
		if got := ExitCodeOf(&c.job); got != c.want {
			t.Errorf("ExitCodeOf(%+v) = %d, want %d", c.job, got, c.want)
		}
	}
}
