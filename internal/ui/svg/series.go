package svg

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Series is one line of a time chart: Values[i] is the value at
// Start + i x Step of its chart. A NaN or infinite value is a gap.
type Series struct {
	Label  string
	Values []float64
}

// TimeChart is a line chart of series over time.
type TimeChart struct {
	ID    string // unique on the page: the prefix of the title and desc ids
	Title string // what the chart shows, for the <title>
	Desc  string // optional sentence before the generated summary in <desc>
	Unit  string // the y axis' label ("jobs", "CPU-hours")
	Start time.Time
	// Step is the time between two values; a Step <= 0 counts as one hour.
	Step   time.Duration
	Series []Series
	// TimeFormat formats tick labels and the range in <desc>; empty picks
	// "15:04" for ticks under a day apart and "Jan 2" otherwise.
	TimeFormat string
}

// Dashes are the stroke-dasharray values of the series in order, repeated
// past the last: series differ by dash pattern, not only by colour.
var Dashes = []string{"", "7 4", "2 3", "10 3 2 3", "1 6"}

// Chart geometry (viewBox units).
const (
	chartW   = 640
	chartH   = 270
	padLeft  = 58
	padRight = 14
	padTop   = 10
	padBot   = 56 // x tick labels and the legend
	plotW    = chartW - padLeft - padRight
	plotH    = chartH - padTop - padBot
)

// limit is the largest magnitude drawn; values beyond it are gaps, so the
// scale's arithmetic stays finite.
const limit = 1e300

