package rcq

import "testing"

func TestNodeState(t *testing.T) {
	size := Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}
	for _, c := range []struct {
		state WorkerState
		alloc Resources
		jobs  int
		want  string
	}{
		{WorkerOnline, Resources{}, 0, NodeIdle},
		{WorkerOnline, Resources{CPUCores: 2, MemoryGB: 4}, 1, NodeMixed},
		{WorkerOnline, Resources{CPUCores: 8, MemoryGB: 4}, 2, NodeAllocated},
		{WorkerOnline, Resources{CPUCores: 1, MemoryGB: 32}, 1, NodeAllocated},
		{WorkerDrained, Resources{CPUCores: 2, MemoryGB: 4}, 1, NodeDrained},
		{WorkerOffline, Resources{}, 0, NodeOffline},
	} {
		w := WorkerLoad{Worker: Worker{Capacity: size, State: c.state}, Allocated: c.alloc, RunningJobs: c.jobs}
		if got := w.NodeState(); got != c.want {
			t.Errorf("%s with %v in %d jobs: %s, want %s", c.state, c.alloc, c.jobs, got, c.want)
		}
	}
}
