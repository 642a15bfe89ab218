package db

import (
	"fmt"
	"slices"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/wal"
)

// Insert stores a new record in one durable commit. If a record with key
// exists it changes nothing and returns an error wrapping ErrExists (the
// key is checked before the index key); otherwise it behaves like Put.
// Insert copies its arguments.
func (d *DB) Insert(key, index, value []byte) error {
	return d.Update(func(tx *Tx) error { return tx.Insert(key, index, value) })
}

// PutAll stores recs in one durable commit, as Tx.PutAll does: all of
// them or, with an error, none. A refused PutAll takes no version; an
// empty one changes nothing and takes none either.
func (d *DB) PutAll(recs ...Record) error {
	return d.Update(func(tx *Tx) error { return tx.PutAll(recs...) })
}

// Insert inserts a new record. If the transaction sees a record with key,
// Insert changes nothing and returns an error wrapping ErrExists, naming
// the key; the transaction may go on. Otherwise it behaves like Tx.Put
// (a *ConflictError if index belongs to another record). Insert never
// replaces a record.
func (tx *Tx) Insert(key, index, value []byte) error {
	if tx.done {
		return errTxDone
	}
	if err := tx.d.checkSizes(key, index, value); err != nil {
		return err
	}
	if _, ok := tx.idx.Get(key); ok {
		return fmt.Errorf("%w: key %q", ErrExists, key)
	}
	return tx.Put(key, index, value)
}

// PutAll inserts or replaces the records recs as one step of the
// transaction. Their Version fields are ignored: every record gets the
// transaction's version.
//
// Index keys that the batch's own records give up are free for the batch
// to take, so a swap or a rotation of index keys among records is one
// call. The result is checked as a whole: if an index key would end up
// owned twice, by a record outside the batch or by two records of the
// batch, PutAll refuses the whole batch with a *ConflictError (for the
// first record, in batch order, that asks for a taken index key) and
// changes nothing. A key given twice in recs is refused with an error
// wrapping ErrDuplicateKey, and an empty or too large key, index key or
// value with ErrEmptyKey or ErrTooLarge, before anything is looked at.
// After a refusal the transaction is as it was before the call and may go
// on. PutAll copies the records' slices.
//
// In the WAL, and so for any reader of the log, the step is recorded as
// ops that reproduce it when applied one at a time: first a Delete of
// each record of the batch whose old index key another record of the
// batch takes, then a Put of every record, in the order of recs.
func (tx *Tx) PutAll(recs ...Record) error {
	if tx.done {
		return errTxDone
	}
	if len(recs) == 0 {
		return nil
	}
	batch := make([]btreeidx.Record, len(recs))
	size := 0 // of the Put ops' encoding
	for i, r := range recs {
		if err := tx.d.checkSizes(r.Key, r.Index, r.Value); err != nil {
			return fmt.Errorf("record %d (key %q): %w", i, clipKey(r.Key), err)
		}
		batch[i] = btreeidx.Record(r)
		size += wal.OpSize(putOp(r))
	}
	// The Put ops do not depend on what the index finds: a large batch
	// has them encoded on another goroutine while the index takes it.
	var puts []byte
	var encoded chan struct{}
	if len(recs) >= parallelEncodeMin {
		encoded = make(chan struct{})
		go func() {
			defer close(encoded)
			puts = appendPutOps(make([]byte, 0, size), recs)
		}()
	}
	givers, gave, err := tx.idx.PutAll(batch, tx.version)
	if encoded != nil {
		<-encoded // also on error: the encoder reads recs, the caller's
	}
	if err != nil {
		return err
	}
	if encoded != nil && len(tx.body) == 0 && len(gave) == 0 {
		tx.body = puts // the common bulk load: no copy
	} else {
		for _, old := range gave {
			size += wal.OpSize(deleteOp(Record(old)))
		}
		tx.body = slices.Grow(tx.body, size)
		for _, old := range gave {
			tx.body = appendDeleteOp(tx.body, Record(old))
		}
		if encoded != nil {
			tx.body = append(tx.body, puts...)
		} else {
			tx.body = appendPutOps(tx.body, recs)
		}
	}
	tx.ops += len(givers) + len(recs)
	return nil
}

// parallelEncodeMin is the smallest PutAll batch whose WAL ops are encoded
// on another goroutine while the index takes the batch; below it starting
// the goroutine costs about what it saves.
const parallelEncodeMin = 256

// appendPutOps appends the WAL Put op of each of recs to body.
func appendPutOps(body []byte, recs []Record) []byte {
	for _, r := range recs {
		body = wal.AppendOp(body, putOp(r))
	}
	return body
}

func putOp(r Record) wal.Op {
	return wal.Op{Kind: wal.OpPut, Key: r.Key, Index: r.Index, Value: r.Value}
}

// clipKey shortens a key for an error message.
func clipKey(b []byte) []byte {
	const max = 64
	if len(b) > max {
		return b[:max]
	}
	return b
}
