package btreeidx_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
	"github.com/dualdb/dualdb/internal/gen"
)

// Compare runs with benchstat, e.g.
//
//	go test -run '^$' -bench 'Get' -count 10 ./btreeidx > new.txt
//
// BenchmarkMapGet is the baseline: the same keys in a Go map.

const benchSeed = 1

var benchSizes = []int{10000, 1000000}

// benchData is n records of gen.Fixed(benchSeed, id, 100) in key order,
// lookup keys in random order (separate allocations from the stored
// ones), the records bulk-loaded into an Index, and maps for the baseline.
type benchData struct {
	n                   int
	keys, index, values [][]byte // by id, which is key order
	lookKey, lookIndex  [][]byte // random order, own copies

	buildOnce sync.Once
	view      btreeidx.View

	randomOnce sync.Once
	randomView btreeidx.View

	mapOnce      sync.Once
	byKey, byIdx map[string]*benchRec
}

type benchRec struct{ key, index, value []byte }

var (
	benchMu    sync.Mutex
	benchCache = map[int]*benchData{}
)

func getBenchData(b *testing.B, n int) *benchData {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if d := benchCache[n]; d != nil {
		return d
	}
	d := &benchData{n: n, keys: make([][]byte, n), index: make([][]byte, n), values: make([][]byte, n)}
	for id := range n {
		d.keys[id], d.index[id], d.values[id] = gen.Fixed(benchSeed, uint64(id), 100)
	}
	perm := rand.New(rand.NewPCG(benchSeed, 2)).Perm(n)
	for _, id := range perm {
		d.lookKey = append(d.lookKey, append([]byte(nil), d.keys[id]...))
		d.lookIndex = append(d.lookIndex, append([]byte(nil), d.index[id]...))
	}
	benchCache[n] = d
	return d
}

// built returns the records bulk-loaded by a Builder, as db.Open loads a
// snapshot.
func (d *benchData) built(b *testing.B) btreeidx.View {
	d.buildOnce.Do(func() {
		bl := btreeidx.NewBuilder(d.n)
		for id := range d.n {
			if err := bl.Add(d.keys[id], d.index[id], d.values[id], 1, false); err != nil {
				b.Fatal(err)
			}
		}
		x, err := bl.Finish()
		if err != nil {
			b.Fatal(err)
		}
		d.view = x.Freeze()
	})
	return d.view
}

// random returns the records Put one at a time in random order, as a
// load of a new store through commits leaves them: each record's memory
// lies where the allocator put it at the time, not in key order.
func (d *benchData) random(b *testing.B) btreeidx.View {
	d.randomOnce.Do(func() {
		x := btreeidx.New()
		for j := range d.n {
			if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[j], uint64(j/1000+1)); err != nil {
				b.Fatal(err)
			}
		}
		d.randomView = x.Freeze()
	})
	return d.randomView
}

func (d *benchData) maps() (byKey, byIdx map[string]*benchRec) {
	d.mapOnce.Do(func() {
		d.byKey = make(map[string]*benchRec, d.n)
		d.byIdx = make(map[string]*benchRec, d.n)
		for id := range d.n {
			r := &benchRec{d.keys[id], d.index[id], d.values[id]}
			d.byKey[string(r.key)] = r
			d.byIdx[string(r.index)] = r
		}
	})
	return d.byKey, d.byIdx
}

func sizes(b *testing.B, f func(b *testing.B, d *benchData)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { f(b, getBenchData(b, n)) })
	}
}

func BenchmarkGet(b *testing.B) {
	sizes(b, func(b *testing.B, d *benchData) {
		v := d.built(b)
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			if _, ok := v.Get(d.lookKey[i%d.n]); !ok {
				b.Fatal("missing")
			}
		}
	})
}

func BenchmarkGetByIndex(b *testing.B) {
	sizes(b, func(b *testing.B, d *benchData) {
		v := d.built(b)
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			if _, ok := v.GetByIndex(d.lookIndex[i%d.n]); !ok {
				b.Fatal("missing")
			}
		}
	})
}

