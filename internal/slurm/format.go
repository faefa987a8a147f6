package slurm

import (
	"strconv"
	"time"
)

// TimeLayout is how Slurm prints times: local time, no zone.
const TimeLayout = "2006-01-02T15:04:05"

// Time formats t as Slurm does, in local time, or "Unknown" when nil.
func Time(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "Unknown"
	}
	return t.Local().Format(TimeLayout)
}

// Duration formats seconds as sacct's Elapsed: [DD-]HH:MM:SS, days only
// when needed.
func Duration(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	b := make([]byte, 0, 12)
	if d > 0 {
		b = strconv.AppendInt(b, d, 10)
		b = append(b, '-')
	}
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, m)
	b = append(b, ':')
	return string(append2(b, s))
}

func append2(b []byte, v int64) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, v, 10)
}

// ExitCode formats sacct's ExitCode, code:signal: the exit status of a
// normal exit with signal 0, or 0 and the number of the signal that killed
// the job. A job that has not ended is 0:0.
func ExitCode(code *int, signal string) string {
	if n := SignalNumber(signal); n > 0 {
		return "0:" + strconv.Itoa(n)
	}
	if code == nil {
		return "0:0"
	}
	c := *code
	if c > 128 && c < 128+65 && signal != "" {
		return "0:" + strconv.Itoa(c-128)
	}
	return strconv.Itoa(c) + ":0"
}

var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "XCPU": 24, "XFSZ": 25,
}

// SignalNumber is the Linux number of a signal name (TERM, SIGTERM, 15); 0
// when s is empty or unknown.
func SignalNumber(s string) int {
	if len(s) > 3 && s[:3] == "SIG" {
		s = s[3:]
	}
	if n, ok := signals[s]; ok {
		return n
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n
	}
	return 0
}

// MemGB formats a memory request in GiB as sacct's ReqMem: 4G.
func MemGB(gb int) string { return strconv.Itoa(gb) + "G" }

// MemKB formats kibibytes as sacct's MaxRSS: 1234K; "" for none.
func MemKB(kb int64) string {
	if kb <= 0 {
		return ""
	}
	return strconv.FormatInt(kb, 10) + "K"
}
