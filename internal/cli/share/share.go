// Package share is rcq-share, sshare's counterpart: each group's quota,
// usage over the fair-share window, fair-share factor, and its users' part.
package share

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/table"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-share.
type Options struct {
	F *cli.Factory

	NoHeader  bool
	Parsable2 bool
	JSON      bool
}

const long = `Show fair share, like sshare.

One line per group (Account is the group's name), followed by one line per
user of your own group (every group's users for an admin); other groups
show their totals only. The columns are sshare's:

  Account User RawShares NormShares RawUsage EffectvUsage FairShare

RawShares is the group's CPU-hour quota over the fair-share window
("parent" on a user's line: users share their group's), NormShares that
quota over the sum of every group's. RawUsage is CPU-hours used over the
window, each hour decayed by its age when rcqd is configured with a
half-life (scheduler.fair_share_window, scheduler.fair_share_half_life),
exactly as the scheduler counts them. EffectvUsage is a group's part of
all usage, or a user's part of their group's. FairShare is the group's
fair-share factor, quota / usage clamped to scheduler.fair_share_min and
fair_share_max: a job's priority is multiplied by it (a user's line shows
their group's).

-P/--parsable2 prints the fields separated by |, -n/--noheader drops the
header; --json prints {"groups": [{"id", "name", "cpu_quota", "priority",
"usage_cpu_hours", "fair_share", "users": [{"email", "usage_cpu_hours",
"usage_share"}] or null}], "count"}.

` + cli.ExitStatusHelp

const example = `  rcq-share
  rcq-share -n -P
  rcq-share --json`

// NewCmd builds rcq-share. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:     "rcq-share [flags]",
		Short:   "Show groups' quotas, usage and fair share (like sshare)",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.JSON && (opts.Parsable2 || opts.NoHeader) {
				return cli.Usagef("--json and --parsable2 or --noheader together: choose one")
			}
			if runF != nil {
				return runF(opts)
			}
			return shareRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.NoHeader, "noheader", "n", false, "no header line")
	fl.BoolVarP(&opts.Parsable2, "parsable2", "P", false, "fields separated by |, no alignment")
	fl.BoolVar(&opts.JSON, "json", false, "print the groups as JSON")
	return cmd
}

// NewRootCmd is rcq-share's root command.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

// Header is sshare's, for the fields rcq has.
var Header = []string{"Account", "User", "RawShares", "NormShares", "RawUsage", "EffectvUsage", "FairShare"}

func shareRun(ctx context.Context, opts *Options) error {
	s, err := opts.F.Client()
	if err != nil {
		return err
	}
	list, err := s.Share(ctx)
	if err != nil {
		return err
	}
	w := opts.F.IO.Out
	if opts.JSON {
		return cli.PrintJSON(w, list)
	}
	rows := Rows(list.Groups)
	header := Header
	if opts.NoHeader {
		header = nil
	}
	if !opts.Parsable2 {
		return table.Write(w, header, rows, 2, 3, 4, 5, 6)
	}
	var b strings.Builder
	if header != nil {
		b.WriteString(strings.Join(header, "|") + "\n")
	}
	for _, r := range rows {
		b.WriteString(strings.Join(r, "|") + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// Rows are sshare's lines: each group, then its users when shown.
func Rows(gs []apitype.GroupShare) [][]string {
	var quota, usage float64
	for _, g := range gs {
		quota += g.CPUQuota
		usage += g.UsageCPUHours
	}
	part := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return a / b
	}
	var rows [][]string
	for _, g := range gs {
		fs := num(g.FairShare, 6)
		rows = append(rows, []string{g.Name, "", num(g.CPUQuota, -1), num(part(g.CPUQuota, quota), 6),
			num(g.UsageCPUHours, 2), num(part(g.UsageCPUHours, usage), 6), fs})
		for _, u := range g.Users {
			rows = append(rows, []string{g.Name, u.Email, "parent", "", num(u.UsageCPUHours, 2), num(u.UsageShare, 6), fs})
		}
	}
	return rows
}

func num(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }
