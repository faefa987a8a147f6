package sched

import (
	"math"
	"slices"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Matching: which worker a job starts on, and with which GPU indices.
//
// A job fits a worker when its CPU cores, memory and GPUs all fit the
// worker's free amounts. Among the online workers it fits, it goes to the best
// fit: the least leftover of the job's scarcest resource (the one it asks the
// largest share of the cluster's online capacity of), then the fewest GPUs left
// idle (so CPU-only jobs stay off GPU workers), then the fewest cores, then the
// least memory left, then the lowest worker id. Big jobs thus keep finding
// whole free workers instead of fragments.

// Resource dimensions, in the order of rcq.Resources.
const (
	dimCPU = iota
	dimMem
	dimGPU
)

func dim(r rcq.Resources, d int) int {
	switch d {
	case dimCPU:
		return r.CPUCores
	case dimMem:
		return r.MemoryGB
	}
	return r.GPUs
}

func maxRes(a, b rcq.Resources) rcq.Resources {
	return rcq.Resources{CPUCores: max(a.CPUCores, b.CPUCores), MemoryGB: max(a.MemoryGB, b.MemoryGB), GPUs: max(a.GPUs, b.GPUs)}
}

func minRes(a, b rcq.Resources) rcq.Resources {
	return rcq.Resources{CPUCores: min(a.CPUCores, b.CPUCores), MemoryGB: min(a.MemoryGB, b.MemoryGB), GPUs: min(a.GPUs, b.GPUs)}
}

var (
	noneMax = rcq.Resources{CPUCores: -1, MemoryGB: -1, GPUs: -1}
	noneMin = rcq.Resources{CPUCores: math.MaxInt, MemoryGB: math.MaxInt, GPUs: math.MaxInt}
)

// resTree is a segment tree over the online workers (leaves in worker-id
// order) holding, for every subtree, the component-wise largest and smallest
// amounts. It answers "does anything fit?" in O(1), finds the best fit with
// branch-and-bound pruning, and updates in O(log workers).
type resTree struct {
	size   int
	mx, mn []rcq.Resources
}

func newResTree(vals []rcq.Resources) *resTree {
	size := 1
	for size < len(vals) {
		size *= 2
	}
	t := &resTree{size: size, mx: make([]rcq.Resources, 2*size), mn: make([]rcq.Resources, 2*size)}
	for i := range size {
		if i < len(vals) {
			t.mx[size+i], t.mn[size+i] = vals[i], vals[i]
		} else {
			t.mx[size+i], t.mn[size+i] = noneMax, noneMin
		}
	}
	for n := size - 1; n >= 1; n-- {
		t.pull(n)
	}
	return t
}

func (t *resTree) pull(n int) {
	t.mx[n] = maxRes(t.mx[2*n], t.mx[2*n+1])
	t.mn[n] = minRes(t.mn[2*n], t.mn[2*n+1])
}

// set changes leaf i's amount.
func (t *resTree) set(i int, v rcq.Resources) {
	n := t.size + i
	t.mx[n], t.mn[n] = v, v
	for n /= 2; n >= 1; n /= 2 {
		t.pull(n)
	}
}

// largest is the component-wise largest amount over all leaves: nothing
// larger than it on any resource fits anywhere.
func (t *resTree) largest() rcq.Resources { return t.mx[1] }

// any reports whether r fits some leaf.
func (t *resTree) any(r rcq.Resources) bool { return t.first(1, r) >= 0 }

func (t *resTree) first(n int, r rcq.Resources) int {
	if !r.Fits(t.mx[n]) {
		return -1
	}
	if n >= t.size {
		return n - t.size
	}
	if i := t.first(2*n, r); i >= 0 {
		return i
	}
	return t.first(2*n+1, r)
}

// argmax returns the leaf with the largest amount of dimension d (the first
// such leaf).
func (t *resTree) argmax(d int) int {
	n := 1
	for n < t.size {
		if dim(t.mx[2*n], d) >= dim(t.mx[2*n+1], d) {
			n = 2 * n
		} else {
			n = 2*n + 1
		}
	}
	return n - t.size
}

// fitKey orders fitting leaves: smaller is a better fit. The leaf index breaks
// the remaining ties (lower first).
type fitKey [4]int

func (a fitKey) less(b fitKey) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// keyOf is the fit key of r on free amount f, with d the scarcest dimension.
func keyOf(f, r rcq.Resources, d int) fitKey {
	return fitKey{dim(f, d) - dim(r, d), f.GPUs - r.GPUs, f.CPUCores - r.CPUCores, f.MemoryGB - r.MemoryGB}
}

// bestFit returns the leaf with the best fit for r (d its scarcest
// dimension), skipping leaf skip; -1 when r fits no other leaf. The search
// visits the child with the better lower bound on the key first and prunes
// subtrees whose bound cannot beat the best found (ties go to the lower leaf
// index), so on a cluster of identical workers it is logarithmic.
func (t *resTree) bestFit(r rcq.Resources, d, skip int) int {
	s := fitSearch{t: t, r: r, d: d, skip: skip, best: -1}
	s.visit(1, 0, t.size)
	return s.best
}

type fitSearch struct {
	t       *resTree
	r       rcq.Resources
	d, skip int
	best    int
	key     fitKey
}

// bound is a lower bound on the key of any leaf below n that fits r: such a
// leaf has at least max(min, need) of every dimension.
func (s *fitSearch) bound(n int) fitKey {
	return keyOf(maxRes(s.t.mn[n], s.r), s.r, s.d)
}

// hopeless reports whether the leaves [lo, lo+width) below n, whose keys are
// at least lb, cannot beat the best found.
func (s *fitSearch) hopeless(lb fitKey, lo int) bool {
	if s.best < 0 {
		return false
	}
	if lo > s.best {
		return !lb.less(s.key) // an equal key loses on index
	}
	return s.key.less(lb)
}

func (s *fitSearch) visit(n, lo, width int) {
	t := s.t
	if !s.r.Fits(t.mx[n]) {
		return
	}
	if n >= t.size {
		if lo == s.skip {
			return
		}
		k := keyOf(t.mx[n], s.r, s.d)
		if s.best < 0 || k.less(s.key) || k == s.key && lo < s.best {
			s.best, s.key = lo, k
		}
		return
	}
	half := width / 2
	l, r := 2*n, 2*n+1
	lbl, lbr := s.bound(l), s.bound(r)
	first, second := l, r
	flo, slo, fb, sb := lo, lo+half, lbl, lbr
	if lbr.less(lbl) {
		first, second, flo, slo, fb, sb = r, l, lo+half, lo, lbr, lbl
	}
	if !s.hopeless(fb, flo) {
		s.visit(first, flo, half)
	}
	if !s.hopeless(sb, slo) {
		s.visit(second, slo, half)
	}
}

// scarcest returns the dimension of r that asks the largest share of total
// (GPUs, then cores, then memory on ties); cores when r asks nothing.
func scarcest(r, total rcq.Resources) int {
	best, share := dimCPU, -1.0
	for _, d := range [...]int{dimGPU, dimCPU, dimMem} {
		need, have := dim(r, d), dim(total, d)
		if need <= 0 {
			continue
		}
		s := math.Inf(1)
		if have > 0 {
			s = float64(need) / float64(have)
		}
		if s > share {
			best, share = d, s
		}
	}
	return best
}

// gpuSet tracks which GPU indices of each worker are in use.
type gpuSet struct {
	off  []int // worker index -> first slot in used
	used []bool
}

func newGPUSet(workers []rcq.Worker) gpuSet {
	off := make([]int, len(workers)+1)
	for i, w := range workers {
		off[i+1] = off[i] + max(w.Capacity.GPUs, 0)
	}
	return gpuSet{off: off, used: make([]bool, off[len(workers)])}
}

// mark records indices as used on worker w, ignoring out-of-range ones.
func (g *gpuSet) mark(w int, idx []int) {
	n := g.off[w+1] - g.off[w]
	for _, i := range idx {
		if i >= 0 && i < n {
			g.used[g.off[w]+i] = true
		}
	}
}

// free counts the unused indices of worker w.
func (g *gpuSet) free(w int) int {
	c := 0
	for _, u := range g.used[g.off[w]:g.off[w+1]] {
		if !u {
			c++
		}
	}
	return c
}

// take gives the n lowest unused indices of worker w and marks them used.
func (g *gpuSet) take(w, n int) []int {
	if n <= 0 {
		return nil
	}
	idx := make([]int, 0, n)
	base := g.off[w]
	for i, u := range g.used[base:g.off[w+1]] {
		if !u {
			g.used[base+i] = true
			idx = append(idx, i)
			if len(idx) == n {
				break
			}
		}
	}
	return slices.Clip(idx)
}

// buckets index the online workers by their free amount of one dimension:
// byVal[v] holds the leaves with v free (negative amounts in bucket 0). Best
// fit on that dimension scans buckets upward from the need: the first bucket
// with a fitting leaf holds the least leftover, and the full key (then the
// leaf index) picks among its leaves.
type buckets struct {
	byVal [][]int32
	pos   []int32 // leaf -> index in its bucket
	at    []int32 // leaf -> its bucket
}

// maxBuckets bounds the values a dimension may take for buckets to be used.
const maxBuckets = 1 << 16

func newBuckets(free []rcq.Resources, d, largest int) *buckets {
	if largest >= maxBuckets {
		return nil
	}
	b := &buckets{byVal: make([][]int32, max(largest, 0)+1), pos: make([]int32, len(free)), at: make([]int32, len(free))}
	for leaf, f := range free {
		b.put(int32(leaf), dim(f, d))
	}
	return b
}

func (b *buckets) put(leaf int32, v int) {
	v = min(max(v, 0), len(b.byVal)-1)
	b.at[leaf], b.pos[leaf] = int32(v), int32(len(b.byVal[v]))
	b.byVal[v] = append(b.byVal[v], leaf)
}

// move files leaf under its new amount v.
func (b *buckets) move(leaf int32, v int) {
	old := b.byVal[b.at[leaf]]
	i := b.pos[leaf]
	last := old[len(old)-1]
	old[i], b.pos[last] = last, i
	b.byVal[b.at[leaf]] = old[:len(old)-1]
	b.put(leaf, v)
}

// bestFit is resTree.bestFit for r whose scarcest dimension is the buckets'
// dimension d; free gives a leaf's free amount.
func (b *buckets) bestFit(r rcq.Resources, d, skip int, free func(leaf int) rcq.Resources) int {
	best := -1
	var bestKey fitKey
	for v := max(dim(r, d), 0); v < len(b.byVal); v++ {
		for _, l := range b.byVal[v] {
			leaf := int(l)
			if leaf == skip {
				continue
			}
			f := free(leaf)
			if !r.Fits(f) {
				continue
			}
			if k := keyOf(f, r, d); best < 0 || k.less(bestKey) || k == bestKey && leaf < best {
				best, bestKey = leaf, k
			}
		}
		if best >= 0 {
			return best
		}
	}
	return -1
}
