package btreeidx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// entry is the first byte of one immutable record, laid out in ONE
// allocation:
//
//	+------+------+------+---------+-----+-------+-------+
//	| klen | ilen | vlen | version | key | index | value |
//	+------+------+------+---------+-----+-------+-------+
//	  uvarint, uvarint, uvarint, uvarint, then the bytes
//
// The header is four uvarints, so a small record stays small: 15-byte
// keys, 21-byte index keys and 100-byte values with a version below 2^21
// take 142 bytes, the 144-byte size class. The allocation is at least
// minAlloc bytes, so the header can be loaded as one word.
//
// Tree items point at the entry; a record costs one object for the garbage
// collector, and reaching its key from a tree item one cache miss.
type entry byte

// maxField is the largest key, index key or value an entry can hold.
const maxField = math.MaxUint32

// minAlloc is the smallest allocation of an entry: header decoding loads
// its first 8 bytes at once.
const minAlloc = 8

// checkFields returns an error if a field is longer than an entry can hold.
func checkFields(key, index, value []byte) error {
	if uint64(len(key)) > maxField || uint64(len(index)) > maxField || uint64(len(value)) > maxField {
		return fmt.Errorf("btreeidx: record of %d+%d+%d bytes: a field exceeds %d bytes", len(key), len(index), len(value), uint64(maxField))
	}
	return nil
}

// headerLen is the length of the header of a record with these fields.
func headerLen(klen, ilen, vlen int, version uint64) int {
	return uvarintLen(uint64(klen)) + uvarintLen(uint64(ilen)) + uvarintLen(uint64(vlen)) + uvarintLen(version)
}

func uvarintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

// allocEntry allocates an entry for fields of these lengths, writes its
// header and returns it with the buffer the key, index key and value go
// to, back to back (len klen+ilen+vlen, cap the same).
func allocEntry(klen, ilen, vlen int, version uint64) (*entry, []byte) {
	h := headerLen(klen, ilen, vlen, version)
	n := h + klen + ilen + vlen
	buf := make([]byte, max(n, minAlloc))
	p := binary.PutUvarint(buf, uint64(klen))
	p += binary.PutUvarint(buf[p:], uint64(ilen))
	p += binary.PutUvarint(buf[p:], uint64(vlen))
	binary.PutUvarint(buf[p:], version)
	return (*entry)(unsafe.SliceData(buf)), buf[h:n:n]
}

func newEntry(key, index, value []byte, version uint64) *entry {
	e, buf := allocEntry(len(key), len(index), len(value), version)
	p := copy(buf, key)
	p += copy(buf[p:], index)
	copy(buf[p:], value)
	return e
}

// layout decodes e's header: the lengths of the fields and of the header.
func (e *entry) layout() (klen, ilen, vlen, hlen int) {
	w := binary.LittleEndian.Uint64(e.at(0, minAlloc)) // there are always minAlloc bytes
	if w&0x808080 == 0 {
		// One byte for each length: the common case. The version ends
		// at the first byte after them without its high bit.
		stops := ^w & 0x8080808080808080 >> 24
		if stops != 0 {
			return int(w & 0x7f), int(w >> 8 & 0x7f), int(w >> 16 & 0x7f), 3 + bits.TrailingZeros64(stops)>>3 + 1
		}
	}
	return e.layoutSlow()
}

// layoutSlow decodes a header with multi-byte uvarints.
func (e *entry) layoutSlow() (klen, ilen, vlen, hlen int) {
	var f [4]uint64
	for i := range f {
		var s uint
		for {
			c := *(*byte)(unsafe.Add(unsafe.Pointer(e), hlen))
			hlen++
			f[i] |= uint64(c&0x7f) << s
			if c < 0x80 {
				break
			}
			s += 7
		}
	}
	return int(f[0]), int(f[1]), int(f[2]), hlen
}

// version decodes the version from e's header, whose length is h.
func (e *entry) version(k, i, v, h int) uint64 {
	// Entries are written by allocEntry: the uvarints are canonical.
	vs := uvarintLen(uint64(k)) + uvarintLen(uint64(i)) + uvarintLen(uint64(v))
	x, _ := binary.Uvarint(e.at(vs, h-vs))
	return x
}

// at returns n bytes of e from offset off. An empty field gets an empty
// slice at the start of e: its offset may be the end of the allocation,
// and a pointer there would point at the next one.
func (e *entry) at(off, n int) []byte {
	if n == 0 {
		return unsafe.Slice((*byte)(unsafe.Pointer(e)), 0)
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(e), off)), n)
}

// bytes returns the whole entry: header | key | index | value.
func (e *entry) bytes() []byte {
	k, i, v, h := e.layout()
	return e.at(0, h+k+i+v)
}

