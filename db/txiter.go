package db

import (
	"iter"

	"github.com/dualdb/dualdb/btreeidx"
)

// Iterators of a transaction.
//
// A Tx iterator reads the transaction's own state, its writes included,
// with the bounds of Snapshot's iterators: from inclusive, to exclusive,
// in the direction of iteration, nil for an open end. Each iteration reads
// the state as it was when the iteration started (the range loop's first
// step): the transaction's trees are frozen then, at O(1) cost, by a
// copy-on-write clone. Writes the transaction makes while iterating (Put,
// Delete, Insert, PutAll inside the loop body) are therefore not seen by
// that iteration, which neither skips nor repeats records because of
// them; they are seen by every read and iteration that starts afterwards.
// The first write after an iteration starts copies the tree nodes it
// touches, as a commit does.
//
// Iterating a Tx after its Update returned panics: the transaction no
// longer exists, and an iterator has no error to return.

// Ascend yields the transaction's records by ascending key in [from, to).
func (tx *Tx) Ascend(from, to []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.Ascend(from, to) })
}

// Descend yields the transaction's records by descending key, from from
// (inclusive) down to to (exclusive).
func (tx *Tx) Descend(from, to []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.Descend(from, to) })
}

// AscendIndex yields the transaction's records by ascending index key in
// [from, to).
func (tx *Tx) AscendIndex(from, to []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.AscendIndex(from, to) })
}

// DescendIndex yields the transaction's records by descending index key,
// from from (inclusive) down to to (exclusive).
func (tx *Tx) DescendIndex(from, to []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.DescendIndex(from, to) })
}

// AscendPrefix yields, by ascending key, the transaction's records whose
// key starts with prefix; an empty or nil prefix yields all.
func (tx *Tx) AscendPrefix(prefix []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.AscendPrefix(prefix) })
}

// AscendIndexPrefix yields, by ascending index key, the transaction's
// records whose index key starts with prefix; an empty or nil prefix
// yields all.
func (tx *Tx) AscendIndexPrefix(prefix []byte) iter.Seq[Record] {
	return tx.iterate(func(v btreeidx.View) iter.Seq[btreeidx.Record] { return v.AscendIndexPrefix(prefix) })
}

// iterate runs seq over a frozen copy of the transaction's trees, taken
// when the iteration starts.
func (tx *Tx) iterate(seq func(btreeidx.View) iter.Seq[btreeidx.Record]) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		if tx.done {
			panic(errTxDone)
		}
		for r := range seq(tx.idx.Freeze()) {
			if !yield(Record(r)) {
				return
			}
		}
	}
}
