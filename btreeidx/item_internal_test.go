package btreeidx

import (
	"bytes"
	"math/rand/v2"
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

// TestEntry_Size holds the entry at 32 bytes, one Go size class, version
// included: a field more would cost 16 bytes a record (the next class is
// 48 bytes).
func TestEntry_Size(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 32 {
		t.Fatalf("entry is %d bytes, want 32", got)
	}
	e := newEntry([]byte("k"), []byte("i"), []byte("v"), 7)
	if r := e.record(); r.Version != 7 || string(r.Key) != "k" || string(r.Index) != "i" || string(r.Value) != "v" {
		t.Fatalf("record %+v, want {k i v 7}", r)
	}
}
