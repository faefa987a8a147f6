package sched

// FairShare returns a group's fair-share multiplier: quota / usage (both in
// CPU-hours over the fair-share window), clamped to [min, max]. A group that
// has used nothing gets max; a group with no quota that has used something
// gets min.
//
// A group at 90% of its quota gets 1/0.9 = 1.11; one at 25% gets 4.0,
// clamped to 2.0; one at twice its quota gets 0.5.
func FairShare(quota, usage, lo, hi float64) float64 {
	if usage <= 0 {
		return hi
	}
	f := quota / usage
	if quota <= 0 {
		f = lo
	}
	return min(max(f, lo), hi)
}
