package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// queueView is one read of a page of the queue (its jobs and the
// scheduler's plan for them), shared by every request for that page that
// arrived before the read began. Each caller's answer is rendered once per
// view and kept, so a crowd of readers costs one read and one rendering per
// caller, not one per request.
type queueView struct {
	now     time.Time
	jobs    []rcq.Job
	planned map[rcq.JobID]*rcq.PlannedJob
	next    string // cursor of the next page; "" on the last

	mu       sync.Mutex
	rendered map[string][]byte // the JSON body per caller
}

// queuePage is which page a view reads.
type queuePage struct {
	user  rcq.UserID // 0: everyone's jobs; -1: an unknown account's (none)
	after rcq.JobID
	limit int
}

func (s *Server) readQueue(ctx context.Context, p queuePage) (*queueView, error) {
	v := &queueView{now: s.Now(), planned: map[rcq.JobID]*rcq.PlannedJob{}, rendered: map[string][]byte{}}
	if p.user < 0 {
		return v, nil
	}
	jobs, err := s.Store.QueueJobs(ctx, rcq.QueueFilter{UserID: p.user, After: p.after, Limit: p.limit + 1})
	if err != nil {
		return nil, err
	}
	if len(jobs) > p.limit {
		jobs = jobs[:p.limit]
		v.next = queueCursor(jobs[p.limit-1].ID)
	}
	v.jobs = jobs
	if s.Planner != nil && len(jobs) > 0 {
		plan, err := s.Planner.Plan(ctx)
		if err != nil {
			return nil, err
		}
		for i := range jobs {
			v.planned[jobs[i].ID] = nil
		}
		for i := range plan.Jobs {
			if _, ok := v.planned[plan.Jobs[i].JobID]; ok {
				v.planned[plan.Jobs[i].JobID] = &plan.Jobs[i]
			}
		}
	}
	return v, nil
}

// queueReads coalesces reads of the queue per page: concurrent requests
// for the same page share one read (see coalescer).
type queueReads struct {
	read func(context.Context, queuePage) (*queueView, error)

	mu    sync.Mutex
	pages map[queuePage]*queueRead
}

type queueRead struct {
	c       *coalescer[*queueView]
	callers int
}

func newQueueReads(read func(context.Context, queuePage) (*queueView, error)) *queueReads {
	return &queueReads{read: read, pages: map[queuePage]*queueRead{}}
}

func (g *queueReads) do(ctx context.Context, p queuePage) (*queueView, error) {
	g.mu.Lock()
	qr := g.pages[p]
	if qr == nil {
		qr = &queueRead{c: &coalescer[*queueView]{fn: func(ctx context.Context) (*queueView, error) { return g.read(ctx, p) }, timeout: 30 * time.Second}}
		g.pages[p] = qr
	}
	qr.callers++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if qr.callers--; qr.callers == 0 {
			delete(g.pages, p)
		}
		g.mu.Unlock()
	}()
	return qr.c.do(ctx)
}

// queue shows a page of the queue: pending jobs in the scheduler's order,
// then running jobs. The caller's own jobs (every job, for an admin) carry
// full detail; other users' show id, owner, group, state, size and rank
// only. Pages split the queue by job id (?limit=, at most
// limits.MaxPageSize, which is also the default; ?cursor= from next).
// ?fields= keeps only those keys of each row (rcq-queue's table asks for the
// ones its format shows); ?form=rows sends each row as an array of its
// values (appendQueueRows), as rcq-queue asks.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var p queuePage
	var err error
	if p.limit, err = s.pageLimit(q, s.cfg.Limits.MaxPageSize); err != nil {
		return err
	}
	if p.after, err = parseQueueCursor(q.Get("cursor")); err != nil {
		return err
	}
	if name := q.Get("user"); name != "" {
		// Anyone may narrow the queue to one account (an email or a mapped
		// Unix login): the queue is public. An unknown one is a 404, never
		// an empty queue that looks like an answer.
		u, err := s.lookupUser(r.Context(), name)
		if err != nil {
			return err
		}
		p.user = u.ID
	}
	fields, fieldsKey, err := parseQueueFields(q.Get("fields"))
	if err != nil {
		return err
	}
	rows, err := parseQueueForm(q.Get("form"))
	if err != nil {
		return err
	}
	render := func(out *apitype.Queue) []byte {
		if rows {
			// ~150 bytes a row of rcq-queue's table, ~260 in full.
			size := 176
			if fields == nil {
				size = 288
			}
			return appendQueueRows(make([]byte, 0, size*len(out.Jobs)+512), out, fields)
		}
		// ~440 bytes a row in full: one buffer of about the right size.
		return appendQueue(make([]byte, 0, 512*len(out.Jobs)+256), out, fields)
	}
	var refs []rcq.JobRef
	if ids := q.Get("ids"); ids != "" {
		if refs, err = parseRefs("ids", ids, s.cfg.Limits.MaxPageSize); err != nil {
			return err
		}
	}
	v, err := s.queueViews.do(r.Context(), p)
	if err != nil {
		return err
	}
	me := caller(r)
	if refs != nil {
		// A narrowed view (squeue -j) is rendered for this request only.
		out := v.render(me)
		out.Jobs = queueRefs(out.Jobs, refs)
		out.Count = len(out.Jobs)
		writeRendered(w, render(&out))
		return nil
	}
	key := strconv.FormatInt(int64(me.ID), 10) + "|" + strconv.FormatBool(me.IsAdmin) + "|" + strconv.FormatBool(rows) + "|" + fieldsKey
	v.mu.Lock()
	body, ok := v.rendered[key]
	v.mu.Unlock()
	if !ok {
		out := v.render(me)
		body = render(&out)
		v.mu.Lock()
		v.rendered[key] = body
		v.mu.Unlock()
	}
	writeRendered(w, body)
	return nil
}

