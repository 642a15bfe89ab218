package db

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
)

// checkpointer serializes checkpoints and runs the automatic ones.
type checkpointer struct {
	// mu serializes checkpoints (manual and automatic) and guards snapshots.
	mu        sync.Mutex
	snapshots []uint64 // kept snapshot versions, oldest first, as in meta

	since      atomic.Int64  // commits since the last automatic trigger
	sinceBytes atomic.Int64  // WAL bytes since the last automatic trigger
	trigger    chan struct{} // buffered(1): an automatic checkpoint is due
	stopc      chan struct{}
	wg         sync.WaitGroup
}

func (c *checkpointer) start(d *DB) {
	if d.opts.CheckpointEvery <= 0 {
		return
	}
	c.trigger = make(chan struct{}, 1)
	c.stopc = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-c.stopc:
				return
			case <-c.trigger:
				if _, err := d.Checkpoint(); err != nil {
					d.logger.Warn("dualdb: automatic checkpoint failed", "dir", d.dir, "err", err)
				}
			}
		}
	}()
}

func (c *checkpointer) stop() {
	if c.stopc == nil {
		return
	}
	close(c.stopc)
	c.wg.Wait()
}

// noteCommits counts durable commits and their WAL bytes and triggers an
// automatic checkpoint every Options.CheckpointEvery commits or
// Options.CheckpointBytes bytes. It never blocks the committer.
func (c *checkpointer) noteCommits(d *DB, n, bytes int) {
	if c.trigger == nil {
		return
	}
	due := c.since.Add(int64(n)) >= int64(d.opts.CheckpointEvery)
	if d.opts.CheckpointBytes > 0 && c.sinceBytes.Add(int64(bytes)) >= d.opts.CheckpointBytes {
		due = true
	}
	if due {
		c.since.Store(0)
		c.sinceBytes.Store(0)
		select {
		case c.trigger <- struct{}{}:
		default:
		}
	}
}

func (d *DB) snapOptions() *snapshot.Options {
	return &snapshot.Options{
		FS:           d.opts.FS,
		MaxKeySize:   d.opts.MaxKeySize,
		MaxIndexSize: d.opts.MaxKeySize,
		MaxValueSize: d.opts.MaxValueSize,
	}
}

// Checkpoint writes a snapshot of the last durable version and returns
// that version. Writers are not blocked while the file is written: it is
// streamed from a frozen version. The order is the one that keeps every
// state recoverable: the file is made durable (temp name, fsync, rename,
// directory fsync), then recorded in wal.db's meta, and only then are
// snapshots beyond Options.KeepSnapshots removed and the WAL truncated, up
// to the oldest snapshot kept (so that snapshot plus the WAL can always
// rebuild the newest state). A store with no commits has nothing to
// snapshot: Checkpoint returns 0 and writes nothing; so it does when the
// newest snapshot is already at the current version.
//
// An error writing the snapshot file is returned and changes nothing. An
// error writing wal.db (meta or truncation) fails the store closed, like a
// failed commit.
func (d *DB) Checkpoint() (uint64, error) {
	if d.closed.Load() {
		return 0, ErrClosed
	}
	if d.opts.ReadOnly {
		return 0, ErrReadOnly
	}
	if err := d.failure(); err != nil {
		return 0, err
	}
	c := &d.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	s := d.current()
	if s.version == 0 {
		return 0, nil
	}
	if n := len(c.snapshots); n > 0 && c.snapshots[n-1] >= s.version {
		return c.snapshots[n-1], nil
	}
	start := time.Now()
	size, err := d.checkpointLocked(s)
	if d.obs != nil {
		d.obs.Checkpoint(CheckpointEvent{Version: s.version, Records: s.view.Len(), Bytes: size, Duration: time.Since(start), Err: err})
	}
	if err != nil {
		return 0, err
	}
	d.stats.checkpoints.Add(1)
	d.stats.lastSnapshot.Store(s.version)
	return s.version, nil
}

