package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// QueueVisitor receives the queue from EachQueueRow.
type QueueVisitor struct {
	// Page, when set, is called as each page begins, with its Count, Now
	// and Next (its Jobs are nil): a caller gathering rows makes room for
	// Count more.
	Page func(*apitype.Queue)
	// Row is called with each row, in the page's order. The job is reused
	// for the next row: keep a copy, not the pointer (the pointers in it
	// are the row's own).
	Row func(*apitype.QueueJob) error
}

// EachQueueRow reads the whole queue, page after page, like QueueAll, and
// hands each row to v.Row as it is decoded, in the rows form of GET
// /api/queue (?form=rows): the keys are named once a page, not in every
// row, and nothing holds the page's bytes or its rows but the caller (a
// page of 10,000 jobs is 1-3 MB on the wire; docs/performance.md). Each
// page is in queue order; a caller that read several pages (pages > 1)
// orders their union (apitype.SortQueue's order). Against an rcqd that
// answers with the object form, the rows come from it the same way.
func (c *Client) EachQueueRow(ctx context.Context, q QueueQuery, v QueueVisitor) (pages int, err error) {
	for {
		resp, err := c.send(ctx, request{method: http.MethodGet, path: withQuery("/api/queue", q.values(true))})
		if err != nil {
			return pages, fmt.Errorf("queue: %w", err)
		}
		next, err := readQueueRows(resp.Body, v)
		resp.Body.Close()
		if err != nil {
			var ve visitorError
			switch {
			case errors.As(err, &ve):
				return pages, ve.err
			case ctx.Err() != nil:
				return pages, ctx.Err()
			}
			return pages, &rcq.Error{Kind: rcq.KindInternal, Code: "bad_response", Msg: "GET /api/queue: unreadable answer from rcqd", Err: err}
		}
		pages++
		if next == "" {
			return pages, nil
		}
		if next == q.Cursor {
			return pages, fmt.Errorf("queue: rcqd answered the same page twice (cursor %q)", q.Cursor)
		}
		q.Cursor = next
	}
}

// visitorError is an error of the caller's QueueVisitor, returned as is.
type visitorError struct{ err error }

func (e visitorError) Error() string { return e.err.Error() }

// rowsHeader is what a rows page says before its rows.
type rowsHeader struct {
	Count  int       `json:"count"`
	Now    time.Time `json:"now"`
	Next   string    `json:"next"`
	Fields []string  `json:"fields"`
}

var rowsKey = []byte(`"rows":[`)

// rowsReader decodes a rows page from a window over the body that moves
// along it: a row that runs past the bytes read so far is decoded again
// once more have come.
type rowsReader struct {
	r   io.Reader
	buf []byte
	n   int // bytes in buf
	pos int // start of what is not decoded yet
	eof bool
	err error
}

// more reads more of the body, keeping buf[pos:n] (moved to the front).
// It reports false at the end of the body or on an error (r.err).
func (r *rowsReader) more() bool {
	if r.eof {
		return false
	}
	if r.pos > 0 {
		r.n = copy(r.buf, r.buf[r.pos:r.n])
		r.pos = 0
	}
	if r.n == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	m, err := r.r.Read(r.buf[r.n:])
	r.n += m
	if err == io.EOF {
		r.eof = true
	} else if err != nil {
		r.err, r.eof = err, true
	}
	return m > 0 || !r.eof
}

