package db_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// A read-only DB keeps no lock once loaded: a writer opens beside any
// number of them, also in the same process.
func TestOpen_ReadOnlyNeverLocksOutWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "a", "ia", "A")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var readers []*db.DB
	for range 3 {
		r, err := db.Open(dir, &db.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("read-only Open: %v", err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	w, err := db.Open(dir, &db.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("writer's Open beside 3 read-only DBs: %v", err)
	}
	mustPut(t, w, "b", "ib", "B")
	for _, r := range readers {
		if v := r.Version(); v != 1 {
			t.Fatalf("reader's Version = %d after a writer's commit, want the 1 it loaded", v)
		}
		rec, err := r.Get([]byte("a"))
		wantRecord(t, "reader's Get", rec, err, "a", "ia", "A")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A writer waits for a reader that is still loading (here a read-only
// wal.Log holding the shared lock) for up to LockTimeout; when the reader
// does not let go in time the error says readers hold the store.
func TestOpen_WriterWaitsForLoadingReader(t *testing.T) {
	d := openTest(t, nil)
	mustPut(t, d, "a", "ia", "A")
	dir := d.Dir()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	walPath := filepath.Join(dir, db.WALFile)
	hold := func() *wal.Log {
		l, err := wal.Open(walPath, &wal.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// The reader never lets go: ErrLocked naming readers.
	l := hold()
	_, err := db.Open(dir, &db.Options{LockTimeout: 300 * time.Millisecond})
	wantErr(t, "writer's Open beside a reader that keeps the lock", err, db.ErrLocked)
	var le *db.LockedError
	if !errors.As(err, &le) || le.Writer {
		t.Fatalf("err = %#v, want a *LockedError with Writer false", err)
	}
	if !strings.Contains(err.Error(), "held by read-only opens") {
		t.Fatalf("message %q does not say readers hold the store", err)
	}

	// The reader lets go while the writer waits: the writer opens.
	released := make(chan error, 1)
	go func() {
		time.Sleep(400 * time.Millisecond) // past a few of the writer's attempts
		released <- l.Close()
	}()
	w, err := db.Open(dir, &db.Options{LockTimeout: time.Minute})
	if err != nil {
		t.Fatalf("writer's Open while a reader finishes loading: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Against a writer, both a writer's and a reader's Open fail with a
// message saying a writer holds the store, without waiting out a long
// LockTimeout.
func TestOpen_LockedByWriterSaysSo(t *testing.T) {
	d := openTest(t, nil)
	for _, ro := range []bool{false, true} {
		done := make(chan error, 1)
		go func() {
			_, err := db.Open(d.Dir(), &db.Options{ReadOnly: ro, LockTimeout: time.Hour})
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute): // a hang, not a timing assertion
			t.Fatalf("Open (ReadOnly=%v) of a store held by a writer waited out LockTimeout", ro)
		}
		wantErr(t, "Open of a store held by a writer", err, db.ErrLocked)
		var le *db.LockedError
		if !errors.As(err, &le) || !le.Writer {
			t.Fatalf("ReadOnly=%v: err = %#v, want a *LockedError with Writer true", ro, err)
		}
		if !strings.Contains(err.Error(), "held by a writer") {
			t.Fatalf("message %q does not say a writer holds the store", err)
		}
	}
}
