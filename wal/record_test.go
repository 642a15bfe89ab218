package wal_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/dualdb/dualdb/wal"
)

// seal appends the record checksum to payload the way the format in doc.go
// describes it: CRC32C over the 8-byte big-endian version, then the
// payload. It is written from the spec, not from record.go, so that the
// tests check the implementation against the documented format and can
// build structurally bad records whose checksum is good.
func seal(version uint64, payload []byte) []byte {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], version)
	tab := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(crc32.Update(0, tab, v[:]), tab, payload)
	out := append([]byte(nil), payload...)
	return binary.BigEndian.AppendUint32(out, crc)
}

// payloadOf returns a record's bytes without its checksum.
func payloadOf(rec []byte) []byte { return append([]byte(nil), rec[:len(rec)-4]...) }

func uvarint(x uint64) []byte { return binary.AppendUvarint(nil, x) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// smallOps is a record with one put and one delete of each kind.
func smallOps() []wal.Op {
	return []wal.Op{
		{Kind: wal.OpPut, Key: []byte("k1"), Index: []byte("i1"), Value: []byte("v1")},
		{Kind: wal.OpDelete, Key: []byte("k2")},
		{Kind: wal.OpDeleteRecord, Key: []byte("k3"), Index: []byte("i3"), Value: []byte("v3"), Version: 300},
	}
}

// opsEqual compares ops as they must survive a round trip: delete ops
// carry only their key.
func opsEqual(t *testing.T, got, want []wal.Op) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d ops, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || !bytes.Equal(g.Key, w.Key) {
			t.Fatalf("op %d: got %v %q, want %v %q", i, g.Kind, g.Key, w.Kind, w.Key)
		}
		if (w.Kind == wal.OpPut || w.Kind == wal.OpDeleteRecord) && (!bytes.Equal(g.Index, w.Index) || !bytes.Equal(g.Value, w.Value)) {
			t.Fatalf("op %d: got index %q value of %d bytes, want %q and %d bytes",
				i, g.Index, len(g.Value), w.Index, len(w.Value))
		}
		if w.Kind == wal.OpDelete && (len(g.Index) != 0 || len(g.Value) != 0) {
			t.Fatalf("op %d: delete decoded with index %q value %q", i, g.Index, g.Value)
		}
		wantVersion := uint64(0)
		if w.Kind == wal.OpDeleteRecord {
			wantVersion = w.Version
		}
		if g.Version != wantVersion {
			t.Fatalf("op %d: %v decoded with version %d, want %d", i, g.Kind, g.Version, wantVersion)
		}
	}
}

func TestRecord_RoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: a 3-byte length
	many := make([]wal.Op, 1000)
	for i := range many {
		k := binary.BigEndian.AppendUint32(nil, uint32(i))
		if i%3 == 0 {
			many[i] = wal.Op{Kind: wal.OpDelete, Key: k}
		} else {
			many[i] = wal.Op{Kind: wal.OpPut, Key: k, Index: append([]byte("i"), k...), Value: bytes.Repeat(k, i%7)}
		}
	}
	cases := []struct {
		name string
		ops  []wal.Op
	}{
		{"put", []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Index: []byte("i"), Value: []byte("v")}}},
		{"delete", []wal.Op{{Kind: wal.OpDelete, Key: []byte("k")}}},
		{"delete-record", []wal.Op{{Kind: wal.OpDeleteRecord, Key: []byte("k"), Index: []byte("i"), Value: []byte("v"), Version: 1 << 40}}},
		{"empty delete-record", []wal.Op{{Kind: wal.OpDeleteRecord}}},
		{"delete-record of a version-0 record", []wal.Op{{Kind: wal.OpDeleteRecord, Key: []byte("k"), Version: 0}}},
		{"put+delete", smallOps()},
		{"empty put", []wal.Op{{Kind: wal.OpPut}}},
		{"empty delete", []wal.Op{{Kind: wal.OpDelete}}},
		{"empty value", []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Index: []byte("i"), Value: []byte{}}}},
		{"delete ignores index and value", []wal.Op{{Kind: wal.OpDelete, Key: []byte("k"), Index: []byte("x"), Value: []byte("y")}}},
		{"127-byte value", []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Value: bytes.Repeat([]byte{0xaa}, 127)}}},
		{"128-byte value", []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Value: bytes.Repeat([]byte{0xaa}, 128)}}},
		{"big value", []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Index: []byte("i"), Value: big}}},
		{"big key and index", []wal.Op{{Kind: wal.OpPut, Key: big[:70000], Index: big[:20000]}}},
		{"1000 ops", many},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, version := range []uint64{0, 1, 1 << 40, math.MaxUint64} {
				rec := wal.AppendRecord(nil, version, tc.ops)
				if n := wal.EncodedSize(tc.ops); n != len(rec) {
					t.Fatalf("EncodedSize = %d, AppendRecord made %d bytes", n, len(rec))
				}
				if !bytes.Equal(rec, seal(version, payloadOf(rec))) {
					t.Fatalf("checksum differs from CRC32C(version BE || payload)")
				}
				got, err := wal.DecodeRecord(version, rec)
				if err != nil {
					t.Fatalf("version %d: DecodeRecord: %v", version, err)
				}
				opsEqual(t, got, tc.ops)

				// AppendRecord appends: a prefix is kept and the record follows it.
				prefix := []byte("prefix")
				withPrefix := wal.AppendRecord(append([]byte(nil), prefix...), version, tc.ops)
				if !bytes.HasPrefix(withPrefix, prefix) || !bytes.Equal(withPrefix[len(prefix):], rec) {
					t.Fatalf("AppendRecord onto a non-empty dst differs from a fresh encoding")
				}
			}
		})
	}
}

