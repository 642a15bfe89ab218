package db_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/storecorpus"
)

// A store whose wal.db is lost or damaged must fail Open with ErrCorrupt
// naming wal.db, in both modes, and lose nothing: before, an empty or
// missing wal.db opened as a new store and its snapshots were deleted.
func TestOpen_LostWALIsCorruptAndKeepsSnapshots(t *testing.T) {
	for _, kind := range []string{"wal-missing", "wal-empty", "wal-truncated", "wal-garbage", "wal-dir", "wal-no-meta"} {
		for _, ro := range []bool{false, true} {
			dir := storecorpus.Copy(t, kind)
			before := fingerprint(t, dir)
			d, err := db.Open(dir, &db.Options{ReadOnly: ro, Logger: quietLog})
			if err == nil {
				d.Close()
			}
			var ce *db.CorruptionError
			if !errors.Is(err, db.ErrCorrupt) || !errors.As(err, &ce) || filepath.Base(ce.File) != db.WALFile {
				t.Errorf("%s (read-only %v): Open = %v, want ErrCorrupt naming wal.db", kind, ro, err)
			}
			if after := fingerprint(t, dir); after != before {
				t.Errorf("%s (read-only %v): Open changed the directory:\n%s\n%s", kind, ro, before, after)
			}
		}
	}
}

// An empty wal.db alone in its directory is a first Open cut short (the
// torture test kills one there): a read-write Open makes the store, a
// read-only one says it is not a store yet and changes nothing. With
// snapshots beside it, it is corruption (above).
func TestOpen_EmptyWALAloneIsAnUnfinishedCreate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, db.WALFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before := fingerprint(t, dir)
	if _, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quietLog}); !errors.Is(err, db.ErrNotStore) {
		t.Errorf("read-only Open = %v, want ErrNotStore", err)
	}
	if after := fingerprint(t, dir); after != before {
		t.Errorf("read-only Open changed the directory")
	}
	d, err := db.Open(dir, &db.Options{Logger: quietLog})
	if err != nil {
		t.Fatalf("read-write Open: %v", err)
	}
	mustPut(t, d, "k", "i", "v")
	d.Close()
}

// Open never removes a file it cannot prove it wrote: an operator's file
// named like a snapshot, or like a temp file, stays.
func TestOpen_KeepsFilesItDidNotWrite(t *testing.T) {
	for _, kind := range []string{"extra-files", "foreign-snapshot-name", "snapshot-newer-than-wal"} {
		dir := storecorpus.Copy(t, kind)
		before := fingerprint(t, dir)
		d, err := db.Open(dir, &db.Options{Logger: quietLog, CheckpointEvery: -1})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		d.Close()
		if after := fingerprint(t, dir); after != before {
			t.Errorf("%s: Open changed the directory:\n%s\n%s", kind, before, after)
		}
	}
}

// A directory holding someone else's files is never made a store.
func TestOpen_ForeignDirectoryIsNotInitialized(t *testing.T) {
	dir := storecorpus.Copy(t, "foreign-dir")
	before := fingerprint(t, dir)
	d, err := db.Open(dir, &db.Options{Logger: quietLog})
	if err == nil {
		d.Close()
		t.Fatal("Open made a store in a directory of foreign files")
	}
	if !strings.Contains(err.Error(), "photo.jpg") {
		t.Errorf("error does not name what the directory holds: %v", err)
	}
	if after := fingerprint(t, dir); after != before {
		t.Errorf("Open changed the directory")
	}
}

// Get refuses an empty key as Put does; not-found errors name the key.
func TestGet_EmptyKeyAndNotFoundNamesKey(t *testing.T) {
	d := openTest(t, nil)
	if _, err := d.Get(nil); !errors.Is(err, db.ErrEmptyKey) {
		t.Errorf("Get(nil) = %v, want ErrEmptyKey", err)
	}
	if _, err := d.Get([]byte("nobody")); !errors.Is(err, db.ErrNotFound) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("Get(missing) = %v, want ErrNotFound naming the key", err)
	}
	if _, err := d.GetByIndex([]byte("no@where")); !errors.Is(err, db.ErrNotFound) || !strings.Contains(err.Error(), "no@where") {
		t.Errorf("GetByIndex(missing) = %v, want ErrNotFound naming the index key", err)
	}
}

// FuzzOpenWAL puts arbitrary bytes in wal.db beside the healthy store's
// snapshots. Open, read-only and read-write, must not panic or crash, must
// fail with ErrCorrupt naming wal.db unless the bytes are a whole store,
// and must never remove a snapshot. Seeds: every wal.db of the corpus.
func FuzzOpenWAL(f *testing.F) {
	entries, err := os.ReadDir(storecorpus.Root())
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(storecorpus.Root(), e.Name(), db.WALFile)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, wal []byte) {
		dir := storecorpus.Copy(t, "healthy")
		if err := os.WriteFile(filepath.Join(dir, db.WALFile), wal, 0o600); err != nil {
			t.Fatal(err)
		}
		snaps := snapFiles(t, dir)
		for _, ro := range []bool{true, false} {
			d, err := db.Open(dir, &db.Options{ReadOnly: ro, Logger: quietLog, CheckpointEvery: -1})
			if err == nil {
				d.Close()
				continue
			}
			var ce *db.CorruptionError
			if errors.As(err, &ce) && filepath.Base(ce.File) != db.WALFile && !strings.HasPrefix(ce.File, filepath.Join(dir, db.SnapDir)) {
				t.Fatalf("Open = %v: names neither wal.db nor a snapshot", err)
			}
			if !errors.Is(err, db.ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		}
		if got := snapFiles(t, dir); strings.Join(got, ",") != strings.Join(snaps, ",") {
			t.Fatalf("snapshots %v became %v", snaps, got)
		}
	})
}
