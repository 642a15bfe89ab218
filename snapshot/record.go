package snapshot

import (
	"encoding/binary"
	"fmt"
	"io"
)

// streamError is damage found while parsing the uncompressed record
// stream. The reader turns it into a *dberr.CorruptionError with the
// position.
type streamError struct{ reason string }

func (e *streamError) Error() string { return e.reason }

func streamErrorf(format string, args ...any) error {
	return &streamError{reason: fmt.Sprintf(format, args...)}
}

// recReader parses records from the uncompressed record stream, computing
// its length and CRC32C as it goes.
//
// Lengths are checked against the limits before anything is allocated, and
// a field longer than the read buffer is allocated in steps as its bytes
// arrive, so a hostile length prefix costs at most about twice the bytes
// the stream really holds.
type recReader struct {
	src  io.Reader // the zstd decoder
	buf  []byte    // read buffer; holds stream bytes buf[r:w]
	r, w int
	crc  uint32 // CRC32C of all bytes taken from src
	raw  int64  // number of bytes taken from src
	err  error  // sticky error of src; io.EOF at the end of the stream

	maxKey, maxIndex, maxValue uint64
	versions                   bool   // records start with their version (format 2)
	maxVersion                 uint64 // the snapshot's version: no record is newer

	scratch []byte // key and index on the slow path; reused

	// alloc, if not nil, gives the memory of a record's fields on the
	// fast path (ReadInto).
	alloc func(version uint64, klen, ilen, vlen int) []byte
}

// offset returns the position of the next unread byte in the stream.
func (rr *recReader) offset() int64 { return rr.raw - int64(rr.w-rr.r) }

