package db_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dualdb/dualdb/db"
)

// TestReopen_KeepsEveryCommit writes a random workload in rounds, reopens
// the store after each round (reopenTest compares the state before Close
// with the state after Open) and compares it with a model. NoSync stores
// must round-trip through a clean Close exactly like durable ones.
func TestReopen_KeepsEveryCommit(t *testing.T) {
	seed := testSeed(t)
	modes := []struct {
		name   string
		noSync func(round int) bool
	}{
		{"durable", func(int) bool { return false }},
		{"nosync", func(int) bool { return true }},
		{"mixed", func(round int) bool { return round%2 == 0 }},
	}
	for mi, mode := range modes {
		t.Run("mode="+mode.name, func(t *testing.T) {
			tb := seededTB{t, seed}
			r := rand.New(rand.NewPCG(seed, uint64(mi)))
			w := &workload{r: r, keys: 120, indexes: 100}
			d := openTest(tb, &db.Options{NoSync: mode.noSync(0)})
			m := newModel()
			for round := range 6 {
				for i := 0; i < 60; {
					before := m.version
					var diff string
					switch r.IntN(3) {
					case 0:
						diff = w.update(d, m)
					default:
						diff = w.writeStep(d, m)
					}
					if diff != "" {
						tb.Fatalf("round %d, write %d: %s", round, i, diff)
					}
					if m.version != before {
						i++
					}
				}
				d = reopenTest(tb, d, &db.Options{NoSync: mode.noSync(round + 1)})
				if diff := m.compareAll(d.Snapshot()); diff != "" {
					tb.Fatalf("after reopen %d: %s", round+1, diff)
				}
			}
			// Also as a reader sees it.
			dir := d.Dir()
			if err := d.Close(); err != nil {
				tb.Fatal(err)
			}
			ro, err := db.Open(dir, &db.Options{ReadOnly: true})
			if err != nil {
				tb.Fatal(err)
			}
			defer ro.Close()
			if diff := m.compareAll(ro.Snapshot()); diff != "" {
				tb.Fatalf("read-only open: %s", diff)
			}
		})
	}
}

// TestReopen_BigCommits: one Update of many records, large values and an
// empty value survive a reopen byte for byte.
func TestReopen_BigCommits(t *testing.T) {
	d := openTest(t, nil)
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	err := d.Update(func(tx *db.Tx) error {
		for i := range 5000 {
			v := make([]byte, 1000)
			for j := range v {
				v[j] = byte(r.Uint32())
			}
			if err := tx.Put(fmt.Appendf(nil, "rec:%05d", i), fmt.Appendf(nil, "ix:%05d", 4999-i), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, d, "big", "big", string(big))
	mustPut(t, d, "empty", "", "")
	want := snapDump(d.Snapshot())
	for range 3 {
		d = reopenTest(t, d, nil)
	}
	if diff := want.diff(snapDump(d.Snapshot())); diff != "" {
		t.Fatal(diff)
	}
	got, err := d.Get([]byte("big"))
	if err != nil || !bytes.Equal(got.Value, big) {
		t.Fatalf("1 MiB value did not survive: %v, %d bytes", err, len(got.Value))
	}
	got, err = d.GetByIndex([]byte{})
	wantRecord(t, "GetByIndex(empty index key)", got, err, "empty", "", "")
	if d.Version() != 3 || d.Snapshot().Len() != 5002 {
		t.Fatalf("Version, Len = %d, %d; want 3, 5002", d.Version(), d.Snapshot().Len())
	}
}
