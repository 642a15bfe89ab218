package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// A harness owns one store directory for the length of a test. openTest
// creates it; reopenTest hands it to a new *db.DB. At cleanup the newest
// DB is closed, the store is reopened read-only, Snapshot.Check(0) must
// find nothing, and the reopened state must equal the state the DB held
// just before Close (bbolt internal/btesting style).
type harness struct {
	tb   testing.TB
	dir  string
	opts *db.Options
	d    *db.DB // the newest DB on dir
	done bool   // cleanup ran, or the test took the store over
}

// harnesses maps every DB opened by openTest or reopenTest to its harness.
var harnesses sync.Map // *db.DB -> *harness

// openTest opens a new store in a fresh t.TempDir() and arranges the
// cleanup check described at harness. The store directory itself is
// created by Open (it does not exist before), so its mode is Open's.
func openTest(tb testing.TB, opts *db.Options) *db.DB {
	tb.Helper()
	h := &harness{tb: tb, dir: filepath.Join(tb.TempDir(), "store"), opts: opts}
	d, err := db.Open(h.dir, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", h.dir, err)
	}
	h.d = d
	harnesses.Store(d, h)
	tb.Cleanup(h.cleanup)
	return d
}

// reopenTest closes d (opened by openTest or reopenTest), checks that the
// store reopens to exactly the state d had, and returns the new DB, opened
// with opts (nil: the options of the first open).
func reopenTest(tb testing.TB, d *db.DB, opts *db.Options) *db.DB {
	tb.Helper()
	v, ok := harnesses.Load(d)
	if !ok {
		tb.Fatalf("reopenTest: DB not opened by openTest")
	}
	h := v.(*harness)
	if h.d != d {
		tb.Fatalf("reopenTest: DB is not the newest one of its store")
	}
	if opts == nil {
		opts = h.opts
	}
	before := snapDump(d.Snapshot())
	if err := d.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	nd, err := db.Open(h.dir, opts)
	if err != nil {
		tb.Fatalf("reopen %s: %v", h.dir, err)
	}
	harnesses.Delete(d)
	harnesses.Store(nd, h)
	h.d = nd
	if diff := before.diff(snapDump(nd.Snapshot())); diff != "" {
		tb.Fatalf("reopen changed the store: %s", diff)
	}
	checkSnapshot(tb, nd.Snapshot())
	return nd
}

func (h *harness) cleanup() {
	h.tb.Helper()
	if h.done {
		return
	}
	h.done = true
	harnesses.Delete(h.d)
	// The snapshot of a closed DB stays valid: it is the last durable state.
	before := snapDump(h.d.Snapshot())
	if err := h.d.Close(); err != nil {
		h.tb.Errorf("cleanup: Close: %v", err)
		return
	}
	ro, err := db.Open(h.dir, &db.Options{ReadOnly: true})
	if err != nil {
		h.tb.Errorf("cleanup: reopen %s read-only: %v", h.dir, err)
		return
	}
	defer func() {
		if err := ro.Close(); err != nil {
			h.tb.Errorf("cleanup: Close read-only: %v", err)
		}
	}()
	s := ro.Snapshot()
	if f := s.Check(0); len(f) != 0 {
		h.tb.Errorf("cleanup: Check found %d problems, first: %s", len(f), f[0])
	}
	if diff := before.diff(snapDump(s)); diff != "" {
		h.tb.Errorf("cleanup: read-only reopen differs from the state before Close: %s", diff)
	}
	// And the whole store on disk, as `dualdb verify` checks it.
	rep, err := db.Verify(h.dir, nil)
	if err != nil {
		h.tb.Errorf("cleanup: Verify %s: %v", h.dir, err)
		return
	}
	for _, f := range rep.Findings {
		h.tb.Errorf("cleanup: Verify: %s", f)
	}
}

// checkSnapshot fails tb if s breaks an invariant.
func checkSnapshot(tb testing.TB, s *db.Snapshot) {
	tb.Helper()
	if f := s.Check(0); len(f) != 0 {
		tb.Fatalf("Check at version %d found %d problems, first: %s", s.Version(), len(f), f[0])
	}
}

// storeDump is the whole content of a snapshot, in key order.
type storeDump struct {
	version uint64
	n       int
	recs    []db.Record
}

func snapDump(s *db.Snapshot) storeDump {
	d := storeDump{version: s.Version(), n: s.Len()}
	for r := range s.Ascend(nil, nil) {
		d.recs = append(d.recs, r)
	}
	return d
}

// diff describes the first difference between want and got, or is empty.
func (want storeDump) diff(got storeDump) string {
	if want.version != got.version {
		return fmt.Sprintf("version %d, want %d", got.version, want.version)
	}
	if want.n != got.n {
		return fmt.Sprintf("Len %d, want %d", got.n, want.n)
	}
	if len(want.recs) != len(got.recs) {
		return fmt.Sprintf("%d records by Ascend, want %d", len(got.recs), len(want.recs))
	}
	for i := range want.recs {
		if !sameRecord(want.recs[i], got.recs[i]) {
			return fmt.Sprintf("record %d is %s, want %s", i, fmtRec(got.recs[i]), fmtRec(want.recs[i]))
		}
	}
	return ""
}

// sameRecord reports whether a and b are equal, Version included.
func sameRecord(a, b db.Record) bool {
	return sameContent(a, b) && a.Version == b.Version
}

// sameContent reports whether a and b have equal keys and values, whatever
// their versions.
func sameContent(a, b db.Record) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Index, b.Index) && bytes.Equal(a.Value, b.Value)
}

func fmtRec(r db.Record) string {
	return fmt.Sprintf("{%q %q %q v%d}", r.Key, r.Index, r.Value, r.Version)
}

// mustPut fails tb if Put fails.
func mustPut(tb testing.TB, d *db.DB, key, index, value string) {
	tb.Helper()
	if err := d.Put([]byte(key), []byte(index), []byte(value)); err != nil {
		tb.Fatalf("Put(%q, %q, %q): %v", key, index, value, err)
	}
}

// wantRecord fails tb unless r is {key, index, value} and err is nil; it
// does not look at r.Version.
func wantRecord(tb testing.TB, what string, r db.Record, err error, key, index, value string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v, want {%q %q %q}", what, err, key, index, value)
	}
	if !sameContent(r, db.Record{Key: []byte(key), Index: []byte(index), Value: []byte(value)}) {
		tb.Fatalf("%s = %s, want {%q %q %q}", what, fmtRec(r), key, index, value)
	}
}

// wantErr fails tb unless errors.Is(err, target).
func wantErr(tb testing.TB, what string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// storeWithTail creates a store in a fresh directory holding the record
// a -> ia -> A at version 1, closes it, and appends a WAL record of ops as
// version 2 behind dualdb's back, as damage or an older writer could
// leave it. It returns the store directory and the WAL path.
func storeWithTail(tb testing.TB, opts *db.Options, ops []wal.Op) (dir, walPath string) {
	tb.Helper()
	dir = tb.TempDir()
	d, err := db.Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	mustPut(tb, d, "a", "ia", "A")
	if err := d.Close(); err != nil {
		tb.Fatal(err)
	}
	walPath = filepath.Join(dir, db.WALFile)
	l, err := wal.Open(walPath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Append(1, []wal.Entry{{Version: 2, Data: wal.AppendRecord(nil, 2, ops)}}); err != nil {
		tb.Fatal(err)
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return dir, walPath
}
