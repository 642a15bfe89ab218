package snapshot_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
	"github.com/dualdb/dualdb/vfs"
)

// writeFile writes data to a new file in a temporary directory.
func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), snapshot.FileName(1))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead_CallbackErrorStops(t *testing.T) {
	recs := userRecords(1, 100)
	p := writeFile(t, encode(t, snapshot.Header{Version: 1, Count: 100}, recs, nil))
	stop := errors.New("enough")
	calls := 0
	_, err := snapshot.Read(p, nil, func(snapshot.Record) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("err %v, want the callback's error unchanged", err)
	}
	if calls != 3 {
		t.Fatalf("callback called %d times after returning an error at 3", calls)
	}
	// The decoder went back to the pool mid-stream; it still works.
	if _, err := snapshot.Verify(p, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRead_OneAllocationPerRecord(t *testing.T) {
	const n = 20000
	recs := fixedRecords(2, n, 100)
	p := writeFile(t, encode(t, snapshot.Header{Version: 1, Count: n}, recs, nil))
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := snapshot.Read(p, nil, func(snapshot.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Read of %d records: %.0f allocations", n, allocs)
	if allocs > n+200 {
		t.Fatalf("Read of %d records made %.0f allocations, want about one per record", n, allocs)
	}
	allocs = testing.AllocsPerRun(5, func() {
		if _, err := snapshot.Verify(p, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Verify of %d records: %.0f allocations", n, allocs)
	if allocs > 200 {
		t.Fatalf("Verify of %d records made %.0f allocations, want a constant", n, allocs)
	}
}

// TestRead_RecordsAreIndependent checks that retained records survive the
// rest of the read and that growing one field does not clobber the next.
func TestRead_RecordsAreIndependent(t *testing.T) {
	recs := userRecords(4, 3000)
	p := writeFile(t, encode(t, snapshot.Header{Version: 1, Count: uint64(len(recs))}, recs, nil))
	_, got, err := readAll(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Key = append(got[i].Key, "-grown"...)
		got[i].Index = append(got[i].Index, "-grown"...)
	}
	for i := range got {
		if !bytes.Equal(got[i].Key, append(bytes.Clone(recs[i].Key), "-grown"...)) ||
			!bytes.Equal(got[i].Index, append(bytes.Clone(recs[i].Index), "-grown"...)) ||
			!bytes.Equal(got[i].Value, recs[i].Value) {
			t.Fatalf("record %d changed: %q %q %q", i, got[i].Key, got[i].Index, got[i].Value)
		}
	}
}

// allocatedDuring returns the bytes allocated (by the whole process) while
// f runs.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// warmPools reads a file once so that a later measurement does not count
// the creation of a zstd decoder.
func warmPools(t *testing.T) {
	t.Helper()
	p := writeFile(t, encode(t, snapshot.Header{Version: 1, Count: 1}, userRecords(1, 1), nil))
	if _, err := snapshot.Verify(p, nil); err != nil {
		t.Fatal(err)
	}
}

func TestRead_HostileLengthPrefix(t *testing.T) {
	uv := binary.AppendUvarint
	// The cases are format-1 streams unless v2 says so: format 2 puts the
	// record's version before the same fields.
	for _, tc := range []struct {
		name   string
		raw    []byte
		opts   *snapshot.Options
		reason string
		v2     bool
	}{
		{"v2-version-after-snapshot", uv(nil, 2), nil, "record version 2 is after the snapshot's version 1", true},
		{"v2-version-max-uint64", uv(nil, 1<<64-1), nil, "record version 18446744073709551615 is after", true},
		{"v2-torn-version", []byte{0x80}, nil, "ends inside the record, in its version", true},
		{"v2-varint-overflow", bytes.Repeat([]byte{0xff}, 11), nil, "bad version prefix: more than 64 bits", true},
		{"v2-key-2^40", uv(uv(nil, 1), 1<<40), nil, "key length 1099511627776 exceeds the limit of 65536", true},
		{"v2-torn-key-length", []byte{1, 0x80}, nil, "ends inside the record, in its key length", true},
		{"key-2^40", uv(nil, 1<<40), nil, "key length 1099511627776 exceeds the limit of 65536", false},
		{"key-max-uint64", uv(nil, 1<<64-1), nil, "key length 18446744073709551615 exceeds", false},
		{"varint-overflow", bytes.Repeat([]byte{0xff}, 11), nil, "more than 64 bits", false},
		{"index-over-option", append(uv(uv(nil, 1), 'k'), uv(nil, 5000)...), &snapshot.Options{MaxIndexSize: 4096}, "index key length 5000 exceeds the limit of 4096", false},
		{"value-2^62", append(uv(uv(uv(uv(nil, 1), 'k'), 1), 'i'), uv(nil, 1<<62)...), nil, "value length 4611686018427387904 exceeds the limit of 16777216", false},
		// Under the limit but far longer than the stream: memory must follow
		// the bytes that exist, not the prefix.
		{"value-15MiB-but-10-bytes", append(append(uv(uv(uv(uv(nil, 1), 'k'), 1), 'i'), uv(nil, 15<<20)...), "0123456789"...), nil, "ends inside the record, in its value", false},
		{"key-60KiB-but-3-bytes", append(uv(nil, 60<<10), "abc"...), nil, "ends inside the record, in its key", false},
		{"torn-length", []byte{0x80}, nil, "ends inside the record, in its key length", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := snapshot.FormatV1
			if tc.v2 {
				format = snapshot.FormatVersion
			}
			p := writeFile(t, snaptest.File{Header: snapshot.Header{Format: format, Version: 1, Count: 1}, Tail: tc.raw}.Bytes(t))
			warmPools(t)
			for _, check := range []struct {
				name string
				f    func() error
			}{
				{"Read", func() error {
					_, err := snapshot.Read(p, tc.opts, func(snapshot.Record) error { return nil })
					return err
				}},
				{"Verify", func() error { _, err := snapshot.Verify(p, tc.opts); return err }},
			} {
				var err error
				alloc := allocatedDuring(func() { err = check.f() })
				ce := wantCorrupt(t, check.name, err, p)
				if ce.Offset != snapshot.HeaderSize || !strings.Contains(ce.Reason, "record 0") || !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("%s: %v; want offset %d, record 0 and %q", check.name, err, snapshot.HeaderSize, tc.reason)
				}
				if alloc > 4<<20 {
					t.Fatalf("%s allocated %d bytes", check.name, alloc)
				}
				t.Logf("%s: %d bytes allocated: %v", check.name, alloc, err)
			}
		})
	}
}

// rleFrame returns a zstd frame without checksum: an optional raw block
// holding prefix, then blocks RLE blocks of 128 KiB of the byte b.
// windowDesc is the frame's window descriptor byte (0x38: 128 KiB).
func rleFrame(windowDesc byte, prefix []byte, b byte, blocks int) []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, windowDesc}
	blockHeader := func(size, typ int, last bool) []byte {
		h := uint32(size)<<3 | uint32(typ)<<1
		if last {
			h |= 1
		}
		return []byte{byte(h), byte(h >> 8), byte(h >> 16)}
	}
	if len(prefix) > 0 {
		f = append(f, blockHeader(len(prefix), 0, blocks == 0)...)
		f = append(f, prefix...)
	}
	for i := range blocks {
		f = append(f, blockHeader(128<<10, 1, i == blocks-1)...)
		f = append(f, b)
	}
	return f
}

// withStream returns a file: a valid format-1 header for count records,
// the given compressed stream, and a footer of zeros.
func withStream(t testing.TB, count uint64, stream []byte) []byte {
	t.Helper()
	hdr := encode(t, snapshot.Header{Format: snapshot.FormatV1, Version: 1, Count: count}, nil, nil)[:snapshot.HeaderSize]
	file := append(bytes.Clone(hdr), stream...)
	return append(file, make([]byte, snapshot.FooterSize)...)
}

func TestRead_ZstdBomb(t *testing.T) {
	uv := binary.AppendUvarint
	const blocks = 8192 // 1 GiB decompressed from 32 KiB
	for _, tc := range []struct {
		name   string
		stream []byte
		opts   *snapshot.Options
		reason string
	}{
		{"1GiB-of-zeros", rleFrame(0x38, nil, 0, blocks), nil, "records out of order"},
		{"1GiB-of-ones", rleFrame(0x38, nil, 1, blocks), nil, "records out of order"},
		{"1GiB-value-over-limit", rleFrame(0x38, append(uv(uv(uv(uv(nil, 1), 'k'), 1), 'i'), uv(nil, 1<<30)...), 0, blocks), nil, "value length 1073741824 exceeds"},
		{"8MiB-value-over-option", rleFrame(0x38, append(uv(uv(uv(uv(nil, 1), 'k'), 1), 'i'), uv(nil, 8<<20)...), 0, blocks), &snapshot.Options{MaxValueSize: 1 << 20}, "value length 8388608 exceeds the limit of 1048576"},
		{"1GiB-window", rleFrame(0xa0, nil, 0, 2), nil, "zstd"},
		{"64MiB-window-over-option", rleFrame(0x80, nil, 0, 2), &snapshot.Options{DecoderMaxMemory: 8 << 20}, "zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := withStream(t, 1000, tc.stream)
			t.Logf("file of %d bytes", len(file))
			p := writeFile(t, file)
			warmPools(t)
			for _, check := range []struct {
				name string
				f    func() error
			}{
				{"Read", func() error {
					_, err := snapshot.Read(p, tc.opts, func(snapshot.Record) error { return nil })
					return err
				}},
				{"Verify", func() error { _, err := snapshot.Verify(p, tc.opts); return err }},
			} {
				var err error
				alloc := allocatedDuring(func() { err = check.f() })
				ce := wantCorrupt(t, check.name, err, p)
				if !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("%s: %v; want %q", check.name, err, tc.reason)
				}
				if alloc > 8<<20 {
					t.Fatalf("%s allocated %d bytes", check.name, alloc)
				}
				t.Logf("%s: %d bytes allocated: %v", check.name, alloc, err)
			}
		})
	}
}

// TestRead_BombWithinLimits feeds a value of 32 MiB, within the limits,
// that really is in the (tiny) stream: it is read, with memory near its
// size, not more.
func TestRead_BombWithinLimits(t *testing.T) {
	uv := binary.AppendUvarint
	const size = 32 << 20
	stream := rleFrame(0x38, append(uv(uv(uv(uv(nil, 1), 'k'), 1), 'i'), uv(nil, size)...), 'v', size/(128<<10))
	p := writeFile(t, withStream(t, 1, stream))
	warmPools(t)
	var got int
	var err error
	alloc := allocatedDuring(func() {
		_, err = snapshot.Read(p, &snapshot.Options{MaxValueSize: size}, func(r snapshot.Record) error { got = len(r.Value); return nil })
	})
	// The footer is zeros, so the read fails there, after the record.
	wantCorrupt(t, "Read", err, p)
	if got != size {
		t.Fatalf("value of %d bytes, want %d", got, size)
	}
	if alloc > 3*size {
		t.Fatalf("allocated %d bytes for a %d-byte value", alloc, size)
	}
	t.Logf("%d bytes allocated for a %d-byte value: %v", alloc, size, err)
}

func TestRead_IOErrorIsNotCorruption(t *testing.T) {
	recs := fixedRecords(5, 5000, 100)
	p := writeFile(t, encode(t, snapshot.Header{Version: 1, Count: uint64(len(recs))}, recs, nil))
	for _, after := range []int64{0, 10, snapshot.HeaderSize, 1000, 200 << 10} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			injected := errors.New("injected read failure")
			opts := &snapshot.Options{FS: &faultFS{FS: vfs.OS, op: "read", afterN: after, injected: injected}}
			_, err := snapshot.Read(p, opts, func(snapshot.Record) error { return nil })
			if !errors.Is(err, injected) || errors.Is(err, dberr.ErrCorrupt) {
				t.Fatalf("Read: %v, want the injected error, not corruption", err)
			}
			// The fault comes as the os package's errors do, in an
			// *fs.PathError naming the file: the message names it once.
			if msg := err.Error(); !strings.HasPrefix(msg, "snapshot: ") || strings.Count(msg, "snapshot: ") != 1 || strings.Count(msg, p) != 1 {
				t.Fatalf("Read: %q, want one \"snapshot: \" prefix and %s named once", msg, p)
			}
			if _, err := snapshot.Verify(p, opts); !errors.Is(err, injected) || errors.Is(err, dberr.ErrCorrupt) {
				t.Fatalf("Verify: %v, want the injected error, not corruption", err)
			}
			if _, err := snapshot.ReadHeader(p, opts); after < snapshot.HeaderSize && (!errors.Is(err, injected) || errors.Is(err, dberr.ErrCorrupt)) {
				t.Fatalf("ReadHeader: %v, want the injected error, not corruption", err)
			}
		})
	}
}

