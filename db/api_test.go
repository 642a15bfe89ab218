package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

func TestOpen_NilOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open(nil opts): %v", err)
	}
	if v := d.Version(); v != 0 {
		t.Errorf("new store Version = %d, want 0", v)
	}
	if n := d.Snapshot().Len(); n != 0 {
		t.Errorf("new store Len = %d, want 0", n)
	}
	mustPut(t, d, "k", "i", "v")
	r, err := d.Get([]byte("k"))
	wantRecord(t, "Get", r, err, "k", "i", "v")
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestPut_GetGetByIndex(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "user:1", "ada@example.com", "Ada")
	mustPut(t, d, "user:2", "alan@example.com", "Alan")

	r, err := d.Get([]byte("user:1"))
	wantRecord(t, "Get(user:1)", r, err, "user:1", "ada@example.com", "Ada")
	r, err = d.GetByIndex([]byte("alan@example.com"))
	wantRecord(t, "GetByIndex(alan)", r, err, "user:2", "alan@example.com", "Alan")

	_, err = d.Get([]byte("user:3"))
	wantErr(t, "Get(missing)", err, db.ErrNotFound)
	_, err = d.GetByIndex([]byte("nobody@example.com"))
	wantErr(t, "GetByIndex(missing)", err, db.ErrNotFound)
	// The index key is not a primary key and vice versa.
	_, err = d.Get([]byte("ada@example.com"))
	wantErr(t, "Get(index key)", err, db.ErrNotFound)
	_, err = d.GetByIndex([]byte("user:1"))
	wantErr(t, "GetByIndex(key)", err, db.ErrNotFound)

	s := d.Snapshot()
	r, err = s.Get([]byte("user:2"))
	wantRecord(t, "Snapshot.Get", r, err, "user:2", "alan@example.com", "Alan")
	r, err = s.GetByIndex([]byte("ada@example.com"))
	wantRecord(t, "Snapshot.GetByIndex", r, err, "user:1", "ada@example.com", "Ada")
	_, err = s.Get([]byte("user:3"))
	wantErr(t, "Snapshot.Get(missing)", err, db.ErrNotFound)
	_, err = s.GetByIndex([]byte("x"))
	wantErr(t, "Snapshot.GetByIndex(missing)", err, db.ErrNotFound)
	if s.Len() != 2 || s.Version() != 2 {
		t.Fatalf("Snapshot Len, Version = %d, %d; want 2, 2", s.Len(), s.Version())
	}
}

func TestPut_ReplaceSameIndex(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "k", "i", "v1")
	mustPut(t, d, "k", "i", "v2")
	r, err := d.Get([]byte("k"))
	wantRecord(t, "Get", r, err, "k", "i", "v2")
	r, err = d.GetByIndex([]byte("i"))
	wantRecord(t, "GetByIndex", r, err, "k", "i", "v2")
	if n := d.Snapshot().Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
	// Replacing with identical content is still a commit.
	mustPut(t, d, "k", "i", "v2")
	if v := d.Version(); v != 3 {
		t.Fatalf("Version = %d, want 3", v)
	}
}

func TestPut_ReplaceDifferentIndex(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "k", "old", "v1")
	mustPut(t, d, "k", "new", "v2")
	r, err := d.GetByIndex([]byte("new"))
	wantRecord(t, "GetByIndex(new)", r, err, "k", "new", "v2")
	_, err = d.GetByIndex([]byte("old"))
	wantErr(t, "GetByIndex(old) after move", err, db.ErrNotFound)
	// The old index key is free: another record may take it.
	mustPut(t, d, "k2", "old", "w")
	r, err = d.GetByIndex([]byte("old"))
	wantRecord(t, "GetByIndex(old) after reuse", r, err, "k2", "old", "w")
	if n := d.Snapshot().Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	checkSnapshot(t, d.Snapshot())
}

