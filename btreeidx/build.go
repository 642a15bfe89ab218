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

// Add appends a record. Keys must be strictly ascending. If owned is true,
// the slices are taken over (never copied; the caller must not touch them
// again); when they lie back to back in one buffer, as the snapshot reader
// makes them, no byte is copied.
func (b *Builder) Add(key, index, value []byte, owned bool) error {
	if n := len(b.items); n > 0 {
		if prev := b.items[n-1].e.key(); bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("key %q after %q: not strictly ascending", key, prev)
		}
	}
	var e *entry
	if owned {
		e = ownedEntry(key, index, value)
	} else {
		e = newEntry(key, index, value)
	}
	b.items = append(b.items, keyItem(e))
	return nil
}

// ownedEntry wraps key|index|value without copying when they are adjacent
// in one allocation, and copies them into one buffer otherwise.
func ownedEntry(key, index, value []byte) *entry {
	total := len(key) + len(index) + len(value)
	if len(key) > 0 && cap(key) >= total {
		buf := key[:total:total]
		if adjacent(buf, len(key), index) && adjacent(buf, len(key)+len(index), value) {
			return &entry{buf: buf, klen: uint32(len(key)), ilen: uint32(len(index))}
		}
	}
	return newEntry(key, index, value)
}

// adjacent reports whether part starts at buf[off].
func adjacent(buf []byte, off int, part []byte) bool {
	if len(part) == 0 {
		return true
	}
	return unsafe.SliceData(part) == &buf[off]
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
	slices.SortFunc(byIndex, func(a, c item) int {
		if lessByIndex(a, c) {
			return -1
		}
		if lessByIndex(c, a) {
			return 1
		}
		return 0
	})
	var dupErr error
	for i, it := range byIndex {
		if i > 0 && bytes.Equal(byIndex[i-1].e.index(), it.e.index()) {
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
