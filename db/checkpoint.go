package db

import (
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
	unlisted  []uint64 // snapshot files dualdb may have written that the list does not hold, as in meta
	// unsynced are removed snapshot files whose removal a failed fsync of
	// snap/ left uncertain: meta records them as ours for the rest of this
	// process (a later fsync that succeeds proves nothing about them), and
	// the next Open removes them if they came back.
	unsynced []uint64

	since      atomic.Int64  // commits since the last automatic trigger
	sinceBytes atomic.Int64  // WAL bytes since the last automatic trigger
	storeBytes atomic.Int64  // record bytes of the last checkpoint's version (or of the store as opened)
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
		// The byte trigger grows with the store: learn the size of the
		// store as opened, off the Open path. Commits meanwhile are paced
		// by the CheckpointBytes floor alone.
		if n, ok := recordBytes(d.current().view, c.stopc); ok {
			c.storeBytes.CompareAndSwap(0, n)
		}
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

// recordBytes returns the key, index key and value bytes of every record
// of v; ok is false if stop was closed before it was done.
func recordBytes(v btreeidx.View, stop <-chan struct{}) (n int64, ok bool) {
	i := 0
	for r := range v.Ascend(nil, nil) {
		if i++; i%4096 == 0 {
			select {
			case <-stop:
				return 0, false
			default:
			}
		}
		n += int64(len(r.Key) + len(r.Index) + len(r.Value))
	}
	return n, true
}

func (c *checkpointer) stop() {
	if c.stopc == nil {
		return
	}
	close(c.stopc)
	c.wg.Wait()
}

// noteCommits counts durable commits and their WAL bytes and triggers an
// automatic checkpoint when one is due (see due). It never blocks the
// committer.
func (c *checkpointer) noteCommits(d *DB, n, bytes int) {
	if c.trigger == nil {
		return
	}
	if c.due(&d.opts, n, bytes) {
		select {
		case c.trigger <- struct{}{}:
		default:
		}
	}
}

// walShare sets how much WAL an automatic checkpoint lets grow beside a
// large store: a quarter of its record bytes. A larger share makes a bulk
// load write fewer snapshot files, and Open replay more: a WAL record is
// replayed one tree insert at a time (~4 µs at 1M records), a snapshot
// record loads in bulk several times faster. At the share of 1 that was
// tried first, a 3M-record load left 1.1M records to replay and reopen took
// 7.5 s instead of ~3 s.
const walShare = 4

// due adds n commits of bytes WAL bytes to the counts since the last
// automatic trigger and reports whether a checkpoint is due now, resetting
// the counts if so. It is due after Options.CheckpointEvery commits, or
// once the WAL bytes reach the larger of Options.CheckpointBytes and a
// quarter (1/walShare) of the record bytes of the store at the last
// checkpoint. That second bound keeps a growing store's checkpoints
// geometric: a load of N bytes takes O(log N) checkpoints of O(N) bytes in
// all (at most about 5N), instead of one of the whole store every
// CheckpointBytes; and Open replays at most about a quarter of the store's
// worth of WAL after the newest snapshot.
func (c *checkpointer) due(o *Options, n, bytes int) bool {
	due := c.since.Add(int64(n)) >= int64(o.CheckpointEvery)
	if o.CheckpointBytes > 0 && c.sinceBytes.Add(int64(bytes)) >= max(o.CheckpointBytes, c.storeBytes.Load()/walShare) {
		due = true
	}
	if due {
		c.since.Store(0)
		c.sinceBytes.Store(0)
	}
	return due
}

func (d *DB) snapOptions() *snapshot.Options {
	return &snapshot.Options{
		FS:           d.opts.FS,
		MaxKeySize:   d.opts.MaxKeySize,
		MaxIndexSize: d.opts.MaxKeySize,
		MaxValueSize: d.opts.MaxValueSize,
	}
}

// Checkpoint writes a snapshot file of the last durable version and returns
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
		return 0, dberr.WrapFile("dualdb", "create", d.snapPath(), err)
	}
	// snap/ itself must be durable before a file in it is recorded in
	// meta (and the WAL truncated on its strength): fsync its parent.
	if err := fs.SyncDir(d.dir); err != nil {
		return 0, dberr.WrapFile("dualdb", "sync", d.dir, err)
	}
	// Record the file as ours before it exists, so that a crash at any
	// point leaves a file Open can prove it wrote and may remove.
	unlisted := appendNew(slices.Clone(c.unlisted), s.version)
	if err := d.writeUnlisted(unlisted); err != nil {
		return 0, d.fail(fmt.Errorf("record snapshot %d as in progress: %w", s.version, err))
	}
	if d.opts.NoSync {
		if err := d.log.Sync(); err != nil {
			return 0, d.fail(err)
		}
	}
	c.unlisted = unlisted
	h := snapshot.Header{StoreID: d.storeID, Version: s.version, Count: uint64(s.view.Len())}
	var stored int64 // record bytes written, for the automatic trigger
	recs := func(yield func(snapshot.Record) bool) {
		for r := range s.view.Ascend(nil, nil) {
			stored += int64(len(r.Key) + len(r.Index) + len(r.Value))
			if !yield(snapshot.Record(r)) {
				return
			}
		}
	}
	_, size, err := snapshot.Write(d.snapPath(), h, recs, d.snapOptions())
	if err != nil {
		return 0, err // names the snapshot file
	}
	c.storeBytes.Store(stored)
	keep := append(slices.Clone(c.snapshots), s.version)
	var drop []uint64
	if len(keep) > d.opts.KeepSnapshots {
		drop = keep[:len(keep)-d.opts.KeepSnapshots]
		keep = keep[len(keep)-d.opts.KeepSnapshots:]
	}
	// The dropped files stay recorded as ours until they are gone.
	unlisted = slices.DeleteFunc(slices.Clone(c.unlisted), func(v uint64) bool { return v == s.version })
	for _, v := range drop {
		unlisted = appendNew(unlisted, v)
	}
	if err := d.writeSnapshotList(keep, unlisted); err != nil {
		return size, d.fail(fmt.Errorf("record snapshot %d: %w", s.version, err))
	}
	if d.opts.NoSync {
		// Old files are removed and the WAL cut on the strength of the new
		// list: it must be on disk first, even when commits are not synced.
		if err := d.log.Sync(); err != nil {
			return size, d.fail(err)
		}
	}
	c.snapshots = keep
	c.unlisted = unlisted
	var removed []uint64
	for _, v := range unlisted {
		err := fs.Remove(filepath.Join(d.snapPath(), snapshot.FileName(v)))
		if err != nil && !isNotExist(err) {
			d.logger.Warn("dualdb: cannot remove an old snapshot file; the next Open removes it", "version", v, "err", err)
			continue
		}
		removed = append(removed, v)
	}
	// A removal is durable only once snap/ is synced: until then a power
	// cut can bring the file back, so meta must keep recording it as ours
	// (the next write of the list would forget it). After the sync, meta
	// may keep naming a gone file until that write, which is harmless:
	// Open ignores a recorded file that is absent.
	if len(removed) > 0 {
		if err := fs.SyncDir(d.snapPath()); err != nil {
			d.logger.Warn("dualdb: cannot sync the snapshot directory after removing old snapshot files; meta keeps them recorded and the next Open removes them", "versions", removed, "err", err)
			for _, v := range removed {
				c.unsynced = appendNew(c.unsynced, v)
			}
		}
		c.unlisted = slices.DeleteFunc(c.unlisted, func(u uint64) bool {
			return slices.Contains(removed, u) && !slices.Contains(c.unsynced, u)
		})
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

// appendNew appends v to s unless s holds it.
func appendNew(s []uint64, v uint64) []uint64 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// removeLeftovers deletes what a crash mid-checkpoint can leave in the
// snapshot directory, and nothing else: temp files in the exact name
// snapshot.Write uses, and snapshot files that meta records as written or
// dropped by dualdb but not kept (a checkpoint in progress, a superseded
// snapshot not yet removed). The WAL still holds everything such a file
// held. Any other file stays; warnStrangers names it. It returns meta
// with the removed files no longer recorded.
func (d *DB) removeLeftovers(m storeMeta, sv *dirSurvey) (storeMeta, error) {
	fs := d.opts.FS
	removed := false
	for _, rel := range sv.own {
		name := strings.TrimPrefix(rel, SnapDir+"/")
		switch sv.kinds[rel] {
		case KindSnapshotTemp:
		case KindSnapshot:
			v, _ := snapshot.ParseFileName(name)
			if !slices.Contains(m.Unlisted, v) || slices.Contains(m.Snapshots, v) {
				continue
			}
		default:
			continue
		}
		if err := fs.Remove(filepath.Join(d.snapPath(), name)); err != nil && !isNotExist(err) {
			return m, dberr.WrapFile("dualdb", "remove leftover", filepath.Join(d.snapPath(), name), err)
		}
		removed = true
	}
	if removed {
		if err := fs.SyncDir(d.snapPath()); err != nil {
			return m, dberr.WrapFile("dualdb", "sync", d.snapPath(), err)
		}
	}
	if len(m.Unlisted) > 0 {
		if err := d.writeUnlisted(nil); err != nil {
			return m, err // names wal.db
		}
		m.Unlisted = nil
	}
	return m, nil
}

// strangers returns the names in the survey that dualdb cannot prove are
// its own: foreign names, and files named like snapshots that meta neither
// lists nor records as written by dualdb (an operator's copy, a snapshot
// of another store, a snapshot newer than this wal.db).
func strangers(m storeMeta, sv *dirSurvey) []string {
	out := slices.Clone(sv.foreign)
	for _, rel := range sv.own {
		if sv.kinds[rel] != KindSnapshot {
			continue
		}
		v, _ := snapshot.ParseFileName(strings.TrimPrefix(rel, SnapDir+"/"))
		if !slices.Contains(m.Snapshots, v) && !slices.Contains(m.Unlisted, v) {
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

// warnStrangers logs one warning naming the files of the store directory
// dualdb did not write (it leaves them alone), and one line naming a
// damaged wal.db kept by Repair.
func (d *DB) warnStrangers(m storeMeta, sv *dirSurvey) {
	if s := strangers(m, sv); len(s) > 0 {
		d.logger.Warn("dualdb: the store directory holds files dualdb did not write; they are left alone", "dir", d.dir, "files", strings.Join(s, ", "))
	}
	var kept []string
	for _, rel := range sv.own {
		if k := sv.kinds[rel]; k == KindDamagedWAL || k == KindDamagedSnapshot {
			kept = append(kept, rel)
		}
	}
	if len(kept) > 0 {
		d.logger.Info("dualdb: the store directory keeps damaged files set aside by a repair; remove them once they are no longer needed", "dir", d.dir, "files", strings.Join(kept, ", "))
	}
}
