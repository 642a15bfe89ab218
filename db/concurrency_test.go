package db_test

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// The problem dualdb exists for: N records, each with a unique index key;
// writers move index keys between records (rotate the index keys of 2-3
// records in one write); readers check that they never see a half-done
// move. The same checker runs against dualdb, where it must find nothing,
// and against the naive pair of Go maps that dualdb replaces, where it must
// find violations: proof that the checker can fail.

// pairStore is what the checker needs from a store of records kept by key
// and by index key.
type pairStore interface {
	// rotate gives keys[i] the index key of keys[i+1] and the last key the
	// index key of keys[0], as one write.
	rotate(keys [][]byte) error
	// getByIndex is a point read of the current state.
	getByIndex(index []byte) (db.Record, bool)
	// view returns a read view of the whole store.
	view() pairView
}

// pairView is a read view; for dualdb a Snapshot.
type pairView interface {
	len() int
	ascend(fn func(db.Record) bool)      // by key
	ascendIndex(fn func(db.Record) bool) // by index key
	get(key []byte) (db.Record, bool)
	getByIndex(index []byte) (db.Record, bool)
}

// Records are rec:NNNN; the index keys are always exactly ix:NNNN for
// NNNN < n, in some assignment; a value names the index key it was
// written with.
func pairKey(i int) []byte          { return fmt.Appendf(nil, "rec:%04d", i) }
func pairIndex(i int) []byte        { return fmt.Appendf(nil, "ix:%04d", i) }
func pairValue(index []byte) []byte { return append([]byte("value of "), index...) }

// ---- dualdb ----

type dualStore struct{ d *db.DB }

