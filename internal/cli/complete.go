package cli

import (
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// CompleteJobIDs completes the caller's own pending and running job ids,
// newest first (the jobs one just submitted), by asking rcqd; it completes
// nothing (and prints nothing) when rcqd cannot be asked.
func CompleteJobIDs(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		s, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		q := client.JobsQuery{States: []string{"pending", "running"}, Limit: 1000, Newest: true}
		if me, err := s.Me(ctx); err == nil {
			q.User = me
		}
		list, err := s.Jobs(ctx, q)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		seen := map[string]bool{}
		for _, a := range args {
			seen[a] = true
		}
		prefix := ""
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix = toComplete[:i+1]
		}
		var out []cobra.Completion
		for _, j := range list.Jobs {
			id := fmt.Sprint(j.ID)
			if j.ArrayTaskID != nil {
				id = j.SlurmID() // an array element: 123_4
			}
			if seen[id] {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(prefix+id, fmt.Sprintf("%s (%s)", j.Name, j.Status)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// CompleteStates completes job state names and Slurm codes, after commas too.
func CompleteStates(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	out := []cobra.Completion{cobra.CompletionWithDesc(prefix+"all", "every state")}
	for _, s := range rcq.JobStates {
		out = append(out, cobra.CompletionWithDesc(prefix+string(s), s.Short()))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// CompleteSignals completes the signal names rcq-cancel -s accepts.
func CompleteSignals(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"TERM", "KILL", "INT", "HUP", "USR1", "USR2", "CONT", "STOP", "QUIT"}, cobra.ShellCompDirectiveNoFileComp
}

// CompleteDependency completes the dependency types of --dependency.
func CompleteDependency(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	return []cobra.Completion{
		cobra.CompletionWithDesc(prefix+"afterok:", "after the jobs completed with exit code 0"),
		cobra.CompletionWithDesc(prefix+"afterany:", "after the jobs ended, however"),
		cobra.CompletionWithDesc(prefix+"afternotok:", "after the jobs failed, timed out or were cancelled"),
		cobra.CompletionWithDesc(prefix+"aftercorr:", "each array element after the same element of another array"),
	}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
