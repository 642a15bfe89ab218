package db_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/wal"
)

// A WAL tail of large and small commits (bulk PutAll batches, PutAll
// swaps, which log their givers' deletes first, transactions moving an
// index key from one record to the next in op order, a key put twice,
// deletes) reopens to the very state the store had: a guard for any
// faster way of replaying large commits.
func TestReplay_LargeCommitsSameState(t *testing.T) {
	d := openTest(t, &db.Options{NoSync: true, CheckpointEvery: -1, Logger: quietLog})
	rec := func(i int, ix, val string) db.Record {
		return db.Record{Key: fmt.Appendf(nil, "k%06d", i), Index: []byte(ix), Value: []byte(val)}
	}
	// Bulk batches of new records, then one rewriting half of them, some
	// to fresh index keys (their old ones go free).
	for b := range 4 {
		var recs []db.Record
		for i := b * 500; i < (b+1)*500; i++ {
			recs = append(recs, rec(i, fmt.Sprintf("ix%06d", i), "v1"))
		}
		if err := d.PutAll(recs...); err != nil {
			t.Fatal(err)
		}
	}
	var recs []db.Record
	for i := 0; i < 2000; i += 4 {
		ix := fmt.Sprintf("ix%06d", i)
		if i%8 == 0 {
			ix = fmt.Sprintf("moved%06d", i)
		}
		recs = append(recs, rec(i, ix, "v2"))
	}
	if err := d.PutAll(recs...); err != nil {
		t.Fatal(err)
	}
	// A swap of index keys inside a large PutAll.
	recs = recs[:0]
	for i := 1; i < 700; i += 2 {
		recs = append(recs, rec(i, fmt.Sprintf("ix%06d", i+2), "swapped"))
	}
	recs = append(recs, rec(701, fmt.Sprintf("ix%06d", 1), "swapped"))
	if err := d.PutAll(recs...); err != nil {
		t.Fatal(err)
	}
	// Puts only, in op order: k1001 leaves its index key, k1003 takes it;
	// k1005 is put twice; then many plain updates.
	err := d.Update(func(tx *db.Tx) error {
		steps := [][3]string{
			{"k001001", "elsewhere", "a"}, {"k001003", "ix001001", "b"},
			{"k001005", "ix001005", "c"}, {"k001005", "twice", "d"},
		}
		for _, s := range steps {
			if err := tx.Put([]byte(s[0]), []byte(s[1]), []byte(s[2])); err != nil {
				return err
			}
		}
		for i := 1100; i < 1500; i++ {
			k, ix := fmt.Appendf(nil, "k%06d", i), fmt.Appendf(nil, "ix%06d", i)
			if err := tx.Put(k, ix, []byte("v3")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Deletes in a large commit, and small commits.
	err = d.Update(func(tx *db.Tx) error {
		for i := 1500; i < 1800; i++ {
			if err := tx.Delete(fmt.Appendf(nil, "k%06d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "k000000", "ix001500", "small")
	reopenTest(t, d, nil) // fails unless the state after replay is the state before Close
}

// A large commit of puts that does not apply op by op is corruption even
// though the batch as a whole could be applied (an index key taken before
// its owner, later in the same commit, gives it up), and so are a put
// taking an index key an earlier op of the commit took, and a delete of a
// missing key after many puts: Open names the version and the op.
func TestReplay_LargeCommitThatDoesNotApplyIsCorrupt(t *testing.T) {
	puts := func(n int) []wal.Op {
		var ops []wal.Op
		for i := range n {
			ops = append(ops, wal.Op{Kind: wal.OpPut, Key: fmt.Appendf(nil, "n%04d", i), Index: fmt.Appendf(nil, "nix%04d", i), Value: []byte("v")})
		}
		return ops
	}
	for _, tc := range []struct {
		name   string
		ops    func() []wal.Op
		reason string
	}{
		{"taken before given up", func() []wal.Op {
			ops := puts(300)
			ops[100] = wal.Op{Kind: wal.OpPut, Key: []byte("new"), Index: []byte("ia"), Value: []byte("v")}
			ops[250] = wal.Op{Kind: wal.OpPut, Key: []byte("a"), Index: []byte("elsewhere"), Value: []byte("v")}
			return ops
		}, `replay op 100 (put "new"): index key "ia" belongs to key "a"`},
		{"index key twice", func() []wal.Op {
			ops := puts(300)
			ops[20].Index = ops[10].Index
			return ops
		}, `replay op 20 (put "n0020"): index key "nix0010" belongs to key "n0010"`},
		{"delete of missing key", func() []wal.Op {
			return append(puts(300), wal.Op{Kind: wal.OpDelete, Key: []byte("missing")})
		}, `replay op 300: delete of missing key "missing"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := storeWithTail(t, &db.Options{Logger: quietLog}, tc.ops())
			d, err := db.Open(dir, &db.Options{Logger: quietLog})
			if err == nil {
				d.Close()
				t.Fatal("Open replayed a commit that does not apply op by op")
			}
			var ce *db.CorruptionError
			if !errors.As(err, &ce) || ce.File != path || ce.Version != 2 || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("Open: %v; want a corruption error at version 2 of %s saying %s", err, path, tc.reason)
			}
		})
	}
}