// TestAssembleRecord: building a record op by op with AppendOp and
// AssembleRecord, as the db package does, gives AppendRecord's bytes.
func TestAssembleRecord(t *testing.T) {
	for _, ops := range [][]wal.Op{nil, smallOps(), {{Kind: wal.OpPut}}, {{Kind: wal.OpDelete, Key: []byte("k"), Value: []byte("ignored")}}} {
		var body []byte
		for _, op := range ops {
			body = wal.AppendOp(body, op)
		}
		got := wal.AssembleRecord([]byte("x"), 77, len(ops), body)
		want := wal.AppendRecord([]byte("x"), 77, ops)
		if !bytes.Equal(got, want) {
			t.Fatalf("AssembleRecord = %x, AppendRecord = %x", got, want)
		}
		dec, err := wal.DecodeRecord(77, got[1:])
		if err != nil {
			t.Fatal(err)
		}
		opsEqual(t, dec, ops)
	}
	// A count that does not match the body makes a record that does not
	// decode: the caller's bug would show at the next Open, not here.
	body := wal.AppendOp(nil, smallOps()[0])
	for _, n := range []int{0, 2} {
		mustReject(t, 1, wal.AssembleRecord(nil, 1, n, body), fmt.Sprintf("count %d for 1 op", n))
	}
}

func TestOpSize(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 200) // two-byte length prefixes
	ops := append(smallOps(),
		wal.Op{Kind: wal.OpPut},
		wal.Op{Kind: wal.OpPut, Key: long, Index: long[:128], Value: bytes.Repeat(long, 100)},
		wal.Op{Kind: wal.OpDelete, Key: long, Index: long, Value: long},
		wal.Op{Kind: wal.OpDeleteRecord, Key: long, Version: math.MaxUint64},
		wal.Op{Kind: wal.OpDeleteRecord, Key: []byte("k")},
	)
	for i, op := range ops {
		if got, want := wal.OpSize(op), len(wal.AppendOp(nil, op)); got != want {
			t.Errorf("op %d (%v): OpSize = %d, encoding is %d bytes", i, op.Kind, got, want)
		}
	}
}

// TestRecord_ZeroOps: whatever AppendRecord writes, DecodeRecord must read
// back, or an acknowledged commit turns into "corruption" at the next Open.
func TestRecord_ZeroOps(t *testing.T) {
	rec := wal.AppendRecord(nil, 7, nil)
	if n := wal.EncodedSize(nil); n != len(rec) {
		t.Fatalf("EncodedSize = %d, AppendRecord made %d bytes", n, len(rec))
	}
	ops, err := wal.DecodeRecord(7, rec)
	if err != nil {
		t.Fatalf("DecodeRecord of an empty record AppendRecord made: %v", err)
	}
	if len(ops) != 0 {
		t.Fatalf("got %d ops, want 0", len(ops))
	}
}

// TestRecord_Golden pins the on-disk format: these bytes are on users'
// disks and must decode the same forever. The first record is one that
// builds before the delete-record op wrote (a plain delete); the second
// holds every op kind.
func TestRecord_Golden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		golden string
		ops    []wal.Op
	}{
		{"put-delete", "01" + // format
			"02" + // op count
			"01" + "026b31" + "026931" + "027631" + // put k1 i1 v1
			"02" + "026b32" + // delete k2
			"9243c194", // CRC32C(BE(42) || above), big-endian
			smallOps()[:2]},
		{"put-delete-deleterecord", "01" + // format
			"03" + // op count
			"01" + "026b31" + "026931" + "027631" + // put k1 i1 v1
			"02" + "026b32" + // delete k2
			"03" + "026b33" + "026933" + "027633" + "ac02" + // delete-record k3 i3 v3, version 300
			"95a6c5f4", // CRC32C(BE(42) || above), big-endian
			smallOps()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := wal.AppendRecord(nil, 42, tc.ops)
			if got := hex.EncodeToString(rec); got != tc.golden {
				t.Fatalf("encoding changed:\n got %s\nwant %s", got, tc.golden)
			}
			want, _ := hex.DecodeString(tc.golden)
			ops, err := wal.DecodeRecord(42, want)
			if err != nil {
				t.Fatal(err)
			}
			opsEqual(t, ops, tc.ops)
		})
	}
}

