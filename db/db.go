package db

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/wal"
)

// File names inside a store directory. Part of the on-disk layout.
const (
	WALFile = "wal.db" // the write-ahead log and meta data (bbolt)
	SnapDir = "snap"   // snapshot files, <20-digit version>.dsnap
)

// Record is one record: a primary key, a unique index key and a value.
// Records returned by a DB alias immutable memory: they stay valid forever
// and callers must not modify them.
//
// Version is the version of the commit that last put the record (Put,
// Insert, PutAll or a Tx write); it survives checkpoints and reopening.
// 0 means unknown: the record was loaded from a snapshot file of format 1,
// written before versions were kept, and not written since. Writes ignore
// the Version of the Records they are given.
type Record struct {
	Key, Index, Value []byte
	Version           uint64
}

// state is one published, durable version: both trees frozen together.
type state struct {
	version uint64
	view    btreeidx.View
}

// DB is an open store. All its methods are safe for concurrent use.
// Readers never block writers and never wait for them; writers are
// serialized by one lock held only while a transaction runs, never while
// its commit is written to disk.
type DB struct {
	dir  string
	opts Options // with defaults filled in

	keySizeSet, valueSizeSet bool // the caller set MaxKeySize, MaxValueSize
	log                      *wal.Log
	storeID                  [16]byte
	logger                   *slog.Logger
	obs                      Observer // nil if none

	// published is the newest durable version; readers load it without a lock.
	published atomic.Pointer[state]
	closed    atomic.Bool
	// failed holds the error that failed the store closed, if any.
	failed atomic.Pointer[error]

	// mu is the writer lock. It guards head, pending, assigned and the
	// closing flag below, and orders enqueueing of commits by version.
	mu       sync.Mutex
	head     *btreeidx.Index // writer's private trees; transactions work here
	pending  btreeidx.View   // frozen state of the last assigned version: the rollback point
	assigned uint64          // last version handed to a commit
	lastReq  *commitReq      // the commit of version assigned, nil before the first
	closing  bool            // Close has begun; no new transactions

	cm committer

	ckpt checkpointer
	oc   orderChecker
	feed feedNotifier // wakes Changes iterators waiting for a version

	stats counters

	live liveState // operator socket and the limits of Handler (admin.go, socket.go)
}

// counters are the running totals behind Stats.
type counters struct {
	commits       atomic.Uint64
	failedCommits atomic.Uint64
	groupCommits  atomic.Uint64
	walBytes      atomic.Uint64
	walMu         sync.Mutex // guards walFirst and walLast, which move together
	walFirst      uint64     // first version still in the WAL, 0 if empty
	walLast       uint64     // last version in the WAL, 0 if empty
	checkpoints   atomic.Uint64
	lastSnapshot  atomic.Uint64 // version of the newest snapshot, 0 if none
	recovery      atomic.Int64  // nanoseconds Open spent loading
}

// Stats are counters and figures of an open DB.
type Stats struct {
	Version         uint64        // last durable version
	Records         int           // records at that version
	Commits         uint64        // durable commits since Open
	FailedCommits   uint64        // commits that returned an error after reaching the WAL writer
	GroupCommits    uint64        // WAL transactions since Open (Commits/GroupCommits = mean group size)
	WALBytesWritten uint64        // encoded record bytes written to the WAL since Open
	WALFirst        uint64        // first version in the WAL, 0 if empty
	WALLast         uint64        // last version in the WAL, 0 if empty
	WALRecords      uint64        // records in the WAL
	Checkpoints     uint64        // snapshots written since Open
	SnapshotVersion uint64        // version of the newest snapshot, 0 if none
	Recovery        time.Duration // time Open took to load the store
	Failed          error         // non-nil once the DB failed closed
}

// Open opens the store in dir, creating it (directory 0700, files 0600)
// unless opts.ReadOnly is set. A nil opts means defaults. Open loads the
// newest snapshot that verifies and replays the WAL after it. If another
// DB holds the store Open returns ErrLocked after a bounded wait (see
// Options.LockTimeout); it never hangs.
func Open(dir string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	d := &DB{dir: dir, opts: o, logger: o.Logger, obs: o.Observer}
	// Limits fixed at creation apply where the caller left them zero.
	d.keySizeSet = opts != nil && opts.MaxKeySize > 0
	d.valueSizeSet = opts != nil && opts.MaxValueSize > 0
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

// Dir returns the store's directory.
func (d *DB) Dir() string { return d.dir }

func (d *DB) walPath() string  { return filepath.Join(d.dir, WALFile) }
func (d *DB) snapPath() string { return filepath.Join(d.dir, SnapDir) }

// Close waits for commits in flight, stops background work and closes the
// files. It takes no checkpoint. Close is idempotent: a second call returns
// nil.
//
// After Close, every method that returns an error returns ErrClosed (Get,
// GetByIndex, Put, Insert, PutAll, Delete, Update, View, Checkpoint,
// Backup; Changes yields it once and ends, also to an iterator already
// waiting), a Tx of an Update that has returned does too, and the Handler
// answers 503. The methods with no error to return answer
// from memory, never from the closed files: Version, Stats and Snapshot
// describe the last durable version (a Snapshot stays valid forever),
// CheckOnline checks that version, and Dir returns the directory.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	d.mu.Unlock()
	d.stopAdmin()
	d.oc.stop()
	d.ckpt.stop()
	d.cm.stop()
	d.closed.Store(true)
	d.feed.notify()
	if err := d.log.Close(); err != nil {
		return err // names wal.db
	}
	return nil
}

