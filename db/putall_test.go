package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/snapshot"
)

func rec(key, index, value string) db.Record {
	return db.Record{Key: []byte(key), Index: []byte(index), Value: []byte(value)}
}

// wantState fails tb unless d holds exactly want (versions included),
// checked by key and by index key.
func wantState(tb testing.TB, d *db.DB, want ...db.Record) {
	tb.Helper()
	s := d.Snapshot()
	got := slices.Collect(s.Ascend(nil, nil))
	if !slices.EqualFunc(got, want, sameRecord) {
		tb.Fatalf("store holds [%s], want [%s]", fmtRecs(got), fmtRecs(want))
	}
	for _, w := range want {
		r, err := s.GetByIndex(w.Index)
		if err != nil || !sameRecord(r, w) {
			tb.Fatalf("GetByIndex(%q) = %s, %v; want %s", w.Index, fmtRec(r), err, fmtRec(w))
		}
	}
	checkSnapshot(tb, s)
}

func withVersion(r db.Record, v uint64) db.Record { r.Version = v; return r }

func TestPutAll_SwapAndRotateInOneCall(t *testing.T) {
	d := openTest(t, nil)
	if err := d.PutAll(rec("a", "ia", "A"), rec("b", "ib", "B"), rec("c", "ic", "C")); err != nil {
		t.Fatal(err)
	}
	wantState(t, d, withVersion(rec("a", "ia", "A"), 1), withVersion(rec("b", "ib", "B"), 1), withVersion(rec("c", "ic", "C"), 1))

	// Swap: each takes the index key the other gives up.
	if err := d.PutAll(rec("a", "ib", "A2"), rec("b", "ia", "B2")); err != nil {
		t.Fatalf("swap: %v", err)
	}
	wantState(t, d, withVersion(rec("a", "ib", "A2"), 2), withVersion(rec("b", "ia", "B2"), 2), withVersion(rec("c", "ic", "C"), 1))

	// Rotation of three, with a fresh record in the same batch.
	if err := d.PutAll(rec("a", "ic", "A3"), rec("b", "ib", "B3"), rec("c", "ia", "C3"), rec("d", "id", "D")); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	want := []db.Record{withVersion(rec("a", "ic", "A3"), 3), withVersion(rec("b", "ib", "B3"), 3), withVersion(rec("c", "ia", "C3"), 3), withVersion(rec("d", "id", "D"), 3)}
	wantState(t, d, want...)
	if v := d.Version(); v != 3 {
		t.Fatalf("Version %d, want 3: one version per PutAll", v)
	}

	// The WAL holds the steps as ops that replay one at a time.
	d = reopenTest(t, d, nil)
	wantState(t, d, want...)
	// And a snapshot keeps the versions.
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	d = reopenTest(t, d, nil)
	wantState(t, d, want...)
}

