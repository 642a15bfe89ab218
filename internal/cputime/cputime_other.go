//go:build !unix

package cputime

import "time"

// Process reports that the platform does not tell the process's CPU
// time.
func Process() (time.Duration, bool) { return 0, false }