func TestReadHeader(t *testing.T) {
	h := snapshot.Header{StoreID: testStoreID, Version: 1<<63 + 5, Count: 3}
	good := encode(t, h, userRecords(1, 3), nil)
	h.Format = snapshot.FormatVersion
	got, err := snapshot.ReadHeader(writeFile(t, good), nil)
	if err != nil || got != h {
		t.Fatalf("ReadHeader: %+v, %v; want %+v", got, err, h)
	}
	future := encode(t, snapshot.Header{Format: 3, Version: 1}, nil, nil)
	patched := bytes.Clone(good)
	patched[30] ^= 1 // in the version
	for _, tc := range []struct {
		name   string
		data   []byte
		offset int64
		reason string
	}{
		{"empty", nil, 0, "inside the 56-byte header"},
		{"short", good[:20], 20, "inside the 56-byte header"},
		{"not-a-snapshot", []byte(strings.Repeat("hello, world! ", 10)), 0, "bad magic"},
		{"future-format", future, 8, "unknown format version 3"},
		{"bit-flip", patched, 52, "header checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.data)
			_, err := snapshot.ReadHeader(p, nil)
			ce := wantCorrupt(t, "ReadHeader", err, p)
			if ce.Offset != tc.offset || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("%v; want offset %d, %q", err, tc.offset, tc.reason)
			}
			_, err = snapshot.Verify(p, nil)
			wantCorrupt(t, "Verify", err, p)
		})
	}
	if _, err := snapshot.ReadHeader(filepath.Join(t.TempDir(), "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestRead_MissingFile: the error of the file system comes back with the
// package prefix and the path, each once.
func TestRead_MissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), snapshot.FileName(4))
	for name, f := range map[string]func() error{
		"Read":       func() error { _, err := snapshot.Read(p, nil, nil); return err },
		"ReadHeader": func() error { _, err := snapshot.ReadHeader(p, nil); return err },
		"Verify":     func() error { _, err := snapshot.Verify(p, nil); return err },
	} {
		err := f()
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v, want os.ErrNotExist", name, err)
		}
		if want := "snapshot: open " + p + ": no such file or directory"; err.Error() != want {
			t.Errorf("%s: %q, want %q", name, err, want)
		}
	}
}

