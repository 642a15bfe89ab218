package stress_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/stress"
)

// Used by one goroutine, the naive store behaves like a dualdb store: its
// faults are only those of concurrent use.
func TestNaiveStore_Sequential(t *testing.T) {
	s := stress.NewNaiveStore()
	put := func(k, x string) error { return s.Put([]byte(k), []byte(x), []byte("idx="+x+";")) }
	for i := range 5 {
		if err := put(fmt.Sprintf("k%d", i), fmt.Sprintf("x%d", 4-i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("k0", "x1"); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("Put of an index key owned by another record: %v, want ErrConflict", err)
	}
	if err := put("k0", "x9"); err != nil { // frees x4
		t.Fatal(err)
	}
	if _, ok, _ := s.GetByIndex([]byte("x4")); ok {
		t.Error("the index key a record gave up still finds it")
	}
	if err := put("k5", "x4"); err != nil {
		t.Fatalf("Put of a freed index key: %v", err)
	}
	val := func(x []byte) []byte { return append([]byte("idx="), append(x, ';')...) }
	if err := s.Swap([]byte("k1"), []byte("k2"), []byte("tmp/1"), val); err != nil {
		t.Fatal(err)
	}
	for k, x := range map[string]string{"k1": "x2", "k2": "x3"} {
		r, ok, err := s.Get([]byte(k))
		if err != nil || !ok || string(r.Index) != x {
			t.Errorf("after the swap, Get(%s) = %q, %v, %v; want index key %s", k, r.Index, ok, err, x)
		}
		if r, ok, _ := s.GetByIndex([]byte(x)); !ok || string(r.Key) != k {
			t.Errorf("after the swap, GetByIndex(%s) = %q, %v; want %s", x, r.Key, ok, k)
		}
	}
	if _, ok, _ := s.GetByIndex([]byte("tmp/1")); ok {
		t.Error("the swap left its temporary index key behind")
	}

	var got []string
	if err := s.Scan(true, []byte("x2"), 3, func(r db.Record) bool { got = append(got, string(r.Index)+"="+string(r.Key)); return true }); err != nil {
		t.Fatal(err)
	}
	if want := "[x2=k1 x3=k2 x4=k5]"; fmt.Sprint(got) != want {
		t.Errorf("Scan by index from x2, limit 3 = %v, want %s", got, want)
	}
	got = nil
	_ = s.Scan(false, nil, 10, func(r db.Record) bool { got = append(got, string(r.Key)); return len(got) < 2 })
	if want := "[k0 k1]"; fmt.Sprint(got) != want {
		t.Errorf("Scan by key stopped after 2 = %v, want %s", got, want)
	}

	v, byKey, byIndex, err := s.Snapshot(nil, nil)
	if err != nil || v == 0 || len(byKey) != 6 || len(byIndex) != 6 {
		t.Fatalf("Snapshot: version %d, %d by key, %d by index, %v; want 6 records each way", v, len(byKey), len(byIndex), err)
	}
	for i, r := range byIndex {
		if i > 0 && string(byIndex[i-1].Index) >= string(r.Index) {
			t.Errorf("snapshot by index out of order at %d: %q after %q", i, r.Index, byIndex[i-1].Index)
		}
	}
}
