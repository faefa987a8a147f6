package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// schedGoBench gives scenario 7 the scheduler issue's own figures: the pure
// core (BenchmarkSchedule) and a cycle against PostgreSQL (BenchmarkCycle)
// at 100k pending jobs and 1,000 workers, run with go test from the source
// tree (make bench-sched runs all their sizes). BenchmarkCycle times the
// steady state of a full cluster: snapshot and plan, with no start to
// commit. It bounds no goal; the full cycle's goal is judged on rcqd's own
// cycle that commits thousands of starts (schedCycle).
func (b *Bench) schedGoBench(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	b.logf("scenario 7: go test -bench (pure core and full cycle, 100k jobs x 1000 workers)")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^(BenchmarkSchedule|BenchmarkCycle)$/^100kx1000$",
		"-benchtime", "3x", "./internal/sched")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench ./internal/sched: %w: %s", err, out)
	}
	got := parseGoBench(out)
	for _, r := range []struct {
		bench, name string
		goal        float64
	}{
		{"BenchmarkSchedule/100kx1000", "pure core (BenchmarkSchedule)", 50},
		{"BenchmarkCycle/100kx1000", "steady cycle, no starts (BenchmarkCycle)", 0},
	} {
		ns, ok := got[r.bench]
		if !ok {
			return fmt.Errorf("no %s in the go test output: %s", r.bench, out)
		}
		res := Result{7, r.name, params("pending", 100000, "workers", 1000, "runs", 3), "ms", ns / 1e6, "", nil}
		if r.goal > 0 {
			res = res.goal(false, r.goal)
		}
		b.add(res)
	}
	return nil
}

// parseGoBench returns ns/op by benchmark name (without the -GOMAXPROCS
// suffix) from go test -bench output.
func parseGoBench(out []byte) map[string]float64 {
	res := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i+1] == "ns/op" {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					name := f[0]
					if j := strings.LastIndexByte(name, '-'); j > 0 {
						if _, err := strconv.Atoi(name[j+1:]); err == nil {
							name = name[:j]
						}
					}
					res[name] = v
				}
			}
		}
	}
	return res
}

// moduleRoot finds rcq's source tree from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/rcq-project/rcq\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside rcq's source tree: run rcq-bench from it (make bench), or -sched=false")
		}
		dir = parent
	}
}
