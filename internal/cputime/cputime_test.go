package cputime

import (
	"runtime"
	"testing"
	"time"
)

// Process counts the CPU time the process spends: it grows while this
// goroutine computes.
func TestProcessCPU(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("Process does not tell on", runtime.GOOS)
	}
	before, ok := Process()
	if !ok {
		t.Fatal("Process does not tell on a unix system")
	}
	deadline := time.Now().Add(time.Minute)
	x := uint64(1)
	for {
		for range 1_000_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		now, _ := Process()
		if now > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute of computing (%d) left the CPU time at %v", x, now)
		}
	}
}
