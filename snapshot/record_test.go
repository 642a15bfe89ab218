package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dualdb/dualdb/internal/testtier"
)

// chunkReader returns its data in pieces of random sizes, sometimes empty.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.rng.IntN(40))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// TestRecReader_BufferSizes parses the same random stream with read
// buffers from tiny (every record takes the slow path, every field straddles
// a refill) to large (the fast path), and wants the same records.
func TestRecReader_BufferSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var want []Record
	var stream []byte
	field := func(max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	for range testtier.Pick(150, 500) {
		r := Record{Key: field(20), Index: field(200), Value: field(3000)}
		if rng.IntN(10) == 0 {
			r.Value = field(70000) // over the 64 KiB growth step of small buffers
		}
		want = append(want, r)
		stream = binary.AppendUvarint(stream, uint64(len(r.Key)))
		stream = append(stream, r.Key...)
		stream = binary.AppendUvarint(stream, uint64(len(r.Index)))
		stream = append(stream, r.Index...)
		stream = binary.AppendUvarint(stream, uint64(len(r.Value)))
		stream = append(stream, r.Value...)
	}
	for _, size := range []int{1, 2, 7, 64, 1000, recordBufferSize} {
		for _, alloc := range []bool{true, false} {
			rr := &recReader{
				src:    &chunkReader{data: stream, rng: rand.New(rand.NewPCG(uint64(size), 3))},
				buf:    make([]byte, size),
				maxKey: 1 << 10, maxIndex: 1 << 10, maxValue: 1 << 20,
			}
			for i, w := range want {
				start := rr.offset()
				got, err := rr.next(alloc)
				if err != nil {
					t.Fatalf("buffer %d, alloc %v, record %d: %v", size, alloc, i, err)
				}
				if !bytes.Equal(got.Key, w.Key) || (alloc && (!bytes.Equal(got.Index, w.Index) || !bytes.Equal(got.Value, w.Value))) {
					t.Fatalf("buffer %d, alloc %v, record %d differs", size, alloc, i)
				}
				if alloc && (cap(got.Key) != len(got.Key) || cap(got.Index) != len(got.Index)) {
					t.Fatalf("record %d: fields can grow into each other", i)
				}
				if i == 0 && start != 0 {
					t.Fatalf("first record at offset %d", start)
				}
			}
			if _, err := rr.next(alloc); err != io.EOF {
				t.Fatalf("buffer %d: after the last record: %v, want io.EOF", size, err)
			}
			if rr.raw != int64(len(stream)) || rr.crc != crc32Update(0, stream) {
				t.Fatalf("buffer %d: length %d crc %08x, want %d %08x", size, rr.raw, rr.crc, len(stream), crc32Update(0, stream))
			}
		}
	}
}

// TestRecReader_GrowsWithTheData checks that a value is allocated in steps
// as its bytes arrive, never at once from its length prefix.
func TestRecReader_GrowsWithTheData(t *testing.T) {
	var stream []byte
	stream = binary.AppendUvarint(stream, 1)
	stream = append(stream, 'k')
	stream = binary.AppendUvarint(stream, 0)
	stream = binary.AppendUvarint(stream, 1<<30) // 1 GiB promised
	stream = append(stream, make([]byte, 5000)...)
	rr := &recReader{src: bytes.NewReader(stream), buf: make([]byte, 1024), maxKey: 10, maxIndex: 10, maxValue: 1 << 31}
	_, err := rr.next(true)
	var se *streamError
	if !errors.As(err, &se) {
		t.Fatalf("err %v, want a stream error", err)
	}
	allocs := testing.AllocsPerRun(1, func() {
		rr := &recReader{src: bytes.NewReader(stream), buf: make([]byte, 1024), maxKey: 10, maxIndex: 10, maxValue: 1 << 31}
		rr.next(true)
	})
	if allocs > 20 {
		t.Fatalf("%v allocations", allocs)
	}
}
