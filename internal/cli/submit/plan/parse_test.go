package plan

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/cli/submit/argv"
)

func TestParseTime(t *testing.T) {
	good := map[string]time.Duration{
		"90":         90 * time.Minute,
		"0":          0,
		"UNLIMITED":  0,
		"infinite":   0,
		"5:30":       5*time.Minute + 30*time.Second,
		"1:30:00":    90 * time.Minute,
		"2-00":       48 * time.Hour,
		"2-3":        51 * time.Hour,
		"1-02:03":    26*time.Hour + 3*time.Minute,
		"1-02:03:04": 26*time.Hour + 3*time.Minute + 4*time.Second,
		" 10 ":       10 * time.Minute,
		"0:30":       30 * time.Second,
		"120:00:00":  120 * time.Hour,
	}
	for in, want := range good {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1h", "1:2:3:4", "1-2:3:4:5", "a", "1-", "-5", "1--2", "1.5", "1:", ":1", "1-2-3", "9999999999", "999999999-0"} {
		if d, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, d)
		} else if !strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("ParseTime(%q) error %q does not quote the value", in, err)
		}
	}
}

func TestParseMem(t *testing.T) {
	good := map[string]int{
		"4G": 4, "4g": 4, "4GB": 4, "512M": 1, "1024": 1, "1025": 2, "2048M": 2, "1T": 1024,
		"1048576K": 1, "1048577K": 2, "0": 0, "1": 1, "1500M": 2, "16384": 16,
	}
	for in, want := range good {
		got, err := ParseMem(in)
		if err != nil || got != want {
			t.Errorf("ParseMem(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "4X", "G", "-1G", "1.5G", "4B", "4BB", "4GG", "4 G", "99999999999999999999", "9999999999T", "4Gi"} {
		if gb, err := ParseMem(in); err == nil {
			t.Errorf("ParseMem(%q) = %d, want an error", in, gb)
		}
	}
}

func TestParseMemPer(t *testing.T) {
	for _, c := range []struct {
		in    string
		cores int
		want  int
	}{{"2G", 2, 4}, {"1500M", 3, 5}, {"512M", 4, 2}, {"512M", 1, 1}, {"0", 8, 0}} {
		if got, err := ParseMemPer(c.in, c.cores); err != nil || got != c.want {
			t.Errorf("ParseMemPer(%q, %d) = %d, %v; want %d", c.in, c.cores, got, err, c.want)
		}
	}
	if _, err := ParseMemPer("1T", 1<<20); err == nil {
		t.Error("1T x 2^20 cores: want too large")
	}
}

func TestParseGPUsAndGres(t *testing.T) {
	n, typ, err := ParseGPUs("a100:2")
	if err != nil || n != 2 || typ != "a100" {
		t.Errorf("ParseGPUs(a100:2) = %d %q %v", n, typ, err)
	}
	if n, _, err := ParseGPUs("3"); err != nil || n != 3 {
		t.Errorf("ParseGPUs(3) = %d %v", n, err)
	}
	for _, in := range []string{"", "x", "a100:", ":2", "2:2:2", "-1"} {
		if _, _, err := ParseGPUs(in); err == nil {
			t.Errorf("ParseGPUs(%q): want an error", in)
		}
	}
	cases := []struct {
		in      string
		n       int
		typ     string
		ignored []string
	}{
		{"gpu:2", 2, "", nil},
		{"gpu", 1, "", nil},
		{"gpu:v100:4", 4, "v100", nil},
		{"gpu:tesla", 1, "tesla", nil},
		{"shard:2,gpu:1", 1, "", []string{"shard:2"}},
		{"mps:100", 0, "", []string{"mps:100"}},
	}
	for _, c := range cases {
		n, typ, ignored, err := ParseGres(c.in)
		if err != nil || n != c.n || typ != c.typ || !reflect.DeepEqual(ignored, c.ignored) {
			t.Errorf("ParseGres(%q) = %d %q %v %v", c.in, n, typ, ignored, err)
		}
	}
	for _, in := range []string{"", "gpu:", "gpu:a:b:c", "gpu:1,gpu:2", ",", "gpu:x:y", "g pu"} {
		if _, _, _, err := ParseGres(in); err == nil {
			t.Errorf("ParseGres(%q): want an error", in)
		}
	}
}

func TestSplitWords(t *testing.T) {
	cases := map[string][]string{
		` --mem=4G -J "my job"`:         {"--mem=4G", "-J", "my job"},
		` -o 'out %j.txt'`:              {"-o", "out %j.txt"},
		` --wrap="echo \"hi\" \$HOME"`:  {`--wrap=echo "hi" $HOME`},
		` a\ b c`:                       {"a b", "c"},
		` --mem=4G # a comment`:         {"--mem=4G"},
		` a#b`:                          {"a#b"},
		` ""`:                           {""},
		` x'y'"z"`:                      {"xyz"},
		"\t--time\t10":                  {"--time", "10"},
		` "a\nb"`:                       {`a\nb`},
		``:                              nil,
		` 'it''s'`:                      {"its"},
		` "single ' inside" 'dq " in'`:  {"single ' inside", `dq " in`},
		` --export=ALL,PATH="/a b",X=1`: {"--export=ALL,PATH=/a b,X=1"},
	}
	for in, want := range cases {
		got, err := SplitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{` "open`, ` 'open`, ` a"b`} {
		if _, err := SplitWords(in); err == nil {
			t.Errorf("SplitWords(%q): want an error", in)
		}
	}
}

func TestParseDirectives(t *testing.T) {
	script := `#!/bin/bash
# a comment
#SBATCH --job-name=first
  #SBATCH --mem=99G

#RCQ -c 4 --time 10
#SBATCHX --nope
#rcq --lowercase-is-a-comment
#SBATCH
echo start
#SBATCH --mem=1G
`
	got, err := ParseDirectives(script)
	if err != nil {
		t.Fatal(err)
	}
	want := []Directive{
		{Prefix: "SBATCH", Line: 3, Words: []string{"--job-name=first"}},
		{Prefix: "RCQ", Line: 6, Words: []string{"-c", "4", "--time", "10"}},
		{Prefix: "SBATCH", Line: 9, Words: nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDirectives = %+v\nwant %+v", got, want)
	}
	if _, err := ParseDirectives("#RCQ -J 'open\n"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("unterminated quote: %v", err)
	}
	// CRLF scripts work.
	got, _ = ParseDirectives("#!/bin/sh\r\n#SBATCH -J x\r\necho\r\n")
	if len(got) != 1 || got[0].Words[1] != "x" {
		t.Errorf("CRLF: %+v", got)
	}
}

func TestFromDirectives(t *testing.T) {
	dirs, _ := ParseDirectives(`#!/bin/sh
#SBATCH --cpu-freq high
#SBATCH -S 2
#SBATCH --cores-per-socket=1 -J sl
#SBATCH --cpu-freq=low
#SBATCH --hold -p rcq --exclusive
#RCQ --mem 4G -c8
#RCQ --job-name=rcq
`)
	var warnings []string
	s, err := fromDirectives(dirs, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatal(err)
	}
	if s["job-name"].value != "rcq" || s["mem"].value != "4G" || s["cpus-per-task"].value != "8" || s["hold"].value != "true" {
		t.Errorf("settings = %+v", s)
	}
	// Slurm's options rcq-submit knows are read from #SBATCH lines (an
	// optional value left out is argv.OptionalSet), never from #RCQ lines.
	if s["partition"].value != "rcq" || s["exclusive"].value != argv.OptionalSet {
		t.Errorf("partition %+v, exclusive %+v", s["partition"], s["exclusive"])
	}
	if s["job-name"].source != "#RCQ --job-name (line 8)" {
		t.Errorf("source = %q", s["job-name"].source)
	}
	// One warning per unsupported option, naming it.
	wantW := []string{"#SBATCH --cpu-freq is not supported by rcq and is ignored (line 2)",
		"#SBATCH -S is not supported by rcq and is ignored (line 3)",
		"#SBATCH --cores-per-socket is not supported by rcq and is ignored (line 4)"}
	if !reflect.DeepEqual(warnings, wantW) {
		t.Errorf("warnings = %q", warnings)
	}

	for script, msg := range map[string]string{
		"#RCQ --partition gpu\n": "#RCQ (line 1): unknown option --partition",
		"#RCQ --wrap hostname\n": "not allowed in a directive",
		"#RCQ gpu\n":             "is not an option",
		"#SBATCH --mem\n":        "--mem needs a value",
	} {
		dirs, err := ParseDirectives(script)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fromDirectives(dirs, func(string) {}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", script, err, msg)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	environ := []string{"HOME=/home/ann", "PATH=/bin", "RCQ_TOKEN=secret", "EMPTY=", "EQ=a=b"}
	cases := []struct {
		spec string
		want map[string]string
	}{
		{"", map[string]string{"HOME": "/home/ann", "PATH": "/bin", "EMPTY": "", "EQ": "a=b"}},
		{"ALL", map[string]string{"HOME": "/home/ann", "PATH": "/bin", "EMPTY": "", "EQ": "a=b"}},
		{"NONE", map[string]string{}},
		{"PATH,X=1,MISSING", map[string]string{"PATH": "/bin", "X": "1"}},
		{"ALL,PATH=/usr/bin", map[string]string{"HOME": "/home/ann", "PATH": "/usr/bin", "EMPTY": "", "EQ": "a=b"}},
		{"NONE,HOME", map[string]string{"HOME": "/home/ann"}},
		{"RCQ_TOKEN", map[string]string{"RCQ_TOKEN": "secret"}}, // asked for by name: the user's choice
	}
	for _, c := range cases {
		got, err := BuildEnv(c.spec, environ)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("BuildEnv(%q) = %v, %v; want %v", c.spec, got, err, c.want)
		}
	}
	for _, spec := range []string{"ALL,,X", "1X=2", "A-B", "ALL,=x"} {
		if _, err := BuildEnv(spec, environ); err == nil {
			t.Errorf("BuildEnv(%q): want an error", spec)
		}
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, seed := range []string{
		"#!/bin/sh\n#SBATCH --mem=4G\n#RCQ -J 'a b'\necho\n",
		"#SBATCH -o \"out %j\" # comment\n",
		"#RCQ --export=ALL,X=\"1,2\"\n#SBATCH\n\n  #SBATCH -c 2\n",
		"#SBATCH --wrap='unterminated\n",
		"\r\n#SBATCH\t-t\t1-00:00\r\nrun\n#SBATCH -J late\n",
		"#SBATCH a\\\nb \"c\\\"d\" 'e\\'\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		dirs, err := ParseDirectives(script)
		if err != nil {
			return
		}
		lines := strings.Split(script, "\n")
		last := 0
		for _, d := range dirs {
			if d.Line <= last || d.Line > len(lines) {
				t.Fatalf("directive line %d out of order or range", d.Line)
			}
			last = d.Line
			if !strings.HasPrefix(lines[d.Line-1], "#"+d.Prefix) {
				t.Fatalf("line %d %q is not a #%s directive", d.Line, lines[d.Line-1], d.Prefix)
			}
			// No line before a directive stops the scan.
			for _, l := range lines[:d.Line-1] {
				if tl := strings.TrimLeft(strings.TrimSuffix(l, "\r"), " \t"); tl != "" && tl[0] != '#' {
					t.Fatalf("directive on line %d after the non-comment %q", d.Line, l)
				}
			}
		}
		// Reading options never panics either.
		_, _ = fromDirectives(dirs, func(string) {})
	})
}

func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{"90", "5:30", "1:30:00", "2-00", "1-02:03", "1-02:03:04", "UNLIMITED", "0", "-1", "1-2-3", "999999999-999999999:999999999:999999999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTime(s)
		if err != nil {
			return
		}
		if d < 0 || d > maxTime || d%time.Second != 0 {
			t.Fatalf("ParseTime(%q) = %v", s, d)
		}
		if h := d.Hours(); math.IsNaN(h) || math.IsInf(h, 0) {
			t.Fatalf("ParseTime(%q) hours = %v", s, h)
		}
	})
}

func FuzzParseMem(f *testing.F) {
	for _, seed := range []string{"4G", "512M", "1T", "100K", "1024", "0", "4GB", "4X", "99999999999999999999", "9223372036854775807K"} {
		f.Add(seed)
	}
	f.Fuzz(func(tt *testing.T, s string) {
		gb, err := ParseMem(s)
		if err != nil {
			return
		}
		if gb < 0 || gb > maxMemGB {
			tt.Fatalf("ParseMem(%q) = %d", s, gb)
		}
		// No unit means megabytes: s and s+"M" are the same size.
		if t := strings.TrimSpace(s); t != "" && strings.Trim(t, "0123456789") == "" {
			if mb, err := ParseMem(t + "M"); err != nil || mb != gb {
				t2 := t + "M"
				tt.Fatalf("ParseMem(%q) = %d but ParseMem(%q) = %d, %v", s, gb, t2, mb, err)
			}
		}
	})
}
