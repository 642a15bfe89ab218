package btreeidx

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// The package doc promises 24-byte tree items.
func TestItem_Size(t *testing.T) {
	if n := unsafe.Sizeof(item{}); n != 24 {
		t.Fatalf("item is %d bytes, doc.go says 24", n)
	}
}

// randomKey draws from an alphabet that makes zero padding, 0xff and
// 16-byte boundaries matter.
func randomKey(r *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 0x7f, 0x80, 0xff}
	n := r.IntN(22)
	if r.IntN(2) == 0 {
		n = 14 + r.IntN(5) // around the 16-byte prefix
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// lessByKey and lessByIndex order items exactly like bytes.Compare orders
// the keys, for stored items and search probes alike.
func TestItem_LessMatchesBytesCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		a, b := randomKey(r), randomKey(r)
		if r.IntN(4) == 0 { // share a long prefix
			b = append(bytes.Clone(a[:r.IntN(len(a)+1)]), b...)
		}
		want := bytes.Compare(a, b) < 0
		ea, eb := newEntry(a, a, nil, 1), newEntry(b, b, nil, 1)
		cases := []struct {
			name string
			got  bool
		}{
			{"key item/item", lessByKey(keyItem(ea), keyItem(eb))},
			{"key probe/item", lessByKey(probeKey(a), keyItem(eb))},
			{"key item/probe", lessByKey(keyItem(ea), probeKey(b))},
			{"index item/item", lessByIndex(indexItem(ea), indexItem(eb))},
			{"index probe/item", lessByIndex(probeIndex(a), indexItem(eb))},
			{"index item/probe", lessByIndex(indexItem(ea), probeIndex(b))},
		}
		for _, c := range cases {
			if c.got != want {
				t.Fatalf("%s: less(%q, %q) = %v, bytes.Compare says %v", c.name, a, b, c.got, want)
			}
		}
	}
}

func TestEntry_Parts(t *testing.T) {
	for _, c := range [][3]string{{"", "", ""}, {"k", "", ""}, {"", "i", ""}, {"", "", "v"}, {"key", "index", "value"}} {
		e := newEntry([]byte(c[0]), []byte(c[1]), []byte(c[2]), 1)
		if string(e.key()) != c[0] || string(e.index()) != c[1] || string(e.value()) != c[2] {
			t.Fatalf("%q: entry gives %q %q %q", c, e.key(), e.index(), e.value())
		}
		if len(e.bytes()) != cap(e.bytes()) {
			t.Fatalf("%q: buffer len %d cap %d", c, len(e.bytes()), cap(e.bytes()))
		}
	}
}

// The header of an entry round-trips every length and version, through
// the one-word fast path and the byte-by-byte slow path alike, and the
// record lands right after it.
func TestEntry_Header(t *testing.T) {
	lengths := []int{0, 1, 15, 16, 127, 128, 300, 16383, 16384, 70000}
	versions := []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<21 + 5, 1<<28 - 1, 1 << 35, 1<<49 + 3, math.MaxUint64}
	r := rand.New(rand.NewPCG(5, 6))
	fill := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	for _, k := range lengths {
		for _, i := range lengths {
			v := lengths[r.IntN(len(lengths))]
			ver := versions[r.IntN(len(versions))]
			key, index, value := fill(k, 0x81), fill(i, 0x00), fill(v, 0xff)
			e := newEntry(key, index, value, ver)
			gk, gi, gv, h := e.layout()
			sk, si, sv, sh := e.layoutSlow()
			if gk != k || gi != i || gv != v || h != headerLen(k, i, v, ver) {
				t.Fatalf("%d/%d/%d v%d: layout gives %d/%d/%d header %d, want header %d", k, i, v, ver, gk, gi, gv, h, headerLen(k, i, v, ver))
			}
			if sk != k || si != i || sv != v || sh != h {
				t.Fatalf("%d/%d/%d v%d: slow layout gives %d/%d/%d header %d, fast %d", k, i, v, ver, sk, si, sv, sh, h)
			}
			rec := e.record()
			if !bytes.Equal(rec.Key, key) || !bytes.Equal(rec.Index, index) || !bytes.Equal(rec.Value, value) || rec.Version != ver {
				t.Fatalf("%d/%d/%d v%d: record has %d/%d/%d bytes, version %d", k, i, v, ver, len(rec.Key), len(rec.Index), len(rec.Value), rec.Version)
			}
			if all := e.bytes(); len(all) != h+k+i+v || len(all) != cap(all) {
				t.Fatalf("%d/%d/%d v%d: entry bytes len %d cap %d, want %d", k, i, v, ver, len(all), cap(all), h+k+i+v)
			}
		}
	}
}

