package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

const maxBatch = 10000

// A batch is read, checked and stored a chunk at a time: at most this many
// jobs, or about this many bytes of scripts, arguments and environment,
// whichever comes first. What rcqd holds for a batch in flight is one chunk
// and one spec being decoded, whatever the size of the body.
const (
	batchChunkJobs  = 1000
	batchChunkBytes = 1 << 20
)

// submitBatch stores up to maxBatch job specs, all or nothing. The body is
// decoded as a stream, spec by spec, each validated as it arrives and handed
// to the store a chunk at a time (store.CreateJobsFrom), so a 64 MiB body is
// never held whole. An account may have limits.MaxBatchesPerUser batches in
// flight, and rcqd limits.MaxBatches in all: a batch holds a database
// connection while the rest of its body arrives.
func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) error {
	if err := checkBodyType(r); err != nil {
		return err
	}
	u := caller(r)
	release, err := s.batches.acquire(u.ID, s.cfg.Limits)
	if err != nil {
		return err
	}
	defer release()
	// One look at the workers for the whole batch: checking a spec's fit
	// must not wait for a connection while the batch holds one.
	ws, err := s.Store.Workers(r.Context())
	if err != nil {
		return err
	}
	fits := map[rcq.Resources]error{}
	fit := func(_ context.Context, res rcq.Resources) error {
		err, ok := fits[res]
		if !ok {
			ok, largest := rcq.LargestFit(ws, res)
			err = fitError(res, ok, largest)
			fits[res] = err
		}
		return err
	}
	lr := &specLimitReader{r: r.Body, max: s.specMaxBytes()}
	b := &batchReader{dec: json.NewDecoder(lr), lr: lr}
	ids, err := s.Store.CreateJobsFrom(r.Context(), func() ([]*rcq.Job, error) {
		return b.next(func(i int, req *apitype.SubmitRequest) (*rcq.Job, error) {
			if req.Array != "" {
				return nil, atJob(rcq.Errorf(rcq.KindInvalid, "invalid_array", "array: a batch submit takes no arrays; submit an array with POST /api/jobs"), i)
			}
			j, err := s.newJob(r.Context(), u, req, fit)
			if err != nil {
				return nil, atJob(err, i)
			}
			return j, nil
		})
	})
	if err != nil {
		return err
	}
	noteSubmitted(r.Context(), len(ids))
	out := apitype.BatchSubmitResponse{Message: "Jobs submitted successfully", JobIDs: make([]int64, len(ids)), Count: len(ids)}
	for i, id := range ids {
		out.JobIDs[i] = int64(id)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// atJob puts which spec of a batch an error is about in front of its
// message: "jobs[3].cpu_cores: ..." for a field, "jobs[3]: ..." otherwise.
func atJob(err error, i int) error {
	sep := ": "
	if strings.HasPrefix(rcq.CodeOf(err), "invalid_") {
		sep = "."
	}
	return &rcq.Error{Kind: rcq.KindOf(err), Code: rcq.CodeOf(err), Msg: fmt.Sprintf("jobs[%d]%s%s", i, sep, rcq.MessageOf(err)), Err: err}
}

// batchReader walks {"jobs": [spec, ...]} token by token, with the rules
// decode applies to a whole body: no unknown or duplicate keys, no trailing
// data, each spec decoded strictly.
type batchReader struct {
	dec  *json.Decoder
	lr   *specLimitReader
	open bool // inside the jobs array
	done bool // the body has been read to its end
	n    int  // specs read
}

// next returns the next chunk of jobs, made from the specs by job; an empty
// chunk once the body has ended (and been checked to its last byte).
func (b *batchReader) next(job func(i int, req *apitype.SubmitRequest) (*rcq.Job, error)) ([]*rcq.Job, error) {
	if b.done {
		return nil, nil
	}
	if !b.open {
		if err := b.start(); err != nil {
			return nil, err
		}
	}
	var chunk []*rcq.Job
	size := 0
	for len(chunk) < batchChunkJobs && size < batchChunkBytes {
		if !b.dec.More() {
			if err := b.end(); err != nil {
				return nil, err
			}
			return chunk, nil
		}
		if b.n == maxBatch {
			return nil, rcq.Invalid("jobs", "must hold 1 to %d job specs, got more", maxBatch)
		}
		b.lr.start = b.dec.InputOffset()
		var raw json.RawMessage
		if err := b.dec.Decode(&raw); err != nil {
			return nil, b.readError(err)
		}
		var req apitype.SubmitRequest
		if err := decodeBytes(raw, &req); err != nil {
			return nil, atJob(err, b.n)
		}
		j, err := job(b.n, &req)
		if err != nil {
			return nil, err
		}
		b.n++
		chunk = append(chunk, j)
		size += len(j.Script) + len(j.WorkingDir) + len(j.Output) + len(j.Error) + len(j.Name)
		for _, s := range j.Args {
			size += len(s)
		}
		for _, s := range j.Env {
			size += len(s)
		}
	}
	return chunk, nil
}

// start reads up to the first spec: `{`, then keys up to "jobs" and its `[`.
func (b *batchReader) start() error {
	if err := b.delim('{', "body: expected an object"); err != nil {
		return err
	}
	if err := b.key(); err != nil {
		return err
	}
	tok, err := b.dec.Token()
	if err != nil {
		return b.readError(err)
	}
	switch tok {
	case json.Delim('['):
	case nil:
		return rcq.Invalid("jobs", "must hold 1 to %d job specs, got 0", maxBatch)
	default:
		return rcq.Invalid("jobs", "expected a list, got %s", describeToken(tok))
	}
	b.open = true
	return nil
}

// end reads from the jobs array's `]` to the end of the body.
func (b *batchReader) end() error {
	if _, err := b.dec.Token(); err != nil { // ']'
		return b.readError(err)
	}
	if b.n == 0 {
		return rcq.Invalid("jobs", "must hold 1 to %d job specs, got 0", maxBatch)
	}
	if b.dec.More() { // another key after "jobs"
		tok, err := b.dec.Token()
		if err != nil {
			return b.readError(err)
		}
		if k, _ := tok.(string); strings.EqualFold(k, "jobs") {
			return rcq.Errorf(rcq.KindInvalid, "duplicate_key", "duplicate key %q", k)
		}
		return rcq.Errorf(rcq.KindInvalid, "unknown_field", "unknown field %q", tok)
	}
	if _, err := b.dec.Token(); err != nil { // '}'
		return b.readError(err)
	}
	if _, err := b.dec.Token(); err != io.EOF {
		if err == nil || errors.As(err, new(*json.SyntaxError)) {
			return rcq.Errorf(rcq.KindInvalid, "trailing_data", "the body must hold exactly one JSON value")
		}
		return b.readError(err)
	}
	b.open, b.done = false, true
	return nil
}

// key reads the object's first key, which must be "jobs" (matched as
// encoding/json matches a field: case-insensitively).
func (b *batchReader) key() error {
	tok, err := b.dec.Token()
	if err != nil {
		return b.readError(err)
	}
	switch k := tok.(type) {
	case json.Delim: // '}': no key at all
		return rcq.Invalid("jobs", "must hold 1 to %d job specs, got 0", maxBatch)
	case string:
		if !strings.EqualFold(k, "jobs") {
			return rcq.Errorf(rcq.KindInvalid, "unknown_field", "unknown field %q", k)
		}
	}
	return nil
}

func (b *batchReader) delim(want json.Delim, msg string) error {
	tok, err := b.dec.Token()
	if err != nil {
		return b.readError(err)
	}
	if tok != want {
		return rcq.Errorf(rcq.KindInvalid, "invalid_body", "%s, got %s", msg, describeToken(tok))
	}
	return nil
}

// readError names what went wrong reading the body: too large (the body, or
// one spec), cut short, or malformed.
func (b *batchReader) readError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case errors.Is(err, errSpecTooLarge):
		return rcq.Errorf(rcq.KindTooLarge, "body_too_large", "jobs[%d]: a job spec may be at most %s, as the body of one submit", b.n, byteSize(b.lr.max))
	case err == io.EOF:
		if b.lr.read == 0 {
			return rcq.Errorf(rcq.KindInvalid, "empty_body", "the request needs a JSON body")
		}
		return rcq.Errorf(rcq.KindInvalid, "bad_json", "malformed JSON: unexpected end of input")
	}
	var re *rcq.Error
	if errors.As(err, &re) {
		return err
	}
	return jsonError(err)
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "a JSON array"
		}
		return "a JSON object"
	case string:
		return "a JSON string"
	case float64, json.Number:
		return "a JSON number"
	case bool:
		return "a JSON boolean"
	}
	return "JSON null"
}

