package stress

import (
	"bytes"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// brokenStore is a consistent store with one fault injected by the hooks
// that are set; the checker must count exactly that fault.
type brokenStore struct {
	Store
	get        func(key []byte) (db.Record, bool, error)
	getByIndex func(index []byte) (db.Record, bool, error)
	scan       func(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error
	snapshot   func() (uint64, []db.Record, []db.Record, error)
}

func (s *brokenStore) Get(key []byte) (db.Record, bool, error) {
	if s.get != nil {
		return s.get(key)
	}
	return s.Store.Get(key)
}

func (s *brokenStore) GetByIndex(index []byte) (db.Record, bool, error) {
	if s.getByIndex != nil {
		return s.getByIndex(index)
	}
	return s.Store.GetByIndex(index)
}

func (s *brokenStore) Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error {
	if s.scan != nil {
		return s.scan(byIndex, from, limit, fn)
	}
	return s.Store.Scan(byIndex, from, limit, fn)
}

func (s *brokenStore) Snapshot(byKey, byIndex []db.Record) (uint64, []db.Record, []db.Record, error) {
	if s.snapshot != nil {
		return s.snapshot()
	}
	return s.Store.Snapshot(byKey, byIndex)
}

const checkKeys = 10

// newCheckRun returns a Run, not started, on a loaded naive store wrapped
// by a brokenStore without faults.
func newCheckRun(t *testing.T) (*Run, *brokenStore) {
	t.Helper()
	r, err := New(Config{Workers: 1, Keys: checkKeys, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := &brokenStore{Store: NewNaiveStore()}
	r.store = s
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	return r, s
}

// checkAll runs every check of the workload once over every record.
func checkAll(t *testing.T, r *Run) {
	t.Helper()
	for i := range checkKeys {
		for _, err := range []error{
			r.get(recordKey(i)), r.getIndex(recordKey(i)),
			r.scan(false, recordKey(i)), r.scan(true, loadedIndex(i)),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.checkSnapshot(new(snapshotCheck)); err != nil {
		t.Fatal(err)
	}
}

// counts returns the violation counts by kind.
func counts(r *Run) map[Violation]uint64 {
	m := map[Violation]uint64{}
	for k := range NumViolations {
		if n := r.v.counts[k].Load(); n > 0 {
			m[k] = n
		}
	}
	return m
}

// A consistent store shows no violation: the checker does not cry wolf.
func TestCheck_ConsistentStore(t *testing.T) {
	r, _ := newCheckRun(t)
	checkAll(t, r)
	if c := counts(r); len(c) != 0 {
		t.Fatalf("violations on a consistent store: %v %q", c, r.v.examples)
	}
}

// Every kind of inconsistency a store can show is counted as its kind.
func TestCheck_CatchesEachViolation(t *testing.T) {
	other := func(s *brokenStore, key []byte) db.Record {
		o := recordKey(7)
		if bytes.Equal(key, o) {
			o = recordKey(8)
		}
		r, _, _ := s.Store.Get(o)
		return r
	}
	reverse := func(recs []db.Record) []db.Record {
		recs = slices.Clone(recs)
		slices.Reverse(recs)
		return recs
	}
	for _, c := range []struct {
		name  string
		fault func(s *brokenStore)
		want  Violation
	}{
		{"GetByIndex returns another record", func(s *brokenStore) {
			s.getByIndex = func(index []byte) (db.Record, bool, error) { return other(s, nil), true, nil }
		}, ViolationIndex},
		{"Get finds nothing", func(s *brokenStore) {
			s.get = func([]byte) (db.Record, bool, error) { return db.Record{}, false, nil }
		}, ViolationKey},
		{"Get returns another record", func(s *brokenStore) {
			s.get = func(key []byte) (db.Record, bool, error) { return other(s, key), true, nil }
		}, ViolationKey},
		{"record parked on a temporary index key", func(s *brokenStore) {
			s.get = func(key []byte) (db.Record, bool, error) {
				r, ok, err := s.Store.Get(key)
				r.Index = []byte(tmpPrefix + "w000-1")
				r.Value = valueFor(r.Index, 0, "w") // written for it: only the key gives it away
				return r, ok, err
			}
		}, ViolationTorn},
		{"value written for another index key", func(s *brokenStore) {
			s.get = func(key []byte) (db.Record, bool, error) {
				r, ok, err := s.Store.Get(key)
				r.Value = valueFor([]byte("x/elsewhere"), 0, "w")
				return r, ok, err
			}
		}, ViolationTorn},
		{"scan out of order", func(s *brokenStore) {
			s.scan = func(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error {
				_, byKey, byIdx, _ := s.Store.Snapshot(nil, nil)
				recs := byKey
				if byIndex {
					recs = byIdx
				}
				for _, r := range reverse(recs) {
					// byIdx holds key and index key only; give it its value.
					full, _, _ := s.Store.Get(r.Key)
					if !fn(full) {
						break
					}
				}
				return nil
			}
		}, ViolationOrder},
		{"snapshot by key out of order", func(s *brokenStore) {
			s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
				v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
				return v, reverse(byKey), byIdx, err
			}
		}, ViolationOrder},
		{"snapshot whose index leads to the wrong record", func(s *brokenStore) {
			s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
				v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
				byIdx = slices.Clone(byIdx)
				byIdx[0].Key = byIdx[1].Key
				return v, byKey, byIdx, err
			}
		}, ViolationSnapshot},
		{"snapshot whose index leads to a key without a record", func(s *brokenStore) {
			s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
				v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
				byIdx = slices.Clone(byIdx)
				byIdx[len(byIdx)/2].Key = []byte("k/none")
				return v, byKey, byIdx, err
			}
		}, ViolationSnapshot},
		{"snapshot whose index leads to a key that only looks like a record's", func(s *brokenStore) {
			s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
				v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
				byIdx = slices.Clone(byIdx)
				byIdx[1].Key = []byte("k/1") // record 1's key is k/00000001
				return v, byKey, byIdx, err
			}
		}, ViolationSnapshot},
		{"snapshot missing a record by index", func(s *brokenStore) {
			s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
				v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
				return v, byKey, byIdx[1:], err
			}
		}, ViolationSnapshot},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, s := newCheckRun(t)
			c.fault(s)
			checkAll(t, r)
			got := counts(r)
			if got[c.want] == 0 {
				t.Fatalf("no %s violation counted; counts %v", c.want, got)
			}
			for k, n := range got {
				// A record that comes back wrong may break more than one
				// check; a fault must not show up as an unrelated kind.
				if k != c.want && !(c.want == ViolationKey && k == ViolationTorn) && !(c.want == ViolationIndex && k == ViolationTorn) {
					t.Errorf("%d %s violations counted for a %s fault: %q", n, k, c.want, r.v.examples)
				}
			}
			if len(r.v.examples) == 0 || len(r.v.examples) > int(NumViolations)*examplesPerKind {
				t.Errorf("%d examples kept, want 1 to %d", len(r.v.examples), int(NumViolations)*examplesPerKind)
			}
		})
	}
}

