package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// fragmentHeader asks for a page's "live" part only: the script sends it
// when an event says the page changed, and swaps the part in.
const fragmentHeader = "X-Rcq-Fragment"

// templates holds one template set per page: the layout with the page's
// file parsed into it.
type templates struct {
	set map[string]*template.Template
}

func mustTemplates() *templates {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	t := &templates{set: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		set := template.Must(layout.Clone())
		// A page without a live part has an empty one.
		template.Must(set.New("live").Parse(""))
		t.set[name] = template.Must(set.ParseFS(templateFS, n))
	}
	return t
}

// View is what every page template gets: the page's own data in .Data.
type View struct {
	Title   string
	Name    string // the page's template name
	User    *apitype.UserInfo
	CSRF    string
	Nav     []NavLink
	Path    string
	Data    any
	Version string
}

// NavLink is one entry of the navigation bar.
type NavLink struct {
	Title   string
	Path    string
	Current bool
}

// Render answers 200 with the page template name.
func (c *Call) Render(name, title string, data any) error {
	return c.renderStatus(http.StatusOK, name, title, data)
}

func (c *Call) renderStatus(status int, name, title string, data any) error {
	t := c.UI.tmpl.set[name]
	if t == nil {
		return fmt.Errorf("ui: no template %q", name)
	}
	v := View{Title: title, Name: name, Path: c.R.URL.Path, Data: data}
	if c.Session != nil {
		v.User, v.CSRF = &c.Session.User, c.Session.CSRF
		v.Nav = navFor(c.UI.pages, &c.Session.User, c.R.URL.Path)
	}
	root := "layout.html"
	if c.R.Header.Get(fragmentHeader) == "live" {
		root = "live"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, root, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.W.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	c.W.WriteHeader(status)
	_, _ = c.W.Write(buf.Bytes()) // the browser went away: nothing left to tell it
	return nil
}

// navFor is the navigation bar for an account: the pages of the table with
// a title, the admin pages for admins only.
func navFor(pages []Page, u *apitype.UserInfo, current string) []NavLink {
	var out []NavLink
	for _, p := range pages {
		if p.Nav == "" || p.Admin && !u.IsAdmin {
			continue
		}
		out = append(out, NavLink{Title: p.Nav, Path: p.NavPath, Current: current == p.NavPath || strings.HasPrefix(current, p.NavPath+"/")})
	}
	return out
}

var funcs = template.FuncMap{
	"ago":      ago,
	"dur":      durationOf,
	"seconds":  func(s float64) string { return durationOf(time.Duration(s * float64(time.Second))) },
	"hours":    func(h float64) string { return durationOf(time.Duration(h * float64(time.Hour))) },
	"when":     when,
	"kb":       kbytes,
	"add":      func(a, b int) int { return a + b },
	"deref":    derefInt,
	"stateCls": stateClass,
	"query":    withQuery,
	"states": func() []string {
		return []string{"pending", "running", "completed", "failed", "cancelled", "timeout", "node_fail"}
	},
	"errFor":   errFor,
	"errOther": errOther,
	"pct":      func(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" },
}

// durationOf prints a duration as squeue does: [D-]HH:MM:SS, or M:SS
// under an hour.
func durationOf(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, s)
	case h > 0:
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// when prints a time in UTC, or "-" for none.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "-"
		}
		return v.UTC().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "-"
		}
		return v.UTC().Format("2006-01-02 15:04:05")
	}
	return "-"
}

// ago is how long before now t was, for "submitted 3:04 ago".
func ago(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return durationOf(now.Sub(*t))
}

func kbytes(kb int64) string {
	switch {
	case kb <= 0:
		return "-"
	case kb >= 1<<20:
		return strconv.FormatFloat(math.Round(float64(kb)/(1<<20)*10)/10, 'f', -1, 64) + "G"
	case kb >= 1<<10:
		return strconv.FormatFloat(math.Round(float64(kb)/(1<<10)*10)/10, 'f', -1, 64) + "M"
	}
	return strconv.FormatInt(kb, 10) + "K"
}

func derefInt(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

// stateClass is the CSS class of a state's badge (the state's name is
// always written too: colour is never the only sign).
func stateClass(state string) string {
	switch state {
	case "pending", "running", "completed", "failed", "cancelled", "timeout", "node_fail":
		return "st st-" + state
	}
	return "st"
}

// withQuery returns u's path with the query key set to value ("" removes
// it), for paging and filter links.
func withQuery(u *url.URL, key, value string) string {
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	if len(q) == 0 {
		return u.Path
	}
	return u.Path + "?" + q.Encode()
}

// errFor is the message of err when it is about field, for the form to show
// beside that field.
func errFor(err *APIError, field string) string {
	if err == nil || err.Field != field {
		return ""
	}
	return err.Msg
}

// errOther is the message of err when it names none of fields: the form
// shows it above its button.
func errOther(err *APIError, fields ...string) string {
	if err == nil {
		return ""
	}
	for _, f := range fields {
		if err.Field == f {
			return ""
		}
	}
	return err.Msg
}