var errSpecTooLarge = errors.New("job spec too large")

// specLimitReader fails once the decoder has read more than max bytes past
// the start of the spec being decoded: a batch's body may be large, one
// spec no larger than a single submit's body.
type specLimitReader struct {
	r     io.Reader
	max   int64
	read  int64 // bytes read so far
	start int64 // body offset where the current spec starts
}

func (l *specLimitReader) Read(p []byte) (int, error) {
	left := l.max - (l.read - l.start)
	if left < 0 {
		return 0, errSpecTooLarge
	}
	if int64(len(p)) > left+1 {
		p = p[:left+1] // one byte past the limit is enough to know
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// batchSlots counts batch submits in flight, per account and in all.
type batchSlots struct {
	mu    sync.Mutex
	per   map[rcq.UserID]int
	total int
}

// acquire takes a slot for a batch of user, or refuses with 429
// too_many_batches; release gives it back.
func (b *batchSlots) acquire(user rcq.UserID, lim rcq.Limits) (release func(), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.per[user] >= lim.MaxBatchesPerUser {
		return nil, rcq.Errorf(rcq.KindRateLimited, "too_many_batches",
			"batch submits: this account has %d in flight, the most it may have (jobs.max_batches_per_user); send the next when one has been answered", b.per[user])
	}
	if b.total >= lim.MaxBatches {
		return nil, rcq.Errorf(rcq.KindRateLimited, "too_many_batches",
			"batch submits: rcqd has %d in flight, the most it takes at once (half of database.max_conns); try again shortly", b.total)
	}
	if b.per == nil {
		b.per = map[rcq.UserID]int{}
	}
	b.per[user]++
	b.total++
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.total--
		if b.per[user]--; b.per[user] == 0 {
			delete(b.per, user)
		}
	}, nil
}