func (s dualStore) rotate(keys [][]byte) error {
	return s.d.Update(func(tx *db.Tx) error {
		idx := make([][]byte, len(keys))
		for i, k := range keys {
			r, err := tx.Get(k)
			if err != nil {
				return err
			}
			idx[i] = r.Index
		}
		// Park keys[0], then walk the chain backwards: each Put frees the
		// index key the next one takes.
		if err := tx.Put(keys[0], append([]byte("park:"), keys[0]...), nil); err != nil {
			return err
		}
		last := len(keys) - 1
		if err := tx.Put(keys[last], idx[0], pairValue(idx[0])); err != nil {
			return err
		}
		for i := last - 1; i >= 0; i-- {
			if err := tx.Put(keys[i], idx[i+1], pairValue(idx[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s dualStore) getByIndex(ix []byte) (db.Record, bool) {
	r, err := s.d.GetByIndex(ix)
	return r, err == nil
}

func (s dualStore) view() pairView { return dualView{s.d.Snapshot()} }

type dualView struct{ s *db.Snapshot }

func (v dualView) len() int { return v.s.Len() }
func (v dualView) ascend(fn func(db.Record) bool) {
	for r := range v.s.Ascend(nil, nil) {
		if !fn(r) {
			return
		}
	}
}
func (v dualView) ascendIndex(fn func(db.Record) bool) {
	for r := range v.s.AscendIndex(nil, nil) {
		if !fn(r) {
			return
		}
	}
}
func (v dualView) get(k []byte) (db.Record, bool) {
	r, err := v.s.Get(k)
	return r, err == nil
}
func (v dualView) getByIndex(ix []byte) (db.Record, bool) {
	r, err := v.s.GetByIndex(ix)
	return r, err == nil
}

// ---- the naive store: two maps, each safe on its own ----

// naiveStore is how programs keep two maps in step: each map behind its
// own mutex, updated one after the other. Writers are serialized (wmu),
// so the store is always right between writes; only readers can see a
// write half done.
type naiveStore struct {
	wmu sync.Mutex // serializes writers

	kmu   sync.Mutex // guards byKey
	byKey map[string]db.Record

	imu        sync.Mutex // guards keyByIndex
	keyByIndex map[string]string
}

func newNaiveStore(n int) *naiveStore {
	s := &naiveStore{byKey: map[string]db.Record{}, keyByIndex: map[string]string{}}
	for i := range n {
		k, ix := pairKey(i), pairIndex(i)
		s.byKey[string(k)] = db.Record{Key: k, Index: ix, Value: pairValue(ix)}
		s.keyByIndex[string(ix)] = string(k)
	}
	return s
}

func (s *naiveStore) get(k []byte) (db.Record, bool) {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	r, ok := s.byKey[string(k)]
	return r, ok
}

func (s *naiveStore) rotate(keys [][]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	idx := make([][]byte, len(keys))
	for i, k := range keys {
		r, _ := s.get(k)
		idx[i] = r.Index
	}
	for i, k := range keys {
		ix := idx[(i+1)%len(keys)]
		s.kmu.Lock()
		s.byKey[string(k)] = db.Record{Key: k, Index: ix, Value: pairValue(ix)}
		s.kmu.Unlock()
	}
	for i, k := range keys {
		ix := idx[(i+1)%len(keys)]
		s.imu.Lock()
		s.keyByIndex[string(ix)] = string(k)
		s.imu.Unlock()
	}
	return nil
}

func (s *naiveStore) getByIndex(ix []byte) (db.Record, bool) {
	s.imu.Lock()
	k, ok := s.keyByIndex[string(ix)]
	s.imu.Unlock()
	if !ok {
		return db.Record{}, false
	}
	return s.get([]byte(k))
}

// The naive "snapshot" is the live maps, read the way such programs read
// them: sorted copies of each map, taken under that map's lock.
func (s *naiveStore) view() pairView { return s }

func (s *naiveStore) len() int {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	return len(s.byKey)
}

func (s *naiveStore) ascend(fn func(db.Record) bool) {
	s.kmu.Lock()
	recs := make([]db.Record, 0, len(s.byKey))
	for _, r := range s.byKey {
		recs = append(recs, r)
	}
	s.kmu.Unlock()
	slices.SortFunc(recs, func(a, b db.Record) int { return bytes.Compare(a.Key, b.Key) })
	for _, r := range recs {
		if !fn(r) {
			return
		}
	}
}

func (s *naiveStore) ascendIndex(fn func(db.Record) bool) {
	s.imu.Lock()
	pairs := make([][2]string, 0, len(s.keyByIndex))
	for ix, k := range s.keyByIndex {
		pairs = append(pairs, [2]string{ix, k})
	}
	s.imu.Unlock()
	slices.SortFunc(pairs, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	for _, p := range pairs {
		r, _ := s.get([]byte(p[1]))
		if !fn(r) {
			return
		}
	}
}

// ---- the checker ----

type violations struct {
	n     atomic.Int64
	mu    sync.Mutex
	first []string // the first few, for the failure message
}

func (v *violations) add(format string, args ...any) {
	if v.n.Add(1) <= 5 {
		v.mu.Lock()
		v.first = append(v.first, fmt.Sprintf(format, args...))
		v.mu.Unlock()
	}
}

// checkView checks the bijection over a whole view: every index key
// appears exactly once, GetByIndex of each leads back to the record, both
// orders hold n records, index keys ascend, values match index keys.
func checkView(v pairView, n int, vio *violations) {
	if l := v.len(); l != n {
		vio.add("view: Len %d, want %d", l, n)
	}
	seen := make(map[string]string, n)
	count := 0
	v.ascend(func(r db.Record) bool {
		count++
		if !bytes.Equal(r.Value, pairValue(r.Index)) {
			vio.add("view: record %q carries index %q but value %q", r.Key, r.Index, r.Value)
		}
		if other, dup := seen[string(r.Index)]; dup {
			vio.add("view: index key %q carried by %q and %q", r.Index, other, r.Key)
		}
		seen[string(r.Index)] = string(r.Key)
		if got, ok := v.getByIndex(r.Index); !ok || !bytes.Equal(got.Key, r.Key) {
			vio.add("view: record %q has index %q, but getByIndex gives %q (found %v)", r.Key, r.Index, got.Key, ok)
		}
		return true
	})
	if count != n || len(seen) != n {
		vio.add("view: %d records by key with %d distinct index keys, want %d", count, len(seen), n)
	}
	count = 0
	var prev []byte
	v.ascendIndex(func(r db.Record) bool {
		count++
		if prev != nil && bytes.Compare(prev, r.Index) >= 0 {
			vio.add("view: index order: %q after %q", r.Index, prev)
		}
		prev = r.Index
		if seen[string(r.Index)] != string(r.Key) {
			vio.add("view: by index, %q leads to %q; by key it belongs to %q", r.Index, r.Key, seen[string(r.Index)])
		}
		if got, ok := v.get(r.Key); !ok || !bytes.Equal(got.Index, r.Index) {
			vio.add("view: by index, %q leads to %q, whose record carries %q", r.Index, r.Key, got.Index)
		}
		return true
	})
	if count != n {
		vio.add("view: %d records by index key, want %d", count, n)
	}
}

// checkPoints does point reads: GetByIndex(ix) of the current state must
// carry ix; in one view, Get(GetByIndex(ix).Key) must be the same record.
func checkPoints(s pairStore, r *rand.Rand, n, reads int, vio *violations) {
	v := s.view()
	for range reads {
		ix := pairIndex(r.IntN(n))
		got, ok := s.getByIndex(ix)
		switch {
		case !ok:
			vio.add("point: getByIndex(%q) found nothing", ix)
		case !bytes.Equal(got.Index, ix):
			vio.add("point: getByIndex(%q) gave record %q carrying %q", ix, got.Key, got.Index)
		}
		a, ok := v.getByIndex(ix)
		if !ok {
			vio.add("point: view.getByIndex(%q) found nothing", ix)
			continue
		}
		b, ok := v.get(a.Key)
		if !ok || !sameRecord(a, b) {
			vio.add("point: view.getByIndex(%q) = %s but view.get(%q) = %s", ix, fmtRec(a), a.Key, fmtRec(b))
		}
	}
}

type checkerRun struct {
	moves, views, points atomic.Int64
}

// runChecker runs writers that rotate the index keys of 2-3 random
// records and readers that check views and point reads, for dur or, if
// stopOnViolation, until the first violation.
func runChecker(t *testing.T, s pairStore, n, writers, readers int, dur time.Duration, stopOnViolation bool, seed uint64) (*violations, *checkerRun) {
	vio := &violations{}
	run := &checkerRun{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return stopOnViolation && vio.n.Load() > 0
		}
	}
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for !stopped() {
				m := 2 + r.IntN(2)
				perm := r.Perm(n)[:m]
				keys := make([][]byte, m)
				for i, p := range perm {
					keys[i] = pairKey(p)
				}
				if err := s.rotate(keys); err != nil {
					t.Errorf("seed %d: rotate: %v", seed, err)
					return
				}
				run.moves.Add(1)
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(1000+rd)))
			for !stopped() {
				if r.IntN(3) == 0 {
					checkView(s.view(), n, vio)
					run.views.Add(1)
				} else {
					checkPoints(s, r, n, 50, vio)
					run.points.Add(50)
				}
			}
		})
	}
	deadline := time.After(dur)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-deadline:
			break wait
		case <-tick.C:
			if stopOnViolation && vio.n.Load() > 0 {
				break wait
			}
		}
	}
	close(stop)
	wg.Wait()
	return vio, run
}

