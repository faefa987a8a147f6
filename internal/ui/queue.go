package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// queuePageSize is how many rows one page of the queue shows: the page
// reads the whole queue from the API (to put every pending job in the
// scheduler's order) but draws one page of it.
const queuePageSize = 100

// queueFields are the keys the queue page asks the API for.
const queueFields = "id,user,group_id,status,cpu_cores,memory_gb,gpu_count,own,name,priority,rank,reason,reason_detail," +
	"expected_start,submitted_at,started_at,estimated_hours,worker,array_job_id,array_task_id,array_tasks,array_throttle"

// QueueRow is one row of the queue page.
type QueueRow struct {
	apitype.QueueJob
	JobID    string // as squeue shows it: 123, 123_4, 123_[5-9%2]
	Elapsed  string // running: time since start
	Left     string // running: time left of the limit
	Expected string // pending: expected start
}

// QueueView is the queue page's data.
type QueueView struct {
	Now              time.Time
	Rows             []QueueRow
	Total            int // rows after the filters
	Pending, Running int
	Page, Pages      int
	From, To         int // 1-based rows shown
	User, Group      string
	State            string
	Groups           []apitype.GroupShare
	Prev, Next       string // page links; "" at the ends
	Err              *APIError
}

// queuePage shows the queue: pending jobs in the scheduler's order with
// priority, reason and expected start, then running jobs with elapsed and
// time left; filters ?user= (an email or Unix login, as the API's), ?group=
// (a name or id), ?state=pending|running; ?page=N.
func queuePage(c *Call) error {
	q := c.R.URL.Query()
	v := QueueView{User: strings.TrimSpace(q.Get("user")), Group: strings.TrimSpace(q.Get("group")), State: q.Get("state"), Page: 1}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return &APIError{Status: http.StatusBadRequest, Code: "invalid_page", Field: "page", Msg: "page: " + strconv.Quote(p) + " is not a page number: use 1, 2, ..."}
		}
		v.Page = n
	}
	switch v.State {
	case "", "pending", "running":
	default:
		v.Err = &APIError{Status: http.StatusBadRequest, Field: "state", Msg: "state: " + strconv.Quote(v.State) + ": use pending or running"}
		return c.renderStatus(http.StatusBadRequest, "queue", "Queue", &v)
	}
	v.Groups = c.groups()
	group := int64(0)
	if v.Group != "" {
		id, err := strconv.ParseInt(v.Group, 10, 64)
		for _, g := range v.Groups {
			if strings.EqualFold(g.Name, v.Group) {
				id, err = g.ID, nil
			}
		}
		if err != nil || id <= 0 {
			v.Err = &APIError{Status: http.StatusBadRequest, Field: "group", Msg: "group: " + strconv.Quote(v.Group) + " is not a group: use a group's name or id"}
			return c.renderStatus(http.StatusBadRequest, "queue", "Queue", &v)
		}
		group = id
	}
	rows, now, err := c.readQueue(v.User)
	if err != nil {
		if ae, ok := err.(*APIError); ok && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
			ae.Field = "user"
			v.Err = ae
			return c.renderStatus(ae.Status, "queue", "Queue", &v)
		}
		return err
	}
	v.Now = now
	kept := rows[:0]
	for _, r := range rows {
		if group != 0 && r.groupID != group || v.State != "" && r.status != v.State {
			continue
		}
		if r.status == "pending" {
			v.Pending++
		} else {
			v.Running++
		}
		kept = append(kept, r)
	}
	v.Total = len(kept)
	v.Pages = max(1, (v.Total+queuePageSize-1)/queuePageSize)
	v.Page = min(v.Page, v.Pages)
	lo := (v.Page - 1) * queuePageSize
	hi := min(lo+queuePageSize, v.Total)
	v.From, v.To = lo+1, hi
	v.Rows = make([]QueueRow, 0, hi-lo)
	for i := lo; i < hi; i++ {
		var j apitype.QueueJob
		if err := json.Unmarshal(kept[i].raw, &j); err != nil {
			return fmt.Errorf("decode the API's queue row: %w", err)
		}
		v.Rows = append(v.Rows, queueRow(&j, now))
	}
	if v.Page > 1 {
		v.Prev = withQuery(c.R.URL, "page", strconv.Itoa(v.Page-1))
	}
	if v.Page < v.Pages {
		v.Next = withQuery(c.R.URL, "page", strconv.Itoa(v.Page+1))
	}
	return c.Render("queue", "Queue", &v)
}

