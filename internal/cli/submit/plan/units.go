package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxTime bounds --time so the arithmetic never overflows; rcqd applies its
// own, much lower, maximum.
const maxTime = 100 * 365 * 24 * time.Hour

const timeForms = "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, 1:30:00, 2-00)"

// ParseTime reads a time limit in Slurm's formats: M, M:S, H:M:S, D-H,
// D-H:M and D-H:M:S. "0", "UNLIMITED" and "INFINITE" mean no limit and give
// 0.
func ParseTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "UNLIMITED", "INFINITE":
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a time limit: use %s", s, timeForms)
	var days int64
	rest := s
	hasDays := false
	if d, r, ok := strings.Cut(s, "-"); ok {
		n, ok := number(d)
		if !ok {
			return 0, bad
		}
		days, rest, hasDays = n, r, true
	}
	parts := strings.Split(rest, ":")
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, ok := number(p)
		if !ok {
			return 0, bad
		}
		nums[i] = n
	}
	var h, m, sec int64
	switch {
	case hasDays && len(nums) == 1:
		h = nums[0]
	case hasDays && len(nums) == 2:
		h, m = nums[0], nums[1]
	case hasDays && len(nums) == 3:
		h, m, sec = nums[0], nums[1], nums[2]
	case len(nums) == 1:
		m = nums[0]
	case len(nums) == 2:
		m, sec = nums[0], nums[1]
	case len(nums) == 3:
		h, m, sec = nums[0], nums[1], nums[2]
	default:
		return 0, bad
	}
	// Each part has at most 9 digits, so this sum cannot overflow int64.
	total := ((days*24+h)*60+m)*60 + sec
	if total > int64(maxTime/time.Second) {
		return 0, fmt.Errorf("%q is too long: the most is %d days", s, int64(maxTime/(24*time.Hour)))
	}
	return time.Duration(total) * time.Second, nil
}

// number reads 1-9 decimal digits.
func number(s string) (int64, bool) { return digits(s, 9) }

// digits reads 1 to most decimal digits (most <= 18, so no overflow).
func digits(s string, most int) (int64, bool) {
	if s == "" || len(s) > most {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

const memForms = "a whole number with an optional unit K, M, G or T (e.g. 512M, 4G, 1T; no unit means megabytes)"

// maxMemGB bounds --mem so the arithmetic never overflows; rcqd applies its
// own limit.
const maxMemGB = 1 << 30

// ParseMem reads a memory size like sbatch --mem: a whole number with an
// optional unit K, M, G or T (powers of 1024, any case, an optional trailing
// B), megabytes when there is no unit. It returns whole gigabytes, rounded
// up: 512M is 1, 1500M is 2, 0 is 0.
func ParseMem(s string) (int, error) {
	return ParseMemPer(s, 1)
}

// ParseMemPer is ParseMem of a size per CPU core (sbatch --mem-per-cpu)
// times cores, rounded up once: 1500M per core on 2 cores is 3.
func ParseMemPer(s string, cores int) (int, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a memory size: use %s", s, memForms)
	num := strings.TrimRight(s, "KMGTkmgtBb")
	unit := strings.ToUpper(s[len(num):])
	unit = strings.TrimSuffix(unit, "B")
	if len(unit) > 1 {
		return 0, bad
	}
	if len(num) > 18 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	n, ok := digits(num, 18)
	if !ok {
		return 0, bad
	}
	// Convert to KiB, then round up to GiB.
	var kib int64
	switch unit {
	case "K":
		kib = n
	case "", "M":
		if unit == "" && strings.HasSuffix(strings.ToUpper(s), "B") {
			return 0, bad // "4B": bytes are not a unit sbatch takes
		}
		kib, ok = mul(n, 1<<10)
	case "G":
		kib, ok = mul(n, 1<<20)
	case "T":
		kib, ok = mul(n, 1<<30)
	default:
		return 0, bad
	}
	if ok && cores > 1 {
		kib, ok = mul(kib, int64(cores))
	}
	if !ok || kib/(1<<20) >= maxMemGB {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int((kib + (1<<20 - 1)) / (1 << 20)), nil
}

func mul(a, b int64) (int64, bool) {
	if a != 0 && a > (1<<62)/b {
		return 0, false
	}
	return a * b, true
}

// ParseGPUs reads -G/--gpus: N or TYPE:N. The type is returned for a warning
// (rcq does not distinguish GPU models).
func ParseGPUs(s string) (n int, typ string, err error) {
	s = strings.TrimSpace(s)
	count := s
	hasType := false
	if t, c, ok := strings.Cut(s, ":"); ok {
		typ, count, hasType = t, c, true
	}
	v, ok := number(count)
	if !ok || hasType && !validType(typ) {
		return 0, "", fmt.Errorf("%q is not a GPU count: use N or TYPE:N (e.g. 2 or a100:2)", s)
	}
	return int(v), typ, nil
}

// ParseGres reads --gres: a comma list of NAME[:TYPE][:N]. Only gpu is
// understood; the other names are returned to be warned about. A gpu entry
// without a count means 1.
func ParseGres(s string) (gpus int, typ string, ignored []string, err error) {
	bad := fmt.Errorf("%q is not a generic resource list: use gpu:N or gpu:TYPE:N (e.g. gpu:2)", s)
	found := false
	for _, item := range strings.Split(strings.TrimSpace(s), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return 0, "", nil, bad
		}
		fields := strings.Split(item, ":")
		if fields[0] != "gpu" {
			if !validType(fields[0]) {
				return 0, "", nil, bad
			}
			ignored = append(ignored, item)
			continue
		}
		if found {
			return 0, "", nil, fmt.Errorf("%q names gpu twice", s)
		}
		found = true
		n := int64(1)
		switch len(fields) {
		case 1:
		case 2:
			if v, ok := number(fields[1]); ok {
				n = v
			} else if validType(fields[1]) {
				typ = fields[1]
			} else {
				return 0, "", nil, bad
			}
		case 3:
			v, ok := number(fields[2])
			if !ok || !validType(fields[1]) {
				return 0, "", nil, bad
			}
			typ, n = fields[1], v
		default:
			return 0, "", nil, bad
		}
		gpus = int(n)
	}
	return gpus, typ, ignored, nil
}

func validType(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
