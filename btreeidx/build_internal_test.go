package btreeidx

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// TestBuilder_AllocNotCopied: fields written into the memory Alloc hands
// out, as the snapshot reader does, become the record as they are.
func TestBuilder_AllocNotCopied(t *testing.T) {
	type rec struct {
		key, index, val []byte
		e               *entry
	}
	var recs []rec
	b := NewBuilder(100)
	for i := range 100 {
		k, ix, v := fmt.Sprintf("k%04d", i), fmt.Sprintf("i%d", i*7919%100), fmt.Sprintf("value-%d", i)
		switch {
		case i == 1:
			ix = "" // the empty index key
		case i%4 == 2:
			v = "" // empty value
		case i == 3:
			v = string(make([]byte, 300)) // a two-byte length
		}
		buf := b.Alloc(uint64(i), len(k), len(ix), len(v))
		copy(buf, k+ix+v)
		r := rec{buf[:len(k)], buf[len(k) : len(k)+len(ix)], buf[len(k)+len(ix):], b.pending}
		if err := b.Add(r.key, r.index, r.val, uint64(i), true); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		e := entryOf(t, x, r.key)
		if e != r.e {
			t.Fatalf("record %q: copied, not the memory Alloc gave", r.key)
		}
		got := e.record()
		if string(got.Key) != string(r.key) || string(got.Index) != string(r.index) || string(got.Value) != string(r.val) || got.Version != uint64(i) {
			t.Fatalf("record %q: entry holds %q %q %q version %d", r.key, got.Key, got.Index, got.Value, got.Version)
		}
	}
	if f := x.Check(0); len(f) > 0 {
		t.Fatal(f)
	}
}

// Anything but the very fields Alloc handed out, with the version given to
// Alloc, is copied: the Builder keeps only memory it laid out itself.
func TestBuilder_AllocMismatchCopied(t *testing.T) {
	for _, c := range []struct {
		name string
		add  func(b *Builder, buf []byte) error
	}{
		{"other memory", func(b *Builder, buf []byte) error {
			other := []byte("keyidxval")
			return b.Add(other[:3], other[3:6], other[6:], 1, true)
		}},
		{"other version", func(b *Builder, buf []byte) error {
			return b.Add(buf[:3], buf[3:6], buf[6:], 2, true)
		}},
		{"other split", func(b *Builder, buf []byte) error {
			return b.Add(buf[:3], buf[3:5], buf[5:], 1, true)
		}},
		{"not owned", func(b *Builder, buf []byte) error {
			return b.Add(buf[:3], buf[3:6], buf[6:], 1, false)
		}},
	} {
		b := NewBuilder(1)
		buf := b.Alloc(1, 3, 3, 3)
		copy(buf, "keyidxval")
		pending := b.pending
		if err := c.add(b, buf); err != nil {
			t.Fatal(err)
		}
		x, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		it, ok := x.pri.Min()
		if !ok || it.e == pending {
			t.Fatalf("%s: not copied", c.name)
		}
		if r := it.e.record(); string(r.Key) != "key" || len(r.Key)+len(r.Index)+len(r.Value) != 9 {
			t.Fatalf("%s: record %q %q %q", c.name, r.Key, r.Index, r.Value)
		}
	}
}

// TestBuilder_OwnedNotAdjacentCopied: owned slices that are not from Alloc
// are copied into one entry, also when the key has spare capacity.
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

// TestSortByIndex: the radix sort orders index keys exactly as a
// comparison sort with cmpByIndex does, for keys that differ early, late,
// only past the inline bytes, only in length, or not at all.
func TestSortByIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	gens := map[string]func(i int) string{
		"random":       func(int) string { return string(randBytes(r, r.IntN(24))) },
		"mail":         func(i int) string { return fmt.Sprintf("mail:%016x", r.Uint64()) },
		"long-shared":  func(int) string { return "a-long-shared-prefix:" + string(randBytes(r, r.IntN(4))) },
		"lengths":      func(int) string { return strings.Repeat("x", r.IntN(40)) },
		"inline-equal": func(int) string { return fmt.Sprintf("0123456789abcde%d", r.IntN(1000)) },
		"binary":       func(int) string { return string([]byte{byte(r.IntN(3)), 0, 0, byte(r.IntN(256)), 0xff}) },
	}
	for name, g := range gens {
		for _, n := range []int{0, 1, 2, radixCutoff, radixCutoff + 1, 1000, 20000} {
			items := make([]item, n)
			for i := range items {
				items[i] = indexItem(newEntry([]byte(fmt.Sprint(i)), []byte(g(i)), nil, 1))
			}
			want := slices.Clone(items)
			slices.SortStableFunc(want, cmpByIndex)
			got := slices.Clone(items)
			sortByIndex(got)
			for i := range got {
				if cmpByIndex(got[i], want[i]) != 0 {
					t.Fatalf("%s, n=%d: position %d holds %q, want %q", name, n, i, got[i].e.index(), want[i].e.index())
				}
			}
			seen := make(map[*entry]bool, n)
			for _, it := range got {
				seen[it.e] = true
			}
			if len(seen) != n {
				t.Fatalf("%s, n=%d: %d distinct entries after sorting", name, n, len(seen))
			}
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}
