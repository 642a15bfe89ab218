package btreeidx_test

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/dberr"
)

// rec is a record held as strings, comparable with ==.
type rec struct{ key, index, value string }

func (r rec) String() string { return fmt.Sprintf("{%q %q %q}", r.key, r.index, r.value) }

func toRec(r btreeidx.Record) rec { return rec{string(r.Key), string(r.Index), string(r.Value)} }

// contents is everything a View holds, read both ways.
type contents struct {
	byKey, byIndex []rec
}

func dump(v btreeidx.View) contents {
	var c contents
	for r := range v.Ascend(nil, nil) {
		c.byKey = append(c.byKey, toRec(r))
	}
	for r := range v.AscendIndex(nil, nil) {
		c.byIndex = append(c.byIndex, toRec(r))
	}
	return c
}

// sameContents fails t unless v holds exactly want (in any order), with
// consistent lookups both ways.
func sameContents(t *testing.T, v btreeidx.View, want []rec) {
	t.Helper()
	byKey := slices.Clone(want)
	slices.SortFunc(byKey, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	byIndex := slices.Clone(want)
	slices.SortFunc(byIndex, func(a, b rec) int { return strings.Compare(a.index, b.index) })
	got := dump(v)
	if !slices.Equal(got.byKey, byKey) {
		t.Fatalf("by key:\n got %v\nwant %v", got.byKey, byKey)
	}
	if !slices.Equal(got.byIndex, byIndex) {
		t.Fatalf("by index:\n got %v\nwant %v", got.byIndex, byIndex)
	}
	if v.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", v.Len(), len(want))
	}
	for _, w := range want {
		if r, ok := v.Get([]byte(w.key)); !ok || toRec(r) != w {
			t.Fatalf("Get(%q) = %v, %v; want %v", w.key, toRec(r), ok, w)
		}
		if r, ok := v.GetByIndex([]byte(w.index)); !ok || toRec(r) != w {
			t.Fatalf("GetByIndex(%q) = %v, %v; want %v", w.index, toRec(r), ok, w)
		}
	}
}

func mustPut(t *testing.T, x *btreeidx.Index, key, index, value string) {
	t.Helper()
	if _, _, err := x.Put([]byte(key), []byte(index), []byte(value), 1); err != nil {
		t.Fatalf("Put(%q, %q): %v", key, index, err)
	}
}

func noFindings(t *testing.T, v btreeidx.View) {
	t.Helper()
	if f := v.Check(0); len(f) > 0 {
		t.Fatalf("Check: %d findings:\n%s", len(f), strings.Join(f, "\n"))
	}
}

func TestPut_InsertReplace(t *testing.T) {
	x := btreeidx.New()
	old, replaced, err := x.Put([]byte("k1"), []byte("i1"), []byte("v1"), 1)
	if err != nil || replaced || old.Key != nil {
		t.Fatalf("first Put = %v, %v, %v", old, replaced, err)
	}
	// Same index key: the value is replaced, the old record returned.
	old, replaced, err = x.Put([]byte("k1"), []byte("i1"), []byte("v2"), 1)
	if err != nil || !replaced || toRec(old) != (rec{"k1", "i1", "v1"}) {
		t.Fatalf("replace Put = %v, %v, %v", toRec(old), replaced, err)
	}
	sameContents(t, x.View, []rec{{"k1", "i1", "v2"}})

	// Changed index key: the old index key is freed.
	old, replaced, err = x.Put([]byte("k1"), []byte("i2"), []byte("v3"), 1)
	if err != nil || !replaced || toRec(old) != (rec{"k1", "i1", "v2"}) {
		t.Fatalf("re-index Put = %v, %v, %v", toRec(old), replaced, err)
	}
	if r, ok := x.GetByIndex([]byte("i1")); ok {
		t.Fatalf("old index key i1 still leads to %v", toRec(r))
	}
	sameContents(t, x.View, []rec{{"k1", "i2", "v3"}})

	// The freed index key can be taken by another record.
	mustPut(t, x, "k2", "i1", "v4")
	sameContents(t, x.View, []rec{{"k1", "i2", "v3"}, {"k2", "i1", "v4"}})
	noFindings(t, x.View)
}