// fill refills the buffer, which must be empty (rr.r == rr.w). It reports
// whether at least one byte was read; if not, rr.err says why.
func (rr *recReader) fill() bool {
	if rr.err != nil {
		return false
	}
	rr.r, rr.w = 0, 0
	for range 100 {
		n, err := rr.src.Read(rr.buf[rr.w:])
		if n > 0 {
			rr.crc = crc32Update(rr.crc, rr.buf[rr.w:rr.w+n])
			rr.raw += int64(n)
			rr.w += n
		}
		if err != nil {
			rr.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	rr.err = io.ErrNoProgress
	return false
}

// midRecord returns the error for a stream that ends or fails inside a
// record, while reading what.
func (rr *recReader) midRecord(what string) error {
	if rr.err == io.EOF {
		return streamErrorf("the stream ends inside the record, in its %s: truncated", what)
	}
	return rr.err
}

// next returns the next record, or io.EOF at a clean end of the stream.
// With alloc, the record's fields live in one fresh allocation; without,
// only Key is set and it is valid until the next call.
func (rr *recReader) next(alloc bool) (Record, error) {
	if rr.r == rr.w && !rr.fill() {
		if rr.err == io.EOF {
			return Record{}, io.EOF
		}
		return Record{}, rr.err
	}
	if rec, n, ok := rr.parseRecord(rr.buf[rr.r:rr.w], alloc); ok {
		rr.r += n
		return rec, nil
	}
	return rr.nextSlow(alloc)
}

// parseRecord is the fast path: it parses a record lying wholly in b and
// within the limits, returning it and its encoded length. It returns ok ==
// false for anything else, which the slow path handles (and reports).
func (rr *recReader) parseRecord(b []byte, alloc bool) (rec Record, n int, ok bool) {
	maxKey, maxIndex, maxValue := rr.maxKey, rr.maxIndex, rr.maxValue
	var version uint64
	n0 := 0
	if rr.versions {
		version, n0 = binary.Uvarint(b)
		if n0 <= 0 || version > rr.maxVersion {
			return rec, 0, false
		}
	}
	kl, n1 := binary.Uvarint(b[n0:])
	if n1 <= 0 || kl > maxKey || kl > uint64(len(b)-n0-n1) {
		return rec, 0, false
	}
	ks := n0 + n1
	p := ks + int(kl)
	il, n2 := binary.Uvarint(b[p:])
	if n2 <= 0 || il > maxIndex || il > uint64(len(b)-p-n2) {
		return rec, 0, false
	}
	is := p + n2
	p = is + int(il)
	vl, n3 := binary.Uvarint(b[p:])
	if n3 <= 0 || vl > maxValue || vl > uint64(len(b)-p-n3) {
		return rec, 0, false
	}
	vs := p + n3
	end := vs + int(vl)
	if !alloc {
		return Record{Key: b[ks : ks+int(kl)], Version: version}, end, true
	}
	k, i := int(kl), int(kl+il)
	var m []byte
	if rr.alloc != nil {
		m = rr.alloc(version, k, int(il), int(vl))[: i+int(vl) : i+int(vl)]
	} else {
		m = make([]byte, i+int(vl))
	}
	copy(m, b[ks:ks+k])
	copy(m[k:], b[is:is+int(il)])
	copy(m[i:], b[vs:end])
	// Full slice expressions: appending to one field must not overwrite
	// the next.
	return Record{Key: m[:k:k], Index: m[k:i:i], Value: m[i:], Version: version}, end, true
}

// nextSlow parses a record field by field, refilling the buffer as needed,
// and reports any damage.
func (rr *recReader) nextSlow(alloc bool) (Record, error) {
	var version uint64
	if rr.versions {
		v, err := rr.readUvarint("version")
		if err != nil {
			return Record{}, err
		}
		if v > rr.maxVersion {
			return Record{}, streamErrorf("record version %d is after the snapshot's version %d", v, rr.maxVersion)
		}
		version = v
	}
	kl, err := rr.uvarint("key", rr.maxKey)
	if err != nil {
		return Record{}, err
	}
	rr.scratch, err = rr.appendN(rr.scratch[:0], kl, "key")
	if err != nil {
		return Record{}, err
	}
	il, err := rr.uvarint("index key", rr.maxIndex)
	if err != nil {
		return Record{}, err
	}
	rr.scratch, err = rr.appendN(rr.scratch, il, "index key")
	if err != nil {
		return Record{}, err
	}
	vl, err := rr.uvarint("value", rr.maxValue)
	if err != nil {
		return Record{}, err
	}
	k, i := int(kl), int(kl+il)
	if !alloc {
		if err := rr.skip(vl, "value"); err != nil {
			return Record{}, err
		}
		return Record{Key: rr.scratch[:k], Version: version}, nil
	}
	m := make([]byte, i, min(uint64(i)+vl, uint64(i)+uint64(len(rr.buf))))
	copy(m, rr.scratch)
	m, err = rr.appendN(m, vl, "value")
	if err != nil {
		return Record{}, err
	}
	return Record{Key: m[:k:k], Index: m[k:i:i], Value: m[i:], Version: version}, nil
}

// uvarint reads a length prefix of the field what and checks it against
// limit.
func (rr *recReader) uvarint(what string, limit uint64) (uint64, error) {
	x, err := rr.readUvarint(what + " length")
	if err != nil {
		return 0, err
	}
	if x > limit {
		return 0, streamErrorf("%s length %d exceeds the limit of %d bytes", what, x, limit)
	}
	return x, nil
}

// readUvarint reads an unsigned varint, the field what.
func (rr *recReader) readUvarint(what string) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; ; i++ {
		if rr.r == rr.w && !rr.fill() {
			return 0, rr.midRecord(what)
		}
		c := rr.buf[rr.r]
		rr.r++
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, streamErrorf("bad %s prefix: more than 64 bits", what)
		}
		if c < 0x80 {
			x |= uint64(c) << s
			return x, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
}

// appendN appends the next n bytes of the stream to dst. When dst must
// grow it grows at most to twice its size, or to what the bytes already
// read need, never to len(dst)+n at once: memory follows the data that
// really arrives, not the length prefix.
func (rr *recReader) appendN(dst []byte, n uint64, what string) ([]byte, error) {
	final := uint64(len(dst)) + n
	for n > 0 {
		if rr.r == rr.w && !rr.fill() {
			return dst, rr.midRecord(what)
		}
		k := int(min(n, uint64(rr.w-rr.r)))
		if cap(dst)-len(dst) < k {
			c := min(final, max(uint64(len(dst)+k), 2*uint64(cap(dst))))
			grown := make([]byte, len(dst), c)
			copy(grown, dst)
			dst = grown
		}
		dst = append(dst, rr.buf[rr.r:rr.r+k]...)
		rr.r += k
		n -= uint64(k)
	}
	return dst, nil
}

// skip consumes the next n bytes of the stream.
func (rr *recReader) skip(n uint64, what string) error {
	for n > 0 {
		if rr.r == rr.w && !rr.fill() {
			return rr.midRecord(what)
		}
		k := int(min(n, uint64(rr.w-rr.r)))
		rr.r += k
		n -= uint64(k)
	}
	return nil
}
