package reliability

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualdb/dualdb/db"
	"github.com/dualdb/dualdb/internal/crashtest"
	"github.com/dualdb/dualdb/internal/crashtest/faultfs"
	"github.com/dualdb/dualdb/internal/testtier"
	"github.com/dualdb/dualdb/snapshot"
	bolt "go.etcd.io/bbolt"
)

// faultTemplateBatches is the number of 300-record commits the template
// store of the fault tests starts with: 6,000 records in the long tier,
// whose snapshot file takes 6 buffered writes; 1,500 in the fast tier,
// whose file takes 2 (a first and a last). Both tiers fail every
// operation of every kind in turn.
var faultTemplateBatches = testtier.Pick(5, 20)

// faultTotals are the figures of the fault-injection tests.
var faultTotals struct {
	injected, cases atomic.Int64
}

// records is a model of a store's content: key -> record.
type records map[string]crashtest.Rec

func (m records) put(t testing.TB, d *db.DB, key, index, value string) {
	t.Helper()
	if err := d.Put([]byte(key), []byte(index), []byte(value)); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	m[key] = crashtest.Rec{Index: index, Value: value}
}

// update commits n records in one transaction.
func (m records) update(t testing.TB, d *db.DB, prefix string, from, n int) {
	t.Helper()
	add := records{}
	err := d.Update(func(tx *db.Tx) error {
		for i := from; i < from+n; i++ {
			k, x := fmt.Sprintf("%s/k%06d", prefix, i), fmt.Sprintf("%s/x%06d", prefix, i)
			v := randomValue(prefix, i, 200)
			if err := tx.Put([]byte(k), []byte(x), []byte(v)); err != nil {
				return err
			}
			add[k] = crashtest.Rec{Index: x, Value: v}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	for k, r := range add {
		m[k] = r
	}
}

// randomValue returns n incompressible bytes determined by prefix and i,
// so that snapshot files span several writes and reads.
func randomValue(prefix string, i, n int) string {
	r := rand.New(rand.NewPCG(uint64(i), uint64(len(prefix))<<8|uint64(prefix[0])))
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return string(b)
}

func (m records) clone() records {
	c := make(records, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// diff compares the store's content with m: every acknowledged record
// present with its value, nothing else.
func (m records) diff(s *db.Snapshot) string {
	var out []string
	n := 0
	for r := range s.Ascend(nil, nil) {
		n++
		want, ok := m[string(r.Key)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("unexpected record %q", r.Key))
		case want.Index != string(r.Index) || want.Value != string(r.Value):
			out = append(out, fmt.Sprintf("record %q: index %q value %.20q, want %q %.20q", r.Key, r.Index, r.Value, want.Index, want.Value))
		}
		if len(out) > 5 {
			break
		}
	}
	if n != len(m) && len(out) == 0 {
		for k := range m {
			if _, err := s.Get([]byte(k)); err != nil {
				out = append(out, fmt.Sprintf("acknowledged record %q lost", k))
				break
			}
		}
		out = append(out, fmt.Sprintf("%d records, want %d", n, len(m)))
	}
	return strings.Join(out, "; ")
}

// copyDir copies the regular files of src (one level of subdirectories)
// to dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// faultTemplate builds a store with two snapshots and a WAL tail, and
// returns its directory and content.
func faultTemplate(t testing.TB) (string, records) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "template")
	d, err := db.Open(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := records{}
	for i := range faultTemplateBatches {
		m.update(t, d, "a", i*300, 300)
	}
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m.update(t, d, "b", i*20, 20)
	}
	if _, err := d.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m.update(t, d, "c", i*20, 20)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// snapFiles lists the snapshot directory.
func snapFiles(t testing.TB, dir string) []string {
	ents, err := os.ReadDir(filepath.Join(dir, db.SnapDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkReopen opens dir on the real file system and checks: the content
// is m exactly, no temporary file is left, no more snapshots than kept,
// the invariants hold and Verify finds nothing.
func checkReopen(t testing.TB, dir string, m records, what string) {
	t.Helper()
	d, err := crashtest.OpenNoPanic(dir, &db.Options{CheckpointEvery: -1})
	if err != nil {
		t.Errorf("%s: reopen: %v", what, err)
		return
	}
	defer d.Close()
	if diff := m.diff(d.Snapshot()); diff != "" {
		t.Errorf("%s: after reopen: %s", what, diff)
	}
	if f := crashtest.CheckSnapshot(d.Snapshot(), 5); len(f) > 0 {
		t.Errorf("%s: invariants: %v", what, f)
	}
	left, _ := crashtest.Leftovers(dir)
	if len(left) > 0 {
		t.Errorf("%s: temporary files left after the next Open: %v", what, left)
	}
	snaps := 0
	for _, n := range snapFiles(t, dir) {
		if _, ok := snapshot.ParseFileName(n); ok {
			snaps++
		}
	}
	if snaps > db.DefaultKeepSnapshots {
		t.Errorf("%s: %d snapshot files after the next Open, %d kept: %v", what, snaps, db.DefaultKeepSnapshots, snapFiles(t, dir))
	}
	if err := d.Close(); err != nil {
		t.Errorf("%s: close: %v", what, err)
	}
	rep, err := db.Verify(dir, nil)
	if err != nil {
		t.Errorf("%s: verify: %v", what, err)
	} else if !rep.OK() {
		t.Errorf("%s: verify: %v", what, rep.Findings)
	}
}

var checkpointFaults = []faultfs.Op{
	faultfs.OpWrite, faultfs.OpShortWrite, faultfs.OpENOSPC, faultfs.OpSync,
	faultfs.OpRename, faultfs.OpSyncDir, faultfs.OpOpen, faultfs.OpMkdir, faultfs.OpRemove,
}

// TestFault_Checkpoint injects faults into Checkpoint: for every kind of
// fault, in fail-once and fail-forever mode, fail the Nth operation for
// every N until the checkpoint completes. The error must reach the
// caller, the store must stay writable (a snapshot error is not a WAL
// error), no failed snapshot may be recorded, a later checkpoint must
// work, and a reopen must find every acknowledged commit and no temp file.
func TestFault_Checkpoint(t *testing.T) {
	defer logFaults(t)()
	tmpl, base := faultTemplate(t)
	for _, op := range checkpointFaults {
		for _, forever := range []bool{false, true} {
			name := fmt.Sprintf("%s/forever=%v", op, forever)
			t.Run(name, func(t *testing.T) {
				for n := 1; ; n++ {
					if n > 200 {
						t.Fatalf("the checkpoint never completed")
					}
					if done := checkpointFaultCase(t, tmpl, base, op, n, forever); done {
						t.Logf("checkpoint completed at N=%d", n)
						return
					}
				}
			})
		}
	}
}

// logFaults logs the cases and faults of one test when it returns.
func logFaults(t *testing.T) func() {
	c0, f0 := faultTotals.cases.Load(), faultTotals.injected.Load()
	return func() {
		t.Logf("fault injection: %d cases, %d faults injected (all fault tests so far: %d cases, %d faults)",
			faultTotals.cases.Load()-c0, faultTotals.injected.Load()-f0, faultTotals.cases.Load(), faultTotals.injected.Load())
	}
}

func checkpointFaultCase(t *testing.T, tmpl string, base records, op faultfs.Op, n int, forever bool) (done bool) {
	what := fmt.Sprintf("checkpoint, %s fault at op %d (forever=%v)", op, n, forever)
	dir := filepath.Join(t.TempDir(), "store")
	copyDir(t, tmpl, dir)
	m := base.clone()
	ffs := faultfs.New(nil)
	d, err := db.Open(dir, &db.Options{FS: ffs, CheckpointEvery: -1})
	if err != nil {
		t.Fatalf("%s: open: %v", what, err)
	}
	defer d.Close()
	m.update(t, d, "d", 0, 30)
	m.put(t, d, "e/k1", "e/x1", "before")
	before := d.Stats().SnapshotVersion

	ffs.Arm(op, n, forever)
	v, err := d.Checkpoint()
	fired := ffs.Fired()
	faultTotals.cases.Add(1)
	faultTotals.injected.Add(int64(fired))
	if fired == 0 {
		ffs.Disarm()
		if err != nil {
			t.Errorf("%s: no fault fired, yet Checkpoint failed: %v", what, err)
		}
		return true
	}
	switch {
	case err == nil && (op == faultfs.OpRemove || op == faultfs.OpSyncDir && afterRemove(ffs.Trace())):
		// By design: an old snapshot that cannot be removed, or whose
		// removal cannot be made durable, is logged, stays recorded in
		// meta, and is removed by the next Open (checked by checkReopen).
	case err == nil:
		t.Errorf("%s: the fault did not reach the caller (version %d); trace: %v", what, v, ffs.Trace())
	default:
		if v != 0 {
			t.Errorf("%s: Checkpoint failed (%v) but returned version %d", what, err, v)
		}
		if errors.Is(err, db.ErrFailed) || d.Stats().Failed != nil {
			t.Errorf("%s: a snapshot file error failed the store closed: %v", what, err)
		}
		if got := d.Stats().SnapshotVersion; got != before {
			t.Errorf("%s: a failed checkpoint moved the newest snapshot from %d to %d", what, before, got)
		}
	}
	// The store goes on: commits work with the fault still armed, and a
	// checkpoint works once it is gone.
	m.put(t, d, "e/k2", "e/x2", "after the fault")
	m.update(t, d, "f", 0, 10)
	if forever {
		if _, err := d.Checkpoint(); err == nil && op != faultfs.OpRemove && ffs.Fired() > fired {
			t.Errorf("%s: a second checkpoint swallowed a fault", what)
		}
	}
	ffs.Disarm()
	if _, err := d.Checkpoint(); err != nil {
		t.Errorf("%s: checkpoint after the fault was removed: %v", what, err)
	}
	m.put(t, d, "e/k3", "e/x3", "after the checkpoint")
	if err := d.Close(); err != nil {
		t.Errorf("%s: close: %v", what, err)
	}
	checkReopen(t, dir, m, what)
	return false
}

// openFaults are every kind of fault; Open writes nothing through the
// file system but removes leftovers, so the write kinds complete at N=1.
var openFaults = []faultfs.Op{
	faultfs.OpWrite, faultfs.OpShortWrite, faultfs.OpENOSPC, faultfs.OpSync, faultfs.OpRename,
	faultfs.OpMkdir, faultfs.OpReadDir, faultfs.OpRemove, faultfs.OpSyncDir,
	faultfs.OpOpen, faultfs.OpRead, faultfs.OpStat,
}

// TestFault_Open injects faults into Open: a store left with a stale
// temporary file and a snapshot meta records as in progress but does not
// list (what a crash mid-checkpoint leaves) is opened with the Nth operation of each kind failing. Open
// either fails with the error or succeeds with every acknowledged commit;
// in both cases the next clean Open recovers everything and leaves no
// temporary file.
func TestFault_Open(t *testing.T) {
	defer logFaults(t)()
	tmpl, base := faultTemplate(t)
	// What a crash mid-checkpoint leaves behind.
	snaps := snapFiles(t, tmpl)
	slices.Sort(snaps)
	if len(snaps) == 0 {
		t.Fatalf("template has no snapshot")
	}
	newest := filepath.Join(tmpl, db.SnapDir, snaps[len(snaps)-1])
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpl, db.SnapDir, snapshot.FileName(999999)+snapshot.TempSuffix), data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpl, db.SnapDir, snapshot.FileName(999998)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A checkpoint records its file in meta as in progress before it
	// writes it; that record is what lets Open remove the file.
	bdb, err := bolt.Open(filepath.Join(tmpl, db.WALFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("snapshots_unlisted"), []byte("[999998]"))
	})
	if cerr := bdb.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	misclassified := 0
	for _, op := range openFaults {
		for _, forever := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/forever=%v", op, forever), func(t *testing.T) {
				for n := 1; ; n++ {
					if n > 200 {
						t.Fatalf("Open never completed")
					}
					done, mis := openFaultCase(t, tmpl, base, op, n, forever)
					if mis {
						misclassified++
					}
					if done {
						t.Logf("Open completed at N=%d", n)
						return
					}
				}
			})
		}
	}
	if misclassified > 0 {
		t.Logf("%d injected I/O errors were reported by Open as corruption (ErrCorrupt; bug 4 of docs/reliability.md)", misclassified)
	}
}

func openFaultCase(t *testing.T, tmpl string, m records, op faultfs.Op, n int, forever bool) (done, misclassified bool) {
	what := fmt.Sprintf("open, %s fault at op %d (forever=%v)", op, n, forever)
	dir := filepath.Join(t.TempDir(), "store")
	copyDir(t, tmpl, dir)
	ffs := faultfs.New(nil)
	ffs.Arm(op, n, forever)
	d, err := crashtest.OpenNoPanic(dir, &db.Options{FS: ffs, CheckpointEvery: -1})
	fired := ffs.Fired()
	ffs.Disarm()
	faultTotals.cases.Add(1)
	faultTotals.injected.Add(int64(fired))
	if errors.Is(err, crashtest.ErrPanic) {
		t.Errorf("%s: %v", what, err)
		return true, false
	}
	if err == nil {
		if diff := m.diff(d.Snapshot()); diff != "" {
			t.Errorf("%s: Open succeeded despite the fault, with the wrong content: %s; trace %v", what, diff, ffs.Trace())
		}
		// A write after a tolerated fault must work and survive.
		mm := m.clone()
		mm.put(t, d, "z/k", "z/x", "after open")
		if err := d.Close(); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
		checkReopen(t, dir, mm, what)
		return fired == 0, false
	}
	if fired == 0 {
		t.Errorf("%s: Open failed with no fault injected: %v", what, err)
		return true, false
	}
	if errors.Is(err, db.ErrCorrupt) {
		misclassified = true // bug 4; TestFault_OpenIOErrorIsNotCorruption
	}
	checkReopen(t, dir, m, what)
	return false, misclassified
}

// ckptObserver counts checkpoint attempts and failures.
type ckptObserver struct {
	db.NopObserver
	attempts, failures atomic.Int64
}

func (o *ckptObserver) Checkpoint(ev db.CheckpointEvent) {
	o.attempts.Add(1)
	if ev.Err != nil {
		o.failures.Add(1)
	}
}

// TestFault_AutomaticCheckpoint: automatic checkpoints that fail (every
// snapshot write fails with ENOSPC) have no caller to report to: they are
// logged and reported to the Observer, and commits go on unharmed. Once
// the fault is gone the next automatic checkpoint works, and a reopen
// finds every acknowledged commit and no temporary file.
func TestFault_AutomaticCheckpoint(t *testing.T) {
	defer logFaults(t)()
	for _, op := range []faultfs.Op{faultfs.OpENOSPC, faultfs.OpSync, faultfs.OpRename, faultfs.OpSyncDir} {
		t.Run(op.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			ffs := faultfs.New(nil)
			obs := &ckptObserver{}
			d, err := db.Open(dir, &db.Options{FS: ffs, CheckpointEvery: 5, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			m := records{}
			ffs.Arm(op, 1, true)
			for i := range 40 {
				m.put(t, d, fmt.Sprintf("k%03d", i), fmt.Sprintf("x%03d", i), "during the fault")
			}
			waitFor(t, func() bool { return obs.failures.Load() > 0 }, "a failed automatic checkpoint")
			faultTotals.injected.Add(int64(ffs.Fired()))
			faultTotals.cases.Add(1)
			if d.Stats().Failed != nil {
				t.Errorf("a failed automatic checkpoint failed the store: %v", d.Stats().Failed)
			}
			ffs.Disarm()
			before := obs.attempts.Load() - obs.failures.Load()
			for i := range 20 {
				m.put(t, d, fmt.Sprintf("k%03d", i), fmt.Sprintf("y%03d", i), "after the fault")
			}
			waitFor(t, func() bool { return obs.attempts.Load()-obs.failures.Load() > before }, "a successful automatic checkpoint")
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			checkReopen(t, dir, m, "automatic checkpoint, "+op.String())
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// afterRemove reports whether the first fault in trace struck a directory
// fsync that follows a removal: the one that makes the removal of
// superseded snapshot files durable, after the checkpoint is recorded.
func afterRemove(trace []string) bool {
	for i, e := range trace {
		if strings.HasSuffix(e, " FAULT") {
			return i > 0 && strings.HasPrefix(e, "dir-fsync#") && strings.HasPrefix(trace[i-1], "remove#")
		}
	}
	return false
}
