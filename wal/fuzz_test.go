package wal_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/dualdb/dualdb/wal"
)

// FuzzDecodeRecord feeds DecodeRecord arbitrary bytes. It must never panic,
// and whatever it accepts must be the one encoding of its ops: encoding the
// ops again under the same version gives the same bytes.
//
// A random input almost never has a good CRC32C, so each input is also
// tried with its last four bytes replaced by a good checksum: that lets the
// fuzzer reach the structure checks behind the checksum.
func FuzzDecodeRecord(f *testing.F) {
	const maxFuzzInput = 256
	big := bytes.Repeat([]byte{0x5a}, 130) // a 2-byte length; small seeds keep minimization quick
	seeds := []struct {
		version uint64
		ops     []wal.Op
	}{
		{1, smallOps()},
		{0, nil},
		{2, []wal.Op{{Kind: wal.OpPut}}},
		{3, []wal.Op{{Kind: wal.OpDelete, Key: []byte("k")}}},
		{1 << 33, []wal.Op{{Kind: wal.OpPut, Key: []byte("k"), Index: []byte("i"), Value: big}}},
		{math.MaxUint64, []wal.Op{
			{Kind: wal.OpDelete, Key: []byte("a")},
			{Kind: wal.OpPut, Key: []byte("b"), Index: []byte("c"), Value: []byte("d")},
			{Kind: wal.OpDelete, Key: []byte("e")},
			{Kind: wal.OpDeleteRecord, Key: []byte("f"), Index: []byte("g"), Value: []byte("h"), Version: 1 << 20},
		}},
	}
	for _, s := range seeds {
		f.Add(s.version, wal.AppendRecord(nil, s.version, s.ops))
	}
	f.Add(uint64(7), []byte{})
	f.Add(uint64(7), []byte{wal.RecordFormat, 0x80, 0x00, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, version uint64, data []byte) {
		// Long inputs reach no code short ones do not, and the fuzzer's
		// minimizer is quadratic in the input: a 500-byte input stalls
		// every worker for seconds, most of a 30s run.
		if len(data) > maxFuzzInput {
			return
		}
		checkDecode(t, version, data)
		if len(data) >= 4 {
			checkDecode(t, version, seal(version, data[:len(data)-4]))
		}
	})
}

func checkDecode(t *testing.T, version uint64, data []byte) {
	ops, err := wal.DecodeRecord(version, data)
	if err != nil {
		if ops != nil {
			t.Fatalf("DecodeRecord returned %d ops with error %v", len(ops), err)
		}
		return
	}
	for i, op := range ops {
		if op.Kind != wal.OpPut && op.Kind != wal.OpDelete && op.Kind != wal.OpDeleteRecord {
			t.Fatalf("op %d has kind %v", i, op.Kind)
		}
	}
	if n := wal.EncodedSize(ops); n != len(data) {
		t.Fatalf("EncodedSize of the decoded ops = %d, input is %d bytes", n, len(data))
	}
	if enc := wal.AppendRecord(nil, version, ops); !bytes.Equal(enc, data) {
		t.Fatalf("version %d: decoded then encoded\n %x\nis not the input\n %x", version, enc, data)
	}
	var body []byte
	for _, op := range ops {
		body = wal.AppendOp(body, op)
	}
	if enc := wal.AssembleRecord(nil, version, len(ops), body); !bytes.Equal(enc, data) {
		t.Fatalf("version %d: AssembleRecord of the decoded ops\n %x\nis not the input\n %x", version, enc, data)
	}
	// A record is bound to its version.
	if _, err := wal.DecodeRecord(version+1, data); err == nil {
		t.Fatalf("record for version %d also decodes as version %d", version, version+1)
	}
}
