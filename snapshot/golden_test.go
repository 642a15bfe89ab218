package snapshot_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-v1.dsnap from the current code")

const goldenFile = "testdata/golden-v1.dsnap"

// goldenInput is the content of the golden file: 50 gen.NewUser records.
func goldenInput() (snapshot.Header, []snapshot.Record) {
	recs := userRecords(2026, 50)
	return snapshot.Header{Format: snapshot.FormatVersion, StoreID: testStoreID, Version: 42, Count: uint64(len(recs))}, recs
}

// TestGolden_V1 reads a file written by an earlier build: format 1 must stay
// readable forever. Regenerate it only on purpose, with
//
//	go test ./snapshot -run Golden -update
func TestGolden_V1(t *testing.T) {
	h, recs := goldenInput()
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		p, _, err := snapshot.Write(dir, h, seqOf(recs), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", goldenFile, len(b))
	}
	gotH, got, err := readAll(goldenFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gotH != h {
		t.Fatalf("header %+v, want %+v", gotH, h)
	}
	equalRecords(t, recs, got)
	info, err := snapshot.Verify(goldenFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.RawBytes != rawSize(recs) {
		t.Fatalf("raw bytes %d, want %d", info.RawBytes, rawSize(recs))
	}
	// The bytes may change with the zstd library without breaking the
	// format; say so rather than fail.
	golden, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	if now := encode(t, h, recs, nil); !bytes.Equal(now, golden) {
		t.Logf("note: this build writes different bytes for the golden content (%d vs %d bytes); the golden file still reads", len(now), len(golden))
	}
}
