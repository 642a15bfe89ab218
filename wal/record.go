package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Part of the on-disk format: never change.
const (
	// RecordFormat is the first byte of every record value.
	RecordFormat byte = 1
	// OpPut, OpDelete and OpDeleteRecord are the op kind bytes.
	OpPut    OpKind = 1
	OpDelete OpKind = 2
	// OpDeleteRecord is a delete that also carries the record it removed
	// (index key, value and the version that wrote it), so that a reader
	// of the log learns what went away without the state before it.
	// Writers use it for every delete; OpDelete records, written before it
	// existed, still decode.
	OpDeleteRecord OpKind = 3
	// crcSize is the size of the trailing CRC32C.
	crcSize = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpKind says what an Op does.
type OpKind byte

// String returns "put", "delete" or "delete-record".
func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpDeleteRecord:
		return "delete-record"
	}
	return fmt.Sprintf("op(%d)", byte(k))
}

// Op is one change inside a record. OpDelete ops carry only Key;
// OpDeleteRecord ops carry the removed record: Key, Index, Value and, in
// Version, the version of the commit that last wrote it.
type Op struct {
	Kind              OpKind
	Key, Index, Value []byte
	Version           uint64 // OpDeleteRecord only: the removed record's version
}

// IsDelete reports whether op removes a record (OpDelete or
// OpDeleteRecord).
func (op Op) IsDelete() bool { return op.Kind == OpDelete || op.Kind == OpDeleteRecord }

// errShort and friends are decode failures; DecodeRecord's caller wraps
// them into a corruption error naming the file and version.
var errShort = errors.New("record ends inside an op")

// AppendRecord appends the encoding of ops, stored under version, to dst.
func AppendRecord(dst []byte, version uint64, ops []Op) []byte {
	var body []byte
	for _, op := range ops {
		body = AppendOp(body, op)
	}
	return AssembleRecord(dst, version, len(ops), body)
}

// AppendOp appends the encoding of one op to dst, for building a record
// incrementally: AssembleRecord wraps the ops so encoded.
func AppendOp(dst []byte, op Op) []byte {
	dst = append(dst, byte(op.Kind))
	dst = appendBytes(dst, op.Key)
	if op.Kind == OpPut || op.Kind == OpDeleteRecord {
		dst = appendBytes(dst, op.Index)
		dst = appendBytes(dst, op.Value)
	}
	if op.Kind == OpDeleteRecord {
		dst = binary.AppendUvarint(dst, op.Version)
	}
	return dst
}

// OpSize returns the length of op's encoding, len(AppendOp(nil, op)), so
// that a caller can size a buffer for many ops before encoding them.
func OpSize(op Op) int {
	n := 1 + uvarintLen(uint64(len(op.Key))) + len(op.Key)
	if op.Kind == OpPut || op.Kind == OpDeleteRecord {
		n += uvarintLen(uint64(len(op.Index))) + len(op.Index)
		n += uvarintLen(uint64(len(op.Value))) + len(op.Value)
	}
	if op.Kind == OpDeleteRecord {
		n += uvarintLen(op.Version)
	}
	return n
}

// AssembleRecord appends to dst the record stored under version whose n
// ops are encoded, back to back, in body (from AppendOp).
func AssembleRecord(dst []byte, version uint64, n int, body []byte) []byte {
	start := len(dst)
	dst = append(dst, RecordFormat)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, body...)
	crc := recordCRC(version, dst[start:])
	return binary.BigEndian.AppendUint32(dst, crc)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func recordCRC(version uint64, payload []byte) uint32 {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], version)
	crc := crc32.Update(0, castagnoli, v[:])
	return crc32.Update(crc, castagnoli, payload)
}

// DecodeRecord checks and decodes a record stored under version. The
// returned ops alias b. A malformed record returns an error describing
// the defect and its byte offset within the record; it never panics and
// allocates at most one Op per two bytes of b.
func DecodeRecord(version uint64, b []byte) ([]Op, error) {
	if len(b) < 1+1+crcSize {
		return nil, fmt.Errorf("record is %d bytes, shorter than the smallest record", len(b))
	}
	payload := b[:len(b)-crcSize]
	want := binary.BigEndian.Uint32(b[len(b)-crcSize:])
	if got := recordCRC(version, payload); got != want {
		return nil, fmt.Errorf("CRC32C mismatch: stored %08x, computed %08x", want, got)
	}
	if payload[0] != RecordFormat {
		return nil, fmt.Errorf("unknown record format %d at offset 0", payload[0])
	}
	off := 1
	n, k := readUvarint(payload[off:])
	if k <= 0 {
		return nil, fmt.Errorf("bad op count at offset %d", off)
	}
	off += k
	// Every op takes at least two bytes: never allocate past that. A record
	// of zero ops is valid: AppendRecord writes one for an empty ops.
	if n > uint64(len(payload)-off)/2 {
		return nil, fmt.Errorf("op count %d at offset 1 does not fit the record's %d bytes", n, len(payload))
	}
	// Grow past a small start only as ops really decode: a crafted count
	// must not make a tiny record allocate for thousands of ops.
	ops := make([]Op, 0, min(n, 16))
	for i := uint64(0); i < n; i++ {
		if off >= len(payload) {
			return nil, fmt.Errorf("op %d at offset %d: %w", i, off, errShort)
		}
		op := Op{Kind: OpKind(payload[off])}
		opOff := off
		off++
		var err error
		switch op.Kind {
		case OpPut:
			if op.Key, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (put) at offset %d: key: %w", i, opOff, err)
			}
			if op.Index, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (put) at offset %d: index: %w", i, opOff, err)
			}
			if op.Value, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (put) at offset %d: value: %w", i, opOff, err)
			}
		case OpDelete:
			if op.Key, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (delete) at offset %d: key: %w", i, opOff, err)
			}
		case OpDeleteRecord:
			if op.Key, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (delete-record) at offset %d: key: %w", i, opOff, err)
			}
			if op.Index, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (delete-record) at offset %d: index: %w", i, opOff, err)
			}
			if op.Value, off, err = readBytes(payload, off); err != nil {
				return nil, fmt.Errorf("op %d (delete-record) at offset %d: value: %w", i, opOff, err)
			}
			v, k := readUvarint(payload[off:])
			if k <= 0 {
				return nil, fmt.Errorf("op %d (delete-record) at offset %d: bad version at offset %d", i, opOff, off)
			}
			op.Version = v
			off += k
		default:
			return nil, fmt.Errorf("op %d at offset %d: unknown op kind %d", i, opOff, byte(op.Kind))
		}
		ops = append(ops, op)
	}
	if off != len(payload) {
		return nil, fmt.Errorf("%d unexpected bytes after the last op at offset %d", len(payload)-off, off)
	}
	return ops, nil
}

// readUvarint reads a uvarint in its shortest form, the only one
// AppendRecord writes, so that a record has exactly one encoding. It
// returns k <= 0 for a malformed, overlong or non-minimal uvarint.
func readUvarint(b []byte) (n uint64, k int) {
	n, k = binary.Uvarint(b)
	if k > 0 && k != uvarintLen(n) {
		return 0, 0
	}
	return n, k
}

func readBytes(b []byte, off int) ([]byte, int, error) {
	n, k := readUvarint(b[off:])
	if k <= 0 {
		return nil, off, fmt.Errorf("bad length at offset %d", off)
	}
	off += k
	if n > uint64(len(b)-off) {
		return nil, off, fmt.Errorf("length %d at offset %d runs past the record end", n, off-k)
	}
	end := off + int(n)
	return b[off:end:end], end, nil
}
