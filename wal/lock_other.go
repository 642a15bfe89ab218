//go:build !unix

package wal

// sharedLockFree cannot tell the holder apart on this platform; it says a
// writer holds the file, so that a writer's Open fails without waiting.
func sharedLockFree(string) bool { return false }
