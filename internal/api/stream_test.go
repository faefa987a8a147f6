package api_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestFollowedOutputOutlivesReadTimeout: rcqd's servers drop requests not
// read within ReadTimeout (and have no WriteTimeout); a followed output
// stream, whose request was read long before, lasts as long as the job
// (net/http clears the read deadline once a request without a body is read).
func TestFollowedOutputOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	id := e.submit(e.aliceT, nil)
	e.start(id)
	stdout, _ := e.api.OutputPaths(e.job(id))
	writeFile(t, stdout, "first\n")
	hr, err := http.NewRequest("GET", fmt.Sprintf("%s/api/jobs/%d/output?follow=1", srv.URL, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+e.aliceT)
	res, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, len("first\n"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk %q %v", buf, err)
	}
	// A request started after the stream's is dropped by ReadTimeout: when
	// it is, the stream's own deadline has passed too.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: rcq\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a safety net only
	if _, err := io.ReadAll(c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server never dropped a request without its headers")
		}
	}
	f, err := os.OpenFile(stdout, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.finish(id, rcq.JobCompleted, 0)
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "second\n" {
		t.Errorf("rest of the followed output after the read deadline %q %v, want %q", rest, err, "second\n")
	}
}
