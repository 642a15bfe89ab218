package btreeidx

import (
	"bytes"
	"fmt"
	"iter"
	"slices"
	"sync"
	"unsafe"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/google/btree"
)

// Degree is the B-tree degree of both trees: nodes hold up to 2*Degree-1
// items. Chosen by BenchmarkGet in this package.
const Degree = 32

// parallelPutAll is the size of a PutAll batch from which the two trees
// are written on two goroutines: below it, starting one costs more than
// it saves.
const parallelPutAll = 256

// Record is one record. Its slices alias immutable memory: never modify them.
// Version is the version of the commit that last put the record, as given
// to Put, PutAll or Builder.Add; 0 means unknown.
type Record struct {
	Key, Index, Value []byte
	Version           uint64
}

// View is a read-only version of the dual index. Its methods are safe for
// concurrent use by any number of goroutines, also while the Index it was
// frozen from is being modified. The zero View is empty.
type View struct {
	pri *btree.BTreeG[item] // by key
	sec *btree.BTreeG[item] // by index key, same records as pri
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

// Put inserts or replaces the record with key, stamped with version (the
// commit that writes it). A nil index is treated as empty; the empty index
// key is an index key like any other. If index belongs to a record with
// another key, Put changes nothing and returns a *dberr.ConflictError. Put
// copies its arguments. It returns the replaced record, if any.
func (x *Index) Put(key, index, value []byte, version uint64) (old Record, replaced bool, err error) {
	if err := checkFields(key, index, value); err != nil {
		return Record{}, false, err
	}
	e := newEntry(key, index, value, version)
	// One walk down the secondary tree both looks for the index key's
	// owner and puts the new entry there; a conflict, rare, puts the
	// owner's item back (the tree's contents end as they were).
	if owner, ok := x.sec.ReplaceOrInsert(indexItem(e)); ok && !bytes.Equal(owner.e.key(), key) {
		x.sec.ReplaceOrInsert(owner)
		return Record{}, false, &dberr.ConflictError{
			Index: bytes.Clone(index), Key: bytes.Clone(key), Owner: bytes.Clone(owner.e.key()),
		}
	}
	prev, had := x.pri.ReplaceOrInsert(keyItem(e))
	if had && !bytes.Equal(prev.e.index(), index) {
		x.sec.Delete(indexItem(prev.e))
	}
	if had {
		return prev.e.record(), true, nil
	}
	return Record{}, false, nil
}

// PutAll inserts or replaces every record of recs as one step, each
// stamped with version (their own Version fields are ignored). Index keys
// that records of the batch give up are free for the batch to take, so a
// swap or a rotation of index keys is one call. The result is checked as a
// whole before anything changes: if two records of recs have the same key,
// PutAll returns an error wrapping dberr.ErrDuplicateKey; if an index key
// would be owned twice (by a record outside the batch, or by two records
// of the batch), it returns a *dberr.ConflictError for the first record,
// in batch order, that asks for it. On any error the Index is unchanged.
// PutAll copies the slices of recs.
//
// givers are the positions in recs, ascending, of the records whose
// current index key another record of the batch takes, and gave[i] is the
// record that recs[givers[i]] replaced (as it was before the call). A log
// that replays puts one at a time reproduces the step by deleting those
// records first, then putting recs in order.
func (x *Index) PutAll(recs []Record, version uint64) (givers []int, gave []Record, err error) {
	byKey := make(map[string]int, len(recs))
	for i, r := range recs {
		if err := checkFields(r.Key, r.Index, r.Value); err != nil {
			return nil, nil, err
		}
		if j, dup := byKey[string(r.Key)]; dup {
			return nil, nil, fmt.Errorf("%w: key %q at positions %d and %d", dberr.ErrDuplicateKey, r.Key, j, i)
		}
		byKey[string(r.Key)] = i
	}
	byIndex := make(map[string]int, len(recs))
	for i, r := range recs {
		if j, dup := byIndex[string(r.Index)]; dup {
			return nil, nil, &dberr.ConflictError{
				Index: bytes.Clone(r.Index), Key: bytes.Clone(r.Key), Owner: bytes.Clone(recs[j].Key),
			}
		}
		byIndex[string(r.Index)] = i
		owner, ok := x.sec.Get(probeIndex(r.Index))
		if !ok {
			continue
		}
		j, inBatch := byKey[string(owner.e.key())]
		switch {
		case !inBatch:
			return nil, nil, &dberr.ConflictError{
				Index: bytes.Clone(r.Index), Key: bytes.Clone(r.Key), Owner: bytes.Clone(owner.e.key()),
			}
		case j != i:
			givers = append(givers, j)
		}
	}
	slices.Sort(givers)
	// Checked: apply. Old index keys go first, all of them, so that no
	// removal can hit an index key a record of the batch has just taken.
	if len(givers) > 0 {
		gave = make([]Record, len(givers))
		for i, g := range givers {
			old, _ := x.pri.Get(probeKey(recs[g].Key)) // a giver holds an index key: it exists
			gave[i] = old.e.record()
		}
	}
	entries := make([]*entry, len(recs))
	for i, r := range recs {
		entries[i] = newEntry(r.Key, r.Index, r.Value, version)
	}
	// The trees are independent now: the primary tree yields the records
	// replaced, while the secondary tree takes the new index keys (an
	// index key a record gives up to another record of the batch is
	// replaced there as it is taken). Then index keys that their records
	// gave up and that nobody took go.
	var replaced []*entry
	putPri := func() {
		for _, e := range entries {
			if prev, had := x.pri.ReplaceOrInsert(keyItem(e)); had && !bytes.Equal(prev.e.index(), e.index()) {
				replaced = append(replaced, prev.e)
			}
		}
	}
	putSec := func() {
		for _, e := range entries {
			x.sec.ReplaceOrInsert(indexItem(e))
		}
	}
	if len(entries) >= parallelPutAll {
		var wg sync.WaitGroup
		wg.Go(putSec)
		putPri()
		wg.Wait()
	} else {
		putPri()
		putSec()
	}
	for _, old := range replaced {
		if it, ok := x.sec.Get(indexItem(old)); ok && it.e == old {
			x.sec.Delete(it)
		}
	}
	return givers, gave, nil
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

// AscendPrefix yields, by ascending key, the records whose key starts with
// prefix; an empty prefix yields all records.
func (v View) AscendPrefix(prefix []byte) iter.Seq[Record] {
	from, to := prefixBounds(prefix)
	return ascend(v.pri, from, to, probeKey)
}

// AscendIndexPrefix yields, by ascending index key, the records whose index
// key starts with prefix; an empty prefix yields all records.
func (v View) AscendIndexPrefix(prefix []byte) iter.Seq[Record] {
	from, to := prefixBounds(prefix)
	return ascend(v.sec, from, to, probeIndex)
}

// prefixBounds returns the [from, to) range of the byte strings that start
// with prefix: from is prefix itself (nil when empty, so that the range is
// open), to is the smallest string after all of them, or nil if there is
// none (an empty prefix, or one of 0xff bytes only).
func prefixBounds(prefix []byte) (from, to []byte) {
	if len(prefix) == 0 {
		return nil, nil
	}
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			to = bytes.Clone(prefix[:i+1])
			to[i]++
			return prefix, to
		}
	}
	return prefix, nil
}

