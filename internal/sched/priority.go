package sched

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// WaitBoost returns the wait-time boost of a job that has waited w:
// 1 + hours x perHour, capped at limit (never below 1). A job that waited 10
// hours gets 1.10 with the default 0.01 per hour; the default cap of 1.5 is
// reached after 50 hours.
func WaitBoost(w time.Duration, perHour, limit float64) float64 {
	if w <= 0 {
		return 1
	}
	b := 1 + w.Hours()*perHour
	return max(1, min(b, limit))
}

// groupFactor is what a job inherits from its group.
type groupFactor struct {
	priority  int
	fairShare float64
}

// groupFactors computes each group's priority and fair-share multiplier once.
func groupFactors(groups []rcq.GroupShare, cfg *Config) ([]groupFactor, map[rcq.GroupID]int) {
	fs := make([]groupFactor, len(groups))
	m := make(map[rcq.GroupID]int, len(groups))
	for i, g := range groups {
		fs[i] = groupFactor{
			priority:  g.Priority,
			fairShare: FairShare(g.CPUQuota, g.UsageCPUHours, cfg.FairShareMin, cfg.FairShareMax),
		}
		m[g.ID] = i
	}
	return fs, m
}

// Priority computes a pending job's priority factors at now:
// Final = Base x FairShare x WaitBoost, Base = job priority + group priority.
// A job of a group missing from the snapshot gets group priority 0 and fair
// share 1.
func Priority(j *rcq.PendingJob, g rcq.GroupShare, known bool, now time.Time, cfg Config) rcq.PriorityFactors {
	gf := groupFactor{fairShare: 1}
	if known {
		gf = groupFactor{g.Priority, FairShare(g.CPUQuota, g.UsageCPUHours, cfg.FairShareMin, cfg.FairShareMax)}
	}
	return priority(j, gf, now, &cfg)
}

func priority(j *rcq.PendingJob, g groupFactor, now time.Time, cfg *Config) rcq.PriorityFactors {
	p := rcq.PriorityFactors{
		Base:      float64(j.Priority + g.priority),
		FairShare: g.fairShare,
		WaitBoost: WaitBoost(now.Sub(j.SubmittedAt), cfg.WaitBoostPerHour, cfg.WaitBoostCap),
	}
	p.Final = p.Base * p.FairShare * p.WaitBoost
	return p
}

// candidate is a pending job in the order being built, carrying what the
// main pass needs so that it reads memory in order. Its sort key is three
// unsigned words compared in turn: the final priority (descending), the
// submit time and the job id (ascending).
type candidate struct {
	k1, k2, k3 uint64
	dur        int64 // planned duration (the time limit)
	cpu, mem   int32
	gpus       int32
	idx        int32 // index into Snapshot.Pending
	base       int32 // job priority + group priority
	group      int16 // index into the group factors; -1 if unknown
	flags      uint8
}

const (
	flagDeps uint8 = 1 << iota
	flagHoldUser
	flagHoldAdmin
	flagBig   // resources beyond int32: taken from the snapshot
	flagArray // a row of a job array
)

func (c *candidate) resources(snap *rcq.Snapshot) rcq.Resources {
	if c.flags&flagBig != 0 {
		return snap.Pending[c.idx].Resources
	}
	return rcq.Resources{CPUCores: int(c.cpu), MemoryGB: int(c.mem), GPUs: int(c.gpus)}
}

func newCandidate(j *rcq.PendingJob, idx int, p rcq.PriorityFactors, group int) candidate {
	c := candidate{k1: ^sortableFloat(p.Final), k2: uint64(j.SubmittedAt.UnixNano()) ^ 1<<63, k3: uint64(j.ID) ^ 1<<63,
		dur: duration(j.EstimatedHours), idx: int32(idx), base: int32(p.Base), group: int16(group)}
	r := j.Resources
	if r.CPUCores == int(int32(r.CPUCores)) && r.MemoryGB == int(int32(r.MemoryGB)) && r.GPUs == int(int32(r.GPUs)) {
		c.cpu, c.mem, c.gpus = int32(r.CPUCores), int32(r.MemoryGB), int32(r.GPUs)
	} else {
		c.flags |= flagBig
	}
	if len(j.Dependencies) > 0 {
		c.flags |= flagDeps
	}
	if j.ArrayJobID != 0 {
		c.flags |= flagArray
	}
	switch j.Hold {
	case rcq.HoldNone:
	case rcq.HoldAdmin:
		c.flags |= flagHoldAdmin
	default:
		c.flags |= flagHoldUser
	}
	return c
}

