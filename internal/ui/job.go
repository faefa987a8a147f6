package ui

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// outputTail is how much of a job's output the page itself carries (the
// script follows the rest; the download link has all of it).
const outputTail = 64 << 10

// JobView is the job page's data.
type JobView struct {
	Now        time.Time
	Job        apitype.Job
	JobID      string
	Fields     [][2]string // rcq-show's fields, in its order
	Upstream   []DepRow
	Downstream []DepRow
	// DownstreamErr says why the jobs waiting on this one are not shown.
	DownstreamErr string
	Output        string // the last outputTail bytes of stdout
	OutputCut     bool   // Output is a tail
	OutputNote    string // why there is none
	Done          string // the action just done ("cancel", ...)
	Actions       []string
	Live          bool // the job has not ended: the page follows it
}

// DepRow is one job of the dependency graph.
type DepRow struct {
	ID    int64
	Label string // 123 or 123_4
	Type  string // afterok, ...
	State string
}

func jobID(c *Call) (string, error) {
	s := c.R.PathValue("id")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return "", &APIError{Status: http.StatusNotFound, Code: "not_found", Msg: "job " + strconv.Quote(s) + " not found: a job id is a positive whole number"}
	}
	return s, nil
}

// jobPage shows every field of one job (as rcq-show does), the jobs it
// waits on and the jobs waiting on it, its output (followed while it runs),
// and its actions.
func jobPage(c *Call) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	v := JobView{Now: c.UI.now(), Done: c.R.URL.Query().Get("done")}
	if err := c.Get("/api/jobs/"+id, &v.Job); err != nil {
		return err
	}
	j := &v.Job
	v.JobID = j.SlurmID()
	v.Live = j.CompletedAt == nil
	v.Fields = showFields(j, v.Now)
	for _, d := range j.Dependencies {
		label := strconv.FormatInt(d.JobID, 10)
		if d.ArrayTaskID != nil {
			label += "_" + strconv.Itoa(*d.ArrayTaskID)
		}
		v.Upstream = append(v.Upstream, DepRow{ID: d.JobID, Label: label, Type: d.Type, State: cmpOr(d.State, "unknown")})
	}
	v.Downstream, v.DownstreamErr = c.dependents(j)
	switch j.Status {
	case "pending":
		v.Actions = []string{"cancel", "hold", "release"}
		if j.Hold == "" {
			v.Actions = []string{"cancel", "hold"}
		} else {
			v.Actions = []string{"cancel", "release"}
		}
	case "running":
		v.Actions = []string{"cancel", "signal"}
	}
	if c.R.Header.Get(fragmentHeader) == "" {
		v.Output, v.OutputCut, v.OutputNote = c.outputTail(id, j)
	}
	return c.Render("job", "Job "+v.JobID, &v)
}

// outputTail reads the end of the job's stdout through the API.
func (c *Call) outputTail(id string, j *apitype.Job) (string, bool, string) {
	if j.StartedAt == nil {
		return "", false, "No output yet: the job has not started."
	}
	req := c.UI.apiRequest(c.R, c.Session.Token, http.MethodGet, "/api/jobs/"+id+"/output", nil)
	req.Header.Set("Accept", "text/plain")
	t := &tailWriter{max: outputTail}
	p := &passthrough{w: t}
	c.UI.api.ServeHTTP(p, req)
	if p.status >= 300 {
		return "", false, "No output: " + errorOf(p.status, p.errBody.Bytes()).Msg
	}
	return string(t.buf), t.cut, ""
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	h   http.Header
	buf []byte
	max int
	cut bool
}

func (t *tailWriter) Header() http.Header {
	if t.h == nil {
		t.h = http.Header{}
	}
	return t.h
}
func (t *tailWriter) WriteHeader(int) {}
func (t *tailWriter) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(b), nil
}

var _ io.Writer = (*tailWriter)(nil)

// dependents lists the jobs that wait on j, through GET
// /api/jobs?depends_on= (the API's ownership: one's own jobs).
func (c *Call) dependents(j *apitype.Job) ([]DepRow, string) {
	var list apitype.JobList
	if err := c.Get("/api/jobs?limit=100&order=oldest&depends_on="+strconv.FormatInt(j.ID, 10), &list); err != nil {
		return nil, "Cannot list the jobs waiting on this one: " + err.Error()
	}
	var out []DepRow
	for _, d := range list.Jobs {
		typ := ""
		for _, dep := range d.Dependencies {
			if dep.JobID == j.ID || j.ArrayJobID != nil && dep.JobID == *j.ArrayJobID {
				typ = dep.Type
			}
		}
		out = append(out, DepRow{ID: d.ID, Label: d.SlurmID(), Type: typ, State: d.Status})
	}
	return out, ""
}

