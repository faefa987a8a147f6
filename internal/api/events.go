package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// EventLog is the store's event log (internal/store/eventlog.go), read by
// GET /api/events. rcqd serves no events without one (a 404, like an older
// rcqd: clients then poll).
type EventLog interface {
	EventsSince(ctx context.Context, after int64, limit int) (evs []rcq.LoggedEvent, xmin, xmax int64, err error)
	EventsAfter(ctx context.Context, after, upto int64, user rcq.UserID, limit int) ([]rcq.LoggedEvent, error)
	EventStart(ctx context.Context) (start, cover, xmax int64, err error)
	EventHorizon(ctx context.Context) (pruned, last int64, err error)
	PruneEvents(ctx context.Context, keep time.Duration) error
	PendingJobIDs(ctx context.Context, user rcq.UserID, limit int) ([]rcq.JobID, error)
}

// Tunables of the event hub; variables for tests.
var (
	eventPoll       = 250 * time.Millisecond // the log is read at least this often while streams are open
	eventBuffer     = 1024                   // messages a stream may fall behind before it is dropped
	eventGapMax     = 10 * time.Second       // an id missing for longer is given up (an open write transaction outside rcq)
	gapRetry        = 5 * time.Millisecond   // a gap is looked at again this soon without a poke
	eventHubIdle    = time.Minute            // the hub stops this long after its last stream closed
	positionEvery   = time.Second            // queue positions are recomputed at most this often
	positionRefresh = 10 * time.Second       // ... and at least this often while a stream watches pending jobs
	positionCap     = 10_000                 // pending jobs per account whose positions are followed
	eventPage       = 500                    // events per read of the log (well under eventBuffer: a stream drains between pages)
	eventKeep       = 15 * time.Minute       // events are kept this long (Last-Event-ID resumes within it)
	pruneEvery      = time.Minute
)

// eventHub reads the event log once for every stream of this rcqd and fans
// each event out to the streams allowed to see it. It runs while streams
// are open; a stream's backlog (Last-Event-ID) is read by the stream itself.
type eventHub struct {
	log     EventLog
	planner Planner
	logger  *slog.Logger

	// The tunables, read once when the hub is made: a hub outlives its
	// last stream by eventHubIdle, and must not race a test changing them.
	buffer   int
	posEvery time.Duration
	onDrop   func() // eventDropped

	wake chan struct{}

	mu      sync.Mutex
	running bool
	ready   chan struct{} // closed once mark is known
	initErr error
	mark    int64 // every event up to mark has been delivered
	subs    map[*eventSub]struct{}
	users   map[rcq.UserID]*userPending // pending jobs of accounts with streams
	dirty   bool                        // a job event since the last positions
	lastPos time.Time
	lastCut time.Time // last prune
	posBusy bool      // a goroutine runs positions passes (posRun)
	pushed  *rcq.Plan // the leader's latest cycle's plan, for the next pass
	fetch   bool      // the next pass asks the planner for a plan
}

// userPending is what the hub knows of an account's pending jobs.
type userPending struct {
	streams int
	jobs    map[rcq.JobID]struct{}
}

// eventSub is one open stream.
type eventSub struct {
	user rcq.UserID // the caller
	all  bool       // an admin: every job's events
	jobs map[int64]bool
	from int64 // the hub delivers events after this id
	// catching: the stream is still writing its backlog from the log; the
	// hub sends it nothing until catchUp finds it level with the hub.
	catching bool
	// The messages queued for the stream: at most eventBuffer, in a slice
	// that exists only while some wait (an idle stream holds none; a
	// channel of that capacity would cost 8 KB per stream, 8 MB at
	// 1,000); ready says there are some.
	qmu   sync.Mutex
	max   int // eventBuffer when the hub was made
	q     []*[]byte
	ready chan struct{} // capacity 1
	gone  chan struct{} // closed when the hub dropped the stream (it fell behind)
	drop  sync.Once
	sent  map[rcq.JobID]int // positions last sent; owned by the hub's positions pass
	fresh bool              // no positions sent yet

	// The write deadline of the stream's connection: the stream sets it
	// before each burst; a drop shortens it to eventDropDrain, so a write
	// blocked on a reader that stopped reading ends then.
	dlMu     sync.Mutex
	dropped  bool
	setWrite func(time.Time) error
}