func TestPutAll_RefusedChangesNothing(t *testing.T) {
	d := openTest(t, nil)
	if err := d.PutAll(rec("a", "ia", "A"), rec("b", "ib", "B"), rec("x", "ix", "X")); err != nil {
		t.Fatal(err)
	}
	before := []db.Record{withVersion(rec("a", "ia", "A"), 1), withVersion(rec("b", "ib", "B"), 1), withVersion(rec("x", "ix", "X"), 1)}
	for _, tc := range []struct {
		name       string
		recs       []db.Record
		target     error
		key, owner string // of the *ConflictError
	}{
		// a gives up ia, but x (outside the batch) keeps ix.
		{"owned-outside", []db.Record{rec("a", "ix", "A2"), rec("b", "ia", "B2")}, db.ErrConflict, "a", "x"},
		// Both ask for the index key nobody holds.
		{"owned-twice-in-batch", []db.Record{rec("a", "inew", ""), rec("b", "inew", "")}, db.ErrConflict, "b", "a"},
		// b's index key is free only if b gives it up: here b keeps it.
		{"not-given-up", []db.Record{rec("a", "ib", ""), rec("b", "ib", "")}, db.ErrConflict, "b", "a"},
		{"duplicate-key", []db.Record{rec("a", "i1", ""), rec("a", "i2", "")}, db.ErrDuplicateKey, "", ""},
		{"empty-key", []db.Record{rec("c", "ic", ""), rec("", "i", "")}, db.ErrEmptyKey, "", ""},
		{"too-large", []db.Record{rec("c", "ic", ""), rec("d", "id", strings.Repeat("v", db.DefaultMaxValueSize+1))}, db.ErrTooLarge, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.PutAll(tc.recs...)
			if !errors.Is(err, tc.target) {
				t.Fatalf("PutAll = %v, want %v", err, tc.target)
			}
			if tc.target == db.ErrConflict {
				var ce *db.ConflictError
				if !errors.As(err, &ce) || string(ce.Key) != tc.key || string(ce.Owner) != tc.owner {
					t.Fatalf("PutAll = %v, want a conflict of key %q with owner %q", err, tc.key, tc.owner)
				}
			}
			if v := d.Version(); v != 1 {
				t.Fatalf("refused PutAll took a version: %d", v)
			}
			wantState(t, d, before...)
		})
	}
	// A refused PutAll inside a transaction leaves the transaction as it
	// was; the transaction goes on and commits the rest.
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put([]byte("c"), []byte("ic"), []byte("C")); err != nil {
			return err
		}
		if err := tx.PutAll(rec("a", "ix", ""), rec("c", "ia", "")); !errors.Is(err, db.ErrConflict) {
			t.Fatalf("tx.PutAll = %v, want ErrConflict", err)
		}
		r, err := tx.Get([]byte("c"))
		wantRecord(t, "tx.Get(c) after the refused PutAll", r, err, "c", "ic", "C")
		r, err = tx.GetByIndex([]byte("ia"))
		wantRecord(t, "tx.GetByIndex(ia) after the refused PutAll", r, err, "a", "ia", "A")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, append(before[:2:2], withVersion(rec("c", "ic", "C"), 2), before[2])...)
	if err := d.PutAll(); err != nil || d.Version() != 2 {
		t.Fatalf("empty PutAll = %v, version %d; want nil and no new version", err, d.Version())
	}
}

func TestInsert(t *testing.T) {
	d := openTest(t, nil)
	if err := d.Insert([]byte("a"), []byte("ia"), []byte("A")); err != nil {
		t.Fatal(err)
	}
	err := d.Insert([]byte("a"), []byte("other"), []byte("A2"))
	if !errors.Is(err, db.ErrExists) || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("Insert of an existing key = %v, want ErrExists naming the key", err)
	}
	err = d.Insert([]byte("b"), []byte("ia"), []byte("B"))
	var ce *db.ConflictError
	if !errors.As(err, &ce) || string(ce.Owner) != "a" {
		t.Fatalf("Insert with a taken index key = %v, want a conflict with a", err)
	}
	if v := d.Version(); v != 1 {
		t.Fatalf("refused Inserts took versions: %d", v)
	}
	err = d.Update(func(tx *db.Tx) error {
		if err := tx.Insert([]byte("a"), []byte("ia"), nil); !errors.Is(err, db.ErrExists) {
			t.Fatalf("tx.Insert of an existing key = %v", err)
		}
		if err := tx.Delete([]byte("a")); err != nil {
			return err
		}
		// Deleted in this transaction: free to insert again.
		return tx.Insert([]byte("a"), []byte("ia2"), []byte("A3"))
	})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, withVersion(rec("a", "ia2", "A3"), 2))
}

