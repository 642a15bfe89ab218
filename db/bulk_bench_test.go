package db_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/cputime"
	"github.com/dualdb/dualdb/internal/gen"
)

// BenchmarkBulkLoad loads n gen.Fixed records (100-byte values) in random
// key order into a new store, batch records per commit, with the default
// automatic checkpoints. api=putall commits each batch with DB.PutAll,
// api=put with one Update of a Tx.Put per record. Only the commits are
// timed (not Open, generating the records, or Close); rec/s is the load
// rate. cpu-ns/rec is the CPU time of the process per record from Open to
// Close (the load, the garbage collector, background checkpoints): on a
// loaded machine steadier than the rates. Compare runs with benchstat:
//
//	go test -run '^$' -bench BulkLoad -benchtime 1x -count 6 ./db/ > new.txt
func BenchmarkBulkLoad(b *testing.B) {
	const batch = 1000
	cases := []struct {
		mode, api string
		n         int
		ckpt      int64 // Options.CheckpointBytes; 0 = default
	}{
		{"durable", "putall", 200_000, 0}, {"durable", "put", 200_000, 0},
		{"nosync", "putall", 200_000, 0}, {"nosync", "put", 200_000, 0},
		// Large enough for automatic checkpoints (64 MiB of WAL) to run.
		{"durable", "putall", 1_000_000, 0},
		// A load of ~7 times CheckpointBytes, as 3M records are of the
		// default: how checkpoint pacing scales, at a twentieth of the cost.
		{"nosync", "putall", 200_000, 4 << 20},
	}
	for _, c := range cases {
		name := fmt.Sprintf("mode=%s/api=%s/n=%d/batch=%d", c.mode, c.api, c.n, batch)
		if c.ckpt != 0 {
			name += fmt.Sprintf("/ckpt=%dMiB", c.ckpt>>20)
		}
		b.Run(name, func(b *testing.B) { benchBulkLoad(b, c.mode == "nosync", c.api == "putall", c.n, batch, c.ckpt) })
	}
}

func benchBulkLoad(b *testing.B, noSync, putAll bool, n, batch int, ckpt int64) {
	ids := rand.New(rand.NewPCG(benchSeed, 3)).Perm(n)
	recs := make([]db.Record, n)
	for i, id := range ids {
		k, x, v := gen.Fixed(benchSeed, uint64(id), benchValue)
		recs[i] = db.Record{Key: k, Index: x, Value: v}
	}
	b.ReportAllocs()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cpu0 := cpuNow()
		dir := filepath.Join(b.TempDir(), "store")
		d, err := db.Open(dir, &db.Options{NoSync: noSync, CheckpointBytes: ckpt, NoAdminSocket: true, Logger: quietLog})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for start := 0; start < n; start += batch {
			part := recs[start:min(start+batch, n)]
			if putAll {
				err = d.PutAll(part...)
			} else {
				err = d.Update(func(tx *db.Tx) error {
					for _, r := range part {
						if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err != nil {
				b.Fatalf("load batch at %d: %v", start, err)
			}
		}
		b.StopTimer()
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuNow() - cpu0
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rec/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/rec")
	}
}

// cpuNow is the process's CPU time so far, 0 where the platform does not
// tell it.
func cpuNow() time.Duration {
	t, _ := cputime.Process()
	return t
}