// readQueueRows reads one page of GET /api/queue into v and returns its
// next cursor.
func readQueueRows(body io.Reader, v QueueVisitor) (string, error) {
	r := &rowsReader{r: body, buf: make([]byte, 64<<10)}
	// The header: everything before the rows.
	var at int
	for {
		if at = bytes.Index(r.buf[:r.n], rowsKey); at >= 0 || r.n >= 1<<20 || !r.more() {
			break
		}
	}
	if r.err != nil {
		return "", r.err
	}
	if at < 0 || !bytes.HasPrefix(r.buf[:r.n], []byte(`{"count":`)) {
		return readQueueObjects(r, v)
	}
	var h rowsHeader
	hdr := append(bytes.TrimRight(r.buf[:at], ", \t\r\n"), '}')
	if err := json.Unmarshal(hdr, &h); err != nil {
		return "", fmt.Errorf("rows header: %w", err)
	}
	cols := make([]int, len(h.Fields)) // each value's index in apitype.QueueFields; -1: not known here
	for i, f := range h.Fields {
		cols[i] = -1
		for k, name := range apitype.QueueFields {
			if name == f {
				cols[i] = k
			}
		}
	}
	if v.Page != nil {
		v.Page(&apitype.Queue{Count: h.Count, Now: h.Now, Next: h.Next})
	}
	r.pos = at + len(rowsKey)
	d := rowDecoder{stats: make([]internStat, len(apitype.QueueFields))}
	var j apitype.QueueJob
	for first := true; ; first = false {
		// One row and what follows it; again from its start with more
		// bytes when it runs past them.
		var end rowEnd
		for {
			d.data, d.pos = r.buf[r.pos:r.n], 0
			j = apitype.QueueJob{}
			var ok bool
			if end, ok = d.row(&j, cols, first); ok {
				break
			}
			if !r.more() {
				if r.err != nil {
					return "", r.err
				}
				return "", fmt.Errorf("malformed row at byte %d of %d", d.pos, len(d.data))
			}
		}
		r.pos += d.pos
		if end == noRow {
			break
		}
		if err := v.Row(&j); err != nil {
			return "", visitorError{err}
		}
		if end == lastRow {
			break
		}
	}
	// What is left is "}" and a newline.
	rest := r.buf[r.pos:r.n]
	for r.more() {
		rest = r.buf[r.pos:r.n]
	}
	if r.err != nil {
		return "", r.err
	}
	if t := bytes.TrimSpace(rest); len(t) != 1 || t[0] != '}' {
		return "", fmt.Errorf("unexpected %q after the rows", t)
	}
	return h.Next, nil
}

// readQueueObjects reads a page in the object form (an rcqd older than the
// rows form) whole, and hands its rows to v.
func readQueueObjects(r *rowsReader, v QueueVisitor) (string, error) {
	for r.more() {
	}
	if r.err != nil {
		return "", r.err
	}
	var page apitype.Queue
	if err := decodeJSON(r.buf[r.pos:r.n], &page); err != nil {
		return "", err
	}
	if v.Page != nil {
		v.Page(&apitype.Queue{Count: page.Count, Now: page.Now, Next: page.Next})
	}
	for i := range page.Jobs {
		if err := v.Row(&page.Jobs[i]); err != nil {
			return "", visitorError{err}
		}
	}
	return page.Next, nil
}

// rowDecoder decodes rows of the rows form, its pointers from slabs (one
// allocation for many rows).
type rowDecoder struct {
	fastDecoder
	stats  []internStat // interning, by key
	prios  []rcq.PriorityFactors
	times  []time.Time
	ints   []int64
	smalls []int
}

// rowEnd is what a row was followed by.
type rowEnd int

const (
	moreRows rowEnd = iota // a comma: another row follows
	lastRow                // the end of the rows
	noRow                  // the end of the rows, and no row before it
)

// row decodes one row into j and what follows it. !ok: malformed, or the
// window ends first.
func (d *rowDecoder) row(j *apitype.QueueJob, cols []int, first bool) (rowEnd, bool) {
	d.ws()
	if d.pos >= len(d.data) {
		return 0, false
	}
	if first && d.consume(']') {
		return noRow, true
	}
	if !d.consume('[') {
		return 0, false
	}
	d.ws()
	for i, k := range cols {
		if i > 0 {
			if !d.consume(',') {
				return 0, false
			}
			d.ws()
		}
		if !d.value(j, k) {
			return 0, false
		}
		d.ws()
	}
	if !d.consume(']') {
		return 0, false
	}
	more, ok := d.next(']')
	switch {
	case !ok:
		return 0, false
	case more:
		return moreRows, true
	}
	return lastRow, true
}

// consume steps over c when it comes next.
func (d *rowDecoder) consume(c byte) bool {
	if d.pos >= len(d.data) || d.data[d.pos] != c {
		return false
	}
	d.pos++
	return true
}

func (d *rowDecoder) null() bool {
	if d.pos < len(d.data) && d.data[d.pos] == 'n' {
		return d.literal("null")
	}
	return false
}

func (d *rowDecoder) str(k int) (string, bool) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return "", false
	}
	d.cur = &d.stats[k]
	s, ok := d.fastDecoder.str()
	d.cur = nil
	return s, ok
}

func (d *rowDecoder) integer() (int64, bool) {
	tok, ok := d.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	return n, err == nil
}