// sortableFloat maps f to a word whose unsigned order is f's order.
func sortableFloat(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// order returns the candidates sorted by final priority (highest first),
// then submit time (oldest first), then job id, so one snapshot always yields
// one order. It sorts words holding the top bits of a key and an index (a
// fast integer sort) and gathers, by priority, then within runs of equal
// priority (common: the wait boost is capped) by submit time; the rare runs
// still tied are settled with the full keys.
func order(cs []candidate, sc *scratch) []candidate {
	if len(cs) >= 1<<idxBits {
		slices.SortFunc(cs, compareCandidates)
		return cs
	}
	out := grow(&sc.out, len(cs))
	keys := grow(&sc.keys, len(cs))
	tmp := grow(&sc.tmp, len(cs))
	sortBy(cs, out, keys, tmp, func(c *candidate) uint64 { return c.k1 })
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].k1>>idxBits == out[i].k1>>idxBits {
			j++
		}
		run := out[i:j]
		switch {
		case j-i > 16 && !slices.ContainsFunc(run, func(c candidate) bool { return c.k1 != run[0].k1 }):
			// Equal priorities: order by submit time, then settle ties.
			scratch := cs[i:j] // cs is free now
			copy(scratch, run)
			sortBy(scratch, run, keys[i:j], tmp[i:j], func(c *candidate) uint64 { return c.k2 })
			settle(run)
		case j-i > 1:
			slices.SortFunc(run, compareCandidates)
		}
		i = j
	}
	return out
}

// scratch holds a cycle's large temporary slices; Schedule reuses them
// across calls through a pool.
type scratch struct {
	cs, out   []candidate
	keys, tmp []uint64
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// grow returns (*s)[:n], reallocating when too small.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// radixSort sorts keys (LSD, a byte at a time, skipping bytes all keys
// share), using tmp as scratch.
func radixSort(keys, tmp []uint64) {
	if len(keys) < 256 {
		slices.Sort(keys)
		return
	}
	var counts [8][256]int
	for _, k := range keys {
		for b := range 8 {
			counts[b][byte(k>>(8*b))]++
		}
	}
	src, dst := keys, tmp
	for b := range 8 {
		c := &counts[b]
		if c[byte(src[0]>>(8*b))] == len(src) {
			continue // every key has this byte
		}
		sum := 0
		for i, n := range c {
			c[i] = sum
			sum += n
		}
		for _, k := range src {
			d := byte(k >> (8 * b))
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

const idxBits = 20

// sortBy writes src into dst ordered by the top 64-idxBits bits of key.
func sortBy(src, dst []candidate, keys, tmp []uint64, key func(*candidate) uint64) {
	for i := range src {
		keys[i] = key(&src[i])&^(1<<idxBits-1) | uint64(i)
	}
	radixSort(keys, tmp)
	for i, k := range keys {
		dst[i] = src[k&(1<<idxBits-1)]
	}
}

// settle sorts the runs of cs (of equal priority, ordered by truncated
// submit times) whose truncated submit times tie, with the full keys.
func settle(cs []candidate) {
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[i].k2>>idxBits == cs[j].k2>>idxBits {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(cs[i:j], compareCandidates)
		}
		i = j
	}
}

func compareCandidates(a, b candidate) int {
	switch {
	case a.k1 != b.k1:
		return cmp.Compare(a.k1, b.k1)
	case a.k2 != b.k2:
		return cmp.Compare(a.k2, b.k2)
	}
	return cmp.Compare(a.k3, b.k3)
}
