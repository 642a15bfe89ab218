package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// TestAdapters checks every adapter against the Store contract on a small
// data set, so that the benchmark times adapters that return the right data.
func TestAdapters(t *testing.T) {
	for _, e := range allEngines() {
		t.Run("engine="+e.Name, func(t *testing.T) {
			t.Parallel()
			testAdapter(t, e)
		})
	}
}

func testAdapter(t *testing.T, e Engine) {
	const (
		n    = 600
		seed = 42
	)
	dir := t.TempDir()
	s, err := e.Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	if _, _, err := loadStore(s, seed, insertOrder(seed, n), 128, profileFixed); err != nil {
		t.Fatal(err)
	}
	want := func(id int) Record { return genRecord(seed, uint64(id), profileFixed) }
	check := func(stage string, moved map[int][]byte) {
		t.Helper()
		for id := range n {
			w := want(id)
			if idx, ok := moved[id]; ok {
				w.Index = idx
			}
			for _, byIndex := range []bool{false, true} {
				var r Record
				var err error
				if byIndex {
					r, err = s.GetByIndex(w.Index)
				} else {
					r, err = s.Get(w.Key)
				}
				if err != nil {
					t.Fatalf("%s: get %d byIndex=%v: %v", stage, id, byIndex, err)
				}
				if !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Index, w.Index) || !bytes.Equal(r.Value, w.Value) {
					t.Fatalf("%s: get %d byIndex=%v: got %q/%q/%q, want %q/%q/%q",
						stage, id, byIndex, r.Key, r.Index, r.Value, w.Key, w.Index, w.Value)
				}
			}
		}
		for _, byIndex := range []bool{false, true} {
			if _, err := scanCheck(s, byIndex, n); err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
			// Every scanned record is whole and the one stored under its key.
			err := s.Scan(byIndex, func(r Record) bool {
				id, perr := strconv.Atoi(string(bytes.TrimPrefix(r.Key, []byte("user:"))))
				if perr != nil {
					t.Fatalf("%s: scanned key %q", stage, r.Key)
				}
				w := want(id)
				if idx, ok := moved[id]; ok {
					w.Index = idx
				}
				if !bytes.Equal(r.Index, w.Index) || !bytes.Equal(r.Value, w.Value) {
					t.Fatalf("%s: scan byIndex=%v: record %q has index %q value %q, want %q %q",
						stage, byIndex, r.Key, r.Index, r.Value, w.Index, w.Value)
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, byIndex := range []bool{false, true} {
			calls := 0
			if err := s.Scan(byIndex, func(Record) bool { calls++; return calls < 3 }); err != nil {
				t.Fatal(err)
			}
			if calls != 3 {
				t.Fatalf("%s: scan byIndex=%v called fn %d times after it returned false at 3", stage, byIndex, calls)
			}
		}
		if _, err := s.Get([]byte("user:none")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: get missing key: %v, want ErrNotFound", stage, err)
		}
		if _, err := s.GetByIndex([]byte("mail:none")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: get missing index: %v, want ErrNotFound", stage, err)
		}
	}
	check("loaded", nil)

	// Moving index keys: the old one stops resolving, the new one resolves
	// to the whole record, the count stays.
	moved := map[int][]byte{}
	var batch []Record
	for i, id := range []int{7, 8, 300} {
		r := want(id)
		old := r.Index
		r.Index = movedIndex(uint64(id), uint64(i))
		moved[id] = r.Index
		batch = append(batch, r)
		defer func() {
			if s == nil {
				return
			}
			if _, err := s.GetByIndex(old); !errors.Is(err, ErrNotFound) {
				t.Errorf("old index %q of %d still resolves (%v)", old, id, err)
			}
		}()
	}
	before, err := s.Get(want(7).Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(batch); err != nil {
		t.Fatal(err)
	}
	// A record returned earlier stays valid after the store changed.
	if !bytes.Equal(before.Index, want(7).Index) || !bytes.Equal(before.Value, want(7).Value) {
		t.Fatalf("a returned record changed after a later Put: %q %q", before.Index, before.Value)
	}
	check("moved", moved)
	for id := range moved {
		if _, err := s.GetByIndex(want(id).Index); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old index of %d still resolves: %v", id, err)
		}
	}

	if cp, ok := s.(ConcurrentPutter); ok {
		r := want(9)
		r.Index = movedIndex(9, 9)
		moved[9] = r.Index
		if err := cp.PutConcurrent([]Record{r}); err != nil {
			t.Fatal(err)
		}
		check("put concurrent", moved)
	}

	if !e.Persistent {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = nil
	if s, err = e.Open(dir, true); err != nil {
		t.Fatal(err)
	}
	check("reopened", moved)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = nil
}

func TestGenerator(t *testing.T) {
	seen := map[string]bool{}
	for id := range uint64(5000) {
		r := genRecord(1, id, profileFixed)
		if got := string(r.Key); got != fmt.Sprintf("user:%010d", id) {
			t.Fatalf("key %q", got)
		}
		if len(r.Index) != 21 || !bytes.HasPrefix(r.Index, []byte("mail:")) || len(r.Value) != valueSize {
			t.Fatalf("record %d: index %q, %d-byte value", id, r.Index, len(r.Value))
		}
		if !bytes.Equal(r.Index, genIndex(1, id)) {
			t.Fatalf("genIndex(%d) differs from genRecord", id)
		}
		for _, idx := range [][]byte{r.Index, movedIndex(id, 0), movedIndex(id, 1)} {
			if seen[string(idx)] {
				t.Fatalf("index %q not unique", idx)
			}
			seen[string(idx)] = true
		}
		if !bytes.Equal(r.Value, genRecord(1, id, profileFixed).Value) {
			t.Fatal("not deterministic")
		}
		j := genRecord(1, id, profileJSON)
		if !bytes.Equal(j.Index, r.Index) || j.Value[0] != '{' || j.Value[len(j.Value)-1] != '}' {
			t.Fatalf("json record %d: %q", id, j.Value)
		}
	}
	order := insertOrder(1, 1000)
	sum := 0
	for _, id := range order {
		sum += int(id)
	}
	if sum != 999*1000/2 || order[0] == 0 && order[1] == 1 {
		t.Fatal("insertOrder is not a shuffled permutation")
	}
}
