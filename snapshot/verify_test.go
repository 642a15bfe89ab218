package snapshot_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/klauspost/compress/zstd"
)

// TestVerify_EncoderBuiltDamage builds files the Write API refuses to make
// and wants Verify and Read to name the problem.
func TestVerify_EncoderBuiltDamage(t *testing.T) {
	recs := userRecords(6, 10)
	swapped := slices.Clone(recs)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	dupKey := slices.Clone(recs)
	dupKey[6] = dupKey[5]
	h := snapshot.Header{StoreID: testStoreID, Version: 9, Count: 10}
	build := func(h snapshot.Header, recs []snapshot.Record, edit func(*snaptest.File)) []byte {
		f := snaptest.File{Header: h, Records: recs}
		if edit != nil {
			edit(&f)
		}
		return f.Bytes(t)
	}
	good := build(h, recs, nil)
	footerAt := int64(len(good) - snapshot.FooterSize)
	for _, tc := range []struct {
		name   string
		file   []byte
		offset int64
		reason []string
	}{
		{"out-of-order", build(h, swapped, nil), snapshot.HeaderSize,
			[]string{"record 5 at uncompressed offset", `key "user:0000000004" is not after the previous key "user:0000000005": records out of order`}},
		{"duplicate-key", build(h, dupKey, nil), snapshot.HeaderSize,
			[]string{"record 6", "records out of order"}},
		{"header-count-high", build(snapshot.Header{Version: 9, Count: 11}, recs, nil), snapshot.HeaderSize,
			[]string{"the stream holds 10 records, the header says 11"}},
		{"header-count-low", build(snapshot.Header{Version: 9, Count: 9}, recs, nil), snapshot.HeaderSize,
			[]string{"the stream holds 10 records, the header says 9"}},
		{"footer-count", build(h, recs, func(f *snaptest.File) { twelve := uint64(12); f.FooterCount = &twelve }), footerAt + 16,
			[]string{"footer count 12 differs from header count 10"}},
		{"unknown-format", build(snapshot.Header{Format: 7, Version: 9, Count: 10}, recs, nil), 8,
			[]string{"unknown format version 7 (this build reads 1 and 2)"}},
		{"torn-record", build(h, recs[:9], func(f *snaptest.File) { f.Tail = []byte{4, 'u', 's', 'e'} }), snapshot.HeaderSize,
			[]string{"record 9", "ends inside the record, in its key: truncated"}},
		{"garbage-appended", append(bytes.Clone(good), "some garbage after the footer"...), snapshot.HeaderSize,
			[]string{"zstd", "after the last record"}},
		{"footer-appended-twice", append(bytes.Clone(good), good[footerAt:]...), snapshot.HeaderSize,
			[]string{"zstd", "after the last record"}},
		{"cut-before-footer", good[:footerAt], snapshot.HeaderSize,
			[]string{"zstd"}},
		{"only-header", good[:snapshot.HeaderSize], snapshot.HeaderSize,
			[]string{"too short for a header and a footer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.file)
			_, err := snapshot.Verify(p, nil)
			ce := wantCorrupt(t, "Verify", err, p)
			t.Log(err)
			if ce.Offset != tc.offset {
				t.Errorf("offset %d, want %d", ce.Offset, tc.offset)
			}
			for _, s := range tc.reason {
				if !strings.Contains(ce.Reason, s) {
					t.Errorf("reason %q does not say %q", ce.Reason, s)
				}
			}
			_, rerr := snapshot.Read(p, nil, func(snapshot.Record) error { return nil })
			wantCorrupt(t, "Read", rerr, p)
			if rerr.Error() != err.Error() {
				t.Errorf("Read and Verify disagree:\n  Read:   %v\n  Verify: %v", rerr, err)
			}
		})
	}
}

// TestVerify_DuplicateIndexIsNotItsBusiness documents a limit: index-key
// uniqueness is a store invariant, checked when the db rebuilds its
// secondary index, not by the snapshot package.
func TestVerify_DuplicateIndexIsNotItsBusiness(t *testing.T) {
	recs := userRecords(6, 10)
	recs[7].Index = recs[3].Index
	p := writeFile(t, encode(t, snapshot.Header{Version: 2, Count: 10}, recs, nil))
	if _, err := snapshot.Verify(p, nil); err != nil {
		t.Fatal(err)
	}
}

// The layout below is written from the package documentation, not from
// the code, so that the two are checked against each other.

