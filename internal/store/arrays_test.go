package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// submitArray stores an array of owner with the given spec.
func (f *fixture) submitArray(t *testing.T, owner rcq.UserID, spec string, deps ...rcq.Dependency) rcq.JobID {
	t.Helper()
	sp, err := rcq.ParseArraySpec(spec, rcq.DefaultMaxArraySize)
	if err != nil {
		t.Fatal(err)
	}
	j := f.newJob(owner, res(1, 1, 0))
	j.Array, j.Dependencies = rcq.NewJobArray(sp), deps
	id, _, err := f.st.CreateJob(ctxT(t), j, "")
	if err != nil {
		t.Fatalf("create array %s: %v", spec, err)
	}
	return id
}

func ref(t *testing.T, s string) rcq.JobRef {
	t.Helper()
	r, err := rcq.ParseJobRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// element is the row of one element of array a (its own row or the meta row).
func (f *fixture) element(t *testing.T, a rcq.JobID, task int) *rcq.Job {
	t.Helper()
	j, err := f.st.ArrayElement(ctxT(t), a, task, 0)
	if err != nil {
		t.Fatalf("element %d_%d: %v", a, task, err)
	}
	return j
}

func (f *fixture) startTask(t *testing.T, a rcq.JobID, task int) rcq.JobID {
	t.Helper()
	f.takeLease(t)
	done, err := f.st.StartJobs(ctxT(t), lease, holder, []rcq.Start{{JobID: a, WorkerID: f.worker, ArrayTask: &task}})
	if err != nil || len(done) != 1 {
		t.Fatalf("start %d_%d: done %v err %v", a, task, done, err)
	}
	return done[0].JobID
}

// TestArraySubmitIsTwoRows: an array of 100,000 elements is one call and
// two rows (its jobs row and its job_arrays row), shown with every index
// pending.
func TestArraySubmitIsTwoRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.submitArray(t, f.alice, "0-99999%8")
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE array_job_id = $1`, a); n != 1 {
		t.Errorf("array of 100,000 has %d jobs rows, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM job_arrays WHERE job_id = $1`, a); n != 1 {
		t.Errorf("array has %d job_arrays rows, want 1", n)
	}
	j := f.job(t, a)
	if j.Array == nil || j.Array.ID != a || j.Array.TaskID != nil || j.Array.Pending.String() != "0-99999" ||
		j.Array.Throttle != 8 || j.Array.Count != 100_000 || j.Array.Min != 0 || j.Array.Max != 99999 || j.Array.Step != 1 {
		t.Errorf("array row: %+v", j.Array)
	}
	if got := j.Array.SlurmID(); got != rcq.ArrayJobName(a, 0, j.Array.Pending, 8) {
		t.Errorf("SlurmID %q", got)
	}
	if e := f.element(t, a, 77777); e.ID != a || *e.Array.TaskID != 77777 {
		t.Errorf("element 77777 shown as %d %+v", e.ID, e.Array)
	}
	if _, err := f.st.ArrayElement(ctxT(t), a, 100_000, 0); !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("element beyond the array: %v", err)
	}
	if _, err := f.st.ArrayElement(ctxT(t), a, 1, f.bob); !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("bob sees alice's element: %v", err)
	}
}