// The record the benchmarks and the bench module use (15-byte key,
// 21-byte index key, 100-byte value) takes the 144-byte size class with
// versions up to 2^28, header and all: one object, no separate header.
func TestEntry_Size(t *testing.T) {
	for _, ver := range []uint64{1, 1 << 20, 1<<28 - 1} {
		if n := headerLen(15, 21, 100, ver) + 15 + 21 + 100; n > 144 {
			t.Fatalf("version %d: entry of %d bytes, over the 144-byte size class", ver, n)
		}
	}
	e := newEntry([]byte("k"), []byte("i"), []byte("v"), 7)
	if r := e.record(); r.Version != 7 || string(r.Key) != "k" || string(r.Index) != "i" || string(r.Value) != "v" {
		t.Fatalf("record %+v, want {k i v 7}", r)
	}
	if n := len(e.bytes()); n != 7 {
		t.Fatalf("entry of 1-byte fields is %d bytes, want 7 (4 of header)", n)
	}
}

// Keys around the 15 inline bytes, with trailing zeros, order like
// bytes.Compare, and only keys longer than 15 bytes reach the entry.
func TestItem_InlineEdgeCases(t *testing.T) {
	z := func(n int) string { return string(make([]byte, n)) }
	keys := []string{
		"", "\x00", z(2), z(14), z(15), z(16), z(17),
		"a", "a\x00", "a" + z(13), "a" + z(14), "a" + z(15), "a" + z(16),
		"abcdefghijklmn", "abcdefghijklmno", "abcdefghijklmno\x00", "abcdefghijklmnop",
		"abcdefghijklmnoa", "abcdefghijklmnoab", "abcdefghijklmno\xff", "abcdefghijklmnp",
		"abcdefghijklmn\xff", "abcdefghijklmn\xff\xff", "\xff", strings.Repeat("\xff", 15), strings.Repeat("\xff", 16), strings.Repeat("\xff", 17),
	}
	for _, a := range keys {
		for _, b := range keys {
			want := bytes.Compare([]byte(a), []byte(b)) < 0
			ea, eb := newEntry([]byte(a), []byte(a), nil, 1), newEntry([]byte(b), []byte(b), nil, 1)
			for name, got := range map[string]bool{
				"key item/item":    lessByKey(keyItem(ea), keyItem(eb)),
				"key probe/item":   lessByKey(probeKey([]byte(a)), keyItem(eb)),
				"key item/probe":   lessByKey(keyItem(ea), probeKey([]byte(b))),
				"index item/item":  lessByIndex(indexItem(ea), indexItem(eb)),
				"index probe/item": lessByIndex(probeIndex([]byte(a)), indexItem(eb)),
				"cmpByIndex":       cmpByIndex(indexItem(ea), indexItem(eb)) < 0,
			} {
				if got != want {
					t.Fatalf("%s: less(%q, %q) = %v, bytes.Compare says %v", name, a, b, got, want)
				}
			}
		}
		if p := probeKey([]byte(a)); (p.e == nil) != (len(a) <= inlineLen) {
			t.Fatalf("probe of %q (%d bytes) has entry %v", a, len(a), p.e != nil)
		}
	}
}
