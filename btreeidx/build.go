package btreeidx

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"unsafe"

	"github.com/google/btree"
)

// Builder bulk-loads an Index from records in strictly ascending key order,
// as a snapshot file holds them. It builds the two trees in parallel in
// Finish: the primary in the given order, the secondary after sorting by
// index key, which is several times faster than inserting in random order,
// and it fills the trees' nodes (see fill).
type Builder struct {
	items []item

	// pending is the entry whose fields Alloc handed out last, fields
	// that memory; Add takes it over when it is given these very bytes.
	pending *entry
	fields  []byte
}

// NewBuilder returns a Builder expecting about n records.
func NewBuilder(n int) *Builder {
	return &Builder{items: make([]item, 0, n)}
}

// Alloc returns memory for the fields of the next record: klen+ilen+vlen
// bytes, into which the caller writes the key, index key and value back to
// back, to pass those three slices of it to Add with owned set and the
// same version. Add then keeps the memory as it is, without a copy: it is
// part of the record's allocation, which the Builder made and laid out.
// A snapshot reader fills it (snapshot.ReadInto). Memory from an Alloc
// that is not followed by such an Add is dropped.
func (b *Builder) Alloc(version uint64, klen, ilen, vlen int) []byte {
	b.pending, b.fields = allocEntry(klen, ilen, vlen, version)
	return b.fields
}

// Add appends a record written by the commit of version (0: unknown). Keys
// must be strictly ascending. If owned is true and key, index and value
// are the memory the last Alloc returned, filled in that order, and
// version is the one given to Alloc, the record keeps that memory as it
// is. Otherwise the record is copied (the caller keeps its slices).
func (b *Builder) Add(key, index, value []byte, version uint64, owned bool) error {
	if err := checkFields(key, index, value); err != nil {
		return err
	}
	if n := len(b.items); n > 0 {
		if prev := b.items[n-1].e.key(); bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("key %q after %q: not strictly ascending", key, prev)
		}
	}
	var e *entry
	if owned && b.pending != nil && b.isPending(key, index, value, version) {
		e = b.pending
	} else {
		e = newEntry(key, index, value, version)
	}
	b.pending, b.fields = nil, nil
	b.items = append(b.items, keyItem(e))
	return nil
}

// isPending reports whether key, index and value are the fields of the
// pending entry, as Alloc handed them out, and version its version.
func (b *Builder) isPending(key, index, value []byte, version uint64) bool {
	e := b.pending
	k, i, v, h := e.layout()
	if len(key) != k || len(index) != i || len(value) != v || e.version(k, i, v, h) != version {
		return false
	}
	if k+i+v == 0 {
		return true // no memory to hand over
	}
	start := unsafe.SliceData(b.fields)
	return (k == 0 || unsafe.SliceData(key) == start) &&
		(i == 0 || unsafe.SliceData(index) == unsafe.SliceData(b.fields[k:])) &&
		(v == 0 || unsafe.SliceData(value) == unsafe.SliceData(b.fields[k+i:]))
}

// Finish builds the Index. It fails if two records share an index key.
// The Builder must not be used afterwards.
func (b *Builder) Finish() (*Index, error) {
	x := New()
	items := b.items
	b.items, b.pending, b.fields = nil, nil, nil
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fill(x.pri, items)
	}()
	byIndex := make([]item, len(items))
	for i, it := range items {
		byIndex[i] = indexItem(it.e)
	}
	sortByIndex(byIndex)
	var dupErr error
	for i := 1; i < len(byIndex); i++ {
		// Equal index keys have equal inline words: only then look at
		// the entries, whose memory is a cache miss away.
		a, it := byIndex[i-1], byIndex[i]
		if a.p0 == it.p0 && a.p1 == it.p1 && (inlined(it.p1) || bytes.Equal(a.e.index(), it.e.index())) {
			dupErr = fmt.Errorf("index key %q carried by keys %q and %q", it.e.index(), a.e.key(), it.e.key())
			break
		}
	}
	if dupErr == nil {
		fill(x.sec, byIndex)
	}
	wg.Wait()
	if dupErr != nil {
		return nil, dupErr
	}
	return x, nil
}

// radixCutoff is the length up to which sortByIndex sorts a run by
// comparison instead of splitting it further.
const radixCutoff = 64

// sortByIndex sorts items into cmpByIndex order. It is a most significant
// digit radix sort on the 16 inline bytes (p0, then p1, as cmpByIndex
// compares them): each step splits a run by the 8 bits that follow the
// bits all of its items share, so index keys with a common prefix (a
// "mail:" in front of every key) cost no steps. Short runs, and runs whose
// inline bytes are all equal (long keys alike in their first 15 bytes),
// are sorted by cmpByIndex, which looks at the rest of the key. For a
// million keys this takes a fraction of the comparisons a comparison sort
// makes, each of which is a function call.
func sortByIndex(items []item) {
	if len(items) <= radixCutoff {
		slices.SortFunc(items, cmpByIndex)
		return
	}
	radixSort(items, make([]item, len(items)))
}

// radixSort sorts s as sortByIndex does, using scratch (as long as s) for
// the scatter.
func radixSort(s, scratch []item) {
	if len(s) <= radixCutoff {
		slices.SortFunc(s, cmpByIndex)
		return
	}
	var d0, d1 uint64
	for _, it := range s[1:] {
		d0 |= it.p0 ^ s[0].p0
		d1 |= it.p1 ^ s[0].p1
	}
	var digit func(item) int
	switch {
	case d0 != 0:
		lead := uint(bits.LeadingZeros64(d0))
		digit = func(it item) int { return int(it.p0 << lead >> 56) }
	case d1 != 0:
		lead := uint(bits.LeadingZeros64(d1))
		digit = func(it item) int { return int(it.p1 << lead >> 56) }
	default:
		slices.SortFunc(s, cmpByIndex) // equal inline bytes: the rest decides
		return
	}
	var count [257]int
	for _, it := range s {
		count[digit(it)+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	next := count
	for _, it := range s {
		d := digit(it)
		scratch[next[d]] = it
		next[d]++
	}
	copy(s, scratch[:len(s)])
	for i := range 256 {
		if lo, hi := count[i], count[i+1]; hi-lo > 1 {
			radixSort(s[lo:hi], scratch[lo:hi])
		}
	}
}

// fill inserts sorted, distinct items into the empty tree t, leaving its
// leaves nearly full.
//
// Inserting in ascending order splits each full leaf in the middle and
// never inserts into the left half again: the leaves end half full, in
// arrays with room for a full node. So fill inserts the items at odd
// positions first, in order, which gives leaves of Degree-1 items, each
// separated from the next by one item; then the items at even positions,
// in order. Between two separators lie Degree-1 odd items and Degree even
// ones: each leaf ends with 2*Degree-1 items, full, without a split (only
// the last leaves, and inner nodes, may end less full).
func fill(t *btree.BTreeG[item], sorted []item) {
	for i := 1; i < len(sorted); i += 2 {
		t.ReplaceOrInsert(sorted[i])
	}
	for i := 0; i < len(sorted); i += 2 {
		t.ReplaceOrInsert(sorted[i])
	}
}

// cmpByIndex orders items like lessByIndex, in one call.
func cmpByIndex(a, b item) int {
	switch {
	case a.p0 != b.p0:
		if a.p0 < b.p0 {
			return -1
		}
		return 1
	case a.p1 != b.p1:
		if a.p1 < b.p1 {
			return -1
		}
		return 1
	case inlined(a.p1):
		return 0
	}
	return bytes.Compare(a.e.index()[inlineLen:], b.e.index()[inlineLen:])
}
