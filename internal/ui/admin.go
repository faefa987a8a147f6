package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// The admin pages read and change everything through the API's admin
// routes (/api/admin/...), the ones rcq-admin uses: the API refuses a
// non-admin (403, and writes the refusal to the audit log), and so does
// the page; every change it makes is audited by the API in the change's
// own transaction.

// AdminView is the admin page's data.
type AdminView struct {
	Now     time.Time
	Groups  []apitype.Group
	Users   []AdminUser
	Workers []AdminWorker
	Audit   []apitype.AuditEvent // the latest rows
	Done    string               // the change just made, in words
}

// AdminUser is an account with its group's name.
type AdminUser struct {
	apitype.User
	Group string
}

// AdminWorker is a worker with its allocation (GET /api/workers) and
// heartbeat (GET /api/admin/workers).
type AdminWorker struct {
	apitype.Worker
	State       string
	RunningJobs int
	Ago         string
}

// adminPage shows groups and quotas, accounts and their Unix users,
// workers with drain and resume, and the latest audit rows; each change
// goes through a confirmation page (adminChange).
func adminPage(c *Call) error {
	v := AdminView{Now: c.UI.now().UTC(), Done: c.R.URL.Query().Get("done")}
	var gs apitype.GroupList
	if err := c.Get("/api/admin/groups", &gs); err != nil {
		return err
	}
	v.Groups = gs.Groups
	var us apitype.UserList
	if err := c.Get("/api/admin/users", &us); err != nil {
		return err
	}
	names := map[int64]string{}
	for _, g := range gs.Groups {
		names[g.ID] = g.Name
	}
	for _, u := range us.Users {
		v.Users = append(v.Users, AdminUser{User: u, Group: names[u.GroupID]})
	}
	var ws apitype.WorkerList
	if err := c.Get("/api/admin/workers", &ws); err != nil {
		return err
	}
	var nodes apitype.NodeList
	if err := c.Get("/api/workers", &nodes); err != nil {
		return err
	}
	byName := map[string]apitype.NodeInfo{}
	for _, n := range nodes.Workers {
		byName[n.Name] = n
	}
	for _, w := range ws.Workers {
		aw := AdminWorker{Worker: w, State: w.Status, Ago: "-"}
		if n, ok := byName[w.Name]; ok {
			aw.State, aw.RunningJobs = n.State, n.RunningJobs
		}
		if !w.LastHeartbeat.IsZero() {
			aw.Ago = durationOf(v.Now.Sub(w.LastHeartbeat)) + " ago"
		}
		v.Workers = append(v.Workers, aw)
	}
	var audit apitype.AuditList
	if err := c.Get("/api/admin/audit?limit=10", &audit); err != nil {
		return err
	}
	v.Audit = audit.Events
	return c.Render("admin", "Admin", &v)
}

// change is one kind of admin change: its form's fields and the API call
// that makes it.
type change struct {
	Title  string // "Set group"
	Kind   string // what the id names: group, account, worker ("" for a create)
	Method string
	Path   string // with {id}
	Fields []fieldSpec
	Done   string // the past tense for the admin page's note
}

// fieldSpec is one form field of a change and how it goes into the API's
// JSON body: text as a string, number and int as a number when it is one
// (anything else is sent as a string, for the API to name the field in its
// refusal), yesno as a boolean. An empty field is left out: it stays.
type fieldSpec struct {
	Name, Label, Type string
	Hint              string
}

