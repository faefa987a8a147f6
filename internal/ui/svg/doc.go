// Package svg draws the dashboard's charts as inline SVG on the server: no
// chart library, no script. Its functions are pure (data in, markup out) and
// return html/template.HTML with every label escaped, so a page template can
// place a chart as it is.
//
// Every chart is readable without colour: usage bars print their numbers as
// text beside the bar, and the series of a time chart differ by dash pattern
// and by the label in the legend as well as by their CSS class (s0, s1, ...),
// which the page's stylesheet may colour. Strokes and text default to
// currentColor, so a chart follows the page's light or dark theme. Each chart
// carries a <title> and a <desc> that summarise it for screen readers.
package svg
