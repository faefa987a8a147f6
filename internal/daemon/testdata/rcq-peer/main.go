// Command rcq-peer makes one request on rcqd's Unix socket and prints the
// status and the body. The daemon tests run it as other Unix users, so that
// rcqd sees their uid through SO_PEERCRED.
//
//	rcq-peer SOCKET METHOD PATH [JSON-BODY]
//
// RCQ_TOKEN, when set, is sent as the bearer token. It prints "STATUS BODY",
// or "dial: ERROR" and exits 3 when it cannot connect.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: rcq-peer SOCKET METHOD PATH [JSON-BODY]")
		os.Exit(2)
	}
	sock, method, path := os.Args[1], os.Args[2], os.Args[3]
	var body io.Reader
	if len(os.Args) > 4 {
		body = strings.NewReader(os.Args[4])
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequest(method, "http://rcq"+path, body)
	if err != nil {
		fmt.Println("request:", err)
		os.Exit(2)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := os.Getenv("RCQ_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, b)
}
