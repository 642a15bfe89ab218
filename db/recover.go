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
	// Decide from everything in the directory, never from wal.db alone,
	// whether this is a new store: a store whose wal.db is lost must fail
	// loudly, not come back empty and lose its snapshots.
	sv, err := surveyDir(fs, d.dir)
	if err != nil {
		return err
	}
	if !sv.exists && d.opts.ReadOnly {
		return fmt.Errorf("%w: %s: %w", ErrNotStore, d.dir, os.ErrNotExist)
	}
	create, err := sv.walProblem(d.dir)
	if err != nil {
		return err
	}
	if sv.snapErr != nil {
		return fmt.Errorf("dualdb: %w", sv.snapErr)
	}
	if create && d.opts.ReadOnly {
		return sv.notStoreYet(d.dir)
	}
	if !sv.exists {
		if err := fs.MkdirAll(d.dir, 0o700); err != nil {
			return fmt.Errorf("dualdb: create %s: %w", d.dir, err)
		}
	}
	if create && sv.walInfo != nil {
		// An empty wal.db alone: the first Open of this store was cut
		// short. The file holds nothing; make it again.
		d.logger.Warn("dualdb: wal.db is empty and the directory holds nothing else: creating the store again (a first Open was cut short)", "dir", d.dir)
		if err := os.Remove(d.walPath()); err != nil {
			return fmt.Errorf("dualdb: remove empty %s: %w", d.walPath(), err)
		}
	}
	d.log, err = wal.Open(d.walPath(), d.walOptions())
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
		if err := d.checkNoMeta(sv); err != nil {
			return err
		}
		if d.opts.ReadOnly {
			return fmt.Errorf("%w: %s", ErrNotStore, d.dir)
		}
		if meta, err = d.initMeta(); err != nil {
			return err
		}
	}
	d.applyMeta(meta)
	d.warnStrangers(meta, sv)
	if !d.opts.ReadOnly {
		if meta, err = d.removeLeftovers(meta, sv); err != nil {
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
	d.ckpt.unlisted = meta.Unlisted
	elapsed := time.Since(start)
	d.stats.recovery.Store(int64(elapsed))
	if d.obs != nil {
		d.obs.Recovery(RecoveryEvent{
			SnapshotVersion: snapVersion, Replayed: int(last - snapVersion),
			Version: last, Records: d.pending.Len(), Duration: elapsed,
		})
	}
	if err := d.loaded(); err != nil {
		return err
	}
	if !d.opts.ReadOnly {
		d.startCommitter()
		d.ckpt.start(d)
		d.startAdmin()
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
// goroutines. It returns the directory's survey too, with a nil DB when
// wal.db cannot be opened, and ErrNotStore, wrapped, when wal.db holds no
// meta data. The caller closes d.log when d is not nil.
func openOffline(dir string) (*DB, Meta, *dirSurvey, error) {
	d := &DB{dir: dir, opts: (&Options{ReadOnly: true}).withDefaults(), logger: discardLogger()}
	sv, err := surveyDir(d.opts.FS, dir)
	if err != nil {
		return nil, Meta{}, nil, err
	}
	if !sv.exists {
		return nil, Meta{}, sv, fmt.Errorf("%w: %s: %w", ErrNotStore, dir, os.ErrNotExist)
	}
	create, err := sv.walProblem(dir)
	if err == nil && create {
		err = sv.notStoreYet(dir)
	}
	if err != nil {
		return nil, Meta{}, sv, err
	}
	log, err := wal.Open(d.walPath(), &wal.Options{ReadOnly: true})
	if err != nil {
		return nil, Meta{}, sv, err
	}
	d.log = log
	meta, ok, err := d.readMeta()
	if err == nil && !ok {
		if err = d.checkNoMeta(sv); err == nil {
			err = fmt.Errorf("%w: %s: wal.db holds no store meta data", ErrNotStore, dir)
		}
	}
	if err != nil {
		return d, Meta{}, sv, err
	}
	d.applyMeta(meta)
	return d, meta, sv, nil
}

// checkNoMeta is called when wal.db holds no meta data. That is a store
// whose creation stopped before its meta data was written, unless the WAL
// holds records or the directory holds a store's other files: then the
// meta data was lost, and ErrCorrupt says so.
func (d *DB) checkNoMeta(sv *dirSurvey) error {
	first, _, n, err := d.log.Bounds()
	if err != nil {
		return err
	}
	if n > 0 {
		return dberr.AtVersion(d.walPath(), first, "WAL holds %d records but no store meta data", n)
	}
	if sv.hasStoreData() {
		return dberr.AtOffset(d.walPath(), -1, "no store meta data, but the directory holds a store's files (%s); run `dualdb repair %s` to rebuild wal.db from the newest snapshot", listNames(sv.own), d.dir)
	}
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
