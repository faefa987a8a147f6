package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// BenchmarkCreateJob is one submit without idempotency key or dependencies
// (the one-statement path), from one client and from 16, with the caps of
// a default rcqd (10,000 per account, 100,000 in all), by 4 accounts.
//
//	go test -run '^$' -bench CreateJob -benchtime 5000x ./internal/store
func BenchmarkCreateJob(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			ctx := context.Background()
			st, err := store.Open(ctx, dbtest.URL(b), store.Options{MaxConns: 16,
				MaxPendingPerUser: 1_000_000, MaxPendingTotal: 4_000_000})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := st.EnsureDefaultGroup(ctx); err != nil {
				b.Fatal(err)
			}
			var users []rcq.UserID
			for i := range 4 {
				id, err := st.CreateUser(ctx, rcq.User{Email: fmt.Sprintf("u%d@example.org", i), GroupID: 1}, "hash")
				if err != nil {
					b.Fatal(err)
				}
				users = append(users, id)
			}
			b.SetParallelism((clients + 1) / 2) // GOMAXPROCS is 2 here
			b.ResetTimer()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					j := &rcq.Job{UserID: users[n.Add(1)%int64(len(users))], GroupID: 1, Name: "bench", Script: "#!/bin/sh\ntrue\n",
						Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}, EstimatedHours: 1, Priority: 1}
					if _, _, err := st.CreateJob(ctx, j, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