// push queues msg for the stream; false when eventBuffer messages already
// wait (the stream fell behind).
func (sub *eventSub) push(msg *[]byte) bool {
	sub.qmu.Lock()
	if len(sub.q) >= sub.max {
		sub.qmu.Unlock()
		return false
	}
	sub.q = append(sub.q, msg)
	sub.qmu.Unlock()
	select {
	case sub.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued messages (oldest first) and empties the queue.
func (sub *eventSub) take() []*[]byte {
	sub.qmu.Lock()
	defer sub.qmu.Unlock()
	q := sub.q
	sub.q = nil
	return q
}

// queued is how many messages wait.
func (sub *eventSub) queued() int {
	sub.qmu.Lock()
	defer sub.qmu.Unlock()
	return len(sub.q)
}

// writeDeadline sets the deadline of the stream's next writes to now + d,
// unless the stream was dropped (its drain deadline stands).
func (sub *eventSub) writeDeadline(d time.Duration) {
	sub.dlMu.Lock()
	defer sub.dlMu.Unlock()
	if !sub.dropped && sub.setWrite != nil {
		_ = sub.setWrite(time.Now().Add(d))
	}
}

func newEventHub(log EventLog, planner Planner, logger *slog.Logger) *eventHub {
	return &eventHub{log: log, planner: planner, logger: logger, wake: make(chan struct{}, 1),
		buffer: eventBuffer, posEvery: positionEvery, onDrop: eventDropped,
		subs: map[*eventSub]struct{}{}, users: map[rcq.UserID]*userPending{}}
}

// Poke asks the hub to read the log now (rcqd calls it for every
// LISTEN/NOTIFY wake-up); it never blocks.
func (h *eventHub) Poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// subscribe opens a stream for caller u, starting the hub if needed, and
// returns it with the id after which the hub delivers to it.
func (h *eventHub) subscribe(ctx context.Context, u *rcq.User, jobs map[int64]bool, catching bool, setWrite func(time.Time) error) (*eventSub, error) {
	h.mu.Lock()
	if !h.running {
		h.running = true
		h.ready = make(chan struct{})
		h.initErr = nil
		go h.run()
	}
	ready := h.ready
	h.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sub := &eventSub{user: u.ID, all: u.IsAdmin, jobs: jobs, max: h.buffer, ready: make(chan struct{}, 1),
		gone: make(chan struct{}), sent: map[rcq.JobID]int{}, fresh: true, catching: catching, setWrite: setWrite}
	h.mu.Lock()
	if h.initErr != nil {
		err := h.initErr
		h.mu.Unlock()
		return nil, err
	}
	sub.from = h.mark
	h.subs[sub] = struct{}{}
	up := h.users[u.ID]
	seed := up == nil
	if up == nil {
		up = &userPending{jobs: map[rcq.JobID]struct{}{}}
		h.users[u.ID] = up
	}
	up.streams++
	h.dirty = true
	h.mu.Unlock()
	if seed {
		ids, err := h.log.PendingJobIDs(ctx, u.ID, positionCap)
		if err != nil {
			h.unsubscribe(sub)
			return nil, err
		}
		h.mu.Lock()
		for _, id := range ids {
			up.jobs[id] = struct{}{}
		}
		h.mu.Unlock()
	}
	return sub, nil
}

// catchUp is called by a catching stream that has written the log up to
// pos: level with the hub, it goes live (the hub sends it what follows pos)
// and catchUp returns 0; otherwise it returns the hub's mark, the next
// stretch of the log to write.
func (h *eventHub) catchUp(sub *eventSub, pos int64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos >= h.mark {
		sub.catching, sub.from = false, pos
		return 0
	}
	return h.mark
}

func (h *eventHub) unsubscribe(sub *eventSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	if up := h.users[sub.user]; up != nil {
		if up.streams--; up.streams == 0 {
			delete(h.users, sub.user)
		}
	}
}

// run reads the log and fans out until no stream has been open for
// eventHubIdle.
func (h *eventHub) run() {
	ctx := context.Background()
	start, cover, xmax, err := h.log.EventStart(ctx)
	h.mu.Lock()
	if err != nil {
		h.initErr = err
		h.running = false
		close(h.ready)
		h.mu.Unlock()
		return
	}
	h.mark = start
	close(h.ready)
	h.mu.Unlock()
	// A gap (an id missing below a visible one) waits until every
	// transaction that may hold it has ended: gapXmax is the snapshot xmax
	// of the read that first saw it, gapCover the highest id that read saw.
	gapXmax, gapCover, gapSince := xmax, cover, time.Now()
	if start == cover {
		gapXmax = 0
	}
	tick := time.NewTicker(eventPoll)
	defer tick.Stop()
	var idleSince time.Time
	for {
		select {
		case <-h.wake:
		case <-tick.C:
		}
		h.mu.Lock()
		n := len(h.subs)
		h.mu.Unlock()
		if n == 0 {
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) > eventHubIdle {
				h.mu.Lock()
				if len(h.subs) == 0 {
					h.running = false
					h.mu.Unlock()
					return
				}
				h.mu.Unlock()
			}
			continue
		}
		idleSince = time.Time{}
		for {
			more, wait := h.readOnce(ctx, &gapXmax, &gapCover, &gapSince)
			if wait {
				// A gap is open: look again when the transaction holding
				// it announces its commit (a poke), or soon, rather than
				// at the next tick.
				t := time.NewTimer(gapRetry)
				select {
				case <-h.wake:
				case <-t.C:
				}
				t.Stop()
				continue
			}
			if !more {
				break
			}
		}
		h.housekeep(ctx)
	}
}

// readOnce reads one page of the log after mark and delivers what may be
// delivered in order. more: a full page was read; wait: a gap holds events
// back.
func (h *eventHub) readOnce(ctx context.Context, gapXmax, gapCover *int64, gapSince *time.Time) (more, wait bool) {
	h.mu.Lock()
	mark := h.mark
	h.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	evs, xmin, xmax, err := h.log.EventsSince(rctx, mark, eventPage)
	cancel()
	if err != nil {
		h.logger.Warn("read the event log; streams wait for the next try", "err", err)
		return false, false
	}
	// A gap first seen by an earlier read is settled once every transaction
	// running then has ended (xmin reached that read's xmax), or after
	// eventGapMax.
	settled := int64(0)
	if *gapXmax != 0 && (xmin >= *gapXmax || time.Since(*gapSince) > eventGapMax) {
		if xmin < *gapXmax {
			h.logger.Warn("event ids missing for too long are skipped (a transaction held open?)", "after", mark, "through", *gapCover)
		}
		settled = *gapCover
		*gapXmax = 0
	}
	var deliver []rcq.LoggedEvent
	next := mark
	for _, ev := range evs {
		if ev.ID != next+1 && ev.ID > settled {
			// A gap: hold this and later events until it settles.
			if *gapXmax == 0 {
				*gapXmax, *gapCover, *gapSince = xmax, evs[len(evs)-1].ID, time.Now()
			}
			h.fanOut(deliver, next)
			return false, true
		}
		deliver = append(deliver, ev)
		next = ev.ID
	}
	h.fanOut(deliver, next)
	return len(evs) == eventPage, false
}

// fanOut delivers evs to every stream that may see them and moves the mark.
func (h *eventHub) fanOut(evs []rcq.LoggedEvent, mark int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		ev := &evs[i]
		frame := eventFrame(ev)
		msg := &frame
		if ev.Kind == rcq.LoggedJob {
			h.dirty = true
			if up := h.users[ev.UserID]; up != nil {
				if ev.State == string(rcq.JobPending) && ev.Hold == "" {
					if len(up.jobs) < positionCap {
						up.jobs[ev.JobID] = struct{}{}
					}
				} else {
					delete(up.jobs, ev.JobID)
				}
			}
		}
		for sub := range h.subs {
			if sub.catching || ev.ID <= sub.from || !sub.sees(ev) {
				continue
			}
			if !sub.push(msg) {
				h.dropLocked(sub)
			}
		}
	}
	if mark > h.mark {
		h.mark = mark
	}
}