func TestPut_Conflict(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "user:1", "ada@example.com", "Ada")
	mustPut(t, d, "user:2", "alan@example.com", "Alan")
	before := snapDump(d.Snapshot())

	for _, key := range []string{"user:2", "user:3"} { // existing and new key
		err := d.Put([]byte(key), []byte("ada@example.com"), []byte("x"))
		wantErr(t, "Put("+key+", taken index)", err, db.ErrConflict)
		var ce *db.ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("Put(%s, taken index): %T %v is not a *ConflictError", key, err, err)
		}
		if string(ce.Owner) != "user:1" || string(ce.Key) != key || string(ce.Index) != "ada@example.com" {
			t.Fatalf("ConflictError{Index %q, Key %q, Owner %q}, want {ada@example.com %s user:1}", ce.Index, ce.Key, ce.Owner, key)
		}
		if !strings.Contains(err.Error(), "user:1") {
			t.Errorf("conflict message %q does not name the owner", err)
		}
		if diff := before.diff(snapDump(d.Snapshot())); diff != "" {
			t.Fatalf("a conflicting Put changed the store: %s", diff)
		}
	}
	if st := d.Stats(); st.Commits != 2 {
		t.Errorf("Stats.Commits = %d after 2 good Puts and 2 conflicts, want 2", st.Commits)
	}
}