// TestDecodeRecord_Aliasing: the ops alias the input, but with their
// capacity clipped, so appending to a key cannot overwrite the next field.
func TestDecodeRecord_Aliasing(t *testing.T) {
	rec := wal.AppendRecord(nil, 1, smallOps())
	orig := bytes.Clone(rec)
	ops, err := wal.DecodeRecord(1, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		_ = append(op.Key, 'X')
		_ = append(op.Index, 'X')
		_ = append(op.Value, 'X')
	}
	if !bytes.Equal(rec, orig) {
		t.Fatalf("appending to a decoded slice changed the record:\n%x\n%x", orig, rec)
	}
}

func TestOpKind_String(t *testing.T) {
	for k, want := range map[wal.OpKind]string{wal.OpPut: "put", wal.OpDelete: "delete", wal.OpDeleteRecord: "delete-record", 9: "op(9)"} {
		if got := k.String(); got != want {
			t.Errorf("OpKind(%d).String() = %q, want %q", byte(k), got, want)
		}
	}
}

// mustReject decodes b and fails unless it is an error (a panic fails the
// test by itself). It returns the error text.
func mustReject(t *testing.T, version uint64, b []byte, what string) string {
	t.Helper()
	ops, err := wal.DecodeRecord(version, b)
	if err == nil {
		t.Fatalf("%s: DecodeRecord(%d, %x) = %d ops, nil error; want an error", what, version, b, len(ops))
	}
	if ops != nil {
		t.Errorf("%s: DecodeRecord returned ops with its error", what)
	}
	return err.Error()
}

func TestDecodeRecord_BitFlip(t *testing.T) {
	rec := wal.AppendRecord(nil, 5, smallOps())
	for i := range rec {
		for bit := range 8 {
			b := bytes.Clone(rec)
			b[i] ^= 1 << bit
			mustReject(t, 5, b, "flipped bit")
		}
	}
}

func TestDecodeRecord_WrongVersion(t *testing.T) {
	const v = 1000
	rec := wal.AppendRecord(nil, v, smallOps())
	for _, other := range []uint64{0, 1, v - 1, v + 1, v ^ 1<<63, math.MaxUint64} {
		msg := mustReject(t, other, rec, "other version")
		if !strings.Contains(msg, "CRC") {
			t.Errorf("version %d: error %q does not name the checksum", other, msg)
		}
	}
}

func TestDecodeRecord_Truncated(t *testing.T) {
	rec := wal.AppendRecord(nil, 3, smallOps())
	payload := payloadOf(rec)
	for n := range len(rec) {
		mustReject(t, 3, rec[:n], "truncated record")
	}
	// The same cuts with a good checksum, so the structure checks run.
	for n := range len(payload) {
		mustReject(t, 3, seal(3, payload[:n]), "truncated payload, resealed")
	}
}

