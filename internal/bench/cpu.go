package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSample is where CPU time went, in clock ticks (USER_HZ, 100 a second
// on Linux), at one instant.
type cpuSample struct {
	at       time.Time
	machine  int64 // every CPU's busy time (/proc/stat)
	rcqd     int64 // rcqd itself
	children int64 // rcqd's reaped children: job supervisors and the jobs under them
	pg       int64 // PostgreSQL: postmaster, its reaped and live children
	bench    int64 // rcq-bench itself (the API clients) and its reaped children (CLI processes)
}

const ticksPerSecond = 100 // USER_HZ

// statTimes returns utime+stime and cutime+cstime of pid.
func statTimes(pid int) (self, children int64, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17.
	n := func(field int) int64 { v, _ := strconv.ParseInt(f[field-3], 10, 64); return v }
	return n(14) + n(15), n(16) + n(17), int(n(4)), nil
}

func machineBusy() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseInt(v, 10, 64)
		busy += x
	}
	return busy
}

func (d *daemon) cpu() cpuSample {
	s := cpuSample{at: time.Now(), machine: machineBusy()}
	s.rcqd, s.children, _, _ = statTimes(d.pid())
	self, reaped, _, _ := statTimes(os.Getpid())
	s.bench = self + reaped
	if b, err := os.ReadFile(filepath.Join(d.Dir, "pgdata", "postmaster.pid")); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if pm, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			self, reaped, _, _ := statTimes(pm)
			s.pg = self + reaped
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				pid, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				if t, _, ppid, err := statTimes(pid); err == nil && ppid == pm {
					s.pg += t
				}
			}
		}
	}
	return s
}

// cpuResults turns two samples into rows: each part's CPU in percent of one
// core over the interval (the machine has runtime.NumCPU() cores: 200% is
// all of a 2-core machine). "other" is everything else on the machine:
// other users' processes, kernel threads.
func cpuResults(scenario int, name, p string, a, b cpuSample) []Result {
	secs := b.at.Sub(a.at).Seconds()
	pct := func(t int64) float64 { return float64(t) / ticksPerSecond / secs * 100 }
	m, r, c, pg, be := b.machine-a.machine, b.rcqd-a.rcqd, b.children-a.children, b.pg-a.pg, b.bench-a.bench
	return []Result{
		{scenario, name, p, "CPU% rcqd", pct(r), "", nil},
		{scenario, name, p, "CPU% supervisors+jobs", pct(c), "", nil},
		{scenario, name, p, "CPU% PostgreSQL", pct(pg), "", nil},
		{scenario, name, p, "CPU% rcq-bench+CLIs", pct(be), "", nil},
		{scenario, name, p, "CPU% machine", pct(m), "", nil},
	}
}