// showFields are rcq-show's fields of j, as label and value.
func showFields(j *apitype.Job, now time.Time) [][2]string {
	var f [][2]string
	add := func(k, v string) { f = append(f, [2]string{k, v}) }
	add("Name", j.Name)
	if j.ArrayJobID != nil {
		arr := "array " + strconv.FormatInt(*j.ArrayJobID, 10)
		switch {
		case j.ArrayTaskID != nil:
			arr += ", element " + strconv.Itoa(*j.ArrayTaskID)
		case j.ArrayTasks != "":
			arr += ", elements not yet started " + j.ArrayTasks
		}
		if j.ArrayThrottle > 0 {
			arr += ", at most " + strconv.Itoa(j.ArrayThrottle) + " at once"
		}
		add("Array", arr)
	}
	add("User", j.User+" (id "+strconv.FormatInt(j.UserID, 10)+")")
	if j.UnixUser != "" {
		add("Unix user", j.UnixUser)
	}
	add("Group", strconv.FormatInt(j.GroupID, 10))
	add("State", j.Status)
	reason := cmpOr(j.Reason, "None")
	if j.ReasonDetail != "" {
		reason += ": " + j.ReasonDetail
	}
	add("Reason", reason)
	if j.Hold != "" {
		add("Hold", j.Hold)
	}
	if j.ErrorMessage != "" {
		add("Error", j.ErrorMessage)
	}
	add("Exit code", exitCode(j.ExitCode, j.Signal))
	prio := strconv.Itoa(j.Priority)
	if j.Rank > 0 {
		prio += ", rank " + strconv.Itoa(j.Rank)
	}
	if p := j.Computed; p != nil {
		prio += ", final " + strconv.FormatFloat(p.Final, 'f', 3, 64) + " (base " + strconv.FormatFloat(p.Base, 'f', 3, 64) +
			", fair share " + strconv.FormatFloat(p.FairShare, 'f', 3, 64) + ", wait boost " + strconv.FormatFloat(p.WaitBoost, 'f', 3, 64) + ")"
	}
	add("Priority", prio)
	limit := time.Duration(j.EstimatedHours * float64(time.Hour))
	run := time.Duration(0)
	if j.StartedAt != nil {
		end := now
		if j.CompletedAt != nil {
			end = *j.CompletedAt
		}
		run = end.Sub(*j.StartedAt)
	}
	add("Run time", durationOf(run))
	add("Time limit", durationOf(limit))
	add("Submitted", when(j.SubmittedAt))
	switch {
	case j.StartedAt != nil:
		add("Started", when(j.StartedAt))
	case j.ExpectedStart != nil:
		add("Expected start", when(j.ExpectedStart))
	}
	if j.CompletedAt != nil {
		add("Ended", when(j.CompletedAt))
	}
	add("Node", cmpOr(j.Worker, "-"))
	res := strconv.Itoa(j.CPUCores) + " CPUs, " + strconv.Itoa(j.MemoryGB) + "G memory"
	if j.GPUCount > 0 {
		res += ", " + strconv.Itoa(j.GPUCount) + " GPUs"
		if len(j.GPUIndices) > 0 {
			idx := make([]string, len(j.GPUIndices))
			for i, g := range j.GPUIndices {
				idx[i] = strconv.Itoa(g)
			}
			res += " (" + strings.Join(idx, ",") + ")"
		}
	}
	add("Resources", res)
	add("CPU time", durationOf(time.Duration(j.CPUSeconds*float64(time.Second))))
	add("Peak memory", kbytes(j.PeakMemoryKB))
	add("Working directory", cmpOr(j.WorkingDir, "-"))
	add("Stdout", cmpOr(j.OutputPath, "-"))
	add("Stderr", cmpOr(j.ErrorPath, "-"))
	if len(j.Args) > 0 {
		add("Arguments", strings.Join(j.Args, " "))
	}
	if j.Umask != "" {
		add("Umask", j.Umask)
	}
	return f
}

// actions are the job page's buttons, each confirmed on its own page
// first (GET /ui/jobs/{id}/ACTION), done by its form's POST.
var actions = map[string]struct {
	Title, Verb string
	Method      string
	Path        string // under /api/jobs/{id}
}{
	"cancel":  {"Cancel", "cancel", http.MethodDelete, ""},
	"hold":    {"Hold", "hold", http.MethodPost, "/hold"},
	"release": {"Release", "release", http.MethodPost, "/release"},
	"signal":  {"Signal", "send a signal to", http.MethodPost, "/signal"},
}

// ConfirmView is the confirmation page of an action.
type ConfirmView struct {
	Job    apitype.Job
	JobID  string
	Action string
	Title  string
	Verb   string
	Signal string
	Err    *APIError
}

func jobConfirm(c *Call) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	a, ok := actions[c.R.PathValue("action")]
	if !ok {
		return &APIError{Status: http.StatusNotFound, Code: "no_page", Msg: "no such page: " + c.R.URL.Path}
	}
	v := ConfirmView{Action: c.R.PathValue("action"), Title: a.Title, Verb: a.Verb, Signal: "USR1"}
	if err := c.Get("/api/jobs/"+id, &v.Job); err != nil {
		return err
	}
	v.JobID = v.Job.SlurmID()
	return c.Render("confirm", a.Title+" job "+v.JobID, &v)
}

// jobAction does a confirmed action through the API route the CLI uses;
// the API's refusal shows on the confirmation page, beside its field.
func jobAction(c *Call) error {
	id, err := jobID(c)
	if err != nil {
		return err
	}
	name := c.R.PathValue("action")
	a, ok := actions[name]
	if !ok {
		return &APIError{Status: http.StatusNotFound, Code: "no_page", Msg: "no such page: " + c.R.URL.Path}
	}
	var body any
	v := ConfirmView{Action: name, Title: a.Title, Verb: a.Verb}
	if name == "signal" {
		v.Signal = strings.TrimSpace(c.R.PostFormValue("signal"))
		body = apitype.SignalRequest{Signal: v.Signal}
	}
	err = c.Send(a.Method, "/api/jobs/"+id+a.Path, body, nil)
	if err == nil {
		http.Redirect(c.W, c.R, "/ui/jobs/"+id+"?done="+name, http.StatusSeeOther)
		return nil
	}
	ae, ok := err.(*APIError)
	if !ok || ae.Status == http.StatusNotFound || ae.Status == http.StatusUnauthorized || ae.Status >= 500 {
		return err
	}
	if gerr := c.Get("/api/jobs/"+id, &v.Job); gerr != nil {
		return gerr
	}
	v.JobID, v.Err = v.Job.SlurmID(), ae
	return c.renderStatus(ae.Status, "confirm", a.Title+" job "+v.JobID, &v)
}