func TestDecodeRecord_Malformed(t *testing.T) {
	put := cat([]byte{byte(wal.OpPut)}, uvarint(1), []byte("k"), uvarint(1), []byte("i"), uvarint(1), []byte("v"))
	del := cat([]byte{byte(wal.OpDelete)}, uvarint(1), []byte("k"))
	good := cat([]byte{wal.RecordFormat}, uvarint(2), put, del)
	if _, err := wal.DecodeRecord(9, seal(9, good)); err != nil {
		t.Fatalf("the hand-built record does not decode: %v", err)
	}
	cases := []struct {
		name    string
		payload []byte
		want    string // a word the error should contain
	}{
		{"format 0", cat([]byte{0}, uvarint(2), put, del), "format"},
		{"format 2", cat([]byte{2}, uvarint(2), put, del), "format"},
		{"format 255", cat([]byte{255}, uvarint(2), put, del), "format"},
		{"op kind 0", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{0}, uvarint(1), []byte("k")), "kind"},
		{"op kind 4", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{4}, uvarint(1), []byte("k")), "kind"},
		{"delete-record without version", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDeleteRecord)}, uvarint(1), []byte("k"), uvarint(0), uvarint(0)), "version"},
		{"delete-record version not minimal", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDeleteRecord)}, uvarint(1), []byte("k"), uvarint(0), uvarint(0), []byte{0x81, 0x00}), "version"},
		{"delete-record value runs past the end", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDeleteRecord)}, uvarint(1), []byte("k"), uvarint(0), uvarint(9), []byte("v")), "past"},
		{"op kind 255 after a good op", cat([]byte{wal.RecordFormat}, uvarint(2), put, []byte{255}, uvarint(1), []byte("k")), "kind"},
		{"op count 3 for 2 ops", cat([]byte{wal.RecordFormat}, uvarint(3), put, del), ""},
		{"op count 2 for 1 op", cat([]byte{wal.RecordFormat}, uvarint(2), put), ""},
		{"op count 1<<40", cat([]byte{wal.RecordFormat}, uvarint(1<<40), put, del), "count"},
		{"op count max uint64", cat([]byte{wal.RecordFormat}, uvarint(math.MaxUint64), put, del), "count"},
		{"op count overflows uvarint", cat([]byte{wal.RecordFormat}, bytes.Repeat([]byte{0xff}, 10), []byte{1}, put), "count"},
		{"op count unterminated", cat([]byte{wal.RecordFormat}, []byte{0x80}), ""},
		{"op count not minimal", cat([]byte{wal.RecordFormat}, []byte{0x82, 0x00}, put, del), "count"},
		{"key length not minimal", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDelete), 0x81, 0x00}, []byte("k")), "length"},
		{"key runs past the end", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDelete)}, uvarint(5), []byte("k")), "past"},
		{"value length max uint64", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpPut)}, uvarint(0), uvarint(0), uvarint(math.MaxUint64), []byte("vv")), "past"},
		{"value length missing", cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpPut)}, uvarint(0), uvarint(0)), ""},
		{"trailing byte", cat(good, []byte{0}), "unexpected"},
		{"trailing op", cat(good, del), "unexpected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := mustReject(t, 9, seal(9, tc.payload), tc.name)
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
		})
	}
	// Bytes after the checksum break the checksum.
	mustReject(t, 9, append(seal(9, good), 0), "byte after the checksum")
}

// allocBytes returns the bytes allocated per call of f, averaged over runs.
func allocBytes(runs int, f func()) float64 {
	f()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// TestDecodeRecord_AllocBounded: a length or count read from the input is
// never trusted for an allocation. The checksum is made good so that the
// decoder reaches the count, as a crafted record (or a corruption that a
// 32-bit checksum misses) would.
func TestDecodeRecord_AllocBounded(t *testing.T) {
	tiny := map[string][]byte{
		"count 1<<40":      seal(1, cat([]byte{wal.RecordFormat}, uvarint(1<<40), []byte{0})),
		"count 1<<62":      seal(1, cat([]byte{wal.RecordFormat}, uvarint(1<<62))),
		"key length 1<<40": seal(1, cat([]byte{wal.RecordFormat}, uvarint(1), []byte{byte(wal.OpDelete)}, uvarint(1<<40))),
	}
	for name, b := range tiny {
		if len(b) > 16 {
			t.Fatalf("%s: test input is %d bytes", name, len(b))
		}
		mustReject(t, 1, b, name)
		f := func() { _, _ = wal.DecodeRecord(1, b) }
		allocs := testing.AllocsPerRun(100, f)
		perCall := allocBytes(100, f)
		t.Logf("%s: %d-byte input, %.0f allocs, %.0f bytes per call", name, len(b), allocs, perCall)
		// The few allocations are the error's text (more under -race).
		if allocs > 32 || perCall > 4096 {
			t.Errorf("%s: a %d-byte input allocates %.0f times, %.0f bytes per call", name, len(b), allocs, perCall)
		}
	}

	// A good record allocates the slice of ops, and today also the 8-byte
	// version buffer in recordCRC, which escapes into crc32.Update.
	rec := wal.AppendRecord(nil, 1, smallOps())
	if allocs := testing.AllocsPerRun(100, func() { _, _ = wal.DecodeRecord(1, rec) }); allocs > 2 {
		t.Errorf("decoding a good record allocates %.0f times, want at most 2", allocs)
	}

	// The documented bound, at most one Op per two input bytes, on a 64 KiB
	// record that claims the most ops it can and then fails at the first.
	payload := cat([]byte{wal.RecordFormat}, uvarint(1<<15), make([]byte, 1<<16))
	b := seal(1, payload)
	mustReject(t, 1, b, "64 KiB of op kind 0")
	perCall := allocBytes(20, func() { _, _ = wal.DecodeRecord(1, b) })
	limit := float64(len(b)/2)*float64(unsafe.Sizeof(wal.Op{})) + 4096
	t.Logf("%d-byte crafted record: %.0f bytes allocated per call (%.1fx its size)", len(b), perCall, perCall/float64(len(b)))
	if perCall > limit {
		t.Errorf("%d-byte record allocates %.0f bytes, over the documented bound %.0f", len(b), perCall, limit)
	}
}