func (d *rowDecoder) float() (float64, bool) {
	tok, ok := d.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(tok, 64)
	return f, err == nil
}

func (d *rowDecoder) intOf(n int64) (int, bool) {
	return int(n), int64(int(n)) == n
}

func (d *rowDecoder) time() (*time.Time, bool) {
	if d.null() {
		return nil, true
	}
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false
	}
	start := d.pos
	if _, ok := d.rawString(); !ok {
		return nil, false
	}
	if len(d.times) == cap(d.times) {
		d.times = make([]time.Time, 0, 256)
	}
	d.times = d.times[:len(d.times)+1]
	t := &d.times[len(d.times)-1]
	return t, t.UnmarshalJSON(d.data[start:d.pos]) == nil
}

// value decodes the value of key k (an index in apitype.QueueFields; -1 skips it).
func (d *rowDecoder) value(j *apitype.QueueJob, k int) bool {
	var ok bool
	var n int64
	switch k {
	case 0:
		j.ID, ok = d.integer()
	case 1:
		j.User, ok = d.str(k)
	case 2:
		j.UnixUser, ok = d.str(k)
	case 3:
		j.GroupID, ok = d.integer()
	case 4:
		j.Status, ok = d.str(k)
	case 5, 6, 7, 10, 12, 24:
		if n, ok = d.integer(); ok {
			var v int
			v, ok = d.intOf(n)
			switch k {
			case 5:
				j.CPUCores = v
			case 6:
				j.MemoryGB = v
			case 7:
				j.GPUCount = v
			case 10:
				j.Priority = v
			case 12:
				j.Rank = v
			case 24:
				j.ArrayThrottle = v
			}
		}
	case 8:
		switch {
		case d.literal("true"):
			j.Own, ok = true, true
		case d.literal("false"):
			ok = true
		}
	case 9:
		j.Name, ok = d.str(k)
	case 11:
		if d.null() {
			return true
		}
		var f [4]float64
		if !d.consume('[') {
			return false
		}
		for i := range f {
			d.ws()
			if i > 0 {
				if !d.consume(',') {
					return false
				}
				d.ws()
			}
			if f[i], ok = d.float(); !ok {
				return false
			}
		}
		d.ws()
		if !d.consume(']') {
			return false
		}
		if len(d.prios) == cap(d.prios) {
			d.prios = make([]rcq.PriorityFactors, 0, 1024)
		}
		d.prios = append(d.prios, rcq.PriorityFactors{Base: f[0], FairShare: f[1], WaitBoost: f[2], Final: f[3]})
		j.Computed, ok = &d.prios[len(d.prios)-1], true
	case 13:
		j.Reason, ok = d.str(k)
	case 14:
		j.ReasonDetail, ok = d.str(k)
	case 15:
		j.ExpectedStart, ok = d.time()
	case 16:
		j.SubmittedAt, ok = d.time()
	case 17:
		j.StartedAt, ok = d.time()
	case 18:
		j.EstimatedHours, ok = d.float()
	case 19:
		j.Worker, ok = d.str(k)
	case 20:
		if !d.consume('[') {
			return false
		}
		d.ws()
		if d.consume(']') {
			return true
		}
		var gpus []int
		for {
			if n, ok = d.integer(); !ok {
				return false
			}
			g, fits := d.intOf(n)
			if !fits {
				return false
			}
			gpus = append(gpus, g)
			more, ok := d.next(']')
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
		j.GPUIndices, ok = gpus, true
	case 21:
		if d.null() {
			return true
		}
		if n, ok = d.integer(); ok {
			if len(d.ints) == cap(d.ints) {
				d.ints = make([]int64, 0, 256)
			}
			d.ints = append(d.ints, n)
			j.ArrayJobID = &d.ints[len(d.ints)-1]
		}
	case 22:
		if d.null() {
			return true
		}
		if n, ok = d.integer(); ok {
			var v int
			if v, ok = d.intOf(n); ok {
				if len(d.smalls) == cap(d.smalls) {
					d.smalls = make([]int, 0, 256)
				}
				d.smalls = append(d.smalls, v)
				j.ArrayTaskID = &d.smalls[len(d.smalls)-1]
			}
		}
	case 23:
		j.ArrayTasks, ok = d.str(k)
	default:
		ok = d.skip()
	}
	return ok
}