var changes = map[string]change{
	"group.create": {Title: "Create group", Method: "POST", Path: "/api/admin/groups", Done: "created group",
		Fields: []fieldSpec{{Name: "name", Label: "Name", Type: "text"},
			{Name: "cpu_quota", Label: "CPU quota (CPU-hours per window)", Type: "number", Hint: "default 1000"},
			{Name: "priority", Label: "Priority (1-10)", Type: "int", Hint: "default 1"}}},
	"group.set": {Title: "Change group", Kind: "group", Method: "PATCH", Path: "/api/admin/groups/{id}", Done: "changed group",
		Fields: []fieldSpec{{Name: "cpu_quota", Label: "CPU quota (CPU-hours per window)", Type: "number"},
			{Name: "priority", Label: "Priority (1-10)", Type: "int"}}},
	"user.set": {Title: "Change account", Kind: "account", Method: "PATCH", Path: "/api/admin/users/{id}", Done: "changed account",
		Fields: []fieldSpec{{Name: "group_id", Label: "Group id", Type: "int"},
			{Name: "unix_user", Label: "Unix user (jobs run as)", Type: "text"},
			{Name: "is_admin", Label: "Admin", Type: "yesno"}}},
	"worker.drain":  {Title: "Drain worker", Kind: "worker", Method: "POST", Path: "/api/admin/workers/{id}/drain", Done: "drained worker"},
	"worker.resume": {Title: "Resume worker", Kind: "worker", Method: "POST", Path: "/api/admin/workers/{id}/resume", Done: "resumed worker"},
}

// ChangeView is the confirmation page of an admin change.
type ChangeView struct {
	Do     string
	ID     string
	Title  string
	Target string // the group, account or worker, in words; "" for a create
	Status string // the worker's status now ("online"), for the title
	Fields []FormField
	Err    *APIError // a refusal not about one field
}

// FormField is one field of the confirmation form, with the current value
// of the target and the API's message about it.
type FormField struct {
	fieldSpec
	Value   string
	Current string
	Err     string
}

// adminChangeForm is GET /ui/admin/change?do=...&id=...&field=...: the
// confirmation page, showing the change against the current values.
func adminChangeForm(c *Call) error {
	v, _, err := changeView(c, c.R.URL.Query())
	if err != nil {
		return err
	}
	return c.Render("change", v.Title, v)
}

// adminChange is POST /ui/admin/change: the confirmed change, through the
// API route rcq-admin uses. A refusal shows the confirmation page again
// with the API's message next to its field.
func adminChange(c *Call) error {
	if err := c.R.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Code: "bad_form", Msg: "the form could not be read"}
	}
	v, ch, err := changeView(c, c.R.PostForm)
	if err != nil {
		return err
	}
	body := map[string]any{}
	for _, f := range v.Fields {
		if val, ok := jsonValue(f.Type, f.Value); ok {
			body[f.Name] = val
		}
	}
	var in any
	if len(ch.Fields) > 0 {
		in = body
	}
	err = c.Send(ch.Method, strings.ReplaceAll(ch.Path, "{id}", v.ID), in, nil)
	if err == nil {
		done := ch.Done
		if v.Target != "" {
			done += " " + v.Target
		} else if name := c.R.PostForm.Get("name"); name != "" {
			done += " " + name
		}
		http.Redirect(c.W, c.R, "/ui/admin?done="+url.QueryEscape(done), http.StatusSeeOther)
		return nil
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Status >= 500 {
		return err
	}
	placed := false
	for i := range v.Fields {
		if v.Fields[i].Name == ae.Field {
			v.Fields[i].Err, placed = ae.Msg, true
		}
	}
	if !placed {
		v.Err = ae
	}
	return c.renderStatus(ae.Status, "change", v.Title, v)
}

// changeView reads a change's kind, target and field values from form and
// finds the target's current values through the API.
func changeView(c *Call, form url.Values) (*ChangeView, change, error) {
	do := form.Get("do")
	ch, ok := changes[do]
	if !ok {
		return nil, ch, &APIError{Status: http.StatusNotFound, Code: "no_change", Field: "do",
			Msg: "do: " + strconv.Quote(do) + " is not a change: use group.create, group.set, user.set, worker.drain or worker.resume"}
	}
	v := &ChangeView{Do: do, Title: ch.Title}
	current := map[string]string{}
	if ch.Kind != "" {
		v.ID = form.Get("id")
		id, err := strconv.ParseInt(v.ID, 10, 64)
		if err != nil || id <= 0 {
			return nil, ch, &APIError{Status: http.StatusBadRequest, Code: "invalid_id", Field: "id", Msg: "id: must be a positive whole number"}
		}
		if err := targetOf(c, ch.Kind, id, v, current); err != nil {
			return nil, ch, err
		}
	}
	for _, f := range ch.Fields {
		val := strings.TrimSpace(form.Get(f.Name))
		v.Fields = append(v.Fields, FormField{fieldSpec: f, Value: val, Current: current[f.Name]})
	}
	return v, ch, nil
}

