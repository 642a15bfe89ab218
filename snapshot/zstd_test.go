package snapshot

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestPools checks that encoders and decoders are reused, that the pools
// stay bounded, and that a reused decoder honours a new memory limit.
func TestPools(t *testing.T) {
	var encs []*zstd.Encoder
	for range poolSize + 3 {
		e, err := getEncoder(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		encs = append(encs, e)
	}
	for _, e := range encs {
		putEncoder(e)
	}
	if n := len(encoderPool); n != poolSize {
		t.Fatalf("%d idle encoders, want %d", n, poolSize)
	}
	e, err := getEncoder(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(encoderPool); n != poolSize-1 {
		t.Fatalf("encoder not taken from the pool: %d idle", n)
	}
	putEncoder(e)

	// A stream with an 8 MiB window.
	var buf bytes.Buffer
	ze, err := getEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	ze.Write(data)
	if err := ze.Close(); err != nil {
		t.Fatal(err)
	}
	putEncoder(ze)

	for range poolSize + 2 {
		d, err := getDecoder(bytes.NewReader(buf.Bytes()), 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decode: %v", err)
		}
		putDecoder(d)
	}
	if n := len(decoderPool); n == 0 || n > poolSize {
		t.Fatalf("%d idle decoders", n)
	}
	// A pooled decoder given a smaller limit must refuse the window.
	d, err := getDecoder(bytes.NewReader(buf.Bytes()), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(d); err == nil {
		t.Fatal("a 64 KiB limit accepted a larger window")
	}
	putDecoder(d)
}
