package db

import (
	"iter"
	"time"

	"github.com/dualdb/dualdb/btreeidx"
)

// Snapshot is a consistent read view of one durable version: both indexes
// at the same version, never changing. It is safe for concurrent use and
// costs nothing to keep (memory shared with newer versions is copied
// lazily by the writer). Records it returns must not be modified.
//
// Iterators take [from, to) bounds in the direction of iteration: a nil
// bound is open, from is inclusive, to exclusive; Descend(from, to) starts
// at from and stops before to. Breaking out of a range loop stops the
// iteration.
type Snapshot struct {
	version uint64
	view    btreeidx.View
	obs     Observer
}

// Version returns the snapshot's version.
func (s *Snapshot) Version() uint64 { return s.version }

// Len returns the number of records.
func (s *Snapshot) Len() int { return s.view.Len() }

// Get returns the record with key, or ErrNotFound.
func (s *Snapshot) Get(key []byte) (Record, error) {
	r, ok := s.view.Get(key)
	if !ok {
		return Record{}, ErrNotFound
	}
	return Record(r), nil
}

// GetByIndex returns the record with index key index, or ErrNotFound.
func (s *Snapshot) GetByIndex(index []byte) (Record, error) {
	r, ok := s.view.GetByIndex(index)
	if !ok {
		return Record{}, ErrNotFound
	}
	return Record(r), nil
}

// Ascend yields records by ascending key in [from, to).
func (s *Snapshot) Ascend(from, to []byte) iter.Seq[Record] {
	return s.wrap(s.view.Ascend(from, to), false)
}

// Descend yields records by descending key, from from (inclusive) down to
// to (exclusive).
func (s *Snapshot) Descend(from, to []byte) iter.Seq[Record] {
	return s.wrap(s.view.Descend(from, to), false)
}

// AscendIndex yields records by ascending index key in [from, to).
func (s *Snapshot) AscendIndex(from, to []byte) iter.Seq[Record] {
	return s.wrap(s.view.AscendIndex(from, to), true)
}

// DescendIndex yields records by descending index key, from from
// (inclusive) down to to (exclusive).
func (s *Snapshot) DescendIndex(from, to []byte) iter.Seq[Record] {
	return s.wrap(s.view.DescendIndex(from, to), true)
}

// AscendPrefix yields, by ascending key, the records whose key starts with
// prefix; an empty or nil prefix yields all records.
func (s *Snapshot) AscendPrefix(prefix []byte) iter.Seq[Record] {
	return s.wrap(s.view.AscendPrefix(prefix), false)
}

// AscendIndexPrefix yields, by ascending index key, the records whose
// index key starts with prefix; an empty or nil prefix yields all records.
func (s *Snapshot) AscendIndexPrefix(prefix []byte) iter.Seq[Record] {
	return s.wrap(s.view.AscendIndexPrefix(prefix), true)
}

// Check verifies the store's invariants (both indexes in strict order,
// a bijection between them, equal counts) on the whole snapshot and returns
// up to limit findings (limit <= 0: all). A healthy store returns none.
func (s *Snapshot) Check(limit int) []string { return s.view.Check(limit) }

func (s *Snapshot) wrap(seq iter.Seq[btreeidx.Record], byIndex bool) iter.Seq[Record] {
	obs := s.obs
	if obs == nil {
		return func(yield func(Record) bool) {
			for r := range seq {
				if !yield(Record(r)) {
					return
				}
			}
		}
	}
	return func(yield func(Record) bool) {
		start := time.Now()
		n := 0
		defer func() { obs.Scan(ScanEvent{ByIndex: byIndex, Items: n, Duration: time.Since(start)}) }()
		for r := range seq {
			n++
			if !yield(Record(r)) {
				return
			}
		}
	}
}
