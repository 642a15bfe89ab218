package snapshot_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/snapshot"
)

// FuzzRead reads arbitrary bytes as a snapshot file: the result must be an
// error or a consistent read, never a panic or a large allocation.
func FuzzRead(f *testing.F) {
	// Seeds are small valid files (and halves of them): Go's minimizer is
	// quadratic in the input size, so multi-KiB seeds stall a short run.
	h := snapshot.Header{StoreID: testStoreID, Version: 7}
	seeds := [][]snapshot.Record{
		nil,
		userRecords(1, 1),
		userRecords(2, 3),
		{{Key: []byte("a"), Index: []byte("b"), Value: bytes.Repeat([]byte("c"), 70<<10)}},
		{{Key: []byte{}, Index: []byte{}, Value: []byte{}}, {Key: []byte{0}, Index: []byte{1}, Value: []byte{2}}},
	}
	for _, recs := range seeds {
		h.Count = uint64(len(recs))
		file := encode(f, h, recs, nil)
		f.Add(file)
		f.Add(file[:len(file)/2])
	}
	f.Add(withStream(f, 2, rleFrame(0x38, nil, 1, 4)))
	f.Add([]byte("DUALSNAP"))

	const maxValue = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := newMemFS()
		const name = "/f.dsnap"
		fsys.put(name, data)
		// Small limits keep every execution cheap; the limits themselves
		// are tested elsewhere.
		opts := &snapshot.Options{FS: fsys, MaxKeySize: 4096, MaxIndexSize: 4096, MaxValueSize: maxValue, DecoderMaxMemory: 8 << 20}
		var n uint64
		var prev []byte
		hdr, rerr := snapshot.Read(name, opts, func(r snapshot.Record) error {
			if n > 0 && bytes.Compare(r.Key, prev) <= 0 {
				t.Fatalf("record %d out of order delivered", n)
			}
			if len(r.Value) > maxValue {
				t.Fatalf("value of %d bytes delivered", len(r.Value))
			}
			prev = r.Key
			n++
			return nil
		})
		info, verr := snapshot.Verify(name, opts)
		if (rerr == nil) != (verr == nil) {
			t.Fatalf("Read and Verify disagree: %v / %v", rerr, verr)
		}
		for _, err := range []error{rerr, verr} {
			var ce *dberr.CorruptionError
			if err != nil && (!errors.Is(err, dberr.ErrCorrupt) || !errors.As(err, &ce) || ce.File != name) {
				t.Fatalf("error is not a corruption naming the file: %v", err)
			}
		}
		if rerr != nil {
			return
		}
		if n != hdr.Count || info.Count != n || info.FileSize != int64(len(data)) {
			t.Fatalf("read %d records, header says %d, Verify %+v", n, hdr.Count, info)
		}
		if rh, err := snapshot.ReadHeader(name, opts); err != nil || rh != hdr {
			t.Fatalf("ReadHeader: %+v, %v; Read gave %+v", rh, err, hdr)
		}
	})
}
