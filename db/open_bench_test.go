package db_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
)

// BenchmarkOpen measures recovery: load the newest snapshot, rebuild both
// trees, replay the WAL tail. It also reports the peak heap growth during
// Open relative to the heap the loaded store keeps.
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct{ records, tail, tailBatch int }{{1_000_000, 50_000, 1}, {300_000, 300_000, 1000}} {
		name := fmt.Sprintf("records=%d/tail=%d", c.records, c.tail)
		if c.tailBatch > 1 {
			name += fmt.Sprintf("/batch=%d", c.tailBatch)
		}
		b.Run(name, func(b *testing.B) {
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
			// The tail: single-record commits, as an application makes
			// them, or PutAll batches in random key order, as a bulk load
			// does.
			perm := rand.New(rand.NewPCG(2, 2)).Perm(c.tail)
			var recs []db.Record
			for _, j := range perm {
				k, ix, v := gen.Fixed(2, uint64(j), 100)
				recs = append(recs, db.Record{Key: k, Index: ix, Value: v})
				if len(recs) == c.tailBatch {
					if err := d.PutAll(recs...); err != nil {
						b.Fatal(err)
					}
					recs = recs[:0]
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

// BenchmarkOpenAfterLoad measures Open of a store as a bulk load leaves
// it: 1M records put in random key order by durable PutAll commits of
// 1000 under default options, so that the WAL tail after the newest
// snapshot is whatever the checkpoint pacing left. It reports how many WAL
// records Open replayed. Set DUALDB_OPEN_BENCH_DIR to keep the loaded
// store there between runs (it is built when the directory does not
// exist yet); Open is read-only, so the store does not change.
func BenchmarkOpenAfterLoad(b *testing.B) {
	const records, batch = 1_000_000, 1000
	dir := os.Getenv("DUALDB_OPEN_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "store")
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		d, err := db.Open(dir, &db.Options{Logger: quietLog})
		if err != nil {
			b.Fatal(err)
		}
		perm := rand.New(rand.NewPCG(7, 7)).Perm(records)
		recs := make([]db.Record, 0, batch)
		for i, p := range perm {
			k, ix, v := gen.Fixed(3, uint64(p), 100)
			recs = append(recs, db.Record{Key: k, Index: ix, Value: v})
			if len(recs) == batch || i == len(perm)-1 {
				if err := d.PutAll(recs...); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	var ev recoveryCounter
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quietLog, Observer: &ev})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := d.Snapshot().Len(); n != records {
			b.Fatalf("Open gave %d records, want %d", n, records)
		}
		b.ReportMetric(float64(ev.last.Replayed), "replayed")
		b.ReportMetric(float64(ev.last.Version-ev.last.SnapshotVersion), "tail-versions")
		d.Close()
		b.StartTimer()
	}
}

// recoveryCounter keeps the last RecoveryEvent.
type recoveryCounter struct {
	db.NopObserver
	last db.RecoveryEvent
}

func (r *recoveryCounter) Recovery(ev db.RecoveryEvent) { r.last = ev }
