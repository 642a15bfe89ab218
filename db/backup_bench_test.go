package db_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
)

// Benchmarks of online backup. The store size is DUALDB_BENCH_BACKUP_N
// records (default 1,000,000 gen.Fixed records with 100-byte values):
//
//	DUALDB_BENCH_BACKUP_N=200000 go test -run x -bench 'Backup' -benchtime 20000x ./db/

func backupBenchN(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("DUALDB_BENCH_BACKUP_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("DUALDB_BENCH_BACKUP_N=%q: want a positive number", s)
		}
		n = v
	}
	return n
}

// backupBenchStore opens a new store of n records, without automatic
// checkpoints (a checkpoint would compete with the backup and blur the
// comparison).
func backupBenchStore(b *testing.B, n int) *db.DB {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1, NoAdminSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	const batch = 10_000
	for i := 0; i < n; i += batch {
		recs := make([]db.Record, 0, batch)
		for id := i; id < min(n, i+batch); id++ {
			k, x, v := gen.Fixed(benchSeed, uint64(id), benchValue)
			recs = append(recs, db.Record{Key: k, Index: x, Value: v})
		}
		err := d.Update(func(tx *db.Tx) error {
			for _, r := range recs {
				if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
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

// BenchmarkBackup_WriterThroughput measures durable Puts (4 writers,
// replacing records of the store) without and during backups: with
// backup=running, backups of the whole store run back to back for the
// whole measurement. Compare the commits/s of the two.
func BenchmarkBackup_WriterThroughput(b *testing.B) {
	n := backupBenchN(b)
	d := backupBenchStore(b, n)
	for _, mode := range []string{"none", "running"} {
		b.Run(fmt.Sprintf("records=%d/backup=%s", n, mode), func(b *testing.B) {
			var stop atomic.Bool
			var backups atomic.Int64
			var bg sync.WaitGroup
			if mode == "running" {
				bg.Go(func() {
					for !stop.Load() {
						if _, err := d.Backup(io.Discard); err != nil {
							b.Error(err)
							return
						}
						backups.Add(1)
					}
				})
				// Let the first backup get under way.
				time.Sleep(50 * time.Millisecond)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range 4 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						id := uint64(i*7919+int64(w)) % uint64(n)
						k, x, v := gen.Fixed(benchSeed, id, benchValue)
						v[0] ^= byte(i) // a new value: every Put is a commit
						if err := d.Put(k, x, v); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			stop.Store(true)
			bg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			if mode == "running" {
				b.ReportMetric(float64(backups.Load()), "backups")
			}
		})
	}
}

// heapObjects reads the bytes of heap objects, live and not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// liveHeap returns the bytes of live heap objects, after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	return heapObjects()
}

// probeWriter discards what it is given, and once, when at bytes have
// gone through, measures the live heap: in the middle of a backup, with
// its snapshot, its encoder and the nodes writers copied meanwhile alive.
type probeWriter struct {
	n, at int64
	live  uint64
}

func (p *probeWriter) Write(b []byte) (int, error) {
	if p.n < p.at && p.n+int64(len(b)) >= p.at {
		p.live = liveHeap()
	}
	p.n += int64(len(b))
	return len(b), nil
}

// BenchmarkBackup_Memory measures what a backup costs in memory beside
// the store: the live heap halfway through a backup over the live heap of
// the store alone (both after a full GC), with writers idle (writer=0)
// and with one writer replacing records meanwhile (writer=1: the B-tree
// nodes it copies instead of sharing with the backup's version count as
// overhead), and the bytes a backup allocates (B/op, all of them garbage
// once it ends).
func BenchmarkBackup_Memory(b *testing.B) {
	n := backupBenchN(b)
	d := backupBenchStore(b, n)
	var size probeWriter
	if _, err := d.Backup(&size); err != nil {
		b.Fatal(err)
	}
	for _, writers := range []int{0, 1} {
		b.Run(fmt.Sprintf("records=%d/writer=%d", n, writers), func(b *testing.B) {
			var wstop atomic.Bool
			var bg sync.WaitGroup
			for range writers {
				bg.Go(func() {
					for i := uint64(0); !wstop.Load(); i++ {
						k, x, v := gen.Fixed(benchSeed, (i*7919)%uint64(n), benchValue)
						v[0] ^= byte(i)
						if err := d.Put(k, x, v); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			var extra, base float64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				p := &probeWriter{at: size.n / 2}
				if _, err := d.Backup(p); err != nil {
					b.Fatal(err)
				}
				base = float64(before)
				extra = max(extra, float64(p.live)-float64(before))
			}
			b.StopTimer()
			wstop.Store(true)
			bg.Wait()
			b.ReportMetric(base/(1<<20), "store-heap-MiB")
			b.ReportMetric(extra/(1<<20), "max-extra-MiB")
			b.ReportMetric(100*extra/base, "max-extra-%")
		})
	}
}
