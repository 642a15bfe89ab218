package db

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
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
			return dberr.WrapFile("dualdb", "create", d.dir, err)
		}
	}
	if create && sv.walInfo != nil {
		// An empty wal.db alone: the first Open of this store was cut
		// short. The file holds nothing; make it again.
		d.logger.Warn("dualdb: wal.db is empty and the directory holds nothing else: creating the store again (a first Open was cut short)", "dir", d.dir)
		if err := os.Remove(d.walPath()); err != nil {
			return dberr.WrapFile("dualdb", "remove empty", d.walPath(), err)
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
			return dberr.WrapFile("dualdb", "sync", filepath.Dir(filepath.Clean(d.dir)), err)
		}
		if err := fs.SyncDir(d.dir); err != nil {
			return dberr.WrapFile("dualdb", "sync", d.dir, err)
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
func (d *DB) applyMeta(meta storeMeta) {
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
func openOffline(dir string) (*DB, storeMeta, *dirSurvey, error) {
	d := &DB{dir: dir, opts: (&Options{ReadOnly: true}).withDefaults(), logger: discardLogger()}
	sv, err := surveyDir(d.opts.FS, dir)
	if err != nil {
		return nil, storeMeta{}, nil, err
	}
	if !sv.exists {
		return nil, storeMeta{}, sv, fmt.Errorf("%w: %s: %w", ErrNotStore, dir, os.ErrNotExist)
	}
	create, err := sv.walProblem(dir)
	if err == nil && create {
		err = sv.notStoreYet(dir)
	}
	if err != nil {
		return nil, storeMeta{}, sv, err
	}
	log, err := wal.Open(d.walPath(), &wal.Options{ReadOnly: true})
	if err != nil {
		return nil, storeMeta{}, sv, err
	}
	d.log = log
	meta, ok, err := d.readMeta()
	if err == nil && !ok {
		if err = d.checkNoMeta(sv); err == nil {
			err = fmt.Errorf("%w: %s: wal.db holds no store meta data", ErrNotStore, dir)
		}
	}
	if err != nil {
		return d, storeMeta{}, sv, err
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

// loadSnapshot loads the newest listed snapshot that verifies and whose
// version the WAL continues, falling back to older ones (with a warning)
// and finally to an empty start when the WAL reaches back to version 1.
// It fails with ErrCorrupt, naming the files, when nothing valid reaches
// the WAL.
func (d *DB) loadSnapshot(m storeMeta, read snapReader) (*btreeidx.Index, uint64, error) {
	first, walLast, _, err := d.log.Bounds()
	if err != nil {
		return nil, 0, err
	}
	newest := walLast
	if n := len(m.Snapshots); n > 0 {
		newest = max(newest, m.Snapshots[n-1])
	}
	// reaches reports whether the WAL holds every version after v.
	reaches := func(v uint64) bool {
		if walLast == 0 {
			return v >= newest
		}
		return first <= v+1 && walLast >= v
	}
	var problems []string
	for i := len(m.Snapshots) - 1; i >= 0; i-- {
		v := m.Snapshots[i]
		path := filepath.Join(d.snapPath(), snapshot.FileName(v))
		if !reaches(v) {
			problems = append(problems, fmt.Sprintf("%s: the WAL (versions %d-%d) does not continue it", path, first, walLast))
			continue
		}
		x, err := read(path, v)
		if err == nil {
			return x, v, nil
		}
		if !errors.Is(err, ErrCorrupt) && !isNotExist(err) {
			// An I/O error is not damage: say so, and do not fall back
			// past a snapshot that may be perfectly good.
			return nil, 0, err // names the snapshot file
		}
		d.logger.Warn("dualdb: skipping a snapshot file that fails its check; trying an older one", "file", path, "err", err)
		problems = append(problems, problem(path, err))
	}
	if reaches(0) && (walLast != 0 || len(m.Snapshots) == 0) {
		return btreeidx.New(), 0, nil
	}
	if len(problems) == 0 {
		return btreeidx.New(), 0, nil
	}
	return nil, 0, &dberr.CorruptionError{File: d.snapPath(), Offset: -1,
		Reason: "no valid snapshot reaches the WAL: " + strings.Join(problems, "; ")}
}

// problem says what is wrong with the snapshot file at path, for a list in
// a *CorruptionError: a missing file, or where and what the damage is.
func problem(path string, err error) string {
	var ce *CorruptionError
	switch {
	case isNotExist(err):
		return path + ": listed in wal.db's meta, but the file does not exist"
	case errors.As(err, &ce):
		return dberr.Describe(ce)
	}
	return err.Error()
}

// snapDefect classifies a defect of a snapshot file for Verify's findings
// ("snapshot-store-id", "snapshot-index"); its text is the wrapped error's.
type snapDefect struct {
	check string
	err   error
}

func (e *snapDefect) Error() string { return e.err.Error() }
func (e *snapDefect) Unwrap() error { return e.err }

// snapReader reads one listed snapshot file into a new Index.
type snapReader func(path string, version uint64) (*btreeidx.Index, error)

// readSnapshot reads and checks one snapshot file into a new Index: its
// header must carry this store's id and the version its name gives, and
// rebuilding the secondary tree must find no index key twice. tick, if not
// nil, is called once per record read.
func (d *DB) readSnapshot(path string, version uint64, tick func()) (*btreeidx.Index, error) {
	h, err := snapshot.ReadHeader(path, d.snapOptions())
	if err != nil {
		return nil, err
	}
	switch {
	case h.StoreID != d.storeID:
		return nil, &snapDefect{"snapshot-store-id", &dberr.CorruptionError{File: path, Offset: 0, Version: version,
			Reason: fmt.Sprintf("store id %x is not this store's %x (a file from another store)", h.StoreID, d.storeID)}}
	case h.Version != version:
		return nil, &dberr.CorruptionError{File: path, Offset: 0, Version: version,
			Reason: fmt.Sprintf("header says version %d, file name and meta say %d", h.Version, version)}
	}
	b := btreeidx.NewBuilder(int(min(h.Count, 1<<26)))
	// The reader writes each record into memory the Builder laid out for
	// it: the Builder keeps it as it is.
	if _, err := snapshot.ReadInto(path, d.snapOptions(), b.Alloc, func(r snapshot.Record) error {
		if tick != nil {
			tick()
		}
		return b.Add(r.Key, r.Index, r.Value, r.Version, true)
	}); err != nil {
		return nil, err
	}
	x, err := b.Finish()
	if err != nil {
		return nil, &snapDefect{"snapshot-index", &dberr.CorruptionError{File: path, Offset: -1, Version: version, Reason: err.Error()}}
	}
	return x, nil
}

// rebuild recovers the state as Open does: the newest listed snapshot
// that verifies (read reads one) and whose version the WAL continues,
// then the WAL records after it. Open, Verify and Inspect share it.
func (d *DB) rebuild(m storeMeta, read snapReader) (head *btreeidx.Index, snapVersion, last uint64, err error) {
	head, snapVersion, err = d.loadSnapshot(m, read)
	if err != nil {
		return nil, 0, 0, err
	}
	last, err = d.replay(head, snapVersion)
	if err != nil {
		return nil, 0, 0, err
	}
	return head, snapVersion, last, nil
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
				if _, _, err := head.Put(op.Key, op.Index, op.Value, version); err != nil {
					var ce *ConflictError
					if errors.As(err, &ce) {
						return dberr.AtVersion(d.walPath(), version, "replay op %d (put %q): index key %q belongs to key %q", i, op.Key, ce.Index, ce.Owner)
					}
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
	return last, nil
}

// isNotExist reports whether err says a file does not exist.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
