package apitype

import (
	"slices"
	"testing"
)

// TestSortQueue: pending jobs first, ranked ones by rank, unranked ones
// after them by id; the others (running) by id, whatever their rank.
func TestSortQueue(t *testing.T) {
	jobs := []QueueJob{
		{ID: 1, Status: "running", Rank: 1},
		{ID: 2, Status: "pending"},
		{ID: 3, Status: "pending", Rank: 2},
		{ID: 4, Status: "running"},
		{ID: 5, Status: "pending", Rank: 1},
		{ID: 6, Status: "pending"},
	}
	SortQueue(jobs)
	var got []int64
	for _, j := range jobs {
		got = append(got, j.ID)
	}
	if want := []int64{5, 3, 2, 6, 1, 4}; !slices.Equal(got, want) {
		t.Errorf("queue order %v, want %v", got, want)
	}
	if c := (QueueKey{Pending: true, Rank: 3, ID: 9}).Compare(QueueKey{Pending: true, Rank: 3, ID: 9}); c != 0 {
		t.Errorf("a key against itself: %d", c)
	}
}
