package ui_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// svgCount counts the inline charts of a page by their title ids.
var chartTitle = regexp.MustCompile(`<svg [^>]*role="img"[^>]*aria-labelledby="([a-zA-Z0-9_-]+)-t `)

func charts(body string) []string {
	var ids []string
	for _, m := range chartTitle.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// The cluster page draws each worker's allocation as bars with the numbers
// in text, the cluster's total, and the 24-hour chart of running and
// pending jobs; heartbeats only for admins (the API's admin view).
func TestClusterPage(t *testing.T) {
	e := newEnv(t, false)
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","cpu_cores":3,"memory_gb":4,"gpu_count":1}`)
	if _, err := e.st.AcquireLease(context.Background(), "scheduler", "ui-test", 60e9); err != nil {
		t.Fatal(err)
	}
	if done, err := e.st.StartJobs(context.Background(), "scheduler", "ui-test", []rcq.Start{{JobID: rcq.JobID(id), WorkerID: 1, GPUIndices: []int{0}}}); err != nil || len(done) != 1 {
		t.Fatalf("start: %v %v", done, err)
	}
	e.submit("bob@example.org", `{"script":"#!/bin/sh\necho hi\n","hold":true}`)
	b := e.browser()
	b.login("bob@example.org")
	p := b.get("/ui/cluster")
	if p.status != 200 {
		t.Fatalf("cluster page: %d\n%s", p.status, p.body)
	}
	got := strings.Join(charts(p.body), " ")
	if got != "cluster-total w-w1 history" {
		t.Errorf("charts %q, want the total, w1's bars and the history", got)
	}
	for _, want := range []string{
		"3 / 8 cores (38%)", "4 / 32 GB (13%)", "1 / 2 GPUs (50%)", // w1's bars, as text
		`data-worker="w1" data-state="mixed"`, "1 running job;",
		"Now: 1 running, 1 pending.",
		`<g class="legend"`, ">running</text>", ">pending (held included)</text>", `stroke-dasharray="7 4"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("cluster page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "last heartbeat") {
		t.Errorf("a user sees heartbeats")
	}
	if t.Failed() {
		t.Log(p.body)
	}
	a := e.browser()
	a.login("admin@localhost")
	if p := a.get("/ui/cluster"); !strings.Contains(p.body, "last heartbeat") {
		t.Errorf("an admin does not see heartbeats")
	}
	// The live part alone: the workers, not the chart.
	p = b.do("GET", "/ui/cluster", nil, "X-Rcq-Fragment", "live")
	if strings.Contains(p.body, "<html") || !strings.Contains(p.body, `data-worker="w1"`) || strings.Contains(p.body, `id="history-t"`) {
		t.Errorf("live part:\n%s", p.body)
	}
}

// The fair-share page shows each group's quota, usage, factor and the
// worked priority of a job, the usage chart, and members: one's own
// group's for a user, every group's for an admin.
func TestSharePage(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	physics, err := e.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 50, Priority: 3})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := e.st.CreateUser(ctx, rcq.User{Email: "carol@example.org", GroupID: physics}, "x")
	if err != nil {
		t.Fatal(err)
	}
	_ = carol
	b := e.browser()
	b.login("bob@example.org")
	p := b.get("/ui/share")
	if p.status != 200 {
		t.Fatalf("share page: %d\n%s", p.status, p.body)
	}
	got := strings.Join(charts(p.body), " ")
	if got != "g1 g2 usage m1" {
		t.Errorf("charts %q, want both groups' bars, the usage chart and default's members", got)
	}
	for _, want := range []string{
		// default: nothing used, factor at its cap 2.
		"Your group, <strong>default</strong>: it used nothing in the window, so it gets the highest factor, 2, so a job of priority 1 there has\n(1 + 1) × 2.00 = <strong>4.00</strong>",
		"4.00 × 1.10 = <strong>4.40</strong> after waiting 10 hours",
		"(1 + 3) × 2.00 = 8.00; × 1.10 = 8.80", // physics
		"0 / 1000 CPU-hours (0%)", "0 / 50 CPU-hours (0%)",
		"bob@example.org", "You see your own group's members",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("share page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "carol@example.org") {
		t.Errorf("bob sees physics' members")
	}
	a := e.browser()
	a.login("admin@localhost")
	p = a.get("/ui/share")
	if got := strings.Join(charts(p.body), " "); got != "g1 g2 usage m1 m2" || !strings.Contains(p.body, "carol@example.org") {
		t.Errorf("admin's charts %q, want every group's members", got)
	}
}

// The cluster, fair-share and admin pages carry no inline script or style
// (the CSP forbids them): the charts are plain SVG with attributes.
func TestChartPagesNoInlineScript(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("admin@localhost")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\son[a-z]+=|javascript:|<style|\sstyle=`)
	for _, path := range []string{"/ui/cluster", "/ui/share", "/ui/admin", "/ui/admin/audit", "/ui/admin/change?do=worker.drain&id=1"} {
		p := b.get(path)
		if p.status != 200 {
			t.Errorf("%s: %d", path, p.status)
		}
		if m := inline.FindString(p.body); m != "" {
			t.Errorf("%s has inline script or style %q", path, m)
		}
	}
}

// BenchmarkChartPages is the server time and weight (uncompressed HTML) of
// the cluster, fair-share and admin pages over 16 workers, 8 groups and 100
// accounts, as the admin (the heaviest view), through the real API and
// database.
//
//	go test -run '^$' -bench ChartPages -benchtime 50x ./internal/ui
func BenchmarkChartPages(b *testing.B) {
	e := newEnv(b, false)
	ctx := context.Background()
	for i := range 15 {
		if _, err := e.st.RegisterWorker(ctx, rcq.Worker{Name: fmt.Sprintf("node%02d", i), Node: fmt.Sprintf("node%02d", i),
			Capacity: rcq.Resources{CPUCores: 64, MemoryGB: 256, GPUs: 4}}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 7 {
		g, err := e.st.CreateGroup(ctx, rcq.Group{Name: fmt.Sprintf("lab%d", i), CPUQuota: 1000, Priority: 1})
		if err != nil {
			b.Fatal(err)
		}
		for j := range 14 {
			if _, err := e.st.CreateUser(ctx, rcq.User{Email: fmt.Sprintf("u%d-%d@example.org", i, j), GroupID: g}, "x"); err != nil {
				b.Fatal(err)
			}
		}
	}
	br := e.browser()
	br.login("admin@localhost")
	for _, path := range []string{"/ui/cluster", "/ui/share", "/ui/admin"} {
		b.Run(strings.TrimPrefix(path, "/ui/"), func(b *testing.B) {
			var n int
			for b.Loop() {
				p := br.get(path)
				if p.status != 200 {
					b.Fatalf("%s: %d", path, p.status)
				}
				n = len(p.body)
			}
			b.ReportMetric(float64(n), "html-bytes")
		})
	}
}
