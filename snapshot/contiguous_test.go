package snapshot_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/dualdb/dualdb/snapshot"
)

// Read's records must be Key|Index|Value back to back in one allocation:
// btreeidx.Builder takes that memory over without copying. Large values
// take the slow path of the reader, so they are included.
func TestRead_RecordsAreOneAllocation(t *testing.T) {
	dir := t.TempDir()
	var recs []snapshot.Record
	for i, size := range []int{0, 1, 100, 4096, 300 << 10, 1 << 20} {
		recs = append(recs, snapshot.Record{
			Key:   fmt.Appendf(nil, "key-%02d", i),
			Index: fmt.Appendf(nil, "index-%02d", i),
			Value: bytes.Repeat([]byte{'v'}, size),
		})
	}
	recs = append(recs, snapshot.Record{Key: []byte("zz-no-index"), Value: []byte("x")})
	h := snapshot.Header{Version: 1, Count: uint64(len(recs))}
	seq := func(yield func(snapshot.Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}
	if _, _, err := snapshot.Write(dir, h, seq, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err := snapshot.Read(filepath.Join(dir, snapshot.FileName(1)), nil, func(r snapshot.Record) error {
		base := unsafe.Pointer(unsafe.SliceData(r.Key))
		if len(r.Index) > 0 && unsafe.Add(base, len(r.Key)) != unsafe.Pointer(unsafe.SliceData(r.Index)) {
			t.Errorf("record %q: index does not follow the key", r.Key)
		}
		if len(r.Value) > 0 && unsafe.Add(base, len(r.Key)+len(r.Index)) != unsafe.Pointer(unsafe.SliceData(r.Value)) {
			t.Errorf("record %q: value does not follow the index", r.Key)
		}
		whole := unsafe.Slice(unsafe.SliceData(r.Key), len(r.Key)+len(r.Index)+len(r.Value))
		want := append(append(append([]byte(nil), r.Key...), r.Index...), r.Value...)
		if !bytes.Equal(whole, want) {
			t.Errorf("record %q: the three parts are not one buffer", r.Key)
		}
		n++
		return nil
	})
	if err != nil || n != len(recs) {
		t.Fatalf("read %d records: %v", n, err)
	}
}
