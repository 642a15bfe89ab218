package btreeidx

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/btree"

	"github.com/dualdb/dualdb/internal/testtier"
)

// healthy returns an Index of n records "k%05d" -> "i%05d" (index keys in
// another order than keys) and its entries in key order.
func healthy(t *testing.T, n int) (*Index, []*entry) {
	t.Helper()
	x := New()
	for i := range n {
		if _, _, err := x.Put(fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "i%05d", (i*7919)%n), fmt.Appendf(nil, "v%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	var es []*entry
	x.pri.Ascend(func(it item) bool { es = append(es, it.e); return true })
	if f := x.Check(0); len(f) > 0 {
		t.Fatalf("healthy index has findings: %v", f)
	}
	return x, es
}

// itemWithPrefix is a tree item whose inline prefix is that of p while its
// entry is e: the kind of damage a bug in Put or Builder could cause.
func itemWithPrefix(p []byte, e *entry) item {
	p0, p1 := prefixOf(p)
	return item{p0: p0, p1: p1, e: e}
}

// repoint makes the item of t that holds e point at to instead, keeping
// its place and prefix: a tree item with the wrong entry.
func repoint(t *btree.BTreeG[item], old item, to *entry) {
	n := t.Len()
	if _, ok := t.Delete(old); !ok {
		panic("repoint: item not found")
	}
	t.ReplaceOrInsert(item{p0: old.p0, p1: old.p1, e: to})
	if t.Len() != n {
		panic("repoint changed the number of items")
	}
}

// reversed copies the items of t into a tree ordered the other way.
func reversed(t *btree.BTreeG[item], less func(a, b item) bool) *btree.BTreeG[item] {
	out := btree.NewG(Degree, func(a, b item) bool { return less(b, a) })
	t.Ascend(func(it item) bool { out.ReplaceOrInsert(it); return true })
	return out
}

// TestCheck_FindsDamage breaks a View in one way each and requires Check
// to report every kind of violation the damage causes.
func TestCheck_FindsDamage(t *testing.T) {
	const n = 500
	for _, tc := range []struct {
		name  string
		kinds []string // finding prefixes that must appear
		// damage breaks x; es are x's entries in key order.
		damage func(x *Index, es []*entry) View
	}{{
		name:  "record only in the secondary tree",
		kinds: []string{"count:", "bijection:"},
		damage: func(x *Index, es []*entry) View {
			x.sec.ReplaceOrInsert(indexItem(newEntry([]byte("ghost"), []byte("ghost-index"), nil, 1)))
			return x.View
		},
	}, {
		name:  "record only in the primary tree",
		kinds: []string{"count:", "bijection:"},
		damage: func(x *Index, es []*entry) View {
			x.pri.ReplaceOrInsert(keyItem(newEntry([]byte("ghost"), []byte("ghost-index"), nil, 1)))
			return x.View
		},
	}, {
		name:  "deleted from the primary tree only",
		kinds: []string{"count:", "bijection:"},
		damage: func(x *Index, es []*entry) View {
			x.pri.Delete(keyItem(es[n/2]))
			return x.View
		},
	}, {
		name:  "deleted from the secondary tree only",
		kinds: []string{"count:", "bijection:"},
		damage: func(x *Index, es []*entry) View {
			x.sec.Delete(indexItem(es[n/3]))
			return x.View
		},
	}, {
		name:  "secondary item points at a record carrying another index key",
		kinds: []string{"bijection:"},
		damage: func(x *Index, es []*entry) View {
			a, b := es[10], es[400]
			repoint(x.sec, indexItem(a), b) // a's index key now leads to b
			return x.View
		},
	}, {
		name:  "secondary item points at a stale copy of the record",
		kinds: []string{"bijection:"},
		damage: func(x *Index, es []*entry) View {
			e := es[77]
			x.sec.ReplaceOrInsert(indexItem(newEntry(e.key(), e.index(), []byte("stale value"), 1)))
			return x.View
		},
	}, {
		name:  "primary tree ordered by a wrong less func",
		kinds: []string{"order: key"},
		damage: func(x *Index, es []*entry) View {
			return View{pri: reversed(x.pri, lessByKey), sec: x.sec}
		},
	}, {
		name:  "secondary tree ordered by a wrong less func",
		kinds: []string{"order: index key"},
		damage: func(x *Index, es []*entry) View {
			return View{pri: x.pri, sec: reversed(x.sec, lessByIndex)}
		},
	}, {
		name:  "primary item with a forged prefix sits out of order",
		kinds: []string{"order: key", "bijection:"},
		damage: func(x *Index, es []*entry) View {
			e := es[n-1] // the largest key, moved to the front
			x.pri.Delete(keyItem(e))
			x.pri.ReplaceOrInsert(itemWithPrefix([]byte("a"), e))
			return x.View
		},
	}, {
		name:  "two primary items swapped their entries",
		kinds: []string{"order: key"},
		damage: func(x *Index, es []*entry) View {
			a, b := es[100], es[101]
			repoint(x.pri, keyItem(a), b)
			repoint(x.pri, keyItem(b), a)
			return x.View
		},
	}, {
		name:  "two secondary items swapped their entries",
		kinds: []string{"order: index key"},
		damage: func(x *Index, es []*entry) View {
			var items []item
			x.sec.Ascend(func(it item) bool { items = append(items, it); return len(items) < 3 })
			a, b := items[1].e, items[2].e
			repoint(x.sec, indexItem(a), b)
			repoint(x.sec, indexItem(b), a)
			return x.View
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			x, es := healthy(t, n)
			v := tc.damage(x, es)
			findings := v.Check(0)
			for _, kind := range tc.kinds {
				if !hasKind(findings, kind) {
					t.Errorf("no %q finding among %d:\n%s", kind, len(findings), strings.Join(findings, "\n"))
				}
			}
			if len(findings) > 0 {
				t.Logf("%d findings, first: %s", len(findings), findings[0])
			}
		})
	}
}

func hasKind(findings []string, kind string) bool {
	for _, f := range findings {
		if strings.HasPrefix(f, kind) {
			return true
		}
	}
	return false
}

func TestCheck_Limit(t *testing.T) {
	x, _ := healthy(t, 300)
	x.pri = reversed(x.pri, lessByKey) // about 300 order findings
	if got := len(x.Check(0)); got < 100 {
		t.Fatalf("Check(0) = %d findings, want many", got)
	}
	for _, limit := range []int{1, 3, 10} {
		if got := len(x.Check(limit)); got != limit {
			t.Fatalf("Check(%d) = %d findings", limit, got)
		}
		if got := len(x.CheckSample(rand.New(rand.NewPCG(1, 1)), 100, 50, limit)); got != limit {
			t.Fatalf("CheckSample(limit %d) = %d findings", limit, got)
		}
	}
}

// uniformKey is a 16-byte random key: its prefix covers the whole key
// range evenly, so CheckSample's windows start evenly across the records.
func uniformKey(r *rand.Rand, tag byte) []byte {
	b := make([]byte, 17)
	binary.BigEndian.PutUint64(b, r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	b[16] = tag
	return b
}

// TestCheckSample_FindsPlantedDamage plants one violation that keeps the
// counts equal in a large index (10,000 records in the fast tier, 30,000
// in the long tier) and requires CheckSample, given enough windows, to
// find it.
func TestCheckSample_FindsPlantedDamage(t *testing.T) {
	n := testtier.Pick(10000, 30000)
	const width = 50
	ranges := 5 * n / width // each record in 5 windows per tree, in expectation
	r := rand.New(rand.NewPCG(31, 32))
	x := New()
	var es []*entry
	for range n {
		old, replaced, err := x.Put(uniformKey(r, 'k'), uniformKey(r, 'i'), []byte("v"), 1)
		if err != nil || replaced {
			t.Fatal(old, err)
		}
	}
	x.pri.Ascend(func(it item) bool { es = append(es, it.e); return true })
	if f := x.CheckSample(rand.New(rand.NewPCG(1, 1)), ranges, width, 0); len(f) > 0 {
		t.Fatalf("healthy: %v", f)
	}
	healthyView := x.Freeze()
	for i, damage := range []func(d *Index){
		func(d *Index) { // an index key leads to the wrong record
			a, b := es[n/3], es[2*n/3]
			repoint(d.sec, indexItem(a), b)
		},
		func(d *Index) { // two neighbours swapped in the primary tree
			a, b := es[n/2], es[n/2+1]
			repoint(d.pri, keyItem(a), b)
			repoint(d.pri, keyItem(b), a)
		},
	} {
		d := Thaw(healthyView) // damage a copy
		damage(d)
		f := d.CheckSample(rand.New(rand.NewPCG(uint64(i), 2)), ranges, width, 0)
		if len(f) == 0 {
			t.Fatalf("damage %d: CheckSample with %d windows of %d found nothing", i, ranges, width)
		}
		t.Logf("damage %d: %d findings, first: %s", i, len(f), f[0])
	}
	if f := healthyView.Check(0); len(f) > 0 {
		t.Fatalf("damaging a Thawed copy changed the View: %v", f)
	}
}

// CheckSample drew r.Uint64N(hi-lo+1), which panics when the prefixes of
// the smallest and largest key span the whole uint64 range.
func TestCheckSample_FullPrefixRange(t *testing.T) {
	for _, keys := range [][2]string{
		{"", "\xff\xff\xff\xff\xff\xff\xff\xff"},                 // first word 0 .. max
		{"AAAAAAAA", "AAAAAAAA\xff\xff\xff\xff\xff\xff\xff\xff"}, // second word 0 .. max
	} {
		x := New()
		for i, k := range keys {
			if _, _, err := x.Put([]byte(k), []byte(k), []byte{byte(i)}, 1); err != nil {
				t.Fatal(err)
			}
		}
		if f := x.CheckSample(rand.New(rand.NewPCG(1, 2)), 100, 2, 0); len(f) > 0 {
			t.Fatalf("%q: %v", keys, f)
		}
	}
}

// Rolling windows cover every record in turn, also for decimal keys with
// long shared prefixes, where random windows bunch up: damage planted
// anywhere is found within ceil(n/width)+1 windows, and a healthy index
// gives nothing over a full round.
func TestCheckWindow_RollingCoversDecimalKeys(t *testing.T) {
	const n, width = 20000, 700
	x := New()
	for i := range n {
		k := fmt.Appendf(nil, "user:%010d", i)
		ix := fmt.Appendf(nil, "mail:%016x", uint64(i)*0x9E3779B97F4A7C15)
		if _, _, err := x.Put(k, ix, []byte("v"), 1); err != nil {
			t.Fatal(err)
		}
	}
	var es []*entry
	x.pri.Ascend(func(it item) bool { es = append(es, it.e); return true })
	view := x.Freeze()
	rounds := (n+width-1)/width + 1
	var nk, ni []byte
	for i := 0; i < rounds; i++ {
		var f []string
		f, nk, ni = view.CheckWindow(nk, ni, width, 0)
		if len(f) > 0 {
			t.Fatalf("healthy window %d: %v", i, f)
		}
	}
	for _, at := range []int{0, n / 3, n - 1} {
		d := Thaw(view)
		repoint(d.sec, indexItem(es[at]), es[(at+1)%n]) // index key of es[at] leads elsewhere
		found := false
		nk, ni = nil, nil
		for i := 0; i < rounds && !found; i++ {
			var f []string
			f, nk, ni = d.CheckWindow(nk, ni, width, 0)
			found = len(f) > 0
		}
		if !found {
			t.Fatalf("damage at record %d not found in %d rolling windows", at, rounds)
		}
	}
}