// writeRendered sends a rendered page, with its length: the client's buffer
// is sized once.
func writeRendered(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body) // the client went away: nothing left to tell it
}

// render is the view as me sees it, in queue order (apitype.SortQueue).
func (v *queueView) render(me *rcq.User) apitype.Queue {
	out := apitype.Queue{Jobs: make([]apitype.QueueJob, 0, len(v.jobs)), Now: v.now, Next: v.next}
	for i := range v.jobs {
		j := &v.jobs[i]
		q := apitype.QueueJob{
			ID: int64(j.ID), User: j.UserEmail, UnixUser: j.UnixUser, GroupID: int64(j.GroupID), Status: string(j.State),
			CPUCores: j.Resources.CPUCores, MemoryGB: j.Resources.MemoryGB, GPUCount: j.Resources.GPUs,
		}
		q.ArrayJobID, q.ArrayTaskID, q.ArrayTasks, q.ArrayThrottle = arrayFields(j)
		p := v.planned[j.ID]
		if p != nil {
			q.Rank = p.Rank // order is not a secret: squeue shows it to everyone
		}
		if me.IsAdmin || j.UserID == me.ID {
			q.Own = j.UserID == me.ID
			q.Name, q.Priority, q.EstimatedHours, q.Worker = j.Name, j.Priority, j.EstimatedHours, j.WorkerName
			sub := j.SubmittedAt
			q.SubmittedAt, q.StartedAt, q.GPUIndices = &sub, j.StartedAt, j.GPUIndices
			switch j.Hold {
			case rcq.HoldUser:
				q.Reason = rcq.ReasonHeldUser
			case rcq.HoldAdmin:
				q.Reason = rcq.ReasonHeldAdmin
			}
			if p != nil {
				pf := p.Priority
				q.Computed, q.ExpectedStart = &pf, p.ExpectedStart
				if p.Reason != "" {
					q.Reason, q.ReasonDetail = p.Reason, p.Detail
				}
			}
		}
		out.Jobs = append(out.Jobs, q)
	}
	apitype.SortQueue(out.Jobs)
	out.Count = len(out.Jobs)
	return out
}

// queueRefs keeps the queue rows job refs name (squeue -j): "123" the job,
// or every row of the array 123; "123_[1-3]" those elements, the array's
// row narrowed to those of its pending indices.
func queueRefs(js []apitype.QueueJob, refs []rcq.JobRef) []apitype.QueueJob {
	out := js[:0]
	for _, j := range js {
		keep := false
		for _, ref := range refs {
			id := int64(ref.JobID)
			switch {
			case ref.Tasks == nil:
				keep = j.ID == id || j.ArrayJobID != nil && *j.ArrayJobID == id
			case j.ArrayJobID == nil || *j.ArrayJobID != id:
			case j.ArrayTaskID != nil:
				keep = ref.Tasks.Contains(*j.ArrayTaskID)
			default:
				pending, err := rcq.ReadIndexSet(j.ArrayTasks)
				if in := pending.Intersect(ref.Tasks); err == nil && len(in) > 0 {
					j.ArrayTasks, keep = in.String(), true
				}
			}
			if keep {
				break
			}
		}
		if keep {
			out = append(out, j)
		}
	}
	return out
}
