package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/snaptest"
	"github.com/dualdb/dualdb/snapshot"
	bolt "go.etcd.io/bbolt"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// stateOf returns every record of d in key order, as one comparable string.
func stateOf(t *testing.T, d *db.DB) string {
	t.Helper()
	var b strings.Builder
	s := d.Snapshot()
	for r := range s.Ascend(nil, nil) {
		fmt.Fprintf(&b, "%q %q %q\n", r.Key, r.Index, r.Value)
	}
	if f := s.Check(0); len(f) > 0 {
		t.Fatalf("invariants broken: %v", f)
	}
	return fmt.Sprintf("v%d\n%s", s.Version(), b.String())
}

func putN(t *testing.T, d *db.DB, from, to int, tag string) {
	t.Helper()
	for i := from; i < to; i++ {
		k := fmt.Appendf(nil, "k%05d", i)
		if err := d.Put(k, fmt.Appendf(nil, "ix%05d", i), fmt.Appendf(nil, "%s-%d", tag, i)); err != nil {
			t.Fatal(err)
		}
	}
}

func snapFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, db.SnapDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCheckpoint_ReopenFromSnapshotAndTruncate(t *testing.T) {
	dir := t.TempDir()
	opts := &db.Options{CheckpointEvery: -1, NoSync: true, Logger: quietLog}
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.Checkpoint(); err != nil || v != 0 {
		t.Fatalf("checkpoint of an empty store = %d, %v; want 0, nil", v, err)
	}
	putN(t, d, 0, 100, "a")
	v1, err := d.Checkpoint()
	if err != nil || v1 != 100 {
		t.Fatalf("checkpoint = %d, %v", v1, err)
	}
	if st := d.Stats(); st.WALFirst != 1 {
		t.Fatalf("first checkpoint must keep the whole WAL for fallback, WALFirst = %d", st.WALFirst)
	}
	putN(t, d, 50, 150, "b")
	v2, err := d.Checkpoint()
	if err != nil || v2 != 200 {
		t.Fatalf("checkpoint = %d, %v", v2, err)
	}
	if st := d.Stats(); st.WALFirst != v1+1 || st.WALLast != v2 {
		t.Fatalf("WAL after second checkpoint = [%d, %d], want [%d, %d]", st.WALFirst, st.WALLast, v1+1, v2)
	}
	putN(t, d, 150, 160, "c")
	v3, _ := d.Checkpoint()
	if got := snapFiles(t, dir); len(got) != 2 || got[0] != snapshot.FileName(v2) || got[1] != snapshot.FileName(v3) {
		t.Fatalf("snapshot files = %v, want the two newest", got)
	}
	putN(t, d, 160, 170, "d")
	want := stateOf(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := stateOf(t, d); got != want {
		t.Fatalf("state after reopen differs:\n%s\nwant\n%s", got, want)
	}
	if st := d.Stats(); st.SnapshotVersion != v3 {
		t.Fatalf("SnapshotVersion = %d, want %d", st.SnapshotVersion, v3)
	}
}

// corruptFile flips one byte in the middle of path.
func corruptFile(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	snaptest.FlipByte(t, path, st.Size()/2)
}

func TestOpen_CorruptNewestSnapshotFallsBack(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	opts := &db.Options{CheckpointEvery: -1, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	putN(t, d, 0, 300, "a")
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	putN(t, d, 100, 400, "b")
	newest, err := d.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	putN(t, d, 390, 420, "c")
	want := stateOf(t, d)
	d.Close()

	corruptFile(t, filepath.Join(dir, db.SnapDir, snapshot.FileName(newest)))
	d, err = db.Open(dir, opts)
	if err != nil {
		t.Fatalf("open with a corrupt newest snapshot: %v", err)
	}
	if got := stateOf(t, d); got != want {
		t.Fatalf("fallback state differs")
	}
	if !strings.Contains(logs.String(), snapshot.FileName(newest)) {
		t.Fatalf("no warning naming the skipped snapshot; logs:\n%s", logs.String())
	}
	d.Close()

	// Both snapshots corrupt and the WAL cut after the older one: nothing
	// valid reaches the WAL, Open must fail naming the files. (The newest
	// is corrupt already; flipping it again would repair it.)
	for _, name := range snapFiles(t, dir) {
		if name != snapshot.FileName(newest) {
			corruptFile(t, filepath.Join(dir, db.SnapDir, name))
		}
	}
	_, err = db.Open(dir, opts)
	var ce *db.CorruptionError
	if !errors.Is(err, db.ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("open with every snapshot corrupt = %v, want ErrCorrupt", err)
	}
	for _, name := range snapFiles(t, dir) {
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("error does not name %s: %v", name, err)
		}
	}
}

func TestOpen_RemovesCheckpointLeftovers(t *testing.T) {
	dir := t.TempDir()
	var logBuf bytes.Buffer
	opts := &db.Options{CheckpointEvery: -1, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	putN(t, d, 0, 10, "a")
	v, _ := d.Checkpoint()
	want := stateOf(t, d)
	d.Close()
	snapDir := filepath.Join(dir, db.SnapDir)
	// A temp file of a checkpoint cut short; a finished file of a
	// checkpoint that meta records as in progress (crash before it was
	// listed); a file named like a snapshot that dualdb never recorded
	// (an operator's copy), and a foreign file: the last two must stay.
	inProgress, copied := snapshot.FileName(v+7), snapshot.FileName(v+9)
	for _, name := range []string{snapshot.FileName(v+5) + snapshot.TempSuffix, inProgress, copied, "old.tmp"} {
		if err := os.WriteFile(filepath.Join(snapDir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bdb, err := bolt.Open(filepath.Join(dir, db.WALFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("snapshots_unlisted"), []byte(fmt.Sprintf("[%d]", v+7)))
	})
	if cerr := bdb.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	d, err = db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, want := snapFiles(t, dir), []string{snapshot.FileName(v), copied, "old.tmp"}; !slices.Equal(got, want) {
		t.Fatalf("snapshot dir after Open = %v, want %v", got, want)
	}
	if stateOf(t, d) != want {
		t.Fatal("state changed")
	}
	for _, name := range []string{copied, "old.tmp"} {
		if !strings.Contains(logBuf.String(), name) {
			t.Errorf("Open did not warn about %s; log:\n%s", name, logBuf.String())
		}
	}
}

func TestCheckpoint_AutomaticRacesWriters(t *testing.T) {
	dir := t.TempDir()
	opts := &db.Options{CheckpointEvery: 25, KeepSnapshots: 2, NoSync: true, Logger: quietLog}
	d, err := db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := fmt.Appendf(nil, "w%d-%03d", w, i%50)
				if err := d.Put(k, fmt.Appendf(nil, "ix-w%d-%03d", w, i%50), fmt.Appendf(nil, "%d", i)); err != nil {
					t.Error(err)
					return
				}
				if i%40 == 0 {
					if _, err := d.Checkpoint(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	want := stateOf(t, d)
	st := d.Stats()
	d.Close()
	if st.Checkpoints == 0 {
		t.Fatal("no checkpoint was taken")
	}
	d, err = db.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := stateOf(t, d); got != want {
		t.Fatal("state after reopen differs")
	}
	if n := len(snapFiles(t, dir)); n > 2 {
		t.Fatalf("%d snapshot files kept, want at most 2", n)
	}
}

func TestCheckpoint_ReadOnly(t *testing.T) {
	dir := t.TempDir()
	d, err := db.Open(dir, &db.Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	putN(t, d, 0, 3, "a")
	d.Close()
	r, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Checkpoint(); !errors.Is(err, db.ErrReadOnly) {
		t.Fatalf("Checkpoint on read-only = %v, want ErrReadOnly", err)
	}
}

// A bulk load is few commits of many bytes: the byte trigger must snapshot
// it even though the commit count never reaches CheckpointEvery.
func TestCheckpoint_AutomaticByBytes(t *testing.T) {
	dir := t.TempDir()
	d, err := db.Open(dir, &db.Options{CheckpointEvery: 1_000_000, CheckpointBytes: 64 << 10, NoSync: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	for batch := 0; batch < 10; batch++ {
		err := d.Update(func(tx *db.Tx) error {
			for i := 0; i < 100; i++ {
				k := fmt.Appendf(nil, "k%d-%d", batch, i)
				if err := tx.Put(k, k, value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The checkpoint runs in the background: wait for it, bounded.
	for i := 0; i < 500 && d.Stats().Checkpoints == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if st := d.Stats(); st.Checkpoints == 0 {
		t.Fatalf("10 commits of ~100 KB with CheckpointBytes=64 KiB took no checkpoint: %+v", st)
	}
}