// dropLocked ends a stream that fell eventBuffer messages behind: its
// client resumes with Last-Event-ID. h.mu is held.
func (h *eventHub) dropLocked(sub *eventSub) {
	delete(h.subs, sub)
	if up := h.users[sub.user]; up != nil {
		if up.streams--; up.streams == 0 {
			delete(h.users, sub.user)
		}
	}
	sub.drop.Do(func() {
		sub.dlMu.Lock()
		sub.dropped = true
		if sub.setWrite != nil {
			_ = sub.setWrite(time.Now().Add(eventDropDrain))
		}
		sub.dlMu.Unlock()
		close(sub.gone)
	})
	if h.onDrop != nil {
		h.onDrop()
	}
}

// eventDropped, when set (by tests), is called each time a stream of a
// hub made after it was set is dropped.
var eventDropped func()

// sees reports whether the stream may see (and asked for) ev.
func (sub *eventSub) sees(ev *rcq.LoggedEvent) bool {
	if ev.Kind == rcq.LoggedWorker {
		return sub.jobs == nil
	}
	if !sub.all && ev.UserID != sub.user {
		return false
	}
	if sub.jobs == nil {
		return true
	}
	if sub.jobs[int64(ev.JobID)] {
		return true
	}
	return ev.ArrayJobID != nil && sub.jobs[int64(*ev.ArrayJobID)]
}

