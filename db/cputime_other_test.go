//go:build !linux

package db_test

import "time"

// cpuTime is 0 where getrusage is not wired up.
func cpuTime() time.Duration { return 0 }