// footerFields are the footer's fields in file order.
type footerFields struct {
	version, count, rawLen, compLen uint64
	rawCRC, compCRC                 uint32
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// assemble builds a file from a header, the compressed stream and footer
// fields, computing the header and footer checksums.
func assemble(h snapshot.Header, flags uint64, stream []byte, f footerFields) []byte {
	be := binary.BigEndian
	b := []byte("DUALSNAP")
	b = be.AppendUint32(b, h.Format)
	b = append(b, h.StoreID[:]...)
	b = be.AppendUint64(b, h.Version)
	b = be.AppendUint64(b, h.Count)
	b = be.AppendUint64(b, flags)
	b = be.AppendUint32(b, crc32c(b))
	b = append(b, stream...)
	ft := []byte("DSNAPEND")
	ft = be.AppendUint64(ft, f.version)
	ft = be.AppendUint64(ft, f.count)
	ft = be.AppendUint64(ft, f.rawLen)
	ft = be.AppendUint64(ft, f.compLen)
	ft = be.AppendUint32(ft, f.rawCRC)
	ft = be.AppendUint32(ft, f.compCRC)
	ft = be.AppendUint32(ft, crc32c(ft))
	return append(b, ft...)
}

// rawStream encodes recs as the documented record stream.
func rawStream(recs []snapshot.Record) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.AppendUvarint(b, r.Version)
		b = binary.AppendUvarint(b, uint64(len(r.Key)))
		b = append(b, r.Key...)
		b = binary.AppendUvarint(b, uint64(len(r.Index)))
		b = append(b, r.Index...)
		b = binary.AppendUvarint(b, uint64(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// TestFormat_MatchesDocumentation compares a written file with one
// assembled from the documented layout, then checks that a file of several
// zstd frames reads, and that cutting it at a frame boundary, which zstd
// cannot notice, is caught by the footer.
func TestFormat_MatchesDocumentation(t *testing.T) {
	recs := withVersions(userRecords(12, 300), 1234)
	h := snapshot.Header{Format: snapshot.FormatVersion, StoreID: testStoreID, Version: 1234, Count: 300}
	written := encode(t, h, recs, nil)
	stream := written[snapshot.HeaderSize : len(written)-snapshot.FooterSize]
	raw := rawStream(recs)
	want := assemble(h, 0, stream, footerFields{1234, 300, uint64(len(raw)), uint64(len(stream)), crc32c(raw), crc32c(stream)})
	if !bytes.Equal(written, want) {
		t.Fatalf("written file differs from the documented layout")
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if got, err := dec.DecodeAll(stream, nil); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("stream is not zstd of the documented record stream (%v)", err)
	}

	// Several frames, as the format allows.
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	raw1, raw2 := rawStream(recs[:200]), rawStream(recs[200:])
	frame1, frame2 := enc.EncodeAll(raw1, nil), enc.EncodeAll(raw2, nil)
	two := append(bytes.Clone(frame1), frame2...)
	fileOf := func(h snapshot.Header, stream, raw []byte) []byte {
		return assemble(h, 0, stream, footerFields{h.Version, h.Count, uint64(len(raw)), uint64(len(stream)), crc32c(raw), crc32c(stream)})
	}
	p := writeFile(t, fileOf(h, two, raw))
	_, got, err := readAll(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, recs, got)

	// Cut after the first frame. zstd alone sees a valid stream.
	h200 := h
	h200.Count = 200
	for _, tc := range []struct {
		name   string
		file   []byte
		reason string
	}{
		{"cut-keeping-footer", append(assemble(h, 0, frame1, footerFields{})[:snapshot.HeaderSize+len(frame1)], fileOf(h, two, raw)[snapshot.HeaderSize+len(two):]...),
			"the stream holds 200 records, the header says 300"},
		{"cut-with-matching-footer-stream-fields", assemble(h, 0, frame1, footerFields{1234, 300, uint64(len(raw)), uint64(len(frame1)), crc32c(raw), crc32c(frame1)}),
			"the stream holds 200 records, the header says 300"},
		{"cut-with-count-rewritten", assemble(h200, 0, frame1, footerFields{1234, 200, uint64(len(raw)), uint64(len(frame1)), crc32c(raw), crc32c(frame1)}),
			"the footer gives the record stream as"},
		{"cut-with-count-and-length-rewritten", assemble(h200, 0, frame1, footerFields{1234, 200, uint64(len(raw1)), uint64(len(frame1)), crc32c(raw), crc32c(frame1)}),
			"record stream checksum mismatch"},
		{"flags", assemble(h, 1, two, footerFields{1234, 300, uint64(len(raw)), uint64(len(two)), crc32c(raw), crc32c(two)}),
			"unknown header flags 0x1"},
		{"footer-version", assemble(h, 0, two, footerFields{1235, 300, uint64(len(raw)), uint64(len(two)), crc32c(raw), crc32c(two)}),
			"footer version 1235 differs from header version 1234"},
		{"comp-crc", assemble(h, 0, two, footerFields{1234, 300, uint64(len(raw)), uint64(len(two)), crc32c(raw), crc32c(two) + 1}),
			"compressed stream checksum mismatch"},
		{"comp-len", assemble(h, 0, two, footerFields{1234, 300, uint64(len(raw)), uint64(len(two)) - 1, crc32c(raw), crc32c(two)}),
			"the footer gives the compressed stream as"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "cut-keeping-footer" {
				// zstd itself finds nothing wrong with the cut stream.
				if _, err := dec.DecodeAll(frame1, nil); err != nil {
					t.Fatal(err)
				}
			}
			p := writeFile(t, tc.file)
			_, err := snapshot.Verify(p, nil)
			ce := wantCorrupt(t, "Verify", err, p)
			t.Log(err)
			if !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("reason %q does not say %q", ce.Reason, tc.reason)
			}
			_, err = snapshot.Read(p, nil, func(snapshot.Record) error { return nil })
			wantCorrupt(t, "Read", err, p)
		})
	}
}

// TestCompressionRatio checks that user records compress to at most 0.35
// of their raw size (zstd's fastest level).
func TestCompressionRatio(t *testing.T) {
	recs := userRecords(1, 20000)
	raw := rawSize(recs)
	file := encode(t, snapshot.Header{Count: uint64(len(recs))}, recs, nil)
	ratio := float64(len(file)) / float64(raw)
	t.Logf("%d user records: %d raw bytes -> %d file bytes, ratio %.3f", len(recs), raw, len(file), ratio)
	if ratio > 0.35 {
		t.Fatalf("ratio %.3f > 0.35", ratio)
	}
}