// readQueue reads every page of GET /api/queue (narrowed to user when
// given), its rows in queue order. Each page comes in queue order; the
// union of several is ordered as apitype.SortQueue orders.
func (c *Call) readQueue(user string) ([]rawQueueRow, time.Time, error) {
	var all []rawQueueRow
	var now time.Time
	cursor, pages := "", 0
	for {
		p := url.Values{"fields": {queueFields}}
		if user != "" {
			p.Set("user", user)
		}
		if cursor != "" {
			p.Set("cursor", cursor)
		}
		body, err := c.getBody("/api/queue?" + p.Encode())
		if err != nil {
			return nil, now, err
		}
		rows, page, err := scanQueue(body)
		if err != nil {
			if rows, page, err = decodeQueue(body); err != nil {
				return nil, now, err
			}
		}
		pages++
		if now.IsZero() {
			now = page.Now
		}
		all = append(all, rows...)
		if page.Next == "" || len(rows) == 0 {
			break
		}
		cursor = page.Next
	}
	if pages > 1 {
		sortRows(all)
	}
	if now.IsZero() {
		now = c.UI.now()
	}
	return all, now, nil
}

// decodeQueue is scanQueue for an answer of another shape: decoded whole.
func decodeQueue(body []byte) ([]rawQueueRow, apitype.Queue, error) {
	var q apitype.Queue
	if err := json.Unmarshal(body, &q); err != nil {
		return nil, q, fmt.Errorf("decode the API's queue: %w", err)
	}
	rows := make([]rawQueueRow, len(q.Jobs))
	for i := range q.Jobs {
		raw, err := json.Marshal(&q.Jobs[i])
		if err != nil {
			return nil, q, err
		}
		rows[i] = rawQueueRow{raw: raw, status: q.Jobs[i].Status, groupID: q.Jobs[i].GroupID}
	}
	return rows, q, nil
}

// sortRows puts rows of several pages in queue order (apitype.SortQueue's).
func sortRows(rows []rawQueueRow) {
	keys := make([]apitype.QueueJob, len(rows))
	byID := make(map[int64]rawQueueRow, len(rows))
	for i, r := range rows {
		id, _ := intKey(r.raw, `"id":`)
		rank, _ := intKey(r.raw, `"rank":`)
		keys[i] = apitype.QueueJob{ID: id, Status: r.status, Rank: int(rank)}
		byID[id] = r
	}
	apitype.SortQueue(keys)
	for i, k := range keys {
		rows[i] = byID[k.ID]
	}
}

func queueRow(j *apitype.QueueJob, now time.Time) QueueRow {
	r := QueueRow{QueueJob: *j, JobID: j.SlurmID()}
	if j.StartedAt != nil {
		el := now.Sub(*j.StartedAt)
		r.Elapsed = durationOf(el)
		if j.EstimatedHours > 0 {
			r.Left = durationOf(time.Duration(j.EstimatedHours*float64(time.Hour)) - el)
		}
	}
	if j.ExpectedStart != nil {
		if j.ExpectedStart.After(now) {
			r.Expected = when(*j.ExpectedStart) + " (in " + durationOf(j.ExpectedStart.Sub(now)) + ")"
		} else {
			r.Expected = "now"
		}
	}
	return r
}

// groups are the groups' ids and names (from GET /api/share, which every
// account may read), kept for groupsTTL: the queue shows names, and a live
// update should not cost a fair-share computation.
func (c *Call) groups() []apitype.GroupShare {
	u := c.UI
	u.groupsMu.Lock()
	defer u.groupsMu.Unlock()
	if u.groupsAt.IsZero() || u.now().Sub(u.groupsAt) > groupsTTL {
		var share apitype.ShareList
		if err := c.Get("/api/share", &share); err != nil {
			return u.groupList // the names are a nicety: ids do without
		}
		u.groupList = make([]apitype.GroupShare, len(share.Groups))
		for i, g := range share.Groups {
			u.groupList[i] = apitype.GroupShare{ID: g.ID, Name: g.Name}
		}
		sort.Slice(u.groupList, func(i, j int) bool { return u.groupList[i].ID < u.groupList[j].ID })
		u.groupsAt = u.now()
	}
	return u.groupList
}

const groupsTTL = 30 * time.Second

// groupName is a group's name from the share list, else its id.
func groupName(groups []apitype.GroupShare, id int64) string {
	i := sort.Search(len(groups), func(i int) bool { return groups[i].ID >= id })
	if i < len(groups) && groups[i].ID == id {
		return groups[i].Name
	}
	return strconv.FormatInt(id, 10)
}

// GroupName is a group's name for the table, else its id.
func (v *QueueView) GroupName(id int64) string { return groupName(v.Groups, id) }
