package btreeidx

import (
	"bytes"
	"iter"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/google/btree"
)

// Degree is the B-tree degree of both trees: nodes hold up to 2*Degree-1
// items. Chosen by BenchmarkGet in this package.
const Degree = 32

// Record is one record. Its slices alias immutable memory: never modify them.
type Record struct {
	Key, Index, Value []byte
}

// View is a read-only version of the dual index. Its methods are safe for
// concurrent use by any number of goroutines, also while the Index it was
// frozen from is being modified. The zero View is empty.
type View struct {
	pri *btree.BTreeG[item] // by key
	sec *btree.BTreeG[item] // by index key, same entries as pri
}

// Index is the writer's mutable head of the dual index. It is not safe for
// concurrent use; Freeze hands out read-only versions.
type Index struct {
	View
}

// New returns an empty Index.
func New() *Index {
	return &Index{View{
		pri: btree.NewG(Degree, lessByKey),
		sec: btree.NewG(Degree, lessByIndex),
	}}
}

// Freeze returns the current state as a View that is never modified again.
// It costs O(1); the head copies shared nodes lazily as it changes.
func (x *Index) Freeze() View {
	return View{pri: x.pri.Clone(), sec: x.sec.Clone()}
}

// Thaw returns a new writable Index that starts from v. v itself stays
// unchanged. It is how a writer rolls back to the last frozen version.
// Thaw is a writer's operation: google/btree's Clone updates a field of the
// source tree, so two Thaws of one View must not run at once (readers of v
// are safe).
func Thaw(v View) *Index {
	if v.pri == nil {
		return New()
	}
	return &Index{View{pri: v.pri.Clone(), sec: v.sec.Clone()}}
}

// Put inserts or replaces the record with key. A nil index is treated as
// empty; the empty index key is an index key like any other. If index
// belongs to a record with another key, Put changes nothing and returns a
// *dberr.ConflictError. Put copies its arguments. It returns the replaced
// record, if any.
func (x *Index) Put(key, index, value []byte) (old Record, replaced bool, err error) {
	e := newEntry(key, index, value)
	secItem := indexItem(e) // also the probe: saves allocating one
	if owner, ok := x.sec.Get(secItem); ok && !bytes.Equal(owner.e.key(), key) {
		return Record{}, false, &dberr.ConflictError{
			Index: bytes.Clone(index), Key: bytes.Clone(key), Owner: bytes.Clone(owner.e.key()),
		}
	}
	prev, had := x.pri.ReplaceOrInsert(keyItem(e))
	if had && !bytes.Equal(prev.e.index(), index) {
		x.sec.Delete(indexItem(prev.e))
	}
	x.sec.ReplaceOrInsert(secItem)
	if had {
		return prev.e.record(), true, nil
	}
	return Record{}, false, nil
}

// Delete removes the record with key and returns it; ok is false if there
// was none.
func (x *Index) Delete(key []byte) (old Record, ok bool) {
	prev, had := x.pri.Delete(probeKey(key))
	if !had {
		return Record{}, false
	}
	x.sec.Delete(indexItem(prev.e))
	return prev.e.record(), true
}

// Len returns the number of records.
func (v View) Len() int {
	if v.pri == nil {
		return 0
	}
	return v.pri.Len()
}

// Get returns the record with key.
func (v View) Get(key []byte) (Record, bool) {
	if v.pri == nil {
		return Record{}, false
	}
	it, ok := v.pri.Get(probeKey(key))
	if !ok {
		return Record{}, false
	}
	return it.e.record(), true
}

// GetByIndex returns the record whose index key is index.
func (v View) GetByIndex(index []byte) (Record, bool) {
	if v.sec == nil {
		return Record{}, false
	}
	it, ok := v.sec.Get(probeIndex(index))
	if !ok {
		return Record{}, false
	}
	return it.e.record(), true
}

// Ascend yields records by ascending key in [from, to); a nil bound is open.
func (v View) Ascend(from, to []byte) iter.Seq[Record] {
	return ascend(v.pri, from, to, probeKey)
}

// Descend yields records by descending key from from (inclusive) down to
// to (exclusive); a nil bound is open.
func (v View) Descend(from, to []byte) iter.Seq[Record] {
	return descend(v.pri, from, to, probeKey)
}

// AscendIndex yields records by ascending index key in [from, to).
func (v View) AscendIndex(from, to []byte) iter.Seq[Record] {
	return ascend(v.sec, from, to, probeIndex)
}

// DescendIndex yields records by descending index key from from
// (inclusive) down to to (exclusive).
func (v View) DescendIndex(from, to []byte) iter.Seq[Record] {
	return descend(v.sec, from, to, probeIndex)
}

func ascend(t *btree.BTreeG[item], from, to []byte, probe func([]byte) item) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		if t == nil {
			return
		}
		fn := func(it item) bool { return yield(it.e.record()) }
		switch {
		case from == nil && to == nil:
			t.Ascend(fn)
		case to == nil:
			t.AscendGreaterOrEqual(probe(from), fn)
		case from == nil:
			t.AscendLessThan(probe(to), fn)
		default:
			t.AscendRange(probe(from), probe(to), fn)
		}
	}
}

func descend(t *btree.BTreeG[item], from, to []byte, probe func([]byte) item) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		if t == nil {
			return
		}
		fn := func(it item) bool { return yield(it.e.record()) }
		switch {
		case from == nil && to == nil:
			t.Descend(fn)
		case to == nil:
			t.DescendLessOrEqual(probe(from), fn)
		case from == nil:
			t.DescendGreaterThan(probe(to), fn)
		default:
			t.DescendRange(probe(from), probe(to), fn)
		}
	}
}
