package btreeidx

import (
	"bytes"
	"encoding/binary"
)

// entry is one immutable record: buf holds key | index | value.
type entry struct {
	buf  []byte
	klen uint32
	ilen uint32
}

func newEntry(key, index, value []byte) *entry {
	buf := make([]byte, 0, len(key)+len(index)+len(value))
	buf = append(buf, key...)
	buf = append(buf, index...)
	buf = append(buf, value...)
	return &entry{buf: buf, klen: uint32(len(key)), ilen: uint32(len(index))}
}

func (e *entry) key() []byte { return e.buf[:e.klen:e.klen] }

func (e *entry) index() []byte {
	end := e.klen + e.ilen
	return e.buf[e.klen:end:end]
}

func (e *entry) value() []byte {
	start := e.klen + e.ilen
	return e.buf[start:len(e.buf):len(e.buf)]
}

func (e *entry) record() Record {
	return Record{Key: e.key(), Index: e.index(), Value: e.value()}
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
	return item{p0: p0, p1: p1, e: &entry{buf: key, klen: uint32(len(key))}}
}

// probeIndex builds a search item for index; its entry holds only the index.
func probeIndex(index []byte) item {
	p0, p1 := prefixOf(index)
	return item{p0: p0, p1: p1, e: &entry{buf: index, ilen: uint32(len(index))}}
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