// BenchmarkMapGet is the baseline for BenchmarkGet: a map by key.
func BenchmarkMapGet(b *testing.B) {
	sizes(b, func(b *testing.B, d *benchData) {
		m, _ := d.maps()
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			if m[string(d.lookKey[i%d.n])] == nil {
				b.Fatal("missing")
			}
		}
	})
}

// BenchmarkMapGetByIndex is the baseline for BenchmarkGetByIndex: a map
// by index key (keys 21 bytes long instead of 15).
func BenchmarkMapGetByIndex(b *testing.B) {
	sizes(b, func(b *testing.B, d *benchData) {
		_, m := d.maps()
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			if m[string(d.lookIndex[i%d.n])] == nil {
				b.Fatal("missing")
			}
		}
	})
}

func BenchmarkPut(b *testing.B) {
	// Inserts of new records in random order into a growing index.
	b.Run("op=insert", func(b *testing.B) {
		d := getBenchData(b, 1000000)
		x := btreeidx.New()
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			j := i % d.n
			if j == 0 && i > 0 {
				b.StopTimer()
				x = btreeidx.New()
				b.StartTimer()
			}
			if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[j], 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	// New values for existing records of a 1M index; the first write to a
	// node copies it (the head was Thawed from a View).
	b.Run("op=replace/n=1000000", func(b *testing.B) {
		d := getBenchData(b, 1000000)
		x := btreeidx.Thaw(d.built(b))
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			j := i % d.n
			if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[(j+1)%d.n], 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	// One Put per frozen version, as one db commit of one record: every
	// Put copies the nodes on its path in both trees.
	b.Run("op=replace-freeze/n=1000000", func(b *testing.B) {
		d := getBenchData(b, 1000000)
		x := btreeidx.Thaw(d.built(b))
		b.ReportAllocs()
		defer measureCPU(b)()
		for i := 0; b.Loop(); i++ {
			j := i % d.n
			if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[(j+1)%d.n], 1); err != nil {
				b.Fatal(err)
			}
			x.Freeze()
		}
	})
}

func BenchmarkBuilder(b *testing.B) {
	const n = 1000000
	d := getBenchData(b, n)
	report := func(b *testing.B) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run(fmt.Sprintf("n=%d/owned=false", n), func(b *testing.B) {
		b.ReportAllocs()
		defer measureCPU(b)()
		for b.Loop() {
			bl := btreeidx.NewBuilder(n)
			for id := range n {
				if err := bl.Add(d.keys[id], d.index[id], d.values[id], 1, false); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := bl.Finish(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	// Records written into the memory Builder.Alloc gives, as the
	// snapshot reader does in Open.
	b.Run(fmt.Sprintf("n=%d/via=alloc", n), func(b *testing.B) {
		b.ReportAllocs()
		defer measureCPU(b)()
		for b.Loop() {
			bl := btreeidx.NewBuilder(n)
			for id := range n {
				k, ix, v := d.keys[id], d.index[id], d.values[id]
				buf := bl.Alloc(1, len(k), len(ix), len(v))
				copy(buf, k)
				copy(buf[len(k):], ix)
				copy(buf[len(k)+len(ix):], v)
				if err := bl.Add(buf[:len(k)], buf[len(k):len(k)+len(ix)], buf[len(k)+len(ix):], 1, true); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := bl.Finish(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	// The alternative the Builder replaces: Put in random order.
	b.Run(fmt.Sprintf("n=%d/via=put-random", n), func(b *testing.B) {
		b.ReportAllocs()
		defer measureCPU(b)()
		for b.Loop() {
			x := btreeidx.New()
			for j := range n {
				if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[j], 1); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b)
	})
}

func benchScan(b *testing.B, scan func(v btreeidx.View) int) {
	sizes(b, func(b *testing.B, d *benchData) {
		for _, load := range []struct {
			name string
			view func(*testing.B) btreeidx.View
		}{{"builder", d.built}, {"random", d.random}} {
			b.Run("load="+load.name, func(b *testing.B) {
				v := load.view(b)
				b.ReportAllocs()
				defer measureCPU(b)()
				for b.Loop() {
					if got := scan(v); got != d.n {
						b.Fatalf("scanned %d of %d", got, d.n)
					}
				}
				b.ReportMetric(float64(d.n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
			})
		}
	})
}

func BenchmarkAscend(b *testing.B) {
	benchScan(b, func(v btreeidx.View) int {
		n := 0
		for r := range v.Ascend(nil, nil) {
			n += len(r.Key) >> 31 // touch the record
			n += int(r.Value[len(r.Value)-1]) >> 8
			n++
		}
		return n
	})
}

func BenchmarkAscendIndex(b *testing.B) {
	benchScan(b, func(v btreeidx.View) int {
		n := 0
		for r := range v.AscendIndex(nil, nil) {
			n += len(r.Index) >> 31
			n += int(r.Value[len(r.Value)-1]) >> 8
			n++
		}
		return n
	})
}

// BenchmarkHeap reports the heap a 1M-record index keeps, in bytes per
// record, after a load in random key order through Put and after a bulk
// load through a Builder (as Open loads a snapshot, which hands over
// memory it owns, one allocation per record).
func BenchmarkHeap(b *testing.B) {
	const n = 1000000
	d := getBenchData(b, n)
	heapNow := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	measure := func(b *testing.B, load func() btreeidx.View) {
		var perRec float64
		for b.Loop() {
			b.StopTimer()
			before := heapNow()
			b.StartTimer()
			v := load()
			b.StopTimer()
			perRec = float64(heapNow()-before) / float64(n)
			runtime.KeepAlive(v)
			b.StartTimer()
		}
		b.ReportMetric(perRec, "heapB/record")
	}
	b.Run("load=random", func(b *testing.B) {
		measure(b, func() btreeidx.View {
			x := btreeidx.New()
			for j := range n {
				if _, _, err := x.Put(d.lookKey[j], d.lookIndex[j], d.values[j], uint64(j/1000+1)); err != nil {
					b.Fatal(err)
				}
			}
			return x.Freeze()
		})
	})
	b.Run("load=builder", func(b *testing.B) {
		measure(b, func() btreeidx.View {
			bl := btreeidx.NewBuilder(n)
			for id := range n {
				k, ix, v := d.keys[id], d.index[id], d.values[id]
				buf := bl.Alloc(uint64(id/1000+1), len(k), len(ix), len(v))
				copy(buf, k)
				copy(buf[len(k):], ix)
				copy(buf[len(k)+len(ix):], v)
				if err := bl.Add(buf[:len(k)], buf[len(k):len(k)+len(ix)], buf[len(k)+len(ix):], uint64(id/1000+1), true); err != nil {
					b.Fatal(err)
				}
			}
			x, err := bl.Finish()
			if err != nil {
				b.Fatal(err)
			}
			return x.Freeze()
		})
	})
}

// BenchmarkPutAll loads 1M records in random key order, 1000 records per
// PutAll, as a bulk load through the db does.
func BenchmarkPutAll(b *testing.B) {
	const n, batch = 1000000, 1000
	d := getBenchData(b, n)
	recs := make([]btreeidx.Record, n)
	for j := range n {
		recs[j] = btreeidx.Record{Key: d.lookKey[j], Index: d.lookIndex[j], Value: d.values[j]}
	}
	b.Run(fmt.Sprintf("n=%d/batch=%d", n, batch), func(b *testing.B) {
		b.ReportAllocs()
		defer measureCPU(b)()
		for b.Loop() {
			x := btreeidx.New()
			for j := 0; j < n; j += batch {
				if _, _, err := x.PutAll(recs[j:j+batch], uint64(j/batch+1)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