// TestArraySplitOnStart: each start splits its element off with its own
// row; the last pending index turns the meta row into that element.
func TestArraySplitOnStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.submitArray(t, f.alice, "3-5")
	e3 := f.startTask(t, a, 3)
	if e3 == a {
		t.Fatal("first element took the array's row")
	}
	j3 := f.job(t, e3)
	if j3.State != rcq.JobRunning || j3.Array == nil || j3.Array.ID != a || *j3.Array.TaskID != 3 || j3.Array.Count != 3 || j3.Script == "" {
		t.Errorf("element 3: state %s array %+v", j3.State, j3.Array)
	}
	if p := f.job(t, a).Array.Pending.String(); p != "4-5" {
		t.Errorf("pending after start of 3: %q", p)
	}
	e4 := f.startTask(t, a, 4)
	e5 := f.startTask(t, a, 5)
	if e5 != a || e4 == a {
		t.Errorf("element 5 is job %d, element 4 job %d; array %d", e5, e4, a)
	}
	meta := f.job(t, a)
	if meta.State != rcq.JobRunning || meta.Array.TaskID == nil || *meta.Array.TaskID != 5 {
		t.Errorf("array row after the last start: %s %+v", meta.State, meta.Array)
	}
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE array_job_id = $1`, a); n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	// Starting an element that already started does nothing.
	task := 4
	done, err := f.st.StartJobs(ctxT(t), lease, holder, []rcq.Start{{JobID: a, WorkerID: f.worker, ArrayTask: &task}})
	if err != nil || len(done) != 0 {
		t.Errorf("second start of 4: %v %v", done, err)
	}
}

// TestArrayCancel: cancelling one element, a range, and the whole array.
func TestArrayCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	a := f.submitArray(t, f.alice, "0-9")
	running := f.startTask(t, a, 0)

	cancel := func(s string) {
		t.Helper()
		ids, err := f.st.ResolveRef(ctx, ref(t, s), f.alice, true)
		if err != nil {
			t.Fatalf("resolve %s: %v", s, err)
		}
		for _, id := range ids {
			if _, err := f.st.CancelJob(ctx, id, f.alice); err != nil && !errors.Is(err, rcq.ErrConflict) {
				t.Fatalf("cancel %s (job %d): %v", s, id, err)
			}
		}
	}
	cancel(itoa(a) + "_4")
	if e := f.element(t, a, 4); e.ID == a || e.State != rcq.JobCancelled {
		t.Errorf("element 4: job %d %s", e.ID, e.State)
	}
	if e := f.element(t, a, 5); e.State != rcq.JobPending {
		t.Errorf("element 5 is %s", e.State)
	}
	cancel(itoa(a) + "_[6-7,9]")
	for _, i := range []int{6, 7, 9} {
		if e := f.element(t, a, i); e.State != rcq.JobCancelled {
			t.Errorf("element %d is %s", i, e.State)
		}
	}
	if p := f.job(t, a).Array.Pending.String(); p != "1-3,5,8" {
		t.Errorf("pending after the cancels: %q", p)
	}
	// Bob cannot name alice's array at all.
	if _, err := f.st.ResolveRef(ctx, ref(t, itoa(a)+"_5"), f.bob, true); !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("bob resolves alice's element: %v", err)
	}
	if _, err := f.st.ResolveRef(ctx, ref(t, itoa(a)+"_42"), f.alice, true); !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("an index the array lacks: %v", err)
	}
	cancel(itoa(a))
	if j := f.job(t, running); j.State != rcq.JobCancelled {
		t.Errorf("running element after cancel of the array: %s", j.State)
	}
	meta := f.job(t, a)
	if meta.State != rcq.JobCancelled || meta.Array.Pending.String() != "1-3,5,8" {
		t.Errorf("array row after the cancel: %s, pending %q (the remainder is cancelled with it)", meta.State, meta.Array.Pending)
	}
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE array_job_id = $1 AND status IN ('pending', 'running')`, a); n != 0 {
		t.Errorf("%d rows still pending or running", n)
	}
}

