//go:build unix

package wal

import (
	"os"
	"syscall"
)

// sharedLockFree reports whether a shared lock on path can be taken now,
// that is whether no writer holds it. It takes the lock and drops it at
// once.
func sharedLockFree(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() // read-only: nothing to lose
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // closing releases it anyway
	return true
}
