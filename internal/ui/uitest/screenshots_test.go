package uitest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/rcq-project/rcq/internal/apitype"
)

// shot is one page make screenshots draws. Path may hold {job} (a running
// job of the researcher with output) and {held} (a held one).
type shot struct {
	Name  string
	Path  string
	Admin bool // drawn as the admin, else as the researcher
}

// shots are the pages drawn; a page file's test may append its own in an
// init function.
var shots = []shot{
	{Name: "login", Path: "/ui/login"},
	{Name: "queue", Path: "/ui/queue"},
	{Name: "my-jobs", Path: "/ui/jobs"},
	{Name: "job", Path: "/ui/jobs/{job}"},
	{Name: "job-held", Path: "/ui/jobs/{held}"},
	{Name: "confirm-cancel", Path: "/ui/jobs/{job}/cancel"},
	{Name: "queue-admin", Path: "/ui/queue", Admin: true},
}

// viewports are the widths drawn: a desktop and a phone.
var viewports = []struct {
	name          string
	width, height int64
	mobile, dark  bool
}{{"desktop", 1280, 800, false, false}, {"phone", 390, 844, true, false}, {"desktop-dark", 1280, 800, false, true}}

// TestScreenshots writes build/screenshots/<page>-<viewport>.png for every
// page, at desktop and phone widths and in the dark theme (make
// screenshots: RCQ_SCREENSHOTS names the directory).
func TestScreenshots(t *testing.T) {
	gate(t)
	dir := os.Getenv("RCQ_SCREENSHOTS")
	if dir == "" {
		t.Skip("writes PNGs: make screenshots (RCQ_SCREENSHOTS=DIR)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := startRcqd(t)
	ann, bob := d.newAccount("ann"), d.newAccount("bob")
	admin := &account{email: "admin@localhost", password: d.adminPassword()}
	first := d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\necho preparing\nsleep 600\n", Name: "prepare"})
	job := d.submit(ann, apitype.SubmitRequest{Script: chatty, Name: "train-model", Dependencies: apitype.DependencyList{{Type: "afterany", JobID: first}}})
	_ = d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\nsleep 600\n", Name: "evaluate", Dependencies: apitype.DependencyList{{Type: "afterok", JobID: job}}})
	held := d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Name: "held-sweep", Hold: true})
	for i := 0; i < 3; i++ {
		d.submit(bob, apitype.SubmitRequest{Script: "#!/bin/sh\nsleep 600\n", Name: fmt.Sprintf("bob-%d", i)})
	}
	d.submit(ann, apitype.SubmitRequest{Script: "#!/bin/sh\nexit 3\n", Name: "broken"})
	// Let the job that others wait on run long enough to have output, then
	// cancel it so train-model starts.
	time.Sleep(2 * time.Second) // a job's output accumulating: there is nothing to wait on
	d.api("DELETE", fmt.Sprintf("/api/jobs/%d", first), ann.token, nil, nil)
	time.Sleep(2 * time.Second)

	for _, who := range []struct {
		admin bool
		a     *account
	}{{false, ann}, {true, admin}} {
		for _, vp := range viewports {
			ctx := browser(t)
			opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
			if vp.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
			}
			do(t, ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...))
			if vp.dark {
				if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
					t.Fatal(err)
				}
			}
			do(t, ctx, chromedp.Navigate(d.base()+"/ui/login"))
			drawn := false
			for _, s := range shots {
				if s.Admin != who.admin {
					continue
				}
				if s.Name != "login" && !drawn {
					login(t, ctx, who.a)
					drawn = true
				}
				path := strings.NewReplacer("{job}", fmt.Sprint(job), "{held}", fmt.Sprint(held)).Replace(s.Path)
				do(t, ctx, chromedp.Navigate(d.base()+path))
				time.Sleep(700 * time.Millisecond) // let followed output and the event stream settle before drawing
				png := run(t, ctx, chromedp.FullScreenshot(100))
				file := filepath.Join(dir, s.Name+"-"+vp.name+".png")
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d bytes)", file, len(png))
			}
		}
	}
}
