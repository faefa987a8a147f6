package rcq

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxArrayIndex is the largest task index an array may use, as Slurm's
// MaxArraySize caps it (Slurm's own ceiling is 4,000,001).
const MaxArrayIndex = 4_000_000

// DefaultMaxArraySize is the most elements one array may have with no
// configuration (jobs.max_array_size).
const DefaultMaxArraySize = 100_000

// ArrayForm is the accepted form of an array spec, for error messages.
const ArrayForm = `a list of indices and ranges such as "0-99", "1,3,5-7" or "0-99:4", optionally with "%N" (at most N elements running at once)`

// IndexRange is First, First+Step, ... up to Last (an element).
type IndexRange struct {
	First, Last, Step int
}

// IndexSet is a set of array task indices, kept as sorted, disjoint ranges
// in canonical form (see NewIndexSet), so equal sets have equal String().
type IndexSet []IndexRange

// ArraySpec is what sbatch --array takes: the task indices and a throttle
// (0: no limit on how many run at once).
type ArraySpec struct {
	Tasks    IndexSet
	Throttle int
}

// ParseArraySpec reads sbatch's --array form ("0-99", "1,3,5-7", "0-99:4",
// each optionally ending in "%N") and refuses an empty, reversed, oversized
// spec or a step or throttle below 1. maxElements bounds the element count.
func ParseArraySpec(s string, maxElements int) (ArraySpec, error) {
	var spec ArraySpec
	list, throttle, hasThrottle := strings.Cut(s, "%")
	if hasThrottle {
		n, err := strconv.Atoi(throttle)
		if err != nil || n < 1 {
			return spec, fmt.Errorf("array %q: the throttle after %% must be a whole number >= 1", s)
		}
		spec.Throttle = n
	}
	tasks, err := parseIndexList(list, maxElements)
	if err != nil {
		return spec, fmt.Errorf("array %q: %w", s, err)
	}
	spec.Tasks = tasks
	return spec, nil
}

// String is the spec in sbatch's form.
func (a ArraySpec) String() string {
	if a.Throttle > 0 {
		return a.Tasks.String() + "%" + strconv.Itoa(a.Throttle)
	}
	return a.Tasks.String()
}

// ParseIndexSet reads a set in the form IndexSet.String writes (the form of
// an array spec without a throttle), with no bound beyond MaxArrayIndex.
func ParseIndexSet(s string) (IndexSet, error) {
	return parseIndexList(s, MaxArrayIndex+1)
}

var errEmptyArray = errors.New("no indices: " + ArrayForm)

func parseIndexList(s string, maxElements int) (IndexSet, error) {
	if s == "" {
		return nil, errEmptyArray
	}
	if !strings.Contains(s, ",") {
		// One range, the common case ("1-100000"): its canonical form
		// without listing its indices.
		r, err := parseIndexRange(s)
		if err != nil {
			return nil, err
		}
		if (r.Last-r.First)/r.Step+1 > maxElements {
			return nil, fmt.Errorf("more than %d elements", maxElements)
		}
		return appendPiece(nil, r.First, r.Last, r.Step), nil
	}
	var idx []int
	for part := range strings.SplitSeq(s, ",") {
		r, err := parseIndexRange(part)
		if err != nil {
			return nil, err
		}
		n := (r.Last-r.First)/r.Step + 1
		if len(idx)+n > maxElements {
			return nil, fmt.Errorf("more than %d elements", maxElements)
		}
		for i := r.First; i <= r.Last; i += r.Step {
			idx = append(idx, i)
		}
	}
	return NewIndexSet(idx), nil
}

func parseIndexRange(part string) (IndexRange, error) {
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || s[0] == '+' || s[0] == '-' {
			return 0, fmt.Errorf("%q is not an index (a whole number 0 to %d): %s", s, MaxArrayIndex, ArrayForm)
		}
		if n > MaxArrayIndex {
			return 0, fmt.Errorf("index %d is above the largest, %d", n, MaxArrayIndex)
		}
		return n, nil
	}
	if part == "" {
		return IndexRange{}, errEmptyArray
	}
	bounds, stepText, hasStep := strings.Cut(part, ":")
	firstText, lastText, isRange := strings.Cut(bounds, "-")
	first, err := num(firstText)
	if err != nil {
		return IndexRange{}, err
	}
	r := IndexRange{First: first, Last: first, Step: 1}
	if isRange {
		if r.Last, err = num(lastText); err != nil {
			return IndexRange{}, err
		}
		if r.Last < r.First {
			return IndexRange{}, fmt.Errorf("range %q is reversed (write first-last)", bounds)
		}
	}
	if hasStep {
		if !isRange {
			return IndexRange{}, fmt.Errorf("step in %q needs a range (first-last:step)", part)
		}
		step, err := strconv.Atoi(stepText)
		if err != nil || step < 1 {
			return IndexRange{}, fmt.Errorf("step in %q must be a whole number >= 1", part)
		}
		r.Step = step
		r.Last -= (r.Last - r.First) % step
	}
	return r, nil
}

