package stress

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dualdb/dualdb/db"
)

// naiveStore is the design dualdb replaces, for `dualdb stress --naive`:
// two Go maps, data by key and key by index, each behind its own lock.
// Every method is safe for concurrent use in the sense of the race
// detector — each map operation holds its map's lock — and yet readers
// see one map updated and the other not, a transaction is a sequence of
// separate writes, and scans copy, sort, then look records up one by
// one. The stress checker counts what that lets readers observe.
type naiveStore struct {
	kmu   sync.RWMutex         // guards byKey
	byKey map[string]db.Record // key -> record

	imu     sync.RWMutex      // guards byIndex
	byIndex map[string]string // index key -> key

	writes atomic.Uint64 // puts applied, standing in for a version
}

// NewNaiveStore returns an empty Store on two Go maps behind two locks: the
// design dualdb replaces, on which the checker counts what readers see.
func NewNaiveStore() Store {
	return &naiveStore{byKey: make(map[string]db.Record), byIndex: make(map[string]string)}
}

func (s *naiveStore) Name() string    { return "naive (two maps, two locks)" }
func (s *naiveStore) Version() uint64 { return s.writes.Load() }
func (s *naiveStore) Close() error    { return nil }

// Put checks the index map, writes the key map, then the index map: three
// steps under two locks, each correct alone.
func (s *naiveStore) Put(key, index, value []byte) error {
	s.imu.RLock()
	owner, taken := s.byIndex[string(index)]
	s.imu.RUnlock()
	if taken && owner != string(key) {
		return fmt.Errorf("%w: index key %q belongs to %q", db.ErrConflict, index, owner)
	}
	r := db.Record{Key: bytes.Clone(key), Index: bytes.Clone(index), Value: bytes.Clone(value)}

	s.kmu.Lock()
	old, had := s.byKey[string(key)]
	s.byKey[string(key)] = r
	s.kmu.Unlock()

	s.imu.Lock()
	if had && !bytes.Equal(old.Index, index) && s.byIndex[string(old.Index)] == string(key) {
		delete(s.byIndex, string(old.Index))
	}
	s.byIndex[string(index)] = string(key)
	s.imu.Unlock()
	s.writes.Add(1)
	return nil
}

// PutBatch is one Put after the other: the maps have no commits.
func (s *naiveStore) PutBatch(recs []db.Record) error {
	for _, r := range recs {
		if err := s.Put(r.Key, r.Index, r.Value); err != nil {
			return err
		}
	}
	return nil
}

// Swap is the multi-record update done as three separate Puts: park b on
// tmp, give a b's index key, give b a's. If a step fails (another writer
// took an index key meanwhile) it puts back what it can, as code without
// transactions has to.
func (s *naiveStore) Swap(a, b, tmp []byte, val func(index []byte) []byte) error {
	ra, okA, _ := s.Get(a)
	rb, okB, _ := s.Get(b)
	if !okA || !okB {
		return fmt.Errorf("%w: %q or %q", db.ErrNotFound, a, b)
	}
	if err := s.Put(b, tmp, val(tmp)); err != nil {
		return err
	}
	if err := s.Put(a, rb.Index, val(rb.Index)); err != nil {
		_ = s.Put(b, rb.Index, rb.Value)
		return err
	}
	if err := s.Put(b, ra.Index, val(ra.Index)); err != nil {
		_ = s.Put(a, ra.Index, ra.Value)
		_ = s.Put(b, rb.Index, rb.Value)
		return err
	}
	return nil
}

func (s *naiveStore) Get(key []byte) (db.Record, bool, error) {
	s.kmu.RLock()
	r, ok := s.byKey[string(key)]
	s.kmu.RUnlock()
	return r, ok, nil
}

// GetByIndex finds the key under one lock and the record under the other.
func (s *naiveStore) GetByIndex(index []byte) (db.Record, bool, error) {
	s.imu.RLock()
	k, ok := s.byIndex[string(index)]
	s.imu.RUnlock()
	if !ok {
		return db.Record{}, false, nil
	}
	return s.Get([]byte(k))
}

// Scan picks the limit smallest keys (or index keys) from from on out of
// the map under its lock, then looks each record up in the key map as it
// goes: a map has no order, so every scan reads the whole map.
func (s *naiveStore) Scan(byIndex bool, from []byte, limit int, fn func(db.Record) bool) error {
	var best []naivePair // sorted, at most limit
	consider := func(sortBy, key string) {
		if sortBy < string(from) || (len(best) == limit && sortBy >= best[len(best)-1].sortBy) {
			return
		}
		i, _ := slices.BinarySearchFunc(best, sortBy, func(p naivePair, t string) int { return strings.Compare(p.sortBy, t) })
		if len(best) == limit {
			best = best[:limit-1]
		}
		best = slices.Insert(best, i, naivePair{sortBy, key})
	}
	if byIndex {
		s.imu.RLock()
		for x, k := range s.byIndex {
			consider(x, k)
		}
		s.imu.RUnlock()
	} else {
		s.kmu.RLock()
		for k := range s.byKey {
			consider(k, k)
		}
		s.kmu.RUnlock()
	}
	for _, p := range best {
		r, ok, _ := s.Get([]byte(p.key))
		if !ok {
			continue
		}
		if !fn(r) {
			break
		}
	}
	return nil
}

type naivePair struct{ sortBy, key string }

// Snapshot copies the key map, then the index map: between the two, writers
// go on.
func (s *naiveStore) Snapshot(byKey, byIndex []db.Record) (uint64, []db.Record, []db.Record, error) {
	v := s.writes.Load()
	s.kmu.RLock()
	byKey = slices.Grow(byKey, len(s.byKey))
	for _, r := range s.byKey {
		byKey = append(byKey, r)
	}
	s.kmu.RUnlock()

	s.imu.RLock()
	byIndex = slices.Grow(byIndex, len(s.byIndex))
	for x, k := range s.byIndex {
		byIndex = append(byIndex, db.Record{Key: []byte(k), Index: []byte(x)})
	}
	s.imu.RUnlock()

	slices.SortFunc(byKey, func(a, b db.Record) int { return bytes.Compare(a.Key, b.Key) })
	slices.SortFunc(byIndex, func(a, b db.Record) int { return bytes.Compare(a.Index, b.Index) })
	return v, byKey, byIndex, nil
}
