package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// The building blocks shared by the harness (run.go) and the Go benchmarks
// (bench_test.go). Every one of them checks the data it touches, so a wrong
// adapter fails instead of looking fast.

// loadStore puts the ids of order into s in batches of batch records, one
// commit per batch, and returns the time spent inside Put (generating the
// records is not counted) and the payload bytes (key+index+value) stored.
func loadStore(s Store, seed uint64, order []uint32, batch int, p profile) (time.Duration, int64, error) {
	var (
		inPut time.Duration
		raw   int64
		recs  = make([]Record, 0, batch)
	)
	for start := 0; start < len(order); start += batch {
		recs = recs[:0]
		for _, id := range order[start:min(start+batch, len(order))] {
			r := genRecord(seed, uint64(id), p)
			raw += int64(len(r.Key) + len(r.Index) + len(r.Value))
			recs = append(recs, r)
		}
		t := time.Now()
		if err := s.Put(recs); err != nil {
			return inPut, raw, fmt.Errorf("load batch at %d: %w", start, err)
		}
		inPut += time.Since(t)
	}
	return inPut, raw, nil
}

// lookupTable holds the keys and index keys of ids 0..n-1.
type lookupTable struct {
	keys, indexes [][]byte
}

func newLookupTable(seed uint64, n int) *lookupTable {
	t := &lookupTable{keys: make([][]byte, n), indexes: make([][]byte, n)}
	for id := range n {
		t.keys[id] = genKey(uint64(id))
		t.indexes[id] = genIndex(seed, uint64(id))
	}
	return t
}

// getOne looks id up by key (byIndex false) or by index key and checks
// that the whole record came back.
func (t *lookupTable) getOne(s Store, id int, byIndex bool) error {
	var (
		r   Record
		err error
	)
	if byIndex {
		r, err = s.GetByIndex(t.indexes[id])
	} else {
		r, err = s.Get(t.keys[id])
	}
	if err != nil {
		return fmt.Errorf("get %d (byIndex=%v): %w", id, byIndex, err)
	}
	if !bytes.Equal(r.Key, t.keys[id]) || !bytes.Equal(r.Index, t.indexes[id]) || len(r.Value) == 0 {
		return fmt.Errorf("get %d (byIndex=%v): wrong record key=%q index=%q len(value)=%d", id, byIndex, r.Key, r.Index, len(r.Value))
	}
	return nil
}

// scanCheck scans s once and checks that the order is strictly ascending on
// the scanned key, that every record's other key is present, and that it
// saw want records (want < 0: any number). It returns the count.
func scanCheck(s Store, byIndex bool, want int) (int, error) {
	var (
		n    int
		prev []byte
		bad  error
	)
	err := s.Scan(byIndex, func(r Record) bool {
		k := r.Key
		if byIndex {
			k = r.Index
		}
		if n > 0 && bytes.Compare(prev, k) >= 0 {
			bad = fmt.Errorf("scan (byIndex=%v): %q after %q: not strictly ascending", byIndex, k, prev)
			return false
		}
		if len(r.Key) == 0 || len(r.Index) == 0 {
			bad = fmt.Errorf("scan (byIndex=%v): record %d without both keys", byIndex, n)
			return false
		}
		prev = append(prev[:0], k...)
		n++
		return true
	})
	if err == nil {
		err = bad
	}
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("scan (byIndex=%v): %d records, want %d", byIndex, n, want)
	}
	return n, err
}

// sliceScan is the physical limit of a scan: the same per-item work as
// scanCheck over a sorted slice.
func sliceScan(recs []Record) (int, error) {
	var (
		n    int
		prev []byte
	)
	for _, r := range recs {
		if n > 0 && bytes.Compare(prev, r.Key) >= 0 {
			return n, fmt.Errorf("slice scan: not ascending at %d", n)
		}
		if len(r.Key) == 0 || len(r.Index) == 0 {
			return n, fmt.Errorf("slice scan: record %d without both keys", n)
		}
		prev = append(prev[:0], r.Key...)
		n++
	}
	return n, nil
}

// runFor runs op on workers goroutines until d has passed (each worker at
// least once) and returns the number of successful ops and the elapsed time.
// The first error stops every worker.
func runFor(d time.Duration, workers int, op func(w int, rng *rand.Rand) error) (int64, time.Duration, error) {
	var (
		stop    atomic.Bool
		ops     atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, 0x72756e466f72)) // same sequence every run
			var n int64
			for {
				if err := op(w, rng); err != nil {
					errOnce.Do(func() { first = err })
					stop.Store(true)
					break
				}
				n++
				if stop.Load() {
					break
				}
			}
			ops.Add(n)
		}()
	}
	wg.Wait()
	return ops.Load(), time.Since(start), first
}

// repeatFor runs op serially until d has passed, at least once, and returns
// the summed count op reports and the elapsed time.
func repeatFor(d time.Duration, op func() (int, error)) (int64, time.Duration, error) {
	var total int64
	start := time.Now()
	for {
		n, err := op()
		total += int64(n)
		if err != nil {
			return total, time.Since(start), err
		}
		if time.Since(start) >= d {
			return total, time.Since(start), nil
		}
	}
}

// atomicCounter hands out 0, 1, 2, ... to concurrent callers.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.n.Add(1) - 1 }
func (c *atomicCounter) load() int64 { return c.n.Load() }
