package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
)

// Benchmarks. Compare runs with benchstat:
//
//	go test -run x -bench . -benchtime 2s -count 6 ./db/ > new.txt
//
// The read benchmarks share one store of 1,000,000 gen.Fixed records
// (100-byte values), built once per test binary and removed by TestMain.

const (
	benchSeed  = 42
	benchN     = 1_000_000
	benchValue = 100
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchStore.cleanup()
	os.Exit(code)
}

// benchPutKey returns a fresh record for Put benchmarks: ids from an
// atomic counter, so no two Puts in one process collide.
var benchPutID atomic.Uint64

func benchPutRecord() (key, index, value []byte) {
	return gen.Fixed(benchSeed, 1<<31+benchPutID.Add(1), benchValue)
}

// BenchmarkPut measures commits. feed=1 runs one change-feed consumer
// beside the writers, decoding every change; feed_lag is how many versions
// it was behind when the writers finished (0: it kept up).
func BenchmarkPut(b *testing.B) {
	for _, mode := range []string{"durable", "nosync"} {
		for _, writers := range []int{1, 64} {
			for _, feed := range []bool{false, true} {
				name := fmt.Sprintf("mode=%s/writers=%d/feed=%d", mode, writers, map[bool]int{false: 0, true: 1}[feed])
				b.Run(name, func(b *testing.B) { benchPut(b, mode == "nosync", writers, feed) })
			}
		}
	}
}

func benchPut(b *testing.B, noSync bool, writers int, feed bool) {
	d := openTest(b, &db.Options{NoSync: noSync})
	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Uint64 // the last version the consumer got
	var consumer sync.WaitGroup
	if feed {
		consumer.Go(func() {
			for c, err := range d.Changes(ctx, d.Version()) {
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				seen.Store(c.Version)
			}
		})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := d.Put(benchPutRecord()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	lag := d.Version() - seen.Load()
	cancel()
	consumer.Wait()
	st := d.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(st.Commits)/float64(max(st.GroupCommits, 1)), "commits/group")
	if feed {
		b.ReportMetric(float64(lag), "feed_lag")
	}
}

// sharedStore is the 1M-record store of the read benchmarks.
type sharedStore struct {
	once    sync.Once
	dir     string
	d       *db.DB
	keys    [][]byte // keys[id]
	indexes [][]byte // indexes[id]
	order   []int    // a random order of ids, the same for every lookup benchmark
	err     error

	mapOnce sync.Once
	m       map[string]*benchRec // the plain-map baseline
}

type benchRec struct{ key, index, value []byte }

var benchStore sharedStore

func (s *sharedStore) get(b *testing.B) *db.DB {
	s.once.Do(func() { s.err = s.build() })
	if s.err != nil {
		b.Fatal(s.err)
	}
	return s.d
}

// build loads benchN records with Updates of 10,000 records, NoSync,
// automatic checkpoints off.
func (s *sharedStore) build() error {
	dir, err := os.MkdirTemp("", "dualdb-bench")
	if err != nil {
		return err
	}
	s.dir = dir
	// No automatic checkpoints: a background snapshot of 1M records would
	// compete with the benchmark for the CPU.
	s.d, err = db.Open(filepath.Join(dir, "store"), &db.Options{NoSync: true, CheckpointEvery: -1, CheckpointBytes: -1})
	if err != nil {
		return err
	}
	s.keys = make([][]byte, benchN)
	s.indexes = make([][]byte, benchN)
	const batch = 10_000
	for lo := 0; lo < benchN; lo += batch {
		err := s.d.Update(func(tx *db.Tx) error {
			for id := lo; id < lo+batch; id++ {
				k, ix, v := gen.Fixed(benchSeed, uint64(id), benchValue)
				s.keys[id], s.indexes[id] = k, ix
				if err := tx.Put(k, ix, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.order = rand.New(rand.NewPCG(benchSeed, 1)).Perm(benchN)
	return nil
}

func (s *sharedStore) baseline(b *testing.B) map[string]*benchRec {
	d := s.get(b)
	s.mapOnce.Do(func() {
		s.m = make(map[string]*benchRec, benchN)
		for r := range d.Snapshot().Ascend(nil, nil) {
			s.m[string(r.Key)] = &benchRec{r.Key, r.Index, r.Value}
		}
	})
	return s.m
}

func (s *sharedStore) cleanup() {
	if s.d != nil {
		_ = s.d.Close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

var (
	sinkRec db.Record
	sinkPtr *benchRec
	sinkN   int
)

func BenchmarkGet(b *testing.B) {
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) {
		d := benchStore.get(b)
		keys, order := benchStore.keys, benchStore.order
		i := 0
		for b.Loop() {
			r, err := d.Get(keys[order[i%benchN]])
			if err != nil {
				b.Fatal(err)
			}
			sinkRec = r
			i++
		}
	})
}

func BenchmarkGetByIndex(b *testing.B) {
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) {
		d := benchStore.get(b)
		indexes, order := benchStore.indexes, benchStore.order
		i := 0
		for b.Loop() {
			r, err := d.GetByIndex(indexes[order[i%benchN]])
			if err != nil {
				b.Fatal(err)
			}
			sinkRec = r
			i++
		}
	})
}

// BenchmarkMapGet is the floor: a plain Go map[string]*rec lookup of the
// same keys in the same order, with no versions, no second index, no
// durability.
func BenchmarkMapGet(b *testing.B) {
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) {
		m := benchStore.baseline(b)
		keys, order := benchStore.keys, benchStore.order
		i := 0
		for b.Loop() {
			r, ok := m[string(keys[order[i%benchN]])]
			if !ok {
				b.Fatal("missing")
			}
			sinkPtr = r
			i++
		}
	})
}

// benchScan reports one op per record yielded, restarting the scan at the
// end, and items/s.
func benchScan(b *testing.B, byIndex bool) {
	d := benchStore.get(b)
	s := d.Snapshot()
	seq := s.Ascend
	if byIndex {
		seq = s.AscendIndex
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		for r := range seq(nil, nil) {
			sinkN += len(r.Value)
			n++
			if n == b.N {
				break
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkAscend(b *testing.B) {
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) { benchScan(b, false) })
}

func BenchmarkAscendIndex(b *testing.B) {
	b.Run(fmt.Sprintf("n=%d", benchN), func(b *testing.B) { benchScan(b, true) })
}

// BenchmarkPutDuringScan: Puts (NoSync, on the 1M store) with and without
// full scans running beside them. Readers take no lock, so the difference
// is CPU sharing on a small machine, not blocking; TestScan_DoesNotBlock
// proves the absence of blocking. It runs last: it adds records to the
// shared store.
func BenchmarkPutDuringScan(b *testing.B) {
	for _, scan := range []bool{false, true} {
		b.Run(fmt.Sprintf("n=%d/scan=%v", benchN, scan), func(b *testing.B) {
			d := benchStore.get(b)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var scanned atomic.Int64
			if scan {
				wg.Go(func() {
					for {
						for range d.Snapshot().Ascend(nil, nil) {
							if scanned.Add(1)%1024 == 0 {
								select {
								case <-stop:
									return
								default:
								}
							}
						}
					}
				})
			}
			b.ResetTimer()
			for b.Loop() {
				if err := d.Put(benchPutRecord()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			if scan {
				b.ReportMetric(float64(scanned.Load())/b.Elapsed().Seconds(), "scanned/s")
			}
		})
	}
}