func TestTx_ConflictThenGoOn(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	// A conflict inside a transaction changes nothing; the transaction
	// may go on and commit its other writes: here a swap with a parking key.
	err := d.Update(func(tx *db.Tx) error {
		err := tx.Put([]byte("a"), []byte("ib"), []byte("A"))
		var ce *db.ConflictError
		if !errors.As(err, &ce) || string(ce.Owner) != "b" {
			t.Errorf("tx.Put(a, ib): %v, want a conflict owned by b", err)
		}
		if r, err := tx.Get([]byte("a")); err != nil || string(r.Index) != "ia" {
			t.Errorf("after a failed tx.Put, tx.Get(a) = %s, %v; want index ia", fmtRec(r), err)
		}
		for _, p := range [][3]string{{"a", "park", "A"}, {"b", "ia", "B"}, {"a", "ib", "A"}} {
			if err := tx.Put([]byte(p[0]), []byte(p[1]), []byte(p[2])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("swap Update: %v", err)
	}
	r, err := d.GetByIndex([]byte("ia"))
	wantRecord(t, "GetByIndex(ia)", r, err, "b", "ia", "B")
	r, err = d.GetByIndex([]byte("ib"))
	wantRecord(t, "GetByIndex(ib)", r, err, "a", "ib", "A")
	_, err = d.GetByIndex([]byte("park"))
	wantErr(t, "GetByIndex(park)", err, db.ErrNotFound)
	if v := d.Version(); v != 3 {
		t.Fatalf("Version = %d, want 3 (one for the whole swap)", v)
	}
}

func TestDelete(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "k", "i", "v")
	mustPut(t, d, "k2", "i2", "v2")
	if err := d.Delete([]byte("k")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := d.Get([]byte("k"))
	wantErr(t, "Get after Delete", err, db.ErrNotFound)
	_, err = d.GetByIndex([]byte("i"))
	wantErr(t, "GetByIndex after Delete", err, db.ErrNotFound)
	if v := d.Version(); v != 3 {
		t.Fatalf("Version = %d, want 3", v)
	}
	err = d.Delete([]byte("k"))
	wantErr(t, "second Delete", err, db.ErrNotFound)
	err = d.Delete([]byte("never"))
	wantErr(t, "Delete(missing)", err, db.ErrNotFound)
	if v := d.Version(); v != 3 {
		t.Fatalf("Version = %d after failed Deletes, want 3", v)
	}
	// The index key of a deleted record is free.
	mustPut(t, d, "k3", "i", "v3")
	if n := d.Snapshot().Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
}

func TestEmptyKey(t *testing.T) {
	d := openTest(t, nil)
	for _, key := range [][]byte{nil, {}} {
		wantErr(t, "Put(empty key)", d.Put(key, []byte("i"), []byte("v")), db.ErrEmptyKey)
		wantErr(t, "Delete(empty key)", d.Delete(key), db.ErrEmptyKey)
		err := d.Update(func(tx *db.Tx) error {
			wantErr(t, "tx.Put(empty key)", tx.Put(key, []byte("i"), nil), db.ErrEmptyKey)
			wantErr(t, "tx.Delete(empty key)", tx.Delete(key), db.ErrEmptyKey)
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	if v, n := d.Version(), d.Snapshot().Len(); v != 0 || n != 0 {
		t.Fatalf("Version, Len = %d, %d after rejected writes; want 0, 0", v, n)
	}
}

func TestTooLarge(t *testing.T) {
	d := openTest(t, &db.Options{MaxKeySize: 8, MaxValueSize: 16})
	k8, k9 := bytes.Repeat([]byte("k"), 8), bytes.Repeat([]byte("k"), 9)
	v16, v17 := bytes.Repeat([]byte("v"), 16), bytes.Repeat([]byte("v"), 17)
	if err := d.Put(k8, k8, v16); err != nil {
		t.Fatalf("Put at the limits: %v", err)
	}
	cases := []struct {
		name              string
		key, index, value []byte
	}{
		{"key", k9, []byte("a"), nil},
		{"index", []byte("a"), k9, nil},
		{"value", []byte("a"), []byte("a"), v17},
	}
	for _, c := range cases {
		err := d.Put(c.key, c.index, c.value)
		wantErr(t, "Put with too large "+c.name, err, db.ErrTooLarge)
		err = d.Update(func(tx *db.Tx) error { return tx.Put(c.key, c.index, c.value) })
		wantErr(t, "tx.Put with too large "+c.name, err, db.ErrTooLarge)
	}
	if v, n := d.Version(), d.Snapshot().Len(); v != 1 || n != 1 {
		t.Fatalf("Version, Len = %d, %d; want 1, 1", v, n)
	}
	// The limits are fixed at creation: a reopen with default options
	// keeps them.
	d = reopenTest(t, d, &db.Options{})
	for _, c := range cases {
		wantErr(t, "after reopen, Put with too large "+c.name, d.Put(c.key, c.index, c.value), db.ErrTooLarge)
	}
}

func TestPut_CopiesArguments(t *testing.T) {
	d := openTest(t, nil)
	key, index, value := []byte("key"), []byte("idx"), []byte("val")
	if err := d.Put(key, index, value); err != nil {
		t.Fatal(err)
	}
	copy(key, "XXX")
	copy(index, "YYY")
	copy(value, "ZZZ")
	r, err := d.Get([]byte("key"))
	wantRecord(t, "Get after the caller reused its buffers", r, err, "key", "idx", "val")
	r, err = d.GetByIndex([]byte("idx"))
	wantRecord(t, "GetByIndex after the caller reused its buffers", r, err, "key", "idx", "val")

	// Tx.Put copies too, also before the commit is encoded and frozen.
	buf := []byte("k2")
	ibuf := []byte("i2")
	vbuf := []byte("v2")
	err = d.Update(func(tx *db.Tx) error {
		if err := tx.Put(buf, ibuf, vbuf); err != nil {
			return err
		}
		copy(buf, "QQ")
		copy(ibuf, "RR")
		copy(vbuf, "SS")
		r, err := tx.Get([]byte("k2"))
		wantRecord(t, "tx.Get after the caller reused its buffers", r, err, "k2", "i2", "v2")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err = d.Get([]byte("k2"))
	wantRecord(t, "Get(k2)", r, err, "k2", "i2", "v2")

	// A returned Record stays valid after the record is replaced.
	old, _ := d.Get([]byte("key"))
	mustPut(t, d, "key", "idx2", "val2")
	wantRecord(t, "old Record after replace", old, nil, "key", "idx", "val")
	d = reopenTest(t, d, nil)
	r, err = d.Get([]byte("k2"))
	wantRecord(t, "Get(k2) after reopen", r, err, "k2", "i2", "v2")
}

func TestTx_ReadYourWrites(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	err := d.Update(func(tx *db.Tx) error {
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("in tx: %v", err)
			}
		}
		must(tx.Put([]byte("c"), []byte("ic"), []byte("C")))
		r, err := tx.Get([]byte("c"))
		wantRecord(t, "tx.Get(new)", r, err, "c", "ic", "C")
		r, err = tx.GetByIndex([]byte("ic"))
		wantRecord(t, "tx.GetByIndex(new)", r, err, "c", "ic", "C")

		must(tx.Put([]byte("a"), []byte("ia2"), []byte("A2")))
		r, err = tx.GetByIndex([]byte("ia2"))
		wantRecord(t, "tx.GetByIndex(moved)", r, err, "a", "ia2", "A2")
		_, err = tx.GetByIndex([]byte("ia"))
		wantErr(t, "tx.GetByIndex(old index)", err, db.ErrNotFound)

		must(tx.Delete([]byte("b")))
		_, err = tx.Get([]byte("b"))
		wantErr(t, "tx.Get(deleted)", err, db.ErrNotFound)
		_, err = tx.GetByIndex([]byte("ib"))
		wantErr(t, "tx.GetByIndex(deleted)", err, db.ErrNotFound)
		wantErr(t, "tx.Delete(deleted)", tx.Delete([]byte("b")), db.ErrNotFound)

		// Readers outside see nothing of the transaction yet.
		if _, err := d.Get([]byte("c")); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("d.Get(c) during the tx: %v, want ErrNotFound", err)
		}
		r, err = d.Get([]byte("b"))
		wantRecord(t, "d.Get(b) during the tx", r, err, "b", "ib", "B")
		if v := d.Version(); v != 2 {
			t.Errorf("Version during the tx = %d, want 2", v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if v := d.Version(); v != 3 {
		t.Fatalf("Version = %d, want 3", v)
	}
	r, err := d.GetByIndex([]byte("ia2"))
	wantRecord(t, "GetByIndex(ia2)", r, err, "a", "ia2", "A2")
	_, err = d.Get([]byte("b"))
	wantErr(t, "Get(b)", err, db.ErrNotFound)
}

var errAbort = errors.New("test: abort")

func TestUpdate_RollbackOnError(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	before := snapDump(d.Snapshot())
	err := d.Update(func(tx *db.Tx) error {
		for _, e := range []error{
			tx.Put([]byte("c"), []byte("ic"), []byte("C")),
			tx.Put([]byte("a"), []byte("ia2"), []byte("A2")),
			tx.Delete([]byte("b")),
		} {
			if e != nil {
				t.Fatalf("in tx: %v", e)
			}
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if diff := before.diff(snapDump(d.Snapshot())); diff != "" {
		t.Fatalf("rolled back Update changed the store: %s", diff)
	}
	// The writer's head was rolled back too: the next transaction sees the
	// old state, not the aborted writes.
	err = d.Update(func(tx *db.Tx) error {
		if _, err := tx.Get([]byte("c")); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("next tx.Get(c) = %v, want ErrNotFound", err)
		}
		r, err := tx.GetByIndex([]byte("ia"))
		wantRecord(t, "next tx.GetByIndex(ia)", r, err, "a", "ia", "A")
		return tx.Put([]byte("d"), []byte("id"), []byte("D"))
	})
	if err != nil {
		t.Fatalf("Update after a rollback: %v", err)
	}
	if v, n := d.Version(), d.Snapshot().Len(); v != 3 || n != 3 {
		t.Fatalf("Version, Len = %d, %d; want 3, 3", v, n)
	}
	if st := d.Stats(); st.Commits != 3 {
		t.Fatalf("Stats.Commits = %d, want 3", st.Commits)
	}
	// The aborted writes never reached the WAL either.
	d = reopenTest(t, d, nil)
	if _, err := d.Get([]byte("c")); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Get(c) after reopen = %v, want ErrNotFound", err)
	}
}

func TestUpdate_RollbackOnPanic(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	before := snapDump(d.Snapshot())
	var got any
	func() {
		defer func() { got = recover() }()
		_ = d.Update(func(tx *db.Tx) error {
			if err := tx.Put([]byte("b"), []byte("ib"), []byte("B")); err != nil {
				t.Errorf("tx.Put: %v", err)
			}
			if err := tx.Delete([]byte("a")); err != nil {
				t.Errorf("tx.Delete: %v", err)
			}
			panic("test: boom")
		})
	}()
	if got != "test: boom" {
		t.Fatalf("recovered %v, want the panic of fn re-raised", got)
	}
	if diff := before.diff(snapDump(d.Snapshot())); diff != "" {
		t.Fatalf("panicked Update changed the store: %s", diff)
	}
	// The writer lock was released and the head restored.
	done := make(chan error, 1)
	go func() {
		done <- d.Update(func(tx *db.Tx) error {
			if _, err := tx.Get([]byte("b")); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("tx.Get(b) after the panic = %v, want ErrNotFound", err)
			}
			return tx.Put([]byte("c"), []byte("ic"), []byte("C"))
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Update after a panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Update after a panicking Update hangs: writer lock not released")
	}
	if v, n := d.Version(), d.Snapshot().Len(); v != 2 || n != 2 {
		t.Fatalf("Version, Len = %d, %d; want 2, 2", v, n)
	}
}

func TestTx_UseAfterUpdate(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	for _, ret := range []error{nil, errAbort} {
		var leaked *db.Tx
		_ = d.Update(func(tx *db.Tx) error {
			leaked = tx
			if ret == nil {
				return tx.Put([]byte("b"), []byte("ib"), []byte("B"))
			}
			return ret
		})
		v := d.Version()
		wantErr(t, "leaked tx.Put", leaked.Put([]byte("x"), []byte("ix"), nil), db.ErrClosed)
		wantErr(t, "leaked tx.Delete", leaked.Delete([]byte("a")), db.ErrClosed)
		_, err := leaked.Get([]byte("a"))
		wantErr(t, "leaked tx.Get", err, db.ErrClosed)
		_, err = leaked.GetByIndex([]byte("ia"))
		wantErr(t, "leaked tx.GetByIndex", err, db.ErrClosed)
		if _, err := d.Get([]byte("x")); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("leaked tx.Put reached the store: Get(x) = %v", err)
		}
		if d.Version() != v {
			t.Fatalf("leaked tx changed the version")
		}
	}
}

func TestUpdate_EmptyTakesNoVersion(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	st0 := d.Stats()
	fns := map[string]func(tx *db.Tx) error{
		"nothing": func(tx *db.Tx) error { return nil },
		"reads only": func(tx *db.Tx) error {
			_, err := tx.Get([]byte("a"))
			return err
		},
		"failed writes only": func(tx *db.Tx) error {
			_ = tx.Put([]byte("b"), []byte("ia"), nil) // conflict
			_ = tx.Delete([]byte("missing"))           // not found
			return nil
		},
	}
	for name, fn := range fns {
		if err := d.Update(fn); err != nil {
			t.Fatalf("%s: Update: %v", name, err)
		}
		if v := d.Version(); v != 1 {
			t.Fatalf("%s: Version = %d, want 1", name, v)
		}
	}
	if st := d.Stats(); st.Commits != st0.Commits || st.GroupCommits != st0.GroupCommits {
		t.Fatalf("empty Updates wrote: Commits %d -> %d, GroupCommits %d -> %d",
			st0.Commits, st.Commits, st0.GroupCommits, st.GroupCommits)
	}
	mustPut(t, d, "b", "ib", "B")
	if v := d.Version(); v != 2 {
		t.Fatalf("Version = %d after one more Put, want 2", v)
	}
}

func TestVersion_OnePerCommit(t *testing.T) {
	d := openTest(t, nil)
	want := uint64(0)
	check := func(what string) {
		t.Helper()
		if v := d.Version(); v != want {
			t.Fatalf("after %s: Version = %d, want %d", what, v, want)
		}
		if s := d.Snapshot(); s.Version() != want {
			t.Fatalf("after %s: Snapshot.Version = %d, want %d", what, s.Version(), want)
		}
		if st := d.Stats(); st.Version != want {
			t.Fatalf("after %s: Stats.Version = %d, want %d", what, st.Version, want)
		}
	}
	check("Open")
	mustPut(t, d, "a", "ia", "A")
	want++
	check("Put")
	err := d.Update(func(tx *db.Tx) error {
		for _, k := range []string{"b", "c", "d"} {
			if err := tx.Put([]byte(k), []byte("i"+k), nil); err != nil {
				return err
			}
		}
		return tx.Delete([]byte("a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	want++
	check("an Update of 4 ops")
	_ = d.Delete([]byte("a"))
	check("a failed Delete")
	_ = d.Put([]byte("x"), []byte("ib"), nil)
	check("a conflicting Put")
	if err := d.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	want++
	check("Delete")
	d = reopenTest(t, d, nil)
	check("reopen")
	mustPut(t, d, "e", "ie", "E")
	want++
	check("Put after reopen")
}

func TestClose(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	s := d.Snapshot()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := d.Get([]byte("a"))
	wantErr(t, "Get after Close", err, db.ErrClosed)
	_, err = d.GetByIndex([]byte("ia"))
	wantErr(t, "GetByIndex after Close", err, db.ErrClosed)
	wantErr(t, "Put after Close", d.Put([]byte("b"), []byte("ib"), nil), db.ErrClosed)
	wantErr(t, "Delete after Close", d.Delete([]byte("a")), db.ErrClosed)
	called := false
	err = d.Update(func(*db.Tx) error { called = true; return nil })
	wantErr(t, "Update after Close", err, db.ErrClosed)
	err = d.View(func(*db.Snapshot) error { called = true; return nil })
	wantErr(t, "View after Close", err, db.ErrClosed)
	if called {
		t.Fatal("Update or View called fn after Close")
	}
	// A Snapshot taken before Close stays valid.
	r, err := s.Get([]byte("a"))
	wantRecord(t, "Snapshot.Get after Close", r, err, "a", "ia", "A")
}

func TestView(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	err := d.View(func(s *db.Snapshot) error {
		if s.Version() != 1 || s.Len() != 1 {
			t.Errorf("View snapshot Version, Len = %d, %d; want 1, 1", s.Version(), s.Len())
		}
		r, err := s.GetByIndex([]byte("ia"))
		wantRecord(t, "View GetByIndex", r, err, "a", "ia", "A")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.View(func(*db.Snapshot) error { return errAbort }); !errors.Is(err, errAbort) {
		t.Fatalf("View = %v, want fn's error", err)
	}
}

func TestOpen_Locked(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	for _, ro := range []bool{false, true} {
		start := time.Now()
		d2, err := db.Open(d.Dir(), &db.Options{ReadOnly: ro})
		elapsed := time.Since(start)
		if err == nil {
			_ = d2.Close()
			t.Fatalf("second Open (ReadOnly=%v) of a store held by a writer succeeded", ro)
		}
		wantErr(t, "second Open", err, db.ErrLocked)
		if elapsed > 3*time.Second {
			t.Fatalf("second Open (ReadOnly=%v) took %v to return ErrLocked, want < 3s", ro, elapsed)
		}
		t.Logf("ReadOnly=%v: ErrLocked after %v", ro, elapsed)
	}
	// The holder is unaffected.
	mustPut(t, d, "b", "ib", "B")
}

func TestOpen_ReadOnly(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	dir := d.Dir()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	defer ro.Close()
	// Read-only opens share the store.
	ro2, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("second read-only Open: %v", err)
	}
	defer ro2.Close()

	for _, r := range []*db.DB{ro, ro2} {
		if v := r.Version(); v != 2 {
			t.Fatalf("read-only Version = %d, want 2", v)
		}
		rec, err := r.Get([]byte("a"))
		wantRecord(t, "read-only Get", rec, err, "a", "ia", "A")
		rec, err = r.GetByIndex([]byte("ib"))
		wantRecord(t, "read-only GetByIndex", rec, err, "b", "ib", "B")
		n := 0
		for range r.Snapshot().AscendIndex(nil, nil) {
			n++
		}
		if n != 2 {
			t.Fatalf("read-only AscendIndex saw %d records, want 2", n)
		}
	}
	wantErr(t, "read-only Put", ro.Put([]byte("c"), []byte("ic"), nil), db.ErrReadOnly)
	wantErr(t, "read-only Delete", ro.Delete([]byte("a")), db.ErrReadOnly)
	called := false
	err = ro.Update(func(*db.Tx) error { called = true; return nil })
	wantErr(t, "read-only Update", err, db.ErrReadOnly)
	if called {
		t.Fatal("read-only Update called fn")
	}
	// Read-only opens released the store once loaded: a writer opens
	// beside them, and they keep the version they loaded.
	w, err := db.Open(dir, nil)
	if err != nil {
		t.Fatalf("writable Open beside read-only opens: %v", err)
	}
	if v := w.Version(); v != 2 {
		t.Fatalf("writer's Version = %d, want 2", v)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); err != nil {
		t.Fatalf("Close read-only: %v", err)
	}
	_, err = ro.Get([]byte("a"))
	wantErr(t, "read-only Get after Close", err, db.ErrClosed)
}

func TestOpen_ReadOnlyMissing(t *testing.T) {
	base := t.TempDir()
	for _, dir := range []string{filepath.Join(base, "missing"), base} { // no dir; dir without a store
		d, err := db.Open(dir, &db.Options{ReadOnly: true})
		if err == nil {
			_ = d.Close()
			t.Fatalf("read-only Open of %s (no store) succeeded", dir)
		}
		t.Logf("read-only Open of %s: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(base, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only Open created the directory: stat err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, db.WALFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only Open created %s: stat err = %v", db.WALFile, err)
	}
}

func TestOpen_FileModes(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	dir := d.Dir()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o700 {
		t.Errorf("store directory mode %o, want 0700", m)
	}
	st, err = os.Stat(filepath.Join(dir, db.WALFile))
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("%s mode %o, want 0600", db.WALFile, m)
	}
	// Everything else in the store too.
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		}
		if m := info.Mode().Perm(); m != want {
			t.Errorf("%s mode %o, want %o", p, m, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	d := openTest(t, nil)
	st := d.Stats()
	if st.Version != 0 || st.Records != 0 || st.Commits != 0 || st.GroupCommits != 0 || st.Failed != nil {
		t.Fatalf("new store Stats = %+v", st)
	}
	for i, k := range []string{"a", "b", "c"} {
		mustPut(t, d, k, "i"+k, k)
		st = d.Stats()
		n := uint64(i + 1)
		if st.Version != n || st.Records != i+1 || st.Commits != n || st.GroupCommits != n {
			t.Fatalf("after %d sequential Puts: Version %d Records %d Commits %d GroupCommits %d; want all %d",
				n, st.Version, st.Records, st.Commits, st.GroupCommits, n)
		}
		if st.WALLast != n || st.WALRecords != n || st.WALBytesWritten == 0 {
			t.Fatalf("after %d Puts: WALLast %d WALRecords %d WALBytesWritten %d", n, st.WALLast, st.WALRecords, st.WALBytesWritten)
		}
	}
	if err := d.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	st = d.Stats()
	if st.Version != 4 || st.Records != 2 || st.Commits != 4 {
		t.Fatalf("after Delete: Version %d Records %d Commits %d; want 4 2 4", st.Version, st.Records, st.Commits)
	}
	// Counters are per Open; the figures of the store are not.
	d = reopenTest(t, d, nil)
	st = d.Stats()
	if st.Version != 4 || st.Records != 2 || st.Commits != 0 || st.GroupCommits != 0 {
		t.Fatalf("after reopen: Version %d Records %d Commits %d GroupCommits %d; want 4 2 0 0",
			st.Version, st.Records, st.Commits, st.GroupCommits)
	}
	if st.WALLast != 4 || st.WALFirst != 1 || st.WALRecords != 4 {
		t.Fatalf("after reopen: WALFirst %d WALLast %d WALRecords %d; want 1 4 4", st.WALFirst, st.WALLast, st.WALRecords)
	}
}

// TestClose_WritersInFlight: Close while writers run. Every Put returns
// nil or ErrClosed; every acknowledged Put is in the reopened store and
// nothing else is.
func TestClose_WritersInFlight(t *testing.T) {
	d := openTest(t, nil)
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	started := make(chan struct{}, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d:%05d", w, i)
				err := d.Put([]byte(k), []byte(k), nil)
				if err != nil {
					if !errors.Is(err, db.ErrClosed) {
						t.Errorf("Put(%s) during Close: %v, want nil or ErrClosed", k, err)
					}
					return
				}
				mu.Lock()
				acked[k] = true
				mu.Unlock()
				if i == 3 {
					started <- struct{}{}
				}
			}
		})
	}
	for range 8 {
		<-started
	}
	var cwg sync.WaitGroup
	for range 3 { // concurrent Closes are fine too
		cwg.Go(func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	cwg.Wait()
	wg.Wait()
	d = reopenTest(t, d, nil)
	s := d.Snapshot()
	if s.Len() != len(acked) || s.Version() != uint64(len(acked)) {
		t.Fatalf("reopened store: Len %d, Version %d; %d Puts were acknowledged", s.Len(), s.Version(), len(acked))
	}
	for k := range acked {
		if _, err := s.Get([]byte(k)); err != nil {
			t.Fatalf("acknowledged Put(%s) lost: %v", k, err)
		}
	}
}

// recordingObserver records what the DB reports.
type recordingObserver struct {
	db.NopObserver
	mu       sync.Mutex
	commits  []db.CommitEvent
	groups   []db.GroupCommitEvent
	recovery []db.RecoveryEvent
	scans    []db.ScanEvent
}

func (o *recordingObserver) Commit(e db.CommitEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commits = append(o.commits, e)
}

func (o *recordingObserver) GroupCommit(e db.GroupCommitEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups = append(o.groups, e)
}

func (o *recordingObserver) Recovery(e db.RecoveryEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.recovery = append(o.recovery, e)
}

func (o *recordingObserver) Scan(e db.ScanEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.scans = append(o.scans, e)
}

func TestObserver(t *testing.T) {
	obs := &recordingObserver{}
	d := openTest(t, &db.Options{Observer: obs})
	if len(obs.recovery) != 1 || obs.recovery[0].Version != 0 {
		t.Fatalf("Recovery events after Open: %+v, want one at version 0", obs.recovery)
	}
	mustPut(t, d, "a", "ia", "A")
	mustPut(t, d, "b", "ib", "B")
	_ = d.Update(func(*db.Tx) error { return nil })                                     // empty
	_ = d.Update(func(tx *db.Tx) error { _ = tx.Delete([]byte("a")); return errAbort }) // rolled back
	_ = d.Put([]byte("c"), []byte("ia"), nil)                                           // conflict
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put([]byte("c"), []byte("ic"), nil); err != nil {
			return err
		}
		return tx.Delete([]byte("a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	var vs []uint64
	for _, e := range obs.commits {
		if e.Err != nil {
			t.Errorf("CommitEvent with error %v", e.Err)
		}
		vs = append(vs, e.Version)
	}
	if fmt.Sprint(vs) != "[1 2 3]" || obs.commits[2].Ops != 2 {
		t.Errorf("CommitEvents: versions %v, ops of the last %d; want [1 2 3] and 2", vs, obs.commits[2].Ops)
	}
	records := 0
	for _, g := range obs.groups {
		records += g.Records
	}
	if records != 3 || obs.groups[len(obs.groups)-1].LastVersion != 3 {
		t.Errorf("GroupCommitEvents carry %d records, last version %d; want 3 and 3", records, obs.groups[len(obs.groups)-1].LastVersion)
	}
	obs.mu.Unlock()

	s := d.Snapshot()
	for range s.Ascend(nil, nil) {
	}
	for range s.DescendIndex(nil, nil) {
		break
	}
	obs.mu.Lock()
	if len(obs.scans) != 2 || obs.scans[0].ByIndex || obs.scans[0].Items != 2 || !obs.scans[1].ByIndex || obs.scans[1].Items != 1 {
		t.Errorf("ScanEvents %+v, want {ByIndex:false Items:2} then {ByIndex:true Items:1}", obs.scans)
	}
	obs.mu.Unlock()

	d = reopenTest(t, d, &db.Options{Observer: obs})
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if r := obs.recovery[len(obs.recovery)-1]; r.Version != 3 || r.Records != 2 {
		t.Errorf("Recovery after reopen %+v, want Version 3, Records 2", r)
	}
}

// After Close every method says ErrClosed, also on a read-only DB, where
// ErrReadOnly used to win.
func TestClose_ReadOnlyThenErrClosed(t *testing.T) {
	dir := t.TempDir()
	d, err := db.Open(dir, &db.Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	r, err := db.Open(dir, &db.Options{ReadOnly: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Put([]byte("k"), nil, nil); !errors.Is(err, db.ErrClosed) {
		t.Fatalf("Put after Close on a read-only DB = %v, want ErrClosed", err)
	}
	if _, err := r.Checkpoint(); !errors.Is(err, db.ErrClosed) {
		t.Fatalf("Checkpoint after Close on a read-only DB = %v, want ErrClosed", err)
	}
}

// A limit the caller sets explicitly wins over the one fixed at creation,
// even when it equals the default.
func TestOpen_ExplicitDefaultLimitWins(t *testing.T) {
	dir := t.TempDir()
	d, err := db.Open(dir, &db.Options{MaxKeySize: 8, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = db.Open(dir, &db.Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put([]byte("123456789"), nil, nil); !errors.Is(err, db.ErrTooLarge) {
		t.Fatalf("zero MaxKeySize must keep the creation limit 8: %v", err)
	}
	d.Close()
	d, err = db.Open(dir, &db.Options{MaxKeySize: db.DefaultMaxKeySize, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Put([]byte("123456789"), nil, nil); err != nil {
		t.Fatalf("explicit MaxKeySize=%d must apply: %v", db.DefaultMaxKeySize, err)
	}
}