const pairN = 500

func TestConcurrency_MovesAreAtomic(t *testing.T) {
	seed := testSeed(t)
	for _, mode := range []struct {
		name string
		opts *db.Options
		dur  time.Duration
	}{
		{"nosync", &db.Options{NoSync: true}, 3 * time.Second},
		{"durable", nil, 2 * time.Second},
	} {
		t.Run("mode="+mode.name, func(t *testing.T) {
			d := openTest(t, mode.opts)
			err := d.Update(func(tx *db.Tx) error {
				for i := range pairN {
					ix := pairIndex(i)
					if err := tx.Put(pairKey(i), ix, pairValue(ix)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Beside the shared checker: the library's own Check on live
			// snapshots, and versions that never go back.
			done := make(chan struct{})
			var extra sync.WaitGroup
			extra.Go(func() {
				var last uint64
				for {
					select {
					case <-done:
						return
					default:
					}
					s := d.Snapshot()
					if s.Version() < last {
						t.Errorf("seed %d: snapshot version went back from %d to %d", seed, last, s.Version())
					}
					last = s.Version()
					if f := s.Check(5); len(f) != 0 {
						t.Errorf("seed %d: Check at version %d: %v", seed, s.Version(), f)
					}
					time.Sleep(time.Millisecond) // leave the 2 cores to the checker
				}
			})
			vio, run := runChecker(t, dualStore{d}, pairN, 2, 3, mode.dur, false, seed)
			close(done)
			extra.Wait()
			t.Logf("dualdb: %d moves (version %d), %d view checks, %d point reads, %d violations",
				run.moves.Load(), d.Version(), run.views.Load(), run.points.Load(), vio.n.Load())
			if n := vio.n.Load(); n != 0 {
				t.Fatalf("seed %d: dualdb: %d violations, first: %q", seed, n, vio.first)
			}
			if run.moves.Load() == 0 || run.views.Load() == 0 {
				t.Fatalf("the run did nothing: %d moves, %d views", run.moves.Load(), run.views.Load())
			}
			checkSnapshot(t, d.Snapshot())
			if want := uint64(1 + run.moves.Load()); d.Version() != want {
				t.Fatalf("Version %d after %d moves, want %d", d.Version(), run.moves.Load(), want)
			}
		})
	}
}

// TestConcurrency_CheckerFindsNaiveViolations proves the checker can fail.
func TestConcurrency_CheckerFindsNaiveViolations(t *testing.T) {
	seed := testSeed(t)
	s := newNaiveStore(pairN)
	vio, run := runChecker(t, s, pairN, 2, 3, 10*time.Second, true, seed)
	t.Logf("naive maps: %d moves, %d view checks, %d point reads, %d violations, first: %q",
		run.moves.Load(), run.views.Load(), run.points.Load(), vio.n.Load(), vio.first)
	if vio.n.Load() == 0 {
		t.Fatalf("seed %d: the checker found no violation in the naive two-map store in 10s: it cannot fail", seed)
	}
	// Between writes the naive store is right: the violations were all
	// half-done writes seen by readers.
	final := &violations{}
	checkView(s, pairN, final)
	if final.n.Load() != 0 {
		t.Fatalf("quiescent naive store is wrong: %q", final.first)
	}
}