func (d *DB) current() *state { return d.published.Load() }

// Version returns the last durable version: 0 for a new store, then one
// more for every commit that changed something. After Close it returns the
// last version the DB published.
func (d *DB) Version() uint64 { return d.current().version }

// Get returns the record with key. It returns ErrEmptyKey for an empty
// key, and ErrNotFound, wrapped with the key, when no record has it.
func (d *DB) Get(key []byte) (Record, error) {
	if d.closed.Load() {
		return Record{}, ErrClosed
	}
	if len(key) == 0 {
		return Record{}, ErrEmptyKey
	}
	r, ok := d.current().view.Get(key)
	if !ok {
		return Record{}, fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	return Record(r), nil
}

// GetByIndex returns the record whose index key is index, or ErrNotFound,
// wrapped with the index key, when no record has it. An empty index key
// is a valid one (Put accepts it), so it is looked up like any other.
func (d *DB) GetByIndex(index []byte) (Record, error) {
	if d.closed.Load() {
		return Record{}, ErrClosed
	}
	r, ok := d.current().view.GetByIndex(index)
	if !ok {
		return Record{}, fmt.Errorf("%w: index key %q", ErrNotFound, index)
	}
	return Record(r), nil
}

// Put stores a record in one durable commit, replacing the record with the
// same key. It returns a *ConflictError if index belongs to another
// record. Put copies its arguments; the caller may reuse its buffers.
func (d *DB) Put(key, index, value []byte) error {
	return d.Update(func(tx *Tx) error { return tx.Put(key, index, value) })
}

// Delete removes the record with key in one durable commit, or returns
// ErrNotFound.
func (d *DB) Delete(key []byte) error {
	return d.Update(func(tx *Tx) error { return tx.Delete(key) })
}

// Snapshot returns a consistent read view of the last durable version. It
// is cheap (no copy, no lock) and stays valid, unchanged, for as long as
// it is referenced, also after Close. Called after Close it returns the
// last durable version, read from memory.
func (d *DB) Snapshot() *Snapshot {
	s := d.current()
	return &Snapshot{version: s.version, view: s.view, obs: d.obs}
}

// View calls fn with a Snapshot of the last durable version and returns
// fn's error.
func (d *DB) View(fn func(s *Snapshot) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	return fn(d.Snapshot())
}

// Stats returns the DB's counters. After Close it returns their final
// values.
func (d *DB) Stats() Stats {
	s := d.current()
	st := Stats{
		Version:         s.version,
		Records:         s.view.Len(),
		Commits:         d.stats.commits.Load(),
		FailedCommits:   d.stats.failedCommits.Load(),
		GroupCommits:    d.stats.groupCommits.Load(),
		WALBytesWritten: d.stats.walBytes.Load(),

		Checkpoints:     d.stats.checkpoints.Load(),
		SnapshotVersion: d.stats.lastSnapshot.Load(),
		Recovery:        time.Duration(d.stats.recovery.Load()),
		Failed:          d.failure(),
	}
	d.stats.walMu.Lock()
	st.WALFirst, st.WALLast = d.stats.walFirst, d.stats.walLast
	d.stats.walMu.Unlock()
	if st.WALLast != 0 {
		st.WALRecords = st.WALLast - st.WALFirst + 1
	}
	return st
}

// failure returns the error that failed the store closed, or nil.
func (d *DB) failure() error {
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail fails the store closed with cause; the first cause wins.
func (d *DB) fail(cause error) error {
	err := fmt.Errorf("%w: %w", ErrFailed, cause)
	if d.failed.CompareAndSwap(nil, &err) {
		d.logger.Error("dualdb: WAL write failed; store failed closed, reopen to recover", "dir", d.dir, "err", cause)
		d.feed.notify()
	}
	return d.failure()
}

var errTxDone = fmt.Errorf("%w: transaction used after its Update returned", ErrClosed)
