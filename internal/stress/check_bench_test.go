package stress

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
)

// BenchmarkCheckSnapshot is one full comparison of the checker on a
// dualdb store of 10,000 records, the size `dualdb stress` loads by
// default: the work the checker takes from the workload every
// --check-every.
func BenchmarkCheckSnapshot(b *testing.B) {
	const keys = 10000
	r, err := New(Config{Workers: 1, Keys: keys, ValueSize: 100, CheckEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	d, err := db.Open(filepath.Join(b.TempDir(), "store"), &db.Options{NoSync: true, NoAdminSocket: true})
	if err != nil {
		b.Fatal(err)
	}
	r.store = NewDBStore(d)
	defer r.store.Close()
	if err := r.load(); err != nil {
		b.Fatal(err)
	}
	var c snapshotCheck
	b.ReportAllocs()
	for b.Loop() {
		if err := r.checkSnapshot(&c); err != nil {
			b.Fatal(err)
		}
	}
	if n := r.v.total(); n != 0 {
		b.Fatalf("%d violations: %q", n, r.v.examples)
	}
}