// TestArrayHoldRelease: holding elements splits them off held; releasing
// one lets it wait like any job; holding the array holds every pending row.
func TestArrayHoldRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	a := f.submitArray(t, f.alice, "1-5")
	hold := func(s string, h rcq.Hold) {
		t.Helper()
		ids, err := f.st.ResolveRef(ctx, ref(t, s), f.alice, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := f.st.SetHold(ctx, id, f.alice, h, false); err != nil {
				t.Fatalf("hold %s (%d): %v", s, id, err)
			}
		}
	}
	hold(itoa(a)+"_[2-3]", rcq.HoldUser)
	for i, want := range map[int]rcq.Hold{1: "", 2: rcq.HoldUser, 3: rcq.HoldUser, 4: ""} {
		if e := f.element(t, a, i); e.Hold != want {
			t.Errorf("element %d hold %q, want %q", i, e.Hold, want)
		}
	}
	hold(itoa(a)+"_3", rcq.HoldNone)
	if e := f.element(t, a, 3); e.Hold != "" || e.State != rcq.JobPending || e.ID == a {
		t.Errorf("released element 3: %+v", e)
	}
	hold(itoa(a), rcq.HoldUser)
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE array_job_id = $1 AND hold = 'user'`, a); n != 3 {
		t.Errorf("%d rows held after holding the array, want 3 (elements 2, 3 and the array's row)", n)
	}
	// Split-off elements keep the array's dependencies: none here, so a
	// held array row and its held elements are all that wait.
	js, err := f.st.ListJobs(ctx, rcq.JobFilter{Refs: []rcq.JobRef{ref(t, itoa(a)+"_[3-4]")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 2 {
		t.Fatalf("ids=%d_[3-4] listed %d rows, want 2 (element 3, and the array's row for 4)", a, len(js))
	}
	for _, j := range js {
		if j.ID == a && j.Array.Pending.String() != "4" {
			t.Errorf("the array's row in a list of elements 3-4 shows pending %q, want 4", j.Array.Pending)
		}
	}
	// Accounting narrows the array's row the same way, a row at a time.
	var each []rcq.Job
	if err := f.st.EachAcctJob(ctx, rcq.AcctFilter{Refs: []rcq.JobRef{ref(t, itoa(a)+"_[3-4]")}}, func(j *rcq.Job) error {
		each = append(each, *j)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(each) != 2 {
		t.Fatalf("accounting of %d_[3-4] listed %d rows, want 2", a, len(each))
	}
	for _, j := range each {
		if j.ID == a && j.Array.Pending.String() != "4" {
			t.Errorf("accounting: the array's row for elements 3-4 shows pending %q, want 4", j.Array.Pending)
		}
	}
}

func itoa(id rcq.JobID) string { return rcq.JobRef{JobID: id}.String() }

func (f *fixture) finishAs(t *testing.T, id rcq.JobID, st rcq.JobState) {
	t.Helper()
	code := 0
	if st != rcq.JobCompleted {
		code = 1
	}
	if err := f.st.FinishJob(ctxT(t), rcq.Outcome{JobID: id, State: st, ExitCode: &code}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) snap(t *testing.T) *rcq.Snapshot {
	t.Helper()
	s, err := f.st.Snapshot(ctxT(t), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pendingRow(s *rcq.Snapshot, id rcq.JobID) *rcq.PendingJob {
	for i := range s.Pending {
		if s.Pending[i].ID == id {
			return &s.Pending[i]
		}
	}
	return nil
}

// TestArrayDependencyStates: a dependency on a whole array sees one state
// (running or pending while any element is, then completed only if all
// completed); one on an element sees that element, split off or not.
func TestArrayDependencyStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.submitArray(t, f.alice, "0-2")
	four := 1
	whole := f.newJob(f.alice, res(1, 1, 0))
	whole.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: a}}
	w, _, err := f.st.CreateJob(ctxT(t), whole, "")
	if err != nil {
		t.Fatal(err)
	}
	one := f.newJob(f.alice, res(1, 1, 0))
	one.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: a, ArrayTaskID: &four}}
	o, _, err := f.st.CreateJob(ctxT(t), one, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.job(t, o).Dependencies; len(got) != 1 || got[0].String() != "afterok:"+itoa(a)+"_1" {
		t.Errorf("stored dependency %v", got)
	}
	elem := rcq.ArrayTask{Array: a, Task: 1}
	check := func(when string, wantArray, wantElem rcq.JobState) {
		t.Helper()
		s := f.snap(t)
		if st := s.DepStates[a]; st != wantArray {
			t.Errorf("%s: array state %q, want %q", when, st, wantArray)
		}
		if st := s.TaskStates[elem]; st != wantElem {
			t.Errorf("%s: element 1 state %q, want %q", when, st, wantElem)
		}
		if p := pendingRow(s, w); p == nil || len(p.Dependencies) != 1 || p.Dependencies[0].ArrayTaskID != nil {
			t.Errorf("%s: the whole-array dependent in the snapshot: %+v", when, p)
		}
		if p := pendingRow(s, o); p == nil || p.Dependencies[0].ArrayTaskID == nil || *p.Dependencies[0].ArrayTaskID != 1 {
			t.Errorf("%s: the element dependent in the snapshot: %+v", when, p)
		}
	}
	check("all pending", rcq.JobPending, rcq.JobPending)
	e0 := f.startTask(t, a, 0)
	check("0 running", rcq.JobRunning, rcq.JobPending)
	e1 := f.startTask(t, a, 1)
	f.finishAs(t, e0, rcq.JobCompleted)
	f.finishAs(t, e1, rcq.JobCompleted)
	check("0, 1 completed, 2 pending", rcq.JobPending, rcq.JobCompleted)
	e2 := f.startTask(t, a, 2)
	if e2 != a {
		t.Fatalf("last element is job %d, not the array's row", e2)
	}
	f.finishAs(t, e2, rcq.JobFailed)
	s := f.snap(t)
	if st := s.DepStates[a]; st != rcq.JobFailed {
		t.Errorf("all ended, one failed: array state %q, want failed", st)
	}
	if met, can := (rcq.Dependency{Type: rcq.AfterOK}).Satisfied(s.DepStates[a]); met || can {
		t.Error("afterok on an array with a failed element is still possible")
	}
	if met, _ := (rcq.Dependency{Type: rcq.AfterNotOK}).Satisfied(s.DepStates[a]); !met {
		t.Error("afternotok on an array with a failed element is not met")
	}
	if st := s.TaskStates[elem]; st != rcq.JobCompleted {
		t.Errorf("element 1: %q", st)
	}
	// An element the array does not have cannot be depended on.
	bad := f.newJob(f.alice, res(1, 1, 0))
	nine := 9
	bad.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: a, ArrayTaskID: &nine}}
	if _, _, err := f.st.CreateJob(ctxT(t), bad, ""); !errors.Is(err, rcq.ErrInvalid) {
		t.Errorf("afterok on %d_9: %v", a, err)
	}
}

// TestArrayAfterCorr: element i of the dependent array is offered to start
// only once element i of the other array completed (or when that array has
// no element i); a split-off element carries its own index.
func TestArrayAfterCorr(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.submitArray(t, f.alice, "0-1")
	second := f.submitArray(t, f.alice, "0-3", rcq.Dependency{Type: rcq.AfterCorr, JobID: first})
	tasks := func() []int {
		t.Helper()
		p := pendingRow(f.snap(t), second)
		if p == nil {
			t.Fatal("second array not pending")
		}
		return p.ArrayTasks
	}
	if got := tasks(); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("offered %v before any element of the first ran, want [2 3] (the first has no 2 or 3)", got)
	}
	e0 := f.startTask(t, first, 0)
	f.finishAs(t, e0, rcq.JobCompleted)
	if got := tasks(); len(got) != 3 || got[0] != 0 {
		t.Errorf("offered %v after 0 completed, want [0 2 3]", got)
	}
	s0 := f.startTask(t, second, 0)
	if d := f.job(t, s0).Dependencies; len(d) != 1 || d[0].Type != rcq.AfterCorr || d[0].ArrayTaskID == nil || *d[0].ArrayTaskID != 0 {
		t.Errorf("split-off element's dependency: %+v", d)
	}
	// Bob's jobs cannot use aftercorr on alice's array, and a plain job cannot use aftercorr.
	plain := f.newJob(f.alice, res(1, 1, 0))
	plain.Dependencies = []rcq.Dependency{{Type: rcq.AfterCorr, JobID: first}}
	if _, _, err := f.st.CreateJob(ctxT(t), plain, ""); !errors.Is(err, rcq.ErrInvalid) {
		t.Errorf("aftercorr from a plain job: %v", err)
	}
}

// TestArrayAfterCorrNever: an element whose corresponding element failed
// is split off and cancelled (DependencyNeverSatisfied), the others wait.
func TestArrayAfterCorrNever(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.submitArray(t, f.alice, "0-1")
	second := f.submitArray(t, f.alice, "0-1", rcq.Dependency{Type: rcq.AfterCorr, JobID: first})
	e0 := f.startTask(t, first, 0)
	f.finishAs(t, e0, rcq.JobFailed)
	p := pendingRow(f.snap(t), second)
	if p == nil || len(p.ArrayNever) != 1 || p.ArrayNever[0] != 0 || len(p.ArrayTasks) != 0 {
		t.Fatalf("second array in the snapshot: %+v", p)
	}
	task := 0
	f.takeLease(t)
	if err := f.st.CancelJobs(ctxT(t), lease, holder, []rcq.DependencyCancel{{JobID: second, ArrayTask: &task, Detail: "x"}}); err != nil {
		t.Fatal(err)
	}
	if e := f.element(t, second, 0); e.ID == second || e.State != rcq.JobCancelled || e.Reason != rcq.ReasonDependencyNeverSatisfied {
		t.Errorf("element 0: job %d %s %s", e.ID, e.State, e.Reason)
	}
	if e := f.element(t, second, 1); e.State != rcq.JobPending {
		t.Errorf("element 1: %s", e.State)
	}
}
