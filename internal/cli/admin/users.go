package admin

import (
	"context"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

func newUsersCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return leaf(f, runF, ActionUsers, &cobra.Command{
		Use:   "users [flags]",
		Short: "List accounts",
		Long: `List the accounts, by id, as a table:

  ID EMAIL GROUP ADMIN UNIX_USER

GROUP is the group id, ADMIN yes or no, UNIX_USER the Unix account the
user's jobs run as when rcqd runs as root (- for none: such an account's
jobs fail at start until an admin maps it).
--json prints {"users": [{"id", "email", "group_id", "is_admin",
"unix_user", "created_at"}], "count"}.`,
		Example: "  rcq-admin users\n  rcq-admin users --json | jq -r '.users[] | select(.unix_user == \"\") | .email'",
		Args:    cli.ArgsUsage(cobra.NoArgs),
	}, nil)
}

func newUserCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return parent("user", "Change an account", "set", newUserSetCmd(f, runF))
}

func newUserSetCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var unixUser string
	var isAdmin bool
	var group int64
	c := leaf(f, runF, ActionUserSet, &cobra.Command{
		Use:   "set ID|EMAIL [flags]",
		Short: "Change an account's Unix user, admin rights or group",
		Long: `Change the account with id ID, or with email EMAIL (looked up in the list
of accounts, without regard to case); what is not given stays as it is.

--unix-user maps the account to the Unix user its jobs run as when rcqd
runs as root (a login name, not root); --unix-user "" removes the mapping.
--admin grants admin rights, --admin=false removes them. --group moves the
account to group ID: jobs submitted later count against the new group,
jobs already submitted keep theirs. Changes apply from the account's next
request; its tokens stay valid.`,
		Example: `  rcq-admin user set ada@lab.example --unix-user ada
  rcq-admin user set 7 --group 2
  rcq-admin user set bob@lab.example --admin=false`,
		Args:              cli.ArgsUsage(cobra.ExactArgs(1)),
		ValidArgsFunction: completeUsers(f),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Target = strings.TrimSpace(args[0])
		if _, err := strconv.ParseInt(o.Target, 10, 64); err != nil && !strings.Contains(o.Target, "@") {
			return cli.Usagef("%q is not a user id or email: use a number such as 7 or an email such as ada@lab.example", args[0])
		}
		o.UnixUser, o.Admin, o.Group = changed(cmd, "unix-user", unixUser), changed(cmd, "admin", isAdmin), changed(cmd, "group", group)
		if o.UnixUser == nil && o.Admin == nil && o.Group == nil {
			return cli.Usagef("nothing to change: give --unix-user, --admin or --group")
		}
		if o.Group != nil && *o.Group <= 0 {
			return cli.Usagef("--group %d: use a positive group id (rcq-admin groups lists them)", *o.Group)
		}
		return nil
	})
	fl := c.Flags()
	fl.StringVar(&unixUser, "unix-user", "", "run the account's jobs as Unix user `NAME` (\"\" for none)")
	fl.BoolVar(&isAdmin, "admin", false, "grant admin rights (--admin=false removes them)")
	fl.Int64Var(&group, "group", 0, "move the account to group `ID`")
	_ = c.RegisterFlagCompletionFunc("unix-user", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("group", completeGroups(f, false))
	return c
}

func usersRun(ctx context.Context, o *Options, s *cli.Session) error {
	list, err := s.Users(ctx)
	if err != nil {
		return err
	}
	t := newTable("ID", "EMAIL", "GROUP", "ADMIN", "UNIX_USER").rightAlign(0, 2)
	for _, u := range list.Users {
		t.add(strconv.FormatInt(u.ID, 10), u.Email, strconv.FormatInt(u.GroupID, 10), yesNo(u.IsAdmin), orDash(u.UnixUser))
	}
	return o.printList(list, t)
}

// userID resolves an id or an email into an account id.
func userID(ctx context.Context, s *cli.Session, target string) (int64, error) {
	if id, err := strconv.ParseInt(target, 10, 64); err == nil {
		if id <= 0 {
			return 0, cli.Usagef("%q is not a user id: use a positive number such as 7", target)
		}
		return id, nil
	}
	list, err := s.Users(ctx)
	if err != nil {
		return 0, err
	}
	for _, u := range list.Users {
		if strings.EqualFold(u.Email, target) {
			return u.ID, nil
		}
	}
	return 0, rcq.Errorf(rcq.KindNotFound, "user_not_found", "no account with email %s: rcq-admin users lists them", target)
}

func userSetRun(ctx context.Context, o *Options, s *cli.Session) error {
	id, err := userID(ctx, s, o.Target)
	if err != nil {
		return err
	}
	u, err := s.UpdateUser(ctx, id, apitype.UserUpdate{IsAdmin: o.Admin, GroupID: o.Group, UnixUser: o.UnixUser})
	if err != nil {
		return err
	}
	unix := u.UnixUser
	if unix == "" {
		unix = "none"
	}
	return o.printResult(u, "Updated user %d (%s): group %d, admin %s, Unix user %s", u.ID, u.Email, u.GroupID, yesNo(u.IsAdmin), unix)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
