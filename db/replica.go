package db

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/snapshot"
)

// Replica is a store held in memory only: the same dual index, the same
// transactions and the same read views as a DB, but no wal.db, no snapshot
// directory and no durability of its own. Its caller chooses the version
// of every commit. It is the state machine of a replicated store whose
// log (for example a Raft log) is the write-ahead log: the log decides the
// order and the version of each command, every replica applies the same
// commands at the same versions and so holds the same records at the same
// version, and a replica that starts empty is rebuilt from a snapshot
// stream (WriteSnapshot, RestoreSnapshot) plus the log after it.
//
// Versions need not be contiguous: a log also holds entries that are not
// commands (configuration changes, no-ops), so the version of a Replica
// jumps to the version of each command it applies.
//
// Nothing a Replica does touches the files of a standalone store; a
// Replica and a DB do not share state.
//
// A Replica is safe for concurrent use: Apply and RestoreSnapshot are
// serialized; readers (Snapshot, Version) never block and never see part
// of a commit.
type Replica struct {
	// d is a shell DB that carries the options (size limits) a Tx checks
	// and the published state readers load. It has no WAL and no
	// goroutines.
	d *DB

	// mu serializes Apply and RestoreSnapshot and guards head.
	mu   sync.Mutex
	head *btreeidx.Index // the trees the next Apply works on
}

// ErrVersionOrder is returned by Replica.Apply when the version given is
// not after the replica's current version.
var ErrVersionOrder = errors.New("dualdb: replica version must increase")

// NewReplica returns an empty Replica at version 0. Of opts only
// MaxKeySize, MaxValueSize, Logger and Observer (told about scans of its
// Snapshots) are used; nil means defaults.
func NewReplica(opts *Options) *Replica {
	o := opts.withDefaults()
	d := &DB{opts: o, logger: o.Logger, obs: o.Observer}
	head := btreeidx.New()
	d.published.Store(&state{version: 0, view: head.Freeze()})
	return &Replica{d: d, head: head}
}

// Version returns the version of the last command applied or restored.
func (r *Replica) Version() uint64 { return r.d.current().version }

// Snapshot returns a consistent read view of the current version. It is
// cheap and stays valid and unchanged for as long as it is referenced.
func (r *Replica) Snapshot() *Snapshot { return r.d.Snapshot() }

// Apply runs fn in a transaction and publishes its outcome at version,
// which must be greater than Version (ErrVersionOrder otherwise; nothing
// changes). If fn returns an error or panics, every change it made is
// rolled back and the error is returned (the panic re-raised), but the
// replica still moves to version: the command was applied, and changed
// nothing. Every replica given the same commands therefore ends at the
// same version with the same records, whatever each command's outcome.
//
// The Tx passed to fn is the one of DB.Update: Put, Delete, Get,
// GetByIndex, with the size limits of the replica's Options.
func (r *Replica) Apply(version uint64, fn func(tx *Tx) error) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.d.current()
	if version <= cur.version {
		return fmt.Errorf("%w: asked to apply version %d at version %d", ErrVersionOrder, version, cur.version)
	}
	tx := &Tx{d: r.d, idx: r.head, version: version}
	ok := false
	defer func() {
		tx.done = true
		if ok {
			return
		}
		if tx.ops > 0 {
			r.head = btreeidx.Thaw(cur.view)
		}
		r.d.published.Store(&state{version: version, view: cur.view})
	}()
	if err := fn(tx); err != nil {
		return err
	}
	ok = true
	view := cur.view
	if tx.ops > 0 {
		view = r.head.Freeze()
	}
	r.d.published.Store(&state{version: version, view: view})
	return nil
}

// snapOptions are the snapshot limits matching the replica's options.
func (r *Replica) snapOptions() *snapshot.Options {
	return &snapshot.Options{
		MaxKeySize:   r.d.opts.MaxKeySize,
		MaxIndexSize: r.d.opts.MaxKeySize,
		MaxValueSize: r.d.opts.MaxValueSize,
	}
}

// WriteSnapshot writes s (a Snapshot of this replica, which may be taken
// long before: writers are not blocked) to w in the snapshot file format
// of package snapshot, with storeID in its header. It neither syncs nor
// closes w.
func (r *Replica) WriteSnapshot(w io.Writer, s *Snapshot, storeID [16]byte) error {
	h := snapshot.Header{StoreID: storeID, Version: s.version, Count: uint64(s.view.Len())}
	enc, err := snapshot.NewEncoder(w, h, r.snapOptions())
	if err != nil {
		return fmt.Errorf("dualdb: replica snapshot at version %d: %w", s.version, err)
	}
	for rec := range s.view.Ascend(nil, nil) {
		if err := enc.Add(snapshot.Record{Key: rec.Key, Index: rec.Index, Value: rec.Value}); err != nil {
			_ = enc.Close() // the first error is the one to report
			return fmt.Errorf("dualdb: replica snapshot at version %d: %w", s.version, err)
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("dualdb: replica snapshot at version %d: %w", s.version, err)
	}
	return nil
}

// RestoreSnapshot replaces the replica's records and version with those of
// the snapshot file at path (as WriteSnapshot writes them) and returns the
// file's header. The file is read and checked in full (checksums, order,
// uniqueness of index keys) before anything is replaced: a damaged file
// returns an error wrapping ErrCorrupt and the replica is unchanged. The
// version may be lower than the current one (a replica is reset to what
// its log's snapshot holds).
func (r *Replica) RestoreSnapshot(path string) (snapshot.Header, error) {
	h, err := snapshot.ReadHeader(path, r.snapOptions())
	if err != nil {
		return h, err
	}
	b := btreeidx.NewBuilder(int(min(h.Count, 1<<26)))
	if _, err := snapshot.ReadInto(path, r.snapOptions(), b.Alloc, func(rec snapshot.Record) error {
		return b.Add(rec.Key, rec.Index, rec.Value, rec.Version, true)
	}); err != nil {
		return h, err
	}
	x, err := b.Finish()
	if err != nil {
		return h, &CorruptionError{File: path, Offset: -1, Version: h.Version, Reason: err.Error()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.head = x
	r.d.published.Store(&state{version: h.Version, view: x.Freeze()})
	return h, nil
}
