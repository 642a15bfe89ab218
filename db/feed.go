package db

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/dualdb/dualdb/internal/jsonl"
	"github.com/dualdb/dualdb/wal"
)

// OpKind says what a ChangeOp did.
type OpKind uint8

// The kinds of ChangeOp. The values are part of the API (and of the feed's
// JSON lines, by name): never change them.
const (
	OpPut    OpKind = iota + 1 // a record was written (inserted or replaced)
	OpDelete                   // a record was removed
)

// String returns "put" or "delete".
func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// ChangeOp is one step of a commit, in the order the commit made them.
//
// For OpPut, Record is the record written; its Version is the commit's.
// For OpDelete, Record is the record removed, with the Version of the
// commit that had last written it. A delete logged by a build older than
// the change feed carries only the key: Record then has the Key alone.
type ChangeOp struct {
	Kind   OpKind
	Record Record
}

// Change is one durable commit: its version and its ops. Applied in order
// to the state at Version-1 (Put: insert or replace by key; Delete: remove
// the key), the ops give the state at Version. A PutAll that moves index
// keys among its records shows as a Delete of each record that gives its
// index key up, then a Put of every record: applied one at a time, no step
// meets a conflict.
type Change struct {
	Version uint64
	Ops     []ChangeOp
}

// feedReadBytes bounds the WAL bytes one Changes iterator reads in one
// step (at least one record): the most a consumer holds in memory beside
// the change it is given, however far behind it is.
const feedReadBytes = 1 << 20

// Changes returns the store's change feed: every durable commit with a
// version after after, each exactly once, in version order. When it has
// yielded the last durable commit it waits for the next one, until ctx is
// done: it then yields ctx's error and ends. Only durable commits are
// yielded, the same ones readers see.
//
// The feed reads the WAL, which holds every commit after the oldest kept
// snapshot. If a version the feed must yield is no longer there (after is
// too old, or a checkpoint removed it while the consumer lagged), it
// yields an error wrapping ErrCompacted and ends: the consumer resyncs
// from a Snapshot and continues with Changes(ctx, snapshot.Version()). A
// consumer may thus fall behind by as many commits as the WAL holds: with
// automatic checkpoints and two or more snapshots kept (the default), at
// least Options.CheckpointEvery commits; explicit Checkpoint calls, and
// KeepSnapshots 1, which truncates the WAL at every checkpoint, shorten it.
// It never makes the store buffer anything: a slow consumer reads the WAL
// at its own pace, in steps of a bounded size, and slows only itself;
// with no consumer the commit path does no extra work.
//
// Other ends: ErrClosed once the DB is closed, the store's failure once
// it has failed closed and the consumer has every durable commit, and a
// *CorruptionError if the WAL is damaged. An after beyond the current
// version waits until the store reaches it.
//
// The Records of a Change are the consumer's: they stay valid forever and
// must not be modified. The iterator may be used from one goroutine;
// any number of iterators may run at once.
func (d *DB) Changes(ctx context.Context, after uint64) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		next := after + 1
		for {
			if d.closed.Load() {
				yield(Change{}, ErrClosed)
				return
			}
			if err := ctx.Err(); err != nil {
				yield(Change{}, err)
				return
			}
			if next > d.Version() {
				// Caught up: register as a waiter, then look again, so that
				// a commit published in between is not missed.
				wake := d.feed.wait()
				if next > d.Version() {
					if err := d.failure(); err != nil {
						yield(Change{}, err)
						return
					}
					if d.closed.Load() {
						continue
					}
					select {
					case <-wake:
					case <-ctx.Done():
					}
					continue
				}
			}
			// Up to the published version only: a record the committer has
			// written but not published yet is not yielded before readers
			// can see it.
			recs, err := d.readLog(next, d.Version(), feedReadBytes)
			switch {
			case d.closed.Load() && err != nil:
				yield(Change{}, ErrClosed)
				return
			case errors.Is(err, wal.ErrTruncated) || (err == nil && len(recs) == 0):
				// next <= the published version, whose record reached the
				// WAL before it was published: a checkpoint removed it.
				yield(Change{}, fmt.Errorf("%w: version %d is no longer in %s; resync from a Snapshot", ErrCompacted, next, d.walPath()))
				return
			case err != nil:
				yield(Change{}, err)
				return
			}
			for _, r := range recs {
				if !yield(changeOf(r), nil) {
					return
				}
				next = r.Version + 1
			}
		}
	}
}