// housekeep recomputes queue positions and prunes the log when due.
func (h *eventHub) housekeep(ctx context.Context) {
	now := time.Now()
	h.mu.Lock()
	due := h.planner != nil && now.Sub(h.lastPos) >= h.posEvery && (h.dirty || now.Sub(h.lastPos) >= positionRefresh)
	watched := 0
	for _, up := range h.users {
		watched += len(up.jobs)
	}
	prune := now.Sub(h.lastCut) >= pruneEvery
	if prune {
		h.lastCut = now
	}
	if due && watched > 0 {
		h.lastPos, h.dirty = now, false
		h.fetch = true
		h.startPositionsLocked(ctx)
	}
	h.mu.Unlock()
	if prune {
		if err := h.log.PruneEvents(ctx, eventKeep); err != nil {
			h.logger.Warn("prune the event log", "err", err)
		}
	}
}

// Planned hands the hub the plan of a scheduling cycle this rcqd ran as
// the leader: the positions of watched jobs that it changed go out at
// once. It never blocks: a plan that arrives while a pass runs replaces
// any other waiting, and the pass after takes the latest.
func (h *eventHub) Planned(p *rcq.Plan) {
	if p == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running || len(h.users) == 0 {
		return // no stream: nothing to tell
	}
	h.pushed = p
	h.startPositionsLocked(context.Background())
}

// startPositionsLocked starts posRun unless it runs. h.mu is held.
func (h *eventHub) startPositionsLocked(ctx context.Context) {
	if h.posBusy || h.planner == nil && h.pushed == nil {
		return
	}
	h.posBusy = true
	// Off the reader's goroutine: planning may wait for the scheduler's
	// cycle, and events must not wait for it.
	go h.posRun(ctx)
}

