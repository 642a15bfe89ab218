package wal

import (
	"errors"
	"fmt"
	"time"

	"github.com/dualdb/dualdb/internal/dberr"
)

// lockSlice is how long one attempt of a writer's Open waits for the file
// lock before it asks who holds it: a writer fails fast against another
// writer and keeps waiting, up to Options.LockTimeout, while only
// read-only opens hold the file.
const lockSlice = 250 * time.Millisecond

// LockedError is returned by Open when the file lock could not be taken
// in time. It says who holds the file; errors.Is(err, dberr.ErrLocked) holds
// for it.
type LockedError struct {
	Path   string
	Writer bool          // a writer holds the file; false: read-only opens hold it
	Waited time.Duration // how long Open waited
}

// Error implements error.
func (e *LockedError) Error() string {
	if e.Writer {
		return fmt.Sprintf("dualdb: store is locked: %s is held by a writer (another DB, in this process or another, has it open for writing)", e.Path)
	}
	return fmt.Sprintf("dualdb: store is locked: %s is held by read-only opens (waited %v for them to release it)", e.Path, e.Waited.Round(time.Millisecond))
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return dberr.ErrLocked }

// Open opens or creates the log at path. A read-only Open takes a shared
// lock and waits for a writer at most Options.LockTimeout. A writer's
// Open returns ErrLocked quickly when a writer holds the file, and waits
// up to Options.LockTimeout while only read-only opens hold it (they are
// expected to release it once they have loaded what they need).
func Open(path string, opts *Options) (*Log, error) {
	if opts == nil {
		opts = &Options{}
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 500 * time.Millisecond
	}
	if opts.ReadOnly {
		return openOnce(path, opts, timeout)
	}
	start := time.Now()
	for {
		slice := min(lockSlice, timeout-time.Since(start))
		l, err := openOnce(path, opts, max(slice, flockStep))
		var le *LockedError
		if !errors.As(err, &le) || le.Writer || time.Since(start) >= timeout {
			if le != nil {
				le.Waited = time.Since(start)
			}
			return l, err
		}
	}
}

// flockStep is the smallest wait worth asking bbolt for: it polls the lock
// every 50ms.
const flockStep = 60 * time.Millisecond

// lockedError describes a lock that could not be taken in time: a
// read-only open is kept out only by a writer; a writer asks whether a
// shared lock is free, which means read-only opens hold the file.
func lockedError(path string, readOnly bool) error {
	writer := readOnly || !sharedLockFree(path)
	return &LockedError{Path: path, Writer: writer}
}
