package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// BenchmarkFollowLatency is rcq-tail's delay: from a running job appending
// a line to its output file to a follower of GET
// /api/jobs/{id}/output?follow=true holding that line. Lines are written
// 0-49 ms apart (untimed), as a job's would come at any moment, and the
// benchmark reports the p50 and p99 latency over b.N lines (goal: p50
// <= 50 ms).
//
//	go test -run '^$' -bench FollowLatency -benchtime 200x ./internal/api
func BenchmarkFollowLatency(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		b.Fatal(err)
	}
	worker, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32}})
	if err != nil {
		b.Fatal(err)
	}
	uid, err := st.CreateUser(ctx, rcq.User{Email: "alice@example.org", GroupID: 1}, "hash")
	if err != nil {
		b.Fatal(err)
	}
	u, _, err := st.UserByID(ctx, uid)
	if err != nil {
		b.Fatal(err)
	}
	signer := auth.NewSigner(secret, issuer, time.Hour)
	token, _, err := signer.Sign(*u, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	id, _, err := st.CreateJob(ctx, &rcq.Job{UserID: uid, GroupID: 1, Name: "tail", Script: "#!/bin/sh\ntrue\n",
		Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}, EstimatedHours: 1, Priority: 1}, "")
	if err != nil {
		b.Fatal(err)
	}
	if ok, err := st.AcquireLease(ctx, lease, holder, time.Hour); err != nil || !ok {
		b.Fatalf("lease: %v %v", ok, err)
	}
	if _, err := st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: worker}}); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "job.out")
	if err := os.WriteFile(out, []byte("start\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Version: "bench", Limits: rcq.DefaultLimits}, api.Deps{
		Store: st, Signer: signer, ReadOutput: readOwn,
		OutputPaths: func(*rcq.Job) (string, string) { return out, out + ".err" },
	}))
	defer srv.Close()
	req, err := http.NewRequest("GET", fmt.Sprintf("%s/api/jobs/%d/output?follow=true", srv.URL, id), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("status %d", res.StatusCode)
	}
	r := bufio.NewReader(res.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "start\n" {
		b.Fatalf("first line %q %v", line, err)
	}
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		time.Sleep(time.Duration(i*7%50) * time.Millisecond) // the job's own pace
		b.StartTimer()
		want := fmt.Sprintf("line %d\n", i)
		t0 := time.Now()
		if _, err := f.WriteString(want); err != nil {
			b.Fatal(err)
		}
		line, err := r.ReadString('\n')
		lat = append(lat, time.Since(t0))
		if err != nil || line != want {
			b.Fatalf("got %q %v, want %q", line, err, want)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