// ReadInto gives the same records as Read, most of them in the memory its
// alloc returned (with spare room before and after, which the reader must
// leave alone), and a record too big for the reader's buffer in memory of
// its own.
func TestReadInto_UsesAlloc(t *testing.T) {
	recs := withVersions(userRecords(3, 3000), 1000)
	recs = append(recs, snapshot.Record{Key: []byte("~big"), Index: []byte("~big"), Value: bytes.Repeat([]byte("v"), 600<<10), Version: 7})
	p := writeFile(t, encode(t, snapshot.Header{Version: 1000, Count: uint64(len(recs))}, recs, nil))
	type given struct {
		buf  []byte
		used bool
	}
	var last *given
	var got []snapshot.Record
	allocs, inAlloc := 0, 0
	_, err := snapshot.ReadInto(p, nil, func(version uint64, klen, ilen, vlen int) []byte {
		allocs++
		n := klen + ilen + vlen
		buf := make([]byte, n+8)
		for i := range buf {
			buf[i] = '#'
		}
		if version != recs[len(got)].Version {
			t.Fatalf("record %d: alloc given version %d, want %d", len(got), version, recs[len(got)].Version)
		}
		last = &given{buf: buf}
		return buf[4 : 4+n]
	}, func(r snapshot.Record) error {
		if last != nil && !last.used && len(r.Key) > 0 && &r.Key[0] == &last.buf[4] {
			last.used = true
			inAlloc++
			if string(last.buf[:4]) != "####" || string(last.buf[len(last.buf)-4:]) != "####" {
				t.Fatalf("record %q: bytes around the fields were written", r.Key)
			}
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, recs, got)
	if inAlloc != allocs || inAlloc < len(recs)*9/10 || inAlloc == len(recs) {
		t.Fatalf("%d of %d records in alloc's memory, alloc called %d times: want most but not the big one", inAlloc, len(recs), allocs)
	}
}