func TestPut_Conflict(t *testing.T) {
	x := btreeidx.New()
	mustPut(t, x, "k1", "i1", "v1")
	mustPut(t, x, "k2", "i2", "v2")
	want := []rec{{"k1", "i1", "v1"}, {"k2", "i2", "v2"}}
	before := dump(x.View)

	for _, tc := range []struct{ name, key string }{
		{"existing key", "k2"}, // would move k2 from i2 to i1
		{"new key", "k3"},      // would insert a second owner of i1
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, index, value := []byte(tc.key), []byte("i1"), []byte("v9")
			old, replaced, err := x.Put(key, index, value, 1)
			if !errors.Is(err, dberr.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			var ce *dberr.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T is not a *dberr.ConflictError", err)
			}
			if string(ce.Index) != "i1" || string(ce.Key) != tc.key || string(ce.Owner) != "k1" {
				t.Fatalf("ConflictError = %+v", ce)
			}
			if replaced || old.Key != nil || old.Index != nil || old.Value != nil {
				t.Fatalf("conflicting Put returned old = %v, replaced = %v", old, replaced)
			}
			// The error owns its slices.
			key[0], index[0] = 'X', 'X'
			if string(ce.Index) != "i1" || string(ce.Key) != tc.key {
				t.Fatalf("ConflictError aliases the caller's buffers: %+v", ce)
			}
			// Nothing changed in either tree.
			if after := dump(x.View); !slices.Equal(after.byKey, before.byKey) || !slices.Equal(after.byIndex, before.byIndex) {
				t.Fatalf("conflicting Put changed the index:\nbefore %v\nafter  %v", before, after)
			}
			sameContents(t, x.View, want)
		})
	}
	noFindings(t, x.View)
}

func TestDelete(t *testing.T) {
	x := btreeidx.New()
	mustPut(t, x, "k1", "i1", "v1")
	mustPut(t, x, "k2", "i2", "v2")
	if r, ok := x.Delete([]byte("k3")); ok || r.Key != nil {
		t.Fatalf("Delete(absent) = %v, %v", r, ok)
	}
	r, ok := x.Delete([]byte("k1"))
	if !ok || toRec(r) != (rec{"k1", "i1", "v1"}) {
		t.Fatalf("Delete(k1) = %v, %v", toRec(r), ok)
	}
	if _, ok := x.Get([]byte("k1")); ok {
		t.Fatal("k1 still in the primary tree")
	}
	if _, ok := x.GetByIndex([]byte("i1")); ok {
		t.Fatal("i1 still in the secondary tree")
	}
	sameContents(t, x.View, []rec{{"k2", "i2", "v2"}})
	if _, ok := x.Delete([]byte("k1")); ok {
		t.Fatal("second Delete(k1) found a record")
	}
	// The index key is free again.
	mustPut(t, x, "k2", "i1", "v3")
	sameContents(t, x.View, []rec{{"k2", "i1", "v3"}})
	x.Delete([]byte("k2"))
	sameContents(t, x.View, nil)
	noFindings(t, x.View)
}

func TestView_Zero(t *testing.T) {
	var v btreeidx.View
	if v.Len() != 0 {
		t.Fatalf("Len = %d", v.Len())
	}
	if _, ok := v.Get([]byte("a")); ok {
		t.Fatal("Get found a record")
	}
	if _, ok := v.GetByIndex(nil); ok {
		t.Fatal("GetByIndex found a record")
	}
	for name, seq := range map[string]iter.Seq[btreeidx.Record]{
		"Ascend":       v.Ascend(nil, nil),
		"Descend":      v.Descend([]byte("z"), []byte("a")),
		"AscendIndex":  v.AscendIndex([]byte("a"), nil),
		"DescendIndex": v.DescendIndex(nil, []byte("a")),
	} {
		for r := range seq {
			t.Fatalf("%s yielded %v", name, r)
		}
	}
	noFindings(t, v)
	if f := v.CheckSample(rand.New(rand.NewPCG(1, 1)), 10, 10, 0); len(f) > 0 {
		t.Fatalf("CheckSample: %v", f)
	}
	x := btreeidx.Thaw(v)
	mustPut(t, x, "k", "i", "v")
	sameContents(t, x.View, []rec{{"k", "i", "v"}})
	if v.Len() != 0 {
		t.Fatal("Thaw(View{}) changed the zero View")
	}
}

// edgeStrings are keys that stress the 16-byte inline prefix: empty, short,
// trailing zero bytes, shared 16-byte prefixes, 0xff runs, long keys that
// differ only at the end.
func edgeStrings() []string {
	p16 := "0123456789abcdef"
	long := strings.Repeat("L", 1000)
	return []string{
		"", "\x00", "\x00\x00", "a", "a\x00", "a\x00\x00", "a\x01", "ab", "b",
		p16[:15], p16[:15] + "\x00", p16, p16 + "\x00", p16 + "\x00\x00", p16 + "0", p16 + "1",
		p16 + "\xff", p16[:15] + "g", p16[:15] + "e", p16[:15] + "e\x00",
		strings.Repeat("\xff", 8), strings.Repeat("\xff", 16), strings.Repeat("\xff", 17),
		long, long + "\x00", long + "a", long[:999] + "M",
	}
}