// TimeSeries draws c: axes with tick labels, a grid, one path per series
// with its own dash pattern, a marker on each isolated point, a legend (dash
// sample and label), and a <title> and <desc> summarising each series (its
// latest, lowest and highest value). A chart without any value says "no
// data".
func TimeSeries(c TimeChart) template.HTML {
	id := safeID(c.ID)
	step := c.Step
	if step <= 0 {
		step = time.Hour
	}
	n := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			if drawable(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	var b strings.Builder
	b.Grow(2048 + 24*n*len(c.Series))
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart series" role="img" viewBox="0 0 ` +
		strconv.Itoa(chartW) + ` ` + strconv.Itoa(chartH) + `" aria-labelledby="` + id + `-t ` + id + `-d"><title id="` + id + `-t">`)
	b.WriteString(esc(c.Title))
	b.WriteString(`</title><desc id="` + id + `-d">`)
	end := c.Start.Add(time.Duration(max(n-1, 0)) * step)
	if c.Desc != "" {
		b.WriteString(esc(c.Desc))
		b.WriteByte(' ')
	}
	if math.IsInf(lo, 0) {
		b.WriteString(`No data.</desc><text x="` + coord(chartW/2) + `" y="` + coord(chartH/2) +
			`" text-anchor="middle" fill="currentColor">no data</text></svg>`)
		return template.HTML(b.String())
	}
	tickEvery, layout := timeTicks(end.Sub(c.Start))
	if c.TimeFormat != "" {
		layout = c.TimeFormat
	}
	b.WriteString("From ")
	b.WriteString(esc(c.Start.Format(layout)))
	b.WriteString(" to ")
	b.WriteString(esc(end.Format(layout)))
	b.WriteString(".")
	for _, s := range c.Series {
		b.WriteByte(' ')
		b.WriteString(esc(summary(s)))
	}
	b.WriteString(`</desc>`)

	// The y scale: from min(0, lo) to a round number at or above hi.
	lo = min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	ystep := niceStep((hi - lo) / 4)
	lo = math.Floor(lo/ystep) * ystep
	hi = math.Ceil(hi/ystep) * ystep
	y := func(v float64) float64 { return padTop + plotH - (v-lo)/(hi-lo)*plotH }
	span := float64(max(n-1, 1)) * float64(step)
	x := func(t time.Duration) float64 { return padLeft + float64(t)/span*plotW }

	// Grid and y ticks.
	b.WriteString(`<g class="axis y" fill="currentColor" font-size="11">`)
	for i := 0; i <= 20; i++ {
		v := lo + float64(i)*ystep
		if v > hi+ystep/2 {
			break
		}
		yy := coord(y(v))
		b.WriteString(`<line x1="` + coord(padLeft) + `" x2="` + coord(padLeft+plotW) + `" y1="` + yy + `" y2="` + yy +
			`" stroke="currentColor" stroke-opacity="0.15"/><text x="` + coord(padLeft-6) + `" y="` + yy +
			`" dy="4" text-anchor="end">` + esc(Number(v)) + `</text>`)
	}
	if c.Unit != "" {
		b.WriteString(`<text class="unit" x="12" y="` + coord(padTop+plotH/2) + `" text-anchor="middle" transform="rotate(-90 12 ` +
			coord(padTop+plotH/2) + `)">` + esc(c.Unit) + `</text>`)
	}
	b.WriteString(`</g>`)

	// X axis and time ticks, on multiples of tickEvery.
	base := coord(padTop + plotH)
	b.WriteString(`<g class="axis x" fill="currentColor" font-size="11"><line x1="` + coord(padLeft) + `" x2="` +
		coord(padLeft+plotW) + `" y1="` + base + `" y2="` + base + `" stroke="currentColor"/><line x1="` + coord(padLeft) +
		`" x2="` + coord(padLeft) + `" y1="` + coord(padTop) + `" y2="` + base + `" stroke="currentColor"/>`)
	for t := firstTick(c.Start, tickEvery); !t.After(end); t = t.Add(tickEvery) {
		xx := coord(x(t.Sub(c.Start)))
		b.WriteString(`<line x1="` + xx + `" x2="` + xx + `" y1="` + base + `" y2="` + coord(padTop+plotH+4) +
			`" stroke="currentColor"/><text x="` + xx + `" y="` + coord(padTop+plotH+16) + `" text-anchor="middle">` +
			esc(t.Format(layout)) + `</text>`)
	}
	b.WriteString(`</g>`)

	// The series.
	for i, s := range c.Series {
		dash := Dashes[i%len(Dashes)]
		b.WriteString(`<g class="line s` + strconv.Itoa(i) + `"><title>` + esc(s.Label) + `</title><path fill="none" stroke="currentColor" stroke-width="2"`)
		if dash != "" {
			b.WriteString(` stroke-dasharray="` + dash + `"`)
		}
		b.WriteString(` d="`)
		var marks []int
		run := 0
		for j, v := range s.Values {
			if !drawable(v) {
				if run == 1 {
					marks = append(marks, j-1)
				}
				run = 0
				continue
			}
			if run == 0 {
				b.WriteByte('M')
			} else {
				b.WriteByte('L')
			}
			b.WriteString(coord(x(time.Duration(j) * step)))
			b.WriteByte(' ')
			b.WriteString(coord(y(v)))
			run++
		}
		if run == 1 {
			marks = append(marks, len(s.Values)-1)
		}
		b.WriteString(`"/>`)
		for _, j := range marks {
			b.WriteString(`<circle cx="` + coord(x(time.Duration(j)*step)) + `" cy="` + coord(y(s.Values[j])) +
				`" r="3" fill="currentColor"/>`)
		}
		b.WriteString(`</g>`)
	}

	// The legend: a dash sample and the label of each series.
	b.WriteString(`<g class="legend" font-size="12" fill="currentColor">`)
	lx := float64(padLeft)
	ly := float64(chartH - 12)
	for i, s := range c.Series {
		dash := Dashes[i%len(Dashes)]
		b.WriteString(`<g class="s` + strconv.Itoa(i) + `"><line x1="` + coord(lx) + `" x2="` + coord(lx+28) + `" y1="` +
			coord(ly-4) + `" y2="` + coord(ly-4) + `" stroke="currentColor" stroke-width="2"`)
		if dash != "" {
			b.WriteString(` stroke-dasharray="` + dash + `"`)
		}
		b.WriteString(`/><text x="` + coord(lx+34) + `" y="` + coord(ly) + `">` + esc(s.Label) + `</text></g>`)
		lx += 34 + 7*float64(len([]rune(s.Label))) + 18
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

func drawable(v float64) bool { return finite(v) && math.Abs(v) <= limit }

// summary is a series in one sentence: "Running: now 4, lowest 0, highest 12."
func summary(s Series) string {
	last, lo, hi := math.NaN(), math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		if drawable(v) {
			last, lo, hi = v, min(lo, v), max(hi, v)
		}
	}
	if math.IsNaN(last) {
		return s.Label + ": no data."
	}
	return s.Label + ": latest " + Number(last) + ", lowest " + Number(lo) + ", highest " + Number(hi) + "."
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// timeTicks picks the spacing of time ticks for a span, at most about seven
// ticks, and the layout of their labels.
func timeTicks(span time.Duration) (time.Duration, string) {
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if span/d <= 7 {
			return d, "15:04"
		}
	}
	day := 24 * time.Hour
	for _, m := range []time.Duration{1, 2, 7, 14, 30, 90, 365} {
		if span/(m*day) <= 7 {
			return m * day, "Jan 2"
		}
	}
	return span/7 + 1, "2006-01-02"
}

// firstTick is the first multiple of every at or after start, counted in
// start's location (so hour ticks fall on the hour, day ticks at midnight).
func firstTick(start time.Time, every time.Duration) time.Time {
	_, off := start.Zone()
	shift := time.Duration(off) * time.Second
	t := start.Add(shift).Truncate(every).Add(-shift)
	if t.Before(start) {
		t = t.Add(every)
	}
	return t
}
