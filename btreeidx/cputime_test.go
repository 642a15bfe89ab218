package btreeidx_test

import (
	"testing"

	"github.com/dualdb/dualdb/internal/cputime"
)

// measureCPU reports cpu-ns/op, the CPU time the process (benchmark loop
// and garbage collector) spent per op. On a loaded machine it is steadier
// than ns/op, which counts the time other processes held the CPU. Call it
// before the loop and the returned func after it. Where the platform does
// not tell the CPU time it reports nothing.
func measureCPU(b *testing.B) func() {
	start, ok := cputime.Process()
	return func() {
		end, _ := cputime.Process()
		if ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
