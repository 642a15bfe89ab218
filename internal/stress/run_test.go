package stress_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/stress"
)

// runUntil starts r on s and stops it once done reports true on its
// progress (or after a minute, which fails the test).
func runUntil(t *testing.T, r *stress.Run, s stress.Store, done func(stress.Progress) bool) stress.Results {
	t.Helper()
	if err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !done(r.Progress()) && !r.Failed() {
		if time.Now().After(deadline) {
			res := r.Stop()
			t.Fatalf("condition not reached in a minute: %+v", res)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r.Stop()
}

// A dualdb store under the workload: every kind of operation runs, the
// checker finds nothing, and the store is left with its records, whole.
func TestRun_DualDB(t *testing.T) {
	const keys = 300
	r, err := stress.New(stress.Config{Workers: 4, Keys: keys, ValueSize: 64, CheckEvery: 5 * time.Millisecond, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := r.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "store")
	d, err := db.Open(dir, &db.Options{NoSync: true, CheckpointEvery: 200, OrderCheckInterval: 10 * time.Millisecond, Observer: r.Observer(nil)})
	if err != nil {
		t.Fatal(err)
	}
	s := stress.NewDBStore(d)
	res := runUntil(t, r, s, func(p stress.Progress) bool { return p.Ops >= 3000 })
	if res.Violations != 0 || res.Errors != 0 {
		t.Fatalf("violations %d, errors %d (%s): %v", res.Violations, res.Errors, res.FirstError, res.Examples)
	}
	if r.Failed() || r.Err() != nil {
		t.Errorf("a healthy run that was stopped reports Failed() %v, Err() %v", r.Failed(), r.Err())
	}
	if len(res.Ops) != int(stress.NumOps) || res.Records != keys || res.Workers != 4 || res.Seed != 7 {
		t.Fatalf("results %+v", res)
	}
	for i, o := range res.Ops {
		if o.Op != stress.Op(i).String() {
			t.Errorf("op %d is %q, want %q", i, o.Op, stress.Op(i))
		}
		if o.Count == 0 {
			t.Errorf("no %s operation ran", o.Op)
		}
		if !(o.P50 <= o.P99 && o.P99 <= o.P999) {
			t.Errorf("%s: p50 %v, p99 %v, p99.9 %v are not ordered", o.Op, o.P50, o.P99, o.P999)
		}
		if got := counterValue(t, reg, "dualdb_stress_ops_total", "op", o.Op); got != float64(o.Count) {
			t.Errorf("dualdb_stress_ops_total{op=%q} = %v, results say %d", o.Op, got, o.Count)
		}
	}
	checkTotal(t, res)
	// Every commit of the run is a put or a swap of a worker (the load's
	// are not counted), grouped into WAL transactions.
	c := res.Commits
	if c == nil {
		t.Fatal("no commit counts for a dualdb store")
	}
	writes := res.Ops[stress.OpPut].Count + res.Ops[stress.OpUpdate].Count
	if c.Commits == 0 || c.Commits > writes || c.WALTransactions == 0 || c.WALTransactions > c.Commits ||
		c.PerTransaction != float64(c.Commits)/float64(c.WALTransactions) {
		t.Errorf("commit counts %+v for %d puts and swaps", *c, writes)
	}

	snap := d.Snapshot()
	if snap.Len() != keys {
		t.Errorf("store left with %d records, want %d", snap.Len(), keys)
	}
	if f := snap.Check(0); len(f) != 0 {
		t.Errorf("store left inconsistent: %v", f)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkTotal checks the total row against the kinds it merges: every
// worker operation counted once, the checker's left out, and each quantile
// between the smallest and the largest of the kinds' (a quantile of merged
// samples cannot leave that range; the histogram's buckets, 1/32 of a
// power of two wide, blur its ends by up to a bucket).
func checkTotal(t *testing.T, res stress.Results) {
	t.Helper()
	var n uint64
	var lo, hi [3]float64
	for i, o := range res.Ops[:stress.OpCheck] {
		n += o.Count
		for j, q := range [3]float64{o.P50, o.P99, o.P999} {
			if i == 0 || q < lo[j] {
				lo[j] = q
			}
			hi[j] = max(hi[j], q)
		}
	}
	tot := res.Total
	if tot.Op != "total" || tot.Count != n {
		t.Errorf("total row %q counts %d operations, the worker kinds %d", tot.Op, tot.Count, n)
	}
	for j, q := range [3]float64{tot.P50, tot.P99, tot.P999} {
		if q < lo[j]*(1-1.0/16) || q > hi[j]*(1+1.0/16) {
			t.Errorf("total quantile %d = %v, outside the kinds' range [%v, %v]", j, q, lo[j], hi[j])
		}
	}
}

// A mix is obeyed: with only gets and swaps, no other kind runs, and the
// results name the mix.
func TestRun_Mix(t *testing.T) {
	mix := stress.Mix{stress.OpGet: 70, stress.OpUpdate: 30}
	r, err := stress.New(stress.Config{Workers: 3, Keys: 50, CheckEvery: 5 * time.Millisecond, Seed: 3, Mix: mix})
	if err != nil {
		t.Fatal(err)
	}
	res := runUntil(t, r, stress.NewNaiveStore(), func(p stress.Progress) bool { return p.Ops >= 2000 })
	if res.Mix != mix.String() {
		t.Errorf("results name mix %q, want %q", res.Mix, mix)
	}
	for op, o := range res.Ops[:stress.OpCheck] {
		if (mix[op] > 0) != (o.Count > 0) {
			t.Errorf("mix %v: %d %s operations ran", mix, o.Count, o.Op)
		}
	}
}

// counterValue returns the value of the counter name{label=value} in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

// The naive two-map design under the same workload shows violations,
// with examples: the checker catches what dualdb prevents.
func TestRun_Naive(t *testing.T) {
	r, err := stress.New(stress.Config{Workers: 8, Keys: 200, CheckEvery: time.Millisecond, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := runUntil(t, r, stress.NewNaiveStore(), func(p stress.Progress) bool { return p.Violations >= 5 })
	if res.Violations < 5 || len(res.Examples) == 0 {
		t.Fatalf("violations %d, examples %q", res.Violations, res.Examples)
	}
	if res.Commits != nil {
		t.Errorf("commit counts %+v for the naive store, which has no commits", *res.Commits)
	}
	var sum uint64
	for _, n := range res.ByKind {
		sum += n
	}
	if sum != res.Violations || len(res.ByKind) != int(stress.NumViolations) {
		t.Errorf("by kind %v does not add up to %d", res.ByKind, res.Violations)
	}
	if !strings.HasPrefix(res.Store, "naive") {
		t.Errorf("store named %q", res.Store)
	}
	t.Logf("naive: %d violations %v; e.g. %s", res.Violations, res.ByKind, res.Examples[0])
}

func TestNew_BadConfig(t *testing.T) {
	good := stress.Config{Workers: 1, Keys: 2, CheckEvery: time.Second}
	if _, err := stress.New(good); err != nil {
		t.Fatalf("New(%+v): %v", good, err)
	}
	for _, c := range []func(*stress.Config){
		func(c *stress.Config) { c.Workers = 0 },
		func(c *stress.Config) { c.Keys = 1 },
		func(c *stress.Config) { c.ValueSize = -1 },
		func(c *stress.Config) { c.CheckEvery = 0 },
	} {
		cfg := good
		c(&cfg)
		if _, err := stress.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

// failingStore loads, then fails every Put as a store that failed closed.
type failingStore struct{ stress.Store }

func (failingStore) Put(key, index, value []byte) error {
	return fmt.Errorf("put %q: %w", key, db.ErrFailed)
}

// A store that failed closed stops the run by itself; the error is kept
// and counted, and nothing is reported as a violation.
func TestRun_StoreFails(t *testing.T) {
	r, err := stress.New(stress.Config{Workers: 2, Keys: 50, CheckEvery: time.Millisecond, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	res := runUntil(t, r, failingStore{stress.NewNaiveStore()}, func(stress.Progress) bool { return false })
	if !r.Failed() {
		t.Fatal("the run did not stop on a failed store")
	}
	if !errors.Is(r.Err(), db.ErrFailed) || res.Errors == 0 || !strings.Contains(res.FirstError, "put") {
		t.Errorf("Err() = %v, results: %d errors, first %q; want db.ErrFailed from a put", r.Err(), res.Errors, res.FirstError)
	}
	if res.Violations != 0 {
		t.Errorf("%d violations on a store that only failed: %q", res.Violations, res.Examples)
	}
}
