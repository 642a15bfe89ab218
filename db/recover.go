package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/wal"
)

// open runs Open: lock and read wal.db, load the newest snapshot that
// verifies, replay the WAL after it, publish, start background work.
func (d *DB) open() (err error) {
	start := time.Now()
	fs := d.opts.FS
	if d.opts.ReadOnly {
		if _, err := fs.Stat(d.walPath()); err != nil {
			return fmt.Errorf("dualdb: open %s read-only: %w", d.dir, err)
		}
	} else {
		if err := fs.MkdirAll(d.dir, 0o700); err != nil {
			return fmt.Errorf("dualdb: create %s: %w", d.dir, err)
		}
	}
	d.log, err = wal.Open(d.walPath(), &wal.Options{NoSync: d.opts.NoSync, ReadOnly: d.opts.ReadOnly})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = d.log.Close()
		}
	}()
	if !d.opts.ReadOnly {
		// A new directory and a new wal.db are durable only once their
		// parents are fsynced; bbolt fsyncs the file, not its directory.
		// Cheap enough to do on every writable Open.
		if err := fs.SyncDir(filepath.Dir(filepath.Clean(d.dir))); err != nil {
			return fmt.Errorf("dualdb: sync parent of %s: %w", d.dir, err)
		}
		if err := fs.SyncDir(d.dir); err != nil {
			return fmt.Errorf("dualdb: sync %s: %w", d.dir, err)
		}
	}
	meta, ok, err := d.readMeta()
	if err != nil {
		return err
	}
	if !ok {
		if d.opts.ReadOnly {
			return fmt.Errorf("dualdb: %s is not an initialized store", d.dir)
		}
		if first, _, n, err := d.log.Bounds(); err != nil {
			return err
		} else if n > 0 {
			return dberr.AtVersion(d.walPath(), first, "WAL holds %d records but no store meta data", n)
		}
		if meta, err = d.initMeta(); err != nil {
			return err
		}
	}
	d.storeID = meta.StoreID
	// Options fixed at creation apply unless the caller set them.
	if meta.MaxKeySize > 0 && !d.keySizeSet {
		d.opts.MaxKeySize = meta.MaxKeySize
	}
	if meta.MaxValueSize > 0 && !d.valueSizeSet {
		d.opts.MaxValueSize = meta.MaxValueSize
	}
	if !d.opts.ReadOnly {
		if err := d.removeLeftovers(meta); err != nil {
			return err
		}
	}

	head, snapVersion, err := d.loadSnapshot(meta)
	if err != nil {
		return err
	}
	last, err := d.replay(head, snapVersion)
	if err != nil {
		return err
	}
	first, walLast, _, err := d.log.Bounds()
	if err != nil {
		return err
	}
	if walLast != 0 {
		d.stats.walFirst = first
		d.stats.walLast = walLast
	}
	if len(meta.Snapshots) > 0 {
		d.stats.lastSnapshot.Store(meta.Snapshots[len(meta.Snapshots)-1])
	}
	d.head = head
	d.pending = head.Freeze()
	d.assigned = last
	d.published.Store(&state{version: last, view: d.pending})
	d.ckpt.snapshots = meta.Snapshots
	elapsed := time.Since(start)
	d.stats.recovery.Store(int64(elapsed))
	if d.obs != nil {
		d.obs.Recovery(RecoveryEvent{
			SnapshotVersion: snapVersion, Replayed: int(last - snapVersion),
			Version: last, Records: d.pending.Len(), Duration: elapsed,
		})
	}
	if !d.opts.ReadOnly {
		d.startCommitter()
		d.ckpt.start(d)
	}
	d.startOrderCheck()
	return nil
}

// replay applies the WAL records after version from to head and returns
// the last version. Replaying a record that does not apply (a conflict, a
// delete of a missing key) is corruption: the record was valid when it
// was committed, so the state it applies to is not the one it was made on.
func (d *DB) replay(head *btreeidx.Index, after uint64) (uint64, error) {
	last, err := d.log.Replay(after+1, func(version uint64, ops []wal.Op) error {
		for i, op := range ops {
			switch op.Kind {
			case wal.OpPut:
				if _, _, err := head.Put(op.Key, op.Index, op.Value); err != nil {
					return dberr.AtVersion(d.walPath(), version, "replay op %d (put %q): %v", i, op.Key, err)
				}
			case wal.OpDelete:
				if _, ok := head.Delete(op.Key); !ok {
					return dberr.AtVersion(d.walPath(), version, "replay op %d: delete of missing key %q", i, op.Key)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if last == after {
		// Nothing after the snapshot. The WAL must not end before it
		// either... unless it was truncated up to it, which is normal.
		return after, nil
	}
	return last, nil
}

// isNotExist reports whether err says a file does not exist.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
