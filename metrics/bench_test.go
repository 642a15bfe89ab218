package metrics_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/metrics"
)

// The overhead of the Collector on the commit, lookup and scan paths:
// each benchmark runs with observer=none and observer=prometheus, and
// benchstat (or the table of docs/observability.md) compares the two. Commits use
// NoSync so that fsync does not hide CPU cost.
//
//	go test -run '^$' -bench . -count 6 ./metrics/ | tee new.txt
//	benchstat -col /observer new.txt

var observers = []struct {
	name string
	obs  func(b *testing.B) db.Observer
}{
	{"none", func(*testing.B) db.Observer { return nil }},
	{"prometheus", func(b *testing.B) db.Observer {
		m, err := metrics.New(prometheus.NewRegistry(), nil)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}},
}

func openBench(b *testing.B, obs db.Observer, n int) *db.DB {
	b.Helper()
	d, err := db.Open(filepath.Join(b.TempDir(), "store"), &db.Options{NoSync: true, CheckpointEvery: -1, Observer: obs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	for lo := 0; lo < n; lo += 1000 {
		err := d.Update(func(tx *db.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				if err := tx.Put(benchKey(i), benchIndex(i), make([]byte, 100)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}

func benchKey(i int) []byte   { return fmt.Appendf(nil, "user:%010d", i) }
func benchIndex(i int) []byte { return fmt.Appendf(nil, "u%d@example.com", i) }

func BenchmarkPut(b *testing.B) {
	for _, o := range observers {
		b.Run("observer="+o.name, func(b *testing.B) {
			d := openBench(b, o.obs(b), 0)
			val := make([]byte, 100)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := d.Put(benchKey(i%10000), benchIndex(i%10000), val); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const n = 10000
	for _, o := range observers {
		b.Run("observer="+o.name, func(b *testing.B) {
			d := openBench(b, o.obs(b), n)
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = benchKey(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := d.Get(keys[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkScan walks 10 records by index key: the shortest scans pay
// the Collector's fixed cost per traversal most visibly.
func BenchmarkScan(b *testing.B) {
	const n = 10000
	for _, o := range observers {
		b.Run("observer="+o.name+"/items=10", func(b *testing.B) {
			d := openBench(b, o.obs(b), n)
			froms := make([][]byte, n)
			for i := range froms {
				froms[i] = benchIndex(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s := d.Snapshot()
				got := 0
				for range s.AscendIndex(froms[i%n], nil) {
					got++
					if got == 10 {
						break
					}
				}
				i++
			}
		})
	}
}

// BenchmarkObserver is the Collector's own cost per event.
func BenchmarkObserver(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("event=commit", func(b *testing.B) {
		ev := db.CommitEvent{Version: 1, Ops: 1, Latency: 20000}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Commit(ev)
			}
		})
	})
	b.Run("event=scan", func(b *testing.B) {
		ev := db.ScanEvent{ByIndex: true, Items: 10, Duration: 2000}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Scan(ev)
			}
		})
	})
}

// BenchmarkOverhead does the same operations on two stores, one without
// and one with a Collector, alternating in rounds of 200 (and which store
// goes first) so that a noisy machine slows both alike. It reports each
// store's time per operation and the median over rounds of the ratio
// prometheus/none: the number to quote for overhead.
func BenchmarkOverhead(b *testing.B) {
	const n, round = 10000, 200
	val := make([]byte, 100)
	ops := []struct {
		name string
		do   func(d *db.DB, i int)
	}{
		{"put", func(d *db.DB, i int) {
			if err := d.Put(benchKey(i%n), benchIndex(i%n), val); err != nil {
				b.Fatal(err)
			}
		}},
		{"get", func(d *db.DB, i int) {
			if _, err := d.Get(benchKey(i % n)); err != nil {
				b.Fatal(err)
			}
		}},
		{"scan10", func(d *db.DB, i int) { scanN(d, benchIndex(i%n), 10) }},
		{"scan100", func(d *db.DB, i int) { scanN(d, benchIndex(i%n), 100) }},
	}
	for _, op := range ops {
		b.Run("op="+op.name, func(b *testing.B) {
			stores := [2]*db.DB{openBench(b, nil, n), openBench(b, observers[1].obs(b), n)}
			var ratios []float64
			var total [2]time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += round {
				var t [2]time.Duration
				for k := range 2 {
					s := (k + len(ratios)) % 2
					start := time.Now()
					for j := range round {
						op.do(stores[s], done+j)
					}
					t[s] = time.Since(start)
				}
				ratios = append(ratios, float64(t[1])/float64(t[0]))
				total[0] += t[0]
				total[1] += t[1]
			}
			slices.Sort(ratios)
			ops := float64(len(ratios) * round)
			b.ReportMetric(float64(total[0].Nanoseconds())/ops, "ns/op-none")
			b.ReportMetric(float64(total[1].Nanoseconds())/ops, "ns/op-prometheus")
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
		})
	}
}

func scanN(d *db.DB, from []byte, n int) {
	got := 0
	for range d.Snapshot().AscendIndex(from, nil) {
		if got++; got == n {
			break
		}
	}
}
