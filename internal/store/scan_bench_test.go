package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// BenchmarkScanJobs reads 10,000 finished jobs in one page, as accounting
// (AcctJobs, what rcq-acct pages through) and as a job list (ListJobs, with
// scripts and environments), then the same jobs running as the queue view
// (QueueJobs): the cost of scanning rows into jobs.
//
//	go test -run '^$' -bench ScanJobs -count 5 ./internal/store
func BenchmarkScanJobs(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	url := dbtest.URL(b)
	st, err := store.Open(ctx, url, store.Options{MaxPendingPerUser: 1_000_000, MaxPendingTotal: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		b.Fatal(err)
	}
	wid, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32}})
	if err != nil {
		b.Fatal(err)
	}
	uid, err := st.CreateUser(ctx, rcq.User{Email: "bench@example.org", GroupID: 1}, "hash")
	if err != nil {
		b.Fatal(err)
	}
	js := make([]*rcq.Job, n)
	for i := range js {
		js[i] = &rcq.Job{UserID: uid, GroupID: 1, Name: fmt.Sprintf("bench%d", i), Script: "#!/bin/sh\necho hi\n",
			Args: []string{"a", "b"}, WorkingDir: "/home/bench", Env: []string{"HOME=/home/bench", "PATH=/usr/bin:/bin"},
			Resources: rcq.Resources{CPUCores: 2, MemoryGB: 4}, EstimatedHours: 1, Priority: 1, Output: "slurm-%j.out"}
	}
	if _, err := st.CreateJobs(ctx, js); err != nil {
		b.Fatal(err)
	}
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `UPDATE jobs SET status = 'completed', reason = 'None', worker_id = $1,
		started_at = submitted_at, completed_at = submitted_at + interval '1 minute', exit_code = 0,
		cpu_seconds = 12.5, peak_memory_kb = 2048, gpu_indices = '{}'`, wid); err != nil {
		b.Fatal(err)
	}
	b.Run("acct", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			got, err := st.AcctJobs(ctx, rcq.AcctFilter{Limit: n})
			if err != nil || len(got) != n {
				b.Fatalf("AcctJobs: %d jobs, %v", len(got), err)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			got, err := st.ListJobs(ctx, rcq.JobFilter{Limit: n})
			if err != nil || len(got) != n {
				b.Fatalf("ListJobs: %d jobs, %v", len(got), err)
			}
		}
	})
	// The queue view: the same jobs, running.
	if _, err := db.Exec(ctx, `UPDATE jobs SET status = 'running', reason = '', completed_at = NULL, exit_code = NULL`); err != nil {
		b.Fatal(err)
	}
	b.Run("queue", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			got, err := st.QueueJobs(ctx, rcq.QueueFilter{Limit: n})
			if err != nil || len(got) != n {
				b.Fatalf("QueueJobs: %d jobs, %v", len(got), err)
			}
		}
	})
}

// cpuPerOp reports the benchmark process's own CPU time (user and system)
// per op as cpu-ns/op: the client's side of a query (decoding and
// scanning), which PostgreSQL's work in its own processes and other load on
// the machine do not count in, unlike ns/op.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime(b)
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