// The checker keeps its buffers from one check to the next: a clean check
// before a faulty one hides nothing, and a clean one after it finds nothing.
// With the keys out of order it still compares the two indexes.
func TestCheck_SnapshotBuffersReused(t *testing.T) {
	r, s := newCheckRun(t)
	var c snapshotCheck
	check := func() map[Violation]uint64 {
		t.Helper()
		if err := r.checkSnapshot(&c); err != nil {
			t.Fatal(err)
		}
		return counts(r)
	}
	if got := check(); len(got) != 0 {
		t.Fatalf("violations on a consistent store: %v %q", got, r.v.examples)
	}
	if len(c.byKey) != checkKeys || len(c.byIndex) != checkKeys {
		t.Fatalf("buffers hold %d and %d records after a check, want %d", len(c.byKey), len(c.byIndex), checkKeys)
	}
	s.snapshot = func() (uint64, []db.Record, []db.Record, error) {
		v, byKey, byIdx, err := s.Store.Snapshot(nil, nil)
		byKey = slices.Clone(byKey)
		slices.Reverse(byKey)
		byIdx = slices.Clone(byIdx)
		byIdx[0].Key = byIdx[1].Key
		return v, byKey, byIdx, err
	}
	got := check()
	if got[ViolationOrder] == 0 || got[ViolationSnapshot] != 1 {
		t.Fatalf("keys out of order and an index leading to the wrong record: counts %v, want order and 1 snapshot", got)
	}
	s.snapshot = nil
	if after := check(); !maps.Equal(after, got) {
		t.Fatalf("a consistent view after a faulty one changed the counts from %v to %v: %q", got, after, r.v.examples)
	}
}

// A failed online order check of the store counts as a violation, and
// every event still reaches the next observer.
func TestCheck_ObserverCountsOrderCheck(t *testing.T) {
	r, err := New(Config{Workers: 1, Keys: 2, CheckEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var next recordingObserver
	obs := r.Observer(&next)
	obs.OrderCheck(db.OrderCheckEvent{Version: 3})
	if n := r.v.counts[ViolationOrderCheck].Load(); n != 0 {
		t.Fatalf("a passed order check counted %d violations", n)
	}
	obs.OrderCheck(db.OrderCheckEvent{Version: 4, Findings: []string{"key b after c"}})
	obs.Commit(db.CommitEvent{Version: 4})
	if n := r.v.counts[ViolationOrderCheck].Load(); n != 1 {
		t.Fatalf("a failed order check counted %d violations, want 1", n)
	}
	if next.orderChecks != 2 || next.commits != 1 {
		t.Errorf("next observer saw %d order checks and %d commits, want 2 and 1", next.orderChecks, next.commits)
	}
	r.Observer(nil).OrderCheck(db.OrderCheckEvent{Version: 5, Findings: []string{"x"}}) // no next: no panic
	if n := r.v.counts[ViolationOrderCheck].Load(); n != 2 {
		t.Errorf("order check without a next observer counted %d in all, want 2", n)
	}
}

type recordingObserver struct {
	db.NopObserver
	orderChecks, commits int
}

func (o *recordingObserver) OrderCheck(db.OrderCheckEvent) { o.orderChecks++ }
func (o *recordingObserver) Commit(db.CommitEvent)         { o.commits++ }
