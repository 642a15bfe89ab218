package main

import (
	"flag"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// Go benchmarks over the same adapters and operations, for benchstat:
//
//	go test -run '^$' -bench . -count 6 | tee new.txt
//	benchstat -col /engine new.txt
//
// Names are BenchmarkEngines/engine=NAME/workload=NAME. Stores live in
// b.TempDir() (os.TempDir(), which must not be tmpfs for the durable ones).
var (
	benchN       = flag.Int("bench.n", 50_000, "records loaded for the read benchmarks")
	benchEngines = flag.String("bench.engines", "", "comma-separated engines (default all)")
)

func BenchmarkEngines(b *testing.B) {
	for _, e := range allEngines() {
		if *benchEngines != "" && !strings.Contains(","+*benchEngines+",", ","+e.Name+",") {
			continue
		}
		b.Run("engine="+e.Name, func(b *testing.B) { benchEngine(b, e) })
	}
}

func benchEngine(b *testing.B, e Engine) {
	const seed = 1
	if e.Persistent && fsType(os.TempDir()) == "tmpfs" {
		b.Skip("os.TempDir() is tmpfs: fsync does nothing there")
	}
	var fresh atomic.Uint64 // ids for new records, disjoint from the loaded ones
	newRecords := func(k int) []Record {
		recs := make([]Record, k)
		for i := range recs {
			recs[i] = genRecord(seed, 1<<40+fresh.Add(1), profileFixed)
		}
		return recs
	}
	openFresh := func(b *testing.B, durable bool) Store {
		s, err := e.Open(b.TempDir(), durable)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}

	b.Run("workload=put-serial", func(b *testing.B) {
		if !e.Durable {
			b.Skip("no durable mode")
		}
		s := openFresh(b, true)
		for b.Loop() {
			if err := s.Put(newRecords(1)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("workload=put-64writers", func(b *testing.B) {
		if !e.Durable {
			b.Skip("no durable mode")
		}
		s := openFresh(b, true)
		put := s.Put
		if cp, ok := s.(ConcurrentPutter); ok {
			put = cp.PutConcurrent
		}
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := put(newRecords(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("workload=load-batch1000", func(b *testing.B) {
		s := openFresh(b, e.Durable)
		for b.Loop() {
			b.StopTimer()
			recs := newRecords(1000)
			b.StartTimer()
			if err := s.Put(recs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rec/s")
	})

	// The read benchmarks share one store of -bench.n records.
	dir := b.TempDir()
	s, err := e.Open(dir, e.Durable)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close() }()
	if _, _, err := loadStore(s, seed, insertOrder(seed, *benchN), 1000, profileFixed); err != nil {
		b.Fatal(err)
	}
	lt := newLookupTable(seed, *benchN)
	for _, w := range []struct {
		name    string
		byIndex bool
	}{{"get-key", false}, {"get-index", true}} {
		b.Run("workload="+w.name, func(b *testing.B) {
			var g atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(g.Add(1), 2))
				for pb.Next() {
					if err := lt.getOne(s, rng.IntN(*benchN), w.byIndex); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	for _, w := range []struct {
		name    string
		byIndex bool
	}{{"scan-key", false}, {"scan-index", true}} {
		b.Run("workload="+w.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := scanCheck(s, w.byIndex, *benchN); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(*benchN)/b.Elapsed().Seconds(), "items/s")
		})
	}
	b.Run("workload=reopen", func(b *testing.B) {
		if !e.Persistent {
			b.Skip("memory only")
		}
		for b.Loop() {
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = e.Open(dir, e.Durable); err != nil {
				b.Fatal(err)
			}
			if err := lt.getOne(s, 0, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
