package rcq

// LargestFit reports whether some worker of ws that is not offline could
// ever hold r (empty), and when none can, the largest of them (most cores,
// then most memory) for the message; nil when ws has no such worker.
func LargestFit(ws []Worker, r Resources) (fits bool, largest *Worker) {
	for i, w := range ws {
		if w.State == WorkerOffline {
			continue
		}
		if r.Fits(w.Capacity) {
			return true, nil
		}
		if largest == nil || w.Capacity.CPUCores > largest.Capacity.CPUCores ||
			w.Capacity.CPUCores == largest.Capacity.CPUCores && w.Capacity.MemoryGB > largest.Capacity.MemoryGB {
			largest = &ws[i]
		}
	}
	return false, largest
}
