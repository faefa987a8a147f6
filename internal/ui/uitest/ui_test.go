package uitest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
)

// chatty prints a numbered line every 0.1 s for a minute: output to watch.
const chatty = "#!/bin/sh\necho started\ni=0\nwhile [ $i -lt 600 ]; do i=$((i+1)); echo line $i; sleep 0.1; done\n"

// A researcher logs in, watches a job they submit appear on the open queue
// page without a reload, opens it, watches its output arrive, and cancels
// it (confirming first).
func TestUIQueueLiveJobOutputCancel(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann := d.newAccount("ann")
	ctx := browser(t)

	do(t, ctx, chromedp.Navigate(d.base()+"/ui/queue"))
	login(t, ctx, ann) // no session: the queue sent the browser to log in, and back
	waitFor(t, ctx, "back on the queue after login", `location.pathname === "/ui/queue"`, 10*time.Second)
	waitFor(t, ctx, "the event stream is open", `document.body.dataset.stream === "open"`, 10*time.Second)
	run(t, ctx, chromedp.Evaluate[bool](`window.rcqMark = true`)) // a reload would lose it

	id := d.submit(ann, apitype.SubmitRequest{Script: chatty, Name: "uitest-live"})
	submitted := time.Now().UnixMilli()
	waitFor(t, ctx, "the submitted job appears on the open queue page",
		fmt.Sprintf(`!!document.querySelector('#queue tr[data-job="%d"]')`, id), 10*time.Second)
	times := run(t, ctx, chromedp.Evaluate[[]int64](`[window.rcqEventAt || 0, window.rcqSwappedAt || 0]`))
	t.Logf("job %d on the open queue page %d ms after its submit returned: its event after %d ms, the page part swapped in %d ms later (noisy: shared machine)",
		id, times[1]-submitted, times[0]-submitted, times[1]-times[0])
	if !run(t, ctx, chromedp.Evaluate[bool](`window.rcqMark === true`)) {
		t.Fatal("the queue page reloaded to show the job: it should update in place")
	}

	// The row is found and clicked in one turn of the page's event loop: the
	// live page swaps its rows as events arrive (the job starting, the
	// scheduler's positions), and chromedp.Click's node, looked up first,
	// could be gone by its click.
	run(t, ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.querySelector('#queue tr[data-job="%d"] a').click(); return true })()`, id)))
	waitFor(t, ctx, "the job page", fmt.Sprintf(`location.pathname === "/ui/jobs/%d"`, id), 10*time.Second)
	run(t, ctx, chromedp.Evaluate[bool](`window.rcqMark = true`))
	waitFor(t, ctx, "the job's output arrives", `document.getElementById("output").textContent.includes("line 3\n")`, 30*time.Second)
	waitFor(t, ctx, "more output arrives, followed", `document.getElementById("output").textContent.includes("line 20\n") && window.rcqMark === true`, 30*time.Second)
	waitFor(t, ctx, "the page shows the job running", `document.getElementById("job-state").textContent === "running"`, 10*time.Second)

	do(t, ctx, chromedp.Click(chromedp.CSS(`#actions a[href$="/cancel"]`)))
	waitFor(t, ctx, "the confirmation page", `!!document.getElementById("confirm")`, 10*time.Second)
	var j apitype.Job
	d.api("GET", fmt.Sprintf("/api/jobs/%d", id), ann.token, nil, &j)
	if j.Status != "running" {
		t.Fatalf("the confirmation page changed the job: %s", j.Status)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#confirm")))
	waitFor(t, ctx, "the job page shows the job cancelled", `document.getElementById("job-state").textContent === "cancelled"`, 10*time.Second)
	d.api("GET", fmt.Sprintf("/api/jobs/%d", id), ann.token, nil, &j)
	if j.Status != "cancelled" {
		t.Errorf("after the confirmed cancel the API says %s", j.Status)
	}
}

