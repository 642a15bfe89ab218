package db

import (
	"fmt"
	"slices"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/wal"
)

// Tx is a read-write transaction, valid only inside the function passed to
// Update. It sees its own writes: Get, GetByIndex and the iterators read
// the transaction's own state, its writes included. Records it writes
// carry the version the transaction commits as (the DB's version plus one
// when it began: writers are serialized), also when read back inside the
// transaction. It must not be used from more than one goroutine, nor after
// Update returns (its methods then return ErrClosed, its iterators panic).
type Tx struct {
	d       *DB
	idx     *btreeidx.Index
	version uint64 // the version this transaction commits as, if it writes
	body    []byte // WAL encoding of the ops so far
	ops     int
	done    bool
}

// Put inserts or replaces the record with key. If index belongs to a record
// with another key, Put changes nothing and returns a *ConflictError; the
// transaction may go on. Put copies its arguments.
func (tx *Tx) Put(key, index, value []byte) error {
	if tx.done {
		return errTxDone
	}
	if err := tx.d.checkSizes(key, index, value); err != nil {
		return err
	}
	if _, _, err := tx.idx.Put(key, index, value, tx.version); err != nil {
		return err
	}
	op := wal.Op{Kind: wal.OpPut, Key: key, Index: index, Value: value}
	tx.body = wal.AppendOp(growBody(tx.body, wal.OpSize(op)), op)
	tx.ops++
	return nil
}

// growBody makes room for n more bytes in body, at least doubling its
// capacity when it grows: append alone grows a large slice by 1.25x, which
// copies a transaction of many Puts about five times over.
func growBody(body []byte, n int) []byte {
	if cap(body)-len(body) >= n {
		return body
	}
	return slices.Grow(body, max(n, len(body)))
}

// Delete removes the record with key, or returns ErrNotFound.
func (tx *Tx) Delete(key []byte) error {
	if tx.done {
		return errTxDone
	}
	if len(key) == 0 {
		return ErrEmptyKey
	}
	old, ok := tx.idx.Delete(key)
	if !ok {
		return fmt.Errorf("%w: key %q", ErrNotFound, key)
	}
	tx.body = appendDeleteOp(growBody(tx.body, wal.OpSize(deleteOp(Record(old)))), Record(old))
	tx.ops++
	return nil
}

// Get returns the record with key as this transaction sees it.
func (tx *Tx) Get(key []byte) (Record, error) {
	if tx.done {
		return Record{}, errTxDone
	}
	r, ok := tx.idx.Get(key)
	if !ok {
		return Record{}, ErrNotFound
	}
	return Record(r), nil
}

// GetByIndex returns the record with index key index as this transaction
// sees it.
func (tx *Tx) GetByIndex(index []byte) (Record, error) {
	if tx.done {
		return Record{}, errTxDone
	}
	r, ok := tx.idx.GetByIndex(index)
	if !ok {
		return Record{}, ErrNotFound
	}
	return Record(r), nil
}

// appendDeleteOp appends the WAL op that deletes old, carrying the whole
// record so that the change feed can say what was removed.
func appendDeleteOp(body []byte, old Record) []byte {
	return wal.AppendOp(body, deleteOp(old))
}

func deleteOp(old Record) wal.Op {
	return wal.Op{Kind: wal.OpDeleteRecord, Key: old.Key, Index: old.Index, Value: old.Value, Version: old.Version}
}

func (d *DB) checkSizes(key, index, value []byte) error {
	switch {
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > d.opts.MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes, limit %d", ErrTooLarge, len(key), d.opts.MaxKeySize)
	case len(index) > d.opts.MaxKeySize:
		return fmt.Errorf("%w: index key of %d bytes, limit %d", ErrTooLarge, len(index), d.opts.MaxKeySize)
	case len(value) > d.opts.MaxValueSize:
		return fmt.Errorf("%w: value of %d bytes, limit %d", ErrTooLarge, len(value), d.opts.MaxValueSize)
	}
	return nil
}

// Update runs fn in a read-write transaction and commits it durably. If fn
// returns an error or panics, every change it made is rolled back, the
// error is returned (the panic is re-raised) and nothing is written. When
// Update returns nil, the transaction is durable (unless Options.NoSync)
// and visible to readers; readers never see part of it. A transaction that
// changes nothing takes no version.
//
// fn must not call the DB's write methods (Put, Delete, Update): they take
// the writer lock that Update holds while fn runs, so such a call
// deadlocks, as a nested bbolt Update does. Use tx's methods instead. Update cannot detect the
// mistake cheaply: Go gives a goroutine no identity to compare, and a
// lock attempt that finds the writer lock held cannot tell fn's own call
// from another goroutine's Update waiting its turn, so refusing would
// break ordinary concurrent writers.
func (d *DB) Update(fn func(tx *Tx) error) (err error) {
	if d.closed.Load() {
		return ErrClosed
	}
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	start := time.Now()
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return ErrClosed
	}
	if ferr := d.failure(); ferr != nil {
		d.mu.Unlock()
		return ferr
	}
	tx := &Tx{d: d, idx: d.head, version: d.assigned + 1}
	// The transaction sees the head, which may hold commits that are
	// queued for the WAL but not durable yet. Whatever it returns without
	// a commit of its own (an error, a refused Put, values it read) must
	// not be acknowledged before those are durable: waitSeen waits for
	// the newest of them, or reports that it failed.
	seen := d.lastReq
	committed := false
	defer func() {
		if committed {
			return
		}
		// Error or panic: restore the head from the last frozen version.
		tx.done = true
		if tx.ops > 0 {
			d.head = btreeidx.Thaw(d.pending)
		}
		d.mu.Unlock()
		if err == nil { // a panic: nothing to acknowledge
			return
		}
		if ferr := waitSeen(seen); ferr != nil {
			err = ferr
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	tx.done = true
	if tx.ops == 0 {
		committed = true
		d.mu.Unlock()
		return waitSeen(seen)
	}
	version := d.assigned + 1
	req := &commitReq{
		version:  version,
		data:     wal.AssembleRecord(make([]byte, 0, len(tx.body)+16), version, tx.ops, tx.body),
		view:     d.head.Freeze(),
		finished: make(chan struct{}),
	}
	d.assigned = version
	d.pending = req.view
	d.lastReq = req
	leader := d.queueLocked(req)
	committed = true
	d.mu.Unlock()

	// Commits are written in order: ours durable means all before it are.
	if leader {
		d.lead()
	} else {
		d.follow(req)
	}
	err = req.err
	if err != nil {
		d.stats.failedCommits.Add(1)
	} else {
		d.stats.commits.Add(1)
	}
	if d.obs != nil {
		d.obs.Commit(CommitEvent{Version: version, Ops: tx.ops, Latency: time.Since(start), Err: err})
	}
	return err
}

// waitSeen waits until the commit req (the newest one a transaction could
// see) has a durable outcome. It returns nil if req is nil or durable, and
// the store's failure if req's WAL write failed: then whatever the
// transaction saw of it never existed.
func waitSeen(req *commitReq) error {
	if req == nil {
		return nil
	}
	<-req.finished
	return req.err
}
