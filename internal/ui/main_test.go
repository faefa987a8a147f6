package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const password = "correct horse battery"

var passwords *auth.Passwords

func init() {
	var err error
	if passwords, err = auth.NewPasswords(auth.MinCost); err != nil {
		panic(err)
	}
}

// env is rcqd's API (with the dashboard it mounts) over a fresh real
// database: group 1, worker w1, admin@localhost (admin), alice and bob.
type env struct {
	t      testing.TB
	st     *store.Store
	api    *api.Server
	srv    *httptest.Server
	signer *auth.Signer
	outDir string
	users  map[string]rcq.UserID
	loop   *sched.Loop
}

// newEnv builds the env; mods may change the API's configuration.
func newEnv(t testing.TB, tls bool, mods ...func(*api.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := &env{t: t, st: st, outDir: t.TempDir(), users: map[string]rcq.UserID{},
		signer: auth.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "rcqd-test", time.Hour)}
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}}); err != nil {
		t.Fatal(err)
	}
	// node1's rcqd is up: jobs are placed only on nodes whose rcqd holds
	// the node's lease.
	if ok, err := st.AcquireLease(ctx, store.NodeLease("node1"), "node1:/state", time.Hour); err != nil || !ok {
		t.Fatalf("take node1's lease: %v %v", ok, err)
	}
	for _, u := range []struct {
		email string
		admin bool
	}{{"admin@localhost", true}, {"alice@example.org", false}, {"bob@example.org", false}} {
		hash, err := passwords.Hash(password)
		if err != nil {
			t.Fatal(err)
		}
		id, err := st.CreateUser(ctx, rcq.User{Email: u.email, GroupID: 1, IsAdmin: u.admin}, hash)
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.email] = id
	}
	e.loop = sched.New(st, sched.DefaultConfig(), nil, "ui-test")
	st.OnAnnounce(e.loop.Event) // as rcqd: submits reach the scheduler at once
	cfg := api.Config{Version: "test", Limits: rcq.DefaultLimits, LoginPerMinute: 1000}
	for _, m := range mods {
		m(&cfg)
	}
	e.api = api.New(cfg, api.Deps{
		Store: st, Planner: e.loop, Wake: e.loop.Notify, Signer: e.signer, Passwords: passwords,
		OutputPaths: func(j *rcq.Job) (string, string) {
			return filepath.Join(e.outDir, fmt.Sprintf("%d.out", j.ID)), filepath.Join(e.outDir, fmt.Sprintf("%d.err", j.ID))
		},
		ReadOutput: func(_ *rcq.Job, path string) (*os.File, error) {
			return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		},
	})
	if tls {
		e.srv = httptest.NewTLSServer(e.api)
	} else {
		e.srv = httptest.NewServer(e.api)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// runScheduler runs the scheduler's loop until the test ends, as rcqd
// does: it holds the lease, and readers of the queue share its plans.
func (e *env) runScheduler() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.loop.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// token signs a token for an account, as a login would.
func (e *env) token(email string) string {
	e.t.Helper()
	u, _, err := e.st.UserByID(context.Background(), e.users[email])
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.signer.Sign(*u, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// submit stores a job for an account through the API.
func (e *env) submit(email, body string) int64 {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/jobs", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token(email))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var id int64
	if _, err := fmt.Sscanf(regexp.MustCompile(`"job_id":\d+`).FindString(string(b)), `"job_id":%d`, &id); err != nil {
		e.t.Fatalf("submit: no job id in %s", b)
	}
	return id
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	hc := *e.srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, hc: &hc, jar: jar}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, header ...string) page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF value of a page's forms.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := hiddenCSRF.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", p.body)
	}
	return m[1]
}

// login logs the browser in through the login form.
func (b *browser) login(email string) page {
	b.e.t.Helper()
	form := b.get("/ui/login")
	p := b.do("POST", "/ui/login", url.Values{"email": {email}, "password": {password}, "csrf": {form.csrf(b.e.t)}})
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("login as %s: %d\n%s", email, p.status, p.body)
	}
	return p
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.e.srv.URL + "/ui/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}