// NewIndexSet makes the canonical set of the given indices (any order,
// duplicates allowed): runs of consecutive indices become ranges, and runs
// of three or more single indices evenly spaced become stepped ranges.
func NewIndexSet(indices []int) IndexSet {
	idx := slices.Clone(indices)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var runs IndexSet // consecutive runs first
	for _, i := range idx {
		if n := len(runs); n > 0 && runs[n-1].Last+1 == i {
			runs[n-1].Last = i
			continue
		}
		runs = append(runs, IndexRange{First: i, Last: i, Step: 1})
	}
	var set IndexSet
	for k := 0; k < len(runs); {
		// Three or more single indices evenly spaced make one stepped range.
		j := k
		if runs[k].First == runs[k].Last {
			for j+1 < len(runs) && runs[j+1].First == runs[j+1].Last &&
				(j == k || runs[j+1].First-runs[j].First == runs[k+1].First-runs[k].First) {
				j++
			}
		}
		if j-k >= 2 {
			set = append(set, IndexRange{First: runs[k].First, Last: runs[j].First, Step: runs[k+1].First - runs[k].First})
			k = j + 1
			continue
		}
		set = append(set, runs[k])
		k++
	}
	return set
}

// Len is the number of indices.
func (s IndexSet) Len() int {
	n := 0
	for _, r := range s {
		n += (r.Last-r.First)/r.Step + 1
	}
	return n
}

// Min and Max are the smallest and largest index (0 for an empty set).
func (s IndexSet) Min() int {
	if len(s) == 0 {
		return 0
	}
	return s[0].First
}

func (s IndexSet) Max() int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].Last
}

// Step is SLURM_ARRAY_TASK_STEP: the step of a set that is one range, else 1.
func (s IndexSet) Step() int {
	if len(s) == 1 {
		return s[0].Step
	}
	return 1
}

// Contains reports whether i is in the set.
func (s IndexSet) Contains(i int) bool {
	for _, r := range s {
		if i >= r.First && i <= r.Last {
			return (i-r.First)%r.Step == 0
		}
	}
	return false
}

// Indices lists the set in increasing order.
func (s IndexSet) Indices() []int {
	out := make([]int, 0, s.Len())
	for _, r := range s {
		for i := r.First; i <= r.Last; i += r.Step {
			out = append(out, i)
		}
	}
	return out
}

// First n indices in increasing order (all of them if there are fewer).
func (s IndexSet) First(n int) []int {
	out := make([]int, 0, min(n, s.Len()))
	for _, r := range s {
		for i := r.First; i <= r.Last && len(out) < n; i += r.Step {
			out = append(out, i)
		}
	}
	return out
}

// Without is the set less the given indices.
func (s IndexSet) Without(remove ...int) IndexSet {
	drop := make(map[int]bool, len(remove))
	for _, i := range remove {
		drop[i] = true
	}
	keep := slices.DeleteFunc(s.Indices(), func(i int) bool { return drop[i] })
	return NewIndexSet(keep)
}

// Intersect is the indices in both sets.
func (s IndexSet) Intersect(t IndexSet) IndexSet {
	return NewIndexSet(slices.DeleteFunc(s.Indices(), func(i int) bool { return !t.Contains(i) }))
}

// String is the set in sbatch's --array form: "4-99", "1,3,5-7", "0-96:4".
func (s IndexSet) String() string {
	var b strings.Builder
	for k, r := range s {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.First))
		if r.Last != r.First {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.Last))
		}
		if r.Step > 1 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(r.Step))
		}
	}
	return b.String()
}

// JobRef names a job or some elements of an array, as scancel and squeue -j
// take them: "123" (a job, or a whole array), "123_4" (one element) or
// "123_[1-3,7]" (several). Tasks is nil for "123".
type JobRef struct {
	JobID JobID
	Tasks IndexSet
}

// JobRefForm is the accepted form of a JobRef, for error messages.
const JobRefForm = `a job id (123), an array element (123_4) or elements (123_[1-3,7])`

// ParseJobRef reads a JobRef.
func ParseJobRef(s string) (JobRef, error) {
	idText, taskText, isElement := strings.Cut(s, "_")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 || idText[0] == '+' {
		return JobRef{}, fmt.Errorf("%q is not %s", s, JobRefForm)
	}
	ref := JobRef{JobID: JobID(id)}
	if !isElement {
		return ref, nil
	}
	if inner, ok := strings.CutPrefix(taskText, "["); ok {
		taskText, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return JobRef{}, fmt.Errorf("%q is not %s", s, JobRefForm)
		}
	}
	if ref.Tasks, err = ParseIndexSet(taskText); err != nil {
		return JobRef{}, fmt.Errorf("%q is not %s: %w", s, JobRefForm, err)
	}
	return ref, nil
}

