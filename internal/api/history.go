package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Bounds of the history routes' queries.
const (
	maxHistoryHours  = 168 // a week
	maxHistoryPoints = 1000
	minHistoryStep   = time.Minute
	// The default number of intervals of each history.
	clusterIntervals = 96
	shareIntervals   = 31
)

// clusterHistory is GET /api/cluster/history: how many jobs were running and
// pending at instants over the last hours (the dashboard's cluster chart).
// Any account may read it: the counts cover every account's jobs and name
// no job, account or group.
//
//	hours  1 to 168 (default 24): how far back the first instant is
//	step   a duration like 15m or 1h, at least 1m (default: the shortest of
//	       1m, 5m, 10m, 15m, 30m, 1h, ... giving at most 96 intervals: 15m
//	       for 24 hours): the time between instants; at most 1000 intervals
func (s *Server) clusterHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	hours := 24
	if v := q.Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryHours {
			return rcq.Invalid("hours", "must be a whole number of hours from 1 to %d", maxHistoryHours)
		}
		hours = n
	}
	span := time.Duration(hours) * time.Hour
	step, err := historyStep(q.Get("step"), span, clusterIntervals)
	if err != nil {
		return err
	}
	to := s.Now().UTC()
	points := int(span/step) + 1
	from := to.Add(-time.Duration(points-1) * step) // the last instant is now
	ps, err := s.Store.ClusterHistory(r.Context(), from, step, points)
	if err != nil {
		return err
	}
	out := apitype.ClusterHistory{From: from, To: to, StepSeconds: int64(step / time.Second),
		Points: make([]apitype.HistoryPoint, len(ps))}
	for i, p := range ps {
		out.Points[i] = apitype.HistoryPoint{At: p.At, Running: p.Running, Pending: p.Pending}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// shareHistory is GET /api/share/history: the scheduler's fair-share
// settings and every group's CPU-hours per interval over the fair-share
// window (the dashboard's fair-share chart). Any account may read it: GET
// /api/share shows every group's usage total to everyone already; no
// account's usage is in it.
//
//	step  a duration like 6h or 24h, at least 1m (default: the shortest of
//	      1h, 2h, 3h, 6h, 12h, 24h, 48h, 168h giving at most 31 intervals:
//	      24h for the default 30-day window); at most 1000 intervals
func (s *Server) shareHistory(w http.ResponseWriter, r *http.Request) error {
	if s.Planner == nil {
		return rcq.Errorf(rcq.KindInternal, "no_scheduler", "this rcqd has no scheduler to ask for fair share")
	}
	set := s.Planner.ShareSettings()
	step, err := historyStep(r.URL.Query().Get("step"), set.Window, shareIntervals)
	if err != nil {
		return err
	}
	to := s.Now().UTC()
	points := int((set.Window + step - 1) / step)
	from := to.Add(-time.Duration(points) * step)
	gs, err := s.Store.UsageHistory(r.Context(), from, step, points)
	if err != nil {
		return err
	}
	out := apitype.ShareHistory{
		Settings: apitype.ShareSettings{WindowSeconds: int64(set.Window / time.Second), HalfLifeSeconds: int64(set.HalfLife / time.Second),
			FairShareMin: set.FairShareMin, FairShareMax: set.FairShareMax,
			WaitBoostPerHour: set.WaitBoostPerHour, WaitBoostCap: set.WaitBoostCap},
		From: from, To: to, StepSeconds: int64(step / time.Second), Groups: make([]apitype.GroupUsageSeries, len(gs)),
	}
	for i, g := range gs {
		out.Groups[i] = apitype.GroupUsageSeries{ID: int64(g.GroupID), Name: g.Name, CPUHours: g.CPUHours}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// roundSteps are the default steps of histories, shortest first.
var roundSteps = []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

// historyStep reads a history's step: a duration of at least a minute that
// cuts span into at most maxHistoryPoints intervals. Empty picks the
// shortest of roundSteps that cuts span into at most intervals.
func historyStep(v string, span time.Duration, intervals int) (time.Duration, error) {
	if v == "" {
		for _, s := range roundSteps {
			if span/s <= time.Duration(intervals) {
				return s, nil
			}
		}
		return roundSteps[len(roundSteps)-1], nil
	}
	step, err := time.ParseDuration(v)
	if err != nil || step < minHistoryStep {
		return 0, rcq.Invalid("step", "must be a duration of at least 1m, like 15m or 1h")
	}
	if span/step > maxHistoryPoints {
		return 0, rcq.Invalid("step", "%s cuts %s into more than %d intervals: use a longer step", step, span, maxHistoryPoints)
	}
	return step, nil
}
