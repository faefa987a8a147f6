package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/rcq"
)

// A page on evil.example whose name the attacker re-points at 127.0.0.1 (DNS
// rebinding) reaches rcqd with Host: evil.example. TCP refuses it; the Unix
// socket, which no browser reaches, serves it.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) {
		c.AllowedHosts = []string{"rcq.example.org", "proxy.example.org:443"}
		c.OwnerUID = 1000 // the socket's peer below owns this (personal) rcqd
	})
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	get := func(base, host string) resp {
		r, err := http.NewRequest("GET", base+"/api/jobs", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Host = host
		r.Header.Set("Authorization", "Bearer "+e.aliceT)
		return send(t, http.DefaultClient, r)
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "localhost.evil.example:" + port,
		"localhost:1", "127.0.0.1:1", "proxy.example.org:" + port, "rcq.example.org.evil.example"} {
		r := get(e.srv.URL, host)
		want(t, r, http.StatusBadRequest, "bad_host")
		if msg := r.errBody(t).Error; !strings.Contains(msg, "allowed_hosts") || !strings.Contains(msg, "port "+port) {
			t.Errorf("Host %s: %q does not name allowed_hosts and the port", host, msg)
		}
	}
	// A refused request changes nothing.
	jobs := e.jobCount()
	r := rawPost(t, e.srv.URL, "evil.example:"+port, "/api/auth/register", `{"email":"evil@example.org","password":"long enough pw"}`)
	want(t, r, http.StatusBadRequest, "bad_host")
	r = rawPost(t, e.srv.URL, "evil.example:"+port, "/api/jobs", `{"script":"#!/bin/sh\n"}`)
	want(t, r, http.StatusBadRequest, "bad_host")
	if e.jobCount() != jobs {
		t.Error("a job was stored through a refused Host")
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST.:" + port, "127.0.0.1:" + port, "[::1]:" + port,
		"rcq.example.org", "RCQ.example.org:8443", "proxy.example.org:443"} {
		want(t, get(e.srv.URL, host), http.StatusOK, "")
	}
	// On the socket the Host is whatever the client wrote: no browser there.
	want(t, get(e.peer(1000).URL, "evil.example"), http.StatusOK, "")
}

// A page on another site can make the browser POST without a preflight only
// with form fields, text/plain or no body. rcqd refuses every state change
// on TCP that does not say it sends JSON, and stores nothing.
func TestStateChangesNeedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.OwnerUID = 1000 }) // the socket's peer below owns this (personal) rcqd
	held := e.submit(e.aliceT, map[string]any{"hold": true})
	pending := e.submit(e.aliceT, nil)
	jobs, users := e.jobCount(), e.userCount()
	do := func(base, method, path, ct, body string) resp {
		r, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Header.Set("Authorization", "Bearer "+e.aliceT)
		return send(t, http.DefaultClient, r)
	}
	job := `{"script":"#!/bin/sh\necho pwned\n"}`
	for _, c := range []struct{ method, path, ct, body string }{
		{"POST", "/api/jobs", "text/plain", job},
		{"POST", "/api/jobs", "text/plain;charset=UTF-8", job},
		{"POST", "/api/jobs", "application/x-www-form-urlencoded", "script=x"},
		{"POST", "/api/jobs", "multipart/form-data; boundary=x", "--x--"},
		{"POST", "/api/jobs", "", job},
		{"POST", "/api/auth/register", "text/plain", `{"email":"csrf@example.org","password":"long enough pw"}`},
		{"POST", fmt.Sprintf("/api/jobs/%d/release", held), "", ""},
		{"POST", fmt.Sprintf("/api/jobs/%d/hold", pending), "text/plain", ""},
		{"POST", "/api/auth/logout", "", ""},
		{"DELETE", fmt.Sprintf("/api/jobs/%d", pending), "text/plain", "x"},
		{"PATCH", "/api/admin/users/2", "", `{"is_admin":true}`},
	} {
		r := do(e.srv.URL, c.method, c.path, c.ct, c.body)
		want(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		if !strings.Contains(r.errBody(t).Error, "application/json") {
			t.Errorf("%s %s: %q does not name application/json", c.method, c.path, r.errBody(t).Error)
		}
	}
	if e.jobCount() != jobs || e.userCount() != users {
		t.Fatal("a refused request stored something")
	}
	if e.job(held).Hold != rcq.HoldUser || e.job(pending).Hold != rcq.HoldNone || e.job(pending).State != rcq.JobPending {
		t.Fatal("a refused request changed a job")
	}
	want(t, e.get("/api/auth/me", e.aliceT), http.StatusOK, "") // not logged out

	// Saying JSON is enough, with or without a body and parameters.
	want(t, do(e.srv.URL, "POST", fmt.Sprintf("/api/jobs/%d/hold", pending), "application/json", ""), http.StatusOK, "")
	want(t, do(e.srv.URL, "POST", "/api/jobs", "application/json; charset=utf-8", job), http.StatusCreated, "")
	// A body-less DELETE needs no header: browsers never send one cross-site
	// without a preflight, which rcqd never approves.
	want(t, do(e.srv.URL, "DELETE", fmt.Sprintf("/api/jobs/%d", pending), "", ""), http.StatusOK, "")
	// Reading needs no header.
	want(t, do(e.srv.URL, "GET", "/api/jobs", "", ""), http.StatusOK, "")
	// The socket is exempt: curl --unix-socket -X POST works as it did.
	want(t, do(e.peer(1000).URL, "POST", fmt.Sprintf("/api/jobs/%d/release", held), "", ""), http.StatusOK, "")
}
