package db_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dualdb/dualdb/db"
)

func TestBackup_RestoreRoundTrip(t *testing.T) {
	d := openTest(t, &db.Options{CheckpointEvery: -1})
	fillUsers(t, d, 300)
	// Part in a snapshot, part in the WAL only: the backup holds both.
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "late", "ilate", "L")
	if err := d.Delete([]byte("user:0001")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	v, err := d.Backup(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if v != d.Version() {
		t.Fatalf("Backup version %d, want %d", v, d.Version())
	}
	checkBackupBytes(t, buf.Bytes(), d.Snapshot())

	// The restored store is a full store: it verifies, opens for
	// writing, and goes on from the backup's version.
	dir := filepath.Join(t.TempDir(), "restored")
	if err := db.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Verify(dir, nil)
	if err != nil || !rep.OK() || rep.Version != v || rep.Records != d.Snapshot().Len() {
		t.Fatalf("Verify of the restored store: %+v, %v", rep, err)
	}
	r := openExisting(t, dir)
	mustPut(t, r, "new", "inew", "N")
	if got := r.Version(); got != v+1 {
		t.Fatalf("first commit of the restored store is version %d, want %d", got, v+1)
	}
	var st db.Status
	if err := json.Unmarshal(mountedClient(t, d).get("/v1/status").body, &st); err != nil {
		t.Fatal(err)
	}
	rinfo, err := db.Inspect(dir)
	if err == nil {
		t.Fatal("Inspect of a store held by a writer succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if rinfo, err = db.Inspect(dir); err != nil {
		t.Fatal(err)
	}
	if rinfo.StoreID != st.StoreID {
		t.Fatalf("restored store id %s, want the backup's %s", rinfo.StoreID, st.StoreID)
	}
	if rep, err := db.Verify(dir, nil); err != nil || !rep.OK() {
		t.Fatalf("Verify after a commit on the restored store: %+v, %v", rep, err)
	}
}

// openExisting opens the store in dir for writing, without the operator
// socket, closing it at cleanup.
func openExisting(t testing.TB, dir string) *db.DB {
	t.Helper()
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestBackup_EmptyStore(t *testing.T) {
	d := openTest(t, nil)
	var buf bytes.Buffer
	v, err := d.Backup(&buf)
	if err != nil || v != 0 {
		t.Fatalf("Backup of an empty store = %d, %v", v, err)
	}
	checkBackupBytes(t, buf.Bytes(), d.Snapshot())
}

func TestBackup_Closed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{NoAdminSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = d.Backup(io.Discard)
	wantErr(t, "Backup after Close", err, db.ErrClosed)
}

// A backup taken while writers commit holds one version: every commit
// acknowledged before it began, none that came after its version.
func TestBackup_UnderWrites(t *testing.T) {
	d := openTest(t, &db.Options{CheckpointEvery: 300})
	fillUsers(t, d, 100)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var acked sync.Map // key -> version acknowledged (upper bound)
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := fmt.Sprintf("w%d:%06d", w, i)
				if err := d.Put([]byte(k), []byte("i"+k), []byte(k)); err != nil {
					t.Error(err)
					return
				}
				acked.Store(k, d.Version())
			}
		})
	}
	for range 5 {
		before := d.Version()
		var ackedBefore []string
		acked.Range(func(k, v any) bool {
			ackedBefore = append(ackedBefore, k.(string))
			return true
		})
		var buf bytes.Buffer
		v, err := d.Backup(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if v < before {
			t.Fatalf("backup at version %d, older than the %d acknowledged before it began", v, before)
		}
		dir := filepath.Join(t.TempDir(), "restored")
		if err := db.Restore(dir, &buf); err != nil {
			t.Fatal(err)
		}
		if rep, err := db.Verify(dir, nil); err != nil || !rep.OK() || rep.Version != v {
			t.Fatalf("Verify of a backup taken under writes: %+v, %v", rep, err)
		}
		r, err := db.Open(dir, &db.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ackedBefore {
			if _, err := r.Get([]byte(k)); err != nil {
				t.Fatalf("record %s, acknowledged before the backup began, is not in it: %v", k, err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Restore refuses to mix into anything: an existing store, a non-empty
// directory, a file; and it leaves what was there untouched.
func TestRestore_Refuses(t *testing.T) {
	d := openTest(t, nil)
	fillUsers(t, d, 10)
	var buf bytes.Buffer
	if _, err := d.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	nonEmpty := filepath.Join(base, "nonempty")
	if err := os.Mkdir(nonEmpty, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nonEmpty, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, msg string }{
		{d.Dir(), "is not empty"},
		{nonEmpty, "is not empty"},
		{file, "not a directory"},
	} {
		before := dirFingerprint(t, c.dir)
		err := db.Restore(c.dir, bytes.NewReader(buf.Bytes()))
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.dir) {
			t.Fatalf("Restore into %s = %v, want an error naming it and saying %q", c.dir, err, c.msg)
		}
		if after := dirFingerprint(t, c.dir); after != before {
			t.Fatalf("a refused Restore changed %s", c.dir)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Fatalf("a refused Restore changed %s: %q, %v", file, b, err)
	}
}

// A damaged or truncated backup is refused with ErrCorrupt, and Restore
// removes exactly what it created: a new directory entirely, an empty
// one it was given back to empty.
func TestRestore_DamagedBackup(t *testing.T) {
	d := openTest(t, nil)
	fillUsers(t, d, 500)
	var buf bytes.Buffer
	if _, err := d.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"truncated", good[:len(good)-10]},
		{"header only", good[:64]},
		{"flipped byte", flipped},
		{"empty", nil},
		{"not a backup", []byte(strings.Repeat("hello ", 100))},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			fresh := filepath.Join(base, "fresh", "store")
			err := db.Restore(fresh, bytes.NewReader(c.b))
			wantErr(t, "Restore of a bad backup", err, db.ErrCorrupt)
			t.Logf("Restore: %v", err)
			if _, err := os.Stat(filepath.Dir(fresh)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed Restore left %s: %v", filepath.Dir(fresh), err)
			}
			empty := filepath.Join(base, "empty")
			if err := os.Mkdir(empty, 0o700); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "Restore of a bad backup into an empty dir", db.Restore(empty, bytes.NewReader(c.b)), db.ErrCorrupt)
			if ents, err := os.ReadDir(empty); err != nil || len(ents) != 0 {
				t.Fatalf("a failed Restore left %v in %s (%v)", ents, empty, err)
			}
		})
	}
}

// A reader that fails mid-stream fails Restore and leaves nothing.
func TestRestore_ReadError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	boom := errors.New("network gone")
	err := db.Restore(dir, io.MultiReader(strings.NewReader("DSNAP"), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("Restore = %v, want the reader's error", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed Restore left %s", dir)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
