package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/gen"
)

// mixedN is the size of the BenchmarkMixedCommit store: large enough that
// lookups miss the CPU caches, small enough to build in about a second.
const mixedN = 200_000

// mixedMove numbers the index-key moves of every BenchmarkMixedCommit run.
var mixedMove atomic.Uint64

// mixedDB opens a durable store of mixedN gen.Fixed records, closed and
// removed when b ends. Automatic checkpoints are off: a background
// snapshot would compete with the readers and the writer for the CPU.
func mixedDB(b *testing.B) (*db.DB, [][]byte) {
	d := openTest(b, &db.Options{CheckpointEvery: -1, CheckpointBytes: -1})
	keys := make([][]byte, mixedN)
	const batch = 10_000
	for lo := 0; lo < mixedN; lo += batch {
		err := d.Update(func(tx *db.Tx) error {
			for id := lo; id < lo+batch; id++ {
				k, ix, v := gen.Fixed(benchSeed, uint64(id), benchValue)
				keys[id] = k
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
	return d, keys
}

// BenchmarkMixedCommit is workload W8 of the bench module at a smaller
// size: one writer makes b.N durable single-record commits, each moving a
// record's index key, while 2 readers look records up by key and then by
// the index key they carry, flat out. It reports the writer's commits/s
// and the readers' reads/s (two lookups per record).
func BenchmarkMixedCommit(b *testing.B) {
	d, keys := mixedDB(b)
	b.Run(fmt.Sprintf("n=%d", mixedN), func(b *testing.B) { benchMixed(b, d, keys) })
}

func benchMixed(b *testing.B, d *db.DB, keys [][]byte) {
	value := bytes.Repeat([]byte("v"), benchValue)
	stop := make(chan struct{})
	var reads atomic.Int64
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(benchSeed, uint64(r)+100))
			n := int64(0)
			defer func() { reads.Add(n) }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 64 {
					key := keys[rng.IntN(len(keys))]
					rec, err := d.Get(key)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := d.GetByIndex(rec.Index); err != nil && !errors.Is(err, db.ErrNotFound) {
						b.Error(err)
						return
					}
					n += 2
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(benchSeed, 1))
	b.ResetTimer()
	for range b.N {
		key := keys[rng.IntN(len(keys))]
		index := fmt.Appendf(nil, "moved:%016x", mixedMove.Add(1))
		if err := d.Update(func(tx *db.Tx) error { return tx.Put(key, index, value) }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	readers.Wait()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "commits/s")
	b.ReportMetric(float64(reads.Load())/sec, "reads/s")
}