func ascend(t *btree.BTreeG[item], from, to []byte, probe func([]byte) item) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		if t == nil {
			return
		}
		b := &batcher{yield: yield, limit: firstBatch}
		switch {
		case from == nil && to == nil:
			t.Ascend(b.add)
		case to == nil:
			t.AscendGreaterOrEqual(probe(from), b.add)
		case from == nil:
			t.AscendLessThan(probe(to), b.add)
		default:
			t.AscendRange(probe(from), probe(to), b.add)
		}
		b.finish()
	}
}

func descend(t *btree.BTreeG[item], from, to []byte, probe func([]byte) item) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		if t == nil {
			return
		}
		b := &batcher{yield: yield, limit: firstBatch}
		switch {
		case from == nil && to == nil:
			t.Descend(b.add)
		case to == nil:
			t.DescendLessOrEqual(probe(from), b.add)
		case from == nil:
			t.DescendGreaterThan(probe(to), b.add)
		default:
			t.DescendRange(probe(from), probe(to), b.add)
		}
		b.finish()
	}
}

// Batches of an iteration: the first holds firstBatch items, each next one
// twice as many, up to maxBatch. A short scan or one that breaks early
// pays little for the batching, a long one overlaps many cache misses.
const (
	firstBatch = 4
	maxBatch   = 64
)

// batcher passes the items of a tree iteration to yield in batches: it
// collects the entries of a batch from the tree, loads the first byte of
// each in a loop of independent loads, so that the processor waits for the
// cache misses of the whole batch at once, not one after the other (after
// a load in random order, consecutive records lie anywhere in memory), and
// then yields their records.
type batcher struct {
	yield   func(Record) bool
	entries [maxBatch]*entry
	n       int  // entries collected
	limit   int  // size of the current batch
	stopped bool // yield returned false: call it no more
	sink    byte // the loaded bytes, kept so that the loads stay
}

// add is the tree's iterator callback.
func (b *batcher) add(it item) bool {
	b.entries[b.n] = it.e
	b.n++
	if b.n < b.limit {
		return true
	}
	return b.flush()
}

// flush yields the collected records; it reports whether to go on.
func (b *batcher) flush() bool {
	es := b.entries[:b.n]
	b.n = 0
	b.limit = min(2*b.limit, maxBatch)
	var s byte
	for _, e := range es {
		s += *(*byte)(unsafe.Pointer(e))
	}
	b.sink += s
	for _, e := range es {
		if !b.yield(e.record()) {
			b.stopped = true
			return false
		}
	}
	return true
}

// finish yields what the iteration left in the batch.
func (b *batcher) finish() {
	if !b.stopped && b.n > 0 {
		b.flush()
	}
}
