package slurmcompat

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// sacctmgrField is one column sacctmgr can print: its header and width.
type sacctmgrField struct {
	name, header string
	width        int
}

var sacctmgrFields = []sacctmgrField{
	{"User", "User", 10}, {"DefaultAccount", "Def Acct", 10}, {"Admin", "Admin", 9},
	{"Account", "Account", 10}, {"Cluster", "Cluster", 10}, {"Partition", "Partition", 10},
	{"QOS", "QOS", 20}, {"DefaultQOS", "Def QOS", 9}, {"Name", "Name", 10},
	{"Description", "Descr", 20}, {"Organization", "Org", 20}, {"Share", "Share", 9},
}

// Default columns of each entity.
var sacctmgrDefaults = map[string]string{
	"user":        "User,DefaultAccount,Admin",
	"userassoc":   "Cluster,Account,User,Partition,Share,QOS,DefaultQOS",
	"account":     "Account,Description,Organization",
	"association": "Cluster,Account,User,Partition,Share,QOS,DefaultQOS",
	"cluster":     "Cluster",
}

func newSacctmgr(f *cli.Factory) *cobra.Command {
	var noHeader, parsable, parsable2, assoc, ver bool
	cmd := &cobra.Command{
		Use:   "sacctmgr [flags] list|show user|account|association|cluster [NAME...] [format=FIELDS] [where ...]",
		Short: "Show rcq accounts as Slurm's accounts (Slurm's sacctmgr, read-only)",
		Long: `sacctmgr under rcq lists, read-only, what Slurm's accounting manager
would: a Slurm account is an rcq group, each user has one (their group,
also the default), the one cluster is ` + slurm.ClusterName + `. "list user [NAME...]"
(your own login or email; -s/withassoc adds the association columns),
"list account", "list association", "list cluster"; format=Field[%WIDTH],...
with User, DefaultAccount, Admin, Account, Cluster, Partition, QOS,
DefaultQOS, Name, Description, Organization, Share. -n, -p, -P as in Slurm.
Changes (add, modify, delete) are refused: use rcq-admin.

` + cli.ExitStatusHelp,
		Example: "  sacctmgr -n -s list user $USER format=account%20\n  sacctmgr -P list association where user=$USER",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ver {
				fmt.Fprintln(f.IO.Out, version())
				return nil
			}
			if len(args) < 2 {
				return slurmError("error: use: sacctmgr list user|account|association|cluster [NAME...] [format=FIELDS]")
			}
			switch strings.ToLower(args[0]) {
			case "list", "show":
			case "add", "create", "modify", "update", "delete", "remove":
				return slurmError("error: rcq's sacctmgr is read-only: manage groups and accounts with rcq-admin")
			default:
				return slurmError("error: Invalid command: %s", args[0])
			}
			entity := strings.TrimSuffix(strings.ToLower(args[1]), "s")
			if _, ok := sacctmgrDefaults[entity]; !ok || entity == "userassoc" {
				return slurmError("error: unknown entity %s: use user, account, association or cluster", args[1])
			}
			format := ""
			var names []string
			for _, a := range args[2:] {
				k, v, hasValue := strings.Cut(a, "=")
				switch lk := strings.ToLower(k); {
				case !hasValue && (lk == "where" || lk == "withassoc"):
					assoc = assoc || lk == "withassoc"
				case !hasValue:
					names = append(names, cli.SplitList(a)...)
				case lk == "format":
					format = v
				case lk == "user" || lk == "users" || lk == "name" || lk == "names" || lk == "account" || lk == "accounts" || lk == "cluster" || lk == "clusters":
					names = append(names, cli.SplitList(v)...)
				default:
					// other conditions (partition=, qos=...) keep everything
				}
			}
			if format == "" {
				format = sacctmgrDefaults[entity]
				if entity == "user" && assoc {
					format = sacctmgrDefaults["user"] + "," + sacctmgrDefaults["userassoc"]
				}
			}
			cols, fields, err := parseSacctmgrFormat(format)
			if err != nil {
				return err
			}
			s, err := f.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			me, err := s.Client.Me(ctx)
			if err != nil {
				return err
			}
			group, err := s.GroupName(ctx)
			if err != nil {
				return err
			}
			login := me.UnixUser
			if login == "" {
				login = strings.TrimSuffix(me.Email, "@localhost")
			}
			row := map[string]string{
				"User": login, "DefaultAccount": group, "Admin": "None", "Account": group, "Cluster": slurm.ClusterName,
				"Partition": "", "QOS": "normal", "DefaultQOS": "", "Name": group, "Description": group, "Organization": group, "Share": "1",
			}
			if me.IsAdmin {
				row["Admin"] = "Administrator"
			}
			if entity == "cluster" {
				row["Name"] = slurm.ClusterName
			}
			show := len(names) == 0
			for _, n := range names {
				switch entity {
				case "user", "association":
					show = show || n == login || n == me.Email
				case "account":
					show = show || strings.EqualFold(n, group)
				case "cluster":
					show = show || n == slurm.ClusterName
				}
			}
			sep := ""
			if parsable || parsable2 {
				sep = "|"
			}
			t := cli.NewFixedWriter(f.IO.Out, cols, sep, parsable)
			if !noHeader {
				if err := t.Header(); err != nil {
					return err
				}
			}
			if show {
				vals := make([]string, len(fields))
				for i, fl := range fields {
					vals[i] = row[fl]
				}
				if err := t.Row(vals); err != nil {
					return err
				}
			}
			return t.Flush()
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&noHeader, "noheader", "n", false, "no header lines")
	fl.BoolVarP(&parsable, "parsable", "p", false, "values separated by |, one at the end too")
	fl.BoolVarP(&parsable2, "parsable2", "P", false, "values separated by |")
	fl.BoolVarP(&assoc, "associations", "s", false, "list users with their associations")
	noEffect(cmd, "immediate:i", "quiet:Q", "readonly:r", "verbose:v")
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

// parseSacctmgrFormat reads format=Field[%WIDTH],... (any case).
func parseSacctmgrFormat(s string) ([]cli.FixedColumn, []string, error) {
	var cols []cli.FixedColumn
	var names []string
	for _, part := range cli.SplitList(s) {
		name, width, hasWidth := strings.Cut(part, "%")
		var fd *sacctmgrField
		for i := range sacctmgrFields {
			if strings.EqualFold(sacctmgrFields[i].name, name) || strings.EqualFold(strings.ReplaceAll(sacctmgrFields[i].header, " ", ""), name) {
				fd = &sacctmgrFields[i]
			}
		}
		if fd == nil {
			return nil, nil, slurmError("error: Unknown field '%s'", name)
		}
		col := cli.FixedColumn{Header: fd.header, Width: fd.width, Right: true}
		if hasWidth {
			n, err := strconv.Atoi(width)
			if err != nil || n == 0 {
				return nil, nil, slurmError("error: bad width in '%s'", part)
			}
			if n < 0 {
				n, col.Right = -n, false
			}
			col.Width = n
		}
		cols = append(cols, col)
		names = append(names, fd.name)
	}
	if len(cols) == 0 {
		return nil, nil, slurmError("error: format= names no field")
	}
	return cols, names, nil
}
