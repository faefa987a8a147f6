// Command rcq-bench runs rcq's end-to-end benchmarks (issue 6) against
// throwaway rcqd instances and prints one table. See docs/performance.md.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
