package cli_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestSplitJobRefs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"1,2", "3"}, []string{"1", "2", "3"}},
		{[]string{"1,123_[1-3,7],9"}, []string{"1", "123_[1-3,7]", "9"}},
		{[]string{"123_[1,3]", "5_4"}, []string{"123_[1,3]", "5_4"}},
		{[]string{",, 7 ,"}, []string{"7"}},
		{nil, nil},
	} {
		if got := cli.SplitJobRefs(tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("SplitJobRefs(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestParseJobRefs(t *testing.T) {
	refs, err := cli.ParseJobRefs([]string{"42,123_4", "123_[1-3,7]"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.String())
	}
	if want := []string{"42", "123_4", "123_[1-3,7]"}; !slices.Equal(got, want) {
		t.Errorf("refs %q, want %q", got, want)
	}
	ids, elements := cli.SplitRefs(refs)
	if !slices.Equal(ids, []int64{42}) || len(elements) != 2 || elements[1].Tasks.String() != "1-3,7" {
		t.Errorf("SplitRefs: ids %v, elements %v", ids, elements)
	}
	for _, bad := range []string{"x", "123_", "123_[3-1]", "123_[1-3", "0", "-4"} {
		_, err := cli.ParseJobRefs([]string{bad})
		var usage *cli.UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), rcq.JobRefForm) {
			t.Errorf("ParseJobRefs(%q): %v, want a usage error naming the form", bad, err)
		}
	}
}

func TestRefMessage(t *testing.T) {
	for _, c := range []struct {
		ref, msg, want string
	}{
		{"1_3", "job 2 is already cancelled", "job 1_3 is already cancelled"},
		{"1_3", "job 1_3 is running", "job 1_3 is running"},
		{"1_[3-4]", "job 1_[3-4]: no element could be changed (job 9 is already completed)", "job 1_[3-4]: no element could be changed (job 9 is already completed)"},
		{"7", "job 7 is already completed", "job 7 is already completed"},
		{"7", "no such thing", "job 7: no such thing"},
		{"1_3", "job is odd", "job 1_3: job is odd"},
	} {
		err := &rcq.Error{Kind: rcq.KindConflict, Msg: c.msg}
		if got := cli.RefMessage(c.ref, err); got != c.want {
			t.Errorf("RefMessage(%q, %q) = %q, want %q", c.ref, c.msg, got, c.want)
		}
	}
}