func (d *DB) checkpointLocked(s *state) (int64, error) {
	c := &d.ckpt
	fs := d.opts.FS
	if err := fs.MkdirAll(d.snapPath(), 0o700); err != nil {
		return 0, fmt.Errorf("dualdb: checkpoint: %w", err)
	}
	// snap/ itself must be durable before a file in it is recorded in
	// meta (and the WAL truncated on its strength): fsync its parent.
	if err := fs.SyncDir(d.dir); err != nil {
		return 0, fmt.Errorf("dualdb: checkpoint: sync %s: %w", d.dir, err)
	}
	h := snapshot.Header{Format: snapshot.FormatVersion, StoreID: d.storeID, Version: s.version, Count: uint64(s.view.Len())}
	recs := func(yield func(snapshot.Record) bool) {
		for r := range s.view.Ascend(nil, nil) {
			if !yield(snapshot.Record(r)) {
				return
			}
		}
	}
	_, size, err := snapshot.Write(d.snapPath(), h, recs, d.snapOptions())
	if err != nil {
		return 0, fmt.Errorf("dualdb: checkpoint at version %d: %w", s.version, err)
	}
	keep := append(slices.Clone(c.snapshots), s.version)
	var drop []uint64
	if len(keep) > d.opts.KeepSnapshots {
		drop = keep[:len(keep)-d.opts.KeepSnapshots]
		keep = keep[len(keep)-d.opts.KeepSnapshots:]
	}
	if err := d.writeSnapshotList(keep); err != nil {
		return size, d.fail(fmt.Errorf("record snapshot %d in %s: %w", s.version, d.walPath(), err))
	}
	if d.opts.NoSync {
		// Old files are removed and the WAL cut on the strength of the new
		// list: it must be on disk first, even when commits are not synced.
		if err := d.log.Sync(); err != nil {
			return size, d.fail(fmt.Errorf("sync %s: %w", d.walPath(), err))
		}
	}
	c.snapshots = keep
	for _, v := range drop {
		if err := fs.Remove(filepath.Join(d.snapPath(), snapshot.FileName(v))); err != nil && !isNotExist(err) {
			d.logger.Warn("dualdb: cannot remove old snapshot; the next Open removes it", "version", v, "err", err)
		}
	}
	// Truncate only once the WAL is no longer needed for a fallback: keep
	// it whole until there are as many snapshots as may be kept (at least
	// two when two are kept), then cut up to the oldest one kept.
	if len(keep) >= min(2, d.opts.KeepSnapshots) {
		if err := d.log.Truncate(keep[0]); err != nil {
			return size, d.fail(err)
		}
		d.stats.walMu.Lock()
		if d.stats.walLast > keep[0] {
			d.stats.walFirst = keep[0] + 1
		} else {
			d.stats.walFirst, d.stats.walLast = 0, 0
		}
		d.stats.walMu.Unlock()
	}
	return size, nil
}

// removeLeftovers deletes what a crash mid-checkpoint can leave in the
// snapshot directory: temp files, and snapshot files that meta does not
// list (written but never recorded, or dropped but not yet removed). The
// WAL still holds everything such a file held.
func (d *DB) removeLeftovers(m Meta) error {
	fs := d.opts.FS
	entries, err := fs.ReadDir(d.snapPath())
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dualdb: list %s: %w", d.snapPath(), err)
	}
	removed := false
	for _, e := range entries {
		name := e.Name()
		v, isSnap := snapshot.ParseFileName(name)
		if strings.HasSuffix(name, snapshot.TempSuffix) || (isSnap && !slices.Contains(m.Snapshots, v)) {
			if err := fs.Remove(filepath.Join(d.snapPath(), name)); err != nil && !isNotExist(err) {
				return fmt.Errorf("dualdb: remove leftover %s: %w", name, err)
			}
			removed = true
		}
	}
	if removed {
		if err := fs.SyncDir(d.snapPath()); err != nil {
			return fmt.Errorf("dualdb: sync %s: %w", d.snapPath(), err)
		}
	}
	return nil
}

// loadSnapshot loads the newest listed snapshot that verifies and whose
// version the WAL continues, falling back to older ones (with a warning)
// and finally to an empty start when the WAL reaches back to version 1.
// It fails with ErrCorrupt, naming the files, when nothing valid reaches
// the WAL.
func (d *DB) loadSnapshot(m Meta, read snapReader) (*btreeidx.Index, uint64, error) {
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
			return nil, 0, fmt.Errorf("dualdb: read snapshot %s: %w", path, err)
		}
		d.logger.Warn("dualdb: skipping snapshot that fails its check; trying an older one", "file", path, "err", err)
		problems = append(problems, err.Error())
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
	if _, err := snapshot.Read(path, d.snapOptions(), func(r snapshot.Record) error {
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
func (d *DB) rebuild(m Meta, read snapReader) (head *btreeidx.Index, snapVersion, last uint64, err error) {
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
