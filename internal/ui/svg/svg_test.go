package svg_test

import (
	"encoding/xml"
	"html/template"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/ui/svg"
)

// node is a parsed SVG element.
type node struct {
	Name  string
	Attr  map[string]string
	Text  string
	Kids  []*node
	Outer *node
}

// parse parses out as XML (failing the test when it is not well formed) and
// returns its root element.
func parse(t *testing.T, out template.HTML) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(out)))
	d.Strict = true
	var root, cur *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, out)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			n := &node{Name: e.Name.Local, Attr: map[string]string{}, Outer: cur}
			for _, a := range e.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if cur == nil {
				if root != nil {
					t.Fatalf("two root elements in %s", out)
				}
				root = n
			} else {
				cur.Kids = append(cur.Kids, n)
			}
			cur = n
		case xml.EndElement:
			cur = cur.Outer
		case xml.CharData:
			if cur != nil {
				cur.Text += string(e)
			}
		}
	}
	if root == nil || root.Name != "svg" {
		t.Fatalf("root is not <svg>: %s", out)
	}
	return root
}

// all returns every element named name under n, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if m.Name == name {
			out = append(out, m)
		}
		for _, k := range m.Kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

func (n *node) texts() []string {
	var out []string
	for _, t := range n.all("text") {
		out = append(out, t.Text)
	}
	return out
}

