package slurm

import (
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TimeForms names the forms ParseTime accepts, for messages.
const TimeForms = "YYYY-MM-DD[THH:MM[:SS]], MMDD[YY], MM/DD[/YY], HH:MM[:SS] of today, now, now-N[seconds|minutes|hours|days|weeks], today, midnight"

// ParseTime reads a time as sacct's -S and -E take it, in loc, relative to
// now where the form is relative: YYYY-MM-DD[THH:MM[:SS]], MMDD[YY],
// MM/DD[/YY], HH:MM[:SS], now, now+N or now-N with a unit (seconds when none;
// minutes, hours, days, weeks, singular or plural), today and midnight (the
// start of today). A date without a time is its midnight.
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	now = now.In(loc)
	v := strings.ToLower(strings.TrimSpace(s))
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	bad := func() (time.Time, error) {
		return time.Time{}, rcq.Invalid("time", "%q is not a time: use %s", s, TimeForms)
	}
	switch v {
	case "now":
		return now, nil
	case "today", "midnight":
		return midnight, nil
	}
	if rest, ok := strings.CutPrefix(v, "now"); ok {
		sign := time.Duration(1)
		switch {
		case strings.HasPrefix(rest, "-"):
			sign = -1
		case strings.HasPrefix(rest, "+"):
		default:
			return bad()
		}
		rest = rest[1:]
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || i > 6 {
			return bad()
		}
		unit := time.Second
		switch strings.TrimSuffix(rest[i:], "s") {
		case "", "second":
		case "minute":
			unit = time.Minute
		case "hour":
			unit = time.Hour
		case "day":
			unit = 24 * time.Hour
		case "week":
			unit = 7 * 24 * time.Hour
		default:
			return bad()
		}
		return now.Add(sign * time.Duration(n) * unit), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.ToUpper(v), loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return midnight.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second), nil
		}
	}
	for _, layout := range []string{"0102", "010206", "01/02", "01/02/06"} {
		t, err := time.ParseInLocation(layout, v, loc)
		if err != nil || len(v) != len(layout) {
			continue
		}
		if !strings.Contains(layout, "06") {
			t = time.Date(now.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		return t, nil
	}
	return bad()
}
