package faults

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// Item 13, the timing half (the status and body half is
// internal/api TestLoginUnknownEmailAndWrongPasswordAlike): against a real
// rcqd with a realistic bcrypt cost, logins with an unknown email and with
// a wrong password take the same median time, within 10%, over 100 tries
// each (interleaved, so that load on the machine hits both alike). A
// statistical check: it runs with RCQ_FAULTS=1 (make test-faults).
func TestFaultLoginTimingAlike(t *testing.T) {
	if !long() {
		t.Skip("statistical timing check: runs with RCQ_FAULTS=1 (make test-faults)")
	}
	d := newDaemon(t, daemonOptions{env: []string{"RCQ_AUTH_BCRYPT_COST=10"}})
	d.start()
	const pw = "a-real-password-1"
	if _, err := d.client("").Register(ctxT(t, 30*time.Second), apitype.RegisterRequest{Email: "alice@x", Password: pw}); err != nil {
		t.Fatal(err)
	}
	hc := unixHTTP(d.sock, 30*time.Second)
	defer hc.CloseIdleConnections()
	try := func(email string) (time.Duration, int, string) {
		body := `{"email":"` + email + `","password":"wrong-password-2"}`
		start := time.Now()
		resp, err := hc.Post("http://rcqd/api/auth/login", "application/json", strings.NewReader(body))
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		return took, resp.StatusCode, b.String()
	}
	try("alice@x") // warm up
	requestID := regexp.MustCompile(`"request_id":"[^"]*"`)
	var known, unknown []time.Duration
	for i := range 100 {
		order := []string{"alice@x", "nobody-here@x"}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		var bodies [2]string
		for k, email := range order {
			took, status, body := try(email)
			if status != 401 {
				t.Fatalf("login %s with a wrong password: %d %s", email, status, body)
			}
			bodies[k] = requestID.ReplaceAllString(body, `"request_id":"-"`) // each request has its own id
			if email == "alice@x" {
				known = append(known, took)
			} else {
				unknown = append(unknown, took)
			}
		}
		if bodies[0] != bodies[1] {
			t.Fatalf("unknown email and wrong password answer differently: %q vs %q", bodies[0], bodies[1])
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	a, b := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("median login time: wrong password %v, unknown email %v", a, b)
	if diff := max(a, b) - min(a, b); diff > max(a, b)/10 {
		t.Errorf("medians differ by %v (more than 10%%): wrong password %v, unknown email %v", diff, a, b)
	}
}
