package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// myJobsPageSize is the rows of one page of history.
const myJobsPageSize = 50

// AcctRow is one row of the history.
type AcctRow struct {
	apitype.AcctJob
	JobID    string
	ExitCode string // code:signal, as sacct shows it
	Elapsed  string
	CPUTime  string
	GPUs     int
}

// MyJobsView is the My jobs page's data.
type MyJobsView struct {
	Now          time.Time
	Rows         []AcctRow
	IDs, State   string // the search
	From, To     string // dates, YYYY-MM-DD
	User         string // admins: whose jobs ("" = their own)
	Next, First  string // page links
	Err          *APIError
	IsAdmin      bool
	ShowingOther bool
}

// myJobsPage is the history of the caller's jobs, newest first, as
// rcq-acct shows it: ?ids= (job refs: 123, 123_4, 123_[1-3]), ?state=,
// ?from= and ?to= (dates), ?cursor= (the API's) for the next page; admins
// may name ?user=.
func myJobsPage(c *Call) error {
	q := c.R.URL.Query()
	v := MyJobsView{Now: c.UI.now(), IDs: strings.TrimSpace(q.Get("ids")), State: q.Get("state"),
		From: q.Get("from"), To: q.Get("to"), User: strings.TrimSpace(q.Get("user")), IsAdmin: c.Session.User.IsAdmin}
	p := url.Values{}
	p.Set("limit", strconv.Itoa(myJobsPageSize))
	p.Set("user", c.Session.User.Email)
	if v.User != "" {
		p.Set("user", v.User)
		v.ShowingOther = !strings.EqualFold(v.User, c.Session.User.Email)
	}
	if v.IDs != "" {
		p.Set("ids", v.IDs)
	}
	if v.State != "" {
		p.Set("states", v.State)
	}
	for _, d := range []struct{ field, value, param string }{{"from", v.From, "start"}, {"to", v.To, "end"}} {
		if d.value == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.value)
		if err != nil {
			v.Err = &APIError{Status: http.StatusBadRequest, Field: d.field, Msg: d.field + ": " + strconv.Quote(d.value) + " is not a date like 2026-12-04"}
			return c.renderStatus(http.StatusBadRequest, "jobs", "My jobs", &v)
		}
		if d.field == "to" {
			t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
		}
		p.Set(d.param, t.Format(time.RFC3339Nano))
	}
	if cur := q.Get("cursor"); cur != "" {
		p.Set("cursor", cur)
		v.First = withQuery(c.R.URL, "cursor", "")
	}
	var list apitype.AcctList
	if err := c.Get("/api/acct?"+p.Encode(), &list); err != nil {
		ae, ok := err.(*APIError)
		if !ok || ae.Status >= 500 || ae.Status == http.StatusUnauthorized {
			return err
		}
		// The API names the field: ids, states, user, cursor.
		if f, ok := map[string]string{"states": "state", "start": "from", "end": "to"}[ae.Field]; ok {
			ae.Field = f
		}
		if ae.Field == "user" && !v.IsAdmin {
			ae.Field = "" // no user field on a user's form: shown above it
		}
		v.Err = ae
		return c.renderStatus(ae.Status, "jobs", "My jobs", &v)
	}
	for i := range list.Jobs {
		v.Rows = append(v.Rows, acctRow(&list.Jobs[i], v.Now))
	}
	if list.Next != "" {
		v.Next = withQuery(c.R.URL, "cursor", list.Next)
	}
	return c.Render("jobs", "My jobs", &v)
}

func acctRow(j *apitype.AcctJob, now time.Time) AcctRow {
	r := AcctRow{AcctJob: *j, JobID: j.SlurmID(), ExitCode: exitCode(j.ExitCode, j.Signal), GPUs: j.GPUCount, CPUTime: "-", Elapsed: "-"}
	if j.StartedAt != nil {
		end := now
		if j.CompletedAt != nil {
			end = *j.CompletedAt
		}
		r.Elapsed = durationOf(end.Sub(*j.StartedAt))
		r.CPUTime = durationOf(time.Duration(j.CPUSeconds * float64(time.Second)))
	}
	return r
}

// exitCode is sacct's code:signal ("-" before the job ends): a job a
// signal ended is 0 and the signal's number (0:15), as sacct shows it.
func exitCode(code *int, signal string) string {
	switch {
	case signal != "":
		if n, ok := rcq.SignalNumber(signal); ok {
			return "0:" + strconv.Itoa(int(n))
		}
		return "0:" + signal
	case code == nil:
		return "-"
	}
	return strconv.Itoa(*code) + ":0"
}
