package store

import (
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A submit that committed before the total count but reports its job after
// the count was recorded is in the estimate twice. That may make the next
// submit count, never refuse it: only the count itself refuses.
func TestTotalEstimateRefusesByTheCountOnly(t *testing.T) {
	now := time.Now()
	c := newPendingCaps(0, 10)
	c.countedAll(9, now)                 // the count saw alice's committed job...
	c.stored(map[rcq.UserID]int64{1: 1}) // ...which alice's submit reports now
	if fits, over := c.totalByEstimate(1, now); fits || over {
		t.Errorf("9 counted, one more under a cap of 10: fits %v over %v, want a count (false, false)", fits, over)
	}
	c.countedAll(10, now)
	if _, over := c.totalByEstimate(1, now); !over {
		t.Error("10 counted, one more under a cap of 10: not over, want refused without a count")
	}
	if fits, over := c.totalByEstimate(1, now.Add(countEvery)); fits || over {
		t.Errorf("a count countEvery old: fits %v over %v, want a fresh count", fits, over)
	}
	c = newPendingCaps(0, 1000)
	c.countedAll(10, now)
	if fits, _ := c.totalByEstimate(1, now); !fits {
		t.Error("10 counted under a cap of 1000: not fits, want no count")
	}
}
