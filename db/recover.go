package db

import (
	"bytes"
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
	d.applyMeta(meta)
	if !d.opts.ReadOnly {
		if err := d.removeLeftovers(meta); err != nil {
			return err
		}
	}

	head, snapVersion, last, err := d.rebuild(meta, func(path string, v uint64) (*btreeidx.Index, error) {
		return d.readSnapshot(path, v, nil)
	})
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

// applyMeta takes the store's identity from meta, and the options fixed at
// creation where the caller left them zero.
func (d *DB) applyMeta(meta Meta) {
	d.storeID = meta.StoreID
	if meta.MaxKeySize > 0 && !d.keySizeSet {
		d.opts.MaxKeySize = meta.MaxKeySize
	}
	if meta.MaxValueSize > 0 && !d.valueSizeSet {
		d.opts.MaxValueSize = meta.MaxValueSize
	}
}

// openOffline opens the store in dir for Verify and Inspect: wal.db
// read-only and its meta data, in a DB shell with no trees and no
// goroutines. notStore is returned, wrapped, when wal.db holds no meta
// data. The caller closes d.log.
func openOffline(dir string) (*DB, Meta, error) {
	d := &DB{dir: dir, opts: (&Options{ReadOnly: true}).withDefaults(), logger: discardLogger()}
	if _, err := os.Stat(d.walPath()); err != nil {
		return nil, Meta{}, err
	}
	log, err := wal.Open(d.walPath(), &wal.Options{ReadOnly: true})
	if err != nil {
		return nil, Meta{}, err
	}
	d.log = log
	meta, ok, err := d.readMeta()
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", errNotStore, dir)
	}
	if err != nil {
		return d, Meta{}, err
	}
	d.applyMeta(meta)
	return d, meta, nil
}

// errNotStore says a wal.db holds no store meta data.
var errNotStore = errors.New("dualdb: no store meta data: not an initialized dualdb store")

// replay applies the WAL records after version from to head and returns
// the last version. Replaying a record that does not apply (a conflict, a
// delete of a missing key) is corruption: the record was valid when it
// was committed, so the state it applies to is not the one it was made on.
func (d *DB) replay(head *btreeidx.Index, after uint64) (uint64, error) {
	last, err := d.log.Replay(after+1, func(version uint64, ops []wal.Op) error {
		for i, op := range ops {
			switch op.Kind {
			case wal.OpPut:
				if _, _, err := head.Put(op.Key, op.Index, op.Value, version); err != nil {
					return dberr.AtVersion(d.walPath(), version, "replay op %d (put %q): %v", i, op.Key, err)
				}
			case wal.OpDelete, wal.OpDeleteRecord:
				old, ok := head.Delete(op.Key)
				if !ok {
					return dberr.AtVersion(d.walPath(), version, "replay op %d: delete of missing key %q", i, op.Key)
				}
				if op.Kind == wal.OpDeleteRecord && (old.Version != op.Version || !bytes.Equal(old.Index, op.Index) || !bytes.Equal(old.Value, op.Value)) {
					return dberr.AtVersion(d.walPath(), version, "replay op %d: delete of key %q names a record (version %d) other than the one the state holds (version %d)", i, op.Key, op.Version, old.Version)
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
