package slurm

import (
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	for sec, want := range map[int64]string{
		0: "00:00:00", 5: "00:00:05", 65: "00:01:05", 3600: "01:00:00", 86399: "23:59:59",
		86400: "1-00:00:00", 90061: "1-01:01:01", 12*86400 + 7: "12-00:00:07", -3: "00:00:00",
	} {
		if got := Duration(sec); got != want {
			t.Errorf("Duration(%d) = %q, want %q", sec, got, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	n := func(i int) *int { return &i }
	for _, c := range []struct {
		code   *int
		signal string
		want   string
	}{
		{nil, "", "0:0"}, {n(0), "", "0:0"}, {n(1), "", "1:0"}, {n(2), "", "2:0"},
		{n(137), "KILL", "0:9"}, {n(-1), "TERM", "0:15"}, {nil, "SIGSEGV", "0:11"}, {n(143), "", "143:0"},
	} {
		if got := ExitCode(c.code, c.signal); got != c.want {
			t.Errorf("ExitCode(%v, %q) = %q, want %q", c.code, c.signal, got, c.want)
		}
	}
}

func TestStates(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]rcq.JobState{
		"CD": rcq.JobCompleted, "completed": rcq.JobCompleted, "F": rcq.JobFailed, "FAILED": rcq.JobFailed,
		"ca": rcq.JobCancelled, "CANCELLED": rcq.JobCancelled, "TO": rcq.JobTimeout, "timeout": rcq.JobTimeout,
		"R": rcq.JobRunning, "PD": rcq.JobPending, "Pending": rcq.JobPending, "OOM": "", "NODE_FAIL": rcq.JobNodeFail, "nf": rcq.JobNodeFail,
		"COMPLETING": "", "cg": "", "S": "", "suspended": "", "PREEMPTED": "",
	} {
		got, err := ParseState(in)
		if err != nil || got != want {
			t.Errorf("ParseState(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"done", "", "C", "COMPLETE"} {
		if _, err := ParseState(in); err == nil || rcq.KindOf(err) != rcq.KindInvalid {
			t.Errorf("ParseState(%q) = %v, want an invalid-input error", in, err)
		}
	}
	for _, st := range rcq.JobStates {
		s := StateOf(st)
		if back, err := ParseState(s.Name); err != nil || back != st {
			t.Errorf("%s -> %s -> %s, %v", st, s.Name, back, err)
		}
		if s.Code != st.Short() {
			t.Errorf("%s: code %s, rcq's short %s", st, s.Code, st.Short())
		}
	}
	if StateOf(rcq.JobCancelled).Name != "CANCELLED" || StateOf(rcq.JobTimeout).Name != "TIMEOUT" {
		t.Error("long names are not Slurm's")
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 3, 10, 14, 30, 15, 0, loc)
	at := func(y int, m time.Month, d, h, mi, s int) time.Time { return time.Date(y, m, d, h, mi, s, 0, loc) }
	for in, want := range map[string]time.Time{
		"now":                 now,
		"NOW":                 now,
		"now-1hours":          now.Add(-time.Hour),
		"now-2days":           now.Add(-48 * time.Hour),
		"now+30minutes":       now.Add(30 * time.Minute),
		"now-90":              now.Add(-90 * time.Second),
		"now-1week":           now.Add(-7 * 24 * time.Hour),
		"today":               at(2026, 3, 10, 0, 0, 0),
		"midnight":            at(2026, 3, 10, 0, 0, 0),
		"2026-01-02":          at(2026, 1, 2, 0, 0, 0),
		"2026-01-02T15:04":    at(2026, 1, 2, 15, 4, 0),
		"2026-01-02T15:04:05": at(2026, 1, 2, 15, 4, 5),
		"0102":                at(2026, 1, 2, 0, 0, 0),
		"010225":              at(2025, 1, 2, 0, 0, 0),
		"01/02":               at(2026, 1, 2, 0, 0, 0),
		"01/02/25":            at(2025, 1, 2, 0, 0, 0),
		"09:15":               at(2026, 3, 10, 9, 15, 0),
		"09:15:30":            at(2026, 3, 10, 9, 15, 30),
	} {
		got, err := ParseTime(in, now, loc)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "", "now-", "now-1fortnight", "2026-13-01", "1301", "now1hours", "2026-01-02 15:04", "123"} {
		if _, err := ParseTime(in, now, loc); err == nil || rcq.KindOf(err) != rcq.KindInvalid {
			t.Errorf("ParseTime(%q) = %v, want an invalid-input error", in, err)
		}
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	if got := Time(nil); got != "Unknown" {
		t.Errorf("Time(nil) = %q", got)
	}
	tm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	if got := Time(&tm); got != "2026-01-02T03:04:05" {
		t.Errorf("Time = %q", got)
	}
}

func TestMem(t *testing.T) {
	t.Parallel()
	if MemGB(4) != "4G" || MemKB(1234) != "1234K" || MemKB(0) != "" {
		t.Errorf("MemGB(4) = %q, MemKB(1234) = %q, MemKB(0) = %q", MemGB(4), MemKB(1234), MemKB(0))
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	cols, err := ParseFormat("jobid,STATE,ExitCode,JobName%30,NodeList%-8")
	if err != nil {
		t.Fatal(err)
	}
	want := []FormatColumn{
		{Field{"JobID", 12, false}, false}, {Field{"State", 10, true}, false}, {Field{"ExitCode", 8, true}, false},
		{Field{"JobName", 30, true}, true}, {Field{"NodeList", 8, false}, true},
	}
	if len(cols) != len(want) {
		t.Fatalf("%d columns, want %d", len(cols), len(want))
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Errorf("column %d = %+v, want %+v", i, cols[i], want[i])
		}
	}
	for _, bad := range []string{"JobID,Nope", "", ",", "JobName%x", "JobName%0", "Elapsed%5000"} {
		if _, err := ParseFormat(bad); err == nil || rcq.KindOf(err) != rcq.KindInvalid {
			t.Errorf("ParseFormat(%q) = %v, want an invalid-input error", bad, err)
		}
	}
}

func TestLongFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"JobID,State":                       "%20i%20T",
		"jobid:10,statecompact:.3,Name:":    "%10i%.3t%20j",
		"JobArrayID,TimeUsed:.8,ReasonList": "%20i%.8M%20R",
	} {
		got, err := LongFormat(in)
		if err != nil || got != want {
			t.Errorf("LongFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ",", "Nope", "JobID:x", "JobID:-1"} {
		if _, err := LongFormat(bad); err == nil || rcq.KindOf(err) != rcq.KindInvalid {
			t.Errorf("LongFormat(%q) = %v, want an invalid-input error", bad, err)
		}
	}
}
