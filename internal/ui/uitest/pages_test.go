package uitest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rcq-project/rcq/internal/apitype"
)

// The cluster, fair-share and admin pages (internal/ui's cluster.go,
// share.go, admin.go) in the browser.

func init() {
	// make screenshots draws these pages too.
	shots = append(shots,
		shot{Name: "cluster", Path: "/ui/cluster"},
		shot{Name: "share", Path: "/ui/share"},
		shot{Name: "share-admin", Path: "/ui/share", Admin: true},
		shot{Name: "admin", Path: "/ui/admin", Admin: true},
		shot{Name: "admin-audit", Path: "/ui/admin/audit", Admin: true},
		shot{Name: "admin-confirm-drain", Path: "/ui/admin/change?do=worker.drain&id=1", Admin: true},
	)
}

// adminOf is rcqd's bootstrap admin, with the password rcqd wrote.
func adminOf(t *testing.T, d *rcqd) *account {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(d.dir, "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	return &account{email: "admin@localhost", password: strings.TrimSpace(string(pw)), token: d.admin}
}

// An admin drains the worker from the admin page, confirming first, and
// sees its state change there and on the cluster page; then resumes it.
func TestUIAdminDrainsWorker(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/admin"))
	login(t, ctx, adminOf(t, d)) // back to the admin page after
	waitFor(t, ctx, "the admin page", `location.pathname === "/ui/admin" && !!document.getElementById("drain-uinode")`, 10*time.Second)
	status := `document.querySelector('#worker-table tr[data-worker="uinode"] .wstatus').textContent`
	if s := run(t, ctx, chromedp.Evaluate[string](status)); s != "online" {
		t.Fatalf("the worker is %q before the drain", s)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#drain-uinode")))
	waitFor(t, ctx, "the confirmation page", `!!document.getElementById("confirm") && document.querySelector("h1").textContent.startsWith("Drain worker uinode")`, 10*time.Second)
	var ws apitype.WorkerList
	d.api("GET", "/api/admin/workers", d.admin, nil, &ws)
	if len(ws.Workers) != 1 || ws.Workers[0].Status != "online" {
		t.Fatalf("the confirmation page changed the worker: %+v", ws.Workers)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#confirm")))
	waitFor(t, ctx, "the admin page shows the worker drained",
		`location.pathname === "/ui/admin" && `+status+` === "drained" && !!document.getElementById("resume-uinode") && document.getElementById("done").textContent.includes("drained worker uinode")`,
		10*time.Second)
	d.api("GET", "/api/admin/workers", d.admin, nil, &ws)
	if ws.Workers[0].Status != "drained" {
		t.Errorf("after the confirmed drain the API says %s", ws.Workers[0].Status)
	}
	if !run(t, ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("#audit-latest li")].some(li => li.textContent.includes("worker.drain") && li.textContent.includes("admin@localhost"))`)) {
		t.Errorf("the admin page's audit rows lack the drain")
	}
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/cluster"))
	waitFor(t, ctx, "the cluster page shows it drained", `!!document.querySelector('.worker[data-worker="uinode"][data-state="drained"]')`, 10*time.Second)

	do(t, ctx, chromedp.Navigate(d.base()+"/ui/admin"), chromedp.WaitVisible(chromedp.CSS("#resume-uinode")), chromedp.Click(chromedp.CSS("#resume-uinode")))
	waitFor(t, ctx, "the resume confirmation", `!!document.getElementById("confirm")`, 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS("#confirm")))
	waitFor(t, ctx, "the worker online again", status+` === "online"`, 10*time.Second)
}

// A user is refused every admin page with the API's 403 and its message.
func TestUIAdminRefusedToUsers(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann := d.newAccount("ann")
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/login"))
	login(t, ctx, ann)
	for _, path := range []string{"/ui/admin", "/ui/admin/audit", "/ui/admin/change?do=worker.drain&id=1"} {
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(d.base()+path))
		if err != nil {
			t.Fatal(err)
		}
		text := run(t, ctx, chromedp.Text(chromedp.CSS("main")))
		if resp.Status != http.StatusForbidden || !strings.Contains(text, "Not allowed") || !strings.Contains(text, "this route is for admins only") {
			t.Errorf("ann opens %s: %d %q, want the API's 403", path, resp.Status, text)
		}
	}
	var ws apitype.WorkerList
	d.api("GET", "/api/admin/workers", d.admin, nil, &ws)
	if ws.Workers[0].Status != "online" {
		t.Errorf("a refused page changed the worker: %s", ws.Workers[0].Status)
	}
}

// The cluster and fair-share pages draw their SVG charts: laid out with a
// size, lines drawn, legends and numbers as text.
func TestUIChartsRender(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann := d.newAccount("ann")
	d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\nsleep 600\n", Name: "long"})
	d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Name: "held", Hold: true})
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/cluster"))
	login(t, ctx, ann)
	waitFor(t, ctx, "the cluster page", `location.pathname === "/ui/cluster"`, 10*time.Second)
	// drawn: the chart is laid out at a readable size and its drawing has
	// a size too (a chart that failed to render has an empty box).
	drawn := func(id string) string {
		return `(() => { const s = document.querySelector('svg[aria-labelledby^="` + id + `-t "]'); if (!s) return false;
			const r = s.getBoundingClientRect(); return r.width > 150 && r.height > 15 && s.getBBox().width > 100 })()`
	}
	waitFor(t, ctx, "the history chart is laid out", drawn("history"), 10*time.Second)
	waitFor(t, ctx, "the worker's bars are laid out", drawn("w-uinode"), 10*time.Second)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg[aria-labelledby^="history-t"] path').length`)); n != 2 {
		t.Errorf("the history chart has %d lines, want running and pending", n)
	}
	legend := run(t, ctx, chromedp.Evaluate[string](`document.querySelector('svg[aria-labelledby^="history-t"] .legend').textContent`))
	if !strings.Contains(legend, "running") || !strings.Contains(legend, "pending") {
		t.Errorf("legend %q", legend)
	}
	// The job started (2 cores on uinode): the bars say so in text.
	waitFor(t, ctx, "the bars show the running job", `document.querySelector('svg[aria-labelledby^="w-uinode-t"]').textContent.includes("1 / 2 cores (50%)")`, 20*time.Second)

	do(t, ctx, chromedp.Navigate(d.base()+"/ui/share"))
	waitFor(t, ctx, "the usage chart is laid out", drawn("usage"), 10*time.Second)
	waitFor(t, ctx, "the group's bar is laid out", drawn("g1"), 10*time.Second)
	if text := run(t, ctx, chromedp.Text(chromedp.CSS("#own-example"))); !strings.Contains(text, "(1 + 1) × 2.00 = 4.00") {
		t.Errorf("the worked example: %q", text)
	}
}
