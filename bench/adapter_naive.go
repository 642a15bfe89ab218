package main

import (
	"bytes"
	"slices"
	"sync"
)

// naive is the baseline dualdb replaces: two Go maps kept in step under one
// RWMutex. Memory only; scans copy and sort.
func init() {
	register(Engine{
		Name:    "naive",
		Ordered: false,
		Note:    "map key->record + map index->key under one sync.RWMutex; scans copy and sort",
		Open:    func(string, bool) (Store, error) { return newNaive(), nil },
	})
}

type naiveStore struct {
	mu      sync.RWMutex      // guards both maps
	byKey   map[string]Record // key -> record
	byIndex map[string]string // index -> key
}

func newNaive() *naiveStore {
	return &naiveStore{byKey: make(map[string]Record), byIndex: make(map[string]string)}
}

func (s *naiveStore) Put(recs []Record) error {
	// Copy outside the lock, as the caller may reuse its buffers.
	own := make([]Record, len(recs))
	for i, r := range recs {
		buf := make([]byte, 0, len(r.Key)+len(r.Index)+len(r.Value))
		buf = append(append(append(buf, r.Key...), r.Index...), r.Value...)
		k, x := len(r.Key), len(r.Key)+len(r.Index)
		own[i] = Record{Key: buf[:k:k], Index: buf[k:x:x], Value: buf[x:]}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range own {
		k := stringOf(r.Key)
		if old, ok := s.byKey[k]; ok {
			delete(s.byIndex, stringOf(old.Index))
		}
		s.byKey[k] = r
		s.byIndex[stringOf(r.Index)] = k
	}
	return nil
}

func (s *naiveStore) Get(key []byte) (Record, error) {
	s.mu.RLock()
	r, ok := s.byKey[string(key)]
	s.mu.RUnlock()
	if !ok {
		return Record{}, ErrNotFound
	}
	return r, nil
}

func (s *naiveStore) GetByIndex(index []byte) (Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.byIndex[string(index)]
	if !ok {
		return Record{}, ErrNotFound
	}
	return s.byKey[k], nil
}

func (s *naiveStore) Scan(byIndex bool, fn func(Record) bool) error {
	s.mu.RLock()
	all := make([]Record, 0, len(s.byKey))
	for _, r := range s.byKey {
		all = append(all, r)
	}
	s.mu.RUnlock()
	if byIndex {
		slices.SortFunc(all, func(a, b Record) int { return bytes.Compare(a.Index, b.Index) })
	} else {
		slices.SortFunc(all, func(a, b Record) int { return bytes.Compare(a.Key, b.Key) })
	}
	for _, r := range all {
		if !fn(r) {
			break
		}
	}
	return nil
}

func (s *naiveStore) Close() error { return nil }
