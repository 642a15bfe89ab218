package btreeidx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// entry is one immutable record: data points at key | index | value, back
// to back in one allocation, and version is the commit that wrote it.
//
// The layout is chosen for size: a pointer and three 32-bit lengths
// instead of a slice header (which would carry an unused capacity) keep
// the entry at 32 bytes, one Go size class, with the version included.
type entry struct {
	data             *byte // first byte of key | index | value; nil if all are empty
	version          uint64
	klen, ilen, vlen uint32
}

// maxField is the largest key, index key or value an entry can hold.
const maxField = math.MaxUint32

// checkFields returns an error if a field is longer than an entry can hold.
func checkFields(key, index, value []byte) error {
	if uint64(len(key)) > maxField || uint64(len(index)) > maxField || uint64(len(value)) > maxField {
		return fmt.Errorf("btreeidx: record of %d+%d+%d bytes: a field exceeds %d bytes", len(key), len(index), len(value), uint64(maxField))
	}
	return nil
}

func newEntry(key, index, value []byte, version uint64) *entry {
	buf := make([]byte, 0, len(key)+len(index)+len(value))
	buf = append(buf, key...)
	buf = append(buf, index...)
	buf = append(buf, value...)
	return &entry{data: unsafe.SliceData(buf), version: version,
		klen: uint32(len(key)), ilen: uint32(len(index)), vlen: uint32(len(value))}
}

// bytes returns key | index | value.
func (e *entry) bytes() []byte {
	n := int(e.klen) + int(e.ilen) + int(e.vlen)
	return unsafe.Slice(e.data, n)
}

func (e *entry) key() []byte {
	return unsafe.Slice(e.data, e.klen)[:e.klen:e.klen]
}

func (e *entry) index() []byte {
	start, end := int(e.klen), int(e.klen)+int(e.ilen)
	return e.bytes()[start:end:end]
}

func (e *entry) value() []byte {
	b := e.bytes()
	start := int(e.klen) + int(e.ilen)
	return b[start:len(b):len(b)]
}

func (e *entry) record() Record {
	return Record{Key: e.key(), Index: e.index(), Value: e.value(), Version: e.version}
}

// item is what the trees store: an inline 16-byte prefix of the compared
// key (key in the primary tree, index key in the secondary) and the entry.
type item struct {
	p0, p1 uint64
	e      *entry
}

// prefixOf returns the first 16 bytes of b as two big-endian words, zero
// padded. Comparing the words orders like bytes.Compare on those 16 bytes,
// except that a shorter b ties with b plus zero bytes; ties are broken by
// the full comparison.
func prefixOf(b []byte) (uint64, uint64) {
	var w [16]byte
	copy(w[:], b)
	return binary.BigEndian.Uint64(w[:8]), binary.BigEndian.Uint64(w[8:])
}

func keyItem(e *entry) item {
	p0, p1 := prefixOf(e.key())
	return item{p0: p0, p1: p1, e: e}
}

func indexItem(e *entry) item {
	p0, p1 := prefixOf(e.index())
	return item{p0: p0, p1: p1, e: e}
}

// probeKey builds a search item for key; its entry holds only the key.
func probeKey(key []byte) item {
	p0, p1 := prefixOf(key)
	return item{p0: p0, p1: p1, e: &entry{data: unsafe.SliceData(key), klen: uint32(len(key))}}
}

// probeIndex builds a search item for index; its entry holds only the index.
func probeIndex(index []byte) item {
	p0, p1 := prefixOf(index)
	return item{p0: p0, p1: p1, e: &entry{data: unsafe.SliceData(index), ilen: uint32(len(index))}}
}

func lessByKey(a, b item) bool {
	if a.p0 != b.p0 {
		return a.p0 < b.p0
	}
	if a.p1 != b.p1 {
		return a.p1 < b.p1
	}
	return bytes.Compare(a.e.key(), b.e.key()) < 0
}

func lessByIndex(a, b item) bool {
	if a.p0 != b.p0 {
		return a.p0 < b.p0
	}
	if a.p1 != b.p1 {
		return a.p1 < b.p1
	}
	return bytes.Compare(a.e.index(), b.e.index()) < 0
}