func (n *node) child(name string) *node {
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// accessible checks the chart's role, title and desc and their ids.
func accessible(t *testing.T, root *node, id, title string) {
	t.Helper()
	if root.Attr["role"] != "img" {
		t.Errorf("role = %q, want img", root.Attr["role"])
	}
	ti, de := root.child("title"), root.child("desc")
	if ti == nil || de == nil {
		t.Fatalf("missing title or desc")
	}
	if ti.Text != title {
		t.Errorf("title = %q, want %q", ti.Text, title)
	}
	if want := id + "-t " + id + "-d"; root.Attr["aria-labelledby"] != want || ti.Attr["id"] != id+"-t" || de.Attr["id"] != id+"-d" {
		t.Errorf("aria-labelledby %q, ids %q %q; want %q", root.Attr["aria-labelledby"], ti.Attr["id"], de.Attr["id"], want)
	}
	if !strings.HasPrefix(root.Attr["viewBox"], "0 0 ") {
		t.Errorf("viewBox = %q", root.Attr["viewBox"])
	}
}

const hostile = `<script>alert("x")</script> & 'q'`

func TestBars(t *testing.T) {
	tests := []struct {
		name      string
		bars      []svg.Bar
		wantTexts []string // every text element in order
		wantFills []string // the fill widths, one per bar with a fill
		wantOver  int
	}{
		{
			name:      "half and full",
			bars:      []svg.Bar{{Label: "CPUs", Used: 16, Total: 32, Unit: "cores"}, {Label: "GPUs", Used: 4, Total: 4}},
			wantTexts: []string{"CPUs", "16 / 32 cores (50%)", "GPUs", "4 / 4 (100%)"},
			wantFills: []string{"159.5", "319"},
		},
		{
			name:      "zero total draws an empty track",
			bars:      []svg.Bar{{Label: "GPUs", Used: 0, Total: 0, Unit: "GPUs"}},
			wantTexts: []string{"GPUs", "0 / 0 GPUs"},
		},
		{
			name:      "over the total fills the track and is marked",
			bars:      []svg.Bar{{Label: "memory", Used: 96, Total: 64, Unit: "GB"}},
			wantTexts: []string{"memory", "96 / 64 GB (150%)"},
			wantFills: []string{"319"},
			wantOver:  1,
		},
		{
			name:      "huge values keep their numbers readable",
			bars:      []svg.Bar{{Label: "bytes", Used: 1.5e15, Total: 3e15}},
			wantTexts: []string{"bytes", "1.5P / 3P (50%)"},
			wantFills: []string{"159.5"},
		},
		{
			name:      "a tiny part still shows",
			bars:      []svg.Bar{{Label: "cores", Used: 1, Total: 1e6}},
			wantTexts: []string{"cores", "1 / 1M (0%)"},
			wantFills: []string{"0.5"},
		},
		{
			name:      "not a number counts as nothing used",
			bars:      []svg.Bar{{Label: "x", Used: math.NaN(), Total: 8}},
			wantTexts: []string{"x", "n/a / 8 (0%)"},
		},
		{
			name:      "labels are escaped",
			bars:      []svg.Bar{{Label: hostile, Used: 1, Total: 2, Unit: "<u>"}},
			wantTexts: []string{`<script>alert("x")</script> …`, "1 / 2 <u> (50%)"},
			wantFills: []string{"159.5"},
		},
		{
			name:      "a long label is shortened, whole in its title and the desc",
			bars:      []svg.Bar{{Label: "a-very-long-account-name@physics.example.org", Used: 22.5, Total: 30, Unit: "CPU-hours"}},
			wantTexts: []string{"a-very-long-accoun…", "22.5 / 30 CPU-hours (75%)"},
			wantFills: []string{"239.2"},
		},
		{
			name:      "no bars",
			wantTexts: []string{"nothing to show"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := svg.Bars("w<1>", "Worker w1", tt.bars)
			if strings.Contains(string(out), "<script") {
				t.Fatalf("unescaped label in %s", out)
			}
			root := parse(t, out)
			accessible(t, root, "w1", "Worker w1")
			if got := root.texts(); strings.Join(got, "|") != strings.Join(tt.wantTexts, "|") {
				t.Errorf("texts = %q, want %q", got, tt.wantTexts)
			}
			var fills []string
			over := 0
			for _, g := range root.all("g") {
				if strings.Contains(g.Attr["class"], "over") {
					over++
				}
			}
			for _, r := range root.all("rect") {
				if r.Attr["class"] == "fill" {
					fills = append(fills, r.Attr["width"])
				}
			}
			if strings.Join(fills, " ") != strings.Join(tt.wantFills, " ") {
				t.Errorf("fill widths = %q, want %q", fills, tt.wantFills)
			}
			if over != tt.wantOver {
				t.Errorf("%d bars marked over, want %d", over, tt.wantOver)
			}
			desc := root.child("desc").Text
			for _, r := range tt.bars {
				if !strings.Contains(desc, r.Label) {
					t.Errorf("desc %q lacks the whole label %q", desc, r.Label)
				}
			}
			for i := 1; i < len(tt.wantTexts); i += 2 {
				if !strings.Contains(desc, tt.wantTexts[i]) {
					t.Errorf("desc %q does not say %q", desc, tt.wantTexts[i])
				}
			}
		})
	}
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func TestTimeSeries(t *testing.T) {
	day := make([]float64, 97) // 24 hours every 15 minutes
	pend := make([]float64, 97)
	for i := range day {
		day[i] = float64(i % 10)
		pend[i] = float64(100 - i)
	}
	tests := []struct {
		name       string
		series     []svg.Series
		step       time.Duration
		wantPaths  []int    // points per path
		wantMarks  int      // isolated points marked
		wantTicks  []string // x tick labels
		wantYMax   string   // the top y tick
		wantDesc   []string
		wantNoData bool
	}{
		{
			name:      "two series over 24 hours",
			series:    []svg.Series{{Label: "running", Values: day}, {Label: "pending", Values: pend}},
			step:      15 * time.Minute,
			wantPaths: []int{97, 97},
			wantTicks: []string{"12:00", "16:00", "20:00", "00:00", "04:00", "08:00"},
			wantYMax:  "100",
			wantDesc:  []string{"From 10:00 to 10:00.", "running: latest 6, lowest 0, highest 9.", "pending: latest 4, lowest 4, highest 100."},
		},
		{
			name:       "empty series",
			series:     []svg.Series{{Label: "running"}, {Label: "pending", Values: []float64{}}},
			step:       time.Hour,
			wantNoData: true,
		},
		{
			name:       "no series",
			wantNoData: true,
		},
		{
			name:      "one point is a marker",
			series:    []svg.Series{{Label: "running", Values: []float64{3}}},
			step:      time.Hour,
			wantPaths: []int{1},
			wantMarks: 1,
			wantTicks: []string{"10:00"},
			wantYMax:  "3",
		},
		{
			name:      "gaps split the line and mark lone points",
			series:    []svg.Series{{Label: "r", Values: []float64{1, 2, math.NaN(), 4, math.Inf(1), 5, 6}}},
			step:      time.Hour,
			wantPaths: []int{5},
			wantMarks: 1,
			wantYMax:  "6",
		},
		{
			name:      "all zero",
			series:    []svg.Series{{Label: "r", Values: []float64{0, 0, 0}}},
			step:      time.Hour,
			wantPaths: []int{3},
			wantYMax:  "1",
		},
		{
			name:      "huge values",
			series:    []svg.Series{{Label: "r", Values: []float64{0, 3e12, 1.7e308}}},
			step:      time.Hour,
			wantPaths: []int{2},
			wantYMax:  "3T",
			wantDesc:  []string{"r: latest 3T, lowest 0, highest 3T."},
		},
		{
			name:      "negative values",
			series:    []svg.Series{{Label: "r", Values: []float64{-5, 5}}},
			step:      time.Hour,
			wantPaths: []int{2},
			wantYMax:  "5",
		},
		{
			name:      "labels are escaped",
			series:    []svg.Series{{Label: hostile, Values: []float64{1, 2}}},
			step:      time.Hour,
			wantPaths: []int{2},
			wantDesc:  []string{hostile + ": latest 2"},
		},
		{
			name:      "days",
			series:    []svg.Series{{Label: "usage", Values: make([]float64, 15)}},
			step:      24 * time.Hour,
			wantPaths: []int{15},
			wantTicks: []string{"Dec 5", "Dec 7", "Dec 9", "Dec 11", "Dec 13", "Dec 15", "Dec 17"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := svg.TimeSeries(svg.TimeChart{ID: "hist", Title: "Jobs <24h>", Unit: "jobs", Start: t0, Step: tt.step, Series: tt.series})
			if strings.Contains(string(out), "<script") {
				t.Fatalf("unescaped label in %s", out)
			}
			root := parse(t, out)
			accessible(t, root, "hist", "Jobs <24h>")
			desc := root.child("desc").Text
			if tt.wantNoData {
				if len(root.all("path")) != 0 || !strings.Contains(desc, "No data") {
					t.Errorf("want an empty chart saying no data, got %s", out)
				}
				return
			}
			paths := root.all("path")
			if len(paths) != len(tt.series) {
				t.Fatalf("%d paths, want %d", len(paths), len(tt.series))
			}
			dashes := map[string]bool{}
			for i, p := range paths {
				d := p.Attr["d"]
				if got := strings.Count(d, "M") + strings.Count(d, "L"); got != tt.wantPaths[i] {
					t.Errorf("path %d has %d points, want %d: %s", i, got, tt.wantPaths[i], d)
				}
				dashes[p.Attr["stroke-dasharray"]] = true
			}
			if len(dashes) != len(paths) {
				t.Errorf("series share a dash pattern: %v", dashes)
			}
			if got := len(root.all("circle")); got != tt.wantMarks {
				t.Errorf("%d markers, want %d", got, tt.wantMarks)
			}
			var legend, xticks, yticks []string
			for _, g := range root.all("g") {
				switch g.Attr["class"] {
				case "legend":
					legend = g.texts()
					if n := len(g.all("line")); n != len(tt.series) {
						t.Errorf("legend has %d samples, want %d", n, len(tt.series))
					}
				case "axis x":
					xticks = g.texts()
				case "axis y":
					yticks = g.texts()
				}
			}
			for i, s := range tt.series {
				if i >= len(legend) || legend[i] != s.Label {
					t.Errorf("legend = %q, want the labels in order", legend)
				}
			}
			if tt.wantTicks != nil && strings.Join(xticks, " ") != strings.Join(tt.wantTicks, " ") {
				t.Errorf("x ticks = %q, want %q", xticks, tt.wantTicks)
			}
			if tt.wantYMax != "" && (len(yticks) < 3 || yticks[len(yticks)-2] != tt.wantYMax || yticks[len(yticks)-1] != "jobs") {
				t.Errorf("y ticks = %q, want the top one %q then the unit", yticks, tt.wantYMax)
			}
			for _, w := range tt.wantDesc {
				if !strings.Contains(desc, w) {
					t.Errorf("desc %q does not say %q", desc, w)
				}
			}
			for _, p := range paths {
				for _, f := range strings.FieldsFunc(p.Attr["d"], func(r rune) bool { return r == 'M' || r == 'L' || r == ' ' }) {
					if strings.ContainsAny(f, "NaInf") || strings.Contains(f, "e") {
						t.Fatalf("path coordinate %q in %s", f, p.Attr["d"])
					}
				}
			}
		})
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 7: "7", 2.5: "2.5", 1.0 / 3: "0.333", 9999: "9999", 12500: "12.5k", 3e6: "3M",
		-42000: "-42k", 1e21: "1e+21", math.NaN(): "n/a", math.Inf(-1): "n/a",
		0.000583: "0.000583", 0.00030000000000000003: "0.0003", -0.25: "-0.25", 0.1234: "0.123", 1.005: "1", 3e-9: "3e-09",
	} {
		if got := svg.Number(v); got != want {
			t.Errorf("Number(%v) = %q, want %q", v, got, want)
		}
	}
}

func BenchmarkTimeSeries(b *testing.B) {
	run, pend := make([]float64, 97), make([]float64, 97)
	for i := range run {
		run[i], pend[i] = float64(i%17), float64(1000-i*3)
	}
	c := svg.TimeChart{ID: "h", Title: "Running and pending jobs", Unit: "jobs", Start: t0, Step: 15 * time.Minute,
		Series: []svg.Series{{Label: "running", Values: run}, {Label: "pending", Values: pend}}}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(svg.TimeSeries(c))
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkBars(b *testing.B) {
	bars := make([]svg.Bar, 3*64) // 64 workers, three bars each
	for i := range bars {
		bars[i] = svg.Bar{Label: "node", Used: float64(i % 33), Total: 32, Unit: "cores"}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(svg.Bars("w", "workers", bars))
	}
	b.ReportMetric(float64(n), "bytes")
}
