package db_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// TestTxIter_WriteWhileIterating: an iteration reads the transaction's
// state as of its start; what the loop body writes is seen by the next
// read and the next iteration, never by the running one.
func TestTxIter_WriteWhileIterating(t *testing.T) {
	d, recs := iterFixture(t)
	err := d.Update(func(tx *db.Tx) error {
		// Write first, so that the transaction's trees have nodes of
		// their own, which later writes change in place (the first write
		// after a commit copies the nodes it touches).
		for _, r := range recs {
			if err := tx.Put(r.Key, r.Index, r.Value); err != nil {
				return err
			}
		}
		var seen []string
		for r := range tx.Ascend(nil, nil) {
			seen = append(seen, string(r.Key))
			// Delete the next record, insert one just after this one, and
			// move this record's index key: none of it shows here.
			next := fmt.Appendf(nil, "k%02d", len(seen))
			if len(seen) < len(recs) {
				if err := tx.Delete(next); err != nil && !errors.Is(err, db.ErrNotFound) {
					return err
				}
			}
			if err := tx.Put(append(bytes.Clone(r.Key), '+'), fmt.Appendf(nil, "new%s", r.Key), nil); err != nil {
				return err
			}
			if err := tx.Put(r.Key, append(bytes.Clone(r.Index), '~'), r.Value); err != nil {
				return err
			}
			got, err := tx.Get(append(bytes.Clone(r.Key), '+'))
			if err != nil || got.Version != 2 {
				t.Fatalf("the body's own write is not visible to tx.Get: %s, %v", fmtRec(got), err)
			}
		}
		if len(seen) != len(recs) {
			t.Fatalf("the iteration saw %d records (%v), want the %d of its start", len(seen), seen, len(recs))
		}
		for i, k := range seen {
			if k != string(recs[i].Key) {
				t.Fatalf("the iteration saw %v, want the records of its start in order", seen)
			}
		}
		// A new iteration sees every write: each kNN was deleted at the
		// turn before its own and put back, with a moved index key, at its
		// own turn; every kNN+ is new.
		var want []string
		for _, k := range seen {
			want = append(want, k, k+"+")
		}
		slices.Sort(want)
		if got := keysOf(tx.Ascend(nil, nil), false); got != strings.Join(want, " ") {
			t.Fatalf("after the loop tx.Ascend = [%s], want [%s]", got, strings.Join(want, " "))
		}
		for _, r := range recs {
			got, err := tx.Get(r.Key)
			if err != nil || string(got.Index) != string(r.Index)+"~" {
				t.Fatalf("after the loop tx.Get(%q) = %s, %v; want index %q", r.Key, fmtRec(got), err, string(r.Index)+"~")
			}
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
}

func TestTxIter_AfterUpdatePanics(t *testing.T) {
	d := openTest(t, nil)
	var kept *db.Tx
	if err := d.Update(func(tx *db.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		p := recover()
		err, ok := p.(error)
		if !ok || !errors.Is(err, db.ErrClosed) {
			t.Fatalf("ranging over a finished Tx: panic %v, want one wrapping ErrClosed", p)
		}
	}()
	for range kept.Ascend(nil, nil) {
	}
	t.Fatal("ranging over a finished Tx did not panic")
}