// readLog reads the WAL records from..to, up to about maxBytes. A writer
// reads its open wal.db. A read-only DB released wal.db once it had loaded
// (it must not keep a writer out), so it opens the file again, read-only,
// for this one read: a writer that holds the store makes that ErrLocked,
// and records a writer truncated since the load are ErrCompacted.
func (d *DB) readLog(from, to uint64, maxBytes int) ([]wal.Logged, error) {
	if !d.opts.ReadOnly {
		return d.log.Read(from, to, maxBytes)
	}
	log, err := wal.Open(d.walPath(), d.walOptions())
	if err != nil {
		return nil, err
	}
	recs, err := log.Read(from, to, maxBytes)
	if cerr := log.Close(); err == nil {
		err = cerr
	}
	return recs, err
}

// changeOf converts a record read from the WAL, whose ops alias memory of
// the caller's, into a Change.
func changeOf(r wal.Logged) Change {
	c := Change{Version: r.Version, Ops: make([]ChangeOp, len(r.Ops))}
	for i, op := range r.Ops {
		switch op.Kind {
		case wal.OpPut:
			c.Ops[i] = ChangeOp{Kind: OpPut, Record: Record{Key: op.Key, Index: op.Index, Value: op.Value, Version: r.Version}}
		default: // the decoder accepts no other kind than the deletes
			c.Ops[i] = ChangeOp{Kind: OpDelete, Record: Record{Key: op.Key, Index: op.Index, Value: op.Value, Version: op.Version}}
		}
	}
	return c
}

// feedNotifier wakes Changes iterators that wait for a new version. It
// keeps no per-consumer state: one channel, made only when someone waits,
// closed and forgotten on the next publish. With no waiter a publish costs
// one atomic load.
type feedNotifier struct {
	waiting atomic.Bool   // a channel is out; set and cleared under mu
	mu      sync.Mutex    // guards ch
	ch      chan struct{} // closed on the next notify; nil when no one waits
}

// wait returns a channel closed at the next notify. The caller must look
// at the state it waits on after wait returns.
func (f *feedNotifier) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
	}
	f.waiting.Store(true)
	return f.ch
}

// notify wakes every waiter; the caller has changed the state first.
func (f *feedNotifier) notify() {
	if !f.waiting.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch != nil {
		close(f.ch)
		f.ch = nil
	}
	f.waiting.Store(false)
}

// AppendChangeJSON appends c to dst as one line of JSON, ending in a
// newline, and returns the extended slice: the encoding of the change feed
// that `dualdb watch` prints, for any program that serves the feed:
//
//	{"version":7,"ops":[{"op":"put","key":"user:7","index":"ada@example.com","value":"{}","record_version":7}]}
//
// Ops are in commit order. A key, index or value that is valid UTF-8 is a
// JSON string; any other is base64 (standard, padded) under the name with
// "_b64" appended. record_version is the Version of the op's Record (for
// a delete, that of the commit that had written the removed record).
func AppendChangeJSON(dst []byte, c Change) []byte {
	dst = append(dst, `{"version":`...)
	dst = fmt.Appendf(dst, "%d", c.Version)
	dst = append(dst, `,"ops":[`...)
	for i, op := range c.Ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"op":`...)
		dst = appendJSONString(dst, op.Kind.String())
		dst = appendJSONField(dst, "key", op.Record.Key)
		dst = appendJSONField(dst, "index", op.Record.Index)
		dst = appendJSONField(dst, "value", op.Record.Value)
		dst = fmt.Appendf(dst, `,"record_version":%d}`, op.Record.Version)
	}
	return append(dst, "]}\n"...)
}

// appendJSONField appends ,"name":"..." for b, or ,"name_b64":"..." when
// b is not valid UTF-8: the encoding of dualdb export's lines.
func appendJSONField(dst []byte, name string, b []byte) []byte {
	return jsonl.AppendField(append(dst, ','), name, b)
}

// appendJSONString appends s as a JSON string, as export's lines do.
func appendJSONString(dst []byte, s string) []byte { return jsonl.AppendString(dst, s) }
