package snapshot_test

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"testing"

	"github.com/dualdb/dualdb/internal/gen"
	"github.com/dualdb/dualdb/snapshot"
)

// The benchmark data set of the db's load target: 1,000,000 records with
// 15-byte keys, 21-byte index keys and 100-byte values (gen.Fixed).
const (
	benchRecords = 1_000_000
	benchValue   = 100
)

// fixedSeq yields n gen.Fixed records without keeping them.
func fixedSeq(n int) iter.Seq[snapshot.Record] {
	return func(yield func(snapshot.Record) bool) {
		for i := range n {
			k, ix, v := gen.Fixed(1, uint64(i), benchValue)
			if !yield(snapshot.Record{Key: k, Index: ix, Value: v}) {
				return
			}
		}
	}
}

// BenchmarkWrite measures Write of the 1M-record set to a real file, fsync
// included. MB/s is of the uncompressed record stream.
func BenchmarkWrite(b *testing.B) {
	recs := fixedRecords(1, benchRecords, benchValue)
	raw := rawSize(recs)
	b.Run(fmt.Sprintf("records=%d/value=%d", len(recs), benchValue), func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(raw)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h := snapshot.Header{StoreID: testStoreID, Version: uint64(i + 1), Count: uint64(len(recs))}
			if _, _, err := snapshot.Write(dir, h, seqOf(recs), nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkEncode measures the Encoder alone, into io.Discard: the CPU cost
// of Write without the file system.
func BenchmarkEncode(b *testing.B) {
	recs := fixedRecords(1, benchRecords, benchValue)
	raw := rawSize(recs)
	b.Run(fmt.Sprintf("records=%d/value=%d", len(recs), benchValue), func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		for b.Loop() {
			enc, err := snapshot.NewEncoder(io.Discard, snapshot.Header{Count: uint64(len(recs))}, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if err := enc.Add(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkRead measures Read of the 1M-record file with a callback that
// drops each record and with one that keeps them all (as the db's load
// does, paying for the garbage collector's work on a growing heap), and
// Verify, which allocates nothing per record. The records are generated
// on the fly so that the benchmark's own heap stays small.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	p, _, err := snapshot.Write(dir, snapshot.Header{StoreID: testStoreID, Version: 1, Count: benchRecords}, fixedSeq(benchRecords), nil)
	if err != nil {
		b.Fatal(err)
	}
	info, err := snapshot.Verify(p, nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := info.RawBytes
	name := fmt.Sprintf("records=%d/value=%d", benchRecords, benchValue)
	b.Run(name+"/fn=drop", func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if _, err := snapshot.Read(p, nil, func(snapshot.Record) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != benchRecords {
				b.Fatalf("read %d records", n)
			}
		}
		b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run(name+"/fn=keep", func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		kept := make([]snapshot.Record, 0, benchRecords)
		for b.Loop() {
			kept = kept[:0]
			if _, err := snapshot.Read(p, nil, func(r snapshot.Record) error { kept = append(kept, r); return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run(name+"/verify", func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := snapshot.Verify(p, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkCompressionRatio reports file size / raw record bytes on 100,000
// gen.NewUser records.
func BenchmarkCompressionRatio(b *testing.B) {
	recs := userRecords(1, 100_000)
	raw := rawSize(recs)
	b.Run(fmt.Sprintf("records=%d", len(recs)), func(b *testing.B) {
		b.SetBytes(raw)
		var size int
		for b.Loop() {
			var buf bytes.Buffer
			enc, err := snapshot.NewEncoder(&buf, snapshot.Header{Count: uint64(len(recs))}, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if err := enc.Add(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				b.Fatal(err)
			}
			size = buf.Len()
		}
		b.ReportMetric(float64(size)/float64(raw), "ratio")
	})
}
