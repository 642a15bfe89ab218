package wal_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dualdb/dualdb/wal"
)

// benchOps is one put of a 16-byte key, a 16-byte index key and a 128-byte
// value.
func benchOps(v uint64) []wal.Op {
	return []wal.Op{{
		Kind:  wal.OpPut,
		Key:   fmt.Appendf(nil, "key-%012d", v),
		Index: fmt.Appendf(nil, "idx-%012d", v),
		Value: bytes.Repeat([]byte{byte(v)}, 128),
	}}
}

// BenchmarkAppend measures durable appends (NoSync false: a real fsync
// per batch, on the disk under TMPDIR). One iteration is one batch;
// records/s counts records.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := openLog(b, walPath(b), &wal.Options{NoSync: false})
			es := make([]wal.Entry, batch)
			var last uint64
			records := 0
			for b.Loop() {
				for i := range es {
					v := last + 1 + uint64(i)
					es[i] = wal.Entry{Version: v, Data: wal.AppendRecord(es[i].Data[:0], v, benchOps(v))}
				}
				if err := l.Append(last, es); err != nil {
					b.Fatal(err)
				}
				last += uint64(batch)
				records += batch
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			b.SetBytes(int64(batch * len(es[0].Data)))
		})
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			var ops []wal.Op
			for i := range n {
				ops = append(ops, benchOps(uint64(i))...)
			}
			rec := wal.AppendRecord(nil, 12345, ops)
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wal.DecodeRecord(12345, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