// TestRecordVersion follows Record.Version through every way a record is
// read, and through the WAL and a snapshot on reopen.
func TestRecordVersion(t *testing.T) {
	d := openTest(t, &db.Options{CheckpointEvery: -1})
	mustPut(t, d, "a", "ia", "A")           // 1
	mustPut(t, d, "b", "ib", "B")           // 2
	err := d.Update(func(tx *db.Tx) error { // 3
		r, err := tx.Get([]byte("a"))
		if err != nil || r.Version != 1 {
			t.Fatalf("tx.Get(a) = %s, %v; want version 1", fmtRec(r), err)
		}
		if err := tx.Put([]byte("a"), []byte("ia"), []byte("A2")); err != nil {
			return err
		}
		// The transaction's own writes carry the version it commits as.
		for _, get := range []func() (db.Record, error){
			func() (db.Record, error) { return tx.Get([]byte("a")) },
			func() (db.Record, error) { return tx.GetByIndex([]byte("ia")) },
		} {
			if r, err := get(); err != nil || r.Version != 3 {
				t.Fatalf("own write read back as %s, %v; want version 3", fmtRec(r), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Version is ignored on input.
	if err := d.PutAll(db.Record{Key: []byte("c"), Index: []byte("ic"), Version: 99}); err != nil { // 4
		t.Fatal(err)
	}
	want := []db.Record{withVersion(rec("a", "ia", "A2"), 3), withVersion(rec("b", "ib", "B"), 2), withVersion(rec("c", "ic", ""), 4)}
	wantState(t, d, want...)
	for _, get := range []func([]byte) (db.Record, error){d.Get, d.Snapshot().Get} {
		if r, err := get([]byte("b")); err != nil || r.Version != 2 {
			t.Fatalf("Get(b) = %s, %v; want version 2", fmtRec(r), err)
		}
	}
	for _, seq := range []func(yield func(db.Record) bool){
		d.Snapshot().Descend(nil, nil), d.Snapshot().AscendIndex(nil, nil), d.Snapshot().DescendIndex(nil, nil),
		d.Snapshot().AscendPrefix(nil), d.Snapshot().AscendIndexPrefix(nil),
	} {
		got := slices.Collect(seq)
		slices.SortFunc(got, func(a, b db.Record) int { return bytes.Compare(a.Key, b.Key) })
		if !slices.EqualFunc(got, want, sameRecord) {
			t.Fatalf("an iterator yields [%s], want [%s]", fmtRecs(got), fmtRecs(want))
		}
	}
	d = reopenTest(t, d, nil) // WAL replay
	wantState(t, d, want...)
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "b", "ib", "B2") // 5, in the WAL after the snapshot
	want[1] = withVersion(rec("b", "ib", "B2"), 5)
	d = reopenTest(t, d, nil) // snapshot + WAL
	wantState(t, d, want...)
}

// TestRecordVersion_FormatV1Snapshot loads a store whose snapshot is of
// format 1, which holds no record versions: its records get Version 0
// (unknown), records replayed from the WAL after it get theirs, and a new
// snapshot keeps both.
func TestRecordVersion_FormatV1Snapshot(t *testing.T) {
	// Not openTest: its cleanup would compare the store with the state
	// before the snapshot was rewritten.
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "a", "ia", "A") // 1
	mustPut(t, d, "b", "ib", "B") // 2
	v, err := d.Checkpoint()
	if err != nil || v != 2 {
		t.Fatalf("Checkpoint = %d, %v", v, err)
	}
	mustPut(t, d, "c", "ic", "C") // 3
	// Rewrite the snapshot as an older build wrote it, same store and version.
	path := filepath.Join(dir, db.SnapDir, snapshot.FileName(2))
	var recs []snapshot.Record
	h, err := snapshot.Read(path, nil, func(r snapshot.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Version != 1 || recs[1].Version != 2 {
		t.Fatalf("format-2 snapshot holds versions %d, %d; want 1, 2", recs[0].Version, recs[1].Version)
	}
	h.Format = snapshot.FormatV1
	if _, _, err := snapshot.Write(filepath.Dir(path), h, slices.Values(recs), nil); err != nil {
		t.Fatal(err)
	}
	if h, err := snapshot.ReadHeader(path, nil); err != nil || h.Format != snapshot.FormatV1 {
		t.Fatalf("rewritten header %+v, %v", h, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	want := []db.Record{rec("a", "ia", "A"), rec("b", "ib", "B"), withVersion(rec("c", "ic", "C"), 3)}
	wantState(t, d2, want...)
	if _, err := d2.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	d3, err := db.Open(dir, &db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d3, want...)
	if err := d3.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Verify(dir, nil)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("Verify: %v, %v", rep.Findings, err)
	}
}

func TestSnapshot_Prefix(t *testing.T) {
	d := openTest(t, nil)
	err := d.PutAll(
		rec("user:1", "mail:ada", ""), rec("user:10", "mail:alan", ""), rec("user:2", "name:grace", ""),
		rec("users", "mail:\xff", ""), rec("\xff\xff", "\xff", ""), rec("\xff\xff\x00", "\xff\xff", ""),
	)
	if err != nil {
		t.Fatal(err)
	}
	s := d.Snapshot()
	for _, tc := range []struct {
		byIndex bool
		prefix  string
		want    string
	}{
		{false, "user:", "user:1 user:10 user:2"},
		{false, "user:1", "user:1 user:10"},
		{false, "user", "user:1 user:10 user:2 users"},
		{false, "", "user:1 user:10 user:2 users \xff\xff \xff\xff\x00"},
		{false, "\xff", "\xff\xff \xff\xff\x00"},
		{false, "\xff\xff", "\xff\xff \xff\xff\x00"},
		{false, "user:3", ""},
		{false, "zzz", ""},
		{true, "mail:", "mail:ada mail:alan mail:\xff"},
		{true, "mail:\xff", "mail:\xff"},
		{true, "name", "name:grace"},
		{true, "\xff", "\xff \xff\xff"},
		{true, "m", "mail:ada mail:alan mail:\xff"},
	} {
		seq, name := s.AscendPrefix([]byte(tc.prefix)), "AscendPrefix"
		if tc.byIndex {
			seq, name = s.AscendIndexPrefix([]byte(tc.prefix)), "AscendIndexPrefix"
		}
		if got := keysOf(seq, tc.byIndex); got != tc.want {
			t.Errorf("%s(%q) = [%q], want [%q]", name, tc.prefix, got, tc.want)
		}
	}
	// nil is the empty prefix: everything.
	if n := len(slices.Collect(s.AscendPrefix(nil))); n != s.Len() {
		t.Errorf("AscendPrefix(nil) yields %d records, want %d", n, s.Len())
	}
	// A transaction's prefix scans see its own writes.
	err = d.Update(func(tx *db.Tx) error {
		if err := tx.Delete([]byte("user:10")); err != nil {
			return err
		}
		if err := tx.Put([]byte("user:3"), []byte("mail:zed"), nil); err != nil {
			return err
		}
		if got := keysOf(tx.AscendPrefix([]byte("user:")), false); got != "user:1 user:2 user:3" {
			t.Errorf("tx.AscendPrefix(user:) = [%s]", got)
		}
		if got := keysOf(tx.AscendIndexPrefix([]byte("mail:")), true); got != "mail:ada mail:zed mail:\xff" {
			t.Errorf("tx.AscendIndexPrefix(mail:) = [%q]", got)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
}

// TestPutAll_LargeBatchLog: a batch large enough for the WAL ops to be
// encoded beside the index work must log exactly what a small one does
// (Deletes of the records giving up index keys, in batch order, then every
// Put in batch order, after the transaction's earlier ops), with or
// without givers, and a refused one must log nothing.
func TestPutAll_LargeBatchLog(t *testing.T) {
	const n = 300 // above the size encoded on another goroutine
	d := openTest(t, &db.Options{NoSync: true})
	batch := func(prefix string) []db.Record {
		recs := make([]db.Record, n)
		for i := range recs {
			recs[i] = db.Record{Key: fmt.Appendf(nil, "%s-k%04d", prefix, n-i), Index: fmt.Appendf(nil, "%s-i%04d", prefix, i), Value: fmt.Appendf(nil, "v%d", i)}
		}
		return recs
	}
	type op struct {
		kind db.OpKind
		rec  db.Record
	}
	logged := func(v uint64) []op {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for c, err := range d.Changes(ctx, v-1) {
			if err != nil {
				t.Fatal(err)
			}
			var ops []op
			for _, o := range c.Ops {
				ops = append(ops, op{o.Kind, o.Record})
			}
			return ops
		}
		return nil
	}
	wantLog := func(what string, v uint64, want []op) {
		t.Helper()
		got := logged(v)
		if len(got) != len(want) {
			t.Fatalf("%s: version %d logged %d ops, want %d", what, v, len(got), len(want))
		}
		for i := range want {
			w := want[i].rec
			if want[i].kind == db.OpPut {
				w.Version = v
			}
			if got[i].kind != want[i].kind || !sameRecord(got[i].rec, w) {
				t.Fatalf("%s: version %d op %d is %v %s, want %v %s", what, v, i, got[i].kind, fmtRec(got[i].rec), want[i].kind, fmtRec(w))
			}
		}
	}
	puts := func(recs []db.Record) (ops []op) {
		for _, r := range recs {
			ops = append(ops, op{db.OpPut, r})
		}
		return ops
	}

	// Fresh records, alone in their transaction.
	first := batch("a")
	if err := d.PutAll(first...); err != nil {
		t.Fatal(err)
	}
	wantLog("fresh", d.Version(), puts(first))

	// Records of the first batch rotate index keys (positions 10, 20, 30
	// give theirs up, listed in reverse), after an earlier op.
	second := batch("b")
	olds := []db.Record{withVersion(first[10], 1), withVersion(first[20], 1), withVersion(first[30], 1)}
	second[5] = db.Record{Key: first[30].Key, Index: first[10].Index, Value: []byte("x30")}
	second[6] = db.Record{Key: first[20].Key, Index: first[30].Index, Value: []byte("x20")}
	second[7] = db.Record{Key: first[10].Key, Index: first[20].Index, Value: []byte("x10")}
	pre := rec("pre", "pre-i", "P")
	err := d.Update(func(tx *db.Tx) error {
		if err := tx.Put(pre.Key, pre.Index, pre.Value); err != nil {
			return err
		}
		return tx.PutAll(second...)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []op{{db.OpPut, pre}}
	// Givers in batch order: second[5] (first[30]), [6] (first[20]), [7] (first[10]).
	want = append(want, op{db.OpDelete, olds[2]}, op{db.OpDelete, olds[1]}, op{db.OpDelete, olds[0]})
	wantLog("rotation after a put", d.Version(), append(want, puts(second)...))

	// A swap alone in its transaction: givers with an empty log so far.
	third := batch("c")
	third[0] = db.Record{Key: first[1].Key, Index: first[2].Index, Value: []byte("s1")}
	third[1] = db.Record{Key: first[2].Key, Index: first[1].Index, Value: []byte("s2")}
	if err := d.PutAll(third...); err != nil {
		t.Fatal(err)
	}
	wantLog("swap", d.Version(), append([]op{{db.OpDelete, withVersion(first[1], 1)}, {db.OpDelete, withVersion(first[2], 1)}}, puts(third)...))

	// Fresh records after an earlier op of the transaction.
	fourth := batch("e")
	err = d.Update(func(tx *db.Tx) error {
		if err := tx.Delete(pre.Key); err != nil {
			return err
		}
		return tx.PutAll(fourth...)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLog("fresh after a delete", d.Version(), append([]op{{db.OpDelete, withVersion(pre, 2)}}, puts(fourth)...))

	// A refused batch logs nothing; the transaction goes on.
	refused := batch("d")
	refused[n-1].Index = first[0].Index
	post := rec("post", "post-i", "Q")
	err = d.Update(func(tx *db.Tx) error {
		var ce *db.ConflictError
		if err := tx.PutAll(refused...); !errors.As(err, &ce) {
			return fmt.Errorf("conflicting batch: %v, want a *ConflictError", err)
		}
		return tx.Put(post.Key, post.Index, post.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLog("after a refused batch", d.Version(), []op{{db.OpPut, post}})
	// first, second (3 of its keys were first's), third (2 of its keys
	// were first's), fourth, post.
	if got, want := d.Snapshot().Len(), n+(n-3)+(n-2)+n+1; got != want {
		t.Fatalf("store holds %d records, want %d", got, want)
	}
	// The log replays to the same store.
	reopenTest(t, d, nil)
}
