package btreeidx_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
)

// randomRecs returns n records with unique keys and unique index keys,
// sorted by key, with edge-case keys mixed in.
func randomRecs(r *rand.Rand, n int) []rec {
	seenK, seenI := map[string]bool{}, map[string]bool{}
	var out []rec
	for _, s := range edgeStrings() {
		seenK[s] = true
		out = append(out, rec{key: s})
	}
	for len(out) < n {
		k := fmt.Sprintf("user:%010d", r.IntN(10*n))
		if !seenK[k] {
			seenK[k] = true
			out = append(out, rec{key: k})
		}
	}
	out = out[:n]
	for i := range out {
		for {
			ix := fmt.Sprintf("mail:%016x", r.Uint64()>>r.IntN(64))
			if !seenI[ix] {
				seenI[ix] = true
				out[i].index = ix
				break
			}
		}
		out[i].value = strings.Repeat("v", r.IntN(40))
	}
	slices.SortFunc(out, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	return out
}

// mustBuild builds an Index from recs (in key order) through a Builder.
func mustBuild(tb testing.TB, recs []rec) *btreeidx.Index {
	tb.Helper()
	b := btreeidx.NewBuilder(len(recs))
	for _, w := range recs {
		if err := b.Add([]byte(w.key), []byte(w.index), []byte(w.value), 1, false); err != nil {
			tb.Fatal(err)
		}
	}
	x, err := b.Finish()
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

func TestBuilder_SameAsPut(t *testing.T) {
	recs := randomRecs(rand.New(rand.NewPCG(1, 1)), 20000)
	built := mustBuild(t, recs)
	put := btreeidx.New()
	for _, i := range rand.New(rand.NewPCG(2, 2)).Perm(len(recs)) {
		mustPut(t, put, recs[i].key, recs[i].index, recs[i].value)
	}
	bd, pd := dump(built.View), dump(put.View)
	if !slices.Equal(bd.byKey, pd.byKey) || !slices.Equal(bd.byIndex, pd.byIndex) {
		t.Fatal("Builder and Put disagree")
	}
	sameContents(t, built.View, recs)
	noFindings(t, built.View)

	// The built Index is an ordinary head: writable, freezable.
	v := built.Freeze()
	mustPut(t, built, "zzz", "new-index", "v")
	built.Delete([]byte(recs[0].key))
	sameContents(t, v, recs)
	noFindings(t, built.View)
}

func TestBuilder_RejectsNonAscending(t *testing.T) {
	b := btreeidx.NewBuilder(0)
	add := func(k, ix string) error { return b.Add([]byte(k), []byte(ix), nil, 1, false) }
	if err := add("b", "1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a", "", "a\xff\xff"} {
		if err := add(k, "x"+k); err == nil {
			t.Fatalf("Add(%q) after \"b\" accepted", k)
		}
	}
	if err := add("b\x00", "2"); err != nil {
		t.Fatalf("Add(b\\x00) after b: %v", err)
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	// Rejected records left no trace.
	sameContents(t, x.View, []rec{{"b", "1", ""}, {"b\x00", "2", ""}})
}

func TestBuilder_DuplicateIndexFails(t *testing.T) {
	b := btreeidx.NewBuilder(3)
	for _, w := range []rec{{"a", "same", ""}, {"b", "other", ""}, {"c", "same", ""}} {
		if err := b.Add([]byte(w.key), []byte(w.index), nil, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	x, err := b.Finish()
	if err == nil || x != nil {
		t.Fatalf("Finish = %v, %v; want an error", x, err)
	}
	if !strings.Contains(err.Error(), `"same"`) {
		t.Fatalf("error %q does not name the index key", err)
	}
}

func TestBuilder_Empty(t *testing.T) {
	x, err := btreeidx.NewBuilder(0).Finish()
	if err != nil {
		t.Fatal(err)
	}
	sameContents(t, x.View, nil)
	mustPut(t, x, "k", "i", "v")
	sameContents(t, x.View, []rec{{"k", "i", "v"}})
}

func TestBuilder_CopiesUnowned(t *testing.T) {
	b := btreeidx.NewBuilder(2)
	buf := []byte("k1i1v1")
	if err := b.Add(buf[0:2], buf[2:4], buf[4:6], 1, false); err != nil {
		t.Fatal(err)
	}
	copy(buf, "######")
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	sameContents(t, x.View, []rec{{"k1", "i1", "v1"}})
}

// Owned slices that are not back to back still give the right records.
// Each record is in one allocation, as Add's owned contract requires, but
// with gaps between its parts, so the Builder must copy.
func TestBuilder_OwnedNotAdjacent(t *testing.T) {
	recs := randomRecs(rand.New(rand.NewPCG(3, 3)), 500)
	b := btreeidx.NewBuilder(len(recs))
	for i, w := range recs {
		gap := 1 + i%7
		buf := make([]byte, len(w.key)+len(w.index)+len(w.value)+2*gap)
		key := buf[:copy(buf, w.key)]
		rest := buf[len(key)+gap:]
		index := rest[:copy(rest, w.index)]
		rest = rest[len(index)+gap:]
		value := rest[:copy(rest, w.value)]
		if err := b.Add(key, index, value, 1, true); err != nil {
			t.Fatal(err)
		}
	}
	x, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	sameContents(t, x.View, recs)
	noFindings(t, x.View)
}

// The Builder inserts in two interleaved passes to fill its nodes: every
// size around the node boundaries (a leaf holds up to 63 items) gives the
// records, all of them, in both orders, and a tree that takes writes.
func TestBuilder_FillSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 2, 3, 31, 32, 62, 63, 64, 65, 126, 127, 128, 129, 2015, 2016, 2017, 4031, 4032, 4033, 4097, 9000} {
		recs := randomRecs(r, n)
		x := mustBuild(t, recs)
		if x.Len() != n {
			t.Fatalf("n=%d: built %d records", n, x.Len())
		}
		sameContents(t, x.View, recs)
		noFindings(t, x.View)
		// Inserts into the full leaves split them correctly.
		for i := range 200 {
			mustPut(t, x, fmt.Sprintf("%s+%d", recs[r.IntN(n)].key, i), fmt.Sprintf("new-index-%d", i), "v")
		}
		noFindings(t, x.View)
		if x.Len() != n+200 {
			t.Fatalf("n=%d: %d records after 200 new ones", n, x.Len())
		}
	}
}

// Above the size from which Finish sorts the secondary items in two halves
// and merges them, an index key carried twice is found wherever the two
// carriers are: both in the first half, both in the second, one in each
// (short keys, compared inline, and long ones, compared in memory).
func TestBuilder_DuplicateIndexFailsLarge(t *testing.T) {
	const n = 9000
	for _, c := range []struct {
		name string
		a, b int
	}{{"first half", 10, 20}, {"second half", 6000, 8000}, {"across", 100, 8999}, {"adjacent", 4499, 4500}} {
		for _, long := range []bool{false, true} {
			dup := "dup"
			if long {
				dup = strings.Repeat("long-index-key-", 4)
			}
			b := btreeidx.NewBuilder(n)
			for i := range n {
				ix := fmt.Sprintf("ix%08d", (i*7919)%n)
				if i == c.a || i == c.b {
					ix = dup
				}
				if err := b.Add(fmt.Appendf(nil, "k%08d", i), []byte(ix), nil, 1, false); err != nil {
					t.Fatal(err)
				}
			}
			x, err := b.Finish()
			if err == nil || x != nil {
				t.Fatalf("%s, long=%v: Finish = %v, %v; want an error", c.name, long, x, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", dup)) {
				t.Fatalf("%s, long=%v: error %q does not name the index key", c.name, long, err)
			}
		}
	}
}
