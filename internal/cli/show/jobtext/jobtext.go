// Package jobtext writes a job as "scontrol show job" does: rcq-show's
// text, in a package that links neither cobra nor net/http, so rcq-show's
// start-up path (internal/cli/fastpath) prints it too.
package jobtext

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Write prints j as scontrol prints a job: a first line, then indented
// lines of Key=Value pairs. now is the clock for a running job's RunTime;
// times are shown in its location.
func Write(w io.StringWriter, j *apitype.Job, now time.Time) {
	stamp := func(t time.Time) string { return t.In(now.Location()).Format("2006-01-02T15:04:05") }
	line := func(kvs ...string) {
		var b strings.Builder
		b.WriteString("   ")
		for i := 0; i < len(kvs); i += 2 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(kvs[i])
			b.WriteByte('=')
			b.WriteString(kvs[i+1])
		}
		b.WriteByte('\n')
		_, _ = w.WriteString(b.String())
	}
	first := "JobId=" + itoa(j.ID)
	if j.ArrayJobID != nil {
		first += " ArrayJobId=" + itoa(*j.ArrayJobID)
		switch {
		case j.ArrayTaskID != nil:
			first += " ArrayTaskId=" + strconv.Itoa(*j.ArrayTaskID)
		case j.ArrayTasks != "":
			first += " ArrayTaskId=" + j.ArrayTasks
		}
		if j.ArrayThrottle > 0 {
			first += " ArrayTaskThrottle=" + strconv.Itoa(j.ArrayThrottle)
		}
	}
	_, _ = w.WriteString(first + " JobName=" + j.Name + "\n")
	line("UserId", fmt.Sprintf("%s(%d)", j.User, j.UserID), "GroupId", itoa(j.GroupID))
	prio := []string{"Priority", strconv.Itoa(j.Priority)}
	if j.Rank > 0 {
		prio = append(prio, "Rank", strconv.Itoa(j.Rank))
	}
	if p := j.Computed; p != nil {
		prio = append(prio, "FinalPriority", factor(p.Final), "Base", factor(p.Base),
			"FairShare", factor(p.FairShare), "WaitBoost", factor(p.WaitBoost))
	}
	line(prio...)
	line("JobState", strings.ToUpper(j.Status), "Reason", reason(j), "Dependency", dependencies(j.Dependencies))
	if j.ReasonDetail != "" {
		line("ReasonDetail", j.ReasonDetail)
	}
	if j.Hold != "" {
		line("Hold", j.Hold)
	}
	// As scontrol's "Requeue=1 Restarts=0 ... ExitCode=0:0" line; Requeue
	// only when the job asked (--requeue, --no-requeue).
	exit := []string{"Restarts", strconv.Itoa(j.Restarts), "ExitCode", ExitCode(j.ExitCode, j.Signal)}
	if j.Requeue != nil {
		exit = append([]string{"Requeue", map[bool]string{true: "1", false: "0"}[*j.Requeue]}, exit...)
	}
	line(exit...)
	limit := int64(math.Round(j.EstimatedHours * 3600))
	line("RunTime", Duration(runTime(j, now)), "TimeLimit", Duration(limit))
	start, end := "Unknown", "Unknown"
	switch {
	case j.StartedAt != nil:
		start = stamp(*j.StartedAt)
		if j.CompletedAt != nil {
			end = stamp(*j.CompletedAt)
		} else {
			end = stamp(j.StartedAt.Add(time.Duration(limit) * time.Second)) // expected, at the limit
		}
	case j.ExpectedStart != nil:
		start = stamp(*j.ExpectedStart)
		end = stamp(j.ExpectedStart.Add(time.Duration(limit) * time.Second))
	case j.CompletedAt != nil:
		end = stamp(*j.CompletedAt)
	}
	line("SubmitTime", stamp(j.SubmittedAt), "StartTime", start, "EndTime", end)
	node := "(null)"
	if j.Worker != "" {
		node = j.Worker
	}
	line("NodeList", node, "BatchHost", node)
	line("NumNodes", "1", "NumCPUs", strconv.Itoa(j.CPUCores), "NumTasks", "1", "CPUs/Task", strconv.Itoa(j.CPUCores))
	tres := fmt.Sprintf("cpu=%d,mem=%dG,node=1", j.CPUCores, j.MemoryGB)
	if j.GPUCount > 0 {
		tres += fmt.Sprintf(",gres/gpu=%d", j.GPUCount)
	}
	line("TRES", tres)
	mem := []string{"MinMemoryNode", strconv.Itoa(j.MemoryGB) + "G"}
	if j.GPUCount > 0 {
		gres := fmt.Sprintf("gpu:%d", j.GPUCount)
		if len(j.GPUIndices) > 0 {
			idx := make([]string, len(j.GPUIndices))
			for i, g := range j.GPUIndices {
				idx[i] = strconv.Itoa(g)
			}
			gres += "(IDX:" + strings.Join(idx, ",") + ")"
		}
		mem = append(mem, "GRES", gres)
	}
	line(mem...)
	line("TotalCPU", Duration(int64(math.Round(j.CPUSeconds))), "MaxRSS", strconv.FormatInt(j.PeakMemoryKB, 10)+"K")
	line("WorkDir", orNull(j.WorkingDir))
	line("StdErr", orNull(j.ErrorPath))
	line("StdIn", "/dev/null")
	line("StdOut", orNull(j.OutputPath))
	if j.Umask != "" {
		line("Umask", j.Umask)
	}
}

// reason is the job's reason as scontrol shows it: None when there is none.
func reason(j *apitype.Job) string {
	if j.Reason == "" {
		return rcq.ReasonNone
	}
	return j.Reason
}

// dependencies is Slurm's Dependency value with the state of each job
// waited on: afterok:41(COMPLETED),afterany:42(PENDING); (null) for none.
func dependencies(ds []apitype.Dependency) string {
	if len(ds) == 0 {
		return "(null)"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		st := strings.ToUpper(d.State)
		if st == "" {
			st = "UNKNOWN"
		}
		target := itoa(d.JobID)
		if d.ArrayTaskID != nil {
			target += "_" + strconv.Itoa(*d.ArrayTaskID)
		}
		parts[i] = fmt.Sprintf("%s:%s(%s)", d.Type, target, st)
	}
	return strings.Join(parts, ",")
}

// runTime is how long the job has run (or ran), in seconds.
func runTime(j *apitype.Job, now time.Time) int64 {
	if j.StartedAt == nil {
		return 0
	}
	end := now
	if j.CompletedAt != nil {
		end = *j.CompletedAt
	}
	return int64(end.Sub(*j.StartedAt) / time.Second)
}

// ExitCode is Slurm's "code:signal": 0:0 for a job that has not ended; for
// a job a signal ended, 0 and the signal's number (rcq records such a job's
// code as the shell does, 128+signal: Slurm shows 0:9, not 137:9).
func ExitCode(code *int, signal string) string {
	if signal != "" {
		if n, ok := rcq.SignalNumber(signal); ok {
			return fmt.Sprintf("0:%d", int(n))
		}
	}
	c := 0
	if code != nil {
		c = *code
	}
	return fmt.Sprintf("%d:0", c)
}

// Duration is scontrol's time: [days-]hours:minutes:seconds, two digits each.
func Duration(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

func factor(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}
