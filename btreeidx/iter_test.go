package btreeidx_test

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
)

// iterCase names one of the four iterators and how the model orders it.
type iterCase struct {
	name    string
	seq     func(v btreeidx.View, from, to []byte) iter.Seq[btreeidx.Record]
	field   func(r rec) string
	descend bool
}

var iterCases = []iterCase{
	{"Ascend", btreeidx.View.Ascend, func(r rec) string { return r.key }, false},
	{"Descend", btreeidx.View.Descend, func(r rec) string { return r.key }, true},
	{"AscendIndex", btreeidx.View.AscendIndex, func(r rec) string { return r.index }, false},
	{"DescendIndex", btreeidx.View.DescendIndex, func(r rec) string { return r.index }, true},
}

// expectRange is the model of an iterator: from inclusive, to exclusive,
// in the direction of iteration; nil is open.
func expectRange(all []rec, c iterCase, from, to []byte) []rec {
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b rec) int { return strings.Compare(c.field(a), c.field(b)) })
	if c.descend {
		slices.Reverse(sorted)
	}
	var out []rec
	for _, r := range sorted {
		k := c.field(r)
		if c.descend {
			if (from == nil || k <= string(from)) && (to == nil || k > string(to)) {
				out = append(out, r)
			}
		} else if (from == nil || k >= string(from)) && (to == nil || k < string(to)) {
			out = append(out, r)
		}
	}
	return out
}

func collect(seq iter.Seq[btreeidx.Record]) []rec {
	var out []rec
	for r := range seq {
		out = append(out, toRec(r))
	}
	return out
}

func edgeIndex(t *testing.T) (*btreeidx.Index, []rec) {
	keys := edgeStrings()
	indexes := slices.Clone(keys)
	r := rand.New(rand.NewPCG(5, 6))
	r.Shuffle(len(indexes), func(i, j int) { indexes[i], indexes[j] = indexes[j], indexes[i] })
	x := btreeidx.New()
	var all []rec
	for i, k := range keys {
		w := rec{k, indexes[i], fmt.Sprint(i)}
		mustPut(t, x, w.key, w.index, w.value)
		all = append(all, w)
	}
	return x, all
}

// TestIterators_Bounds runs every iterator over every pair of bounds taken
// from nil, the present keys and absent keys next to them.
func TestIterators_Bounds(t *testing.T) {
	x, all := edgeIndex(t)
	v := x.Freeze()
	bounds := [][]byte{nil}
	for _, s := range append(edgeStrings(), "\x00\x00\x00", "a\x00\x00\x00", "0123456789abcdef\x00\x00\x00", "c", strings.Repeat("\xff", 30)) {
		bounds = append(bounds, []byte(s))
	}
	for _, c := range iterCases {
		for _, from := range bounds {
			for _, to := range bounds {
				got := collect(c.seq(v, from, to))
				want := expectRange(all, c, from, to)
				if !slices.Equal(got, want) {
					t.Fatalf("%s(%s, %s):\n got %v\nwant %v", c.name, bound(from), bound(to), got, want)
				}
			}
		}
	}
}

func bound(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

// An empty non-nil bound is the smallest key, not an open end.
func TestIterators_EmptyBoundIsNotOpen(t *testing.T) {
	x := btreeidx.New()
	mustPut(t, x, "", "", "v0")
	mustPut(t, x, "a", "a", "v1")
	if got := collect(x.Ascend(nil, []byte{})); len(got) != 0 {
		t.Fatalf("Ascend(nil, {}) = %v, want nothing", got)
	}
	if got := collect(x.AscendIndex([]byte{}, nil)); len(got) != 2 {
		t.Fatalf("AscendIndex({}, nil) = %v, want both", got)
	}
	if got := collect(x.DescendIndex(nil, []byte{})); len(got) != 1 || got[0].key != "a" {
		t.Fatalf("DescendIndex(nil, {}) = %v, want only a", got)
	}
	if got := collect(x.Descend([]byte{}, nil)); len(got) != 1 || got[0].key != "" {
		t.Fatalf("Descend({}, nil) = %v, want only the empty key", got)
	}
}

func TestIterators_EarlyBreak(t *testing.T) {
	x, _ := edgeIndex(t)
	v := x.Freeze()
	for _, c := range iterCases {
		full := collect(c.seq(v, nil, nil))
		var got []rec
		for r := range c.seq(v, nil, nil) {
			got = append(got, toRec(r))
			if len(got) == 3 {
				break // the range-over-func runtime panics if the iterator goes on
			}
		}
		if !slices.Equal(got, full[:3]) {
			t.Fatalf("%s: got %v, want %v", c.name, got, full[:3])
		}
		// Called directly: yield returning false is the last call.
		calls := 0
		c.seq(v, nil, nil)(func(btreeidx.Record) bool { calls++; return false })
		if calls != 1 {
			t.Fatalf("%s: yield called %d times after returning false", c.name, calls)
		}
		// A Seq can be ranged over more than once.
		seq := c.seq(v, nil, nil)
		if a, b := collect(seq), collect(seq); !slices.Equal(a, b) || !slices.Equal(a, full) {
			t.Fatalf("%s: second pass differs", c.name)
		}
	}
}

// Iterators yield in batches (4, 8, 16, ... up to 64 records): breaking
// at every position around the batch boundaries, with and without bounds,
// yields exactly the model's prefix and calls yield no more after false.
func TestIterators_BatchedBreakAndBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := btreeidx.New()
	var all []rec
	for i := range 400 {
		w := rec{fmt.Sprintf("user:%010d", r.IntN(1e9)), fmt.Sprintf("mail:%016x", r.Uint64()), fmt.Sprint(i)}
		if _, _, err := x.Put([]byte(w.key), []byte(w.index), []byte(w.value), 1); err != nil {
			t.Fatal(err)
		}
		all = append(all, w)
	}
	v := x.Freeze()
	all = dumpRecs(v)
	breaks := []int{1, 2, 3, 4, 5, 11, 12, 13, 27, 28, 29, 60, 61, 124, 125, 126, 188, 189, 190, 399, 400}
	for _, c := range iterCases {
		sorted := expectRange(all, c, nil, nil)
		for _, bounds := range [][2]int{{-1, -1}, {0, -1}, {-1, 399}, {17, 300}, {100, 101}, {5, 5}} {
			var from, to []byte
			if bounds[0] >= 0 {
				from = []byte(c.field(sorted[bounds[0]]))
			}
			if bounds[1] >= 0 {
				to = []byte(c.field(sorted[bounds[1]]))
			}
			want := expectRange(all, c, from, to)
			if got := collect(c.seq(v, from, to)); !slices.Equal(got, want) {
				t.Fatalf("%s [%q, %q): %d records, want %d", c.name, from, to, len(got), len(want))
			}
			for _, k := range breaks {
				var got []rec
				calls := 0
				c.seq(v, from, to)(func(rr btreeidx.Record) bool {
					calls++
					got = append(got, toRec(rr))
					return len(got) < k
				})
				n := min(k, len(want))
				if calls != n || !slices.Equal(got, want[:n]) {
					t.Fatalf("%s [%q, %q) break after %d: %d calls, %d records, want %d", c.name, from, to, k, calls, len(got), n)
				}
			}
		}
	}
}

// dumpRecs returns the records of v in key order.
func dumpRecs(v btreeidx.View) []rec {
	var out []rec
	for r := range v.Ascend(nil, nil) {
		out = append(out, toRec(r))
	}
	return out
}
