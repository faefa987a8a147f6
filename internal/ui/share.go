package ui

import (
	"html/template"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/ui/svg"
)

// ShareView is the fair-share page's data.
type ShareView struct {
	Groups   []ShareRow
	Settings apitype.ShareSettings
	Window   string // the window in words: "30 days"
	HalfLife string // "" when usage is not decayed
	Chart    template.HTML
	ChartErr string
	// Own is the caller's group's row (nil when it is not listed).
	Own     *ShareRow
	IsAdmin bool
}

// ShareRow is one group: its numbers, its usage against its quota as a
// bar, the worked example of its factor, and its members' usage when the
// caller may see them.
type ShareRow struct {
	apitype.GroupShare
	Usage   string // the usage as the charts print it
	Bar     template.HTML
	Example Example
	Mine    bool
	Members template.HTML // the members' usage as bars; "" when not shown
}

// Example works out what a group's fair share does to a job's priority:
// a job of priority 1 (the default) in the group, just submitted and after
// waiting 10 hours.
type Example struct {
	JobPriority  int
	Base         int    // job priority + group priority
	Factor       string // the group's fair-share factor
	Now          string // Base x Factor
	Hours        int    // the wait of the second case
	Boost        string // its wait boost
	Later        string // Base x Factor x Boost
	QuotaOverUse string // how the factor came about, in words
}

// sharePage shows every group's quota, usage over the fair-share window
// (as a bar against the quota, and per interval as a chart), fair-share
// factor and what it does to a job's priority, with the numbers; the
// members' usage of the caller's group (every group's for an admin), as
// GET /api/share gives it.
func sharePage(c *Call) error {
	var share apitype.ShareList
	if err := c.Get("/api/share", &share); err != nil {
		return err
	}
	v := ShareView{IsAdmin: c.Session.User.IsAdmin}
	var hist apitype.ShareHistory
	if err := c.Get("/api/share/history", &hist); err != nil {
		v.ChartErr = err.Error()
	} else {
		v.Settings = hist.Settings
		v.Window = durationWords(time.Duration(hist.Settings.WindowSeconds) * time.Second)
		if hist.Settings.HalfLifeSeconds > 0 {
			v.HalfLife = durationWords(time.Duration(hist.Settings.HalfLifeSeconds) * time.Second)
		}
		v.Chart = usageChart(&hist, v.Window)
	}
	for _, g := range share.Groups {
		row := ShareRow{GroupShare: g, Mine: g.ID == c.Session.User.GroupID, Usage: svg.Number(g.UsageCPUHours)}
		row.Bar = svg.Bars("g"+strconv.FormatInt(g.ID, 10), "Group "+g.Name+": usage of its quota over the window",
			[]svg.Bar{{Label: g.Name, Used: g.UsageCPUHours, Total: g.CPUQuota, Unit: "CPU-hours"}})
		row.Example = example(g, hist.Settings)
		if g.Users != nil {
			bars := make([]svg.Bar, len(g.Users))
			for i, u := range g.Users {
				bars[i] = svg.Bar{Label: u.Email, Used: u.UsageCPUHours, Total: g.UsageCPUHours, Unit: "CPU-hours"}
			}
			row.Members = svg.Bars("m"+strconv.FormatInt(g.ID, 10), "Members of "+g.Name+": their part of its usage", bars)
		}
		v.Groups = append(v.Groups, row)
	}
	for i := range v.Groups {
		if v.Groups[i].Mine {
			v.Own = &v.Groups[i]
		}
	}
	return c.Render("share", "Fair share", &v)
}

// example works the priority of a default job of group g out with the
// scheduler's formula (docs/api.md, GET /api/share/history).
func example(g apitype.GroupShare, s apitype.ShareSettings) Example {
	e := Example{JobPriority: 1, Base: 1 + g.Priority, Hours: 10}
	now := float64(e.Base) * g.FairShare
	boost := 1 + float64(e.Hours)*s.WaitBoostPerHour
	if s.WaitBoostCap > 0 {
		boost = min(boost, s.WaitBoostCap)
	}
	e.Factor, e.Now, e.Boost, e.Later = two(g.FairShare), two(now), two(boost), two(now*boost)
	switch {
	case g.UsageCPUHours <= 0:
		e.QuotaOverUse = "it used nothing in the window, so it gets the highest factor, " + svg.Number(s.FairShareMax)
	case g.CPUQuota <= 0:
		e.QuotaOverUse = "it has no quota, so it gets the lowest factor, " + svg.Number(s.FairShareMin)
	default:
		r := g.CPUQuota / g.UsageCPUHours
		e.QuotaOverUse = "quota " + svg.Number(g.CPUQuota) + " / usage " + svg.Number(g.UsageCPUHours) + " = " + svg.Number(r)
		switch {
		case r > s.FairShareMax:
			e.QuotaOverUse += ", capped at " + svg.Number(s.FairShareMax)
		case r < s.FairShareMin:
			e.QuotaOverUse += ", raised to the floor " + svg.Number(s.FairShareMin)
		}
	}
	return e
}

// usageChart draws every group's CPU-hours per interval of the window.
func usageChart(h *apitype.ShareHistory, window string) template.HTML {
	series := make([]svg.Series, len(h.Groups))
	for i, g := range h.Groups {
		series[i] = svg.Series{Label: g.Name, Values: g.CPUHours}
	}
	step := time.Duration(h.StepSeconds) * time.Second
	// Value i is the usage of the interval ending at From + (i+1) x step.
	return svg.TimeSeries(svg.TimeChart{ID: "usage", Title: "CPU-hours used per group over the last " + window + " (UTC)",
		Desc: "Each point is the CPU-hours of the jobs that ended in the " + durationWords(step) + " before it.",
		Unit: "CPU-hours", Start: h.From.Add(step).UTC(), Step: step, Series: series})
}

// two formats a factor or priority with two decimals.
func two(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