func (e *entry) key() []byte {
	k, _, _, h := e.layout()
	return e.at(h, k)
}

func (e *entry) index() []byte {
	k, i, _, h := e.layout()
	return e.at(h+k, i)
}

func (e *entry) value() []byte {
	k, i, v, h := e.layout()
	return e.at(h+k+i, v)
}

func (e *entry) record() Record {
	w := binary.LittleEndian.Uint64(e.at(0, minAlloc))
	if w&0x808080 == 0 {
		// One byte for each length, and the version within the word:
		// decode it from the word too (the scans' hot path).
		vw := w >> 24
		if stops := ^vw & 0x8080808080; stops != 0 {
			n := bits.TrailingZeros64(stops)>>3 + 1
			var ver uint64
			for j := range n {
				ver |= (vw >> (8 * j) & 0x7f) << (7 * j)
			}
			k, i, v, h := int(w&0x7f), int(w>>8&0x7f), int(w>>16&0x7f), 3+n
			return Record{Key: e.at(h, k), Index: e.at(h+k, i), Value: e.at(h+k+i, v), Version: ver}
		}
	}
	k, i, v, h := e.layoutSlow()
	return Record{Key: e.at(h, k), Index: e.at(h+k, i), Value: e.at(h+k+i, v), Version: e.version(k, i, v, h)}
}

// item is what the trees store: the compared key (key in the primary
// tree, index key in the secondary) inline, as far as it fits, and the
// entry.
type item struct {
	p0, p1 uint64
	e      *entry
}

// inlineLen is how many bytes of a key an item holds inline. The 16th
// byte of the inline words is the key's length, capped at inlineLen+1:
// keys of up to inlineLen bytes are compared without touching the entry.
const inlineLen = 15

// prefixOf returns the inline words of b: its first 15 bytes, zero
// padded, and min(len(b), 16), as two big-endian words. Comparing the
// words orders like bytes.Compare, except that two keys longer than 15
// bytes with the same first 15 bytes tie; ties of such keys are broken by
// comparing the rest.
//
// Why: if the padded bytes differ, the first difference is either between
// two real bytes, or a real byte above zero against the padding of a key
// that ended, which is then a prefix of the other (the other's bytes up
// to there are the padding's zeros): both order like bytes.Compare. If
// the padded bytes are equal and a key is at most 15 bytes long, the keys
// differ at most in trailing zero bytes, and the shorter is the smaller:
// the length byte decides, and equal lengths mean equal keys.
func prefixOf(b []byte) (uint64, uint64) {
	var w [16]byte
	copy(w[:inlineLen], b)
	w[inlineLen] = byte(min(len(b), inlineLen+1))
	return binary.BigEndian.Uint64(w[:8]), binary.BigEndian.Uint64(w[8:])
}

// inlined reports whether the inline words of an item hold its whole key.
func inlined(p1 uint64) bool { return p1&0xff <= inlineLen }

func keyItem(e *entry) item {
	p0, p1 := prefixOf(e.key())
	return item{p0: p0, p1: p1, e: e}
}

func indexItem(e *entry) item {
	p0, p1 := prefixOf(e.index())
	return item{p0: p0, p1: p1, e: e}
}

// probeKey builds a search item for key. A key of up to 15 bytes needs no
// entry: comparisons with it never look past the inline words.
func probeKey(key []byte) item {
	p0, p1 := prefixOf(key)
	if inlined(p1) {
		return item{p0: p0, p1: p1}
	}
	return item{p0: p0, p1: p1, e: newEntry(key, nil, nil, 0)}
}

// probeIndex builds a search item for index, like probeKey.
func probeIndex(index []byte) item {
	p0, p1 := prefixOf(index)
	if inlined(p1) {
		return item{p0: p0, p1: p1}
	}
	return item{p0: p0, p1: p1, e: newEntry(nil, index, nil, 0)}
}

func lessByKey(a, b item) bool {
	if a.p0 != b.p0 {
		return a.p0 < b.p0
	}
	if a.p1 != b.p1 {
		return a.p1 < b.p1
	}
	if inlined(a.p1) {
		return false
	}
	return bytes.Compare(a.e.key()[inlineLen:], b.e.key()[inlineLen:]) < 0
}

func lessByIndex(a, b item) bool {
	if a.p0 != b.p0 {
		return a.p0 < b.p0
	}
	if a.p1 != b.p1 {
		return a.p1 < b.p1
	}
	if inlined(a.p1) {
		return false
	}
	return bytes.Compare(a.e.index()[inlineLen:], b.e.index()[inlineLen:]) < 0
}
