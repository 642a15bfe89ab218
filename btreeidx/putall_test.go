package btreeidx_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dualdb/dualdb/btreeidx"
)

// Large batches write the two trees on two goroutines: the result must be
// the one the documented replay gives (delete the givers, then Put the
// records one by one, in order), for batches mixing new records, records
// keeping their index key, records moving to a fresh index key (the old
// one then free), and rotations of index keys among the batch's records.
func TestPutAll_LargeBatchesMatchReplay(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	x := btreeidx.New()
	const stored = 3000
	cur := map[string]string{} // key -> index key now
	for i := range stored {
		k, ix := fmt.Sprintf("user:%010d", i*3), fmt.Sprintf("mail:%016x", r.Uint64())
		if _, _, err := x.Put([]byte(k), []byte(ix), []byte("v0"), 1); err != nil {
			t.Fatal(err)
		}
		cur[k] = ix
	}
	for round, size := range []int{256, 300, 999, 1000, 1500, 2500} {
		var batch []btreeidx.Record
		used := map[string]bool{}
		for _, id := range r.Perm(stored * 2)[:size] {
			k := fmt.Sprintf("user:%010d", id*3/2) // half of them stored already
			if used[k] {
				continue
			}
			used[k] = true
			ix, ok := cur[k]
			if !ok || r.IntN(4) == 0 {
				ix = fmt.Sprintf("fresh:%d:%016x", round, r.Uint64()) // gives the old one up
			}
			batch = append(batch, btreeidx.Record{Key: []byte(k), Index: []byte(ix), Value: fmt.Appendf(nil, "v%d", round)})
		}
		// Rotate the index keys of some stored records of the batch.
		var held []int
		for i, rec := range batch {
			if ix, ok := cur[string(rec.Key)]; ok && string(rec.Index) == ix {
				held = append(held, i)
			}
		}
		held = held[:len(held)/2]
		for j, i := range held {
			batch[i].Index = []byte(cur[string(batch[held[(j+1)%len(held)]].Key)])
		}

		before := x.Freeze()
		givers, _, err := x.PutAll(batch, uint64(round+2))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		y := btreeidx.Thaw(before)
		for _, g := range givers {
			if _, ok := y.Delete(batch[g].Key); !ok {
				t.Fatalf("round %d: giver %q missing", round, batch[g].Key)
			}
		}
		for _, rec := range batch {
			if _, _, err := y.Put(rec.Key, rec.Index, rec.Value, uint64(round+2)); err != nil {
				t.Fatalf("round %d: replay: %v", round, err)
			}
		}
		got, want := dump(x.View), dump(y.View)
		if !slices.Equal(got.byKey, want.byKey) || !slices.Equal(got.byIndex, want.byIndex) {
			t.Fatalf("round %d (%d records, %d givers): PutAll and its replay differ", round, len(batch), len(givers))
		}
		noFindings(t, x.View)
		if len(givers) == 0 {
			t.Fatalf("round %d: no rotation in the batch", round)
		}
		for _, rec := range batch {
			cur[string(rec.Key)] = string(rec.Index)
		}
	}
}
