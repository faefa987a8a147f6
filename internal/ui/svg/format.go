package svg

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// esc escapes s for SVG text and attribute values.
func esc(s string) string { return template.HTMLEscapeString(s) }

// safeID keeps the characters of id that are safe in an XML id and in a
// url(#...) reference; an empty result becomes "chart".
func safeID(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}

// Number formats v for a label: integers as they are, fractions with at most
// two decimals (three significant digits under 1: 0.000583), and values of
// 10,000 or more with an SI suffix (12.5k, 3M). NaN and infinities print as
// "n/a".
func Number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	a := math.Abs(v)
	if a >= 1e4 {
		for _, u := range []struct {
			f float64
			s string
		}{{1e18, "E"}, {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
			if a >= u.f {
				if a >= 1e21 {
					return strconv.FormatFloat(v, 'g', 3, 64)
				}
				return trim(strconv.FormatFloat(v/u.f, 'f', 1, 64)) + u.s
			}
		}
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	if a < 1 {
		if a < 1e-6 {
			return strconv.FormatFloat(v, 'g', 3, 64)
		}
		p := math.Pow(10, 2-math.Floor(math.Log10(a)))
		return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
	}
	return trim(strconv.FormatFloat(v, 'f', 2, 64))
}

func trim(s string) string {
	if strings.IndexByte(s, '.') < 0 {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// coord formats a coordinate with one decimal.
func coord(v float64) string {
	return trim(strconv.FormatFloat(v, 'f', 1, 64))
}

// finite reports whether v is a number that can be drawn.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