// targetOf names the target of a change and fills its current values, from
// the API's admin lists (a missing one is the API's kind of 404).
func targetOf(c *Call, kind string, id int64, v *ChangeView, current map[string]string) error {
	missing := &APIError{Status: http.StatusNotFound, Code: kind + "_not_found", Msg: kind + " " + strconv.FormatInt(id, 10) + " not found"}
	switch kind {
	case "group":
		var gs apitype.GroupList
		if err := c.Get("/api/admin/groups", &gs); err != nil {
			return err
		}
		for _, g := range gs.Groups {
			if g.ID == id {
				v.Target = g.Name
				current["cpu_quota"] = strconv.FormatFloat(g.CPUQuota, 'f', -1, 64)
				current["priority"] = strconv.Itoa(g.Priority)
				return nil
			}
		}
	case "account":
		var us apitype.UserList
		if err := c.Get("/api/admin/users", &us); err != nil {
			return err
		}
		for _, u := range us.Users {
			if u.ID == id {
				v.Target = u.Email
				current["group_id"] = strconv.FormatInt(u.GroupID, 10)
				current["unix_user"] = u.UnixUser
				current["is_admin"] = yesno(u.IsAdmin)
				return nil
			}
		}
	case "worker":
		var ws apitype.WorkerList
		if err := c.Get("/api/admin/workers", &ws); err != nil {
			return err
		}
		for _, w := range ws.Workers {
			if w.ID == id {
				v.Target, v.Status = w.Name, w.Status
				return nil
			}
		}
	}
	return missing
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// jsonValue is a form value as the API's JSON body carries it; ok=false
// leaves the field out.
func jsonValue(typ, s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	switch typ {
	case "number":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, true
		}
	case "int":
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
	case "yesno":
		switch strings.ToLower(s) {
		case "yes", "true":
			return true, true
		case "no", "false":
			return false, true
		}
	}
	return s, true // the API refuses a string where it wants another type, naming the field
}

// AuditView is the audit log page: one page of rows, newest first, with
// the filters the API takes.
type AuditView struct {
	Events                []apitype.AuditEvent
	Action, Actor, Target string
	Next                  string // the next (older) page's link; "" on the last
	First                 bool   // this is the newest page
	Err                   *APIError
}

// auditPageSize is how many rows one page of the audit log shows.
const auditPageSize = 50

// auditPage is the audit log, paged with the API's cursor and filtered by
// ?action= (group.update, or a prefix ending in a dot), ?actor= (an email or
// an account id) and ?target= (KIND or KIND:ID); a filter the API refuses
// is shown next to its field.
func auditPage(c *Call) error {
	q := c.R.URL.Query()
	v := AuditView{Action: strings.TrimSpace(q.Get("action")), Actor: strings.TrimSpace(q.Get("actor")),
		Target: strings.TrimSpace(q.Get("target")), First: q.Get("cursor") == ""}
	api := url.Values{"limit": {strconv.Itoa(auditPageSize)}}
	for k, val := range map[string]string{"action": v.Action, "actor": v.Actor, "target": v.Target, "cursor": q.Get("cursor")} {
		if val != "" {
			api.Set(k, val)
		}
	}
	var l apitype.AuditList
	if err := c.Get("/api/admin/audit?"+api.Encode(), &l); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			return err
		}
		v.Err = ae
		return c.renderStatus(http.StatusBadRequest, "audit", "Audit log", &v)
	}
	v.Events = l.Events
	if l.Next != "" {
		v.Next = withQuery(c.R.URL, "cursor", l.Next)
	}
	return c.Render("audit", "Audit log", &v)
}
