package db_test

import (
	"runtime"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
)

// BenchmarkOpen measures recovery: load the newest snapshot, rebuild both
// trees, replay the WAL tail. It also reports the peak heap growth during
// Open relative to the heap the loaded store keeps.
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct{ records, tail int }{{1_000_000, 50_000}} {
		b.Run("records=1000000/tail=50000", func(b *testing.B) {
			dir := b.TempDir()
			d, err := db.Open(dir, &db.Options{NoSync: true, CheckpointEvery: -1, Logger: quietLog})
			if err != nil {
				b.Fatal(err)
			}
			const batch = 10_000
			for i := 0; i < c.records; i += batch {
				err := d.Update(func(tx *db.Tx) error {
					for j := i; j < i+batch; j++ {
						k, ix, v := gen.Fixed(1, uint64(j), 100)
						if err := tx.Put(k, ix, v); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if _, err := d.Checkpoint(); err != nil {
				b.Fatal(err)
			}
			// The tail: single-record commits, as an application makes them.
			for j := 0; j < c.tail; j++ {
				k, ix, v := gen.Fixed(2, uint64(j), 100)
				if err := d.Put(k, ix, v); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var heap uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				d, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quietLog})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				runtime.GC()
				var kept runtime.MemStats
				runtime.ReadMemStats(&kept)
				heap = kept.HeapAlloc - before.HeapAlloc
				b.ReportMetric(float64(heap)/float64(d.Snapshot().Len()), "heapB/record")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(heap), "alloc/kept")
				d.Close()
				b.StartTimer()
			}
		})
	}
}
