//go:build linux

package btreeidx_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureCPU reports cpu-ns/op, the CPU time the process (benchmark loop
// and garbage collector) spent per op. On a loaded machine it is steadier
// than ns/op, which counts the time other processes held the CPU.
// Call it before the loop and the returned func after it.
func measureCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