// Another user's job page is the API's 404, the admin pages are refused to
// a user, and a form posted without its CSRF token is 403 and does nothing.
func TestUIOwnershipAndCSRF(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann, bob := d.newAccount("ann"), d.newAccount("bob")
	annJob := d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Hold: true})
	bobJob := d.submit(bob, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Hold: true})
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/login"))
	login(t, ctx, bob)

	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(fmt.Sprintf("%s/ui/jobs/%d", d.base(), annJob)))
	if err != nil {
		t.Fatal(err)
	}
	text := run(t, ctx, chromedp.Text(chromedp.CSS("main")))
	if resp.Status != http.StatusNotFound || !strings.Contains(text, fmt.Sprintf("job %d not found", annJob)) {
		t.Errorf("bob opens ann's job: %d %q, want the API's 404", resp.Status, text)
	}
	if run(t, ctx, chromedp.Evaluate[bool](`!!document.querySelector('nav a[href="/ui/admin"]')`)) {
		t.Errorf("bob's navigation links the admin page")
	}
	resp, err = chromedp.RunResponse(ctx, chromedp.Navigate(d.base()+"/ui/admin"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden && resp.Status != http.StatusNotFound {
		t.Errorf("bob opens the admin page: %d, want 403", resp.Status)
	}

	// The confirmation form without its hidden token.
	do(t, ctx, chromedp.Navigate(fmt.Sprintf("%s/ui/jobs/%d/cancel", d.base(), bobJob)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	run(t, ctx, chromedp.Evaluate[bool](`document.querySelector('form[action$="/cancel"] input[name=csrf]').remove(), !document.querySelector('form[action$="/cancel"] input[name=csrf]')`))
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#confirm")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("a cancel posted without its CSRF token: %d, want 403", resp.Status)
	}
	var j apitype.Job
	d.api("GET", fmt.Sprintf("/api/jobs/%d", bobJob), bob.token, nil, &j)
	if j.Status != "pending" {
		t.Errorf("the refused post cancelled the job: %s", j.Status)
	}
}

// Logging out clears the cookie and ends the session; an expired session
// sends the browser to log in, and back to the page it asked for.
func TestUILogoutAndExpiredSession(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann := d.newAccount("ann")
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/login"))
	login(t, ctx, ann)
	c := sessionCookie(t, ctx, d.base())
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/ui/" {
		t.Fatalf("session cookie after login: %+v", c)
	}
	tok := c.Value
	do(t, ctx, chromedp.Click(chromedp.CSS(".logout button")))
	waitFor(t, ctx, "the login page after logout", `location.pathname === "/ui/login" && document.body.innerText.includes("You are logged out")`, 10*time.Second)
	if c := sessionCookie(t, ctx, d.base()); c != nil {
		t.Errorf("the session cookie outlived the logout: %+v", c)
	}
	if st := d.api("GET", "/api/auth/me", tok, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("the logged-out session's token still works: %d", st)
	}

	// An expired token in the cookie, signed as rcqd signs.
	var me apitype.UserInfo
	d.api("GET", "/api/auth/me", ann.token, nil, &me)
	signer := auth.NewSigner([]byte(jwtSecret), "rcqd", time.Hour)
	old, _, err := signer.Sign(rcq.User{ID: rcq.UserID(me.ID), Email: me.Email, GroupID: rcq.GroupID(me.GroupID)}, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "rcq_session", Value: old, URL: d.base() + "/ui/",
		Path: "/ui/", HTTPOnly: ptr(true), SameSite: network.CookieSameSiteStrict}); err != nil {
		t.Fatal(err)
	}
	want := "/ui/jobs?state=failed"
	do(t, ctx, chromedp.Navigate(d.base()+want))
	waitFor(t, ctx, "the login page with next", fmt.Sprintf(`location.pathname + location.search === %q`, "/ui/login?next="+url.QueryEscape(want)), 10*time.Second)
	login(t, ctx, ann)
	waitFor(t, ctx, "back on the page asked for", fmt.Sprintf(`location.pathname + location.search === %q`, want), 10*time.Second)
}

// While rcqd is down the page says it is reconnecting; once rcqd is back
// the stream resumes (Last-Event-ID) and a change shows without a reload.
func TestUIReconnect(t *testing.T) {
	gate(t)
	d := startRcqd(t)
	ann := d.newAccount("ann")
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(d.base()+"/ui/queue"))
	login(t, ctx, ann)
	waitFor(t, ctx, "the event stream is open", `document.body.dataset.stream === "open"`, 10*time.Second)
	run(t, ctx, chromedp.Evaluate[bool](`window.rcqMark = true`))
	first := d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Hold: true})
	waitFor(t, ctx, "a job appears", fmt.Sprintf(`!!document.querySelector('#queue tr[data-job="%d"]')`, first), 10*time.Second)

	d.stop()
	waitFor(t, ctx, "the reconnecting banner", `!document.getElementById("banner").hidden`, 30*time.Second)
	d.start()
	waitFor(t, ctx, "the stream back", `document.body.dataset.stream === "open" && document.getElementById("banner").hidden`, 60*time.Second)
	second := d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Hold: true})
	waitFor(t, ctx, "a job submitted after the restart appears", fmt.Sprintf(`!!document.querySelector('#queue tr[data-job="%d"]')`, second), 10*time.Second)
	if !run(t, ctx, chromedp.Evaluate[bool](`window.rcqMark === true`)) {
		t.Error("the page reloaded: it should reconnect in place")
	}
}

func ptr[T any](v T) *T { return &v }
