package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// BenchmarkBatchSubmit64MB sends a batch of 10,000 specs of 6,650-byte
// scripts, a body of 64 MiB, generated as it is sent, and reports how much
// the process's live heap grew while rcqd's handler read, checked and stored
// it (sampled every 20 ms after a forced GC: what the handler holds, not
// garbage waiting for the collector), and the largest heap in use. It fails
// if the live heap grew by more than 16 MiB: a batch is streamed, a chunk
// at a time, never held whole.
//
//	go test -run '^$' -bench BatchSubmit64MB -benchtime 1x ./internal/api
func BenchmarkBatchSubmit64MB(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32}}); err != nil {
		b.Fatal(err)
	}
	id, err := st.CreateUser(ctx, rcq.User{Email: "alice@example.org", GroupID: 1}, "hash")
	if err != nil {
		b.Fatal(err)
	}
	u, _, err := st.UserByID(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	signer := auth.NewSigner(secret, issuer, time.Hour)
	token, _, err := signer.Sign(*u, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Version: "bench", Limits: rcq.DefaultLimits}, api.Deps{Store: st, Signer: signer}))
	defer srv.Close()

	const specs, scriptBytes = 10_000, 6_650
	script := "#!/bin/sh\n" + strings.Repeat("#", scriptBytes-10)
	var live, inUse uint64
	for b.Loop() {
		pr, pw := io.Pipe()
		go func() {
			w := bufio.NewWriterSize(pw, 64<<10)
			w.WriteString(`{"jobs":[`)
			for i := range specs {
				if i > 0 {
					w.WriteByte(',')
				}
				fmt.Fprintf(w, `{"name":"j%d","script":%q}`, i, script)
			}
			w.WriteString(`]}`)
			pw.CloseWithError(w.Flush())
		}()
		req, err := http.NewRequest("POST", srv.URL+"/api/jobs/batch", pr)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")

		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				inUse = max(inUse, ms.HeapInuse)
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base {
					live = max(live, ms.HeapAlloc-base)
				}
			}
		}()
		res, err := srv.Client().Do(req)
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("batch: %d %s", res.StatusCode, body)
		}
	}
	b.ReportMetric(float64(live)/(1<<20), "MiB-live-growth")
	b.ReportMetric(float64(inUse)/(1<<20), "MiB-heap-inuse-peak")
	if live > 16<<20 {
		b.Errorf("the live heap grew by %.1f MiB for a 64 MiB batch: it must be streamed", float64(live)/(1<<20))
	}
}
