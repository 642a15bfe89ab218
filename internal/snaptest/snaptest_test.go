package snaptest_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/internal/dberr"
	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
)

func records(n int) []snapshot.Record {
	recs := make([]snapshot.Record, n)
	for i := range recs {
		recs[i] = snapshot.Record{Key: []byte{'k', byte('a' + i)}, Index: []byte{'i', byte('a' + i)}, Value: []byte("v")}
	}
	return recs
}

// TestFile_EditsKeepTheFileSound: a tail holding one whole record, with
// header and footer counting it, makes a file that verifies and reads back
// every record, so the footer edits follow the format exactly.
func TestFile_EditsKeepTheFileSound(t *testing.T) {
	recs := records(4)
	last := recs[3]
	last.Version = 2
	// A record of the current format: its version, then the three fields.
	tail := binary.AppendUvarint(nil, last.Version)
	for _, b := range [][]byte{last.Key, last.Index, last.Value} {
		tail = binary.AppendUvarint(tail, uint64(len(b)))
		tail = append(tail, b...)
	}
	four := uint64(4)
	path := filepath.Join(t.TempDir(), snapshot.FileName(3))
	snaptest.File{Header: snapshot.Header{Version: 3, Count: 4}, Records: recs[:3], Tail: tail, FooterCount: &four}.WriteFile(t, path)
	info, err := snapshot.Verify(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Count != 4 {
		t.Fatalf("count %d, want 4", info.Count)
	}
	got := snaptest.Load(t, path)
	if len(got.Records) != 4 || string(got.Records[3].Key) != string(last.Key) || got.Records[3].Version != last.Version {
		t.Fatalf("read back %d records, last %q", len(got.Records), got.Records[len(got.Records)-1].Key)
	}
}

// TestFile_Damage: each kind of damage is found where the File put it.
func TestFile_Damage(t *testing.T) {
	dir := t.TempDir()
	seven := uint64(7)
	recs := records(5)
	for _, tc := range []struct {
		name   string
		file   func(path string)
		reason string
	}{
		{"footer-count", func(p string) {
			snaptest.File{Header: snapshot.Header{Version: 1, Count: 5}, Records: recs, FooterCount: &seven}.WriteFile(t, p)
		}, "footer count 7 differs from header count 5"},
		{"torn-tail", func(p string) {
			snaptest.File{Header: snapshot.Header{Version: 1, Count: 5}, Records: recs, Tail: []byte{3, 'k'}}.WriteFile(t, p)
		}, "record 5"},
		{"out-of-order", func(p string) {
			snaptest.File{Header: snapshot.Header{Version: 1, Count: 5}, Records: []snapshot.Record{recs[1], recs[0], recs[2], recs[3], recs[4]}}.WriteFile(t, p)
		}, "out of order"},
		{"flipped-footer-byte", func(p string) {
			snaptest.File{Header: snapshot.Header{Version: 1, Count: 5}, Records: recs}.WriteFile(t, p)
			snaptest.FlipByte(t, p, -1)
		}, "footer checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+snapshot.Ext)
			tc.file(p)
			_, err := snapshot.Verify(p, nil)
			var ce *dberr.CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %v, want a *dberr.CorruptionError", err)
			}
			if !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("Verify = %v, want %q", err, tc.reason)
			}
		})
	}
}

// TestRewrite keeps what edit does not touch.
func TestRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), snapshot.FileName(9))
	snaptest.File{Header: snapshot.Header{Version: 9, Count: 3}, Records: records(3)}.WriteFile(t, path)
	snaptest.Rewrite(t, path, func(f *snaptest.File) {
		f.Records = f.Records[:2]
		f.Header.Count = 2
	})
	got := snaptest.Load(t, path)
	if got.Header.Version != 9 || len(got.Records) != 2 {
		t.Fatalf("after Rewrite: version %d, %d records", got.Header.Version, len(got.Records))
	}
}
