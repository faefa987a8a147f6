package svg

import (
	"html/template"
	"strings"
)

// Bar is one horizontal usage bar: Used of Total, in Unit ("cores", "GB").
type Bar struct {
	Label string
	Used  float64
	Total float64
	Unit  string
}

// Percent is Used over Total in percent, 0 when Total is not positive or
// either is not a number.
func (b Bar) Percent() float64 {
	if !(b.Total > 0) || !finite(b.Total) || !finite(b.Used) || b.Used <= 0 {
		return 0
	}
	return 100 * b.Used / b.Total
}

// Text is the bar's numbers as the chart prints them: "12 / 32 cores (38%)".
func (b Bar) Text() string {
	var s strings.Builder
	s.WriteString(Number(b.Used))
	s.WriteString(" / ")
	s.WriteString(Number(b.Total))
	if b.Unit != "" {
		s.WriteByte(' ')
		s.WriteString(b.Unit)
	}
	if b.Total > 0 && finite(b.Total) {
		s.WriteString(" (")
		s.WriteString(Number(float64(int64(b.Percent() + 0.5))))
		s.WriteString("%)")
	}
	return s.String()
}

const (
	barChars  = 46  // characters of 11-unit text that fit on a bar's line
	barWidth  = 320 // viewBox width
	barRow    = 34  // height of one bar with its text line
	barHeight = 12
)

// Bars draws bars one under the other, each as a text line (the label on
// the left, the numbers on the right) above a track filled in proportion.
// A bar over its total fills the track and gets the class "over"; a zero
// total draws an empty track. title names the chart for screen readers; id
// makes its title and desc ids unique on the page.
func Bars(id, title string, bars []Bar) template.HTML {
	id = safeID(id)
	h := max(len(bars), 1) * barRow
	var b strings.Builder
	b.Grow(256 + 360*len(bars))
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img" font-size="11" viewBox="0 0 `)
	b.WriteString(coord(barWidth))
	b.WriteByte(' ')
	b.WriteString(coord(float64(h)))
	b.WriteString(`" aria-labelledby="` + id + `-t ` + id + `-d"><title id="` + id + `-t">`)
	b.WriteString(esc(title))
	b.WriteString(`</title><desc id="` + id + `-d">`)
	for i, r := range bars {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(esc(r.Label))
		b.WriteString(": ")
		b.WriteString(esc(r.Text()))
	}
	if len(bars) == 0 {
		b.WriteString("nothing to show")
	}
	b.WriteString(`</desc>`)
	if len(bars) == 0 {
		b.WriteString(`<text x="0" y="20" fill="currentColor">nothing to show</text></svg>`)
		return template.HTML(b.String())
	}
	for i, r := range bars {
		y := float64(i * barRow)
		frac := r.Percent() / 100
		over := frac > 1
		frac = min(frac, 1)
		b.WriteString(`<g class="bar`)
		if over {
			b.WriteString(` over`)
		}
		b.WriteString(`"><text x="0" y="`)
		b.WriteString(coord(y + 12))
		b.WriteString(`" fill="currentColor">`)
		if short := fit(r.Label, barChars-len(r.Text())-2); short != r.Label {
			b.WriteString(`<title>` + esc(r.Label) + `</title>` + esc(short))
		} else {
			b.WriteString(esc(r.Label))
		}
		b.WriteString(`</text><text x="`)
		b.WriteString(coord(barWidth))
		b.WriteString(`" y="`)
		b.WriteString(coord(y + 12))
		b.WriteString(`" text-anchor="end" fill="currentColor">`)
		b.WriteString(esc(r.Text()))
		b.WriteString(`</text><rect class="track" x="0.5" y="`)
		b.WriteString(coord(y + 16.5))
		b.WriteString(`" width="`)
		b.WriteString(coord(barWidth - 1))
		b.WriteString(`" height="` + coord(barHeight) + `" fill="none" stroke="currentColor"/>`)
		if frac > 0 {
			b.WriteString(`<rect class="fill" x="0.5" y="`)
			b.WriteString(coord(y + 16.5))
			b.WriteString(`" width="`)
			b.WriteString(coord(max((barWidth-1)*frac, 0.5)))
			b.WriteString(`" height="` + coord(barHeight) + `" fill="currentColor" fill-opacity="0.45"/>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// fit shortens label to n characters (at least 4), ending it with "…",
// when it is longer.
func fit(label string, n int) string {
	rs := []rune(label)
	n = max(n, 4)
	if len(rs) <= n {
		return label
	}
	return string(rs[:n-1]) + "…"
}
