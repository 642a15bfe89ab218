package db

import (
	"fmt"
	"path/filepath"

	"github.com/dualdb/dualdb/wal"
)

// LockedError is the error Open returns, wrapping ErrLocked, when the
// store is held: Writer says whether a writer holds it or read-only opens
// that are still loading it.
type LockedError = wal.LockedError

// walOptions are the options wal.db is opened with: a writer waits for
// read-only opens up to Options.LockTimeout; a read-only open waits for a
// writer only briefly (wal's default), so that a caller soon learns that a
// writer holds the store and can ask it over its socket instead.
func (d *DB) walOptions() *wal.Options {
	o := &wal.Options{NoSync: d.opts.NoSync, ReadOnly: d.opts.ReadOnly}
	if !d.opts.ReadOnly {
		o.LockTimeout = d.opts.LockTimeout
	}
	return o
}

// loaded prepares live operations once the store is loaded: it records
// the store's absolute directory (what /v1/status reports, whatever the
// working directory becomes), and a read-only open closes wal.db, and so
// drops its shared lock: it serves from memory afterwards and must not
// keep a writer out. A writer keeps its file open.
func (d *DB) loaded() error {
	d.live.absDir = d.dir
	if abs, err := filepath.Abs(d.dir); err == nil {
		d.live.absDir = abs
	}
	if !d.opts.ReadOnly {
		return nil
	}
	if err := d.log.Close(); err != nil {
		return fmt.Errorf("dualdb: release %s: %w", d.walPath(), err)
	}
	return nil
}
