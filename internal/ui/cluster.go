package ui

import (
	"html/template"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/ui/svg"
)

// ClusterView is the cluster page's data.
type ClusterView struct {
	Now     time.Time
	Workers []WorkerRow
	// Totals of the online workers (what jobs can get) and what is
	// allocated on every worker.
	Totals  template.HTML
	Chart   template.HTML // running and pending jobs over the last 24 hours
	ChartOK bool
	// Latest is the last instant of the chart, in words.
	Running, Pending int
	ChartErr         string
}

// WorkerRow is one worker: its numbers, its bars, and (admins only: the
// API keeps heartbeats in its admin view) its last heartbeat.
type WorkerRow struct {
	apitype.NodeInfo
	Bars      template.HTML
	Heartbeat string // "-" when the caller may not see it
	Ago       string
}

// clusterPage shows every worker with what its running jobs hold of its
// CPUs, memory and GPUs as bars, its state and (for admins) its last
// heartbeat, and a chart of running and pending jobs over the last 24 hours.
// The worker list is its live part: a worker's change or a job's start or
// end redraws it.
func clusterPage(c *Call) error {
	var v ClusterView
	v.Now = c.UI.now().UTC()
	var nodes apitype.NodeList
	if err := c.Get("/api/workers", &nodes); err != nil {
		return err
	}
	heartbeats := map[string]time.Time{}
	if c.Session.User.IsAdmin {
		var ws apitype.WorkerList
		if err := c.Get("/api/admin/workers", &ws); err == nil {
			for _, w := range ws.Workers {
				heartbeats[w.Name] = w.LastHeartbeat
			}
		}
	}
	var cpu, mem, gpu svg.Bar
	cpu = svg.Bar{Label: "CPUs", Unit: "cores"}
	mem = svg.Bar{Label: "Memory", Unit: "GB"}
	gpu = svg.Bar{Label: "GPUs", Unit: "GPUs"}
	for _, n := range nodes.Workers {
		row := WorkerRow{NodeInfo: n, Heartbeat: "-"}
		if hb, ok := heartbeats[n.Name]; ok && !hb.IsZero() {
			row.Heartbeat = hb.UTC().Format("2006-01-02 15:04:05")
			row.Ago = durationOf(v.Now.Sub(hb))
		}
		row.Bars = svg.Bars("w-"+n.Name, "Worker "+n.Name+": allocated of total", []svg.Bar{
			{Label: "CPUs", Used: float64(n.AllocCPUs), Total: float64(n.CPUCores), Unit: "cores"},
			{Label: "Memory", Used: float64(n.AllocMemoryGB), Total: float64(n.MemoryGB), Unit: "GB"},
			{Label: "GPUs", Used: float64(n.AllocGPUs), Total: float64(n.GPUCount), Unit: "GPUs"},
		})
		v.Workers = append(v.Workers, row)
		cpu.Used += float64(n.AllocCPUs)
		mem.Used += float64(n.AllocMemoryGB)
		gpu.Used += float64(n.AllocGPUs)
		if n.Status == "online" {
			cpu.Total += float64(n.CPUCores)
			mem.Total += float64(n.MemoryGB)
			gpu.Total += float64(n.GPUCount)
		}
	}
	v.Totals = svg.Bars("cluster-total", "The cluster: allocated of the online workers' total", []svg.Bar{cpu, mem, gpu})
	if c.R.Header.Get(fragmentHeader) == "" {
		var h apitype.ClusterHistory
		if err := c.Get("/api/cluster/history?hours=24", &h); err != nil {
			v.ChartErr = err.Error()
		} else {
			v.Chart, v.ChartOK = historyChart(&h), true
			if n := len(h.Points); n > 0 {
				v.Running, v.Pending = h.Points[n-1].Running, h.Points[n-1].Pending
			}
		}
	}
	return c.Render("cluster", "Cluster", &v)
}

// historyChart draws a cluster history: running and pending jobs.
func historyChart(h *apitype.ClusterHistory) template.HTML {
	run := make([]float64, len(h.Points))
	pend := make([]float64, len(h.Points))
	for i, p := range h.Points {
		run[i], pend[i] = float64(p.Running), float64(p.Pending)
	}
	return svg.TimeSeries(svg.TimeChart{ID: "history", Title: "Running and pending jobs over the last 24 hours (UTC)",
		Desc: "Jobs of every account, counted every " + durationWords(time.Duration(h.StepSeconds)*time.Second) + ".",
		Unit: "jobs", Start: h.From.UTC(), Step: time.Duration(h.StepSeconds) * time.Second,
		Series: []svg.Series{{Label: "running", Values: run}, {Label: "pending (held included)", Values: pend}}})
}

// durationWords is a step or window in words: "15 minutes", "hour",
// "24 hours", "30 days".
func durationWords(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 2*day && d%day == 0:
		return svg.Number(float64(d/day)) + " days"
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "hour"
		}
		return svg.Number(d.Hours()) + " hours"
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "minute"
		}
		return svg.Number(d.Minutes()) + " minutes"
	}
	return d.String()
}
