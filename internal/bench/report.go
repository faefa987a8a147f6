package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one figure of one scenario: a row of the table.
type Result struct {
	Scenario int     `json:"scenario"`
	Name     string  `json:"name"`   // what was measured, e.g. "submit unix"
	Params   string  `json:"params"` // the parameters it was measured with
	Metric   string  `json:"metric"` // e.g. "jobs/s", "p50 ms"
	Value    float64 `json:"value"`
	Goal     string  `json:"goal,omitempty"` // e.g. ">= 0.5"
	Met      *bool   `json:"met,omitempty"`  // nil when the row has no goal
}

// goal sets r's goal: the value must be at least (ge) or at most (!ge) bound.
func (r Result) goal(ge bool, bound float64) Result {
	met := r.Value <= bound
	r.Goal = "<= " + fmtValue(bound)
	if ge {
		met = r.Value >= bound
		r.Goal = ">= " + fmtValue(bound)
	}
	r.Met = &met
	return r
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	MemoryMB   int64  `json:"memory_mb"`
	Kernel     string `json:"kernel"`
	PostgreSQL string `json:"postgresql"`
	GoVersion  string `json:"go"`
	Root       bool   `json:"root"`
}

// Report is the JSON document rcq-bench writes.
type Report struct {
	Date     time.Time `json:"date"`
	Seconds  float64   `json:"seconds"`
	Machine  Machine   `json:"machine"`
	Quick    bool      `json:"quick"`
	Results  []Result  `json:"results"`
	Failures []string  `json:"failures,omitempty"` // scenarios that could not run, and why
}

func fmtValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e12:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// WriteTable prints the report as one aligned table.
func (rep *Report) WriteTable(w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "rcq-bench %s: %d CPUs, %d MB, Linux %s, %s, %s, %.0f s",
		rep.Date.UTC().Format(time.RFC3339), m.CPUs, m.MemoryMB, m.Kernel, m.PostgreSQL, m.GoVersion, rep.Seconds)
	if rep.Quick {
		fmt.Fprint(w, " (-quick: reduced sizes)")
	}
	fmt.Fprintln(w)
	var tab strings.Builder
	tw := tabwriter.NewWriter(&tab, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tmeasure\tparameters\tmetric\tvalue\tgoal\tmet")
	for _, r := range rep.Results {
		met := ""
		if r.Met != nil {
			met = "no"
			if *r.Met {
				met = "yes"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Name, r.Params, r.Metric, fmtValue(r.Value), r.Goal, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(tab.String(), "\n") {
		if line != "" {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
	}
	var met, missed []string
	for _, r := range rep.Results {
		if r.Met == nil {
			continue
		}
		label := fmt.Sprintf("%d %s %s", r.Scenario, r.Name, r.Metric)
		if *r.Met {
			met = append(met, label)
		} else {
			missed = append(missed, label)
		}
	}
	fmt.Fprintf(w, "goals met: %d of %d\n", len(met), len(met)+len(missed))
	for _, s := range missed {
		fmt.Fprintf(w, "  missed: %s\n", s)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
	return nil
}

// WriteJSON writes the report to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// percentile returns the p-th percentile (0..100) of xs by the
// nearest-rank method; NaN for no samples.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(rank, 1)
	rank = min(rank, len(s))
	return s[rank-1]
}

func median(xs []float64) float64 { return percentile(xs, 50) }

// ms converts durations to float milliseconds.
func ms(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

// params formats "k=v" pairs.
func params(kv ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v=%v", kv[i], kv[i+1])
	}
	return b.String()
}
