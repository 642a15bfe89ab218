package btreeidx

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"unsafe"
)

// Builder bulk-loads an Index from records in strictly ascending key order,
// as a snapshot file holds them. It builds the two trees in parallel in
// Finish: the primary in the given order, the secondary after sorting by
// index key, which is several times faster than inserting in random order.
type Builder struct {
	items []item
}

// NewBuilder returns a Builder expecting about n records.
func NewBuilder(n int) *Builder {
	return &Builder{items: make([]item, 0, n)}
}

// Add appends a record written by the commit of version (0: unknown). Keys
// must be strictly ascending. If owned is true,
// the caller hands the memory over and promises that key, index and value
// lie back to back, in this order, in ONE allocation, as snapshot.Read
// delivers them; the entry then uses that memory as it is, without a
// copy. (Adjacency is checked, but adjacency alone cannot prove one
// allocation: the promise is what makes it safe.) Without owned, or when
// the slices are not adjacent, the record is copied.
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
	if owned {
		e = ownedEntry(key, index, value, version)
	} else {
		e = newEntry(key, index, value, version)
	}
	b.items = append(b.items, keyItem(e))
	return nil
}

// ownedEntry wraps key|index|value without copying when they are adjacent
// in memory (and, as Add's caller promises, in one allocation), and
// copies them into one buffer otherwise.
func ownedEntry(key, index, value []byte, version uint64) *entry {
	if len(key) > 0 && follows(key, 0, index) && follows(key, len(index), value) {
		return &entry{data: unsafe.SliceData(key), version: version,
			klen: uint32(len(key)), ilen: uint32(len(index)), vlen: uint32(len(value))}
	}
	return newEntry(key, index, value, version)
}

// follows reports whether part starts gap bytes after the end of key.
func follows(key []byte, gap int, part []byte) bool {
	if len(part) == 0 {
		return true
	}
	// Compare addresses as integers: forming a pointer past the end of
	// key's allocation would be invalid (checkptr rejects it).
	end := uintptr(unsafe.Pointer(unsafe.SliceData(key))) + uintptr(len(key)+gap)
	return end == uintptr(unsafe.Pointer(unsafe.SliceData(part)))
}

// Finish builds the Index. It fails if two records share an index key.
// The Builder must not be used afterwards.
func (b *Builder) Finish() (*Index, error) {
	x := New()
	items := b.items
	b.items = nil
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, it := range items {
			x.pri.ReplaceOrInsert(it)
		}
	}()
	byIndex := make([]item, len(items))
	for i, it := range items {
		byIndex[i] = indexItem(it.e)
	}
	slices.SortFunc(byIndex, cmpByIndex)
	var dupErr error
	for i, it := range byIndex {
		// Equal index keys have equal inline prefixes: only then look at
		// the entries, whose memory is a cache miss away.
		if i > 0 && byIndex[i-1].p0 == it.p0 && byIndex[i-1].p1 == it.p1 &&
			bytes.Equal(byIndex[i-1].e.index(), it.e.index()) {
			dupErr = fmt.Errorf("index key %q carried by keys %q and %q", it.e.index(), byIndex[i-1].e.key(), it.e.key())
			break
		}
		x.sec.ReplaceOrInsert(it)
	}
	wg.Wait()
	if dupErr != nil {
		return nil, dupErr
	}
	return x, nil
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
	}
	return bytes.Compare(a.e.index(), b.e.index())
}
