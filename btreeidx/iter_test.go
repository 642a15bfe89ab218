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