func TestPut_EdgeKeys(t *testing.T) {
	keys := edgeStrings()
	indexes := slices.Clone(keys)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(indexes), func(i, j int) { indexes[i], indexes[j] = indexes[j], indexes[i] })

	x := btreeidx.New()
	var want []rec
	for i, k := range keys {
		w := rec{k, indexes[i], fmt.Sprintf("v%d", i)}
		mustPut(t, x, w.key, w.index, w.value)
		want = append(want, w)
	}
	sameContents(t, x.View, want)
	noFindings(t, x.View)

	// Absent probes that share a prefix with present keys.
	for _, probe := range []string{"a\x00\x00\x00", "\x00\x00\x00", "0123456789abcde\x00\x00", "0123456789abcdef\x00\x00\x00", strings.Repeat("\xff", 9), strings.Repeat("L", 999), strings.Repeat("L", 1001)} {
		if r, ok := x.Get([]byte(probe)); ok {
			t.Errorf("Get(%q) found %v", probe, toRec(r))
		}
		if r, ok := x.GetByIndex([]byte(probe)); ok {
			t.Errorf("GetByIndex(%q) found %v", probe, toRec(r))
		}
	}

	// Delete every other key, then the rest, checking each time.
	for i := 0; i < len(want); i += 2 {
		if _, ok := x.Delete([]byte(want[i].key)); !ok {
			t.Fatalf("Delete(%q) found nothing", want[i].key)
		}
	}
	var rest []rec
	for i := 1; i < len(want); i += 2 {
		rest = append(rest, want[i])
	}
	sameContents(t, x.View, rest)
	noFindings(t, x.View)
}

func TestPut_NilIndexIsEmpty(t *testing.T) {
	x := btreeidx.New()
	if _, _, err := x.Put([]byte("k"), nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	for _, probe := range [][]byte{nil, {}} {
		if r, ok := x.GetByIndex(probe); !ok || string(r.Key) != "k" {
			t.Fatalf("GetByIndex(%v) = %v, %v", probe, r, ok)
		}
	}
	if _, _, err := x.Put([]byte("k2"), []byte{}, []byte("v"), 1); !errors.Is(err, dberr.ErrConflict) {
		t.Fatalf("second empty index key: err = %v, want ErrConflict", err)
	}
	if _, _, err := x.Put([]byte("k"), []byte{}, []byte("v"), 1); err != nil {
		t.Fatalf("re-Put with empty index: %v", err)
	}
	sameContents(t, x.View, []rec{{"k", "", "v"}})
}

func TestPut_CopiesArguments(t *testing.T) {
	x := btreeidx.New()
	buf := []byte("key|idx|value")
	key, index, value := buf[0:3], buf[4:7], buf[8:]
	if _, _, err := x.Put(key, index, value, 1); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = '#'
	}
	sameContents(t, x.View, []rec{{"key", "idx", "value"}})
}

// A returned Record's slices are capacity-limited: appending to one never
// writes into the next part of the shared entry.
func TestRecord_AppendDoesNotClobber(t *testing.T) {
	x := btreeidx.New()
	mustPut(t, x, "key", "idx", "value")
	r, _ := x.Get([]byte("key"))
	_ = append(r.Key, "XXX"...)
	_ = append(r.Index, "YYY"...)
	_ = append(r.Value, "ZZZ"...)
	sameContents(t, x.View, []rec{{"key", "idx", "value"}})
	if cap(r.Key) != len(r.Key) || cap(r.Index) != len(r.Index) || cap(r.Value) != len(r.Value) {
		t.Fatalf("caps %d %d %d for lens %d %d %d", cap(r.Key), cap(r.Index), cap(r.Value), len(r.Key), len(r.Index), len(r.Value))
	}
}

func TestPut_ManyThenCheck(t *testing.T) {
	x := btreeidx.New()
	r := rand.New(rand.NewPCG(3, 4))
	var want []rec
	for i, id := range r.Perm(5000) {
		w := rec{fmt.Sprintf("user:%010d", id), fmt.Sprintf("mail:%016x", r.Uint64()), fmt.Sprint(i)}
		mustPut(t, x, w.key, w.index, w.value)
		want = append(want, w)
	}
	sameContents(t, x.View, want)
	noFindings(t, x.View)
}
