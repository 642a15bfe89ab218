package btreeidx

import (
	"fmt"
	"testing"
	"unsafe"
)

// entryOf returns the entry the primary tree holds for key, after checking
// that the secondary tree holds the very same entry.
func entryOf(t *testing.T, x *Index, key []byte) *entry {
	t.Helper()
	it, ok := x.pri.Get(probeKey(key))
	if !ok {
		t.Fatalf("key %q not in the primary tree", key)
	}
	sit, ok := x.sec.Get(probeIndex(it.e.index()))
	if !ok || sit.e != it.e {
		t.Fatalf("secondary item for %q does not share the entry", key)
	}
	return it.e
}

func sameMemory(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// TestBuilder_OwnedAdjacentNotCopied: key|index|value back to back in one
// allocation become the entry's buffer as they are.
func TestBuilder_OwnedAdjacentNotCopied(t *testing.T) {
	type owned struct {
		buf             []byte
		key, index, val []byte
	}
	// Separate allocations, one per record, and one big buffer holding all
	// records back to back (the key's capacity runs past the record).
	var recs []owned
	for i := range 100 {
		k, ix, v := fmt.Sprintf("k%04d", i), fmt.Sprintf("i%d", i*7919%100), fmt.Sprintf("value-%d", i)
		switch {
		case i == 1:
			ix = "" // the empty index key: adjacent by definition
		case i%4 == 2:
			v = "" // empty value
		}
		buf := []byte(k + ix + v)
		recs = append(recs, owned{buf, buf[:len(k)], buf[len(k) : len(k)+len(ix)], buf[len(k)+len(ix):]})
	}
	var big []byte
	var ends [][3]int // end of key, index, value of each record in big
	for i := range 100 {
		big = fmt.Appendf(big, "m%04d", i)
		big = fmt.Appendf(big, "j%04d", i)
		e1 := len(big)
		big = fmt.Appendf(big, "val%d", i)
		ends = append(ends, [3]int{e1 - 5, e1, len(big)})
	}
	start := 0
	for _, e := range ends {
		recs = append(recs, owned{big[start:e[2]], big[start:e[0]], big[e[0]:e[1]], big[e[1]:e[2]]})
		start = e[2]
	}

	all := recs
	b := NewBuilder(len(all))
	for _, r := range all {
		if err := b.Add(r.key, r.index, r.val, 1, true); err != nil {
			t.Fatal(err)
		}
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		e := entryOf(t, x, r.key)
		if !sameMemory(e.bytes(), r.buf) {
			t.Fatalf("record %q: entry buffer was copied", r.key)
		}
		if cap(e.bytes()) != len(r.buf) {
			t.Fatalf("record %q: entry buffer cap %d reaches past the record (%d)", r.key, cap(e.bytes()), len(r.buf))
		}
		if string(e.key()) != string(r.key) || string(e.index()) != string(r.index) || string(e.value()) != string(r.val) {
			t.Fatalf("record %q: entry holds %q %q %q", r.key, e.key(), e.index(), e.value())
		}
	}
	if f := x.Check(0); len(f) > 0 {
		t.Fatal(f)
	}
}

// TestBuilder_OwnedNotAdjacentCopied: owned slices that are not back to
// back are copied into one buffer, also when the key has spare capacity.
func TestBuilder_OwnedNotAdjacentCopied(t *testing.T) {
	key := append(make([]byte, 0, 64), "key"...)
	tail := key[:cap(key)]
	copy(tail[3:], "idxval") // the right bytes follow the key, but they are not the index slice
	index, value := []byte("idx"), []byte("val")

	// A key with a backing array of its own: "kez" alone could share a
	// tiny-allocator block with buf and really be adjacent to it.
	key2 := append(make([]byte, 0, 64), "kez"...)
	buf := []byte("ixzval2")
	index2, value2 := buf[:3], buf[3:] // index and value adjacent, key elsewhere

	b := NewBuilder(2)
	if err := b.Add(key, index, value, 1, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(key2, index2, value2, 1, true); err != nil {
		t.Fatal(err)
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, index, value []byte
	}{{key, index, value}, {key2, index2, value2}} {
		e := entryOf(t, x, c.key)
		if unsafe.SliceData(e.bytes()) == unsafe.SliceData(c.key) {
			t.Fatalf("%q: non-adjacent parts were not copied", c.key)
		}
		if string(e.key()) != string(c.key) || string(e.index()) != string(c.index) || string(e.value()) != string(c.value) {
			t.Fatalf("%q: entry holds %q %q %q", c.key, e.key(), e.index(), e.value())
		}
	}
}

// Unowned input is always copied.
func TestBuilder_UnownedCopied(t *testing.T) {
	buf := []byte("keyidxval")
	b := NewBuilder(1)
	if err := b.Add(buf[:3], buf[3:6], buf[6:], 1, false); err != nil {
		t.Fatal(err)
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if e := entryOf(t, x, buf[:3]); unsafe.SliceData(e.bytes()) == unsafe.SliceData(buf) {
		t.Fatal("unowned input was not copied")
	}
}
