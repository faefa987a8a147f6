package uitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// jwtSecret is the test rcqds' token secret, so a test can sign a token
// that has expired (internal/auth, as rcqd signs).
const jwtSecret = "uitest-secret-0123456789abcdef-0123456789"

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error

	browserOnce  sync.Once
	browserCtx   context.Context
	browserStop  context.CancelFunc
	browserErr   error
	sandboxNote  string
	chromiumPath string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if browserStop != nil {
		browserStop()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// gate skips a browser test unless RCQ_UI=1 (make test-ui).
func gate(t *testing.T) {
	t.Helper()
	if os.Getenv("RCQ_UI") != "1" {
		t.Skip("drives headless Chromium against a real rcqd: make test-ui (RCQ_UI=1)")
	}
}

func buildBinaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "rcqd-ui-bin-"); buildErr != nil {
			return
		}
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		for _, pkg := range []string{"../../../cmd/rcqd", "../../../cmd/rcq-supervise"} {
			cmd := exec.Command("go", "build", "-o", binDir, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// rcqd is one real rcqd under test, on its private PostgreSQL, with a TCP
// listener the browser uses.
type rcqd struct {
	t      *testing.T
	dir    string
	port   int
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	ready  chan string
	done   chan error
	admin  string // admin@localhost's token
	system bool   // rcqd runs as root: accounts run jobs as their mapped Unix users
}

// startRcqd starts rcqd on a fresh state directory and logs in its admin.
func startRcqd(t *testing.T) *rcqd {
	t.Helper()
	d := &rcqd{t: t, dir: t.TempDir(), system: os.Geteuid() == 0}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := os.Chmod(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d.start()
	t.Cleanup(func() {
		d.cancelAll()
		d.stop()
	})
	var lr apitype.LoginResponse
	if st := d.api("POST", "/api/auth/login", "", apitype.LoginRequest{Email: "admin@localhost", Password: d.adminPassword()}, &lr); st != 200 {
		t.Fatalf("admin login: %d", st)
	}
	d.admin = lr.Token
	return d
}

// adminPassword is admin@localhost's generated password.
func (d *rcqd) adminPassword() string {
	d.t.Helper()
	pw, err := os.ReadFile(filepath.Join(d.dir, "admin-password"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(string(pw))
}

// start runs rcqd (again, after stop: same state directory and port).
func (d *rcqd) start() {
	t := d.t
	t.Helper()
	bin := buildBinaries(t)
	d.ready, d.done = make(chan string, 1), make(chan error, 1)
	d.cmd = exec.Command(filepath.Join(bin, "rcqd"), "--state-dir", d.dir, "--socket", filepath.Join(d.dir, "rcqd.sock"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", d.port))
	d.cmd.Env = append(os.Environ(), "RCQ_AUTH_BCRYPT_COST=4", "RCQ_NODE_CPU_CORES=2", "RCQ_NODE_MEMORY_GB=4",
		"RCQ_NODE_NAME=uinode", "RCQ_AUTH_JWT_SECRET="+jwtSecret)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`tcp:\s+http://(\S+)`)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := addr.FindStringSubmatch(sc.Text()); m != nil {
				d.ready <- m[1]
			}
		}
		d.done <- d.cmd.Wait()
	}()
	select {
	case <-d.ready:
	case err := <-d.done:
		t.Fatalf("rcqd exited before it was ready: %v\n%s", err, d.stderr())
	case <-time.After(2 * time.Minute):
		t.Fatalf("rcqd not ready after 2 minutes:\n%s", d.stderr())
	}
}

// cancelAll cancels every job still queued or running, and waits until
// each has ended: a cancelled job's processes outlive rcqd's stop (they run
// under their supervisors) unless rcqd has seen them go.
func (d *rcqd) cancelAll() {
	if d.cmd == nil || d.cmd.ProcessState != nil || d.admin == "" {
		return
	}
	d.api("POST", "/api/jobs/cancel", d.admin, apitype.CancelRequest{States: []string{"pending", "running"}}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var l apitype.JobList
		if d.api("GET", "/api/jobs?limit=10000", d.admin, nil, &l) != http.StatusOK {
			return
		}
		ended := true
		for _, j := range l.Jobs {
			ended = ended && j.CompletedAt != nil
		}
		if ended {
			return
		}
		time.Sleep(100 * time.Millisecond) // waiting on job processes to end: no event to wait on here
	}
	d.t.Errorf("jobs still running 30 s after they were cancelled")
}

// stop ends rcqd with SIGTERM (and its PostgreSQL with it).
func (d *rcqd) stop() {
	if d.cmd == nil || d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	if d.t.Failed() {
		d.t.Logf("rcqd log:\n%s", d.stderr())
	}
}

func (d *rcqd) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// base is the dashboard's origin.
func (d *rcqd) base() string { return fmt.Sprintf("http://127.0.0.1:%d", d.port) }

// api calls the API over TCP as a token's owner; it returns the status.
func (d *rcqd) api(method, path, token string, body, out any) int {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.base()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			d.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		d.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// account is a user of the dashboard.
type account struct {
	email, password, token string
	dir                    string // where its jobs run
}

// newAccount registers an account (as the admin) that can run jobs: in
// system mode mapped to a fresh Unix user, else rcqd's own.
func (d *rcqd) newAccount(name string) *account {
	d.t.Helper()
	a := &account{email: name + "@example.org", password: "correct horse " + name, dir: d.t.TempDir()}
	var rr apitype.RegisterResponse
	if st := d.api("POST", "/api/auth/register", d.admin, apitype.RegisterRequest{Email: a.email, Password: a.password}, &rr); st != 201 {
		d.t.Fatalf("register %s: %d", a.email, st)
	}
	if d.system {
		u := unixtest.New(d.t)
		unix := u.Name
		if st := d.api("PATCH", fmt.Sprintf("/api/admin/users/%d", rr.UserID), d.admin, apitype.UserUpdate{UnixUser: &unix}, nil); st != 200 {
			d.t.Fatalf("map %s to %s: %d", a.email, u.Name, st)
		}
		a.dir = u.Home
	}
	var lr apitype.LoginResponse
	if st := d.api("POST", "/api/auth/login", "", apitype.LoginRequest{Email: a.email, Password: a.password}, &lr); st != 200 {
		d.t.Fatalf("login %s: %d", a.email, st)
	}
	a.token = lr.Token
	return a
}

// submit submits a job as a; it returns the job's id.
func (d *rcqd) submit(a *account, req apitype.SubmitRequest) int64 {
	d.t.Helper()
	if req.WorkingDir == "" {
		req.WorkingDir = a.dir
	}
	var sr apitype.SubmitResponse
	if st := d.api("POST", "/api/jobs", a.token, req, &sr); st != 201 {
		d.t.Fatalf("submit as %s: %d", a.email, st)
	}
	return sr.JobID
}

// browser starts (once per test binary) headless Chromium and returns a
// fresh browser context for t: its own cookies, its own tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		chromiumPath = os.Getenv("RCQ_CHROMIUM")
		if chromiumPath == "" {
			out, err := exec.Command("../../../scripts/ensure-chromium.sh").Output()
			if err != nil {
				browserErr = fmt.Errorf("scripts/ensure-chromium.sh: %v", err)
				return
			}
			chromiumPath = strings.TrimSpace(string(out))
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.DisableGPU,
			chromedp.WindowSize(1280, 800))
		if os.Geteuid() == 0 {
			// Chromium refuses to run as root with its sandbox on.
			opts = append(opts, chromedp.NoSandbox)
			sandboxNote = "Chromium runs with --no-sandbox: the tests run as root, where its sandbox refuses to start"
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil {
			browserErr = fmt.Errorf("start %s: %v", chromiumPath, err)
		}
		browserCtx = ctx
		browserStop = func() { cancel(); cancelAlloc() }
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	if sandboxNote != "" {
		t.Log(sandboxNote)
	}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// do runs browser actions, failing the test on an error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// run runs one browser action that returns a value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// login logs in through the form, which must be the page shown.
func login(t *testing.T, ctx context.Context, a *account) {
	t.Helper()
	do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), a.email),
		chromedp.SendKeys(chromedp.CSS("#password"), a.password),
		chromedp.Click(chromedp.CSS(`.login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.logout`)),
	)
}

// sessionCookie is the browser's rcq_session cookie for base, nil when none.
func sessionCookie(t *testing.T, ctx context.Context, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "rcq_session" {
			return c
		}
	}
	return nil
}

// waitFor polls a JavaScript expression in the page until it is true; a
// navigation in between (the page's context replaced) only restarts the
// poll.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("(() => { try { return !!("+expr+") } catch (e) { return false } })()", chromedp.WithPollingTimeout(max(left, time.Millisecond)), chromedp.WithPollingInterval(10*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().Before(deadline) && navigated(err) {
			continue
		}
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, text)
	}
}

// navigated reports whether a browser error is the page going away under
// an evaluation.
func navigated(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find context") || strings.Contains(s, "Execution context was destroyed") ||
		strings.Contains(s, "Inspected target navigated")
}