// posRun runs positions passes while one is asked for: with the plan a
// cycle pushed, else (fetch) with the planner's current plan.
func (h *eventHub) posRun(ctx context.Context) {
	for {
		h.mu.Lock()
		plan, fetch := h.pushed, h.fetch
		h.pushed, h.fetch = nil, false
		if plan == nil && (!fetch || h.planner == nil) {
			h.posBusy = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		if plan == nil {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			p, err := h.planner.Plan(pctx)
			cancel()
			if err != nil {
				h.logger.Debug("queue positions for event streams", "err", err)
				continue
			}
			plan = p
		}
		h.positions(plan)
		if positionsSent != nil {
			positionsSent()
		}
	}
}

// positionsSent, when set (by tests), is called after each positions pass.
var positionsSent func()

// positions sends each stream the positions of its caller's pending jobs
// that plan changed since it last heard. One plan serves every stream;
// the walk of the plan looks up each job in the watched set only (the
// pending jobs of accounts with streams), and nothing is sent to a stream
// whose jobs kept their places.
func (h *eventHub) positions(plan *rcq.Plan) {
	h.mu.Lock()
	watched := 0
	for _, up := range h.users {
		watched += len(up.jobs)
	}
	if watched == 0 {
		h.mu.Unlock()
		return
	}
	// The owner of each watched job, copied so that the walk of a long
	// plan runs without the hub's lock (events keep flowing meanwhile).
	owner := make(map[rcq.JobID]rcq.UserID, watched)
	for u, up := range h.users {
		for id := range up.jobs {
			owner[id] = u
		}
	}
	h.mu.Unlock()
	rank := make(map[rcq.JobID]int, len(owner))
	for i := range plan.Jobs {
		if _, ok := owner[plan.Jobs[i].JobID]; ok {
			rank[plan.Jobs[i].JobID] = plan.Jobs[i].Rank
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		up := h.users[sub.user]
		if up == nil || sub.catching {
			continue
		}
		var changed []apitype.JobPosition
		for id := range up.jobs {
			r, ok := rank[id]
			if !ok || sub.jobs != nil && !sub.jobs[int64(id)] {
				continue
			}
			if old, ok := sub.sent[id]; !ok || old != r {
				changed = append(changed, apitype.JobPosition{ID: int64(id), Position: r})
				sub.sent[id] = r
			}
		}
		for id := range sub.sent {
			if _, ok := rank[id]; !ok {
				delete(sub.sent, id)
			}
		}
		if len(changed) == 0 && !sub.fresh {
			continue
		}
		sub.fresh = false
		if len(changed) == 0 {
			continue
		}
		sortPositions(changed)
		frame := positionFrame(changed)
		if !sub.push(&frame) {
			h.dropLocked(sub)
		}
	}
}

func sortPositions(ps []apitype.JobPosition) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Position < ps[j-1].Position; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// eventFrame renders ev as one SSE message.
func eventFrame(ev *rcq.LoggedEvent) []byte {
	var b bytes.Buffer
	b.WriteString("id: ")
	b.WriteString(strconv.FormatInt(ev.ID, 10))
	b.WriteString("\nevent: ")
	var data any
	if ev.Kind == rcq.LoggedWorker {
		b.WriteString(apitype.EventWorker)
		data = apitype.WorkerEvent{ID: int64(ev.WorkerID), Name: ev.Name, State: ev.State, At: ev.At}
	} else {
		b.WriteString(apitype.EventJob)
		je := apitype.JobEvent{ID: int64(ev.JobID), UserID: int64(ev.UserID), State: ev.State, Reason: ev.Reason,
			Hold: ev.Hold, ExitCode: ev.ExitCode, Signal: ev.Signal, SubmittedAt: ev.SubmittedAt,
			StartedAt: ev.StartedAt, CompletedAt: ev.CompletedAt, ArrayTaskID: ev.ArrayTaskID, At: ev.At}
		if ev.ArrayJobID != nil {
			a := int64(*ev.ArrayJobID)
			je.ArrayJobID = &a
		}
		data = je
	}
	b.WriteString("\ndata: ")
	body, _ := json.Marshal(data) // plain structs always marshal
	b.Write(body)
	b.WriteString("\n\n")
	return b.Bytes()
}

func positionFrame(ps []apitype.JobPosition) []byte {
	body, _ := json.Marshal(apitype.PositionEvent{Jobs: ps})
	return append(append([]byte("event: "+apitype.EventPosition+"\ndata: "), body...), "\n\n"...)
}

func resetFrame(id int64, reason string) []byte {
	body, _ := json.Marshal(apitype.ResetEvent{Reason: reason})
	return append(append([]byte("id: "+strconv.FormatInt(id, 10)+"\nevent: "+apitype.EventReset+"\ndata: "), body...), "\n\n"...)
}
