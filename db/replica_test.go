package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
)

// replicaRecords lists a replica's records by key as "key/index=value".
func replicaRecords(s *db.Snapshot) []string {
	var out []string
	for r := range s.Ascend(nil, nil) {
		out = append(out, fmt.Sprintf("%s/%s=%s", r.Key, r.Index, r.Value))
	}
	return out
}

func TestReplica_ApplyAtGivenVersions(t *testing.T) {
	r := db.NewReplica(nil)
	if v := r.Version(); v != 0 {
		t.Fatalf("new replica Version = %d, want 0", v)
	}
	// Gaps, as a log's non-command entries leave them.
	if err := r.Apply(3, func(tx *db.Tx) error { return tx.Put([]byte("a"), []byte("x"), []byte("1")) }); err != nil {
		t.Fatalf("Apply(3): %v", err)
	}
	old := r.Snapshot()
	if err := r.Apply(7, func(tx *db.Tx) error {
		if err := tx.Put([]byte("b"), []byte("y"), []byte("2")); err != nil {
			return err
		}
		return tx.Delete([]byte("a"))
	}); err != nil {
		t.Fatalf("Apply(7): %v", err)
	}
	if v := r.Version(); v != 7 {
		t.Errorf("Version = %d, want 7", v)
	}
	if got := fmt.Sprint(replicaRecords(r.Snapshot())); got != "[b/y=2]" {
		t.Errorf("records at 7 = %s, want [b/y=2]", got)
	}
	if old.Version() != 3 || fmt.Sprint(replicaRecords(old)) != "[a/x=1]" {
		t.Errorf("snapshot taken at 3 changed: version %d, %v", old.Version(), replicaRecords(old))
	}
	for _, v := range []uint64{7, 5} {
		err := r.Apply(v, func(tx *db.Tx) error { return tx.Put([]byte("c"), []byte("z"), nil) })
		if !errors.Is(err, db.ErrVersionOrder) {
			t.Errorf("Apply(%d) at 7 = %v, want ErrVersionOrder", v, err)
		}
	}
	if _, err := r.Snapshot().Get([]byte("c")); !errors.Is(err, db.ErrNotFound) || r.Version() != 7 {
		t.Errorf("a refused Apply changed the replica: Get(c) = %v, Version %d", err, r.Version())
	}
}

func TestReplica_FailedCommandRollsBackAndTakesVersion(t *testing.T) {
	r := db.NewReplica(nil)
	if err := r.Apply(1, func(tx *db.Tx) error { return tx.Put([]byte("a"), []byte("x"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	// The second put conflicts: the first must be rolled back too.
	err := r.Apply(2, func(tx *db.Tx) error {
		if err := tx.Put([]byte("b"), []byte("y"), []byte("2")); err != nil {
			return err
		}
		return tx.Put([]byte("c"), []byte("x"), []byte("3"))
	})
	var ce *db.ConflictError
	if !errors.As(err, &ce) || string(ce.Owner) != "a" {
		t.Fatalf("Apply(2) = %v, want a *ConflictError owned by a", err)
	}
	if v := r.Version(); v != 2 {
		t.Errorf("Version after a failed command = %d, want 2", v)
	}
	if got := fmt.Sprint(replicaRecords(r.Snapshot())); got != "[a/x=1]" {
		t.Errorf("records after a failed command = %s, want [a/x=1]", got)
	}
	// A panic rolls back as well, and the head stays usable.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in Apply was not re-raised")
			}
		}()
		_ = r.Apply(3, func(tx *db.Tx) error {
			_ = tx.Put([]byte("d"), []byte("w"), nil)
			panic("boom")
		})
	}()
	if err := r.Apply(4, func(tx *db.Tx) error { return tx.Put([]byte("e"), []byte("v"), []byte("5")) }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(replicaRecords(r.Snapshot())); got != "[a/x=1 e/v=5]" {
		t.Errorf("records = %s, want [a/x=1 e/v=5]", got)
	}
	if f := r.Snapshot().Check(0); len(f) != 0 {
		t.Errorf("Check: %v", f)
	}
}

func TestReplica_SnapshotRoundTrip(t *testing.T) {
	src := db.NewReplica(nil)
	for i := range 500 {
		if err := src.Apply(uint64(2*i+1), func(tx *db.Tx) error {
			return tx.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "x%04d", 499-i), bytes.Repeat([]byte{byte(i)}, i%7))
		}); err != nil {
			t.Fatal(err)
		}
	}
	snap := src.Snapshot()
	// A write after the snapshot was taken must not show in the stream.
	if err := src.Apply(5000, func(tx *db.Tx) error { return tx.Delete([]byte("k0000")) }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	id := [16]byte{1, 2, 3}
	if err := src.WriteSnapshot(&buf, snap, id); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "s.dsnap")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := db.NewReplica(nil)
	h, err := dst.RestoreSnapshot(path)
	if err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	if h.StoreID != id || h.Version != snap.Version() || dst.Version() != snap.Version() {
		t.Errorf("restored header %+v, Version %d; want id %x version %d", h, dst.Version(), id, snap.Version())
	}
	if got, want := replicaRecords(dst.Snapshot()), replicaRecords(snap); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored records differ: %d vs %d records", len(got), len(want))
	}
	if r, err := dst.Snapshot().GetByIndex([]byte("x0499")); err != nil || string(r.Key) != "k0000" {
		t.Errorf("GetByIndex(x0499) on restored replica = %q, %v (secondary index not rebuilt)", r.Key, err)
	}
	// Applying continues after the restored version.
	if err := dst.Apply(snap.Version(), func(tx *db.Tx) error { return nil }); !errors.Is(err, db.ErrVersionOrder) {
		t.Errorf("Apply at the restored version = %v, want ErrVersionOrder", err)
	}
}

func TestReplica_RestoreRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	dst := db.NewReplica(nil)
	if err := dst.Apply(9, func(tx *db.Tx) error { return tx.Put([]byte("keep"), []byte("me"), nil) }); err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string) {
		t.Helper()
		if dst.Version() != 9 || fmt.Sprint(replicaRecords(dst.Snapshot())) != "[keep/me=]" {
			t.Errorf("%s changed the replica: version %d, %v", what, dst.Version(), replicaRecords(dst.Snapshot()))
		}
	}

	// A flipped byte in the compressed stream.
	src := db.NewReplica(nil)
	for i := range 50 {
		if err := src.Apply(uint64(i+1), func(tx *db.Tx) error {
			return tx.Put(fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "x%02d", i), []byte("value"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := src.WriteSnapshot(&buf, src.Snapshot(), [16]byte{}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	b[snapshot.HeaderSize+10] ^= 0xff
	flipped := filepath.Join(dir, "flipped.dsnap")
	if err := os.WriteFile(flipped, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.RestoreSnapshot(flipped); !errors.Is(err, db.ErrCorrupt) {
		t.Errorf("RestoreSnapshot(flipped byte) = %v, want ErrCorrupt", err)
	}
	unchanged("a damaged file")

	// A well-formed file whose index key is owned twice.
	buf.Reset()
	enc, err := snapshot.NewEncoder(&buf, snapshot.Header{Version: 4, Count: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := enc.Add(snapshot.Record{Key: []byte(k), Index: []byte("same")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(dir, "dup.dsnap")
	if err := os.WriteFile(dup, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = dst.RestoreSnapshot(dup)
	var ce *db.CorruptionError
	if !errors.As(err, &ce) || ce.File != dup {
		t.Errorf("RestoreSnapshot(duplicate index) = %v, want a *CorruptionError naming %s", err, dup)
	}
	unchanged("a duplicated index key")
}
