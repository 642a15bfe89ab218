// Package snaptest builds snapshot files for tests, damaged ones
// included: records out of order, a count that differs between header,
// stream and footer, a torn record at the end of the stream. The snapshot
// package's Write refuses to make such files, and its Encoder makes only
// files whose footer agrees with the stream; this package is the one place
// the tests of every package (snapshot, db, the CLI) get the others from.
//
// The files are made by snapshot.NewEncoder and then edited following the
// format the snapshot package documents (header and footer layout, one
// zstd stream of records), so an edit that disagrees with that
// description shows up as a file the reader misreads.
package snaptest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"

	"github.com/dualdb/dualdb/snapshot"
	"github.com/klauspost/compress/zstd"
)

// Offsets of the footer's fields, from the snapshot package's description
// of the format.
const (
	ftrCount   = 16
	ftrRawLen  = 24
	ftrCompLen = 32
	ftrRawCRC  = 40
	ftrCompCRC = 44
	ftrCRC     = 48
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// File describes a snapshot file to build. Nothing is checked: the
// records are written in the order given, however many there are, under
// the header as given (Format 0 means snapshot.FormatVersion).
type File struct {
	Header  snapshot.Header
	Records []snapshot.Record
	// Tail, if not empty, is appended to the record stream after Records
	// as it is: a torn record, a hostile length prefix. It is not counted
	// as a record.
	Tail []byte
	// FooterCount, if not nil, is written as the footer's record count
	// instead of len(Records).
	FooterCount *uint64
	// Options are given to the Encoder (limits on field sizes); nil is
	// the defaults.
	Options *snapshot.Options
}

// Bytes returns the bytes of the file f describes. Checksums are right
// unless f asks otherwise, so that a reader finds exactly the damage f
// describes.
func (f File) Bytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := snapshot.NewEncoder(&buf, f.Header, f.Options)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Records {
		if err := enc.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(f.Tail) > 0 {
		b = appendRaw(t, b, f.Tail)
	}
	if f.FooterCount != nil {
		ftr := b[len(b)-snapshot.FooterSize:]
		binary.BigEndian.PutUint64(ftr[ftrCount:], *f.FooterCount)
		sealFooter(ftr)
	}
	return b
}

// WriteFile writes the file f describes at path, mode 0600, replacing
// any file there.
func (f File) WriteFile(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, f.Bytes(t), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Rewrite reads the sound snapshot file at path, lets edit change its
// description (header, records, tail, footer count), and writes the result
// in its place.
func Rewrite(t testing.TB, path string, edit func(f *File)) {
	t.Helper()
	f := Load(t, path)
	edit(&f)
	f.WriteFile(t, path)
}

// Load reads the sound snapshot file at path into a File.
func Load(t testing.TB, path string) File {
	t.Helper()
	var f File
	h, err := snapshot.Read(path, nil, func(r snapshot.Record) error {
		f.Records = append(f.Records, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Header = h
	return f
}

// FlipByte inverts every bit of the byte at off in the file at path; a
// negative off counts from the end (-1 is the last byte).
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	if off < 0 || off >= int64(len(b)) {
		t.Fatalf("FlipByte: offset %d outside %s (%d bytes)", off, path, len(b))
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// appendRaw appends raw to the record stream of the file b: it
// decompresses the stream, recompresses it with raw at its end as one zstd
// frame (a reader then meets raw exactly as if an Encoder had written it),
// and updates the footer's lengths and checksums to match.
func appendRaw(t testing.TB, b, raw []byte) []byte {
	t.Helper()
	stream := b[snapshot.HeaderSize : len(b)-snapshot.FooterSize]
	zr, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	records, err := zr.DecodeAll(stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	records = append(records, raw...)
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	frame := zw.EncodeAll(records, nil)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ftr := append([]byte(nil), b[len(b)-snapshot.FooterSize:]...)
	be := binary.BigEndian
	be.PutUint64(ftr[ftrRawLen:], uint64(len(records)))
	be.PutUint64(ftr[ftrCompLen:], uint64(len(frame)))
	be.PutUint32(ftr[ftrRawCRC:], crc32.Checksum(records, castagnoli))
	be.PutUint32(ftr[ftrCompCRC:], crc32.Checksum(frame, castagnoli))
	sealFooter(ftr)
	out := append([]byte(nil), b[:snapshot.HeaderSize]...)
	out = append(out, frame...)
	return append(out, ftr...)
}

// sealFooter recomputes the footer's own checksum.
func sealFooter(ftr []byte) {
	binary.BigEndian.PutUint32(ftr[ftrCRC:], crc32.Checksum(ftr[:ftrCRC], castagnoli))
}
