package rcq

import "fmt"

// Resources is an amount of the three consumable resources: whole CPU cores,
// whole gigabytes of memory and whole GPUs.
type Resources struct {
	CPUCores int `json:"cpu_cores"`
	MemoryGB int `json:"memory_gb"`
	GPUs     int `json:"gpu_count"`
}

// Fits reports whether r fits inside free on every resource.
func (r Resources) Fits(free Resources) bool {
	return r.CPUCores <= free.CPUCores && r.MemoryGB <= free.MemoryGB && r.GPUs <= free.GPUs
}

// Sub returns r minus o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUCores: r.CPUCores - o.CPUCores, MemoryGB: r.MemoryGB - o.MemoryGB, GPUs: r.GPUs - o.GPUs}
}

// Add returns r plus o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUCores: r.CPUCores + o.CPUCores, MemoryGB: r.MemoryGB + o.MemoryGB, GPUs: r.GPUs + o.GPUs}
}

// Short names what is short when r does not fit free, e.g. "cpu_cores (need 8,
// free 4)"; "" when it fits.
func (r Resources) Short(free Resources) string {
	switch {
	case r.CPUCores > free.CPUCores:
		return fmt.Sprintf("cpu_cores (need %d, free %d)", r.CPUCores, free.CPUCores)
	case r.MemoryGB > free.MemoryGB:
		return fmt.Sprintf("memory_gb (need %d, free %d)", r.MemoryGB, free.MemoryGB)
	case r.GPUs > free.GPUs:
		return fmt.Sprintf("gpu_count (need %d, free %d)", r.GPUs, free.GPUs)
	}
	return ""
}

func (r Resources) String() string {
	return fmt.Sprintf("%d cores, %d GB, %d GPUs", r.CPUCores, r.MemoryGB, r.GPUs)
}
