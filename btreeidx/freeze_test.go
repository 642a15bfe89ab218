package btreeidx_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
)

// churn applies n random puts (new keys, new values, moved index keys) and
// deletes to x, mirroring them in m (key -> rec).
func churn(t *testing.T, x *btreeidx.Index, m map[string]rec, r *rand.Rand, n int) {
	t.Helper()
	for range n {
		key := fmt.Sprintf("k%05d", r.IntN(3000))
		if r.IntN(4) == 0 {
			_, ok := x.Delete([]byte(key))
			if _, had := m[key]; had != ok {
				t.Fatalf("Delete(%q) = %v, model says %v", key, ok, had)
			}
			delete(m, key)
			continue
		}
		// Index keys derived from the key plus a generation never collide
		// with another key's.
		w := rec{key, fmt.Sprintf("%s/i%d", key, r.IntN(3)), fmt.Sprintf("v%d", r.Uint32())}
		mustPut(t, x, w.key, w.index, w.value)
		m[key] = w
	}
}

func values(m map[string]rec) []rec { return slices.Collect(maps.Values(m)) }

func TestFreeze_UnchangedByLaterWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := btreeidx.New()
	m := map[string]rec{}
	type frozen struct {
		v    btreeidx.View
		want []rec
		dump contents
	}
	var gens []frozen
	for range 5 {
		churn(t, x, m, r, 2000)
		v := x.Freeze()
		gens = append(gens, frozen{v, values(m), dump(v)})
	}
	churn(t, x, m, r, 5000)
	sameContents(t, x.View, values(m))
	for i, g := range gens {
		sameContents(t, g.v, g.want)
		if d := dump(g.v); !slices.Equal(d.byKey, g.dump.byKey) || !slices.Equal(d.byIndex, g.dump.byIndex) {
			t.Fatalf("generation %d changed", i)
		}
		noFindings(t, g.v)
	}
	noFindings(t, x.View)
}

func TestThaw_DoesNotChangeView(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := btreeidx.New()
	m := map[string]rec{}
	churn(t, x, m, r, 3000)
	v := x.Freeze()
	want := values(m)

	// Two heads from v, changed independently, and the original head.
	a, b := btreeidx.Thaw(v), btreeidx.Thaw(v)
	ma, mb := maps.Clone(m), maps.Clone(m)
	churn(t, a, ma, r, 2000)
	churn(t, b, mb, r, 2000)
	churn(t, x, m, r, 2000)
	sameContents(t, v, want)
	sameContents(t, a.View, values(ma))
	sameContents(t, b.View, values(mb))
	sameContents(t, x.View, values(m))

	// Rollback: a Thaw of a View Thawed before still starts from v.
	c := btreeidx.Thaw(v)
	sameContents(t, c.View, want)
	noFindings(t, a.View)
	noFindings(t, b.View)
}

// TestFreeze_ConcurrentReaders has readers check published Views while the
// writer changes its head, freezes and sometimes rolls back, the way the db
// package uses the index. Run with -race.
func TestFreeze_ConcurrentReaders(t *testing.T) {
	type published struct {
		v    btreeidx.View
		want map[string]rec // never modified once published
	}
	var cur atomic.Pointer[published]
	cur.Store(&published{want: map[string]rec{}})

	rounds := 150
	if testing.Short() {
		rounds = 50
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 99))
			for !stop.Load() {
				p := cur.Load()
				if p.v.Len() != len(p.want) {
					errs <- fmt.Sprintf("Len %d, want %d", p.v.Len(), len(p.want))
					return
				}
				for range 50 {
					key := fmt.Sprintf("k%05d", r.IntN(3000))
					got, ok := p.v.Get([]byte(key))
					w, had := p.want[key]
					if ok != had || ok && toRec(got) != w {
						errs <- fmt.Sprintf("Get(%q) = %v, %v; want %v, %v", key, toRec(got), ok, w, had)
						return
					}
					if had {
						if got, ok := p.v.GetByIndex([]byte(w.index)); !ok || toRec(got) != w {
							errs <- fmt.Sprintf("GetByIndex(%q) = %v, %v; want %v", w.index, toRec(got), ok, w)
							return
						}
					}
				}
				if r.IntN(10) == 0 {
					n := 0
					for range p.v.AscendIndex(nil, nil) {
						n++
					}
					if n != len(p.want) {
						errs <- fmt.Sprintf("AscendIndex yielded %d, want %d", n, len(p.want))
						return
					}
				}
			}
		}()
	}

	r := rand.New(rand.NewPCG(11, 12))
	x := btreeidx.New()
	m := map[string]rec{}
	for i := range rounds {
		churn(t, x, m, r, 50)
		if i%7 == 6 {
			// Roll back to the published version, as a failed Update does.
			p := cur.Load()
			x = btreeidx.Thaw(p.v)
			m = maps.Clone(p.want)
			continue
		}
		cur.Store(&published{v: x.Freeze(), want: maps.Clone(m)})
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	noFindings(t, cur.Load().v)
}