// String is the ref in the form ParseJobRef reads: a single element as
// 123_4, several as 123_[1-3,7].
func (r JobRef) String() string {
	id := strconv.FormatInt(int64(r.JobID), 10)
	switch {
	case r.Tasks == nil:
		return id
	case r.Tasks.Len() == 1:
		return id + "_" + strconv.Itoa(r.Tasks.Min())
	default:
		return id + "_[" + r.Tasks.String() + "]"
	}
}

// ArrayJobName is how squeue and sacct show an array element ("123_4") or
// an array's pending remainder ("123_[4-99%8]"): pending is "" for an
// element, throttle 0 for none.
func ArrayJobName(arrayID JobID, task int, pending IndexSet, throttle int) string {
	id := strconv.FormatInt(int64(arrayID), 10)
	if pending == nil {
		return id + "_" + strconv.Itoa(task)
	}
	s := id + "_["
	s += pending.String()
	if throttle > 0 {
		s += "%" + strconv.Itoa(throttle)
	}
	return s + "]"
}

// JobArray is what a row of a job array knows of its array. Every row has
// ID (the array's id, its first row's). An element's row has TaskID; the
// array's own row, while some elements have not started (and so have no row
// of their own), has TaskID nil and their indices in Pending. Count, Min,
// Max and Step describe the whole array (SLURM_ARRAY_TASK_*).
type JobArray struct {
	ID       JobID
	TaskID   *int
	Pending  IndexSet
	Spec     string // as submitted, canonical
	Throttle int    // at most this many elements running at once; 0: no limit
	Count    int
	Min      int
	Max      int
	Step     int
}

// NewJobArray is the array a spec describes, before it has an id: every
// index pending.
func NewJobArray(spec ArraySpec) *JobArray {
	return &JobArray{
		Pending: spec.Tasks, Spec: spec.String(), Throttle: spec.Throttle,
		Count: spec.Tasks.Len(), Min: spec.Tasks.Min(), Max: spec.Tasks.Max(), Step: spec.Tasks.Step(),
	}
}

// SlurmID is how squeue shows the row: 123_4 for an element, 123_[4-99%8]
// for the array's elements not yet started.
func (a *JobArray) SlurmID() string {
	if a.TaskID != nil {
		return ArrayJobName(a.ID, *a.TaskID, nil, 0)
	}
	return ArrayJobName(a.ID, 0, a.Pending, a.Throttle)
}

// ReadIndexSet reads a set as IndexSet.String wrote it (as rcq stores an
// array's pending indices) without listing its indices, so reading a set of
// 100,000 costs its ranges, not its elements.
func ReadIndexSet(s string) (IndexSet, error) {
	if s == "" {
		return nil, nil
	}
	var set IndexSet
	for part := range strings.SplitSeq(s, ",") {
		r, err := parseIndexRange(part)
		if err != nil {
			return nil, err
		}
		if n := len(set); n > 0 && r.First <= set[n-1].Last {
			return nil, fmt.Errorf("index set %q is not in increasing order", s)
		}
		set = append(set, r)
	}
	return set, nil
}

// Minus is the set less the given indices, which must be in increasing
// order. It costs the set's ranges plus the indices removed, so taking a few
// indices off a set of 100,000 is cheap.
func (s IndexSet) Minus(sorted []int) IndexSet {
	if len(sorted) == 0 {
		return s
	}
	var out IndexSet
	k := 0
	for _, r := range s {
		for k < len(sorted) && sorted[k] < r.First {
			k++
		}
		first := r.First
		for k < len(sorted) && sorted[k] <= r.Last {
			i := sorted[k]
			k++
			if (i-r.First)%r.Step != 0 {
				continue
			}
			out = appendPiece(out, first, i-r.Step, r.Step)
			first = i + r.Step
		}
		out = appendPiece(out, first, r.Last, r.Step)
	}
	return out
}

// appendPiece adds first..last by step in canonical form: nothing when
// empty, a single index as itself, two stepped indices as two singles.
func appendPiece(out IndexSet, first, last, step int) IndexSet {
	switch {
	case first > last:
		return out
	case first == last:
		return append(out, IndexRange{First: first, Last: first, Step: 1})
	case step > 1 && last-first == step:
		return append(out, IndexRange{First: first, Last: first, Step: 1}, IndexRange{First: last, Last: last, Step: 1})
	}
	return append(out, IndexRange{First: first, Last: last, Step: step})
}
