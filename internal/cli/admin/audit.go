package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/slurm"
)

// auditMaxLimit is the most rows one rcq-admin audit prints: the table is
// bounded (tablewriter); older rows are reached with --until or --since.
const auditMaxLimit = 10000

// auditTargets are the target kinds rcqd records.
var auditTargets = []string{"group", "account", "worker", "job", "jobs", "route"}

func newAuditCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	var since, until, actor, target, action string
	var limit int
	c := leaf(f, runF, ActionAudit, &cobra.Command{
		Use:   "audit [flags]",
		Short: "Show the audit log",
		Long: `Show the audit log, newest first: every admin action (groups, quotas,
accounts, Unix mappings, workers), every action on another user's job
(cancel, hold, release, signal, update; a bulk cancel is one row with its
filter and count), password changes, logout of all sessions, and refused
calls of admin routes. rcqd writes each row in the same transaction as the
change, so a change is never without its row. Rows are kept for
audit.retention (a year by default) and cannot be changed.

The table:

  ID TIME ACTOR PEER ACTION TARGET OUTCOME REQUEST_ID CHANGE

TIME is local, PEER the socket peer's uid (uid:N) or the client's address,
OUTCOME ok or refused, CHANGE the values that changed (old->new), or what a
create set, and the row's detail. At most --limit rows are printed (the
newest); a note on stderr says when more match.

--since and --until take sacct's forms (` + slurm.TimeForms + `).
--actor is an account's email or id; --target is KIND or KIND:ID with KIND
one of group, account, worker, job, jobs, route; --action an action such as
group.update, or a prefix ending in a dot (job.).
--json prints {"events": [{"id", "at", "actor_id", "actor_email", "peer",
"action", "target_kind", "target_id", "before", "after", "request_id",
"outcome", "detail"}], "count", "next"}.`,
		Example: "  rcq-admin audit --since now-1days\n  rcq-admin audit --target worker:3\n" +
			"  rcq-admin audit --actor admin@localhost --action job. --json",
		Args: cli.ArgsUsage(cobra.NoArgs),
	}, func(cmd *cobra.Command, o *Options, args []string) error {
		o.Audit = client.AuditQuery{Action: strings.TrimSpace(action), Limit: limit}
		now := o.F.Now()
		for _, t := range []struct {
			flag, v string
			to      *time.Time
		}{{"--since", since, &o.Audit.Since}, {"--until", until, &o.Audit.Until}} {
			if t.v == "" {
				continue
			}
			var err error
			if *t.to, err = slurm.ParseTime(t.v, now, time.Local); err != nil {
				return cli.Usagef("%s: %s", t.flag, strings.TrimPrefix(rcq.MessageOf(err), "time: "))
			}
		}
		if !o.Audit.Since.IsZero() && !o.Audit.Until.IsZero() && !o.Audit.Since.Before(o.Audit.Until) {
			return cli.Usagef("--since %s is not before --until %s: the window would be empty", since, until)
		}
		if o.Audit.Actor = strings.TrimSpace(actor); o.Audit.Actor != "" {
			if id, err := strconv.ParseInt(o.Audit.Actor, 10, 64); (err != nil || id <= 0) && !strings.Contains(o.Audit.Actor, "@") {
				return cli.Usagef("--actor %q: give an account's email (ada@lab.example) or id (7)", o.Audit.Actor)
			}
		}
		if target != "" {
			kind, _, _ := strings.Cut(target, ":")
			if !slices.Contains(auditTargets, kind) {
				return cli.Usagef("--target %q: use KIND or KIND:ID with KIND one of %s", target, strings.Join(auditTargets, ", "))
			}
			o.Audit.Target = target
		}
		if o.Audit.Limit < 1 || o.Audit.Limit > auditMaxLimit {
			return cli.Usagef("--limit %d: use a whole number from 1 to %d", o.Audit.Limit, auditMaxLimit)
		}
		return nil
	})
	fl := c.Flags()
	fl.StringVar(&since, "since", "", "rows written at or after `TIME`")
	fl.StringVar(&until, "until", "", "rows written before `TIME`")
	fl.StringVar(&actor, "actor", "", "rows of the account `EMAIL|ID`")
	fl.StringVar(&target, "target", "", "rows about `KIND[:ID]` (group, account, worker, job, jobs, route)")
	fl.StringVar(&action, "action", "", "rows of `ACTION` (group.update), or of a prefix (job.)")
	fl.IntVar(&limit, "limit", 100, "print at most `N` rows, the newest")
	for _, name := range []string{"since", "until", "actor", "action", "limit"} {
		_ = c.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	_ = c.RegisterFlagCompletionFunc("target", cobra.FixedCompletions(auditTargets, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	return c
}

func auditRun(ctx context.Context, o *Options, s *cli.Session) error {
	list, err := s.Audit(ctx, o.Audit)
	if err != nil {
		return err
	}
	if o.JSON {
		return cli.PrintJSON(o.F.IO.Out, list)
	}
	t := newTable("ID", "TIME", "ACTOR", "PEER", "ACTION", "TARGET", "OUTCOME", "REQUEST_ID", "CHANGE").rightAlign(0)
	for _, e := range list.Events {
		actor := e.ActorEmail
		if actor == "" {
			actor = "-"
		}
		target := e.TargetKind
		if e.TargetID != "" {
			target += ":" + e.TargetID
		}
		t.add(strconv.FormatInt(e.ID, 10), e.At.Local().Format(timeLayout), actor, dash(e.Peer), e.Action, dash(target),
			e.Outcome, dash(e.RequestID), dash(change(&e)))
	}
	if err := t.render(o.F.IO.Out); err != nil {
		return err
	}
	if list.Next != "" {
		fmt.Fprintf(o.F.IO.ErrOut, "rcq-admin audit: more than %d rows match; older ones: --until %s, or a larger --limit\n",
			len(list.Events), list.Events[len(list.Events)-1].At.Local().Format(timeLayout))
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// change says what a row changed: each value that differs between before
// and after as key=old->new, a value only after (what a create set) as
// key=new, one only before (a filter, what a delete removed) as key=old;
// then the detail. The target's id is in TARGET already.
func change(e *apitype.AuditEvent) string {
	var before, after map[string]json.RawMessage
	_ = json.Unmarshal(e.Before, &before) // null or absent: none
	_ = json.Unmarshal(e.After, &after)
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		old, hadOld := before[k]
		now, hasNew := after[k]
		switch {
		case k == "id":
		case hadOld && hasNew:
			if !bytes.Equal(old, now) {
				parts = append(parts, k+"="+compact(old)+"->"+compact(now))
			}
		case hasNew:
			parts = append(parts, k+"="+compact(now))
		default:
			parts = append(parts, k+"="+compact(old))
		}
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	return strings.Join(parts, " ")
}

// compact is a JSON value as a cell shows it: strings without quotes.
func compact(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s == "" {
			return `""`
		}
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}
