package admin

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/spf13/cobra"
)

// completer completes from a list rcqd gives (an admin's token is needed);
// it completes nothing, and prints nothing, when rcqd cannot be asked. A
// positional completer completes the first argument only.
func completer(f *cli.Factory, positional bool, list func(context.Context, *cli.Session) ([]cobra.Completion, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if positional && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		s, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		out, err := list(ctx, s)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeGroups completes group ids, described by their names.
func completeGroups(f *cli.Factory, positional bool) cobra.CompletionFunc {
	return completer(f, positional, func(ctx context.Context, s *cli.Session) ([]cobra.Completion, error) {
		list, err := s.Groups(ctx)
		if err != nil {
			return nil, err
		}
		var out []cobra.Completion
		for _, g := range list.Groups {
			out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(g.ID, 10), g.Name))
		}
		return out, nil
	})
}

// completeUsers completes account emails, described by their ids.
func completeUsers(f *cli.Factory) cobra.CompletionFunc {
	return completer(f, true, func(ctx context.Context, s *cli.Session) ([]cobra.Completion, error) {
		list, err := s.Users(ctx)
		if err != nil {
			return nil, err
		}
		var out []cobra.Completion
		for _, u := range list.Users {
			out = append(out, cobra.CompletionWithDesc(u.Email, fmt.Sprintf("user %d, group %d", u.ID, u.GroupID)))
		}
		return out, nil
	})
}

// completeWorkers completes worker names, described by node and status.
func completeWorkers(f *cli.Factory) cobra.CompletionFunc {
	return completer(f, true, func(ctx context.Context, s *cli.Session) ([]cobra.Completion, error) {
		list, err := s.Workers(ctx)
		if err != nil {
			return nil, err
		}
		var out []cobra.Completion
		for _, w := range list.Workers {
			out = append(out, cobra.CompletionWithDesc(w.Name, fmt.Sprintf("worker %d on %s, %s", w.ID, w.Node, w.Status)))
		}
		return out, nil
	})
}
